// The statistics behind `faultline compare` and the bench comparison: a Mann-Whitney U test and a bootstrap
// confidence interval of a ratio, both over per-run (or per-repetition) values, as benchstat and criterion do.
// simple-statistics supplies the rank sum, medians, quantiles, resampling and the normal CDF; what it lacks is
// the exact null distribution of U for small samples, counted here.
//
// Every random draw comes from a seeded PRNG, so a comparison is reproducible: the same inputs and seed give the
// same interval.

import { cumulativeStdNormalProbability, median, quantileSorted, sampleWithReplacement, wilcoxonRankSum } from 'simple-statistics'
import { Prng } from '../workloads/generators.ts'

/** Uniform [0, 1) numbers from a seed: the workloads' PRNG (xoshiro128**), as a function for simple-statistics. */
export function seededRandom(seed: number): () => number {
  const prng = new Prng(seed)
  return () => prng.float()
}

export interface MannWhitney {
  /** U of the second sample (y): the number of (x, y) pairs with y > x, ties counting one half. */
  u: number
  /** Two-sided p-value. */
  p: number
  /** Exact (counted) or from the normal approximation with the tie correction. */
  method: 'exact' | 'normal'
}

/** counts[u]: how many orderings of n1 x's and n2 y's have U = u (the null distribution; symmetric, so it serves U of either sample). */
function uDistribution(n1: number, n2: number): Float64Array {
  // f[i][j][u] by the recurrence f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u), kept as rolling rows over j.
  const max = n1 * n2
  let prev: Float64Array[] = []
  for (let i = 0; i <= n1; i++) {
    const row: Float64Array[] = []
    for (let j = 0; j <= n2; j++) {
      const f = new Float64Array(max + 1)
      if (i === 0 || j === 0) f[0] = 1
      else {
        const a = prev[j]!
        const b = row[j - 1]!
        for (let u = 0; u <= i * j; u++) f[u] = (u >= j ? a[u - j]! : 0) + b[u]!
      }
      row.push(f)
    }
    prev = row
  }
  return prev[n2]!
}

const EXACT_LIMIT = 50

/** Two-sided Mann-Whitney U test of x against y (does y tend to be larger or smaller than x?). */
export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitney {
  const n1 = x.length
  const n2 = y.length
  if (n1 === 0 || n2 === 0) throw new Error('mannWhitney: both samples need at least one value')
  const w = wilcoxonRankSum(y, x)
  const u = w - (n2 * (n2 + 1)) / 2
  const pooled = [...x, ...y]
  const ties = new Map<number, number>()
  for (const v of pooled) ties.set(v, (ties.get(v) ?? 0) + 1)
  if (ties.size === 1) return { u, p: 1, method: 'exact' }
  const tied = [...ties.values()].some((c) => c > 1)
  if (!tied && n1 <= EXACT_LIMIT && n2 <= EXACT_LIMIT) {
    const counts = uDistribution(n1, n2)
    let total = 0
    for (const c of counts) total += c
    let below = 0
    let above = 0
    for (let k = 0; k < counts.length; k++) {
      if (k <= u) below += counts[k]!
      if (k >= u) above += counts[k]!
    }
    return { u, p: Math.min(1, (2 * Math.min(below, above)) / total), method: 'exact' }
  }
  const n = n1 + n2
  let tieTerm = 0
  for (const c of ties.values()) tieTerm += c ** 3 - c
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)))
  if (variance <= 0) return { u, p: 1, method: 'normal' }
  // Continuity correction of one half towards the mean.
  const z = (Math.abs(u - (n1 * n2) / 2) - 0.5) / Math.sqrt(variance)
  return { u, p: Math.min(1, 2 * (1 - cumulativeStdNormalProbability(Math.max(0, z)))), method: 'normal' }
}

export interface Interval {
  lo: number
  hi: number
}

/**
 * Percentile bootstrap of the change between statY(y) and statX(x): y / x (`ratio`) or y - x
 * (`difference`), both samples resampled with replacement `resamples` times. Changes that are not finite (a zero
 * denominator) are dropped; null when none is left.
 */
export function bootstrapChange<T>(
  x: readonly T[],
  y: readonly T[],
  statX: (sample: readonly T[]) => number,
  statY: (sample: readonly T[]) => number,
  options: { scale: 'ratio' | 'difference'; resamples?: number; confidence?: number; seed: number },
): Interval | null {
  const resamples = options.resamples ?? 2000
  const confidence = options.confidence ?? 0.95
  const random = seededRandom(options.seed)
  const changes: number[] = []
  for (let i = 0; i < resamples; i++) {
    const sy = statY(sampleWithReplacement([...y], y.length, random))
    const sx = statX(sampleWithReplacement([...x], x.length, random))
    const c = options.scale === 'ratio' ? sy / sx : sy - sx
    if (Number.isFinite(c)) changes.push(c)
  }
  if (changes.length === 0) return null
  changes.sort((a, b) => a - b)
  const tail = (1 - confidence) / 2
  return { lo: quantileSorted(changes, tail), hi: quantileSorted(changes, 1 - tail) }
}

/** The median of per-run values (simple-statistics' median, typed for bootstrapRatio). */
export const medianOf = (xs: readonly number[]): number => median([...xs])

/**
 * Runs' latency histograms as bucket counts over one shared value axis, so the quantile of any multiset of runs
 * (a bootstrap resample, merged) is a weighted sum and a binary search, not a histogram merge.
 */
export class RunHistograms {
  /** Sorted distinct bucket values (each bucket's highest equivalent value, as HdrHistogram reports). */
  readonly values: Float64Array
  /** Per run: cumulative count at each value index. */
  readonly cumulative: Float64Array[]

  constructor(runs: readonly (readonly [value: number, count: number][])[]) {
    const all = new Set<number>()
    for (const r of runs) for (const [v] of r) all.add(v)
    this.values = Float64Array.from([...all].sort((a, b) => a - b))
    const index = new Map<number, number>()
    this.values.forEach((v, i) => index.set(v, i))
    this.cumulative = runs.map((r) => {
      const c = new Float64Array(this.values.length)
      for (const [v, n] of r) c[index.get(v)!]! += n
      for (let i = 1; i < c.length; i++) c[i]! += c[i - 1]!
      return c
    })
  }

  get runs(): number {
    return this.cumulative.length
  }

  /** The q-th percentile (0-100) of the merged samples of `runs` (indices, repeats allowed); NaN when empty. */
  percentile(runs: readonly number[], q: number): number {
    const last = this.values.length - 1
    if (last < 0) return Number.NaN
    let total = 0
    for (const r of runs) total += this.cumulative[r]![last]!
    if (total === 0) return Number.NaN
    // HdrHistogram's rank: the smallest value with at least q% of the samples at or below it.
    const target = Math.max(1, Math.ceil((q / 100) * total))
    let lo = 0
    let hi = last
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      let c = 0
      for (const r of runs) c += this.cumulative[r]![mid]!
      if (c >= target) hi = mid
      else lo = mid + 1
    }
    return this.values[lo]!
  }
}
