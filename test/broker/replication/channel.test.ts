// The follower's channel to a leader, against a plain TCP server that answers ApiVersions with whatever bytes a
// test gives it: responses are framed however they are chunked, and a bad size prefix fails the channel.

import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock } from '../../../broker/clock.ts'
import { beginFrame, FrameDecoder } from '../../../broker/protocol/framing.ts'
import { readRequestHeader, writeResponseHeader } from '../../../broker/protocol/header.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import { Writer } from '../../../broker/protocol/writer.ts'
import { tcpChannel } from '../../../broker/replication/channel.ts'

const host = `127.0.0.${2 + Math.floor(Math.random() * 253)}`
const servers: Server[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

function apiVersionsResponse(correlationId: number): Buffer {
  const w = new Writer()
  const end = beginFrame(w)
  writeResponseHeader(w, correlationId, false)
  ApiVersions.response.encode(0, { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }] }, w)
  end()
  return w.toBuffer()
}

/** A server that answers every request with reply(correlationId), written as the chunks it returns. */
async function serve(reply: (correlationId: number) => Buffer[]): Promise<number> {
  const server = createServer((sock: Socket) => {
    const frames = new FrameDecoder()
    sock.on('data', (d: Buffer) => {
      frames.push(d)
      for (let f = frames.next(); f !== null; f = frames.next()) {
        for (const c of reply(readRequestHeader(new Reader(f)).correlationId)) sock.write(c)
      }
    })
    sock.on('error', () => {})
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, host, r))
  return (server.address() as { port: number }).port
}

const connect = tcpChannel({ clock: systemClock, clientId: 'test', requestTimeoutMs: 10_000, connectTimeoutMs: 5000 })

describe('tcpChannel', () => {
  it('decodes pipelined responses written a byte at a time', async () => {
    const port = await serve((id) => [...apiVersionsResponse(id)].map((b) => Buffer.from([b])))
    const ch = await connect({ host, port })
    if (!ch.ok) throw new Error(ch.error)
    const res = await Promise.all([0, 1, 2].map(() => ch.body.request(ApiVersions, 0, {})))
    expect(res.map((r) => r.ok && r.body.apiKeys[0]!.maxVersion)).toEqual([3, 3, 3])
    ch.body.close()
  })

  it.each([
    ['negative', -1],
    ['larger than 256 MiB', 256 * 1024 * 1024 + 1],
  ])('fails the request and closes the channel on a %s response size', async (_, size) => {
    const port = await serve(() => {
      const b = Buffer.alloc(8)
      b.writeInt32BE(size, 0)
      return [b]
    })
    const ch = await connect({ host, port })
    if (!ch.ok) throw new Error(ch.error)
    expect(await ch.body.request(ApiVersions, 0, {})).toEqual({ ok: false, error: `bad response frame size ${size}` })
    expect(ch.body.closed).toBe(true)
  })
})
