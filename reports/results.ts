// results.json: the single source of truth of a run. Everything in it is computed from the history file
// (plus what the runner knows: scenario, cluster, seed, thresholds) in one streaming pass; every report
// (console, markdown, later html, junit, compare) renders from it and nothing else.
//
// schemaVersion 2. Units: times and latencies in µs (times since run start), rates per second, sizes in
// bytes. Additive changes (new optional fields) keep the version; anything else bumps it, and readResults
// refuses versions it does not know with a message saying which side to upgrade.
// Version 2 renamed the anomalies from Jepsen's names (lost-write, G1a, ...) to the scenario's (lost,
// failedWritesRead, ...), added p95 to latency summaries, errors.shareOfSent (and counts errors by the window's
// sends, see metrics.ts), the backlog section, and SLO metrics beyond version 1's fixed list. Version 1 files
// are still read, upgraded in memory (anomalies renamed, p95 from the histogram, shareOfSent from the counts,
// no backlog), so older runs still render and compare (their verdict reasons keep the words they were written with).
// Added since, optional (older files lack them): `errors` (client errors over the whole run by role and code)
// and `liveness` (reports/liveness.ts).
// Added to version 2 later: each fault's kind, resolved nodes, parameters and availability (reports/availability.ts);
// files without them read with kind null, no nodes, no parameters and availability null.

import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { cpus, hostname, release, totalmem } from 'node:os'
import { EventKind } from '../workloads/history/events.ts'
import { readHistoryTrailer, scanHistory } from '../workloads/history/reader.ts'
import { type HistogramOptions, LatencyHistogram, type LatencySummary, percentiles } from '../workloads/history/latency.ts'
import { withAvailability } from './availability.ts'
import { type BacklogOutcome, backlogOutcome, type BacklogRun } from './backlog.ts'
import { anomalyKinds, DeliveryChecker, type DeliveryOptions, type DeliveryResult, jepsenNames } from './checker.ts'
import { sloValue } from './describe.ts'
import { formatCount } from './format.ts'
import { type LivenessSection, livenessFailures } from './liveness.ts'
import { type FaultInterval, type Metrics, MetricsAccumulator } from './metrics.ts'
import type { Comparison, RegressionThresholds } from './compare.ts'
import { checkSlos, type SloResult, type SloThresholds } from './slo.ts'
import { type LoadGeneratorSection, type ProcessLoadInput, SaturationAccumulator } from './saturation.ts'
import { TimeSeries, type TimeSeriesData } from './timeseries.ts'

export const resultsSchemaVersion = 2

export interface NodeInfo {
  id: string
  address: string | null
  version: string | null
}

export interface ClusterInfo {
  /** local | docker | external ... */
  backend: string
  /** One line for humans: "3 reference brokers, local processes". */
  description: string
  bootstrap: string | null
  nodes: NodeInfo[]
}

export interface HostInfo {
  hostname: string
  platform: string
  arch: string
  cpus: number
  cpuModel: string | null
  memoryBytes: number
  node: string
}

export interface RunInfo {
  /** Wall-clock start, ISO 8601. */
  startedAt: string
  /** Time of the last event in the history. */
  durationUs: number
  seed: number | null
  faultlineVersion: string
  cluster: ClusterInfo
  host: HostInfo
  /** The client the load went through (workload.driver). Absent in older files. */
  driver?: string
}

export interface HistoryInfo {
  path: string
  events: number
  bytes: number
  /** The writer closed the file cleanly. */
  complete: boolean
  trailingBytes: number
}

/** What a comparison needs to know ran alike (reports/compare.ts warns when any field differs). */
export interface Environment {
  cpuModel: string | null
  cores: number
  memoryBytes: number
  node: string
  /** os.release(). */
  kernel: string | null
  /** platform/arch. */
  platform: string
  /** The git commit faultline ran from (with -dirty when its tracked files had changes); null outside a checkout. */
  faultlineCommit: string | null
  scenarioDigest: string
  /** sha256 of the brokers' config overrides (local backend); null for an external cluster. */
  brokerConfigDigest: string | null
}

export type DeliverySection = DeliveryResult | { state: 'skipped'; reason: string }

export interface Verdict {
  /** errored: the harness failed (exit 3); failed: a check or SLO failed (exit 1). */
  state: 'passed' | 'failed' | 'errored'
  reasons: string[]
}

export interface Results {
  schemaVersion: typeof resultsSchemaVersion
  scenario: { name: string; digest: string }
  run: RunInfo
  history: HistoryInfo
  metrics: Metrics
  timeseries: TimeSeriesData
  faults: FaultInterval[]
  /** Backlog mode's outcome per consumer set; empty when the run had no backlog. */
  backlog: BacklogOutcome[]
  delivery: DeliverySection
  slos: SloResult[]
  verdict: Verdict
  /** Client errors over the whole run by role and code (produce: failed sends; consume: errors the consumers
   *  reported; client: exceptions a client library threw that the harness caught). Absent in older files. */
  errors?: ClientErrors
  /** The liveness watchdog's findings (reports/liveness.ts). Absent in older files. */
  liveness?: LivenessSection
  /** Added in place (schemaVersion 2 files without it still read): the run's environment. */
  environment?: Environment
  /** The scenario's checks.regression thresholds (fractions), for `faultline compare`. */
  regression?: RegressionThresholds
  /** `faultline run --baseline`: this run against the baseline; its verdict sets exit code 1 on a regression. */
  comparison?: Comparison
  /** Whether the load generator was the bottleneck (reports/saturation.ts), and its processes' load. Absent in older files. */
  loadGenerator?: LoadGeneratorSection
}

export interface ClientErrors {
  produce: Record<string, number>
  consume: Record<string, number>
  client: Record<string, number>
}

export interface ResultsInputs {
  scenario: { name: string; digest: string }
  run: {
    startedAt: string
    seed: number | null
    faultlineVersion: string
    cluster: ClusterInfo
    driver?: string
    /** Default: this machine. */
    host?: HostInfo
    /** Recorded in the environment. */
    faultlineCommit?: string | null
    brokerConfigDigest?: string | null
  }
  regression?: RegressionThresholds
  slo?: SloThresholds
  /** Backlog mode's outcome per consumer set (the drainRate SLOs read it). */
  backlog?: readonly BacklogRun[]
  /** Checker options, or a reason to skip the delivery check (e.g. a producer-only benchmark). */
  delivery?: DeliveryOptions | { skip: string }
  histogram?: HistogramOptions
  /** Default 1 s. */
  timeseriesIntervalUs?: number
  /** A harness failure the runner wants recorded: the verdict becomes errored. */
  error?: string
  /** Errors the consumers reported and exceptions caught from client libraries, by code (produce errors come from the history). */
  clientErrors?: { consume: Record<string, number>; client: Record<string, number> }
  liveness?: LivenessSection
  /** The load processes' CPU and event-loop samples, the worker count and a note on clocks (reports/saturation.ts). */
  loadGenerator?: { processes: readonly ProcessLoadInput[]; workers?: number; clocks?: string | null }
}

export class ResultsError extends Error {
  readonly code = 'BAD_RESULTS'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ResultsError'
  }
}

export function hostInfo(): HostInfo {
  const c = cpus()
  return {
    hostname: hostname(),
    platform: process.platform,
    arch: process.arch,
    cpus: c.length,
    cpuModel: c[0]?.model ?? null,
    memoryBytes: totalmem(),
    node: process.version,
  }
}

/** Computes results from a history file: metrics, time series and the delivery check in one pass. */
export async function buildResults(historyPath: string, inputs: ResultsInputs): Promise<Results> {
  const metrics = new MetricsAccumulator(inputs.histogram)
  const series = new TimeSeries({ intervalUs: inputs.timeseriesIntervalUs })
  const deliveryInput = inputs.delivery ?? {}
  const trailer = await readHistoryTrailer(historyPath)
  const checker = 'skip' in deliveryInput ? null : new DeliveryChecker({ expectedValues: trailer?.values, ...deliveryInput })
  const produceErrors: Record<string, number> = {}
  const saturation = new SaturationAccumulator()
  const scan = await scanHistory(historyPath, (rec) => {
    saturation.observe(rec)
    if (rec.kind === EventKind.fail) {
      const code = rec.str(rec.error)
      produceErrors[code] = (produceErrors[code] ?? 0) + 1
    }
    metrics.observe(rec)
    series.observe(rec)
    checker?.observe(rec)
  })
  const delivery: DeliverySection = checker
    ? await checker.finish((visit) => scanHistory(historyPath, visit))
    : { state: 'skipped', reason: 'skip' in deliveryInput ? deliveryInput.skip : '' }
  const m = metrics.finish()
  const backlog = (inputs.backlog ?? []).map(backlogOutcome)
  const faults = await withAvailability(
    metrics.faults(),
    { loadStartUs: m.totals.firstEventUs ?? 0, loadEndUs: m.window.measureEndUs ?? m.window.endUs },
    (visit) => scanHistory(historyPath, visit),
  )
  const slos = checkSlos(inputs.slo ?? {}, { metrics: m, backlog, faults })
  const history: HistoryInfo = {
    path: historyPath,
    events: scan.events,
    bytes: scan.bytes,
    complete: scan.complete,
    trailingBytes: scan.trailingBytes,
  }
  return {
    schemaVersion: resultsSchemaVersion,
    scenario: { ...inputs.scenario },
    run: {
      startedAt: inputs.run.startedAt,
      durationUs: m.totals.lastEventUs ?? 0,
      seed: inputs.run.seed,
      faultlineVersion: inputs.run.faultlineVersion,
      cluster: inputs.run.cluster,
      host: inputs.run.host ?? hostInfo(),
      ...(inputs.run.driver === undefined ? {} : { driver: inputs.run.driver }),
    },
    history,
    metrics: m,
    timeseries: series.toJSON(),
    faults,
    backlog,
    delivery,
    slos,
    verdict: verdictOf(history, delivery, slos, inputs.error, inputs.liveness),
    errors: { produce: produceErrors, consume: { ...inputs.clientErrors?.consume }, client: { ...inputs.clientErrors?.client } },
    ...(inputs.liveness ? { liveness: inputs.liveness } : {}),
    environment: environmentOf(inputs.run.host ?? hostInfo(), inputs),
    ...(inputs.regression ? { regression: inputs.regression } : {}),
    ...(inputs.loadGenerator ? { loadGenerator: saturation.finish(m.window, inputs.loadGenerator) } : {}),
  }
}

function environmentOf(host: HostInfo, inputs: ResultsInputs): Environment {
  return {
    cpuModel: host.cpuModel,
    cores: host.cpus,
    memoryBytes: host.memoryBytes,
    node: host.node,
    kernel: release(),
    platform: `${host.platform}/${host.arch}`,
    faultlineCommit: inputs.run.faultlineCommit ?? null,
    scenarioDigest: inputs.scenario.digest,
    brokerConfigDigest: inputs.run.brokerConfigDigest ?? null,
  }
}

export function verdictOf(history: HistoryInfo, delivery: DeliverySection, slos: SloResult[], error?: string, liveness?: LivenessSection): Verdict {
  const errors: string[] = []
  const failures: string[] = []
  if (error) errors.push(`harness: ${error}`)
  if (!history.complete) {
    errors.push(
      `history ${history.path} has no end frame (the run did not finish cleanly${history.trailingBytes > 0 ? `, ${history.trailingBytes} bytes of a cut frame` : ''}); unseen and lost writes may be artifacts`,
    )
  }
  if (delivery.state !== 'skipped') {
    for (const kind of anomalyKinds) {
      const a = delivery.anomalies[kind]
      if (a.exceeded) failures.push(`delivery: ${formatCount(a.count)} ${kind} (limit ${a.limit})`)
    }
  }
  failures.push(...livenessFailures(liveness))
  for (const s of slos) {
    if (s.state === 'failed') {
      failures.push(`SLO ${s.metric}: ${sloValue(s.unit, s.actual)}, wanted ${s.comparison} ${sloValue(s.unit, s.threshold)}`)
    } else if (s.state === 'errored') failures.push(`SLO ${s.metric}: ${s.reason}`)
  }
  const state = errors.length > 0 ? 'errored' : failures.length > 0 ? 'failed' : 'passed'
  return { state, reasons: [...errors, ...failures] }
}

/** The CLI exit code for a verdict: 0 passed, 1 failed, 3 errored (2 is bad input, before any results exist). */
export function exitCodeOf(results: Pick<Results, 'verdict'>): 0 | 1 | 3 {
  return results.verdict.state === 'passed' ? 0 : results.verdict.state === 'failed' ? 1 : 3
}

/** Writes results.json atomically (a reader never sees half a file). */
export function writeResults(path: string, results: Results): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, `${JSON.stringify(results, null, 2)}\n`)
  renameSync(tmp, path)
}

const sections: [keyof Results, 'object' | 'array'][] = [
  ['scenario', 'object'],
  ['run', 'object'],
  ['history', 'object'],
  ['metrics', 'object'],
  ['timeseries', 'object'],
  ['faults', 'array'],
  ['backlog', 'array'],
  ['delivery', 'object'],
  ['slos', 'array'],
  ['verdict', 'object'],
]

/** Parses and validates results JSON text; `source` names the file in errors. */
export function parseResults(text: string, source: string): Results {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new ResultsError(`${source}: not JSON (${(err as Error).message})`, { cause: err })
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ResultsError(`${source}: expected a JSON object (a faultline results.json)`)
  }
  const obj = data as Record<string, unknown>
  const version = obj.schemaVersion
  if (version === undefined) throw new ResultsError(`${source}: no schemaVersion; not a faultline results.json`)
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new ResultsError(`${source}: schemaVersion must be a positive integer, got ${JSON.stringify(version)}`)
  }
  if (version > resultsSchemaVersion) {
    throw new ResultsError(
      `${source}: schemaVersion ${version} was written by a newer faultline; this one reads schemaVersion 1 to ${resultsSchemaVersion}: upgrade faultline`,
    )
  }
  if (version === 1) upgradeV1(obj)
  else if (version !== resultsSchemaVersion) {
    throw new ResultsError(`${source}: schemaVersion ${version} is not supported (this faultline reads ${resultsSchemaVersion})`)
  }
  for (const [key, kind] of sections) {
    const v = obj[key]
    const ok = kind === 'array' ? Array.isArray(v) : typeof v === 'object' && v !== null && !Array.isArray(v)
    if (!ok) throw new ResultsError(`${source}: ${key} must be ${kind === 'array' ? 'an array' : 'an object'}`)
  }
  const verdict = obj.verdict as Record<string, unknown>
  if (verdict.state !== 'passed' && verdict.state !== 'failed' && verdict.state !== 'errored') {
    throw new ResultsError(`${source}: verdict.state must be passed, failed or errored, got ${JSON.stringify(verdict.state)}`)
  }
  if (!Array.isArray(verdict.reasons)) throw new ResultsError(`${source}: verdict.reasons must be an array`)
  // Added within version 2: what each fault was and its availability; older files get empty values.
  for (const f of obj.faults as Record<string, unknown>[]) {
    if (typeof f !== 'object' || f === null) continue
    f.kind ??= null
    f.nodes ??= []
    f.params ??= {}
    f.availability ??= null
  }
  const delivery = obj.delivery as Record<string, unknown>
  if (delivery.state !== 'skipped' && (typeof delivery.anomalies !== 'object' || delivery.anomalies === null)) {
    throw new ResultsError(`${source}: delivery.anomalies must be an object unless delivery.state is skipped`)
  }
  if (version === 1) {
    if (delivery.state !== 'skipped') {
      const old = delivery.anomalies as Record<string, unknown>
      delivery.anomalies = Object.fromEntries(anomalyKinds.map((k) => [k, old[jepsenNames[k]]]))
    }
    obj.schemaVersion = resultsSchemaVersion
  }
  return data as Results
}

/** Version 1 to 2 in place: what version 2 added, computed from what version 1 kept where it can be. */
function upgradeV1(obj: Record<string, unknown>): void {
  const metrics = obj.metrics as Record<string, Record<string, unknown>> | undefined
  const summaries = [metrics?.produce?.latency, metrics?.produce?.latencyFromIntended, metrics?.sendDelay, metrics?.e2e]
  for (const s of summaries as (Omit<LatencySummary, 'p95'> & { p95?: number | null })[]) {
    if (typeof s !== 'object' || s === null || s.p95 !== undefined) continue
    s.p95 = s.count > 0 && typeof s.histogram === 'string' ? LatencyHistogram.fromSummary({ ...s, p95: null }).percentile(percentiles.p95) : null
  }
  const errors = metrics?.errors as Record<string, unknown> | undefined
  const sent = metrics?.produce?.sent
  if (errors && !('shareOfSent' in errors)) errors.shareOfSent = typeof sent === 'number' && sent > 0 && typeof errors.total === 'number' ? errors.total / sent : null
  obj.backlog ??= []
  obj.schemaVersion = resultsSchemaVersion
}

export function readResults(path: string): Results {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ResultsError(`cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
  return parseResults(text, path)
}
