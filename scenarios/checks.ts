// What the scenario asks of the reports: the delivery limits and send order for the checker, and the SLOs as
// the reports judge them: each `checks.slo` key becomes one report metric with its threshold in the reports'
// units (reports/slo.ts). Every SLO the schema accepts has a metric here, so what
// `faultline validate` accepts, `faultline run` judges.

import type { DeliveryOptions } from '../reports/checker.ts'
import type { SloMetric, SloThresholds } from '../reports/slo.ts'
import type { Scenario, SloCheck } from './schema.ts'

/** The report metric that judges one scenario SLO, and its threshold (µs, per second, a count or a fraction). */
export function sloThreshold(c: SloCheck): { metric: SloMetric; threshold: number } {
  switch (c.kind) {
    case 'latency':
      return { metric: `${c.metric}.${c.stat}` as SloMetric, threshold: c.maxMs * 1000 }
    case 'throughput':
      return { metric: c.min.unit === 'bytes' ? 'throughputBytes' : 'throughput', threshold: c.min.perSecond }
    case 'drainRate':
      return { metric: c.min.unit === 'bytes' ? 'drainRateBytes' : 'drainRate', threshold: c.min.perSecond }
    case 'errors':
      return { metric: c.max.unit === 'fraction' ? 'errorShare' : 'errors', threshold: c.max.value }
    case 'unavailability':
      return { metric: 'unavailability', threshold: c.maxMs * 1000 }
    case 'recovery':
      return { metric: 'recovery', threshold: c.maxMs * 1000 }
  }
}

/** The scenario's SLOs as report thresholds. */
export function sloThresholds(checks: readonly SloCheck[]): SloThresholds {
  const thresholds: SloThresholds = {}
  for (const c of checks) {
    const { metric, threshold } = sloThreshold(c)
    thresholds[metric] = threshold
  }
  return thresholds
}

/** Whether Kafka promises per-partition order for every producer of the scenario (idempotent, or one request in flight). */
export function producersKeepOrder(s: Scenario): boolean {
  return s.workload.producers.every((p) => p.idempotent || p.maxInFlight === 1)
}

/** The checker's options: the scenario's limits (null = report only) and send order when Kafka promises it. */
export function deliveryOptions(s: Scenario): DeliveryOptions | { skip: string } {
  if (s.workload.consumers.length === 0) return { skip: 'the scenario has no consumers, so nothing was read back' }
  return { sendOrder: producersKeepOrder(s), limits: s.checks.delivery }
}
