import { describe, expect, it } from 'vitest'
import type { BacklogOutcome } from '../../reports/backlog.ts'
import { LatencyHistogram } from '../../workloads/history/latency.ts'
import type { Metrics } from '../../reports/metrics.ts'
import { checkSlo, checkSlos, isSloMetric, latencyStatistic, type SloInputs, sloMetricNames } from '../../reports/slo.ts'

function metrics(): Metrics {
  const produce = new LatencyHistogram()
  for (let i = 1; i <= 1000; i++) produce.record(i * 100)
  const sendDelay = new LatencyHistogram()
  for (let i = 0; i < 100; i++) sendDelay.record(i < 90 ? 10 : 5000)
  const empty = new LatencyHistogram().summary()
  return {
    window: { startUs: 0, endUs: 10_000_000, durationUs: 10_000_000, warmupEndUs: null, measureEndUs: null },
    produce: { sent: 1000, acked: 1000, failed: 3, sentBytes: 0, ackedBytes: 0, rate: 100, bytesRate: 40 * 2 ** 20, latency: produce.summary(), latencyFromIntended: empty },
    sendDelay: sendDelay.summary(),
    consume: { records: 0, bytes: 0, rate: 0, bytesRate: 0, foreign: 0 },
    e2e: empty,
    errors: { total: 3, definite: 3, indeterminate: 0, byCode: { X: 3 }, shareOfSent: 0.003 },
    unavailability: { longestGapUs: 2_000_000, fromUs: 1, toUs: 2_000_001 },
    totals: { events: 0, sent: 0, acked: 0, failed: 0, consumed: 0, firstEventUs: null, lastEventUs: null },
  }
}

const inputs = (backlog?: BacklogOutcome[]): SloInputs => ({ metrics: metrics(), backlog })

const drained = (consumers: string, bytesPerSecond: number, recordsPerSecond: number): BacklogOutcome => ({
  consumers,
  targetBytes: 1 << 20,
  state: 'drained',
  buildUs: 1_000_000,
  drainUs: 500_000,
  peakBytes: 1 << 20,
  drainedBytes: bytesPerSecond / 2,
  drainedRecords: recordsPerSecond / 2,
  readBytesPerSecond: bytesPerSecond,
  readRecordsPerSecond: recordsPerSecond,
  netDrainBytesPerSecond: bytesPerSecond / 2,
})

describe('SLO checks', () => {
  it('passes latency at or below the threshold and fails above it', () => {
    const m = metrics()
    const p99 = m.produce.latency.p99 as number
    expect(checkSlo('produce.p99', p99, inputs())).toMatchObject({ state: 'passed', actual: p99, comparison: '<=', unit: 'us' })
    expect(checkSlo('produce.p99', p99 - 1, inputs())).toMatchObject({ state: 'failed' })
    expect(checkSlo('produce.max', 100_000, inputs())).toMatchObject({ state: 'passed', actual: 100_000 })
    expect(checkSlo('produce.p99.9', 1, inputs())).toMatchObject({ state: 'failed', actual: m.produce.latency.p999 })
  })

  it('judges p95 and mean from the summary', () => {
    const m = metrics()
    expect(m.produce.latency.p95).toBeGreaterThanOrEqual(95_000)
    expect(m.produce.latency.p95).toBeLessThan(95_100)
    expect(checkSlo('produce.p95', 95_100, inputs())).toMatchObject({ state: 'passed', actual: m.produce.latency.p95 })
    expect(checkSlo('produce.p95', 94_999, inputs())).toMatchObject({ state: 'failed' })
    // Mean of 100..100000 µs in steps of 100 is exact, not bucketed.
    expect(checkSlo('produce.mean', 50_050, inputs())).toMatchObject({ state: 'passed', actual: 50_050 })
    expect(checkSlo('produce.mean', 50_049, inputs())).toMatchObject({ state: 'failed', actual: 50_050 })
  })

  it('judges any other percentile from the histogram', () => {
    const p75 = checkSlo('produce.p75', 1e9, inputs())
    expect(p75.actual).toBeGreaterThanOrEqual(75_000)
    expect(p75.actual).toBeLessThan(75_100)
    expect(checkSlo('produce.p99.5', 99_400, inputs())).toMatchObject({ state: 'failed' })
    expect(checkSlo('produce.p100', 1, inputs())).toMatchObject({ actual: 100_000 })
    // A summary without its own p95 (results.json version 1) reads it from the histogram: the same figure.
    const s = metrics().produce.latency
    expect(latencyStatistic({ ...s, p95: null }, 'p95')).toBe(s.p95)
  })

  it('judges send delay, the load generator falling behind its schedule', () => {
    expect(checkSlo('sendDelay.p50', 10, inputs())).toMatchObject({ state: 'passed', actual: 10 })
    expect(checkSlo('sendDelay.p95', 1000, inputs())).toMatchObject({ state: 'failed', actual: 5000 })
    expect(checkSlo('sendDelay.mean', 509, inputs())).toMatchObject({ state: 'passed', actual: 509 })
  })

  it('passes throughput at or above the threshold, in records or payload bytes', () => {
    expect(checkSlo('throughput', 100, inputs())).toMatchObject({ state: 'passed', comparison: '>=', unit: 'records/s' })
    expect(checkSlo('throughput', 100.1, inputs())).toMatchObject({ state: 'failed', actual: 100 })
    expect(checkSlo('throughputBytes', 40 * 2 ** 20, inputs())).toMatchObject({ state: 'passed', comparison: '>=', unit: 'bytes/s' })
    expect(checkSlo('throughputBytes', 40 * 2 ** 20 + 1, inputs())).toMatchObject({ state: 'failed', actual: 40 * 2 ** 20 })
  })

  it('checks errors as a count and as a share of the sends', () => {
    expect(checkSlo('errors', 3, inputs()).state).toBe('passed')
    expect(checkSlo('errors', 2, inputs()).state).toBe('failed')
    expect(checkSlo('errorShare', 0.003, inputs())).toMatchObject({ state: 'passed', comparison: '<=', unit: 'fraction', actual: 0.003 })
    expect(checkSlo('errorShare', 0.001, inputs())).toMatchObject({ state: 'failed', actual: 0.003 })
    const none = metrics()
    none.errors.shareOfSent = null
    expect(checkSlo('errorShare', 0.001, { metrics: none })).toMatchObject({ state: 'errored', actual: null, reason: 'no sends in the measurement window' })
  })

  it('checks unavailability', () => {
    expect(checkSlo('unavailability', 1_999_999, inputs())).toMatchObject({ state: 'failed', actual: 2_000_000 })
  })

  it('judges the drain rate by the slowest consumer set, in records or bytes', () => {
    const two = [drained('fast', 30 << 20, 30_000), drained('slow', 12 << 20, 12_000)]
    expect(checkSlo('drainRateBytes', 12 << 20, inputs(two))).toMatchObject({ state: 'passed', comparison: '>=', unit: 'bytes/s', actual: 12 << 20 })
    expect(checkSlo('drainRateBytes', 15 << 20, inputs(two))).toMatchObject({ state: 'failed', actual: 12 << 20 })
    expect(checkSlo('drainRate', 12_000, inputs(two))).toMatchObject({ state: 'passed', unit: 'records/s', actual: 12_000 })
    expect(checkSlo('drainRate', 12_001, inputs(two))).toMatchObject({ state: 'failed' })
  })

  it('errors a drain rate that was never measured', () => {
    const timedOut: BacklogOutcome = { consumers: 'c', targetBytes: 256 << 20, state: 'timed-out', phase: 'build', pendingBytes: 100 << 20, elapsedUs: 120_000_000 }
    expect(checkSlo('drainRateBytes', 1, inputs([drained('a', 1e9, 1e6), timedOut]))).toMatchObject({
      state: 'errored',
      reason: 'c: backlog of 256.0 MiB timed out building after 2.0 min with 100.0 MiB unconsumed',
    })
    expect(checkSlo('drainRate', 1, inputs([{ consumers: 'c', targetBytes: 1 << 20, state: 'unfinished' }]))).toMatchObject({
      state: 'errored',
      reason: expect.stringMatching(/had not drained when the run ended/),
    })
    expect(checkSlo('drainRate', 1, inputs())).toMatchObject({ state: 'errored', reason: expect.stringMatching(/no backlog outcome/) })
  })

  it('errors a latency SLO without samples instead of passing it', () => {
    expect(checkSlo('e2e.p99', 1_000_000, inputs())).toMatchObject({ state: 'errored', actual: null, reason: expect.stringMatching(/no e2e latency samples/) })
    expect(checkSlo('e2e.mean', 1_000_000, inputs())).toMatchObject({ state: 'errored' })
  })

  it('checks every threshold given, in a stable order', () => {
    const results = checkSlos(
      { errorShare: 1, throughput: 1, 'sendDelay.p50': 5, 'produce.mean': 1e9, 'produce.p50': 1e9, 'produce.max': 1e9, 'produce.p95': 1e9, 'produce.p9': 1e9, drainRate: 1 },
      inputs([drained('a', 1, 1)]),
    )
    expect(results.map((r) => r.metric)).toEqual(['produce.p9', 'produce.p50', 'produce.p95', 'produce.max', 'produce.mean', 'sendDelay.p50', 'throughput', 'errorShare', 'drainRate'])
    expect(() => checkSlos({ 'produce.p0': 1 } as never, inputs())).toThrow(/"produce\.p0" is not an SLO metric/)
  })

  it('knows its metric names', () => {
    for (const name of ['e2e.p99.99', 'produce.p95', 'produce.p75', 'sendDelay.mean', 'produce.p100', 'throughputBytes', 'errorShare', 'drainRateBytes']) {
      expect(isSloMetric(name), name).toBe(true)
    }
    for (const name of ['latency', 'produce.p0', 'produce.p101', 'produce.median', 'consume.p99', 'throughput.bytes']) expect(isSloMetric(name), name).toBe(false)
    expect(sloMetricNames()).toHaveLength(3 * 8 + 8)
    for (const name of sloMetricNames()) expect(isSloMetric(name)).toBe(true)
  })
})
