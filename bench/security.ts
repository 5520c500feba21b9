// Section "security": what TLS and SASL cost, on one reference broker with three listeners, PLAINTEXT, SSL and
// SASL_SSL (SCRAM-SHA-512, a user made with AlterUserScramCredentials; TLS 1.3, the broker's ECDSA P-256 test
// certificate from chaos/cluster/certs.ts), each figure beside PLAINTEXT on the same broker in the same run.
//
// (i) Throughput: kcat -P of 1 KiB records (the kcat section's runs and settings, acks=1) into each listener.
//     Each round runs all three, each on a fresh topic whose data is deleted after the run (see bench/kcat.ts),
//     in an order rotated per round (no listener always goes first, after the deletion or a quiet spell), so
//     load drift on the shared machine hits all three alike; medians. The ratio is the
//     listener's rate over PLAINTEXT's. CPU seconds of kcat and of the broker are recorded per run: encryption
//     costs both ends, and on 2 shared cores what either spends is taken from the other.
// (ii) Produce latency at a fixed rate (bench/replication.ts latencyRound: the raw driver, open loop, 1 KiB,
//     linger 0, 5 in flight) through each listener, interleaved rounds in rotated order; p50 and p99 of the merged rounds, the
//     ratio over PLAINTEXT's (lower is better). kcat reports no per-record latency, so the harness's own raw
//     driver measures it, with the same TLS and SCRAM settings.
// The SASL handshake itself (one per connection) is not in these figures: both clients keep their connections.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeCerts } from '../chaos/cluster/certs.ts'
import { addUser } from '../chaos/cluster/users.ts'
import type { ConnectOptions } from '../workloads/driver.ts'
import { createDriver } from '../workloads/drivers/registry.ts'
import { LatencyHistogram } from '../workloads/history/latency.ts'
import { kcatRun, kcatVersion, KCAT, KCAT_SETTINGS, lastOffset, writeRecordFile, type Sample, type Size } from './kcat.ts'
import { deleteTopic, removeTempDir, startBroker, stopGracefully, tempDir, type BrokerHandle } from './lib/proc.ts'
import { median, ratioFigure, repetitions, type BenchContext, type Figure, type Section, type SectionOutput } from './lib/report.ts'
import { LATENCY_RATE, latencyRound, type LatencyRound } from './replication.ts'

const LISTENERS = ['PLAINTEXT', 'SSL', 'SASL_SSL'] as const
type ListenerName = (typeof LISTENERS)[number]
const MECHANISM = 'SCRAM-SHA-512'
const USER = { username: 'bench', password: 'bench-secret' }
const rotated = (round: number): ListenerName[] => LISTENERS.map((_, k) => LISTENERS[(k + round) % LISTENERS.length]!)

export const securitySection: Section = {
  name: 'security',
  summary: 'kcat -P 1 KiB and produce latency through SSL and SASL_SSL (SCRAM-SHA-512) beside PLAINTEXT, one broker',
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const version = await kcatVersion()
    if (version === 'not installed') throw new Error(`${KCAT} is not installed (Debian: apt-get install kcat); set KCAT=/path/to/kcat`)
    const dir = tempDir('faultline-bench-security-')
    let broker: BrokerHandle | null = null
    try {
      const certs = makeCerts({ dir: join(dir, 'certs'), brokers: 1 })
      broker = await startBroker({
        listeners: (host) => LISTENERS.map((l) => `${l}://${host}:0`).join(','),
        overrides: { 'ssl.keystore.location': certs.entries['broker-1']!.keystore, 'sasl.enabled.mechanisms': MECHANISM },
        nodeFlags: ctx.profileDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [],
      })
      const address = Object.fromEntries(broker.listeners.map((l) => [l.slice(0, l.indexOf('://')), l.slice(l.indexOf('://') + 3)])) as Record<ListenerName, string>
      const added = await addUser({ bootstrap: address.PLAINTEXT }, USER.username, USER.password, [MECHANISM])
      if (added.errorCode !== 0) throw new Error(`security: adding the SCRAM user failed: ${added.errorCode} ${added.errorMessage ?? ''}`)
      const kcatSecurity: Record<ListenerName, string[]> = {
        PLAINTEXT: [],
        SSL: ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.ca}`],
        SASL_SSL: ['-X', 'security.protocol=sasl_ssl', '-X', `ssl.ca.location=${certs.ca}`, '-X', `sasl.mechanism=${MECHANISM}`, '-X', `sasl.username=${USER.username}`, '-X', `sasl.password=${USER.password}`],
      }
      const ca = readFileSync(certs.ca)
      const driverSecurity: Record<ListenerName, Pick<ConnectOptions, 'tls' | 'sasl'>> = {
        PLAINTEXT: {},
        SSL: { tls: { ca } },
        SASL_SSL: { tls: { ca }, sasl: { mechanism: MECHANISM, ...USER } },
      }
      const t = await throughput(ctx, broker, address, kcatSecurity, dir)
      const l = await latency(ctx, broker, address, driverSecurity)
      return {
        figures: [...t.figures, ...l.figures],
        notes: [
          `${version}; settings: librdkafka defaults + ${KCAT_SETTINGS.join(' ')}; SASL_SSL with ${MECHANISM}; TLS: node:tls defaults (TLS 1.3), ECDSA P-256 certificate; ${ctx.reps} rounds of PLAINTEXT, SSL, SASL_SSL in rotated order; medians`,
          ...t.notes,
        ],
      }
    } finally {
      if (broker) await stopGracefully(broker)
      removeTempDir(dir)
    }
  },
}

async function throughput(ctx: BenchContext, broker: BrokerHandle, address: Record<ListenerName, string>, security: Record<ListenerName, string[]>, dir: string): Promise<{ figures: Figure[]; notes: string[] }> {
  const size: Size = { name: '1KiB', recordBytes: 1024, records: ctx.quick ? 30_000 : 200_000 }
  const file = join(dir, 'security-1KiB.txt')
  await writeRecordFile(file, size)
  const timeoutMs = 120_000 + size.records / 10
  const bytes = size.records * size.recordBytes
  const runs: Record<ListenerName, Sample[]> = { PLAINTEXT: [], SSL: [], SASL_SSL: [] }
  const mbps = (x: Sample): number => bytes / 1e6 / x.seconds
  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const l of rotated(rep)) {
      const topic = `security-${l.toLowerCase()}-${rep}`
      runs[l].push(await kcatRun(address[l], topic, file, broker.pid, timeoutMs, security[l]))
      const last = await lastOffset(address.PLAINTEXT, topic)
      if (last !== size.records - 1) throw new Error(`security ${l}: broker's last offset is ${last}, expected ${size.records - 1}`)
      await deleteTopic(address.PLAINTEXT, topic)
    }
    ctx.log(`security kcat 1KiB: rep ${rep + 1}/${ctx.reps} ${LISTENERS.map((l) => `${l} ${mbps(runs[l].at(-1)!).toFixed(0)} MB/s`).join(', ')}`)
  }
  const rate = (xs: Sample[]): number => bytes / 1e6 / median(xs.map((x) => x.seconds))
  const recs = (xs: Sample[]): number => size.records / median(xs.map((x) => x.seconds))
  const perGB = (xs: Sample[], f: (x: Sample) => number): number => median(xs.map(f)) / (bytes / 1e9)
  const cpu = (xs: Sample[]) => ({
    brokerCpuSecondsPerGB: perGB(xs, (x) => x.serverCpu),
    kcatCpuSecondsPerGB: perGB(xs, (x) => x.kcatUser + x.kcatSystem),
    runsSeconds: xs.map((x) => +x.seconds.toFixed(3)),
  })
  const plaintext = { label: 'same kcat run -> PLAINTEXT listener', value: rate(runs.PLAINTEXT) }
  const figures: Figure[] = []
  for (const l of ['SSL', 'SASL_SSL'] as const) {
    figures.push(
      ratioFigure({
        key: `security.${l.toLowerCase()}.1KiB`,
        label: `kcat -P 1 KiB records, acks=1 -> ${l}${l === 'SASL_SSL' ? ` (${MECHANISM})` : ''} listener`,
        unit: 'MB/s',
        value: rate(runs[l]),
        ceiling: plaintext,
        recordsPerSec: recs(runs[l]),
        ceilingRecordsPerSec: recs(runs.PLAINTEXT),
        ...repetitions(runs[l].map((x, i) => runs.PLAINTEXT[i]!.seconds / x.seconds)),
        detail: l === 'SSL' ? { records: size.records, recordBytes: size.recordBytes, PLAINTEXT: cpu(runs.PLAINTEXT), SSL: cpu(runs.SSL), SASL_SSL: cpu(runs.SASL_SSL) } : undefined,
      }),
      ratioFigure({
        key: `security.${l.toLowerCase()}.1KiB.cpu`,
        label: `  broker CPU efficiency, ${l} beside PLAINTEXT`,
        unit: 'MB/CPU-s',
        value: bytes / 1e6 / median(runs[l].map((x) => x.serverCpu)),
        ceiling: { label: 'PLAINTEXT, same kcat runs', value: bytes / 1e6 / median(runs.PLAINTEXT.map((x) => x.serverCpu)) },
        ...repetitions(runs[l].map((x, i) => runs.PLAINTEXT[i]!.serverCpu / x.serverCpu)),
      }),
    )
  }
  const c = (x: number): string => x.toFixed(2)
  const notes = [
    `security kcat CPU s per GB (broker / kcat): ${LISTENERS.map((l) => `${l} ${c(perGB(runs[l], (x) => x.serverCpu))} / ${c(perGB(runs[l], (x) => x.kcatUser + x.kcatSystem))}`).join(', ')}`,
  ]
  return { figures, notes }
}

async function latency(ctx: BenchContext, broker: BrokerHandle, address: Record<ListenerName, string>, security: Record<ListenerName, Pick<ConnectOptions, 'tls' | 'sasl'>>): Promise<{ figures: Figure[] }> {
  const rounds = ctx.quick ? 1 : Math.min(ctx.reps, 3)
  const warmupMs = 1000
  const measureMs = ctx.quick ? 3000 : 10_000
  const topic = 'security-latency'
  const byListener: Record<ListenerName, LatencyRound[]> = { PLAINTEXT: [], SSL: [], SASL_SSL: [] }
  const admin = await createDriver('raw', { bootstrap: [address.PLAINTEXT], clientId: 'faultline-bench-admin' })
  try {
    const a = await admin.admin()
    await a.createTopics([{ name: topic, partitions: 1, replicationFactor: 1 }])
    await a.close()
  } finally {
    await admin.close()
  }
  for (let i = 0; i < rounds; i++) {
    for (const l of rotated(i)) byListener[l].push(await latencyRound([address[l]], topic, 1, warmupMs, measureMs, security[l]))
    const ms = (r: LatencyRound, q: number): string => ((r.latency.percentile(q) ?? Number.NaN) / 1000).toFixed(2)
    ctx.log(`security latency: round ${i + 1}/${rounds} p50/p99 ${LISTENERS.map((l) => `${l} ${ms(byListener[l].at(-1)!, 50)}/${ms(byListener[l].at(-1)!, 99)} ms`).join(', ')}`)
  }
  await deleteTopic(address.PLAINTEXT, topic)
  const all = LISTENERS.flatMap((l) => byListener[l])
  const failed = all.reduce((n, r) => n + r.failed, 0)
  if (failed > 0) throw new Error(`security latency: ${failed} produce requests failed: ${all.flatMap((r) => r.errors).slice(0, 5).join('; ')}`)
  const merged = (xs: LatencyRound[]): LatencyHistogram => {
    const h = new LatencyHistogram({ highestUs: 60_000_000 })
    for (const x of xs) h.merge(x.latency)
    return h
  }
  const summaryMs = (h: LatencyHistogram) => {
    const s = h.summary()
    const ms = (x: number | null) => (x === null ? null : +(x / 1000).toFixed(3))
    return { count: s.count, p50: ms(s.p50), p99: ms(s.p99), p999: ms(s.p999), max: ms(s.max) }
  }
  const h = Object.fromEntries(LISTENERS.map((l) => [l, merged(byListener[l])])) as Record<ListenerName, LatencyHistogram>
  const detail = {
    ratePerSecond: LATENCY_RATE,
    recordBytes: 1024,
    rounds,
    warmupMs,
    measureMs,
    driver: 'raw, acks=1, linger 0, 5 in flight, one record per send, timer pacer (no spin)',
    ...Object.fromEntries(LISTENERS.map((l) => [l, summaryMs(h[l])])),
  }
  const figures: Figure[] = []
  for (const l of ['SSL', 'SASL_SSL'] as const) {
    for (const [key, q] of [
      ['p50', 50],
      ['p99', 99],
    ] as const) {
      figures.push(
        ratioFigure({
          key: `security.${l.toLowerCase()}.latency.${key}`,
          label: `${key === 'p50' ? '' : '  '}produce latency ${key} at ${LATENCY_RATE} rec/s, 1 KiB, acks=1, ${l}`,
          unit: 'ms',
          value: (h[l].percentile(q) ?? Number.NaN) / 1000,
          ceiling: { label: 'PLAINTEXT, same broker', value: (h.PLAINTEXT.percentile(q) ?? Number.NaN) / 1000 },
          lowerIsBetter: true,
          ...repetitions(byListener[l].map((x, i) => (x.latency.percentile(q) ?? Number.NaN) / (byListener.PLAINTEXT[i]!.latency.percentile(q) ?? Number.NaN))),
          detail: l === 'SSL' && key === 'p50' ? detail : undefined,
        }),
      )
    }
  }
  return { figures }
}
