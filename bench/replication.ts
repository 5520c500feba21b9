// Section "replication": what replication costs and how fast it fails over, on a local 3-broker cluster (real
// processes, combined broker + controller, chaos/cluster/local.ts) with broker.session.timeout.ms=1500,
// broker.heartbeat.interval.ms=250, replica.lag.time.max.ms=2000 and replica.fetch.wait.max.ms=100.
//
// (i) Throughput: kcat -P (librdkafka, the kcat section's runs and settings) of 1 KiB records into an RF=3 topic
//     with acks=all and min.insync.replicas=2, beside the same kcat run into an RF=1 topic with acks=1 on the same
//     cluster, both single-partition topics led by the same broker (not the active controller). Rounds alternate
//     RF=1, RF=3 so drift in the shared machine's load hits both alike; medians. The figure is the RF=3 rate and
//     its ratio to RF=1: the price of waiting for two followers. CPU seconds of every broker are recorded.
// (ii) Produce latency at a fixed 2000 records/s (1 KiB, open loop: latency from each record's intended send
//     time, so a stall counts for every record it delays) through the harness's raw driver (linger 0, 5 requests
//     in flight), RF=3 acks=all beside RF=1 acks=1, interleaved rounds, p50 / p99 / p99.9 of the merged rounds.
//     The pacer runs on timers (no spinning: 3 brokers share the 2 cores), so sends go out up to ~1 ms late
//     and that lateness is part of the latency; the send-to-ack latency is stored beside it.
// (iii) Failover: a closed-loop producer (one acks=all record per request, metadata refreshed after any error,
//     10 ms between failed attempts: the broker's failover, not a client's backoff, is what is timed) writes to
//     an RF=3 topic led by a broker that is not the active controller; that leader is SIGKILLed, and the time
//     from the kill to the first acknowledgement from the new leader is recorded. Repeated 3 times on a fresh
//     topic each (the killed broker restarted and every ISR full in between); median. Goal: under 2000 ms.
//     The broker-side detection is the session timeout (the controller fences a broker after 1500 ms without a
//     heartbeat); then the remaining follower must fetch from the new leader for acks=all to complete, which can
//     wait for its fetcher's long poll to that broker (replica.fetch.wait.max.ms, 100 ms here; Kafka's default
//     500 ms), and the client must see the new leader.

import { join } from 'node:path'
import { CreateTopics } from '../broker/protocol/messages/create-topics.ts'
import { Produce } from '../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../broker/protocol/record-batch.ts'
import { errorName } from '../broker/protocol/errors.ts'
import { startLocalCluster, type LocalCluster, type LocalNode } from '../chaos/cluster/local.ts'
import type { ConnectOptions } from '../workloads/driver.ts'
import { LatencyHistogram } from '../workloads/history/latency.ts'
import { RawCluster, rawDriver } from '../workloads/drivers/raw.ts'
import { Pacer, Schedule, systemScheduler } from '../workloads/rate.ts'
import { KCAT, KCAT_SETTINGS, kcatRun, kcatVersion, lastOffset, writeRecordFile, type Sample, type Size } from './kcat.ts'
import { cpuDelta, cpuTotal, processCpu, removeTempDir, tempDir, type CpuTime } from './lib/proc.ts'
import { median, ratioFigure, repetitions, type BenchContext, type Figure, type Section, type SectionOutput } from './lib/report.ts'
import { sleep, until } from './lib/until.ts'

/** The cluster's settings (Kafka names), stored with the result. */
export const REPLICATION_CLUSTER_CONFIG: Readonly<Record<string, string>> = {
  'broker.session.timeout.ms': '1500',
  'broker.heartbeat.interval.ms': '250',
  'replica.lag.time.max.ms': '2000',
  'replica.fetch.wait.max.ms': '100',
}
const SESSION_TIMEOUT_MS = Number(REPLICATION_CLUSTER_CONFIG['broker.session.timeout.ms'])
const MIN_INSYNC = 2
const ACKS_ALL = ['-X', 'topic.request.required.acks=-1']
export const LATENCY_RATE = 2000
const RECORD_BYTES = 1024
const FAILOVER_GOAL_MS = 2000
const FAILOVER_REPS = 3
/** The failover producer's client settings, stored with the result. */
const FAILOVER_CLIENT = { produceTimeoutMs: 5000, requestTimeoutMs: 10_000, connectTimeoutMs: 1000, retryBackoffMs: 10, warmupAcks: 50, giveUpMs: 30_000 }

interface TopicState {
  leader: number
  isr: readonly number[]
}

/** Metadata of one single-partition topic, from the running brokers. */
async function partitionState(cluster: LocalCluster, topic: string): Promise<{ p: TopicState | undefined; brokers: number; controller: number }> {
  const c = new RawCluster({ bootstrap: cluster.nodes.filter((n) => n.running).map((n) => n.address), clientId: 'faultline-bench-replication', requestTimeoutMs: 5000, connectTimeoutMs: 2000 }, 1)
  try {
    await c.refresh([topic])
    const p = c.topics.get(topic)?.[0]
    return { p: p && { leader: p.leader, isr: p.isr }, brokers: c.brokers.size, controller: c.controllerId }
  } finally {
    c.close()
  }
}

/** Three brokers registered and the topic's partition led with every replica in sync. */
function fullIsr(cluster: LocalCluster, topic: string, replicas: number): Promise<TopicState> {
  return until(`${topic}: a leader and ${replicas} replicas in sync`, async () => {
    const s = await partitionState(cluster, topic)
    return s.brokers === cluster.nodes.length && s.p && s.p.leader >= 0 && s.p.isr.length === replicas ? s.p : undefined
  }, 60_000)
}

async function activeController(cluster: LocalCluster): Promise<number> {
  return until('an active controller', async () => {
    const s = await partitionState(cluster, '__none__')
    return s.controller > 0 ? s.controller : undefined
  }, 60_000)
}

/** A single-partition topic on exactly these brokers (the first one leads). */
async function createTopic(cluster: LocalCluster, name: string, replicas: readonly number[], minInsync?: number): Promise<void> {
  const c = new RawCluster({ bootstrap: cluster.nodes.filter((n) => n.running).map((n) => n.address), clientId: 'faultline-bench-replication' }, 1)
  try {
    const conn = await c.any()
    const res = await conn.call(CreateTopics, {
      topics: [
        {
          name,
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [{ partitionIndex: 0, brokerIds: [...replicas] }],
          configs: minInsync === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInsync) }],
        },
      ],
      timeoutMs: 30_000,
      validateOnly: false,
    })
    const t = res.topics[0]!
    if (t.errorCode !== 0) throw new Error(`CreateTopics ${name}: ${errorName(t.errorCode)} ${t.errorMessage ?? ''}`)
  } finally {
    c.close()
  }
  const s = await fullIsr(cluster, name, replicas.length)
  if (s.leader !== replicas[0]) throw new Error(`${name}: led by ${s.leader}, not by ${replicas[0]} as assigned`)
}

// ---- (i) throughput ----

interface ThroughputRun extends Sample {
  /** CPU seconds of every broker during the run, by node id. */
  brokerCpu: Record<number, number>
}

async function throughputRun(cluster: LocalCluster, leader: LocalNode, topic: string, file: string, timeoutMs: number, extra: readonly string[]): Promise<ThroughputRun> {
  const before = new Map<number, CpuTime | null>(cluster.nodes.map((n) => [n.id, processCpu(n.pid!)]))
  const sample = await kcatRun(cluster.bootstrap.join(','), topic, file, leader.pid!, timeoutMs, extra)
  const brokerCpu: Record<number, number> = {}
  for (const n of cluster.nodes) brokerCpu[n.id] = cpuTotal(cpuDelta(before.get(n.id) ?? null, processCpu(n.pid!)))
  return { ...sample, brokerCpu }
}

async function throughput(ctx: BenchContext, cluster: LocalCluster, leader: LocalNode, dir: string): Promise<{ figures: Figure[]; notes: string[] }> {
  const size: Size = { name: '1KiB', recordBytes: RECORD_BYTES, records: ctx.quick ? 30_000 : 200_000 }
  const file = join(dir, 'replication-1KiB.txt')
  await writeRecordFile(file, size)
  const others = cluster.nodes.filter((n) => n.id !== leader.id).map((n) => n.id)
  await createTopic(cluster, 'repl-rf3', [leader.id, ...others], MIN_INSYNC)
  await createTopic(cluster, 'repl-rf1', [leader.id])
  const timeoutMs = 120_000 + size.records / 10
  const rf1: ThroughputRun[] = []
  const rf3: ThroughputRun[] = []
  const bytes = size.records * size.recordBytes
  const mbps = (x: Sample): number => bytes / 1e6 / x.seconds
  for (let rep = 0; rep < ctx.reps; rep++) {
    rf1.push(await throughputRun(cluster, leader, 'repl-rf1', file, timeoutMs, []))
    rf3.push(await throughputRun(cluster, leader, 'repl-rf3', file, timeoutMs, ACKS_ALL))
    ctx.log(`replication kcat 1KiB: rep ${rep + 1}/${ctx.reps} RF=1 acks=1 ${mbps(rf1.at(-1)!).toFixed(0)} MB/s, RF=3 acks=all ${mbps(rf3.at(-1)!).toFixed(0)} MB/s`)
  }
  const leaderAddress = leader.address
  for (const t of ['repl-rf1', 'repl-rf3']) {
    const last = await lastOffset(leaderAddress, t)
    if (last !== ctx.reps * size.records - 1) throw new Error(`replication ${t}: last offset below the high watermark is ${last}, expected ${ctx.reps * size.records - 1}`)
  }
  // Every follower holds the whole RF=3 log once it has caught up (they are in the ISR: checked by fullIsr).
  await fullIsr(cluster, 'repl-rf3', 3)
  const rate = (xs: Sample[]): number => bytes / 1e6 / median(xs.map((x) => x.seconds))
  const recs = (xs: Sample[]): number => size.records / median(xs.map((x) => x.seconds))
  const clusterCpu = (x: ThroughputRun): number => Object.values(x.brokerCpu).reduce((a, b) => a + b, 0)
  const cpuPerGB = (xs: ThroughputRun[], f: (x: ThroughputRun) => number): number => median(xs.map(f)) / (bytes / 1e9)
  const cores = (xs: ThroughputRun[], f: (x: ThroughputRun) => number): number => median(xs.map((x) => f(x) / x.seconds))
  const byBroker = (xs: ThroughputRun[]): Record<string, number> =>
    Object.fromEntries(cluster.nodes.map((n) => [`${n.id === leader.id ? 'leader' : 'follower'}${n.id}`, +cores(xs, (x) => x.brokerCpu[n.id]!).toFixed(3)]))
  const figures: Figure[] = [
    ratioFigure({
      key: 'replication.kcat.1KiB',
      label: 'kcat -P 1 KiB, RF=3 acks=all (min.insync 2)',
      unit: 'MB/s',
      value: rate(rf3),
      ceiling: { label: 'same cluster, RF=1 acks=1', value: rate(rf1) },
      recordsPerSec: recs(rf3),
      ceilingRecordsPerSec: recs(rf1),
      ...repetitions(rf3.map((x, i) => rf1[i]!.seconds / x.seconds)),
      detail: {
        records: size.records,
        recordBytes: size.recordBytes,
        leader: leader.id,
        runsSeconds: { rf1acks1: rf1.map((x) => +x.seconds.toFixed(3)), rf3acksAll: rf3.map((x) => +x.seconds.toFixed(3)) },
        brokerCoresRf1: byBroker(rf1),
        brokerCoresRf3: byBroker(rf3),
        clusterCpuSecondsPerGBRf1: cpuPerGB(rf1, clusterCpu),
        clusterCpuSecondsPerGBRf3: cpuPerGB(rf3, clusterCpu),
        kcatCoresRf1: cores(rf1, (x) => x.kcatUser + x.kcatSystem),
        kcatCoresRf3: cores(rf3, (x) => x.kcatUser + x.kcatSystem),
        kcatSettings: [...KCAT_SETTINGS],
        kcatSettingsRf3: [...KCAT_SETTINGS, ...ACKS_ALL],
      },
    }),
    ratioFigure({
      key: 'replication.kcat.1KiB.cpu',
      label: '  cluster CPU efficiency (all 3 brokers)',
      unit: 'MB/CPU-s',
      value: bytes / 1e6 / median(rf3.map(clusterCpu)),
      ceiling: { label: 'RF=1 acks=1, same kcat runs', value: bytes / 1e6 / median(rf1.map(clusterCpu)) },
      ...repetitions(rf3.map((x, i) => clusterCpu(rf1[i]!) / clusterCpu(x))),
    }),
  ]
  const c = (x: number): string => x.toFixed(2)
  const notes = [
    `replication.kcat cores busy: RF=3 acks=all kcat ${c(cores(rf3, (x) => x.kcatUser + x.kcatSystem))} + brokers ${JSON.stringify(byBroker(rf3))}; ` +
      `RF=1 acks=1 kcat ${c(cores(rf1, (x) => x.kcatUser + x.kcatSystem))} + brokers ${JSON.stringify(byBroker(rf1))}; ` +
      `cluster CPU s per GB: RF=3 ${c(cpuPerGB(rf3, clusterCpu))}, RF=1 ${c(cpuPerGB(rf1, clusterCpu))}`,
  ]
  return { figures, notes }
}

// ---- (ii) latency ----

export interface LatencyRound {
  latency: LatencyHistogram
  service: LatencyHistogram
  sent: number
  failed: number
  errors: string[]
}

/** One open-loop run at LATENCY_RATE records/s; the first warmupMs are not recorded. `connect`: TLS and SASL (bench/security.ts). */
export async function latencyRound(bootstrap: readonly string[], topic: string, acks: -1 | 1, warmupMs: number, measureMs: number, connect: Pick<ConnectOptions, 'tls' | 'sasl'> = {}): Promise<LatencyRound> {
  const driver = rawDriver({ bootstrap, clientId: 'faultline-bench-replication', ...connect })
  const out: LatencyRound = { latency: new LatencyHistogram({ highestUs: 60_000_000 }), service: new LatencyHistogram({ highestUs: 60_000_000 }), sent: 0, failed: 0, errors: [] }
  try {
    const producer = await driver.producer({ acks, lingerMs: 0, maxInFlight: 5, timeoutMs: 10_000 })
    const value = Buffer.alloc(RECORD_BYTES, 0x61)
    const sched = systemScheduler({ spinBelowMs: 0 })
    const start = sched.now() + 20
    const recordFrom = start + warmupMs
    const schedule = new Schedule(start, LATENCY_RATE)
    await new Promise<void>((resolve) => {
      const pacer = new Pacer({
        scheduler: sched,
        schedule,
        endMs: recordFrom + measureMs,
        emit: (intended, actual) => {
          out.sent++
          producer.send({ topic, partition: 0, records: [{ key: null, value }] }, (r) => {
            const now = sched.now()
            if (!r.ok) {
              out.failed++
              if (out.errors.length < 5) out.errors.push(`${r.error.name}: ${r.error.message}`)
              return
            }
            if (intended >= recordFrom) {
              out.latency.record((now - intended) * 1000)
              out.service.record((now - actual) * 1000)
            }
          })
          return 1
        },
        onDone: resolve,
      })
      pacer.start()
    })
    await producer.flush()
  } finally {
    await driver.close()
  }
  return out
}

async function latency(ctx: BenchContext, cluster: LocalCluster, leader: LocalNode): Promise<{ figures: Figure[]; notes: string[] }> {
  const others = cluster.nodes.filter((n) => n.id !== leader.id).map((n) => n.id)
  await createTopic(cluster, 'repl-lat-rf3', [leader.id, ...others], MIN_INSYNC)
  await createTopic(cluster, 'repl-lat-rf1', [leader.id])
  const rounds = ctx.quick ? 1 : Math.min(ctx.reps, 3)
  const warmupMs = 1000
  const measureMs = ctx.quick ? 3000 : 10_000
  const rf3: LatencyRound[] = []
  const rf1: LatencyRound[] = []
  for (let i = 0; i < rounds; i++) {
    rf1.push(await latencyRound(cluster.bootstrap, 'repl-lat-rf1', 1, warmupMs, measureMs))
    rf3.push(await latencyRound(cluster.bootstrap, 'repl-lat-rf3', -1, warmupMs, measureMs))
    const ms = (r: LatencyRound, q: number): string => ((r.latency.percentile(q) ?? Number.NaN) / 1000).toFixed(2)
    ctx.log(`replication latency: round ${i + 1}/${rounds} p50/p99 RF=1 acks=1 ${ms(rf1.at(-1)!, 50)}/${ms(rf1.at(-1)!, 99)} ms, RF=3 acks=all ${ms(rf3.at(-1)!, 50)}/${ms(rf3.at(-1)!, 99)} ms`)
  }
  const merged = (xs: LatencyRound[], which: 'latency' | 'service'): LatencyHistogram => {
    const h = new LatencyHistogram({ highestUs: 60_000_000 })
    for (const x of xs) h.merge(x[which])
    return h
  }
  const l3 = merged(rf3, 'latency')
  const l1 = merged(rf1, 'latency')
  const failed = [...rf3, ...rf1].reduce((n, r) => n + r.failed, 0)
  if (failed > 0) throw new Error(`replication latency: ${failed} produce requests failed: ${[...rf3, ...rf1].flatMap((r) => r.errors).slice(0, 5).join('; ')}`)
  const summaryMs = (h: LatencyHistogram) => {
    const s = h.summary()
    const ms = (x: number | null) => (x === null ? null : +(x / 1000).toFixed(3))
    return { count: s.count, p50: ms(s.p50), p90: ms(s.p90), p99: ms(s.p99), p999: ms(s.p999), max: ms(s.max) }
  }
  const detail = {
    ratePerSecond: LATENCY_RATE,
    recordBytes: RECORD_BYTES,
    rounds,
    warmupMs,
    measureMs,
    leader: leader.id,
    driver: 'raw, linger 0, 5 in flight, one record per send, timer pacer (no spin)',
    rf3acksAll: { fromIntended: summaryMs(l3), sendToAck: summaryMs(merged(rf3, 'service')), histogram: l3.encode() },
    rf1acks1: { fromIntended: summaryMs(l1), sendToAck: summaryMs(merged(rf1, 'service')), histogram: l1.encode() },
  }
  const figures: Figure[] = []
  for (const [key, q, label] of [
    ['p50', 50, 'p50'],
    ['p99', 99, 'p99'],
    ['p999', 99.9, 'p99.9'],
  ] as const) {
    const v3 = (l3.percentile(q) ?? Number.NaN) / 1000
    const v1 = (l1.percentile(q) ?? Number.NaN) / 1000
    figures.push(
      ratioFigure({
        key: `replication.latency.${key}`,
        label: `${key === 'p50' ? '' : '  '}produce latency ${label} at ${LATENCY_RATE} rec/s, RF=3 acks=all`,
        unit: 'ms',
        value: v3,
        ceiling: { label: 'RF=1 acks=1, same cluster', value: v1 },
        lowerIsBetter: true,
        ...repetitions(rf3.map((x, i) => (x.latency.percentile(q) ?? Number.NaN) / (rf1[i]!.latency.percentile(q) ?? Number.NaN))),
        detail: key === 'p50' ? detail : undefined,
      }),
    )
  }
  return { figures, notes: [] }
}

// ---- (iii) failover ----

interface FailoverRun {
  victim: number
  newLeader: number
  /** Kill to the first acknowledgement from another broker. */
  firstAckMs: number
  /** Kill to the first metadata (seen by the producer) naming another leader. */
  leaderMovedMs: number
  failedAttempts: number
  errors: Record<string, number>
}

/** Closed loop: one acks=all record per request; any error refreshes metadata and retries after a short pause. */
async function failoverRun(cluster: LocalCluster, topic: string, victim: LocalNode): Promise<FailoverRun> {
  const c = new RawCluster(
    { bootstrap: cluster.bootstrap, clientId: 'faultline-bench-failover', requestTimeoutMs: FAILOVER_CLIENT.requestTimeoutMs, connectTimeoutMs: FAILOVER_CLIENT.connectTimeoutMs },
    1,
  )
  let killedAt = -1
  let acksBefore = 0
  let firstAckAt = -1
  let movedAt = -1
  let newLeader = -1
  let acksAfter = 0
  let failed = 0
  const errors: Record<string, number> = {}
  const fail = (what: string) => {
    failed += killedAt >= 0 ? 1 : 0
    errors[what] = (errors[what] ?? 0) + 1
  }
  let stale = true
  let stopped = false
  let n = 0
  const loop = (async () => {
    const deadline = () => killedAt >= 0 && performance.now() - killedAt > FAILOVER_CLIENT.giveUpMs
    while (!stopped && acksAfter < 20 && !deadline()) {
      try {
        if (stale) {
          await c.refresh([topic])
          stale = false
        }
        const leader = c.leaderOf(topic, 0)
        if (killedAt >= 0 && movedAt < 0 && leader >= 0 && leader !== victim.id) movedAt = performance.now()
        if (leader < 0) throw new Error('no leader')
        const conn = await c.node(leader)
        const sentAt = performance.now()
        const res = await conn.call(Produce, {
          transactionalId: null,
          acks: -1,
          timeoutMs: FAILOVER_CLIENT.produceTimeoutMs,
          topicData: [{ name: topic, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(`f${n++}`) }]) }] }],
        })
        const code = res.responses[0]?.partitionResponses[0]?.errorCode ?? -1
        if (code !== 0) {
          stale = true
          fail(errorName(code))
          await sleep(FAILOVER_CLIENT.retryBackoffMs)
          continue
        }
        if (killedAt < 0) acksBefore++
        else if (leader !== victim.id && sentAt > killedAt) {
          if (firstAckAt < 0) {
            firstAckAt = performance.now()
            newLeader = leader
          }
          acksAfter++
        }
      } catch (e) {
        stale = true
        fail((e as Error).message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'HOST').slice(0, 80))
        await sleep(FAILOVER_CLIENT.retryBackoffMs)
      }
    }
  })()
  try {
    await until('acknowledged writes before the kill', async () => acksBefore >= FAILOVER_CLIENT.warmupAcks, 30_000)
    killedAt = performance.now()
    await victim.kill('SIGKILL')
    await loop
  } finally {
    stopped = true
    await loop.catch(() => undefined)
    c.close()
  }
  if (firstAckAt < 0) throw new Error(`replication failover: no acknowledgement from a new leader within ${FAILOVER_CLIENT.giveUpMs} ms of killing broker ${victim.id}; errors ${JSON.stringify(errors)}`)
  return { victim: victim.id, newLeader, firstAckMs: firstAckAt - killedAt, leaderMovedMs: movedAt < 0 ? Number.NaN : movedAt - killedAt, failedAttempts: failed, errors }
}

async function failover(ctx: BenchContext, cluster: LocalCluster): Promise<{ figures: Figure[]; notes: string[] }> {
  const runs: FailoverRun[] = []
  for (let rep = 0; rep < FAILOVER_REPS; rep++) {
    const controller = await activeController(cluster)
    const candidates = cluster.nodes.filter((n) => n.id !== controller)
    const victim = candidates[rep % candidates.length]!
    const topic = `repl-failover-${rep}`
    await createTopic(cluster, topic, [victim.id, ...cluster.nodes.filter((n) => n.id !== victim.id).map((n) => n.id)], MIN_INSYNC)
    const r = await failoverRun(cluster, topic, victim)
    runs.push(r)
    ctx.log(`replication failover: rep ${rep + 1}/${FAILOVER_REPS} broker ${r.victim} killed, broker ${r.newLeader} acknowledged after ${r.firstAckMs.toFixed(0)} ms (metadata moved after ${r.leaderMovedMs.toFixed(0)} ms)`)
    await victim.start()
    await fullIsr(cluster, topic, 3)
  }
  const med = median(runs.map((r) => r.firstAckMs))
  const figure = ratioFigure({
    key: 'replication.failover',
    label: 'leader SIGKILL -> first acks=all ack on the new leader',
    unit: 'ms',
    value: med,
    ceiling: { label: `goal (session timeout ${SESSION_TIMEOUT_MS} ms)`, value: FAILOVER_GOAL_MS },
    goal: 1,
    lowerIsBetter: true,
    ...repetitions(runs.map((r) => r.firstAckMs)),
    detail: {
      runsMs: runs.map((r) => +r.firstAckMs.toFixed(1)),
      medianMs: +med.toFixed(1),
      goalMs: FAILOVER_GOAL_MS,
      leaderMovedMs: runs.map((r) => +r.leaderMovedMs.toFixed(1)),
      runs: runs.map((r) => ({ victim: r.victim, newLeader: r.newLeader, failedAttempts: r.failedAttempts, errors: r.errors })),
      timeouts: { cluster: REPLICATION_CLUSTER_CONFIG, client: FAILOVER_CLIENT },
    },
  })
  const notes = [
    `replication.failover runs ${runs.map((r) => `${r.firstAckMs.toFixed(0)} ms`).join(', ')} (median ${med.toFixed(0)} ms, goal < ${FAILOVER_GOAL_MS} ms); ` +
      `metadata showed the new leader after ${runs.map((r) => `${r.leaderMovedMs.toFixed(0)}`).join(', ')} ms; cluster ${JSON.stringify(REPLICATION_CLUSTER_CONFIG)}, ` +
      `client: produce timeout ${FAILOVER_CLIENT.produceTimeoutMs} ms, request timeout ${FAILOVER_CLIENT.requestTimeoutMs} ms, connect timeout ${FAILOVER_CLIENT.connectTimeoutMs} ms, ${FAILOVER_CLIENT.retryBackoffMs} ms between failed attempts`,
  ]
  return { figures: [figure], notes }
}

export const replicationSection: Section = {
  name: 'replication',
  summary: 'kcat -P 1 KiB, RF=3 acks=all beside RF=1 acks=1, latency at 2000 rec/s, and SIGKILL leader failover time, on a local 3-broker cluster',
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const version = await kcatVersion()
    if (version === 'not installed') throw new Error(`${KCAT} is not installed (Debian: apt-get install kcat); set KCAT=/path/to/kcat`)
    const dir = tempDir('faultline-bench-replication-')
    let cluster: LocalCluster | null = null
    try {
      cluster = await startLocalCluster({ brokers: 3, config: REPLICATION_CLUSTER_CONFIG })
      const controller = await activeController(cluster)
      // The measured partitions are led by a broker that is not the active controller.
      const leader = cluster.nodes.find((n) => n.id !== controller)!
      ctx.log(`replication: 3 brokers up, controller ${controller}, measured leader ${leader.id}`)
      const t = await throughput(ctx, cluster, leader, dir)
      const l = await latency(ctx, cluster, leader)
      const f = await failover(ctx, cluster)
      return {
        figures: [...t.figures, ...l.figures, ...f.figures],
        notes: [
          `${version}; 3 brokers (combined broker + controller) on this machine, ${JSON.stringify(REPLICATION_CLUSTER_CONFIG)}; RF=3 topics with min.insync.replicas=${MIN_INSYNC}; ` +
            `${ctx.reps} interleaved kcat rounds (RF=1, RF=3), medians; brokers run without --cpu-prof`,
          ...t.notes,
          ...l.notes,
          ...f.notes,
        ],
      }
    } finally {
      await cluster?.close()
      removeTempDir(dir)
    }
  },
}
