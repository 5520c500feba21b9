// `faultline run`: one scenario from cluster to results.json (docs/architecture.md has the whole data flow).
//
// preflight refuses what cannot run before anything is touched (latency and bandwidth faults, partitions
// without root or iptables, options the driver lacks, missing secrets): RunError with exit code 2. Then a Run goes through its phases in order:
//   cluster  start the local brokers (data under OUT/cluster) or attach to the external cluster;
//   topics   CreateTopics through the driver's admin (ifNotExists; an existing topic with another partition
//            count is an error, exit 2), until every partition has a leader;
//   clients  consumers first, until every group owns every partition (so they see every value), then the
//            producers and their loops;
//   warmup   take the run's clock origin and start everything on it (phase markers, the fault scheduler,
//            backlog mode, the producer loops); excluded from every figure;
//   measure  the rest of the schedule;
//   heal     every fault ends (paused brokers resume, killed ones restart);
//   drain    producers learn the outcome of their last sends; consumers get a bounded time to reach the last
//            acked offsets (so acked-but-unread is not a false alarm);
//   check    results from the history with the scenario's SLOs and delivery limits;
//   write    results.json, and results.md and report.html rendered from it.
// Every resource joins the Run's teardown stack (chaos/teardown.ts) when it is acquired; the stack unwinds
// after drain, or at once on an error, Ctrl-C or the run's deadline. Broker processes and the cluster's data
// are also in OUT/ledger.jsonl (chaos/ledger.ts), so `faultline cleanup` or the next run undoes them if this
// process is killed. Every failure after preflight still writes results.json, marked errored (exit 3).
//
// History times: the consumers start before the run's origin is known, so their events go through
// OriginShift, which holds them until the origin is taken and then rebases them onto it; assignments appear
// just before time 0, everything else on the one clock the producers and the fault scheduler use.

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, type WriteStream } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { clusterResolver } from '../chaos/resolver.ts'
import { FaultScheduler } from '../chaos/scheduler.ts'
import { bridgeNetfilterProblem, iptablesProblem } from '../chaos/network/iptables.ts'
import { IptablesPartitions } from '../chaos/network/partition.ts'
import { type DockerCluster, dockerEngine, startDockerCluster } from '../chaos/cluster/docker.ts'
import { externalCluster } from '../chaos/cluster/external.ts'
import { startLocalCluster } from '../chaos/cluster/local.ts'
import { ClusterSecurity, describeSecurity, securityFaults } from '../chaos/cluster/security.ts'
import { ClusterError, type ClusterTarget } from '../chaos/cluster/types.ts'
import { isProxyFault, isProxyKind } from '../chaos/faults.ts'
import { checkToxiproxy, ClusterProxies, describeProxyFault, startProxyServer } from '../chaos/proxy/network.ts'
import { cleanupLedger, cleanupStale, Ledger, LEDGER_FILE } from '../chaos/ledger.ts'
import { type Release, TeardownStack } from '../chaos/teardown.ts'
import { backlogOutcome, type BacklogRun, describeBacklog } from '../reports/backlog.ts'
import { type LivenessSection, LivenessWatchdog } from '../reports/liveness.ts'
import { type EventSink, LiveStats, MergedLiveStats, type ProgressReporter, silentProgress } from '../reports/progress.ts'
import { renderHtml } from '../reports/render-html.ts'
import { renderMarkdown } from '../reports/render-markdown.ts'
import { buildResults, type ClusterInfo, readResults, type Results, writeResults } from '../reports/results.ts'
import { type BacklogResult, ConsumerSet, runBacklog } from '../workloads/consumer.ts'
import {
  type ConnectOptions,
  type Driver,
  type DriverAdmin,
  missingCapability,
  type TlsOptions,
} from '../workloads/driver.ts'
import { capabilitiesOf, createDriver } from '../workloads/drivers/registry.ts'
import { deriveSeed, sizeBounds, ValueIds } from '../workloads/generators.ts'
import type { HistoryEvent } from '../workloads/history/events.ts'
import { HistoryWriter } from '../workloads/history/writer.ts'
import { ProducerLoop, type ProducerSummary, schedulePhases } from '../workloads/producer.ts'
import { systemScheduler } from '../workloads/rate.ts'
import { LoadMonitor } from '../workloads/load-monitor.ts'
import { harnessLoad, unreachableWorkers, WorkerFleet } from './workers.ts'
import { deliveryOptions, sloThresholds } from './checks.ts'
import { faultKindsOf, type Scenario, scheduledFaults } from './schema.ts'
import { formatDuration } from './units.ts'

export interface RunOptions {
  /** Created if missing: history.bin, results.json, results.md, report.html, broker logs. */
  readonly outDir: string
  readonly seed: number
  readonly progress?: ProgressReporter
  /** Aborting stops the run early; results are still written, marked errored. */
  readonly signal?: AbortSignal
  /** Where secrets named by `{ env: NAME }` are read, and iptables is looked up (PATH). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** How long consumers may take to own every partition. Default 30 s. */
  readonly assignTimeoutMs?: number
  /** How long consumers get after the producers finish to reach the last acked offsets. Default 15 s. */
  readonly drainTimeoutMs?: number
  /** How long producers get after the schedule ends to learn the outcome of their last sends. Default 30 s. */
  readonly producerGraceMs?: number
  /** The whole run's deadline, after which it stops as on Ctrl-C (errored, exit 3). Default: the schedule plus
   *  every timeout above plus 3 minutes for the cluster to start. */
  readonly timeoutMs?: number
  /** A stall this long (consumers reading nothing while acked records wait, producers learning no outcome) is
   *  reported while the run goes on. Default 10 s. */
  readonly livenessMs?: number
  /** Test only: pause every consumer this long after the load starts and never resume it, so the liveness
   *  watchdog and the drain must fail the run. */
  readonly stallConsumersAfterMs?: number
  /** Called as each phase begins, with the cluster once it is up (`faultline sweep` samples the brokers'
   *  resource use from measure to heal). */
  readonly onPhase?: (phase: RunPhase, cluster: ClusterTarget | null) => void
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
// Refusing what cannot run

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

/** Why this machine cannot partition a cluster of this backend, or null: partitions are iptables rules (root and
 *  iptables), and between docker containers the kernel's bridge netfilter must hand them the traffic. Preflight
 *  asks this for a scenario's partitions, explore before it draws any. */
export function partitionProblem(backend: Scenario['cluster']['backend'], env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  if (backend === 'external') return 'partitions are iptables rules by broker address, which only the local and docker backends set up; expected cluster.backend: local or docker'
  return iptablesProblem(env) ?? (backend === 'docker' ? bridgeNetfilterProblem() : null)
}

/** Proxies in front of every listener: asked for, or needed by a network-quality fault or nemesis kind. */
function needsProxies(s: Scenario): boolean {
  const c = s.cluster
  if (c.backend !== 'external' && (c.proxies === true || c.toxiproxy !== undefined)) return true
  return [...faultKindsOf(s)].some(isProxyKind)
}

/** Throws RunError (exit 2) naming the first thing in the scenario this harness cannot run yet. */
export async function preflight(s: Scenario, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Pick<ConnectOptions, 'sasl' | 'tls'>> {
  const problems: string[] = []
  const partitionAt = s.faults.findIndex((f) => f.kind === 'partition')
  // Where the first partition comes from: a fault, or the nemesis, which may draw one whatever the seed.
  const partitionSource = partitionAt >= 0 ? `faults[${partitionAt}] (${s.faults[partitionAt]!.name})` : s.nemesis?.kinds.includes('partition') ? 'nemesis.kinds (partition)' : null
  if (partitionSource !== null && s.cluster.backend !== 'external') {
    const why = partitionProblem(s.cluster.backend, env)
    if (why !== null) problems.push(`${partitionSource}: ${why}`)
  }
  if (s.nemesis !== null && s.cluster.backend === 'external') {
    const network = s.nemesis.kinds.filter((k) => k === 'partition' || isProxyKind(k))
    if (network.length > 0) problems.push(`nemesis.kinds: ${network.join(', ')} need iptables rules or proxies that only the local and docker backends set up; expected cluster.backend: local or docker, or kill and pause`)
  }
  s.faults.forEach((f, i) => {
    if (f.kind === 'partition' && s.cluster.backend === 'external') {
      problems.push(`faults[${i}] (${f.name}): partitions are iptables rules by broker address, which only the local and docker backends set up; expected cluster.backend: local or docker`)
    }
    if (isProxyFault(f) && s.cluster.backend === 'external') {
      problems.push(`faults[${i}] (${f.name}): ${f.kind} faults need proxies in front of the brokers, which only the local and docker backends set up; expected cluster.backend: local or docker`)
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
  if (s.cluster.backend === 'docker') {
    // Behind proxies on the host every container's traffic comes from the bridge's gateway: rules by container address would cut all or nothing.
    if (partitionSource !== null && needsProxies(s)) {
      problems.push(`${partitionSource}: partitions on the docker backend cut traffic by container address, which the proxies in front of the containers hide; expected partitions or network-quality faults (and cluster.proxies/toxiproxy), not both, in one docker scenario`)
    }
    const engine = await dockerEngine()
    if (!engine.ok) problems.push(`cluster.backend: docker: ${engine.reason}`)
  }
  const workers = s.workload.workers
  if (workers?.kind === 'remote') problems.push(...(await unreachableWorkers(workers.addresses)))
  const sec = s.cluster.backend === 'local' ? s.cluster.security : undefined
  if (sec) {
    // The harness's own admin connects with PLAIN (chaos/cluster/security.ts) through the same driver.
    for (const mechanism of sec.mechanism === null ? [undefined] : [sec.mechanism, 'PLAIN' as const]) {
      const missing = missingCapability(caps, { sasl: mechanism, tls: sec.protocol !== 'SASL_PLAINTEXT' })
      if (missing !== null) problems.push(`cluster.security: the ${driver} driver has no ${missing}; expected another workload.driver`)
    }
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

/** The brokers' config overrides, digested (local backend); null for an external cluster, whose config we cannot see. */
export function brokerConfigDigest(s: Scenario): string | null {
  if (s.cluster.backend !== 'local') return null
  const sorted = Object.entries(s.cluster.config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex')
}

let commitCache: string | null | undefined

/** The git commit this faultline runs from, `-dirty` when tracked files changed; null outside a git checkout. */
export function faultlineCommit(): string | null {
  if (commitCache !== undefined) return commitCache
  const cwd = fileURLToPath(new URL('.', import.meta.url))
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== ''
    commitCache = `${head}${dirty ? '-dirty' : ''}`
  } catch {
    commitCache = null
  }
  return commitCache
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

class RunTimeout extends Error {
  constructor(ms: number) {
    super(`the run exceeded its deadline of ${formatDuration(ms)}`)
    this.name = 'RunTimeout'
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
export class OriginShift implements EventSink {
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

/** The phases of a run, in order; every info line and the run log say which one they belong to. */
export const runPhases = ['cluster', 'topics', 'clients', 'warmup', 'measure', 'heal', 'drain', 'check', 'write'] as const
export type RunPhase = (typeof runPhases)[number]

interface Loop {
  readonly loop: ProducerLoop
  readonly topic: string
}

interface ConsumerGroupSet {
  readonly set: ConsumerSet
  readonly groups: string[]
  readonly topics: readonly string[]
}

/** Runs a scenario and writes OUT/results.json, OUT/results.md and OUT/report.html; returns the results. */
export async function runScenario(s: Scenario, opts: RunOptions): Promise<Results> {
  const security = await preflight(s, opts.env ?? process.env)
  return new Run(s, opts, security).execute()
}

/**
 * One run of a scenario: the phases in order (runPhases), each a method, and a teardown stack that every
 * acquired resource joins as it is acquired. Whatever ends the run (the schedule, an error, Ctrl-C, the
 * run's deadline), the stack unwinds in reverse order, each step bounded in time and logged to OUT/run.log;
 * what would outlive a killed harness is also in OUT/ledger.jsonl until it has been undone.
 */
class Run {
  private readonly s: Scenario
  private readonly opts: RunOptions
  /** How the workload's clients connect; a secured local cluster sets it once its certificates exist. */
  private security: Pick<ConnectOptions, 'sasl' | 'tls'>
  /** How the harness's own setup and watchers connect (a super user on a secured local cluster). */
  private adminSecurity: Pick<ConnectOptions, 'sasl' | 'tls'>
  private clusterSecurity: ClusterSecurity | null = null
  private readonly progress: ProgressReporter
  private readonly outDir: string
  private readonly sched = systemScheduler({ spinBelowMs: 0 })
  private readonly aborted: Promise<never>
  private readonly abort = new AbortController()
  private readonly runLog: WriteStream
  private readonly ledger: Ledger
  private readonly teardown: TeardownStack
  private live!: LiveStats
  private phase: RunPhase = 'cluster'
  /** Monotonic ms of the load's start (time 0 of the history), once taken. */
  private origin: number | null = null
  private cluster: ClusterTarget | null = null
  private proxies: ClusterProxies | null = null
  private faults: FaultScheduler | null = null
  private consumerSets: ConsumerGroupSet[] = []
  private harnessError: string | null = null
  /** Sends without an outcome when the producers' grace ran out (liveness: fails the verdict). */
  private unsettled: { sends: number; graceUs: number } | null = null
  /** Errors the consumers reported, and exceptions client libraries threw that reached the process, by code. */
  private readonly consumeErrors: Record<string, number> = {}
  private readonly clientCrashes: Record<string, number> = {}
  private watchdog: LivenessWatchdog | null = null
  private drained: LivenessSection['drain'] = null
  private loops: readonly Loop[] = []
  /** Set when the run ends early; faults then heal without restarting killed brokers. */
  private stopping = false
  /** workload.workers: the load runs in these processes (scenarios/workers.ts); null runs it here. */
  private fleet: WorkerFleet | null = null
  /** With load workers, this.live: the runner's own events and the workers' snapshots. */
  private mergedLive: MergedLiveStats | null = null
  /** This process's CPU and event-loop delay while the load runs (reports/saturation.ts). */
  private readonly monitor = new LoadMonitor('harness')

  constructor(s: Scenario, opts: RunOptions, security: Pick<ConnectOptions, 'sasl' | 'tls'>) {
    this.s = s
    this.opts = opts
    this.security = security
    this.adminSecurity = security
    this.progress = opts.progress ?? silentProgress
    this.outDir = opts.outDir
    mkdirSync(this.outDir, { recursive: true })
    this.runLog = createWriteStream(join(this.outDir, 'run.log'), { flags: 'a' })
    this.runLog.on('error', () => {})
    this.ledger = this.openLedger()
    // Every step goes to run.log; the console hears only of steps that failed or hung.
    this.teardown = new TeardownStack({ ledger: this.ledger, log: (line, step) => this.log(line, step.state !== 'done') })
    const w = s.workload
    const deadlineMs = opts.timeoutMs ?? w.durationMs + (opts.assignTimeoutMs ?? 30_000) + (opts.producerGraceMs ?? 30_000) + (opts.drainTimeoutMs ?? 15_000) + 180_000
    const deadline = setTimeout(() => this.abort.abort(new RunTimeout(deadlineMs)), deadlineMs)
    deadline.unref()
    this.teardown.add('run deadline', () => clearTimeout(deadline))
    if (opts.signal?.aborted) this.abort.abort(new Interrupted())
    opts.signal?.addEventListener('abort', () => this.abort.abort(new Interrupted()), { once: true })
    this.aborted = new Promise<never>((_, reject) => {
      if (this.abort.signal.aborted) reject(this.abort.signal.reason)
      this.abort.signal.addEventListener('abort', () => reject(this.abort.signal.reason), { once: true })
    })
    this.aborted.catch(() => {})
  }

  /** Undoes what killed runs left behind, then starts this run's ledger. */
  private openLedger(): Ledger {
    const env = this.opts.env ?? process.env
    const own = join(this.outDir, LEDGER_FILE)
    if (existsSync(own)) {
      const r = cleanupLedger(own, { env })
      if (r.skipped) throw new RunError('ERR_RUN_OUT_BUSY', 2, `--out ${this.outDir}: another faultline run is still writing there; expected another output directory`)
      for (const o of r.outcomes) this.log(`cleanup: ${this.outDir}: ${o.detail}`, true)
    }
    for (const l of cleanupStale(env).ledgers) for (const o of l.outcomes) this.log(`cleanup: a killed run in ${dirname(l.path)} left ${o.detail}`, true)
    return Ledger.create(this.outDir, env)
  }

  /** A line in OUT/run.log, and on the console too when `show`. */
  private log(line: string, show = false): void {
    this.runLog.write(`${new Date().toISOString()} [${this.phase}] ${line}\n`)
    if (show) this.progress.info(line)
  }

  private readonly info = (line: string): void => this.log(line, true)

  /** Waits for p unless the run is aborted (Ctrl-C, deadline) first. */
  private until<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.aborted])
  }

  private enter(phase: RunPhase): void {
    this.phase = phase
    this.log(`phase ${phase}`)
    this.opts.onPhase?.(phase, this.cluster)
  }

  async execute(): Promise<Results> {
    const s = this.s
    const historyPath = join(this.outDir, 'history.bin')
    const startedAt = new Date().toISOString()
    const history = await HistoryWriter.open(historyPath)
    let historyOpen = true
    // A client callback that fires after the run gave up on it (a close that timed out) must not write to a closed file.
    const sink: EventSink = { append: (e) => historyOpen && history.append(e) }
    this.mergedLive = s.workload.workers ? new MergedLiveStats(sink) : null
    this.live = this.mergedLive ?? new LiveStats(sink)
    let inputError: RunError | null = null
    let backlogRuns: BacklogRun[] = []
    const unguard = this.guardClients()
    try {
      this.enter('cluster')
      const cluster = await this.startCluster()
      this.enter('topics')
      const { connect, main, admin } = await this.createTopics(cluster)
      this.enter('clients')
      const { consumerSink, loops } = await this.startClients(connect, main)
      await this.openPartitions(cluster)
      this.enter('warmup')
      const { runsDone, backlogs } = this.startLoad(consumerSink, loops, admin, { ...connect(), ...this.adminSecurity })
      await this.until(this.sleepUntil(s.workload.warmupMs))
      this.enter('measure')
      await this.until(this.sleepUntil(s.workload.durationMs))
      this.enter('heal')
      await this.until(this.heal())
      this.enter('drain')
      await this.finishLoad(runsDone, loops)
      // One backlog per consumer set, in workload.consumers order; null when it had not finished.
      const finished = await Promise.all(backlogs.map((p) => within(p, 1000, null)))
      backlogRuns = finished.map((result, i) => ({ consumers: s.workload.consumers[i]!.name, targetBytes: s.workload.backlog!.bytes, result }))
      for (const b of backlogRuns) this.info(`backlog: ${describeBacklog(backlogOutcome(b))}`)
    } catch (err) {
      this.stopping = true
      const reason = err instanceof Interrupted || err instanceof RunTimeout ? err : null
      if (reason) {
        const at = this.origin === null ? `before the load started (phase ${this.phase})` : `at ${((this.sched.now() - this.origin) / 1000).toFixed(1)} s of ${formatDuration(s.workload.durationMs)} (phase ${this.phase})`
        this.harnessError = reason instanceof RunTimeout ? `${reason.message} ${at}; the run was stopped and its figures cover only what ran` : `interrupted ${at}; the run was stopped early and its figures cover only what ran`
        this.info(`${reason instanceof RunTimeout ? 'timed out' : 'interrupted'}: stopping the load, closing the cluster and writing results`)
      } else if (err instanceof RunError && err.exitCode === 2) {
        inputError = err
      } else if (err instanceof ClusterError && err.code === 'ERR_CLUSTER_SIZE') {
        inputError = new RunError(err.code, 2, `cluster.brokers: ${err.message}`, { cause: err })
      } else {
        this.harnessError = describeError(err) + this.authorizationHint(describeError(err))
      }
    } finally {
      this.progress.done()
      this.log(`teardown: undoing ${plural(this.teardown.size, 'resource')}, last acquired first`)
      const steps = await this.teardown.unwind()
      const stuck = steps.filter((t) => t.state !== 'done')
      if (stuck.length > 0) this.info(`teardown: ${stuck.map((t) => `${t.name} ${t.state}`).join(', ')} (details in ${join(this.outDir, 'run.log')})`)
      const left = this.ledger.close()
      if (left.length > 0) this.info(`teardown: ${left.length} resource(s) could not be undone; \`faultline cleanup ${this.outDir}\` retries`)
      unguard()
    }

    this.enter('check')
    const faultErrors = this.faults?.errors.map((e) => e.message) ?? []
    const errors = [this.harnessError, ...faultErrors].filter((e): e is string => e !== null)
    historyOpen = false
    try {
      await history.close()
    } catch (err) {
      errors.push(describeError(err))
    }
    if (inputError) {
      rmSync(historyPath, { force: true })
      this.runLog.end()
      throw inputError
    }
    const harness = this.monitor.stop()
    if (this.fleet) {
      try {
        errors.push(...(await this.fleet.merge(historyPath)))
      } catch (err) {
        errors.push(`merging the load workers' histories: ${describeError(err)}`)
      }
      const fleetErrors = this.fleet.errors()
      for (const [k, v] of Object.entries(fleetErrors.consume)) this.consumeErrors[k] = (this.consumeErrors[k] ?? 0) + v
      for (const [k, v] of Object.entries(fleetErrors.client)) this.clientCrashes[k] = (this.clientCrashes[k] ?? 0) + v
    }
    const loadGenerator = this.origin === null ? undefined : { processes: [harnessLoad(harness, this.origin), ...(this.fleet?.loads() ?? [])], workers: this.fleet?.size ?? 0, clocks: this.fleet?.clocks() ?? null }
    const results = await buildResults(historyPath, {
      scenario: { name: s.name, digest: scenarioDigest(s) },
      run: { startedAt, seed: this.opts.seed, faultlineVersion: faultlineVersion(), cluster: clusterInfo(s, this.cluster), driver: s.workload.driver, faultlineCommit: faultlineCommit(), brokerConfigDigest: brokerConfigDigest(s) },
      slo: sloThresholds(s.checks.slo),
      regression: s.checks.regression,
      backlog: backlogRuns,
      delivery: deliveryOptions(s),
      error: errors.length > 0 ? errors.join('; ') : undefined,
      clientErrors: { consume: this.consumeErrors, client: this.clientCrashes },
      liveness: this.watchdog?.section(this.drained, Object.values(s.checks.delivery).some((v) => v !== null), this.unsettled ?? undefined),
      loadGenerator,
    })

    this.enter('write')
    const resultsPath = join(this.outDir, 'results.json')
    writeResults(resultsPath, results)
    // Rendered from the file, as `faultline report` will, so the two always agree.
    const written = readResults(resultsPath)
    const mdStream = createWriteStream(join(this.outDir, 'results.md'))
    await new Promise<void>((resolve, reject) => mdStream.end(renderMarkdown(written), () => resolve()).on('error', reject))
    const htmlStream = createWriteStream(join(this.outDir, 'report.html'))
    await new Promise<void>((resolve, reject) => htmlStream.end(renderHtml(written), () => resolve()).on('error', reject))
    this.log('results written')
    await new Promise<void>((resolve) => this.runLog.end(resolve))
    return written
  }

  /** Under an authorizer, a refused workload usually lacks an ACL: say who it is and how its groups are named. */
  private authorizationHint(message: string): string {
    const sec = this.clusterSecurity
    if (!sec || !/AUTHORIZATION_FAILED|authori[sz]ation failed|not authorized/i.test(message)) return ''
    const principal = sec.principalOf(sec.spec.user)
    return ` (the workload connects as ${principal}; its consumer groups are named ${this.groupPrefix || 'faultline-<scenario>'}-<consumers>-g<N>, so { principal: "${principal}", operation: READ, group: faultline-, pattern: prefixed } in cluster.security.acls lets them join)`
  }

  private sleepUntil(msSinceOrigin: number): Promise<void> {
    return sleep(this.origin! + msSinceOrigin - this.sched.now())
  }

  /** Phase cluster: local brokers (their data under OUT/cluster, deleted afterwards) or the external cluster. */
  private async startCluster(): Promise<ClusterTarget> {
    const s = this.s
    if (s.cluster.backend === 'docker') return this.startDockerCluster(s.cluster.brokers, s.cluster.config)
    if (s.cluster.backend !== 'local') {
      this.cluster = externalCluster(s.cluster.bootstrap, { nodes: s.cluster.nodes, commandTimeoutMs: s.cluster.commandTimeoutMs, log: (line) => this.log(`cluster: ${line}`) })
      this.info(`cluster: external, bootstrap ${this.cluster.bootstrap.join(', ')}`)
      return this.cluster
    }
    this.info(`cluster: starting ${plural(s.cluster.brokers, 'local broker')}`)
    const t0 = performance.now()
    const clusterDir = join(this.outDir, 'cluster')
    rmSync(clusterDir, { recursive: true, force: true })
    this.teardown.add('cluster data directory', () => rmSync(clusterDir, { recursive: true, force: true }), {
      ledger: { kind: 'directory', path: clusterDir, description: 'the local cluster\'s data directory' },
    })
    const logs = new Map<number, WriteStream>()
    this.teardown.add('broker logs', () => {
      for (const log of logs.values()) log.end()
    })
    this.proxies = await this.startProxies()
    const spec = s.cluster.security
    const sec = spec ? ClusterSecurity.prepare(spec, join(clusterDir, 'security'), s.cluster.brokers) : null
    if (sec) {
      this.clusterSecurity = sec
      this.security = sec.workload
      this.adminSecurity = sec.admin
      this.info(`cluster: ${describeSecurity(sec.spec)}`)
    }
    const brokers = s.cluster.brokers
    const starting = startLocalCluster({
      brokers,
      config: s.cluster.config,
      ...(sec ? { nodeConfig: (id: number) => sec.brokerConfig(id, brokers), listenerName: sec.listenerName, connect: sec.admin } : {}),
      dataDir: clusterDir,
      ledger: this.ledger,
      front: this.proxies ?? undefined,
      onLog: (id, rec) => {
        let log = logs.get(id)
        if (!log) {
          log = createWriteStream(join(this.outDir, `broker-${id}.log`))
          log.on('error', () => {})
          logs.set(id, log)
        }
        log.write(`${JSON.stringify(rec)}\n`)
      },
    })
    // Registered before the start completes: Ctrl-C during startup still stops what did start.
    this.teardown.add(
      'cluster',
      async () => {
        const c = await starting.catch(() => null)
        if (c) {
          await c.close()
          this.info('cluster: stopped')
        }
      },
      { timeoutMs: 35_000 },
    )
    this.cluster = await this.until(starting)
    this.info(`cluster: up at ${this.cluster.bootstrap.join(', ')} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    if (sec) {
      const done = await this.until(sec.setup(this.cluster.bootstrap))
      if (done.length > 0) this.info(`cluster: created ${done.join(' and ')}`)
    }
    return this.cluster
  }

  /** Proxies in front of every listener, when the scenario has network-quality faults or asks for them: on the
   *  Toxiproxy server it names, or on faultline's own proxy server (a child process, in the ledger). */
  private async startProxies(): Promise<ClusterProxies | null> {
    const c = this.s.cluster
    if (c.backend === 'external' || !needsProxies(this.s)) return null
    let api
    let external = false
    if (c.toxiproxy !== undefined) {
      external = true
      api = await this.until(checkToxiproxy(c.toxiproxy).catch((err: Error) => Promise.reject(new RunError('ERR_RUN_TOXIPROXY', 2, err.message, { cause: err }))))
      this.info(`proxies: on the Toxiproxy server at ${c.toxiproxy}`)
    } else {
      const server = await this.until(startProxyServer())
      this.teardown.add('proxy server', () => server.stop(), { ledger: server.resource })
      api = await checkToxiproxy(server.url)
      this.info(`proxies: faultline's proxy server at ${server.url} (pid ${server.pid})`)
    }
    // On a named server the proxies outlive a killed harness: the ledger lists them for `faultline cleanup`.
    const proxies = new ClusterProxies(api, undefined, external ? this.ledger : null)
    this.teardown.add('proxies', () => proxies.close())
    return proxies
  }

  /** Phase cluster on the docker backend: the broker image (built when this build has none), a network of the
   *  run's own and a container per broker, all in the ledger until removed. */
  private async startDockerCluster(brokers: number, config: Readonly<Record<string, string>>): Promise<ClusterTarget> {
    this.info(`cluster: starting ${plural(brokers, 'broker container')}`)
    const t0 = performance.now()
    const logs = new Map<number, WriteStream>()
    this.teardown.add('broker logs', () => {
      for (const log of logs.values()) log.end()
    })
    this.proxies = await this.startProxies()
    const starting = startDockerCluster({
      brokers,
      config,
      ledger: this.ledger,
      front: this.proxies ?? undefined,
      log: (line) => this.info(`cluster: ${line}`),
      onLog: (id, rec) => {
        let log = logs.get(id)
        if (!log) {
          log = createWriteStream(join(this.outDir, `broker-${id}.log`))
          log.on('error', () => {})
          logs.set(id, log)
        }
        log.write(`${JSON.stringify(rec)}\n`)
      },
    })
    // Registered before the start completes: Ctrl-C during startup still removes what was created.
    this.teardown.add(
      'cluster',
      async () => {
        const c = await starting.catch(() => null)
        if (c) {
          await c.close()
          this.info('cluster: containers and network removed')
        }
      },
      { timeoutMs: 35_000 },
    )
    this.cluster = await this.until(starting)
    this.info(`cluster: up at ${this.cluster.bootstrap.join(', ')} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    return this.cluster
  }

  private async newDriver(connect: (requestTimeoutMs?: number) => ConnectOptions, requestTimeoutMs?: number): Promise<Driver> {
    const d = await createDriver(this.s.workload.driver, connect(requestTimeoutMs))
    this.teardown.add(`${this.s.workload.driver} client`, () => d.close())
    return d
  }

  /** Phase topics: CreateTopics (ifNotExists) through the driver's admin, then wait until every partition is led. */
  private async createTopics(cluster: ClusterTarget): Promise<{ connect: (requestTimeoutMs?: number) => ConnectOptions; main: Driver; admin: DriverAdmin }> {
    const s = this.s
    const connect = (requestTimeoutMs?: number): ConnectOptions => ({ bootstrap: cluster.bootstrap, clientId: `faultline-${s.name}`, requestTimeoutMs, ...this.security })
    const adminConnect = (requestTimeoutMs?: number): ConnectOptions => ({ ...connect(requestTimeoutMs), ...this.adminSecurity })
    const main = await this.newDriver(connect)
    // The harness's own admin work (topics, metadata the watchers read) runs as the cluster's admin when it
    // has one, so the workload's ACLs constrain only the workload.
    const admin = await this.until((this.clusterSecurity ? await this.newDriver(adminConnect) : main).admin())
    this.teardown.add('admin client', () => admin.close(), { timeoutMs: 5000 })
    await this.until(admin.createTopics(s.topics.map((t) => ({ name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor, configs: t.config })), { ifNotExists: true }))
    await this.until(waitForTopics(admin, s))
    this.info(`topics: ${s.topics.map((t) => `${t.name} (${plural(t.partitions, 'partition')})`).join(', ')}`)
    return { connect, main, admin }
  }

  /** Phase clients: consumers first (until every group owns every partition, so they see every value), then the
   *  producers and their loops (payloads generated now, outside the measured run). */
  private async startClients(
    connect: (requestTimeoutMs?: number) => ConnectOptions,
    main: Driver,
  ): Promise<{ consumerSink: OriginShift; loops: Loop[] }> {
    const s = this.s
    const w = s.workload
    const partitionsOf = new Map(s.topics.map((t) => [t.name, t.partitions]))
    const consumerOrigin = this.sched.now()
    const consumerSink = new OriginShift(this.live, consumerOrigin)
    const groupPrefix = `faultline-${s.name}-${this.opts.seed}-${Date.now().toString(36)}`
    this.groupPrefix = groupPrefix
    if (w.workers && this.mergedLive) {
      this.fleet = await this.until(WorkerFleet.open(w.workers, { outDir: this.outDir, teardown: this.teardown, live: this.mergedLive, log: this.info, logQuietly: (line) => this.log(line), onLost: (err) => this.abort.abort(err) }))
      await this.until(this.fleet.prepare(s, { connect: connect(), seed: this.opts.seed, groupPrefix }))
    }
    for (const cg of w.consumers) {
      const set = new ConsumerSet({
        name: cg.name,
        driver: main,
        topics: cg.topics,
        groups: cg.groups,
        membersPerGroup: cg.membersPerGroup,
        from: cg.from,
        groupIdPrefix: `${groupPrefix}-${cg.name}`,
        scheduler: this.sched,
        runOriginMs: consumerOrigin,
        history: consumerSink,
        onError: (member, e) => this.consumerError(member, e.name, e.message),
        onRecovery: (member, message) => this.log(`consumer ${member}: ${message}`),
        // With load workers, they run every member (under these group ids) and this process none.
        ...(this.fleet ? { members: [] } : {}),
      })
      this.teardown.add(`consumers ${cg.name}`, () => set.close())
      this.consumerSets.push({ set, groups: Array.from({ length: cg.groups }, (_, g) => `${cg.name}-g${g}`), topics: cg.topics })
    }
    if (this.consumerSets.length > 0) {
      const t0 = performance.now()
      await this.until(Promise.all(this.consumerSets.map((c) => c.set.start())))
      await this.until(
        waitForAssignment(this.consumerSets, partitionsOf, this.live, this.opts.assignTimeoutMs ?? 30_000, this.outDir).catch((err: unknown) => {
          // What the consumers ran into meanwhile is usually the why (GROUP_AUTHORIZATION_FAILED, a coordinator away).
          const seen = Object.entries(this.consumeErrors)
          if (!(err instanceof RunError) || seen.length === 0) throw err
          throw new RunError(err.code, err.exitCode, `${err.message}; the consumers reported ${seen.map(([c, n]) => `${c} ${n}`).join(', ')}`, { cause: err })
        }),
      )
      const members = w.consumers.reduce((n, c) => n + c.groups * c.membersPerGroup, 0)
      this.info(`consumers: ${plural(members, 'member')} in ${plural(this.consumerSets.reduce((n, c) => n + c.groups.length, 0), 'group')} own every partition (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    }
    if (this.fleet) return { consumerSink, loops: [] }

    // One client per `count`, one loop per client and topic; the group's rate is split evenly.
    const loops: Loop[] = []
    const ids = new ValueIds()
    const consumedShare = (): number => receivedShare(this.consumerSets, loops.length)
    for (const [gi, pg] of w.producers.entries()) {
      // Each request has the client's own request timeout (30 s, as Java's); the delivery timeout bounds a send.
      const driver = await this.newDriver(connect)
      const perLoop = pg.count * pg.topics.length
      const maxSize = sizeBounds(pg.messageSize).max
      // Pre-generated payload bodies: at most ~64 MiB of them per loop, whatever the message size.
      const poolSize = Math.max(8, Math.min(1000, Math.floor((64 << 20) / maxSize)))
      for (let c = 0; c < pg.count; c++) {
        const producer = await this.until(
          driver.producer({ acks: pg.acks, idempotent: pg.idempotent, compression: pg.compression, lingerMs: pg.lingerMs, batchBytes: pg.batchBytes, maxInFlight: pg.maxInFlight, deliveryTimeoutMs: pg.deliveryTimeoutMs }),
        )
        this.teardown.add(`producer ${pg.name}-${c}`, () => producer.close())
        const run = this
        for (const topic of pg.topics) {
          const name = perLoop === 1 ? pg.name : `${pg.name}-${c}${pg.topics.length > 1 ? `-${topic}` : ''}`
          const loop = new ProducerLoop({
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
            seed: deriveSeed(this.opts.seed, 'producer', gi, c, topic),
            valueIds: ids,
            scheduler: this.sched,
            history: this.live,
            // Read by run(), after the origin is taken in startLoad.
            get runOriginMs() {
              return run.origin ?? undefined
            },
            received: pg.rate.kind === 'max' ? consumedShare : undefined,
          })
          this.teardown.add(`producer loop ${name}`, () => loop.stop())
          loops.push({ topic, loop })
        }
      }
    }
    return { consumerSink, loops }
  }

  /** Takes the run's origin and starts everything on it: phase markers, the fault scheduler, backlog mode, the
   *  producer loops and the status line. */
  private startLoad(
    consumerSink: OriginShift,
    loops: readonly Loop[],
    admin: DriverAdmin,
    connect: ConnectOptions,
  ): { runsDone: Promise<ProducerSummary[]>; backlogs: Promise<BacklogResult>[] } {
    const s = this.s
    const w = s.workload
    const origin = this.sched.now()
    this.origin = origin
    consumerSink.setOrigin(origin)
    this.live.setMeasureFrom(w.warmupMs * 1000)
    const phases = schedulePhases(this.live, this.sched, origin, w.warmupMs, w.durationMs)
    this.teardown.add('phase markers', () => phases.cancel())
    const scheduled = scheduledFaults(s, this.opts.seed)
    const faults = new FaultScheduler({
      partitions: this.partitions ?? undefined,
      faults: scheduled,
      nodes: this.cluster!.nodes,
      resolver: clusterResolver({ connect, nodes: this.cluster!.nodes, groupId: (name) => `${this.groupPrefix}-${name}-g0` }),
      history: this.live,
      scheduler: this.sched,
      originMs: origin,
      seed: this.opts.seed,
      onEvent: this.info,
      network: this.proxies ? { apply: (f, ids, id) => this.proxies!.apply(f, ids, id), describe: describeProxyFault } : undefined,
      security: this.clusterSecurity ? securityFaults(this.clusterSecurity, () => this.cluster!.bootstrap) : undefined,
    })
    this.faults = faults
    // Heals on schedule (phase heal) or here when the run ends early: killed brokers restart only on a clean end.
    this.healFaults = this.teardown.add('faults', () => faults.stop({ restart: !this.stopping }), { timeoutMs: 35_000 })
    faults.start()
    const stallAt = this.opts.stallConsumersAfterMs
    if (stallAt !== undefined) {
      const t = setTimeout(() => {
        for (const c of this.consumerSets) c.set.pause()
      }, stallAt)
      this.teardown.add('consumer stall', () => clearTimeout(t))
    }
    const backlogs: Promise<BacklogResult>[] = []
    if (w.backlog !== null) {
      const b = w.backlog
      for (const c of this.consumerSets) {
        const feeding = loops.filter((l) => c.topics.includes(l.topic))
        backlogs.push(runBacklog({ consumers: c.set, producedBytes: () => feeding.reduce((n, l) => n + l.loop.bytesAcked, 0), targetBytes: b.bytes, drainFraction: b.drainFraction, timeoutMs: w.durationMs, scheduler: this.sched }))
      }
    }
    this.info(`running ${formatDuration(w.durationMs)}${w.warmupMs > 0 ? ` (${formatDuration(w.warmupMs)} warmup)` : ''}: ${this.fleet ? plural(this.fleet.size, 'load worker') : plural(loops.length, 'producer loop')}, ${plural(scheduled.length, 'fault')}${s.nemesis === null ? '' : ` (${plural(scheduled.length - s.faults.length, 'nemesis fault')})`}`)
    this.loops = loops
    this.watchdog = new LivenessWatchdog({ thresholdMs: this.opts.livenessMs ?? 10_000, say: this.info })
    this.monitor.start()
    const runsDone = this.fleet ? this.fleet.startLoad(origin) : Promise.all(loops.map((l) => l.loop.run()))
    runsDone.catch(() => {})
    const ticker = setInterval(() => this.statusTick(), 1000)
    this.teardown.add('status line', () => clearInterval(ticker))
    return { runsDone, backlogs }
  }

  private healFaults: Release | null = null
  /** Consumer group ids are <prefix>-<consumers name>-g<N>; `coordinatorOf: name` means its first group. */
  private groupPrefix = ''
  private partitions: IptablesPartitions | null = null

  /** The run's iptables chain, when a fault partitions: recorded in the ledger, removed at teardown. */
  private async openPartitions(cluster: ClusterTarget): Promise<void> {
    if (!faultKindsOf(this.s).has('partition')) return
    const scope = 'partitionScope' in cluster ? (cluster as DockerCluster).partitionScope : undefined
    const opening = IptablesPartitions.open({ ledger: this.ledger, scope, nodes: () => cluster.nodes.map((n) => ({ id: n.id, host: n.host, ports: n.ports ?? [n.port] })) })
    this.teardown.add('iptables chain', async () => (await opening.catch(() => null))?.close())
    this.partitions = await this.until(opening)
    this.log(`partitions: iptables chain ${this.partitions.chain}`)
  }

  /** Phase heal: every fault ends (paused brokers resume, killed ones restart) and paused consumers resume. */
  private async heal(): Promise<void> {
    await this.healFaults?.()
    if (this.opts.stallConsumersAfterMs === undefined) for (const c of this.consumerSets) if (c.set.paused) c.set.resume()
  }

  /** Phase drain: the producers learn the outcome of their last sends, then the consumers get a bounded time to
   *  reach the last acked offsets (so acked-but-unread is not a false alarm). */
  private async finishLoad(runsDone: Promise<ProducerSummary[]>, loops: readonly Loop[]): Promise<void> {
    const graceMs = this.opts.producerGraceMs ?? 30_000
    const summaries = await this.until(within(runsDone, graceMs, null))
    if (summaries === null) {
      const open = loops.reduce((n, l) => n + l.loop.pending, 0)
      this.unsettled = { sends: open, graceUs: graceMs * 1000 }
      this.info(`producers: ${open} sends still had no outcome ${formatDuration(graceMs)} after the schedule ended; they stay indeterminate and the run fails`)
      for (const l of loops) l.loop.stop()
    } else {
      reportProducers(summaries, this.info)
    }
    if (this.consumerSets.length === 0) return
    const t0 = performance.now()
    const left = await this.until(drain(this.consumerSets, this.live, this.opts.drainTimeoutMs ?? 15_000))
    this.drained = { state: left === 0 ? 'caught-up' : 'behind', behindRecords: left, waitedUs: Math.round((performance.now() - t0) * 1000) }
    const took = ((performance.now() - t0) / 1000).toFixed(1)
    if (left === 0) this.info(`consumers: caught up with every acked record (${took} s)`)
    else this.info(`consumers: still ${left} records behind the last acked offsets after ${took} s; the delivery check reports them as unseen`)
  }

  private statusTick(): void {
    if (this.origin === null) return
    const w = this.s.workload
    const live = this.live
    const elapsedMs = this.sched.now() - this.origin
    const b = live.series.latest(Math.round(elapsedMs * 1000))
    const draining = this.phase === 'drain'
    const nowUs = Math.round(elapsedMs * 1000)
    const dog = this.watchdog
    if (dog) {
      for (const c of this.consumerSets) for (const g of c.groups) dog.consumer(g, nowUs, live.readProgress(g), live.behind(g, c.topics))
      dog.producersAt(nowUs, live.acked + live.failed, this.loops.reduce((n, l) => n + l.loop.pending, 0))
    }
    this.progress.status({
      phase: draining ? 'drain' : elapsedMs < w.warmupMs ? 'warmup' : 'measure',
      elapsedMs,
      totalMs: w.durationMs,
      sentRate: b?.sent ?? 0,
      ackedRate: b?.acked ?? 0,
      consumedRate: b?.consumed ?? 0,
      produceP99Us: live.produceP99(),
      e2eP99Us: live.e2eP99(),
      errors: live.failed + Object.values(this.consumeErrors).reduce((a, b) => a + b, 0),
      activeFaults: this.faults?.active.map((f) => `${f.name} ${f.target}`) ?? [],
      behind: draining ? this.consumerSets.reduce((n, c) => n + c.groups.reduce((m, g) => m + live.behind(g, c.topics), 0), 0) : undefined,
      stalled: dog?.stalled(nowUs),
    })
  }

  /** A consumer's error: counted by code for results.json, the first ones of each code also in run.log. */
  private consumerError(member: string, code: string, message: string): void {
    const n = (this.consumeErrors[code] = (this.consumeErrors[code] ?? 0) + 1)
    if (n <= 5) this.log(`consumer ${member}: ${code}: ${message}${n === 5 ? ' (further ones of this code are only counted)' : ''}`)
  }

  /**
   * A client library's exception that escapes to the process (a TypeError thrown from its timer, a promise it
   * never handles) must not end the run: it is logged and counted under \`client\`, and the liveness watchdog
   * and the delivery check judge what it did to the load. Returns the undo.
   */
  private guardClients(): () => void {
    const caught = (kind: string) => (err: unknown): void => {
      const name = err instanceof Error ? err.name : typeof err
      const code = `${kind} ${name}`
      const n = (this.clientCrashes[code] = (this.clientCrashes[code] ?? 0) + 1)
      if (n <= 3) this.info(`client: ${kind}: ${describeError(err)}${err instanceof Error && err.stack ? ` (${err.stack.split('\n')[1]?.trim() ?? ''})` : ''}`)
    }
    const onException = caught('uncaught exception')
    const onRejection = caught('unhandled rejection')
    process.on('uncaughtException', onException)
    process.on('unhandledRejection', onRejection)
    return () => {
      process.off('uncaughtException', onException)
      process.off('unhandledRejection', onRejection)
    }
  }
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
  if (s.cluster.backend === 'docker') {
    const n = s.cluster.brokers
    return {
      backend: 'docker',
      description: `${plural(n, 'reference broker')} in Docker container${n === 1 ? '' : 's'}`,
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
        `consumers were not assigned every partition within ${formatDuration(timeoutMs)} (${missing.join('; ')}); check the group coordinator (broker logs in ${outDir}) and the consumers' errors`,
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
