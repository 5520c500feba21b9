// faultline's proxy server, driven by toxiproxy-node-client (the client the harness uses): Toxiproxy's routes,
// JSON shapes and status codes, and each toxic's effect on real TCP traffic through the proxy to an upstream
// server on a loopback address of the test's own. Only lower bounds on time are asserted (a toxic must not
// deliver early); how close to the set delay it delivers is measured in `npm run bench` (proxy section).

import { connect, createServer, type Server, type Socket } from 'node:net'
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomLoopbackHost } from '../../chaos/cluster/broker-process.ts'
import { ProxyServer } from '../../chaos/proxy/server.ts'
import { until } from '../helpers/until.ts'

const host = randomLoopbackHost()
let server: ProxyServer
let api: string
let client: Toxiproxy
let echo: Server
let upstream: string
let received = 0

beforeAll(async () => {
  server = new ProxyServer()
  api = await server.listen('127.0.0.1', 0)
  client = new Toxiproxy(api)
  // Echo server: everything it gets goes straight back.
  echo = createServer((s) => {
    s.on('data', (d: Buffer) => {
      received += d.length
      s.write(d)
    })
    s.on('error', () => {})
  })
  await new Promise<void>((r) => echo.listen(0, host, r))
  upstream = `${host}:${(echo.address() as { port: number }).port}`
})
afterAll(async () => {
  await server.close()
  echo.close()
})

let seq = 0
async function proxy(toxics: Parameters<Awaited<ReturnType<Toxiproxy['createProxy']>>['addToxic']>[0][] = []) {
  const p = await client.createProxy({ name: `p${seq++}`, listen: `${host}:0`, upstream })
  for (const t of toxics) await p.addToxic(t)
  return p
}

function dial(listen: string): Promise<Socket> {
  const i = listen.lastIndexOf(':')
  return new Promise((resolve, reject) => {
    const s = connect({ host: listen.slice(0, i), port: Number(listen.slice(i + 1)) }, () => resolve(s))
    s.once('error', reject)
  })
}

/** Sends `data` and collects what comes back until `bytes` arrived or the socket ends; notes how it ended. */
function exchange(s: Socket, data: Buffer, bytes = data.length): Promise<{ back: Buffer; chunks: number; ms: number; end: 'complete' | 'end' | string }> {
  const t0 = performance.now()
  const parts: Buffer[] = []
  let n = 0
  return new Promise((resolve) => {
    const done = (end: string) => resolve({ back: Buffer.concat(parts), chunks: parts.length, ms: performance.now() - t0, end })
    s.on('data', (d: Buffer) => {
      parts.push(d)
      n += d.length
      if (n >= bytes) done('complete')
    })
    s.once('end', () => done('end'))
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message))
    s.write(data)
  })
}

const payload = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251))

describe('the proxy server API (toxiproxy-node-client)', () => {
  it('creates, lists, shows, updates and deletes proxies with Toxiproxy\'s shapes and codes', async () => {
    expect(await client.getVersion()).toMatch(/"version"/)
    const p = await proxy()
    expect(p.listen).toMatch(new RegExp(`^${host.replace(/\./g, '\\.')}:\\d+$`))
    expect(p.listen.endsWith(':0')).toBe(false)
    expect(p.enabled).toBe(true)
    const all = await client.getAll()
    expect(all[p.name]?.upstream).toBe(upstream)
    const raw = (await (await fetch(`${api}/proxies/${p.name}`)).json()) as Record<string, unknown>
    expect(raw).toEqual({ name: p.name, listen: p.listen, upstream, enabled: true, toxics: [] })
    // Toxiproxy answers 409 to a second proxy of the same name, 404 to an unknown one, 400 to a missing field.
    const dup = await fetch(`${api}/proxies`, { method: 'POST', body: JSON.stringify({ name: p.name, upstream, listen: `${host}:0` }) })
    expect(dup.status).toBe(409)
    expect(await dup.json()).toEqual({ error: 'proxy already exists', status: 409 })
    expect((await fetch(`${api}/proxies/nope`)).status).toBe(404)
    await expect(client.get('nope')).rejects.toBeInstanceOf(ToxiproxyError)
    const bad = await fetch(`${api}/proxies`, { method: 'POST', body: JSON.stringify({ name: 'x' }) })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toBe('missing required field: upstream')

    const down = await p.update({ enabled: false, listen: p.listen, upstream })
    expect(down.enabled).toBe(false)
    await expect(dial(p.listen)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    const up = await down.update({ enabled: true, listen: p.listen, upstream })
    expect(up.listen).toBe(p.listen)
    const s = await dial(up.listen)
    expect((await exchange(s, payload(10))).back).toEqual(payload(10))
    s.destroy()

    await p.remove()
    expect((await fetch(`${api}/proxies/${p.name}`)).status).toBe(404)
    await expect(dial(p.listen)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('populates, creates, shows, updates and removes toxics, and /reset clears them and enables every proxy', async () => {
    const populated = await client.populate([{ name: `pop${seq++}`, listen: `${host}:0`, upstream }])
    const p = Object.values(populated)[0]!
    const t = await p.addToxic({ type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 5, jitter: 0 } } as never)
    expect(t.toJson()).toEqual({ name: 'latency_upstream', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 5, jitter: 0 } })
    const dup = await fetch(`${api}/proxies/${p.name}/toxics`, { method: 'POST', body: JSON.stringify({ type: 'latency', stream: 'upstream' }) })
    expect(dup.status).toBe(409)
    const badType = await fetch(`${api}/proxies/${p.name}/toxics`, { method: 'POST', body: JSON.stringify({ type: 'mars' }) })
    expect(badType.status).toBe(400)
    const badStream = await fetch(`${api}/proxies/${p.name}/toxics`, { method: 'POST', body: JSON.stringify({ type: 'latency', stream: 'sideways' }) })
    expect(((await badStream.json()) as { error: string }).error).toBe('stream was invalid, can be either upstream or downstream')
    const updated = await t.update({ attributes: { latency: 7, jitter: 1 }, toxicity: 0.5 } as never)
    expect(updated.attributes).toEqual({ latency: 7, jitter: 1 })
    expect(updated.toxicity).toBe(0.5)
    expect((await p.getToxic('latency_upstream')).stream).toBe('upstream')
    const bw = await p.addToxic({ type: 'bandwidth', attributes: { rate: 10 } } as never)
    expect(bw.name).toBe('bandwidth_downstream')
    await bw.remove()
    expect((await fetch(`${api}/proxies/${p.name}/toxics/bandwidth_downstream`)).status).toBe(404)
    expect((await fetch(`${api}/proxies/${p.name}/toxics/bandwidth_downstream`, { method: 'DELETE' })).status).toBe(404)

    await p.update({ enabled: false, listen: p.listen, upstream })
    await client.reset()
    const after = await client.get(p.name)
    expect(after.enabled).toBe(true)
    expect(await (await fetch(`${api}/proxies/${p.name}/toxics`)).json()).toEqual([])
    await after.remove()
  })
})

describe('toxics on real traffic', () => {
  it('without toxics, bytes pass unchanged both ways', async () => {
    const p = await proxy()
    const s = await dial(p.listen)
    const r = await exchange(s, payload(1 << 20))
    expect(r.end).toBe('complete')
    expect(r.back.equals(payload(1 << 20))).toBe(true)
    s.destroy()
    await p.remove()
  })

  it('without toxics, a half-close passes: the server still answers after the client\'s FIN', async () => {
    // Counts what it got and answers once the client has finished sending.
    const counter = createServer({ allowHalfOpen: true }, (c) => {
      let n = 0
      c.on('data', (d: Buffer) => (n += d.length))
      c.on('end', () => c.end(String(n)))
      c.on('error', () => {})
    })
    await new Promise<void>((r) => counter.listen(0, host, r))
    const p = await client.createProxy({ name: `p${seq++}`, listen: `${host}:0`, upstream: `${host}:${(counter.address() as { port: number }).port}` })
    const s = await dial(p.listen)
    const answer = new Promise<string>((resolve) => {
      let text = ''
      s.on('data', (d: Buffer) => (text += d.toString()))
      s.on('end', () => resolve(text))
    })
    s.end(payload(300_000))
    expect(await answer).toBe('300000')
    s.destroy()
    counter.close()
    await p.remove()
  })

  it('latency delays each direction by at least the set delay, on live connections too, and stops when removed', async () => {
    const p = await proxy()
    const s = await dial(p.listen)
    await exchange(s, payload(100))
    s.removeAllListeners('data')
    const up = await p.addToxic({ name: 'slow-up', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 60, jitter: 0 } } as never)
    const down = await p.addToxic({ name: 'slow-down', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 40, jitter: 0 } } as never)
    const slow = await exchange(s, payload(1000))
    expect(slow.back).toEqual(payload(1000))
    expect(slow.ms).toBeGreaterThanOrEqual(99)
    s.removeAllListeners('data')
    await up.remove()
    await down.remove()
    // Back on the direct pipe: the bytes still arrive, in order.
    const fast = await exchange(s, payload(5000))
    expect(fast.back).toEqual(payload(5000))
    s.destroy()
    await p.remove()
  })

  it('bandwidth holds a transfer to the rate (no earlier than size / rate)', async () => {
    const p = await proxy([{ type: 'bandwidth', stream: 'downstream', attributes: { rate: 200 } } as never])
    const s = await dial(p.listen)
    const r = await exchange(s, payload(100_000))
    expect(r.back.equals(payload(100_000))).toBe(true)
    // 100 kB at 200 KB/s: 500 ms, less the first 100 ms slice that may leave at once.
    expect(r.ms).toBeGreaterThanOrEqual(395)
    s.destroy()
    await p.remove()
  })

  it('reset_peer resets the connection (ECONNRESET) after its timeout, and drops the data', async () => {
    const p = await proxy([{ type: 'reset_peer', stream: 'upstream', attributes: { timeout: 50 } } as never])
    const before = received
    const s = await dial(p.listen)
    const r = await exchange(s, payload(100))
    expect(r.end).toBe('ECONNRESET')
    expect(r.ms).toBeGreaterThanOrEqual(49)
    expect(received).toBe(before)
    await p.remove()
  })

  it('timeout drops the data and closes the connection after its timeout; with 0 it stays open and silent', async () => {
    const p = await proxy([{ type: 'timeout', stream: 'upstream', attributes: { timeout: 80 } } as never])
    const before = received
    const s = await dial(p.listen)
    const r = await exchange(s, payload(100))
    expect(r.end).toBe('end')
    expect(r.back.length).toBe(0)
    expect(r.ms).toBeGreaterThanOrEqual(70)
    expect(received).toBe(before)
    s.destroy()

    const q = await proxy([{ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } } as never])
    const s2 = await dial(q.listen)
    let back = 0
    s2.on('data', (d: Buffer) => (back += d.length))
    s2.write(payload(100))
    await until('the upstream to get the bytes', () => received >= before + 100, { intervalMs: 5 })
    expect(back).toBe(0)
    expect(s2.readyState).toBe('open')
    // Removing a timeout toxic closes its connections: bytes were lost mid-stream.
    const ended = new Promise((r) => s2.once('end', r))
    await (await q.getToxic('timeout_downstream')).remove()
    await ended
    s2.destroy()
    await p.remove()
    await q.remove()
  })

  it('limit_data passes exactly its bytes, then closes', async () => {
    const p = await proxy([{ type: 'limit_data', stream: 'downstream', attributes: { bytes: 1234 } } as never])
    const s = await dial(p.listen)
    const r = await exchange(s, payload(5000))
    expect(r.end).toBe('end')
    expect(r.back).toEqual(payload(5000).subarray(0, 1234))
    s.destroy()
    await p.remove()
  })

  it('slicer cuts the stream into small pieces and loses nothing', async () => {
    const p = await proxy([{ type: 'slicer', stream: 'downstream', attributes: { average_size: 100, size_variation: 20, delay: 2000 } } as never])
    const s = await dial(p.listen)
    const r = await exchange(s, payload(4000))
    expect(r.back).toEqual(payload(4000))
    expect(r.chunks).toBeGreaterThanOrEqual(10)
    s.destroy()
    await p.remove()
  })

  it('slow_close holds the close for its delay', async () => {
    const p = await proxy([{ type: 'slow_close', stream: 'downstream', attributes: { delay: 150 } } as never])
    const s = await dial(p.listen)
    await exchange(s, payload(10))
    // The echo server closes; the client hears of it no earlier than the delay.
    const t0 = performance.now()
    const closed = new Promise<number>((r) => s.once('end', () => r(performance.now() - t0)))
    for (const l of [...(echoSockets())]) l.end()
    expect(await closed).toBeGreaterThanOrEqual(140)
    s.destroy()
    await p.remove()
  })

  it('toxicity 0 leaves connections alone', async () => {
    const p = await proxy([{ type: 'timeout', stream: 'upstream', toxicity: 0, attributes: { timeout: 0 } } as never])
    const s = await dial(p.listen)
    expect((await exchange(s, payload(100))).back).toEqual(payload(100))
    s.destroy()
    await p.remove()
  })

  it('a disabled proxy (down) cuts its open connections', async () => {
    const p = await proxy()
    const s = await dial(p.listen)
    await exchange(s, payload(10))
    const ended = new Promise((r) => s.once('close', r))
    await p.update({ enabled: false, listen: p.listen, upstream })
    await ended
    await p.remove()
  })
})

/** The echo server's open sockets (for closing them from the server's side). */
function echoSockets(): Socket[] {
  return [...openEcho]
}
const openEcho = new Set<Socket>()
beforeAll(() => {
  echo.on('connection', (s: Socket) => {
    openEcho.add(s)
    s.on('close', () => openEcho.delete(s))
  })
})
