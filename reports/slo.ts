// SLO checks over a run's metrics. Thresholds arrive normalized (the scenario schema parses "50ms", "4500/s"),
// in the unit their metric name implies:
//   <series>.<stat>   latency in µs; series produce, e2e or sendDelay; stat mean, max or pN for any
//                     percentile 0 < N <= 100 (p95, p99.9, p75); percentiles off the summary's list are read
//                     from the run's HdrHistogram, within its precision
//   throughput        acked records per second in the measurement window
//   throughputBytes   acked payload (record value) bytes per second in the window; keys, headers and batch
//                     overhead are not counted
//   errors            sends made in the window that failed (Metrics.errors.total), a count
//   errorShare        that count over the sends made in the window, a fraction
//   unavailability    the longest time without an ack while producing, µs
//   recovery          the longest time, over the faults, from a heal until throughput is back to 90% of its
//                     pre-fault level (reports/availability.ts), µs; a fault after which it never is makes it
//                     errored (so the run fails), faults without a pre-fault baseline are left out
//   drainRate         backlog mode: records per second the consumers read while draining (the slowest
//                     consumer set when there are several)
//   drainRateBytes    the same in payload bytes per second
// Latency, errors, errorShare and unavailability pass at or below the threshold; throughput and drain rates
// at or above it. A figure that could not be measured (no samples, no sends, a backlog that never drained)
// is errored, never passed.

import { LatencyHistogram, type LatencySummary, percentiles } from '../workloads/history/latency.ts'
import { type BacklogOutcome, describeBacklog } from './backlog.ts'
import type { FaultInterval, Metrics } from './metrics.ts'

export const sloLatencyMetrics = ['produce', 'e2e', 'sendDelay'] as const
export type SloLatencyMetric = (typeof sloLatencyMetrics)[number]
/** The latency statistics the summaries carry; any other percentile is computed from the histogram. */
export const sloStatistics = { p50: 'p50', p90: 'p90', p95: 'p95', p99: 'p99', 'p99.9': 'p999', 'p99.99': 'p9999', max: 'max', mean: 'mean' } as const
export type SloStatistic = `p${number}` | 'max' | 'mean'
const otherMetrics = ['throughput', 'throughputBytes', 'errors', 'errorShare', 'unavailability', 'recovery', 'drainRate', 'drainRateBytes'] as const
export type SloMetric = `${SloLatencyMetric}.${SloStatistic}` | (typeof otherMetrics)[number]

export type SloThresholds = Partial<Record<SloMetric, number>>
export type SloUnit = 'us' | 'records/s' | 'bytes/s' | 'count' | 'fraction'

export type SloResult =
  | {
      state: 'passed' | 'failed'
      metric: SloMetric
      comparison: '<=' | '>='
      unit: SloUnit
      threshold: number
      actual: number
    }
  | {
      state: 'errored'
      metric: SloMetric
      comparison: '<=' | '>='
      unit: SloUnit
      threshold: number
      actual: null
      reason: string
    }

/** What a check reads: the window's metrics and, for drain rates, backlog mode's outcome. */
export interface SloInputs {
  readonly metrics: Metrics
  readonly backlog?: readonly BacklogOutcome[]
  /** The faults with their availability, for recovery. */
  readonly faults?: readonly FaultInterval[]
}

/** The percentile a `pN` statistic names (0 < N <= 100), or null. */
function percentileOf(stat: string): number | null {
  const m = /^p(\d+(?:\.\d+)?)$/.exec(stat)
  if (m === null) return null
  const q = Number(m[1])
  return q > 0 && q <= 100 ? q : null
}

function splitLatency(name: string): { series: SloLatencyMetric; stat: string } | null {
  const dot = name.indexOf('.')
  if (dot < 0) return null
  const series = name.slice(0, dot)
  const stat = name.slice(dot + 1)
  if (!(sloLatencyMetrics as readonly string[]).includes(series)) return null
  if (stat !== 'max' && stat !== 'mean' && percentileOf(stat) === null) return null
  return { series: series as SloLatencyMetric, stat }
}

export function isSloMetric(name: string): name is SloMetric {
  return (otherMetrics as readonly string[]).includes(name) || splitLatency(name) !== null
}

/** The metric names with the statistics the summaries carry, for messages that list what is accepted. */
export function sloMetricNames(): SloMetric[] {
  const names: SloMetric[] = []
  for (const m of sloLatencyMetrics) for (const s of Object.keys(sloStatistics) as SloStatistic[]) names.push(`${m}.${s}`)
  names.push(...otherMetrics)
  return names
}

/** Sort key: latency series in order, percentiles ascending, then max, then mean; then the other metrics. */
function rank(metric: SloMetric): [number, number] {
  const l = splitLatency(metric)
  if (l === null) return [sloLatencyMetrics.length + otherMetrics.indexOf(metric as (typeof otherMetrics)[number]), 0]
  return [sloLatencyMetrics.indexOf(l.series), l.stat === 'mean' ? 102 : l.stat === 'max' ? 101 : (percentileOf(l.stat) as number)]
}

function latencyOf(metrics: Metrics, series: SloLatencyMetric): LatencySummary {
  if (series === 'produce') return metrics.produce.latency
  if (series === 'e2e') return metrics.e2e
  return metrics.sendDelay
}

const summaryKey = new Map<number, keyof typeof percentiles>(Object.entries(percentiles).map(([k, q]) => [q, k as keyof typeof percentiles]))

/** A latency statistic from a summary: its own figure where it has one, else from its histogram. */
export function latencyStatistic(s: LatencySummary, stat: string): number | null {
  if (s.count === 0) return null
  if (stat === 'mean') return s.mean
  if (stat === 'max') return s.max
  const q = percentileOf(stat)
  if (q === null) throw new RangeError(`latencyStatistic: ${JSON.stringify(stat)} is not mean, max or pN with 0 < N <= 100`)
  if (q === 100) return s.max
  const key = summaryKey.get(q)
  // Results written before a percentile joined the summary lack it: fall back to the histogram.
  const own = key === undefined ? undefined : s[key]
  return own ?? LatencyHistogram.fromSummary(s).percentile(q)
}

function judge(metric: SloMetric, comparison: '<=' | '>=', unit: SloUnit, threshold: number, actual: number | string): SloResult {
  if (typeof actual === 'string') return { state: 'errored', metric, comparison, unit, threshold, actual: null, reason: actual }
  const ok = comparison === '<=' ? actual <= threshold : actual >= threshold
  return { state: ok ? 'passed' : 'failed', metric, comparison, unit, threshold, actual }
}

/** The slowest drain's read rate, or why there is none. */
function drainRate(backlog: readonly BacklogOutcome[], unit: 'records' | 'bytes'): number | string {
  if (backlog.length === 0) return 'no backlog outcome: the run ended before backlog mode reported'
  const undrained = backlog.filter((b) => b.state !== 'drained')
  if (undrained.length > 0) return undrained.map(describeBacklog).join('; ')
  return Math.min(...backlog.map((b) => (b.state === 'drained' ? (unit === 'bytes' ? b.readBytesPerSecond : b.readRecordsPerSecond) : 0)))
}

/** The longest recovery over the faults, or why there is none (a fault that never recovered names itself). */
function slowestRecovery(faults: readonly FaultInterval[]): number | string {
  if (faults.length === 0) return 'no faults in the run'
  const measured = faults.filter((f) => f.availability !== null && f.availability.baselineRate !== null)
  const stuck = measured.filter((f) => !f.availability!.recovered)
  if (stuck.length > 0) return stuck.map((f) => `${f.name}: ${f.availability!.note ?? 'not recovered'}`).join('; ')
  if (measured.length === 0) return `no fault had a pre-fault baseline (1 s of load before it) to recover to`
  return Math.max(...measured.map((f) => f.availability!.recoveryUs!))
}

export function checkSlo(metric: SloMetric, threshold: number, inputs: SloInputs): SloResult {
  const m = inputs.metrics
  switch (metric) {
    case 'throughput':
      return judge(metric, '>=', 'records/s', threshold, m.produce.rate)
    case 'throughputBytes':
      return judge(metric, '>=', 'bytes/s', threshold, m.produce.bytesRate)
    case 'errors':
      return judge(metric, '<=', 'count', threshold, m.errors.total)
    case 'errorShare':
      return judge(metric, '<=', 'fraction', threshold, m.errors.shareOfSent ?? 'no sends in the measurement window')
    case 'unavailability':
      return judge(metric, '<=', 'us', threshold, m.unavailability.longestGapUs)
    case 'recovery':
      return judge(metric, '<=', 'us', threshold, slowestRecovery(inputs.faults ?? []))
    case 'drainRate':
      return judge(metric, '>=', 'records/s', threshold, drainRate(inputs.backlog ?? [], 'records'))
    case 'drainRateBytes':
      return judge(metric, '>=', 'bytes/s', threshold, drainRate(inputs.backlog ?? [], 'bytes'))
  }
  const l = splitLatency(metric)
  if (l === null) throw new RangeError(`checkSlo: ${JSON.stringify(metric)} is not an SLO metric`)
  const actual = latencyStatistic(latencyOf(m, l.series), l.stat)
  return judge(metric, '<=', 'us', threshold, actual ?? `no ${l.series} latency samples in the measurement window`)
}

/** Checks every threshold, in a stable order (latencies by series and statistic, then the other metrics). */
export function checkSlos(thresholds: SloThresholds, inputs: SloInputs): SloResult[] {
  const metrics = Object.keys(thresholds).map((k) => {
    if (!isSloMetric(k)) throw new RangeError(`checkSlos: ${JSON.stringify(k)} is not an SLO metric; expected one of ${sloMetricNames().join(', ')} or another percentile`)
    return k
  })
  metrics.sort((a, b) => {
    const [a0, a1] = rank(a)
    const [b0, b1] = rank(b)
    return a0 - b0 || a1 - b1
  })
  return metrics.map((metric) => checkSlo(metric, thresholds[metric] as number, inputs))
}
