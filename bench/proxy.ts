// Section "proxy": what faultline's proxy server (chaos/proxy/, a process of its own) costs on the data path
// when no toxic is active, each figure beside the direct path measured in the same run, and whether its toxics
// do what they are set to on real Kafka traffic.
//
//   rtt       64-byte ping-pong to an echo server, direct and through the proxy, interleaved blocks: the added
//             round-trip latency at p50 and p99 (goal under 0.2 ms at p50)
//   cpu       bytes pushed through the proxy to a discard server: the proxy process's CPU seconds per GB, and
//             the proxied rate beside loopback TCP direct
//   kcat      kcat -P 1 KiB records, acks=1, into a broker behind the proxy (advertising it, so every connection
//             passes it) beside the same run into an identical broker reached directly
//   latency   produce latency p50 (one 1 KiB record at a time, acks=1, raw client) through the proxy, then with
//             a latency toxic of D on the requests: the added p50 beside D (goal within 20%)
//   bandwidth kcat -P through a bandwidth toxic of R: the measured rate beside R (goal: at most R, and within 20%)

import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { startLocalCluster, type LocalCluster } from '../chaos/cluster/local.ts'
import { checkToxiproxy, ClusterProxies, type ProxyServerProcess, startProxyServer } from '../chaos/proxy/network.ts'
import { createDriver } from '../workloads/drivers/registry.ts'
import { kcatRun, kcatVersion, lastOffset, type Sample, writeRecordFile } from './kcat.ts'
import { startDiscardServer } from './loopback.ts'
import { cpuDelta, cpuTotal, deleteTopic, loopbackHost, processCpu, removeTempDir, startBroker, stopGracefully, tempDir, type BrokerHandle } from './lib/proc.ts'
import { deadline, pump } from './lib/pump.ts'
import { median, ratioFigure, relativeSpread, type BenchContext, type Figure, type Section, type SectionOutput } from './lib/report.ts'

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

async function echoServer(host: string): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>()
  const server = createServer({ noDelay: true }, (s) => {
    sockets.add(s)
    s.on('data', (d) => s.write(d))
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen({ host, port: 0 }, r))
  return {
    port: (server.address() as { port: number }).port,
    close() {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

function dial(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true }, () => resolve(s))
    s.once('error', reject)
  })
}

/** `n` sequential 64-byte round trips on one connection; the round-trip times in ms. */
async function pingPong(s: Socket, n: number): Promise<number[]> {
  const msg = Buffer.alloc(64, 7)
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await new Promise<void>((resolve) => {
      let got = 0
      const on = (d: Buffer): void => {
        got += d.length
        if (got >= msg.length) {
          s.off('data', on)
          resolve()
        }
      }
      s.on('data', on)
      s.write(msg)
    })
    out.push(performance.now() - t0)
  }
  return out
}

/** Bytes pushed to a discard server for `seconds`; the rate in MB/s. */
async function push(host: string, port: number, seconds: number): Promise<{ mbps: number; bytes: number }> {
  const s = await dial(host, port)
  const chunk = Buffer.alloc(256 * 1024, 1)
  let bytes = 0
  const done = deadline(seconds)
  const t0 = performance.now()
  await pump(s, () => (done() ? null : ((bytes += chunk.length), chunk)), 4 * 1024 * 1024)
  const ack = await new Promise<number>((resolve) => {
    s.once('data', (d: Buffer) => resolve(Number(d.readBigUInt64BE(0))))
    s.end()
  })
  const secs = (performance.now() - t0) / 1000
  s.destroy()
  if (ack !== bytes) throw new Error(`discard server counted ${ack} bytes, ${bytes} were sent`)
  return { mbps: bytes / 1e6 / secs, bytes }
}

/** Produce latencies (ms) of `n` single 1 KiB records, one at a time, acks=1, through the raw driver. */
async function produceLatencies(bootstrap: string, topic: string, n: number): Promise<number[]> {
  const d = await createDriver('raw', { bootstrap: [bootstrap], requestTimeoutMs: 10_000 })
  try {
    const admin = await d.admin()
    await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: {} }], { ifNotExists: true })
    const p = await d.producer({ acks: 1, idempotent: false, maxInFlight: 1 })
    const value = Buffer.alloc(1024, 3)
    const out: number[] = []
    for (let i = 0; i < n + 20; i++) {
      const t0 = performance.now()
      const r = await new Promise<{ ok: boolean }>((resolve) => p.send({ topic, partition: 0, records: [{ key: null, value }] }, resolve))
      if (!r.ok) throw new Error(`produce to ${topic} through ${bootstrap} failed`)
      // The first sends open connections and fetch metadata.
      if (i >= 20) out.push(performance.now() - t0)
    }
    await p.close()
    return out
  } finally {
    await d.close()
  }
}

export const proxySection: Section = {
  name: 'proxy',
  summary: "faultline's proxy server: added round-trip latency, CPU per GB, kcat through it; latency and bandwidth toxics on real traffic",
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const version = await kcatVersion()
    if (version === 'not installed') throw new Error('kcat is not installed (Debian: apt-get install kcat); set KCAT=/path/to/kcat')
    const figures: Figure[] = []
    const notes: string[] = []
    let server: ProxyServerProcess | null = null
    let cluster: LocalCluster | null = null
    let direct: BrokerHandle | null = null
    const dir = tempDir('faultline-bench-proxy-')
    const closers: (() => unknown)[] = []
    try {
      server = await startProxyServer()
      const api = await checkToxiproxy(server.url)
      const host = loopbackHost()

      // Round trips: echo server direct, and through a proxy on the same address.
      const echo = await echoServer(host)
      closers.push(() => echo.close())
      const echoProxy = await api.createProxy({ name: 'bench-echo', listen: `${host}:0`, upstream: `${host}:${echo.port}` })
      const proxyPort = Number(echoProxy.listen.split(':').pop())
      const n = ctx.quick ? 500 : 3000
      const directRtt: number[] = []
      const proxiedRtt: number[] = []
      const p50s: number[] = []
      for (let rep = 0; rep < ctx.reps; rep++) {
        const a = await dial(host, echo.port)
        const b = await dial(host, proxyPort)
        const d = await pingPong(a, n)
        const p = await pingPong(b, n)
        a.destroy()
        b.destroy()
        directRtt.push(...d)
        proxiedRtt.push(...p)
        p50s.push(quantile(p, 0.5) - quantile(d, 0.5))
        ctx.log(`proxy rtt: rep ${rep + 1}/${ctx.reps} direct p50 ${quantile(d, 0.5).toFixed(3)} ms, proxied p50 ${quantile(p, 0.5).toFixed(3)} ms`)
      }
      const addedP50 = quantile(proxiedRtt, 0.5) - quantile(directRtt, 0.5)
      const addedP99 = quantile(proxiedRtt, 0.99) - quantile(directRtt, 0.99)
      figures.push(
        ratioFigure({
          key: 'proxy.rtt.p50',
          label: '64 B round trip through the proxy, p50',
          unit: 'ms',
          value: quantile(proxiedRtt, 0.5),
          ceiling: { label: 'direct, same run', value: quantile(directRtt, 0.5) },
          lowerIsBetter: true,
          target: { label: `added ${addedP50.toFixed(3)} ms at p50, goal under 0.2 ms`, met: addedP50 < 0.2 },
          spread: relativeSpread(p50s.map((x) => x + 1)),
          detail: { addedMs: addedP50, roundTrips: proxiedRtt.length },
        }),
        ratioFigure({
          key: 'proxy.rtt.p99',
          label: '  same, p99',
          unit: 'ms',
          value: quantile(proxiedRtt, 0.99),
          ceiling: { label: 'direct, same run', value: quantile(directRtt, 0.99) },
          lowerIsBetter: true,
          detail: { addedMs: addedP99 },
        }),
      )

      // Bulk bytes: CPU of the proxy process per GB, and the rate beside direct loopback TCP.
      const discard = await startDiscardServer(host)
      closers.push(() => discard.close())
      const bulkProxy = await api.createProxy({ name: 'bench-bulk', listen: `${host}:0`, upstream: `${host}:${discard.port}` })
      const bulkPort = Number(bulkProxy.listen.split(':').pop())
      const secs = ctx.quick ? 1 : 3
      const directRates: number[] = []
      const proxiedRates: number[] = []
      const cpuPerGB: number[] = []
      for (let rep = 0; rep < ctx.reps; rep++) {
        directRates.push((await push(host, discard.port, secs)).mbps)
        const before = processCpu(server.pid)
        const r = await push(host, bulkPort, secs)
        cpuPerGB.push(cpuTotal(cpuDelta(before, processCpu(server.pid))) / (r.bytes / 1e9))
        proxiedRates.push(r.mbps)
        ctx.log(`proxy bulk: rep ${rep + 1}/${ctx.reps} direct ${directRates.at(-1)!.toFixed(0)} MB/s, proxied ${r.mbps.toFixed(0)} MB/s, ${cpuPerGB.at(-1)!.toFixed(2)} CPU-s/GB`)
      }
      figures.push(
        ratioFigure({
          key: 'proxy.bulk',
          label: 'bulk TCP through the proxy',
          unit: 'MB/s',
          value: median(proxiedRates),
          ceiling: { label: 'loopback TCP direct, same run', value: median(directRates) },
          spread: relativeSpread(proxiedRates.map((x, i) => x / directRates[i]!)),
          detail: { proxyCpuSecondsPerGB: median(cpuPerGB), perRep: cpuPerGB },
        }),
      )
      notes.push(`proxy process CPU seconds per GB proxied (no toxic): ${median(cpuPerGB).toFixed(2)} (median of ${cpuPerGB.length})`)

      // kcat -P 1 KiB: a broker behind the proxy (advertising it) beside an identical broker reached directly.
      const proxies = new ClusterProxies(api, 'bench')
      cluster = await startLocalCluster({ brokers: 1, front: proxies })
      direct = await startBroker()
      const proxied = cluster.nodes[0]!
      const records = ctx.quick ? 30_000 : 200_000
      const file = join(dir, '1KiB.txt')
      await writeRecordFile(file, { name: '1KiB', recordBytes: 1024, records })
      const bytes = records * 1024
      const onDirect: Sample[] = []
      const onProxied: Sample[] = []
      for (let rep = 0; rep < ctx.reps; rep++) {
        const topic = `proxy-kcat-${rep}`
        onDirect.push(await kcatRun(direct.bootstrap, topic, file, direct.pid, 180_000))
        onProxied.push(await kcatRun(proxied.address, topic, file, proxied.pid!, 180_000))
        for (const b of [direct.bootstrap, proxied.address]) {
          const last = await lastOffset(b, topic)
          if (last !== records - 1) throw new Error(`proxy kcat: last offset ${last} at ${b}, expected ${records - 1}`)
          await deleteTopic(b, topic)
        }
        ctx.log(`proxy kcat: rep ${rep + 1}/${ctx.reps} direct ${(bytes / 1e6 / onDirect.at(-1)!.seconds).toFixed(0)} MB/s, through the proxy ${(bytes / 1e6 / onProxied.at(-1)!.seconds).toFixed(0)} MB/s`)
      }
      const rate = (xs: Sample[]): number => bytes / 1e6 / median(xs.map((x) => x.seconds))
      figures.push(
        ratioFigure({
          key: 'proxy.kcat.1KiB',
          label: 'kcat -P 1 KiB, acks=1 -> broker behind the proxy',
          unit: 'MB/s',
          value: rate(onProxied),
          ceiling: { label: 'same kcat run -> identical broker, direct', value: rate(onDirect) },
          recordsPerSec: records / median(onProxied.map((x) => x.seconds)),
          ceilingRecordsPerSec: records / median(onDirect.map((x) => x.seconds)),
          spread: relativeSpread(onProxied.map((x, i) => onDirect[i]!.seconds / x.seconds)),
        }),
      )

      // Toxics on real traffic: a latency toxic on the requests, and a bandwidth cap on kcat's stream.
      const delayMs = 20
      const count = ctx.quick ? 100 : 300
      const before = await produceLatencies(proxied.address, 'proxy-latency', count)
      const heal = await proxies.apply({ kind: 'latency', name: 'bench', atMs: 0, target: { kind: 'all' }, delayMs, jitterMs: 0, direction: 'upstream', durationMs: 0 }, [1], 1)
      const during = await produceLatencies(proxied.address, 'proxy-latency', count)
      await heal()
      const added = quantile(during, 0.5) - quantile(before, 0.5)
      figures.push(
        ratioFigure({
          key: 'proxy.toxic.latency',
          label: `produce p50 added by a ${delayMs} ms latency toxic`,
          unit: 'ms',
          value: added,
          ceiling: { label: 'the toxic\'s delay', value: delayMs },
          target: { label: `added ${added.toFixed(2)} ms, goal ${delayMs} ms +-20%`, met: Math.abs(added - delayMs) <= 0.2 * delayMs },
          detail: { p50BeforeMs: quantile(before, 0.5), p50DuringMs: quantile(during, 0.5), records: count },
        }),
      )

      const capBytes = 5_000_000
      const capRecords = ctx.quick ? 10_000 : 30_000
      const capFile = join(dir, 'cap.txt')
      await writeRecordFile(capFile, { name: '1KiB', recordBytes: 1024, records: capRecords })
      const healCap = await proxies.apply({ kind: 'bandwidth', name: 'bench', atMs: 0, target: { kind: 'all' }, bytesPerSecond: capBytes, direction: 'upstream', durationMs: 0 }, [1], 2)
      const capped = await kcatRun(proxied.address, 'proxy-capped', capFile, proxied.pid!, 180_000)
      await healCap()
      const cappedRate = (capRecords * 1024) / capped.seconds
      figures.push(
        ratioFigure({
          key: 'proxy.toxic.bandwidth',
          label: 'kcat -P through a 5 MB/s bandwidth toxic',
          unit: 'MB/s',
          value: cappedRate / 1e6,
          ceiling: { label: 'the cap', value: capBytes / 1e6 },
          target: { label: `${(cappedRate / 1e6).toFixed(2)} MB/s against a 5 MB/s cap, goal at most the cap and within 20%`, met: cappedRate <= capBytes * 1.02 && cappedRate >= capBytes * 0.8 },
        }),
      )
      notes.unshift(
        `${version}; proxy: faultline proxy server process, no toxic unless named; ${n} round trips per rep and path; ` +
          `${records} records per kcat run; latency toxic on requests (upstream), produce one record at a time, acks=1, raw driver, ${count} records each`,
      )
      return { figures, notes }
    } finally {
      for (const c of closers.reverse()) await c()
      await cluster?.close()
      if (direct) await stopGracefully(direct)
      await server?.stop()
      removeTempDir(dir)
    }
  },
}
