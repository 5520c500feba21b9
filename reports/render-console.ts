// The console summary of a run, rendered from a Results object only (so `faultline report` reproduces it).
// Plain text, no colour: it goes to CI logs as often as to terminals.

import { anomalyKinds } from './checker.ts'
import { describeBacklog } from './backlog.ts'
import { anomalyMeaning, describeAvailability, describeExample, describeFault, describeSlo, sloValue } from './describe.ts'
import { formatAt, formatBytes, formatCount, formatRate, formatUs, plural, sparkline } from './format.ts'
import type { LatencySummary } from '../workloads/history/latency.ts'
import { describeClientErrors, describeLiveness } from './liveness.ts'
import type { Results } from './results.ts'
import { describeLoadGenerator } from './saturation.ts'
import type { TimeSeriesData } from './timeseries.ts'
import type { FaultInterval } from './metrics.ts'

/** Right-aligns every column but the first. */
function table(rows: string[][], indent = '  '): string[] {
  const widths: number[] = []
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)))
  return rows.map(
    (r) => indent + r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd(),
  )
}

export function latencyRows(results: Results): [string, LatencySummary][] {
  const m = results.metrics
  return [
    ['produce', m.produce.latency],
    ['produce from intended', m.produce.latencyFromIntended],
    ['send delay', m.sendDelay],
    ['end-to-end', m.e2e],
  ]
}

/** A line under a sparkline marking the cells during which a fault was active. */
export function faultMarks(series: TimeSeriesData, faults: FaultInterval[], width: number): string {
  const n = series.acked.length
  if (n === 0 || faults.length === 0) return ''
  const cells = Math.min(width, n)
  const end = n * series.intervalUs
  let line = ''
  for (let i = 0; i < cells; i++) {
    const from = (Math.floor((i * n) / cells) * series.intervalUs) as number
    const to = Math.max(from + series.intervalUs, Math.floor(((i + 1) * n) / cells) * series.intervalUs)
    const active = faults.some((f) => f.startUs < to && (f.endUs ?? end) > from)
    line += active ? '^' : ' '
  }
  return line.trimEnd()
}

export function renderConsole(results: Results): string {
  const r = results
  const m = r.metrics
  const out: string[] = []
  const verdict = r.verdict.state.toUpperCase()
  out.push(`faultline  ${r.scenario.name}  ${verdict}`)
  out.push(
    `  digest ${r.scenario.digest.slice(0, 12)}  seed ${r.run.seed ?? '-'}  faultline ${r.run.faultlineVersion}  started ${r.run.startedAt}`,
  )
  out.push(`  cluster ${r.run.cluster.backend}: ${r.run.cluster.description}${r.run.cluster.bootstrap ? ` (${r.run.cluster.bootstrap})` : ''}${r.run.driver ? `  driver ${r.run.driver}` : ''}`)
  out.push(
    `  duration ${formatUs(r.run.durationUs)}, measured ${formatAt(m.window.startUs)} .. ${formatAt(m.window.endUs)} (${formatUs(m.window.durationUs)})`,
  )
  out.push('')
  const p = m.produce
  const c = m.consume
  out.push(
    ...table([
      ['produce', `${formatCount(p.sent)} sent`, `${formatCount(p.acked)} acked`, `${formatCount(p.failed)} failed`, formatRate(p.rate), `${formatBytes(p.bytesRate)}/s`],
      ['consume', `${formatCount(c.records)} records`, formatBytes(c.bytes), c.foreign > 0 ? `${formatCount(c.foreign)} foreign` : '', formatRate(c.rate), `${formatBytes(c.bytesRate)}/s`],
    ]),
  )
  const e = m.errors
  const byCode = Object.entries(e.byCode).map(([code, n]) => `${code} ${formatCount(n)}`)
  const split = `${formatCount(e.definite)} definite, ${formatCount(e.indeterminate)} indeterminate`
  const share = e.shareOfSent === null || e.total === 0 ? '' : `, ${sloValue('fraction', e.shareOfSent)} of the window's sends`
  const run = describeClientErrors(r.errors)
  if (run.total > e.total) {
    // Errors outside the window's sends (consumers', retried or late ones) are errors too: never "errors 0".
    out.push(`  errors ${formatCount(run.total)} in the run: ${run.line}`)
    if (e.total > 0) out.push(`    window: ${formatCount(e.total)} failed sends (${split}${share}): ${byCode.join(', ')}`)
  } else {
    out.push(`  errors ${formatCount(e.total)}${e.total > 0 ? ` (${split}${share}): ${byCode.join(', ')}` : ''}`)
  }
  out.push(...describeLoadGenerator(r.loadGenerator))
  const u = m.unavailability
  out.push(`  unavailability ${formatUs(u.longestGapUs)} longest ack gap${u.fromUs !== null ? ` (${formatAt(u.fromUs)} .. ${formatAt(u.toUs)})` : ''}`)
  out.push('')
  out.push('latency')
  out.push(
    ...table([
      ['', 'count', 'mean', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'p99.99', 'max'],
      ...latencyRows(r).map(([name, s]) => [
        name,
        formatCount(s.count),
        ...[s.mean, s.p50, s.p90, s.p95, s.p99, s.p999, s.p9999, s.max].map(formatUs),
      ]),
    ]),
  )
  const clamped = latencyRows(r).filter(([, s]) => s.clampedLow + s.clampedHigh > 0)
  for (const [name, s] of clamped) {
    out.push(`  note: ${name}: ${formatCount(s.clampedLow)} samples below 0 and ${formatCount(s.clampedHigh)} above ${formatUs(s.highestUs)} were clamped`)
  }

  if (r.backlog.length > 0) {
    out.push('')
    out.push('backlog')
    for (const b of r.backlog) out.push(`  ${describeBacklog(b)}`)
  }

  const liveness = r.liveness ? describeLiveness(r.liveness) : []
  if (liveness.length > 0) {
    out.push('')
    out.push('liveness')
    for (const l of liveness) out.push(`  ${l}`)
  }

  if (r.faults.length > 0) {
    out.push('')
    out.push('faults')
    for (const f of r.faults) {
      out.push(`  ${describeFault(f)}`)
      const a = describeAvailability(f)
      if (a !== null) out.push(`    ${a}`)
    }
  }

  out.push('')
  const d = r.delivery
  if (d.state === 'skipped') {
    out.push(`delivery  skipped${d.reason ? `: ${d.reason}` : ''}`)
  } else {
    const s = d.stats
    const counted = `${formatCount(s.values)} values, ${formatCount(s.acks)} acked, ${formatCount(s.consumedValues)} consumed`
    out.push(`delivery  ${d.state.toUpperCase()}  ${counted}, ${plural(s.partitions, 'partition')}, ${plural(s.groups, 'group')}`)
    const rows: string[][] = []
    for (const kind of anomalyKinds) {
      const a = d.anomalies[kind]
      rows.push([
        kind,
        a.checked ? formatCount(a.count) : 'not checked',
        a.limit === null ? 'no limit' : `limit ${a.limit}`,
        a.exceeded ? 'FAIL' : '',
      ])
    }
    out.push(...table(rows))
    for (const kind of anomalyKinds) {
      const a = d.anomalies[kind]
      if (a.count === 0 || a.examples.length === 0) continue
      out.push(`  ${kind}: ${anomalyMeaning[kind]}; first ${a.examples.length} of ${formatCount(a.count)}:`)
      for (const e of a.examples) out.push(`    ${describeExample(kind, e)}`)
    }
    const notes: string[] = []
    if (s.indeterminateLanded > 0) notes.push(`${formatCount(s.indeterminateLanded)} indeterminate failures landed`)
    if (s.unknownValueEvents > 0) notes.push(`${formatCount(s.unknownValueEvents)} events for values never sent`)
    if (s.conflictingOutcomes > 0) notes.push(`${formatCount(s.conflictingOutcomes)} values both acked and definitely failed`)
    if (s.sendOrderViolations > 0) notes.push(`${formatCount(s.sendOrderViolations)} sends out of value-id order`)
    if (notes.length > 0) out.push(`  note: ${notes.join('; ')}`)
  }

  if (r.slos.length > 0) {
    out.push('')
    out.push('SLOs')
    for (const s of r.slos) out.push(`  ${s.state === 'passed' ? 'pass' : s.state === 'failed' ? 'FAIL' : 'ERROR'}  ${describeSlo(s)}`)
  }

  const ts = r.timeseries
  if (ts.acked.length > 1) {
    out.push('')
    const width = 60
    out.push(`acked/s  ${sparkline(ts.acked, width)}  (peak ${formatCount(Math.max(...ts.acked))} per ${formatUs(ts.intervalUs)})`)
    const marks = faultMarks(ts, r.faults, width)
    if (marks) out.push(`faults   ${marks}`)
  }

  out.push('')
  out.push(`verdict  ${verdict}`)
  for (const reason of r.verdict.reasons) out.push(`  - ${reason}`)
  return `${out.join('\n')}\n`
}
