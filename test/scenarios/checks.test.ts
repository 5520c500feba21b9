import { describe, expect, it } from 'vitest'
import { isSloMetric } from '../../reports/slo.ts'
import { sloThresholds } from '../../scenarios/checks.ts'
import { parseScenario, type SloCheck } from '../../scenarios/schema.ts'

const slos = (slo: string, workload = 'producers: { rate: 100/s }\n  consumers: { groups: 1 }'): readonly SloCheck[] =>
  parseScenario(`name: t\ntopics: [ { name: a, partitions: 2 } ]\nworkload:\n  duration: 10s\n  ${workload}\nchecks: { slo: { ${slo} } }\n`, 'test.yaml').checks.slo

describe('scenario SLOs as report thresholds', () => {
  it('converts latencies to µs under the metric and statistic as written', () => {
    expect(sloThresholds(slos('produce.p99: 50ms, e2e.p99.9: 2s, produce.max: 1s, produce.p95: 20ms, e2e.mean: 3ms, sendDelay.p75: 250us, sendDelay.max: 1s'))).toEqual({
      'produce.p99': 50_000,
      'e2e.p99.9': 2_000_000,
      'produce.max': 1_000_000,
      'produce.p95': 20_000,
      'e2e.mean': 3000,
      'sendDelay.p75': 250,
      'sendDelay.max': 1_000_000,
    })
  })

  it('tells record rates from byte rates', () => {
    expect(sloThresholds(slos('throughput: 4500/s'))).toEqual({ throughput: 4500 })
    expect(sloThresholds(slos('throughput: 40MiB/s'))).toEqual({ throughputBytes: 40 * 2 ** 20 })
    expect(sloThresholds(slos('throughput: 600/min'))).toEqual({ throughput: 10 })
    const backlog = 'producers: { rate: 1000/s, messageSize: 1KiB }\n  consumers: { groups: 1 }\n  backlog: { size: 1MiB }'
    expect(sloThresholds(slos('drainRate: 15MiB/s', backlog))).toEqual({ drainRateBytes: 15 * 2 ** 20 })
    expect(sloThresholds(slos('drainRate: 5000/s', backlog))).toEqual({ drainRate: 5000 })
  })

  it('tells an error count from a share of sends', () => {
    expect(sloThresholds(slos('errors: 3'))).toEqual({ errors: 3 })
    expect(sloThresholds(slos('errors: 0.1%'))).toEqual({ errorShare: 0.001 })
    expect(sloThresholds(slos('errors: 0%'))).toEqual({ errorShare: 0 })
    expect(sloThresholds(slos('unavailability: 5s'))).toEqual({ unavailability: 5_000_000 })
  })

  it('maps every SLO the schema accepts onto a metric the reports judge', () => {
    const backlog = 'producers: { rate: 1000/s, messageSize: 1KiB }\n  consumers: { groups: 1 }\n  backlog: { size: 1MiB }'
    const all = slos(
      'produce.p50: 1s, produce.p90: 1s, produce.p99.99: 1s, e2e.p9: 1s, e2e.p99.999: 1s, sendDelay.p50: 1s, sendDelay.mean: 1s, throughput: 1KB/s, errors: 0, unavailability: 1s, drainRate: 1/s',
      backlog,
    )
    const metrics = Object.keys(sloThresholds(all))
    expect(metrics).toHaveLength(all.length)
    for (const m of metrics) expect(isSloMetric(m), m).toBe(true)
  })
})
