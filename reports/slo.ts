// SLO checks over a run's metrics. Thresholds arrive normalized (the scenario schema parses "50ms", "4500/s"):
// latencies and unavailability in µs, throughput in acked records per second, errors as a count.
// Latency, errors and unavailability pass at or below the threshold; throughput passes at or above it.
// A latency SLO over no samples (an e2e SLO in a run without consumers) is errored, never passed.

import type { LatencySummary } from '../workloads/history/latency.ts'
import type { Metrics } from './metrics.ts'

export const sloLatencyMetrics = ['produce', 'e2e', 'sendDelay'] as const
export const sloStatistics = { p50: 'p50', p90: 'p90', p99: 'p99', 'p99.9': 'p999', 'p99.99': 'p9999', max: 'max' } as const
export type SloStatistic = keyof typeof sloStatistics
export type SloMetric =
  | `${(typeof sloLatencyMetrics)[number]}.${SloStatistic}`
  | 'throughput'
  | 'errors'
  | 'unavailability'

export type SloThresholds = Partial<Record<SloMetric, number>>
export type SloUnit = 'us' | 'records/s' | 'count'

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

export function isSloMetric(name: string): name is SloMetric {
  if (name === 'throughput' || name === 'errors' || name === 'unavailability') return true
  const dot = name.indexOf('.')
  if (dot < 0) return false
  const series = name.slice(0, dot)
  const stat = name.slice(dot + 1)
  return (sloLatencyMetrics as readonly string[]).includes(series) && Object.hasOwn(sloStatistics, stat)
}

/** All metric names, for error messages that list what would be accepted. */
export function sloMetricNames(): SloMetric[] {
  const names: SloMetric[] = []
  for (const m of sloLatencyMetrics) for (const s of Object.keys(sloStatistics) as SloStatistic[]) names.push(`${m}.${s}`)
  names.push('throughput', 'errors', 'unavailability')
  return names
}

function latencyOf(metrics: Metrics, series: (typeof sloLatencyMetrics)[number]): LatencySummary {
  if (series === 'produce') return metrics.produce.latency
  if (series === 'e2e') return metrics.e2e
  return metrics.sendDelay
}

export function checkSlo(metric: SloMetric, threshold: number, metrics: Metrics): SloResult {
  if (metric === 'throughput') {
    const actual = metrics.produce.rate
    return { state: actual >= threshold ? 'passed' : 'failed', metric, comparison: '>=', unit: 'records/s', threshold, actual }
  }
  if (metric === 'errors') {
    const actual = metrics.errors.total
    return { state: actual <= threshold ? 'passed' : 'failed', metric, comparison: '<=', unit: 'count', threshold, actual }
  }
  if (metric === 'unavailability') {
    const actual = metrics.unavailability.longestGapUs
    return { state: actual <= threshold ? 'passed' : 'failed', metric, comparison: '<=', unit: 'us', threshold, actual }
  }
  const dot = metric.indexOf('.')
  const series = metric.slice(0, dot) as (typeof sloLatencyMetrics)[number]
  const stat = sloStatistics[metric.slice(dot + 1) as SloStatistic]
  const actual = latencyOf(metrics, series)[stat]
  if (actual === null) {
    return {
      state: 'errored',
      metric,
      comparison: '<=',
      unit: 'us',
      threshold,
      actual: null,
      reason: `no ${series} latency samples in the measurement window`,
    }
  }
  return { state: actual <= threshold ? 'passed' : 'failed', metric, comparison: '<=', unit: 'us', threshold, actual }
}

/** Checks every threshold, in a stable order (the order of sloMetricNames). */
export function checkSlos(thresholds: SloThresholds, metrics: Metrics): SloResult[] {
  const out: SloResult[] = []
  for (const metric of sloMetricNames()) {
    const threshold = thresholds[metric]
    if (threshold !== undefined) out.push(checkSlo(metric, threshold, metrics))
  }
  return out
}
