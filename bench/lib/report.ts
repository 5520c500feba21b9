// What a section returns and how a run is printed, stored and compared.
//
// Every figure is a rate beside a ceiling (or baseline) measured in the same run, and the ratio between the two
// is what gets compared across runs: on a shared, noisy 2-core machine the absolute MB/s of two runs differ by
// more than most real regressions, while a same-run ratio cancels whatever slowed both sides down.

import { cpus } from 'node:os'
import { bootstrapChange, mannWhitney, medianOf } from '../../reports/stats.ts'

const cpuCount = cpus().length

export interface Figure {
  /** Stable id, the key of the comparison with earlier results: 'kcat.1KiB'. */
  key: string
  label: string
  unit: string
  value: number
  ceiling: { label: string; value: number }
  /** value / ceiling.value */
  ratio: number
  /** Smallest acceptable ratio (largest, when lowerIsBetter), when the issue sets one. */
  goal?: number
  /** An absolute goal the issue sets (10M events in 60 s), judged by the section. */
  target?: { label: string; met: boolean }
  /** The value is a cost (memory, time): a smaller ratio is the better one. */
  lowerIsBetter?: boolean
  recordsPerSec?: number
  ceilingRecordsPerSec?: number
  /** Relative spread of the per-repetition ratios ((max - min) / 2 / median): this run's own noise. */
  spread?: number
  /** The per-repetition ratios themselves, which the comparison with an earlier result tests (compare below). */
  samples?: number[]
  detail?: Record<string, unknown>
}

export interface SectionOutput {
  figures: Figure[]
  notes: string[]
}

export interface SectionResult extends SectionOutput {
  section: string
  startedAt: string
  seconds: number
  /** 1-minute load average before and after: how busy the shared machine was. */
  loadavg: [number, number]
  quick: boolean
}

export interface BenchContext {
  readonly quick: boolean
  /** Repetitions of each macro pairing (interleaved, medians reported). */
  readonly reps: number
  /** When set, brokers run with --cpu-prof and write their profiles here. */
  readonly profileDir: string | null
  log(msg: string): void
}

export interface Section {
  readonly name: string
  readonly summary: string
  run(ctx: BenchContext): Promise<SectionOutput>
}

export interface ResultFile {
  schema: 1
  date: string
  createdAt: string
  quick: boolean
  machine: Record<string, unknown>
  sections: Record<string, SectionResult>
  comparison?: Comparison
}

export interface Comparison {
  baseline: string
  /**
   * change: relative change of the ratio, signed so that positive is better; threshold: the smallest change that
   * counts, as a fraction. method statistics: both results kept per-repetition ratios, judged as `faultline compare`
   * judges runs (Mann-Whitney p, bootstrap interval of the median ratio, threshold); floor: the older rule for
   * baselines without them (a change beyond the section's floor or the runs' summed spreads).
   */
  rows: {
    key: string
    before: number
    after: number
    change: number
    threshold: number
    verdict: 'regressed' | 'improved' | 'same'
    method?: 'statistics' | 'floor'
    p?: number
    interval?: { lo: number; hi: number }
  }[]
}

export function ratioFigure(f: Omit<Figure, 'ratio'>): Figure {
  return { ...f, ratio: f.value / f.ceiling.value }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** A figure's per-repetition ratios: their spread, and the ratios themselves for the comparison. */
export function repetitions(ratios: readonly number[]): { spread: number; samples: number[] } {
  return { spread: relativeSpread(ratios), samples: ratios.filter((x) => Number.isFinite(x)) }
}

/** (max - min) / 2 / median: half the relative range of a few repetitions. */
export function relativeSpread(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x))
  if (s.length < 2) return 0
  return (Math.max(...s) - Math.min(...s)) / 2 / median(s)
}

const fmt = (x: number | undefined, digits = 3): string => {
  if (x === undefined || !Number.isFinite(x)) return '-'
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  return x.toPrecision(digits)
}

const pct = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(1)}%`)

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n')
}

function goalText(f: Figure): string {
  if (f.goal !== undefined) {
    const met = f.lowerIsBetter ? f.ratio <= f.goal : f.ratio >= f.goal
    return `${f.lowerIsBetter ? '<=' : '>='}${pct(f.goal)} ${met ? 'met' : 'MISSED'}`
  }
  return f.target ? `${f.target.label} ${f.target.met ? 'met' : 'MISSED'}` : ''
}

export function formatSection(s: SectionResult): string {
  const rows = [['figure', 'value', 'unit', 'ceiling / baseline', 'value', 'ratio', '±', 'goal', 'records/s', 'ceiling rec/s']]
  for (const f of s.figures) {
    rows.push([
      f.label,
      fmt(f.value),
      f.unit,
      f.ceiling.label,
      fmt(f.ceiling.value),
      pct(f.ratio),
      f.spread === undefined ? '-' : pct(f.spread),
      goalText(f),
      fmt(f.recordsPerSec),
      fmt(f.ceilingRecordsPerSec),
    ])
  }
  const busy = Math.max(...s.loadavg) > cpuCount ? `; BUSY MACHINE: load above ${cpuCount} cores, absolute rates are unreliable, ratios less so` : ''
  const head = `== ${s.section} (${s.seconds.toFixed(0)} s, load ${s.loadavg[0].toFixed(2)} -> ${s.loadavg[1].toFixed(2)}${s.quick ? ', quick' : ''}${busy})`
  return [head, table(rows), ...s.notes.map((n) => `  note: ${n}`)].join('\n')
}

/**
 * Regression threshold of one figure: the larger of the section's floor and the noise both runs saw in their
 * own repetitions (a change smaller than the runs' spread is not evidence of anything).
 */
export function thresholdFor(key: string, spreadNow = 0, spreadBefore = 0): number {
  const floor = key.startsWith('micro.') ? MICRO_FLOOR : MACRO_FLOOR
  return Math.max(floor, spreadNow + spreadBefore)
}

// Floors from back-to-back runs on the 2-core dev machine (bench/README.md): micro ratios (3 alternating rounds)
// moved by at most 6% between runs; macro ratios by 1-21% at load 1-5, and the 21% one (kcat 100 B) exceeded its
// runs' summed spreads (17%), so the macro floor sits above it.
export const MACRO_FLOOR = 0.25
export const MICRO_FLOOR = 0.15

/** With per-repetition ratios on both sides: the smallest change of a ratio that counts as a regression. */
export const STAT_THRESHOLD = 0.05
export const STAT_ALPHA = 0.05

/** The statistical verdict of one figure from both results' per-repetition ratios (reports/stats.ts). */
export function judgeSamples(before: readonly number[], after: readonly number[], lowerIsBetter: boolean, seed = 1): Pick<Comparison['rows'][number], 'change' | 'verdict' | 'p' | 'interval' | 'threshold'> {
  const sign = lowerIsBetter ? -1 : 1
  const change = sign * (medianOf(after) / medianOf(before) - 1)
  const boot = bootstrapChange(before, after, medianOf, medianOf, { scale: 'ratio', seed })
  const { p } = mannWhitney(before, after)
  const interval = boot === null ? undefined : sign > 0 ? { lo: boot.lo - 1, hi: boot.hi - 1 } : { lo: -(boot.hi - 1), hi: -(boot.lo - 1) }
  const significant = p < STAT_ALPHA && interval !== undefined
  const verdict = significant && interval.hi < 0 && change < -STAT_THRESHOLD ? 'regressed' : significant && interval.lo > 0 && change > STAT_THRESHOLD ? 'improved' : 'same'
  return { change, verdict, p, interval, threshold: STAT_THRESHOLD }
}

export function compare(baselineName: string, before: ResultFile, after: ResultFile): Comparison {
  const old = new Map<string, Figure>()
  for (const s of Object.values(before.sections)) for (const f of s.figures) old.set(f.key, f)
  const rows: Comparison['rows'] = []
  for (const s of Object.values(after.sections)) {
    for (const f of s.figures) {
      const b = old.get(f.key)
      if (!b || !Number.isFinite(b.ratio) || b.ratio === 0) continue
      if ((b.samples?.length ?? 0) >= 2 && (f.samples?.length ?? 0) >= 2) {
        rows.push({ key: f.key, before: b.ratio, after: f.ratio, method: 'statistics', ...judgeSamples(b.samples!, f.samples!, f.lowerIsBetter === true) })
        continue
      }
      const change = f.lowerIsBetter ? b.ratio / f.ratio - 1 : f.ratio / b.ratio - 1
      const threshold = thresholdFor(f.key, f.spread, b.spread)
      const verdict = change < -threshold ? 'regressed' : change > threshold ? 'improved' : 'same'
      rows.push({ key: f.key, before: b.ratio, after: f.ratio, change, threshold, verdict, method: 'floor' })
    }
  }
  return { baseline: baselineName, rows }
}

export function formatComparison(c: Comparison): string {
  if (c.rows.length === 0) return `== comparison with ${c.baseline}: no figure in common`
  const rows = [['figure', 'ratio before', 'ratio now', 'change', '95% interval', 'p', 'threshold', 'method', 'verdict']]
  for (const r of c.rows) {
    rows.push([
      r.key,
      pct(r.before),
      pct(r.after),
      pct(r.change),
      r.interval ? `[${pct(r.interval.lo)}, ${pct(r.interval.hi)}]` : '-',
      r.p === undefined ? '-' : r.p.toFixed(3),
      pct(r.threshold),
      r.method ?? 'floor',
      r.verdict === 'regressed' ? 'REGRESSED' : r.verdict,
    ])
  }
  return `== comparison with ${c.baseline} (ratios; statistics: Mann-Whitney p < ${STAT_ALPHA}, bootstrap interval of the median ratio and a change beyond ${pct(STAT_THRESHOLD)}; floor: older baselines without per-repetition ratios)\n${table(rows)}`
}
