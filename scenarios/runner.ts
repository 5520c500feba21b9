// `faultline run`: one scenario from cluster to results.json.
//
//   1. refuse what cannot run before touching anything (network faults, options the driver lacks, missing
//      secrets): RunError with exit code 2;
//   2. start the local brokers (data under OUT/cluster, removed afterwards) or attach to the external cluster;
//   3. create the topics through the driver's admin (ifNotExists; an existing topic with another partition
//      count is an error, exit 2);
//   4. start the consumers first and wait until every group owns every partition, so they see every value;
//   5. take the run's clock origin (monotonicNow) and start everything on it: phase markers, the fault
//      scheduler, backlog mode, one producer loop per client and topic;
//   6. at the end of the schedule heal the faults, let the producers finish, give the consumers a bounded
//      drain period to catch up to the last acked offsets (so acked-but-unread is not a false alarm), close
//      every client and the cluster, also on errors and on abort (Ctrl-C);
//   7. compute results.json from the history with the scenario's SLOs and delivery limits, and results.md from
//      results.json.
// Every failure after step 1 still writes results.json, marked errored (exit 3).
//
// History times: the consumers start before the run's origin is known, so their events go through
// OriginShift, which holds them until the origin is taken and then rebases them onto it; assignments appear
// just before time 0, everything else on the one clock the producers and the fault scheduler use.

import { createHash } from 'node:crypto'
import { createWriteStream, mkdirSync, readFileSync, rmSync, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FaultScheduler, type TargetResolver } from '../chaos/scheduler.ts'
import { externalCluster } from '../chaos/cluster/external.ts'
import { startLocalCluster } from '../chaos/cluster/local.ts'
import { ClusterError, type ClusterTarget } from '../chaos/cluster/types.ts'
import type { BacklogRun } from '../reports/backlog.ts'
import type { AnomalyKind, DeliveryOptions } from '../reports/checker.ts'
import { type EventSink, LiveStats, type ProgressReporter, silentProgress } from '../reports/progress.ts'
import { renderMarkdown } from '../reports/render-markdown.ts'
import { buildResults, type ClusterInfo, readResults, type Results, writeResults } from '../reports/results.ts'
import { type BacklogResult, ConsumerSet, runBacklog } from '../workloads/consumer.ts'
import {
  type Capabilities,
  type ConnectOptions,
  createDriver,
  type Driver,
  type DriverAdmin,
  type DriverName,
  type DriverProducer,
  missingCapability,
  type TlsOptions,
} from '../workloads/driver.ts'
import { RawCluster } from '../workloads/drivers/raw.ts'
import { deriveSeed, ValueIds } from '../workloads/generators.ts'
import type { HistoryEvent } from '../workloads/history.ts'
import { HistoryWriter } from '../workloads/history.ts'
import { ProducerLoop, type ProducerSummary, schedulePhases } from '../workloads/producer.ts'
import { monotonicNow, systemScheduler } from '../workloads/rate.ts'
import { sloThresholds } from './checks.ts'
import { type DeliveryAnomaly, type Scenario } from './schema.ts'
import { formatDuration } from './units.ts'

export interface RunOptions {
  /** Created if missing: history.bin, results.json, results.md, broker logs. */
  readonly outDir: string
  readonly seed: number
  readonly progress?: ProgressReporter
  /** Aborting stops the run early; results are still written, marked errored. */
  readonly signal?: AbortSignal
  /** Where secrets named by `{ env: NAME }` are read. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** How long consumers may take to own every partition. Default 30 s. */
  readonly assignTimeoutMs?: number
  /** How long consumers get after the producers finish to reach the last acked offsets. Default 15 s. */
  readonly drainTimeoutMs?: number
  /** How long producers get after the schedule ends to learn the outcome of their last sends. Default 30 s. */
  readonly producerGraceMs?: number
}

/** A run that could not start (exit 2: the scenario or flags) or that failed before results could exist (3). */
export class RunError extends Error {
  readonly code: string
  readonly exitCode: 2 | 3
  constructor(code: string, exitCode: 2 | 3, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RunError'
    this.code = code
    this.exitCode = exitCode
  }
}

// ---------------------------------------------------------------------------------------------------------
// What the scenario asks of the reports

const ANOMALY_KIND: Readonly<Record<DeliveryAnomaly, AnomalyKind>> = {
  lost: 'lost-write',
  duplicates: 'duplicate',
  reordered: 'nonmonotonic-send',
  inconsistentOffsets: 'inconsistent-offsets',
  pollSkips: 'poll-skip',
  failedWritesRead: 'G1a',
  unseen: 'unseen',
}

/** Whether Kafka promises per-partition order for every producer of the scenario (idempotent, or one request in flight). */
export function producersKeepOrder(s: Scenario): boolean {
  return s.workload.producers.every((p) => p.idempotent || p.maxInFlight === 1)
}

/** The checker's options: the scenario's limits (null = report only) and send order when Kafka promises it. */
export function deliveryOptions(s: Scenario): DeliveryOptions | { skip: string } {
  if (s.workload.consumers.length === 0) return { skip: 'the scenario has no consumers, so nothing was read back' }
  const limits: Partial<Record<AnomalyKind, number | null>> = { 'nonmonotonic-poll': null, 'consumption-duplicate': null }
  for (const [k, kind] of Object.entries(ANOMALY_KIND) as [DeliveryAnomaly, AnomalyKind][]) limits[kind] = s.checks.delivery[k]
  return { sendOrder: producersKeepOrder(s), limits }
}

// ---------------------------------------------------------------------------------------------------------
// Refusing what cannot run

async function capabilitiesOf(name: DriverName): Promise<Capabilities> {
  switch (name) {
    case 'kafkajs':
      return (await import('../workloads/drivers/kafkajs.ts')).kafkajsCapabilities
    case 'platformatic':
      return (await import('../workloads/drivers/platformatic.ts')).platformaticCapabilities
    case 'raw':
      return (await import('../workloads/drivers/raw.ts')).rawCapabilities
  }
}

function readSecretFile(path: string, field: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new RunError('ERR_RUN_TLS_FILE', 2, `${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected a PEM file (relative paths are relative to the scenario file)`, { cause: err })
  }
}

/** How clients reach the cluster: SASL and TLS from the scenario, secrets from the environment. */
export function connectSecurity(s: Scenario, env: Readonly<Record<string, string | undefined>>): Pick<ConnectOptions, 'sasl' | 'tls'> {
  const c = s.cluster
  if (c.backend !== 'external') return {}
  let sasl: ConnectOptions['sasl']
  if (c.sasl) {
    const p = c.sasl.password
    let password: string
    if (p.from === 'literal') password = p.value
    else {
      const v = env[p.name]
      if (v === undefined || v === '') {
        throw new RunError('ERR_RUN_SECRET', 2, `cluster.sasl.password: the environment variable ${p.name} is not set; expected the password in it (export ${p.name}=...)`)
      }
      password = v
    }
    sasl = { mechanism: c.sasl.mechanism, username: c.sasl.username, password }
  }
  let tls: ConnectOptions['tls']
  if (c.tls) {
    const t: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = { rejectUnauthorized: c.tls.rejectUnauthorized }
    if (c.tls.ca) t.ca = readSecretFile(c.tls.ca, 'cluster.tls.ca')
    if (c.tls.cert) t.cert = readSecretFile(c.tls.cert, 'cluster.tls.cert')
    if (c.tls.key) t.key = readSecretFile(c.tls.key, 'cluster.tls.key')
    if (c.tls.servername) t.servername = c.tls.servername
    tls = t
  }
  return { sasl, tls }
}

/** Throws RunError (exit 2) naming the first thing in the scenario this harness cannot run yet. */
export async function preflight(s: Scenario, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Pick<ConnectOptions, 'sasl' | 'tls'>> {
  const problems: string[] = []
  s.faults.forEach((f, i) => {
    if (f.kind === 'partition' || f.kind === 'latency' || f.kind === 'bandwidth') {
      problems.push(`faults[${i}] (${f.name}): ${f.kind} faults are not supported yet (network faults are not implemented); expected kill or pause faults, or remove this one`)
    }
  })
  const driver = s.workload.driver
  const caps = await capabilitiesOf(driver)
  s.workload.producers.forEach((p, i) => {
    const missing = missingCapability(caps, { idempotence: p.idempotent, compression: p.compression, acks: p.acks })
    if (missing !== null) problems.push(`workload.producers[${i}]: the ${driver} driver has no ${missing}; expected another workload.driver or other producer settings`)
  })
  if (s.workload.consumers.length > 0 && !caps.consumerGroups && !caps.manualAssignment) {
    problems.push(`workload.consumers: the ${driver} driver can neither join groups nor assign partitions; expected another workload.driver`)
  }
  if (s.cluster.backend === 'external') {
    const missing = missingCapability(caps, { sasl: s.cluster.sasl?.mechanism, tls: s.cluster.tls !== null })
    if (missing !== null) problems.push(`cluster: the ${driver} driver has no ${missing}; expected another workload.driver`)
  }
  if (problems.length > 0) throw new RunError('ERR_RUN_UNSUPPORTED', 2, problems.join('\n'))
  return connectSecurity(s, env)
}

// ---------------------------------------------------------------------------------------------------------
// Small pieces

/** A stable fingerprint of the validated scenario: two runs with the same digest ran the same thing. */
export function scenarioDigest(s: Scenario): string {
  return createHash('sha256').update(JSON.stringify(s)).digest('hex')
}

let versionCache: string | null = null

/** package.json's version (this file runs from the sources or from dist/). */
export function faultlineVersion(): string {
  if (versionCache !== null) return versionCache
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'faultline' && typeof pkg.version === 'string') return (versionCache = pkg.version)
    } catch {
      // not there: try the next candidate
    }
  }
  return (versionCache = 'unknown')
}

/** `results/<name>-<UTC timestamp>`: sorts by time, safe in every file system. */
export function defaultOutDir(name: string, now = new Date()): string {
  return join('results', `${name}-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}`)
}

/** A seed from the clock, for runs that do not give one (printed and stored, so the run can be replayed). */
export function timeSeed(): number {
  return (Date.now() ^ Math.floor(performance.now() * 1000)) >>> 0
}

class Interrupted extends Error {
  constructor() {
    super('interrupted')
    this.name = 'Interrupted'
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/** Resolves to the value, or to `fallback` after `ms`. */
async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Consumer events before the run's origin is known are held (though counted live at once, so the wait for
 * assignments sees them), then every consumer event is rebased from the consumers' own origin onto the run's
 * (see the header).
 */
class OriginShift implements EventSink {
  private readonly live: LiveStats
  private readonly consumerOriginMs: number
  private shiftUs: number | null = null
  private held: HistoryEvent[] = []

  constructor(live: LiveStats, consumerOriginMs: number) {
    this.live = live
    this.consumerOriginMs = consumerOriginMs
  }

  setOrigin(originMs: number): void {
    const shift = Math.round((originMs - this.consumerOriginMs) * 1000)
    this.shiftUs = shift
    for (const e of this.held) this.live.write(OriginShift.rebase(e, shift))
    this.held = []
  }

  append(e: HistoryEvent): void {
    const shift = this.shiftUs
    if (shift !== null) {
      this.live.append(OriginShift.rebase(e, shift))
      return
    }
    this.live.observe(e)
    this.held.push(e)
  }

  private static rebase(e: HistoryEvent, shift: number): HistoryEvent {
    if (e.type === 'recv') return { ...e, time: e.time - shift, intended: e.intended === -1 ? -1 : e.intended - shift }
    if (e.type === 'assign' || e.type === 'revoke') return { ...e, time: e.time - shift }
    return e
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : ''
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}${cause}`
  }
  return String(err)
}

// ---------------------------------------------------------------------------------------------------------
// The run

interface Loop {
  readonly loop: ProducerLoop
  readonly topic: string
}

/** Runs a scenario and writes OUT/results.json and OUT/results.md; returns the results. */
export async function runScenario(s: Scenario, opts: RunOptions): Promise<Results> {
  const env = opts.env ?? process.env
  const security = await preflight(s, env)
  const progress = opts.progress ?? silentProgress
  const info = (line: string): void => progress.info(line)
  const outDir = opts.outDir
  mkdirSync(outDir, { recursive: true })
  const historyPath = join(outDir, 'history.bin')
  const startedAt = new Date().toISOString()
  const history = await HistoryWriter.open(historyPath)
  let historyOpen = true
  // A client callback that fires after the run gave up on it (a close that timed out) must not write to a closed file.
  const live = new LiveStats({ append: (e) => historyOpen && history.append(e) })
  const sched = systemScheduler({ spinBelowMs: 0 })
  const w = s.workload
  const partitionsOf = new Map(s.topics.map((t) => [t.name, t.partitions]))

  let cluster: ClusterTarget | null = null
  let clusterStarting: Promise<ClusterTarget> | null = null
  const clusterDir = join(outDir, 'cluster')
  const logs = new Map<number, WriteStream>()
  const drivers: Driver[] = []
  let admin: DriverAdmin | null = null
  const consumerSets: { set: ConsumerSet; groups: string[]; topics: readonly string[] }[] = []
  const producers: DriverProducer[] = []
  const loops: Loop[] = []
  let faults: FaultScheduler | null = null
  let phases: { cancel(): void } | null = null
  let ticker: NodeJS.Timeout | null = null
  let origin: number | null = null
  let draining = false
  let inputError: RunError | null = null
  let harnessError: string | null = null
  const backlogs: Promise<BacklogResult>[] = []
  let backlogRuns: BacklogRun[] = []

  const signal = opts.signal
  const abortedP = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(new Interrupted())
    signal?.addEventListener('abort', () => reject(new Interrupted()), { once: true })
  })
  abortedP.catch(() => {})
  /** Waits for p unless the run is aborted first. */
  const until = <T>(p: Promise<T>): Promise<T> => Promise.race([p, abortedP])

  const connect = (requestTimeoutMs?: number): ConnectOptions => ({
    bootstrap: cluster!.bootstrap,
    clientId: `faultline-${s.name}`,
    requestTimeoutMs,
    ...security,
  })
  const newDriver = async (requestTimeoutMs?: number): Promise<Driver> => {
    const d = await createDriver(w.driver, connect(requestTimeoutMs))
    drivers.push(d)
    return d
  }

  const statusTick = (): void => {
    if (origin === null) return
    const now = sched.now()
    const elapsedMs = now - origin
    const b = live.series.latest(Math.round(elapsedMs * 1000))
    progress.status({
      phase: draining ? 'drain' : elapsedMs < w.warmupMs ? 'warmup' : 'measure',
      elapsedMs,
      totalMs: w.durationMs,
      sentRate: b?.sent ?? 0,
      ackedRate: b?.acked ?? 0,
      consumedRate: b?.consumed ?? 0,
      produceP99Us: live.produceP99(),
      e2eP99Us: live.e2eP99(),
      errors: live.failed,
      activeFaults: faults?.active.map((f) => `${f.name} ${f.target}`) ?? [],
      behind: draining ? consumerSets.reduce((n, c) => n + c.groups.reduce((m, g) => m + live.behind(g, c.topics), 0), 0) : undefined,
    })
  }

  try {
    // 1. The cluster.
    if (s.cluster.backend === 'local') {
      info(`cluster: starting ${plural(s.cluster.brokers, 'local broker')}`)
      const t0 = performance.now()
      rmSync(clusterDir, { recursive: true, force: true })
      clusterStarting = startLocalCluster({
        brokers: s.cluster.brokers,
        config: s.cluster.config,
        dataDir: clusterDir,
        onLog: (id, rec) => {
          let log = logs.get(id)
          if (!log) {
            log = createWriteStream(join(outDir, `broker-${id}.log`))
            log.on('error', () => {})
            logs.set(id, log)
          }
          log.write(`${JSON.stringify(rec)}\n`)
        },
      })
      cluster = await until(clusterStarting)
      info(`cluster: up at ${cluster.bootstrap.join(', ')} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    } else {
      cluster = externalCluster(s.cluster.bootstrap)
      info(`cluster: external, bootstrap ${cluster.bootstrap.join(', ')}`)
    }

    // 2. Topics.
    const main = await newDriver()
    admin = await until(main.admin())
    await until(admin.createTopics(s.topics.map((t) => ({ name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor, configs: t.config })), { ifNotExists: true }))
    await until(waitForTopics(admin, s))
    info(`topics: ${s.topics.map((t) => `${t.name} (${plural(t.partitions, 'partition')})`).join(', ')}`)

    // 3. Consumers, from before the first record.
    const consumerOrigin = sched.now()
    const consumerSink = new OriginShift(live, consumerOrigin)
    const groupPrefix = `faultline-${s.name}-${opts.seed}-${Date.now().toString(36)}`
    for (const cg of w.consumers) {
      const set = new ConsumerSet({
        name: cg.name,
        driver: main,
        topics: cg.topics,
        groups: cg.groups,
        membersPerGroup: cg.membersPerGroup,
        from: cg.from,
        groupIdPrefix: `${groupPrefix}-${cg.name}`,
        scheduler: sched,
        runOriginMs: consumerOrigin,
        history: consumerSink,
      })
      consumerSets.push({ set, groups: Array.from({ length: cg.groups }, (_, g) => `${cg.name}-g${g}`), topics: cg.topics })
    }
    if (consumerSets.length > 0) {
      const t0 = performance.now()
      await until(Promise.all(consumerSets.map((c) => c.set.start())))
      await until(waitForAssignment(consumerSets, partitionsOf, live, opts.assignTimeoutMs ?? 30_000, outDir))
      const members = w.consumers.reduce((n, c) => n + c.groups * c.membersPerGroup, 0)
      info(`consumers: ${plural(members, 'member')} in ${plural(consumerSets.reduce((n, c) => n + c.groups.length, 0), 'group')} own every partition (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    }

    // 4. Producers: one client per `count`, one loop per client and topic; the group's rate is split evenly.
    const ids = new ValueIds()
    for (const [gi, pg] of w.producers.entries()) {
      const driver = await newDriver(pg.deliveryTimeoutMs)
      const perLoop = pg.count * pg.topics.length
      const maxSize = pg.messageSize.kind === 'fixed' ? pg.messageSize.bytes : pg.messageSize.kind === 'uniform' ? pg.messageSize.max : Math.max(...pg.messageSize.choices.map((c) => c.bytes))
      // Pre-generated payload bodies: at most ~64 MiB of them per loop, whatever the message size.
      const poolSize = Math.max(8, Math.min(1000, Math.floor((64 << 20) / maxSize)))
      for (let c = 0; c < pg.count; c++) {
        const producer = await until(
          driver.producer({ acks: pg.acks, idempotent: pg.idempotent, compression: pg.compression, lingerMs: pg.lingerMs, batchBytes: pg.batchBytes, maxInFlight: pg.maxInFlight }),
        )
        producers.push(producer)
        for (const topic of pg.topics) {
          const name = perLoop === 1 ? pg.name : `${pg.name}-${c}${pg.topics.length > 1 ? `-${topic}` : ''}`
          loops.push({
            topic,
            loop: new ProducerLoop({
              name,
              producer,
              topic,
              partitions: partitionsOf.get(topic)!,
              rate: pg.rate.kind === 'max' ? { kind: 'max' } : { kind: 'fixed', perSecond: pg.rate.perSecond / perLoop },
              durationMs: w.durationMs,
              warmupMs: w.warmupMs,
              keys: pg.keys,
              sizes: pg.messageSize,
              batchBytes: pg.batchBytes,
              payload: { randomBytesRatio: pg.randomness, poolSize },
              seed: deriveSeed(opts.seed, 'producer', gi, c, topic),
              valueIds: ids,
              scheduler: sched,
              history: live,
              // Read by run(), after the origin is taken below (building the loops first keeps payload generation out of the run).
              get runOriginMs() {
                return origin ?? undefined
              },
              received: pg.rate.kind === 'max' ? () => receivedShare(consumerSets, loops.length) : undefined,
            }),
          })
        }
      }
    }

    // 5. Go: one origin for everything.
    origin = sched.now()
    consumerSink.setOrigin(origin)
    live.setMeasureFrom(w.warmupMs * 1000)
    phases = schedulePhases(live, sched, origin, w.warmupMs, w.durationMs)
    const nodes = cluster.nodes
    faults = new FaultScheduler({
      faults: s.faults,
      nodes,
      resolver: targetResolver(() => admin, connect()),
      history: live,
      scheduler: sched,
      originMs: origin,
      seed: opts.seed,
      onEvent: info,
    })
    faults.start()
    if (w.backlog !== null) {
      const b = w.backlog
      for (const c of consumerSets) {
        const feeding = loops.filter((l) => c.topics.includes(l.topic))
        backlogs.push(runBacklog({ consumers: c.set, producedBytes: () => feeding.reduce((n, l) => n + l.loop.bytesAcked, 0), targetBytes: b.bytes, drainFraction: b.drainFraction, timeoutMs: w.durationMs, scheduler: sched }))
      }
    }
    info(`running ${formatDuration(w.durationMs)}${w.warmupMs > 0 ? ` (${formatDuration(w.warmupMs)} warmup)` : ''}: ${plural(loops.length, 'producer loop')}, ${plural(s.faults.length, 'fault')}`)
    const runs = loops.map((l) => l.loop.run())
    const runsDone = Promise.all(runs)
    runsDone.catch(() => {})
    ticker = setInterval(statusTick, 1000)

    // 6. The end of the schedule: heal, let the producers finish, drain.
    await until(sleep(origin + w.durationMs - sched.now()))
    await until(faults.stop({ restart: true }))
    for (const c of consumerSets) if (c.set.paused) c.set.resume()
    const graceMs = opts.producerGraceMs ?? 30_000
    const summaries = await until(within(runsDone, graceMs, null))
    if (summaries === null) {
      const open = loops.reduce((n, l) => n + l.loop.pending, 0)
      harnessError = `producers still waited for the outcome of ${open} sends ${formatDuration(graceMs)} after the schedule ended; the cluster stopped answering`
      for (const l of loops) l.loop.stop()
    } else {
      reportProducers(summaries, info)
    }
    if (consumerSets.length > 0) {
      draining = true
      const t0 = performance.now()
      const left = await until(drain(consumerSets, live, opts.drainTimeoutMs ?? 15_000))
      const took = ((performance.now() - t0) / 1000).toFixed(1)
      if (left === 0) info(`consumers: caught up with every acked record (${took} s)`)
      else info(`consumers: still ${left} records behind the last acked offsets after ${took} s; the delivery check reports them as unseen`)
    }
    const backlogResults = await Promise.all(backlogs.map((p) => within(p, 1000, null)))
    for (const b of backlogResults) if (b) info(describeBacklog(b))
    // One backlog per consumer set, in workload.consumers order.
    backlogRuns = backlogResults.map((result, i) => ({ consumers: w.consumers[i]!.name, targetBytes: w.backlog!.bytes, result }))
  } catch (err) {
    if (err instanceof Interrupted) {
      const at = origin === null ? 'before the load started' : `at ${((sched.now() - origin) / 1000).toFixed(1)} s of ${formatDuration(w.durationMs)}`
      harnessError = `interrupted ${at}; the run was stopped early and its figures cover only what ran`
      info(`interrupted: stopping the load, closing the cluster and writing results`)
    } else if (err instanceof RunError && err.exitCode === 2) {
      inputError = err
    } else if (err instanceof ClusterError && err.code === 'ERR_CLUSTER_SIZE') {
      inputError = new RunError(err.code, 2, `cluster.brokers: ${err.message}`, { cause: err })
    } else {
      harnessError = describeError(err)
    }
  } finally {
    if (ticker) clearInterval(ticker)
    progress.done()
    phases?.cancel()
    for (const l of loops) l.loop.stop()
    const interrupted = signal?.aborted === true
    if (faults) await within(faults.stop({ restart: !interrupted && harnessError === null }), 35_000, null)
    await within(Promise.allSettled(consumerSets.map((c) => c.set.close())), 10_000, null)
    await within(Promise.allSettled(producers.map((p) => p.close())), 10_000, null)
    if (admin) await within(admin.close().catch(() => {}), 5000, null)
    await within(Promise.allSettled(drivers.map((d) => d.close())), 10_000, null)
    const c = cluster ?? (clusterStarting ? await within(clusterStarting.catch(() => null), 35_000, null) : null)
    if (c) {
      await c.close()
      if (s.cluster.backend === 'local') info('cluster: stopped')
    }
    rmSync(clusterDir, { recursive: true, force: true })
    for (const log of logs.values()) log.end()
  }
  const faultErrors = faults?.errors.map((e) => e.message) ?? []
  const errors = [harnessError, ...faultErrors].filter((e): e is string => e !== null)
  historyOpen = false
  try {
    await history.close()
  } catch (err) {
    errors.push(describeError(err))
  }
  if (inputError) {
    rmSync(historyPath, { force: true })
    throw inputError
  }

  const results = await buildResults(historyPath, {
    scenario: { name: s.name, digest: scenarioDigest(s) },
    run: { startedAt, seed: opts.seed, faultlineVersion: faultlineVersion(), cluster: clusterInfo(s, cluster) },
    slo: sloThresholds(s.checks.slo),
    backlog: backlogRuns,
    delivery: deliveryOptions(s),
    error: errors.length > 0 ? errors.join('; ') : undefined,
  })
  const resultsPath = join(outDir, 'results.json')
  writeResults(resultsPath, results)
  // Rendered from the file, as `faultline report` will, so the two always agree.
  const written = readResults(resultsPath)
  const md = renderMarkdown(written)
  const mdStream = createWriteStream(join(outDir, 'results.md'))
  await new Promise<void>((resolve, reject) => mdStream.end(md, () => resolve()).on('error', reject))
  return written
}

function clusterInfo(s: Scenario, cluster: ClusterTarget | null): ClusterInfo {
  if (s.cluster.backend === 'local') {
    const n = s.cluster.brokers
    return {
      backend: 'local',
      description: `${plural(n, 'reference broker')}, local process${n === 1 ? '' : 'es'}`,
      bootstrap: cluster ? cluster.bootstrap.join(',') : null,
      nodes: (cluster?.nodes ?? []).map((node) => ({ id: String(node.id), address: node.address, version: faultlineVersion() })),
    }
  }
  return { backend: 'external', description: 'external Kafka-compatible cluster', bootstrap: s.cluster.bootstrap.join(','), nodes: [] }
}

/** Waits until every topic exists with the scenario's partition count and every partition has a leader. */
async function waitForTopics(admin: DriverAdmin, s: Scenario, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const md = await admin.metadata(s.topics.map((t) => t.name))
    let ready = true
    for (const [i, t] of s.topics.entries()) {
      const m = md.find((x) => x.name === t.name)
      if (!m) {
        ready = false
        continue
      }
      if (m.partitions.length !== t.partitions && m.partitions.length > 0) {
        throw new RunError(
          'ERR_RUN_TOPIC_MISMATCH',
          2,
          `topics[${i}].partitions: topic ${t.name} already exists on the cluster with ${m.partitions.length} partitions, the scenario wants ${t.partitions}; expected partitions: ${m.partitions.length}, another topic name, or the topic deleted first`,
        )
      }
      if (m.partitions.some((p) => p.leader < 0)) ready = false
    }
    if (ready) return
    if (performance.now() > deadline) {
      throw new RunError('ERR_RUN_TOPICS', 3, `topics ${s.topics.map((t) => t.name).join(', ')} were not all ready (created, every partition led) ${formatDuration(timeoutMs)} after CreateTopics; check the cluster's health`)
    }
    await sleep(100)
  }
}

async function waitForAssignment(
  sets: readonly { groups: string[]; topics: readonly string[] }[],
  partitionsOf: ReadonlyMap<string, number>,
  live: LiveStats,
  timeoutMs: number,
  outDir: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const missing: string[] = []
    for (const c of sets) {
      const wanted = new Map(c.topics.map((t) => [t, partitionsOf.get(t) ?? 0]))
      const total = [...wanted.values()].reduce((a, b) => a + b, 0)
      for (const g of c.groups) {
        const owned = live.assignedCount(g, wanted)
        if (owned < total) missing.push(`${g} owns ${owned} of ${total}`)
      }
    }
    if (missing.length === 0) return
    if (performance.now() > deadline) {
      throw new RunError(
        'ERR_RUN_ASSIGNMENT',
        3,
        `consumers were not assigned every partition within ${formatDuration(timeoutMs)} (${missing.join('; ')}); check the group coordinator (broker logs in ${outDir}) or use workload.driver: raw, which assigns partitions itself`,
      )
    }
    await sleep(50)
  }
}

/** Polls until every group has read up to the last acked offset of its topics, or the time is up; returns what is left. */
async function drain(sets: readonly { groups: string[]; topics: readonly string[] }[], live: LiveStats, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const behind = sets.reduce((n, c) => n + c.groups.reduce((m, g) => m + live.behind(g, c.topics), 0), 0)
    if (behind === 0 || performance.now() > deadline) return behind
    await sleep(50)
  }
}

/** For max-rate discovery: records received per group, shared evenly among the loops (an approximation). */
function receivedShare(sets: readonly { set: ConsumerSet; groups: string[] }[], loops: number): number {
  const groups = sets.reduce((n, c) => n + c.groups.length, 0)
  if (groups === 0) return Number.POSITIVE_INFINITY
  return sets.reduce((n, c) => n + c.set.records, 0) / groups / Math.max(1, loops)
}

function reportProducers(summaries: readonly ProducerSummary[], info: (line: string) => void): void {
  const sent = summaries.reduce((n, p) => n + p.sent, 0)
  const acked = summaries.reduce((n, p) => n + p.acked, 0)
  const failed = summaries.reduce((n, p) => n + p.failed, 0)
  info(`producers: done, ${sent} sent, ${acked} acked, ${failed} failed`)
  for (const p of summaries) {
    if (p.maxRate) info(`producers: ${p.name} sustained ${Math.round(p.maxRate.sustained)}/s (max-rate discovery, final rate ${Math.round(p.maxRate.final)}/s)`)
  }
}

function describeBacklog(b: BacklogResult): string {
  if (b.state === 'timed-out') return `backlog: timed out in the ${b.phase} phase with ${Math.round(b.pendingBytes)} bytes unconsumed after ${(b.elapsedMs / 1000).toFixed(1)} s`
  const mib = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`
  return `backlog: built ${mib(b.peakBytes)} in ${(b.buildMs / 1000).toFixed(1)} s, drained in ${(b.drainMs / 1000).toFixed(1)} s at ${mib(b.receiveBytesPerSecond)}/s read (${mib(b.netDrainBytesPerSecond)}/s net)`
}

/** leaderOf through the driver's admin; the controller through our protocol client (the driver seam has no controller). */
function targetResolver(admin: () => DriverAdmin | null, connect: ConnectOptions): TargetResolver {
  return {
    async leaderOf(topic, partition) {
      const a = admin()
      if (!a) return -1
      const md = await a.metadata([topic])
      return md.find((t) => t.name === topic)?.partitions.find((p) => p.partition === partition)?.leader ?? -1
    },
    async controller() {
      const c = new RawCluster(connect, 1)
      try {
        await c.refresh()
        return c.controllerId
      } finally {
        c.close()
      }
    },
  }
}
