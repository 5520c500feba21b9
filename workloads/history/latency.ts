// Latency histograms: a thin wrapper over hdr-histogram-js in microseconds. It sits beside the history format
// because both sides record latencies: the producer and consumer loops live, and reports/ from the history.
//
// Out-of-range values never throw (OMB users lost whole runs to ArrayIndexOutOfBounds): negatives become 0
// and values above the range become its top, each counted, so a report can say how many were clamped.
// Exact count, min, max and sum are kept beside the histogram, because HdrHistogram reports the top of a
// value's bucket (a max of 1,000,000 reads back as 1,000,447); percentiles are clamped into [min, max].
// Recording goes to a pending counts array laid out like HdrHistogram's (same buckets), folded into the
// hdr-histogram-js histogram before any read: its own recordValue costs ~250 ns (Math.pow per call), this
// costs ~10 ns, which matters at tens of millions of samples per run.
// The raw histogram travels in results.json as HdrHistogram's compressed base64, so `faultline compare` can
// merge runs and other HdrHistogram tools can read it.

import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js'

/** 24 hours: end-to-end latency of a stalled consumer can be long. */
export const defaultHighestUs = 24 * 3600 * 1_000_000
export const defaultDigits = 3

export const percentiles = { p50: 50, p90: 90, p95: 95, p99: 99, p999: 99.9, p9999: 99.99 } as const
export type PercentileKey = keyof typeof percentiles

export interface HistogramOptions {
  /** Highest trackable value in µs. Default 24 h. */
  highestUs?: number
  /** Significant decimal digits, 3 to 5. Default 3 (relative error <= 0.1%). */
  digits?: 3 | 4 | 5
}

export interface LatencySummary {
  unit: 'us'
  count: number
  /** null when count is 0. */
  min: number | null
  mean: number | null
  max: number | null
  p50: number | null
  p90: number | null
  p95: number | null
  p99: number | null
  p999: number | null
  p9999: number | null
  /** Samples below 0 recorded as 0. */
  clampedLow: number
  /** Samples above highestUs recorded as highestUs. */
  clampedHigh: number
  /** Samples that were not numbers (NaN), not recorded. */
  rejected: number
  highestUs: number
  digits: number
  /** HdrHistogram V2 compressed encoding, base64. */
  histogram: string
}

export class LatencyHistogram {
  readonly highestUs: number
  readonly digits: 3 | 4 | 5
  readonly #h: Histogram
  #count = 0
  #min = Infinity
  #max = -Infinity
  #sum = 0
  #clampedLow = 0
  #clampedHigh = 0
  #rejected = 0
  readonly #halfMag: number
  readonly #halfCount: number
  readonly #pending: Float64Array
  #pendingLo = Infinity
  #pendingHi = -1

  constructor(options: HistogramOptions = {}, from?: Histogram) {
    this.highestUs = Math.max(2, Math.floor(options.highestUs ?? defaultHighestUs))
    this.digits = options.digits ?? defaultDigits
    // HdrHistogram's layout for lowestDiscernibleValue 1: sub-buckets of 2^ceil(log2(2*10^digits)) values.
    this.#halfMag = Math.ceil(Math.log2(2 * 10 ** this.digits)) - 1
    this.#halfCount = 2 ** this.#halfMag
    this.#pending = new Float64Array(this.#index(this.highestUs) + 1)
    this.#h =
      from ??
      build({
        bitBucketSize: 64,
        autoResize: false,
        lowestDiscernibleValue: 1,
        highestTrackableValue: this.highestUs,
        numberOfSignificantValueDigits: this.digits,
      })
  }

  get count(): number {
    return this.#count
  }

  get min(): number | null {
    return this.#count === 0 ? null : this.#min
  }

  get max(): number | null {
    return this.#count === 0 ? null : this.#max
  }

  get mean(): number | null {
    return this.#count === 0 ? null : this.#sum / this.#count
  }

  record(us: number): void {
    let v = Math.round(us)
    if (!(v >= 0)) {
      if (!(v < 0)) {
        this.#rejected++
        return
      }
      this.#clampedLow++
      v = 0
    }
    this.#count++
    this.#sum += v
    if (v < this.#min) this.#min = v
    if (v > this.#max) this.#max = v
    if (v > this.highestUs) {
      this.#clampedHigh++
      v = this.highestUs
    }
    const i = this.#index(v)
    this.#pending[i] = (this.#pending[i] as number) + 1
    if (i < this.#pendingLo) this.#pendingLo = i
    if (i > this.#pendingHi) this.#pendingHi = i
  }

  /** HdrHistogram's counts index of an integer value in [0, highestUs]. */
  #index(v: number): number {
    const lg = v < 4294967296 ? 31 - Math.clz32(v) : 63 - Math.clz32(Math.floor(v / 4294967296))
    const b = lg > this.#halfMag ? lg - this.#halfMag : 0
    const s = b === 0 ? v : v < 4294967296 ? v >>> b : Math.floor(v / 2 ** b)
    return b * this.#halfCount + s
  }

  /** Folds pending counts into the hdr histogram, each at the lowest value of its bucket. */
  #flush(): void {
    const pending = this.#pending
    const hc = this.#halfCount
    for (let i = this.#pendingLo; i <= this.#pendingHi; i++) {
      const c = pending[i] as number
      if (c === 0) continue
      const b = Math.max(0, Math.floor(i / hc) - 1)
      this.#h.recordValueWithCount((i - b * hc) * 2 ** b, c)
      pending[i] = 0
    }
    this.#pendingLo = Infinity
    this.#pendingHi = -1
  }

  /** Value at a percentile (0-100), within the histogram's precision; null when empty. */
  percentile(q: number): number | null {
    if (this.#count === 0) return null
    if (q >= 100) return this.#max
    this.#flush()
    const v = this.#h.getValueAtPercentile(q)
    return Math.min(this.#max, Math.max(this.#min, v))
  }

  reset(): void {
    if (this.#pendingHi >= 0) this.#pending.fill(0, this.#pendingLo, this.#pendingHi + 1)
    this.#pendingLo = Infinity
    this.#pendingHi = -1
    this.#h.reset()
    this.#count = 0
    this.#min = Infinity
    this.#max = -Infinity
    this.#sum = 0
    this.#clampedLow = 0
    this.#clampedHigh = 0
    this.#rejected = 0
  }

  /** Adds another histogram's samples; its values must fit this histogram's range. */
  merge(other: LatencyHistogram): void {
    if (other.#count === 0) return
    this.#flush()
    other.#flush()
    try {
      this.#h.add(other.#h)
    } catch (err) {
      throw new Error(
        `LatencyHistogram.merge: a histogram of up to ${other.highestUs} µs does not fit one of ${this.highestUs} µs; merge into the wider one`,
        { cause: err },
      )
    }
    this.#count += other.#count
    this.#sum += other.#sum
    if (other.#min < this.#min) this.#min = other.#min
    if (other.#max > this.#max) this.#max = other.#max
    this.#clampedLow += other.#clampedLow
    this.#clampedHigh += other.#clampedHigh
    this.#rejected += other.#rejected
  }

  encode(): string {
    this.#flush()
    return encodeIntoCompressedBase64(this.#h)
  }

  summary(): LatencySummary {
    return {
      unit: 'us',
      count: this.#count,
      min: this.min,
      mean: this.mean,
      max: this.max,
      p50: this.percentile(percentiles.p50),
      p90: this.percentile(percentiles.p90),
      p95: this.percentile(percentiles.p95),
      p99: this.percentile(percentiles.p99),
      p999: this.percentile(percentiles.p999),
      p9999: this.percentile(percentiles.p9999),
      clampedLow: this.#clampedLow,
      clampedHigh: this.#clampedHigh,
      rejected: this.#rejected,
      highestUs: this.highestUs,
      digits: this.digits,
      histogram: this.encode(),
    }
  }

  /** Rebuilds a histogram from a summary in results.json (for merging and comparing runs). */
  static fromSummary(s: LatencySummary): LatencyHistogram {
    const digits = s.digits === 4 || s.digits === 5 ? s.digits : 3
    const decoded = decodeFromCompressedBase64(s.histogram, 64, false)
    const h = new LatencyHistogram({ highestUs: s.highestUs, digits }, decoded)
    h.#count = s.count
    h.#sum = (s.mean ?? 0) * s.count
    h.#min = s.min ?? Infinity
    h.#max = s.max ?? -Infinity
    h.#clampedLow = s.clampedLow
    h.#clampedHigh = s.clampedHigh
    h.#rejected = s.rejected
    return h
  }
}

/** Merges two summaries (e.g. runs of one scenario) into one, percentiles recomputed from the histograms. */
export function mergeSummaries(a: LatencySummary, b: LatencySummary): LatencySummary {
  const wide = a.highestUs >= b.highestUs ? a : b
  const h = LatencyHistogram.fromSummary(wide)
  h.merge(LatencyHistogram.fromSummary(wide === a ? b : a))
  return h.summary()
}
