// results.md, rendered from a Results object only: for PR comments, CI summaries and archives.

import { anomalyKinds } from './checker.ts'
import { describeClientErrors, describeLiveness } from './liveness.ts'
import { describeBacklog } from './backlog.ts'
import { anomalyMeaning, describeExample, describeSlo, sloValue } from './describe.ts'
import { formatAt, formatBytes, formatCount, formatRate, formatUs, plural, sparkline } from './format.ts'
import { faultMarks, latencyRows } from './render-console.ts'
import { renderComparisonMarkdown } from './compare.ts'
import type { Results } from './results.ts'

/** Escapes what would break a table cell or start markup. */
const cell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ')

function mdTable(header: string[], rows: string[][], align?: ('l' | 'r')[]): string[] {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'))
  return [`| ${header.map(cell).join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)]
}

/** At most `max` rows of the time series, each covering an equal run of intervals. */
function seriesRows(r: Results, max: number): string[][] {
  const ts = r.timeseries
  const n = ts.acked.length
  const rows: string[][] = []
  const k = Math.max(1, Math.ceil(n / max))
  const sum = (a: number[], from: number, to: number): number => {
    let s = 0
    for (let i = from; i < to; i++) s += a[i] ?? 0
    return s
  }
  const worst = (a: (number | null)[], from: number, to: number): number | null => {
    let w: number | null = null
    for (let i = from; i < to; i++) {
      const v = a[i] ?? null
      if (v !== null && (w === null || v > w)) w = v
    }
    return w
  }
  for (let from = 0; from < n; from += k) {
    const to = Math.min(n, from + k)
    const seconds = ((to - from) * ts.intervalUs) / 1_000_000
    const startUs = from * ts.intervalUs
    const endUs = to * ts.intervalUs
    const faults = r.faults.filter((f) => f.startUs < endUs && (f.endUs ?? Infinity) > startUs).map((f) => f.name)
    rows.push([
      formatAt(startUs),
      formatRate(sum(ts.sent, from, to) / seconds),
      formatRate(sum(ts.acked, from, to) / seconds),
      formatRate(sum(ts.failed, from, to) / seconds),
      formatRate(sum(ts.consumed, from, to) / seconds),
      formatUs(worst(ts.produceP99, from, to)),
      formatUs(worst(ts.e2eP99, from, to)),
      [...new Set(faults)].join(', '),
    ])
  }
  return rows
}

export function renderMarkdown(results: Results): string {
  const r = results
  const m = r.metrics
  const out: string[] = []
  out.push(`# faultline: ${r.scenario.name}`)
  out.push('')
  out.push(`**Verdict: ${r.verdict.state.toUpperCase()}**`)
  for (const reason of r.verdict.reasons) out.push(`- ${reason}`)
  out.push('')
  out.push(
    ...mdTable(
      ['Run', ''],
      [
        ['scenario', `${r.scenario.name} (digest \`${r.scenario.digest.slice(0, 12)}\`)`],
        ['started', r.run.startedAt],
        ['seed', String(r.run.seed ?? '-')],
        ['faultline', r.run.faultlineVersion],
        ['cluster', `${r.run.cluster.backend}: ${r.run.cluster.description}${r.run.cluster.bootstrap ? ` (${r.run.cluster.bootstrap})` : ''}`],
        ['nodes', r.run.cluster.nodes.map((n) => `${n.id}${n.address ? ` ${n.address}` : ''}${n.version ? ` (${n.version})` : ''}`).join(', ') || '-'],
        ['host', `${r.run.host.hostname}, ${r.run.host.platform}/${r.run.host.arch}, ${r.run.host.cpus} CPUs, ${formatBytes(r.run.host.memoryBytes)}, Node ${r.run.host.node}`],
        ['duration', formatUs(r.run.durationUs)],
        ['measured', `${formatAt(m.window.startUs)} .. ${formatAt(m.window.endUs)} (${formatUs(m.window.durationUs)})`],
        ['history', `${r.history.path}: ${formatCount(r.history.events)} events, ${formatBytes(r.history.bytes)}${r.history.complete ? '' : ', INCOMPLETE'}`],
      ],
      ['l', 'l'],
    ),
  )
  out.push('')
  out.push('## Throughput')
  out.push('')
  out.push(
    ...mdTable(
      ['', 'records', 'rate', 'bytes', 'bytes/s'],
      [
        ['sent', formatCount(m.produce.sent), '', formatBytes(m.produce.sentBytes), ''],
        ['acked', formatCount(m.produce.acked), formatRate(m.produce.rate), formatBytes(m.produce.ackedBytes), `${formatBytes(m.produce.bytesRate)}/s`],
        ['failed', formatCount(m.produce.failed), '', '', ''],
        ['consumed', formatCount(m.consume.records), formatRate(m.consume.rate), formatBytes(m.consume.bytes), `${formatBytes(m.consume.bytesRate)}/s`],
      ],
    ),
  )
  out.push('')
  const u = m.unavailability
  out.push(`Longest time without an ack while producing: **${formatUs(u.longestGapUs)}**${u.fromUs !== null ? ` (${formatAt(u.fromUs)} .. ${formatAt(u.toUs)})` : ''}.`)
  out.push('')
  out.push('## Latency')
  out.push('')
  out.push(
    ...mdTable(
      ['', 'count', 'mean', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'p99.99', 'max', 'clamped'],
      latencyRows(r).map(([name, s]) => [
        name,
        formatCount(s.count),
        formatUs(s.mean),
        formatUs(s.p50),
        formatUs(s.p90),
        formatUs(s.p95),
        formatUs(s.p99),
        formatUs(s.p999),
        formatUs(s.p9999),
        formatUs(s.max),
        formatCount(s.clampedLow + s.clampedHigh),
      ]),
    ),
  )
  out.push('')
  out.push('produce = ack - send; from intended = ack - scheduled send (corrected for coordinated omission); send delay = send - scheduled send; end-to-end = receive - scheduled send.')

  if (m.errors.total > 0) {
    out.push('')
    out.push('## Errors')
    out.push('')
    const share = m.errors.shareOfSent === null ? '' : ` (${sloValue('fraction', m.errors.shareOfSent)} of the window's sends)`
    out.push(`${formatCount(m.errors.total)} failed sends${share}: ${formatCount(m.errors.definite)} definite, ${formatCount(m.errors.indeterminate)} indeterminate.`)
    out.push('')
    out.push(...mdTable(['code', 'count'], Object.entries(m.errors.byCode).map(([c, n]) => [c, formatCount(n)])))
  }

  const run = describeClientErrors(r.errors)
  if (run.total > m.errors.total) {
    out.push('')
    out.push('## Client errors')
    out.push('')
    out.push(`${formatCount(run.total)} errors over the whole run, by role and code (consumers' errors and failed sends, whenever they happened).`)
    out.push('')
    out.push(...mdTable(['role', 'code', 'count'], Object.entries(r.errors ?? {}).flatMap(([role, byCode]: [string, Record<string, number>]) => Object.entries(byCode).map(([c, n]) => [role, c, formatCount(n)]))))
  }
  const liveness = r.liveness ? describeLiveness(r.liveness) : []
  if (liveness.length > 0) {
    out.push('')
    out.push('## Liveness')
    out.push('')
    for (const l of liveness) out.push(`- ${l}`)
  }

  if (r.backlog.length > 0) {
    out.push('')
    out.push('## Backlog')
    out.push('')
    for (const b of r.backlog) out.push(`- ${describeBacklog(b)}`)
  }

  if (r.faults.length > 0) {
    out.push('')
    out.push('## Faults')
    out.push('')
    out.push(
      ...mdTable(
        ['fault', 'target', 'start', 'end', 'acks', 'longest ack gap'],
        r.faults.map((f) => [f.name, f.target, formatAt(f.startUs), f.endUs === null ? 'never ended' : formatAt(f.endUs), formatCount(f.acks), formatUs(f.longestAckGapUs)]),
        ['l', 'l', 'r', 'r', 'r', 'r'],
      ),
    )
    const measured = r.faults.filter((f) => f.availability !== null)
    if (measured.length > 0) {
      out.push('')
      out.push('### Availability')
      out.push('')
      out.push(
        ...mdTable(
          ['fault', 'kind', 'nodes', 'produce gap', 'consume gap', 'errors', 'first ack after heal', 'recovery'],
          measured.map((f) => {
            const a = f.availability!
            const errors = Object.entries(a.errorsByCode)
            return [
              f.name,
              f.kind ?? '',
              f.nodes.join(', '),
              formatUs(a.produceGapUs),
              a.consumeGapUs === null ? '-' : formatUs(a.consumeGapUs),
              errors.length === 0 ? '0' : errors.map(([code, n]) => `${code} ${formatCount(n)}`).join(', '),
              a.firstAckAfterHealUs === null ? 'none' : formatUs(a.firstAckAfterHealUs),
              a.recoveryUs !== null ? formatUs(a.recoveryUs) : a.baselineRate === null ? 'no baseline' : 'not recovered',
            ]
          }),
          ['l', 'l', 'l', 'r', 'r', 'l', 'r', 'r'],
        ),
      )
    }
  }

  out.push('')
  out.push('## Delivery')
  out.push('')
  const d = r.delivery
  if (d.state === 'skipped') {
    out.push(`Skipped${d.reason ? `: ${d.reason}` : ''}.`)
  } else {
    const s = d.stats
    const failures = `${formatCount(s.failsDefinite)} definite and ${formatCount(s.failsIndeterminate)} indeterminate failures`
    const reads = `${formatCount(s.consumedValues)} values consumed in ${formatCount(s.recvs)} reads`
    const where = `${plural(s.partitions, 'partition')} by ${plural(s.groups, 'group')} (${plural(s.members, 'member')})`
    out.push(
      `**${d.state.toUpperCase()}**: ${formatCount(s.values)} values sent, ${formatCount(s.acks)} acks, ${failures} (${formatCount(s.indeterminateLanded)} landed), ${reads} over ${where}.`,
    )
    out.push('')
    out.push(
      ...mdTable(
        ['anomaly', 'count', 'limit', 'status', 'meaning'],
        anomalyKinds.map((k) => {
          const a = d.anomalies[k]
          return [
            k,
            a.checked ? formatCount(a.count) : 'not checked',
            a.limit === null ? 'none' : String(a.limit),
            a.exceeded ? '**FAIL**' : a.checked ? 'ok' : '-',
            anomalyMeaning[k],
          ]
        }),
        ['l', 'r', 'r', 'l', 'l'],
      ),
    )
    for (const kind of anomalyKinds) {
      const a = d.anomalies[kind]
      if (a.examples.length === 0) continue
      out.push('')
      out.push(`### ${kind}: first ${a.examples.length} of ${formatCount(a.count)}`)
      out.push('')
      for (const e of a.examples) out.push(`- ${describeExample(kind, e)}`)
    }
  }

  if (r.comparison) {
    out.push('')
    out.push('## Comparison with the baseline')
    out.push('')
    out.push(renderComparisonMarkdown(r.comparison).trimEnd())
  }

  if (r.slos.length > 0) {
    out.push('')
    out.push('## SLOs')
    out.push('')
    out.push(...mdTable(['status', 'check'], r.slos.map((s) => [s.state === 'passed' ? 'pass' : s.state === 'failed' ? '**FAIL**' : '**ERROR**', describeSlo(s)]), ['l', 'l']))
  }

  const ts = r.timeseries
  if (ts.acked.length > 0) {
    out.push('')
    out.push('## Over time')
    out.push('')
    out.push('```')
    out.push(`acked/s   ${sparkline(ts.acked, 72)}`)
    out.push(`consumed  ${sparkline(ts.consumed, 72)}`)
    const marks = faultMarks(ts, r.faults, 72)
    if (marks) out.push(`faults    ${marks}`)
    out.push('```')
    out.push('')
    out.push(...mdTable(['from', 'sent', 'acked', 'failed', 'consumed', 'produce p99', 'e2e p99', 'faults'], seriesRows(r, 60)))
  }
  return `${out.join('\n')}\n`
}
