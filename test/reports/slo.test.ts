import { describe, expect, it } from 'vitest'
import { LatencyHistogram } from '../../workloads/history/latency.ts'
import type { Metrics } from '../../reports/metrics.ts'
import { checkSlo, checkSlos, isSloMetric, sloMetricNames } from '../../reports/slo.ts'

function metrics(): Metrics {
  const produce = new LatencyHistogram()
  for (let i = 1; i <= 1000; i++) produce.record(i * 100)
  const empty = new LatencyHistogram().summary()
  return {
    window: { startUs: 0, endUs: 10_000_000, durationUs: 10_000_000, warmupEndUs: null, measureEndUs: null },
    produce: { sent: 1000, acked: 1000, failed: 3, sentBytes: 0, ackedBytes: 0, rate: 100, bytesRate: 0, latency: produce.summary(), latencyFromIntended: empty },
    sendDelay: empty,
    consume: { records: 0, bytes: 0, rate: 0, bytesRate: 0, foreign: 0 },
    e2e: empty,
    errors: { total: 3, definite: 3, indeterminate: 0, byCode: { X: 3 } },
    unavailability: { longestGapUs: 2_000_000, fromUs: 1, toUs: 2_000_001 },
    totals: { events: 0, sent: 0, acked: 0, failed: 0, consumed: 0, firstEventUs: null, lastEventUs: null },
  }
}

describe('SLO checks', () => {
  it('passes latency at or below the threshold and fails above it', () => {
    const m = metrics()
    const p99 = m.produce.latency.p99 as number
    expect(checkSlo('produce.p99', p99, m)).toMatchObject({ state: 'passed', actual: p99, comparison: '<=', unit: 'us' })
    expect(checkSlo('produce.p99', p99 - 1, m)).toMatchObject({ state: 'failed' })
    expect(checkSlo('produce.max', 100_000, m)).toMatchObject({ state: 'passed', actual: 100_000 })
    expect(checkSlo('produce.p99.9', 1, m)).toMatchObject({ state: 'failed', actual: m.produce.latency.p999 })
  })

  it('passes throughput at or above the threshold', () => {
    expect(checkSlo('throughput', 100, metrics())).toMatchObject({ state: 'passed', comparison: '>=', unit: 'records/s' })
    expect(checkSlo('throughput', 100.1, metrics())).toMatchObject({ state: 'failed', actual: 100 })
  })

  it('checks errors and unavailability', () => {
    expect(checkSlo('errors', 3, metrics()).state).toBe('passed')
    expect(checkSlo('errors', 2, metrics()).state).toBe('failed')
    expect(checkSlo('unavailability', 1_999_999, metrics())).toMatchObject({ state: 'failed', actual: 2_000_000 })
  })

  it('errors a latency SLO without samples instead of passing it', () => {
    expect(checkSlo('e2e.p99', 1_000_000, metrics())).toMatchObject({ state: 'errored', actual: null, reason: expect.stringMatching(/no e2e latency samples/) })
  })

  it('checks every threshold given, in a stable order', () => {
    const results = checkSlos({ throughput: 1, 'sendDelay.p50': 5, 'produce.p50': 1e9 }, metrics())
    expect(results.map((r) => r.metric)).toEqual(['produce.p50', 'sendDelay.p50', 'throughput'])
  })

  it('knows its metric names', () => {
    expect(isSloMetric('e2e.p99.99')).toBe(true)
    expect(isSloMetric('produce.p95')).toBe(false)
    expect(isSloMetric('latency')).toBe(false)
    expect(sloMetricNames()).toHaveLength(3 * 6 + 3)
    for (const name of sloMetricNames()) expect(isSloMetric(name)).toBe(true)
  })
})
