// `faultline compare BASELINE CANDIDATE` and `faultline run --baseline`: is the candidate slower than the
// baseline, beyond the noise and beyond a threshold that matters?
//
// Each side is one or more runs (a results.json, or a directory of repeated runs). Per metric:
//   value     throughput and error share: the median over the side's runs; latency percentiles: the percentile
//             of the side's HdrHistograms merged (every sample of every run), never an average of summaries
//   change    candidate / baseline - 1 (error share: candidate - baseline, in shares of sends)
//   interval  95% percentile bootstrap of that change, resampling whole runs on each side (a run is the unit
//             of replication: on a shared machine runs differ far more than samples within a run)
//   p         two-sided Mann-Whitney U over the per-run values (latency: each run's own percentile)
//   verdict   regressed  p < alpha, the interval excludes no change on the worse side, and the change is worse
//                        than the threshold;
//             improved   the same on the better side;
//             unchanged  otherwise, when the interval's worse end is within the threshold (no regression beyond
//                        it is plausible);
//             inconclusive otherwise (too noisy or too few runs to tell), and always with fewer than 2 runs a side.
// alpha is 0.01 by default. A CI job judges about ten metrics on every change, so a false alarm per metric adds
// up over a comparison; on this project's 2-core machine at load 17-23 (bench/regression.ts
// aa, 200 comparisons of 5 against 5 runs drawn from one pool of 20) 0.9% of metric verdicts regressed at 0.05
// and none at 0.01. With Mann-Whitney's exact distribution, 5 runs a side reach p < 0.01 only when every
// candidate run is worse than every baseline run (p = 2/252 = 0.008), which runs that are alike do by chance in
// 1 of 252 comparisons per metric (0.4%), before the threshold and the bootstrap interval are asked. So
// `--repeat 5` is the minimum for a regressed verdict (4 a side: the smallest p is 0.029); `--alpha 0.05` trades
// false alarms for power.
// Thresholds are the scenario's `checks.regression` (stored in results.json), over defaultRegressionThresholds.
// Runs whose own verdict is errored are left out (their figures describe a failed harness, not the build).
// The comparison also lists every difference in the runs' environments, which the CLI prints loudly.

import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { decodeFromCompressedBase64 } from 'hdr-histogram-js'
import type { LatencySummary } from '../workloads/history/latency.ts'
import { formatRate, formatUs } from './format.ts'
import { type Environment, readResults, type Results, ResultsError } from './results.ts'
import { bootstrapChange, type Interval, mannWhitney, medianOf, RunHistograms } from './stats.ts'

export const regressionMetrics = [
  'throughput',
  'produce.p50',
  'produce.p99',
  'produce.p99.9',
  'e2e.p50',
  'e2e.p99',
  'e2e.p99.9',
  'sendDelay.p99',
  'errors',
  'unavailability',
] as const
export type RegressionMetric = (typeof regressionMetrics)[number]

/** A worse change larger than this fraction (errors: share of sends) is a regression, when it is significant. */
export type RegressionThresholds = Partial<Record<RegressionMetric, number>>

export const defaultRegressionThresholds: Readonly<Record<RegressionMetric, number>> = {
  throughput: 0.05,
  'produce.p50': 0.1,
  'produce.p99': 0.1,
  'produce.p99.9': 0.2,
  'e2e.p50': 0.1,
  'e2e.p99': 0.1,
  'e2e.p99.9': 0.2,
  'sendDelay.p99': 0.25,
  errors: 0.001,
  unavailability: 0.25,
}

export const compareDefaults = { alpha: 0.01, confidence: 0.95, resamples: 2000, seed: 1 } as const

export type MetricVerdict = 'improved' | 'unchanged' | 'regressed' | 'inconclusive'

export interface SideFigure {
  /** Runs that had a figure for this metric. */
  runs: number
  /** Median over runs, or the percentile of the merged histograms; null when no run had one. */
  value: number | null
  /** Each run's own figure. */
  perRun: number[]
}

export interface MetricComparison {
  metric: RegressionMetric
  unit: 'records/s' | 'us' | 'fraction'
  higherIsBetter: boolean
  /** ratio: change = candidate / baseline - 1; difference: change = candidate - baseline. */
  scale: 'ratio' | 'difference'
  baseline: SideFigure
  candidate: SideFigure
  change: number | null
  /** Bootstrap interval of the change, same scale. */
  interval: Interval | null
  /** Mann-Whitney U two-sided p over the per-run figures. */
  p: number | null
  threshold: number
  verdict: MetricVerdict
  /** Why this verdict, in words. */
  reason: string
}

export interface EnvironmentDifference {
  field: keyof Environment
  baseline: string
  candidate: string
}

export interface ComparisonSide {
  /** What was given: a results.json or a directory of repeats. */
  source: string
  scenario: string
  /** Runs used. */
  runs: number
  /** Runs left out, with why. */
  excluded: string[]
  /** Each run's own check verdict (delivery and SLOs), in order. */
  verdicts: ('passed' | 'failed' | 'errored')[]
}

export interface Comparison {
  schemaVersion: 1
  baseline: ComparisonSide
  candidate: ComparisonSide
  settings: { alpha: number; confidence: number; resamples: number; seed: number }
  metrics: MetricComparison[]
  /** Environment fields that differ between the two sides (or within one): a reason to distrust the verdict. */
  environment: EnvironmentDifference[]
  /** regressed when any metric regressed (exit 1). */
  verdict: 'regressed' | 'passed'
  counts: Record<MetricVerdict, number>
}

export interface RunSet {
  source: string
  runs: Results[]
  excluded: string[]
  verdicts: ('passed' | 'failed' | 'errored')[]
}

/** Reads one side: a results.json, a run directory (its results.json), or a directory of repeat-N runs. */
export function loadRunSet(path: string): RunSet {
  let files: string[]
  if (!existsSync(path)) throw new ResultsError(`${path}: no such file or directory; expected a results.json or a directory of repeated runs`)
  if (statSync(path).isDirectory()) {
    const repeats = readdirSync(path)
      .map((n) => /^repeat-(\d+)$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((m) => join(path, m[0], 'results.json'))
      .filter((f) => existsSync(f))
    if (repeats.length > 0) files = repeats
    else if (existsSync(join(path, 'results.json'))) files = [join(path, 'results.json')]
    else throw new ResultsError(`${path}: neither a results.json nor repeat-N/results.json inside; expected a run directory or the output of \`faultline run --repeat N\``)
  } else {
    files = [path]
  }
  const all = files.map((f) => readResults(f))
  const runs: Results[] = []
  const excluded: string[] = []
  all.forEach((r, i) => {
    if (r.verdict.state === 'errored') excluded.push(`${files[i]}: errored (${r.verdict.reasons[0] ?? 'the harness failed'})`)
    else runs.push(r)
  })
  return { source: path, runs, excluded, verdicts: all.map((r) => r.verdict.state) }
}

interface MetricDef {
  metric: RegressionMetric
  unit: MetricComparison['unit']
  higherIsBetter: boolean
  scale: MetricComparison['scale']
  /** A scalar per run, or null when the run has none. */
  scalar?: (r: Results) => number | null
  /** A latency series and the percentile. */
  latency?: { series: (r: Results) => LatencySummary; q: number }
  /** Compared only when this holds for some run (unavailability: when a side had faults). */
  when?: (r: Results) => boolean
}

const metricDefs: readonly MetricDef[] = [
  { metric: 'throughput', unit: 'records/s', higherIsBetter: true, scale: 'ratio', scalar: (r) => (r.metrics.produce.sent > 0 ? r.metrics.produce.rate : null) },
  { metric: 'produce.p50', unit: 'us', higherIsBetter: false, scale: 'ratio', latency: { series: (r) => r.metrics.produce.latency, q: 50 } },
  { metric: 'produce.p99', unit: 'us', higherIsBetter: false, scale: 'ratio', latency: { series: (r) => r.metrics.produce.latency, q: 99 } },
  { metric: 'produce.p99.9', unit: 'us', higherIsBetter: false, scale: 'ratio', latency: { series: (r) => r.metrics.produce.latency, q: 99.9 } },
  { metric: 'e2e.p50', unit: 'us', higherIsBetter: false, scale: 'ratio', latency: { series: (r) => r.metrics.e2e, q: 50 } },
  { metric: 'e2e.p99', unit: 'us', higherIsBetter: false, scale: 'ratio', latency: { series: (r) => r.metrics.e2e, q: 99 } },
  { metric: 'e2e.p99.9', unit: 'us', higherIsBetter: false, scale: 'ratio', latency: { series: (r) => r.metrics.e2e, q: 99.9 } },
  { metric: 'sendDelay.p99', unit: 'us', higherIsBetter: false, scale: 'ratio', latency: { series: (r) => r.metrics.sendDelay, q: 99 } },
  { metric: 'errors', unit: 'fraction', higherIsBetter: false, scale: 'difference', scalar: (r) => r.metrics.errors.shareOfSent },
  {
    metric: 'unavailability',
    unit: 'us',
    higherIsBetter: false,
    scale: 'ratio',
    scalar: (r) => r.metrics.unavailability.longestGapUs,
    when: (r) => r.faults.length > 0,
  },
]

/** A run's histogram as (bucket value, count) pairs. */
function buckets(s: LatencySummary): [number, number][] {
  if (s.count === 0 || !s.histogram) return []
  const h = decodeFromCompressedBase64(s.histogram, 64, false) as unknown as {
    recordedValuesIterator: { reset(): void; hasNext(): boolean; next(): { valueIteratedTo: number; countAtValueIteratedTo: number } }
  }
  const it = h.recordedValuesIterator
  it.reset()
  const out: [number, number][] = []
  while (it.hasNext()) {
    const v = it.next()
    out.push([v.valueIteratedTo, v.countAtValueIteratedTo])
  }
  return out
}

interface SideData {
  figure: SideFigure
  /** What the bootstrap resamples: run values, or run indices into `hist`. */
  units: number[]
  statistic: (sample: readonly number[]) => number
}

function sideData(def: MetricDef, runs: readonly Results[]): SideData {
  if (def.scalar) {
    const perRun = runs.map(def.scalar).filter((v): v is number => v !== null && Number.isFinite(v))
    return { figure: { runs: perRun.length, value: perRun.length > 0 ? medianOf(perRun) : null, perRun }, units: perRun, statistic: medianOf }
  }
  const { series, q } = def.latency!
  const withData = runs.map(series).filter((s) => s.count > 0)
  const hist = new RunHistograms(withData.map(buckets))
  const indices = withData.map((_, i) => i)
  const perRun = indices.map((i) => hist.percentile([i], q))
  const statistic = (sample: readonly number[]): number => hist.percentile(sample, q)
  return { figure: { runs: perRun.length, value: perRun.length > 0 ? statistic(indices) : null, perRun }, units: indices, statistic }
}

function judge(
  def: MetricDef,
  base: SideData,
  cand: SideData,
  threshold: number,
  settings: Comparison['settings'],
  seedOffset: number,
): Pick<MetricComparison, 'change' | 'interval' | 'p' | 'verdict' | 'reason'> {
  const b = base.figure
  const c = cand.figure
  if (b.value === null || c.value === null) {
    return { change: null, interval: null, p: null, verdict: 'inconclusive', reason: `no figure on the ${b.value === null ? 'baseline' : 'candidate'} side` }
  }
  const change = def.scale === 'ratio' ? (b.value === 0 ? (c.value === 0 ? 0 : Number.POSITIVE_INFINITY) : c.value / b.value - 1) : c.value - b.value
  if (b.runs < 2 || c.runs < 2) {
    return { change, interval: null, p: null, verdict: 'inconclusive', reason: `${Math.min(b.runs, c.runs)} run on a side: no estimate of the noise (use --repeat 5)` }
  }
  const boot = bootstrapChange(base.units, cand.units, base.statistic, cand.statistic, {
    scale: def.scale,
    resamples: settings.resamples,
    confidence: settings.confidence,
    seed: (settings.seed + seedOffset) >>> 0,
  })
  const interval = boot === null ? null : def.scale === 'ratio' ? { lo: boot.lo - 1, hi: boot.hi - 1 } : boot
  const { p } = mannWhitney(b.perRun, c.perRun)
  // harm: the change signed so that positive is worse.
  const sign = def.higherIsBetter ? -1 : 1
  const harm = sign * change
  const worstHarm = interval === null ? Number.POSITIVE_INFINITY : Math.max(sign * interval.lo, sign * interval.hi)
  const bestHarm = interval === null ? Number.NEGATIVE_INFINITY : Math.min(sign * interval.lo, sign * interval.hi)
  const pct = (x: number): string => (def.scale === 'ratio' ? `${(x * 100).toFixed(1)}%` : `${(x * 100).toFixed(3)} points`)
  const significant = p < settings.alpha
  if (significant && bestHarm > 0 && harm > threshold) {
    return { change, interval, p, verdict: 'regressed', reason: `worse by ${pct(harm)} (threshold ${pct(threshold)}), p = ${p.toFixed(3)}` }
  }
  if (significant && worstHarm < 0 && -harm > threshold) {
    return { change, interval, p, verdict: 'improved', reason: `better by ${pct(-harm)} (threshold ${pct(threshold)}), p = ${p.toFixed(3)}` }
  }
  if (worstHarm <= threshold) {
    return { change, interval, p, verdict: 'unchanged', reason: `at worst ${pct(Math.max(0, worstHarm))} worse, within the threshold ${pct(threshold)}` }
  }
  const why = significant ? `the change is within the threshold ${pct(threshold)} but the interval reaches ${pct(worstHarm)} worse` : `not significant (p = ${p.toFixed(3)}; the smallest p ${b.runs} against ${c.runs} runs can reach is ${minP(b.runs, c.runs).toFixed(3)}) and the interval reaches ${pct(worstHarm)} worse`
  return { change, interval, p, verdict: 'inconclusive', reason: why }
}

/** The smallest two-sided exact Mann-Whitney p for these sample sizes: 2 / C(n1 + n2, n1). */
function minP(n1: number, n2: number): number {
  let c = 1
  for (let i = 1; i <= n1; i++) c = (c * (n2 + i)) / i
  return Math.min(1, 2 / c)
}

/** The environment of a run: the stored one, or what older results.json files kept in run.host. */
export function environmentOf(r: Results): Environment {
  if (r.environment) return r.environment
  const h = r.run.host
  return {
    cpuModel: h.cpuModel,
    cores: h.cpus,
    memoryBytes: h.memoryBytes,
    node: h.node,
    kernel: null,
    platform: `${h.platform}/${h.arch}`,
    faultlineCommit: null,
    scenarioDigest: r.scenario.digest,
    brokerConfigDigest: null,
  }
}

const environmentFields: readonly (keyof Environment)[] = ['cpuModel', 'cores', 'memoryBytes', 'node', 'kernel', 'platform', 'faultlineCommit', 'scenarioDigest', 'brokerConfigDigest']

function environmentDifferences(base: readonly Results[], cand: readonly Results[]): EnvironmentDifference[] {
  const out: EnvironmentDifference[] = []
  const show = (v: unknown): string => (v === null || v === undefined ? 'unknown' : String(v))
  for (const field of environmentFields) {
    const b = new Set(base.map((r) => environmentOf(r)[field]).filter((v) => v !== null).map(show))
    const c = new Set(cand.map((r) => environmentOf(r)[field]).filter((v) => v !== null).map(show))
    if (b.size === 0 || c.size === 0) continue
    const same = b.size === 1 && c.size === 1 && [...b][0] === [...c][0]
    if (!same) out.push({ field, baseline: [...b].join(' | '), candidate: [...c].join(' | ') })
  }
  return out
}

export interface CompareOptions {
  /** Over the defaults; default: the candidate's stored thresholds (its scenario's checks.regression). */
  thresholds?: RegressionThresholds
  alpha?: number
  confidence?: number
  resamples?: number
  seed?: number
}

/** Compares two run sets; the runs must be non-empty on both sides. */
export function compareRunSets(baseline: RunSet, candidate: RunSet, options: CompareOptions = {}): Comparison {
  const settings = {
    alpha: options.alpha ?? compareDefaults.alpha,
    confidence: options.confidence ?? compareDefaults.confidence,
    resamples: options.resamples ?? compareDefaults.resamples,
    seed: options.seed ?? compareDefaults.seed,
  }
  const stored = candidate.runs[0]?.regression ?? {}
  const thresholds = { ...defaultRegressionThresholds, ...stored, ...options.thresholds }
  const metrics: MetricComparison[] = []
  metricDefs.forEach((def, i) => {
    if (def.when && !baseline.runs.some(def.when) && !candidate.runs.some(def.when)) return
    const base = sideData(def, baseline.runs)
    const cand = sideData(def, candidate.runs)
    if (base.figure.runs === 0 && cand.figure.runs === 0) return
    const threshold = thresholds[def.metric]
    metrics.push({
      metric: def.metric,
      unit: def.unit,
      higherIsBetter: def.higherIsBetter,
      scale: def.scale,
      baseline: base.figure,
      candidate: cand.figure,
      threshold,
      ...judge(def, base, cand, threshold, settings, i * 7919),
    })
  })
  const counts: Record<MetricVerdict, number> = { improved: 0, unchanged: 0, regressed: 0, inconclusive: 0 }
  for (const m of metrics) counts[m.verdict]++
  const side = (s: RunSet): ComparisonSide => ({
    source: s.source,
    scenario: s.runs[0]?.scenario.name ?? '-',
    runs: s.runs.length,
    excluded: s.excluded,
    verdicts: s.verdicts,
  })
  return {
    schemaVersion: 1,
    baseline: side(baseline),
    candidate: side(candidate),
    settings,
    metrics,
    environment: environmentDifferences(baseline.runs, candidate.runs),
    verdict: counts.regressed > 0 ? 'regressed' : 'passed',
    counts,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Rendering (console and markdown share the cells)

function formatValue(m: MetricComparison, v: number | null): string {
  if (v === null) return '-'
  if (m.unit === 'records/s') return formatRate(v)
  if (m.unit === 'fraction') return `${(v * 100).toFixed(3)}%`
  return formatUs(v)
}

function formatChange(m: MetricComparison, v: number | null): string {
  if (v === null) return '-'
  if (!Number.isFinite(v)) return v > 0 ? '+inf' : '-inf'
  const s = m.scale === 'ratio' ? `${(v * 100).toFixed(1)}%` : `${(v * 100).toFixed(3)}pt`
  return v > 0 ? `+${s}` : s
}

/** The cells of one metric's row: metric, baseline, candidate, change, interval, p, threshold, verdict. */
export function comparisonRow(m: MetricComparison): string[] {
  return [
    m.metric,
    `${formatValue(m, m.baseline.value)} (${m.baseline.runs})`,
    `${formatValue(m, m.candidate.value)} (${m.candidate.runs})`,
    formatChange(m, m.change),
    m.interval === null ? '-' : `[${formatChange(m, m.interval.lo)}, ${formatChange(m, m.interval.hi)}]`,
    m.p === null ? '-' : m.p.toFixed(3),
    formatChange(m, m.higherIsBetter ? -m.threshold : m.threshold),
    m.verdict === 'regressed' ? 'REGRESSED' : m.verdict,
  ]
}

export const comparisonHeader = ['metric', 'baseline (runs)', 'candidate (runs)', 'change', '95% interval', 'p', 'threshold', 'verdict']

function describeSide(s: ComparisonSide): string {
  const failed = s.verdicts.filter((v) => v !== 'passed').length
  return `${s.source}: ${s.scenario}, ${s.runs} run${s.runs === 1 ? '' : 's'}${s.excluded.length > 0 ? ` (${s.excluded.length} errored, left out)` : ''}${failed > 0 ? `, ${failed} with failed checks` : ''}`
}

/** Environment differences as warning lines (empty when the two sides ran alike). */
export function environmentWarnings(c: Comparison): string[] {
  return c.environment.map((d) => `WARNING: ${d.field} differs: baseline ${d.baseline}, candidate ${d.candidate}`)
}

export function renderComparisonConsole(c: Comparison): string {
  const out: string[] = []
  out.push(`baseline   ${describeSide(c.baseline)}`)
  out.push(`candidate  ${describeSide(c.candidate)}`)
  for (const w of environmentWarnings(c)) out.push(`!! ${w}`)
  if (c.environment.length > 0) out.push('!! the runs did not run alike: differences may come from the environment, not the build')
  const rows = [comparisonHeader, ...c.metrics.map(comparisonRow)]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows) out.push(`  ${r.map((cell, i) => (i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`.trimEnd())
  for (const m of c.metrics) if (m.verdict === 'regressed' || m.verdict === 'inconclusive') out.push(`  ${m.metric}: ${m.reason}`)
  const n = c.counts
  out.push(`comparison: ${c.verdict.toUpperCase()}: ${n.regressed} regressed, ${n.improved} improved, ${n.unchanged} unchanged, ${n.inconclusive} inconclusive (Mann-Whitney p < ${c.settings.alpha} and beyond the threshold; ${Math.round(c.settings.confidence * 100)}% bootstrap intervals over runs)`)
  return `${out.join('\n')}\n`
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|')

export function renderComparisonMarkdown(c: Comparison): string {
  const out: string[] = []
  out.push(`**Comparison: ${c.verdict.toUpperCase()}** (${c.counts.regressed} regressed, ${c.counts.improved} improved, ${c.counts.unchanged} unchanged, ${c.counts.inconclusive} inconclusive)`)
  out.push('')
  out.push(`- baseline: ${mdCell(describeSide(c.baseline))}`)
  out.push(`- candidate: ${mdCell(describeSide(c.candidate))}`)
  for (const w of environmentWarnings(c)) out.push(`- **${mdCell(w)}**`)
  out.push('')
  out.push(`| ${comparisonHeader.join(' | ')} |`)
  out.push(`| ${comparisonHeader.map((_, i) => (i === 0 || i === comparisonHeader.length - 1 ? '---' : '---:')).join(' | ')} |`)
  for (const m of c.metrics) {
    const cells = comparisonRow(m)
    cells[cells.length - 1] = m.verdict === 'regressed' ? '**REGRESSED**' : m.verdict
    out.push(`| ${cells.map(mdCell).join(' | ')} |`)
  }
  out.push('')
  out.push(`Regressed: Mann-Whitney U p < ${c.settings.alpha} over per-run figures, the ${Math.round(c.settings.confidence * 100)}% bootstrap interval (runs resampled; latency from the merged HdrHistograms) on the worse side, and a change beyond the threshold.`)
  return `${out.join('\n')}\n`
}

/** Exit code of a comparison: 1 on a regression. */
export function comparisonExitCode(c: Comparison): 0 | 1 {
  return c.verdict === 'regressed' ? 1 : 0
}
