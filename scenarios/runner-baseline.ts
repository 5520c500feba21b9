// `faultline run --baseline RESULTS.json`: this run's throughput and p99s beside an earlier run's, as ratios
// (this / baseline). A first look only; `faultline compare` will judge regressions with their noise.

import { formatRate, formatUs } from '../reports/format.ts'
import type { Results } from '../reports/results.ts'

interface Row {
  readonly label: string
  readonly now: number | null
  readonly before: number | null
  readonly format: (v: number | null) => string
  /** Whether a higher value is better (throughput) or worse (latency). */
  readonly higherIsBetter: boolean
}

function rows(now: Results, before: Results): Row[] {
  const rate = (v: number | null): string => (v === null ? '-' : formatRate(v))
  const m = now.metrics
  const b = before.metrics
  return [
    { label: 'throughput (acked)', now: m.produce.rate, before: b.produce.rate, format: rate, higherIsBetter: true },
    { label: 'consume rate', now: m.consume.rate, before: b.consume.rate, format: rate, higherIsBetter: true },
    { label: 'produce p99', now: m.produce.latency.p99, before: b.produce.latency.p99, format: formatUs, higherIsBetter: false },
    { label: 'produce from intended p99', now: m.produce.latencyFromIntended.p99, before: b.produce.latencyFromIntended.p99, format: formatUs, higherIsBetter: false },
    { label: 'send delay p99', now: m.sendDelay.p99, before: b.sendDelay.p99, format: formatUs, higherIsBetter: false },
    { label: 'end-to-end p99', now: m.e2e.p99, before: b.e2e.p99, format: formatUs, higherIsBetter: false },
  ]
}

/** Ratio this / baseline, or null when either side has no figure (or the baseline's is 0). */
export function ratio(now: number | null, before: number | null): number | null {
  if (now === null || before === null || before === 0) return null
  return now / before
}

/** The comparison as console lines. */
export function formatBaselineComparison(now: Results, before: Results, baselinePath: string): string {
  const out: string[] = []
  out.push(`baseline  ${baselinePath}: ${before.scenario.name}, started ${before.run.startedAt}, seed ${before.run.seed ?? '-'}, ${before.verdict.state}`)
  if (before.scenario.digest !== now.scenario.digest) {
    out.push(`  note: the baseline ran a different scenario (digest ${before.scenario.digest.slice(0, 12)}, this run ${now.scenario.digest.slice(0, 12)}); ratios compare unlike runs`)
  }
  const table = rows(now, before).map((r) => {
    const x = ratio(r.now, r.before)
    const better = x === null || x === 1 ? '' : (x > 1) === r.higherIsBetter ? 'better' : 'worse'
    return [r.label, r.format(r.now), `baseline ${r.format(r.before)}`, x === null ? '-' : `x${x.toFixed(2)}`, better]
  })
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)))
  for (const r of table) out.push(`  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd())
  return `${out.join('\n')}\n`
}
