import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LatencyHistogram, mergeSummaries, percentiles } from '../../../workloads/history/latency.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`histogram.test.ts: FC_SEED=${seed}`)

/** Nearest-rank percentile of sorted samples, the definition HdrHistogram follows. */
function exactPercentile(sorted: number[], q: number): number {
  const rank = Math.max(1, Math.ceil((Math.round(q * 100) * sorted.length) / 10_000))
  return sorted[rank - 1] as number
}

// Latency-like samples: small, mid, huge and repeated values, in µs.
const samplesArb = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 2047 }),
    fc.integer({ min: 2048, max: 5_000_000 }),
    fc.integer({ min: 5_000_000, max: 24 * 3600 * 1_000_000 }),
    fc.constantFrom(1000, 1001, 1024),
  ),
  { minLength: 1, maxLength: 3000 },
)

describe('LatencyHistogram', () => {
  it('agrees with an exact sort within its precision (3 digits: 1/1024 relative) (property)', () => {
    fc.assert(
      fc.property(samplesArb, (samples) => {
        const h = new LatencyHistogram()
        for (const s of samples) h.record(s)
        const sorted = [...samples].sort((a, b) => a - b)
        for (const q of [...Object.values(percentiles), 0.1, 25, 75]) {
          const exact = exactPercentile(sorted, q)
          const got = h.percentile(q) as number
          // The histogram reports the top of the exact value's bucket, never below it.
          expect(got).toBeGreaterThanOrEqual(exact)
          expect(got - exact).toBeLessThanOrEqual(exact / 1024)
        }
        expect(h.max).toBe(sorted[sorted.length - 1])
        expect(h.min).toBe(sorted[0])
        expect(h.percentile(100)).toBe(sorted[sorted.length - 1])
        expect(h.count).toBe(samples.length)
        expect(h.mean).toBeCloseTo(samples.reduce((a, b) => a + b, 0) / samples.length, 6)
      }),
      { seed, numRuns: 200 },
    )
  })

  it('agrees with the exact sort at 4 digits too, within 1/8192 (property)', () => {
    fc.assert(
      fc.property(samplesArb, (samples) => {
        const h = new LatencyHistogram({ digits: 4, highestUs: 3600 * 1_000_000 })
        for (const s of samples) h.record(Math.min(s, 3600 * 1_000_000))
        const sorted = samples.map((s) => Math.min(s, 3600 * 1_000_000)).sort((a, b) => a - b)
        for (const q of Object.values(percentiles)) {
          const exact = exactPercentile(sorted, q)
          const got = h.percentile(q) as number
          expect(got).toBeGreaterThanOrEqual(exact)
          expect(got - exact).toBeLessThanOrEqual(exact / 8192)
        }
      }),
      { seed, numRuns: 50 },
    )
  })

  it('clamps out-of-range samples and counts them, never throws', () => {
    const h = new LatencyHistogram({ highestUs: 10_000 })
    h.record(-5)
    h.record(50_000)
    h.record(Number.NaN)
    h.record(500)
    const s = h.summary()
    expect(s).toMatchObject({ count: 3, clampedLow: 1, clampedHigh: 1, rejected: 1, min: 0, max: 50_000 })
    // A percentile among clamped samples reads as the top of the range (the summary says how many).
    expect(h.percentile(99)).toBeGreaterThanOrEqual(10_000)
    expect(h.percentile(99)).toBeLessThan(10_100)
    expect(h.percentile(100)).toBe(50_000)
    expect(h.percentile(50)).toBe(500)
  })

  it('summarizes an empty histogram with nulls', () => {
    expect(new LatencyHistogram().summary()).toMatchObject({ count: 0, min: null, max: null, mean: null, p50: null, p99: null })
  })

  it('encodes to base64 and decodes to the same percentiles (property)', () => {
    fc.assert(
      fc.property(samplesArb, (samples) => {
        const h = new LatencyHistogram()
        for (const s of samples) h.record(s)
        const summary = h.summary()
        expect(summary.histogram).toMatch(/^[A-Za-z0-9+/]+=*$/)
        const back = LatencyHistogram.fromSummary(JSON.parse(JSON.stringify(summary)))
        expect(back.summary()).toEqual(summary)
      }),
      { seed, numRuns: 50 },
    )
  })

  it('merges like one histogram of all the samples (property)', () => {
    fc.assert(
      fc.property(samplesArb, samplesArb, (a, b) => {
        const ha = new LatencyHistogram()
        const hb = new LatencyHistogram()
        const all = new LatencyHistogram()
        for (const s of a) (ha.record(s), all.record(s))
        for (const s of b) (hb.record(s), all.record(s))
        const merged = mergeSummaries(ha.summary(), hb.summary())
        const want = all.summary()
        expect({ ...merged, histogram: '', mean: null }).toEqual({ ...want, histogram: '', mean: null })
        expect(merged.mean).toBeCloseTo(want.mean as number, 3)
      }),
      { seed, numRuns: 50 },
    )
  })

  it('refuses to merge a wider histogram whose values do not fit', () => {
    const narrow = new LatencyHistogram({ highestUs: 1000 })
    const wide = new LatencyHistogram()
    wide.record(10_000_000)
    expect(() => narrow.merge(wide)).toThrow(/merge into the wider one/)
  })

  it('resets to empty', () => {
    const h = new LatencyHistogram()
    h.record(10)
    h.reset()
    h.record(20)
    expect(h.summary()).toMatchObject({ count: 1, min: 20, max: 20, p50: 20 })
  })
})
