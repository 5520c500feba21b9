// A sweep's console table and sweep.html, from a SweepReport (sweep.json) only. sweep.html is self-contained as
// report.html is (render-html.ts): uPlot inlined, the data in a non-executed JSON element, a Content-Security-
// Policy allowing only its own two scripts by hash. Charts: latency percentiles over achieved throughput (the
// throughput-latency curve, knee and SLO thresholds drawn in) and achieved over the axis value.

import { escapeHtml, scriptJson, sha256, STYLE, uplot } from './render-html.ts'
import { formatBytes, formatNumber, formatRate, formatUs } from './format.ts'
import type { CapacityModel, SweepPoint, SweepReport } from './sweep.ts'

const esc = (v: unknown): string => escapeHtml(String(v))

/** The point's note: errored, the load generator's limit, a bisection point. */
function pointNote(p: SweepPoint, r: SweepReport): string {
  const notes: string[] = []
  if (r.knee.found && r.knee.run === p.run) notes.push('<- knee')
  if (r.saturation.found && r.saturation.run === p.run) notes.push('saturation')
  if (p.verdict === 'errored') notes.push(`errored: ${p.error ?? ''}`)
  if (p.harnessSaturated) notes.push('load generator saturated: not the cluster\'s (left out)')
  if (p.refinement) notes.push('bisection')
  return notes.join('; ')
}

const lat3 = (l: SweepPoint['produce']): string => `${formatUs(l.p50)} / ${formatUs(l.p99)} / ${formatUs(l.p999)}`

function resources(p: SweepPoint): [string, string, string] {
  if (!p.resources.measured) return ['-', '-', '-']
  const x = p.resources
  return [formatNumber(x.cpuSeconds, 2), x.peakRssBytes === null ? '-' : formatBytes(x.peakRssBytes), x.writeBytes === null ? '-' : formatBytes(x.writeBytes)]
}

function rows(r: SweepReport): { header: string[]; body: string[][]; marks: string[] } {
  const header = [r.axis, 'offered', 'achieved', 'produce p50 / p99 / p99.9', 'e2e p50 / p99 / p99.9', 'errors', 'latency SLOs', 'broker CPU s', 'peak RSS', 'disk written', 'note']
  const body = r.points.map((p) => [
    p.label,
    p.offered === null ? '-' : formatRate(p.offered),
    formatRate(p.achieved),
    lat3(p.produce),
    lat3(p.e2e),
    formatNumber(p.errors, 0),
    p.verdict === 'errored' ? '-' : p.slosHeld ? 'held' : `FAILED ${p.slos.filter((s) => s.state !== 'passed').map((s) => s.metric).join(', ')}`,
    ...resources(p),
    pointNote(p, r),
  ])
  return { header, body, marks: r.points.map((p) => (r.knee.found && r.knee.run === p.run ? '>' : ' ')) }
}

/** The capacity model in lines of text (console and HTML). */
export function capacityLines(c: CapacityModel): string[] {
  if (!c.measured) return [`capacity model: ${c.reason}`]
  const out = [
    `capacity model (from ${c.points} cluster point${c.points === 1 ? '' : 's'}, ${c.brokers} broker${c.brokers === 1 ? '' : 's'}, replication factor ${c.replicationFactor}, ${formatBytes(c.bytesPerRecord)} per record, fan-out ${formatNumber(c.fanOut, 2)}):`,
    `  CPU-seconds per GB in:  ${formatNumber(c.cpuSecondsPerGBIn, 1)} (cluster total; idle ${formatNumber(c.idleCoresPerBroker, 3)} cores per broker${c.rSquared === null ? '' : `; line fit r² ${formatNumber(c.rSquared, 2)}`})`,
    `  CPU-seconds per GB out: ${c.cpuSecondsPerGBOut === null ? '-' : formatNumber(c.cpuSecondsPerGBOut, 1)} (${c.outNote})`,
    `  disk bytes per GB in:   ${c.diskBytesPerGBIn === null ? 'not measured' : `${formatBytes(c.diskBytesPerGBIn)} (${formatNumber(c.diskBytesPerGBIn / 1e9, 2)} GB)`}`,
    `  peak RSS per broker:    ${c.peakRssBytesPerBroker === null ? 'not measured' : formatBytes(c.peakRssBytesPerBroker)}`,
    `  projection at ${Math.round(c.projection.utilization * 100)}% of ${formatNumber(c.projection.coresPerBroker, 1)} cores per broker:`,
    ...c.projection.rows.map((row) => `    ${String(row.brokers).padStart(3)} broker${row.brokers === 1 ? ': ' : 's:'} ${formatRate(row.maxRecordsPerSecond)} (${formatBytes(row.maxBytesPerSecond)}/s)${row.diskWriteBytesPerSecondPerBroker === null ? '' : `, each writing ${formatBytes(row.diskWriteBytesPerSecondPerBroker)}/s`}`),
  ]
  if (c.projection.target !== null) {
    const t = c.projection.target
    out.push(`  for ${formatRate(t.recordsPerSecond)}: ${Number.isFinite(t.brokersNeeded) ? `${t.brokersNeeded} broker${t.brokersNeeded === 1 ? '' : 's'}` : 'no broker count'} (${t.note})`)
  }
  out.push(`  checked against the sweep: ${c.check.note}`)
  out.push('  assumptions:', ...c.assumptions.map((a) => `    - ${a}`))
  return out
}

function pad(cells: string[][], header: string[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(header), ...cells.map(line)]
}

export function renderSweepConsole(r: SweepReport): string {
  const { header, body, marks } = rows(r)
  const lines = [
    `sweep of ${r.scenario}: ${r.axis} ${r.from} .. ${r.to}, ${r.points.length} point${r.points.length === 1 ? '' : 's'} (${r.points.filter((p) => p.refinement).length} by bisection), seed ${r.seed}${r.interrupted ? ', INTERRUPTED' : ''}`,
    `latency SLOs: ${r.latencySlos.map((s) => `${s.metric} <= ${formatUs(s.threshold)}`).join(', ')}`,
    '',
  ]
  const table = pad(body, header)
  lines.push(`  ${table[0]}`, ...table.slice(1).map((l, i) => `${marks[i]} ${l}`))
  lines.push('', r.knee.message, r.saturation.message)
  if (r.points.some((p) => p.harnessSaturated)) lines.push('points where the load generator saturated measure faultline, not the cluster: they are shown but left out of the knee, the saturation point and the capacity model')
  for (const n of r.notes) lines.push(`note: ${n}`)
  lines.push('', ...capacityLines(r.capacity))
  return `${lines.join('\n')}\n`
}

interface SweepChartData {
  curve: { x: number[]; series: { label: string; values: (number | null)[] }[] }
  follow: { x: number[]; xLabel: string; series: { label: string; values: (number | null)[] }[] }
  knee: number | null
  thresholds: { label: string; ms: number }[]
}

const MS = (us: number | null): number | null => (us === null ? null : us / 1000)

export function sweepChartData(r: SweepReport): SweepChartData {
  // In axis order while the achieved throughput still rises: past that a curve over throughput folds back.
  const cluster: SweepPoint[] = []
  for (const p of r.points) {
    if (p.verdict === 'errored' || p.harnessSaturated) continue
    if (cluster.length === 0 || p.achieved > cluster[cluster.length - 1]!.achieved) cluster.push(p)
  }
  const curve = {
    x: cluster.map((p) => p.achieved),
    series: [
      { label: 'produce p50', values: cluster.map((p) => MS(p.produce.p50)) },
      { label: 'produce p99', values: cluster.map((p) => MS(p.produce.p99)) },
      { label: 'produce p99.9', values: cluster.map((p) => MS(p.produce.p999)) },
      { label: 'e2e p50', values: cluster.map((p) => MS(p.e2e.p50)) },
      { label: 'e2e p99', values: cluster.map((p) => MS(p.e2e.p99)) },
      { label: 'e2e p99.9', values: cluster.map((p) => MS(p.e2e.p999)) },
    ].filter((s) => s.values.some((v) => v !== null)),
  }
  const ran = r.points.filter((p) => p.verdict !== 'errored')
  const follow = {
    x: ran.map((p) => p.value),
    xLabel: r.axis === 'rate' ? 'offered records/s' : r.axis === 'messageSize' ? 'message size (bytes)' : r.axis,
    series: [
      { label: 'achieved/s', values: ran.map((p) => (p.harnessSaturated ? null : p.achieved)) },
      { label: 'achieved/s (load generator saturated)', values: ran.map((p) => (p.harnessSaturated ? p.achieved : null)) },
      ...(r.axis === 'rate' ? [{ label: 'offered/s', values: ran.map((p) => p.offered) }] : []),
    ].filter((s) => s.values.some((v) => v !== null)),
  }
  return { curve, follow, knee: r.knee.found ? r.knee.throughput : null, thresholds: r.latencySlos.map((s) => ({ label: `${s.metric} SLO`, ms: s.threshold / 1000 })) }
}

const CLIENT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('faultline-data').textContent);
  var COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#d62728', '#ff7f0e', '#8c564b'];
  window.faultlineCharts = {};
  function width(el) { return Math.max(320, Math.floor(el.clientWidth || 800)); }
  function ms(v) {
    if (v == null) return '-';
    if (v < 1) return (v * 1000).toFixed(0) + ' µs';
    if (v < 1000) return v.toFixed(v < 10 ? 2 : 1) + ' ms';
    return (v / 1000).toFixed(2) + ' s';
  }
  function num(v) { return v == null ? '-' : Math.round(v).toLocaleString('en'); }
  // The knee as a vertical line, each latency SLO as a dashed horizontal one.
  var marks = { hooks: { draw: [function (u) {
    var ctx = u.ctx, b = u.bbox;
    ctx.save();
    ctx.lineWidth = devicePixelRatio;
    ctx.font = Math.round(11 * devicePixelRatio) + 'px sans-serif';
    if (data.knee != null) {
      var x = u.valToPos(data.knee, 'x', true);
      ctx.strokeStyle = '#c62828';
      ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
      ctx.fillStyle = '#c62828';
      ctx.fillText('knee', x + 4 * devicePixelRatio, b.top + 12 * devicePixelRatio);
    }
    ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
    data.thresholds.forEach(function (t) {
      var y = u.valToPos(t.ms, 'y', true);
      if (y < b.top || y > b.top + b.height) return;
      ctx.strokeStyle = '#b45309';
      ctx.beginPath(); ctx.moveTo(b.left, y); ctx.lineTo(b.left + b.width, y); ctx.stroke();
      ctx.fillStyle = '#b45309';
      ctx.fillText(t.label, b.left + 4 * devicePixelRatio, y - 3 * devicePixelRatio);
    });
    ctx.restore();
  }] } };
  function chart(id, opts, series, plugins) {
    var el = document.getElementById('chart-' + id);
    if (series.x.length === 0 || !series.series.length) { el.textContent = 'No data: no point measured the cluster.'; el.className += ' empty'; return; }
    try {
      opts.width = width(el);
      opts.height = 320;
      opts.plugins = plugins || [];
      opts.series = [opts.xSeries].concat(series.series.map(function (s, i) {
        return { label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: true, size: 7 }, value: opts.fmt };
      }));
      delete opts.xSeries; delete opts.fmt;
      var u = new uPlot(opts, [series.x].concat(series.series.map(function (s) { return s.values; })), el);
      window.faultlineCharts[id] = u;
      window.addEventListener('resize', function () { u.setSize({ width: width(el), height: 320 }); });
    } catch (err) {
      el.textContent = 'chart failed: ' + err;
      console.error('faultline chart ' + id + ':', err);
    }
  }
  chart('curve', {
    xSeries: { label: 'achieved', value: function (u, v) { return num(v) + '/s'; } }, fmt: function (u, v) { return ms(v); },
    scales: { x: { time: false }, y: { distr: 3, log: 10 } },
    axes: [{ label: 'achieved throughput (records/s)', values: function (u, vs) { return vs.map(num); } }, { label: 'latency (log)', size: 70, values: function (u, vs) { return vs.map(ms); } }]
  }, { x: data.curve.x, series: data.curve.series.map(function (s) { return { label: s.label, values: s.values.map(function (v) { return v == null ? null : Math.max(0.001, v); }) }; }) }, [marks]);
  chart('follow', {
    xSeries: { label: data.follow.xLabel, value: function (u, v) { return num(v); } }, fmt: function (u, v) { return num(v) + '/s'; },
    scales: { x: { time: false } },
    axes: [{ label: data.follow.xLabel, values: function (u, vs) { return vs.map(num); } }, { label: 'records/s', size: 70, values: function (u, vs) { return vs.map(num); } }]
  }, data.follow);
})();
`

export function renderSweepHtml(r: SweepReport): string {
  const assets = uplot()
  const { header, body } = rows(r)
  const body2: string[] = []
  body2.push(`<h1>faultline sweep: ${esc(r.scenario)}</h1>`)
  body2.push(`<p>${esc(r.axis)} ${esc(r.from)} .. ${esc(r.to)}, ${esc(r.points.length)} points, seed ${esc(r.seed)}, started ${esc(r.startedAt)}; ${esc(r.cluster.backend)} cluster${r.cluster.brokers === null ? '' : ` of ${esc(r.cluster.brokers)} broker(s)`}, replication factor ${esc(r.cluster.replicationFactor)}${r.interrupted ? '; <span class="fail">interrupted</span>' : ''}.</p>`)
  body2.push(`<ul><li><strong>${esc(r.knee.message)}</strong></li><li>${esc(r.saturation.message)}</li>${r.notes.map((n) => `<li class="muted">${esc(n)}</li>`).join('')}</ul>`)
  body2.push('<h2>Throughput and latency</h2><p class="muted">Cluster points in axis order while their achieved throughput rises (points where the load generator saturated, and those past the cluster\'s highest throughput, are in the table); red: the knee; dashed: the latency SLOs.</p>')
  body2.push('<div class="chart" id="chart-curve" data-chart="curve"></div>')
  body2.push(`<h2>Achieved over ${esc(r.axis)}</h2><div class="chart" id="chart-follow" data-chart="follow"></div>`)
  body2.push('<h2>Points</h2>')
  body2.push(`<table><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${body.map((row, i) => `<tr${r.knee.found && r.knee.run === r.points[i]!.run ? ' class="knee"' : ''}>${row.map((c, j) => (j === 1 || j === 2 || j === 5 || j === 7 ? `<td class="n">${esc(c)}</td>` : j === 0 ? `<td><a href="${esc(relDir(r.points[i]!.dir))}/report.html">${esc(c)}</a></td>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('')}</table>`)
  body2.push(`<h2>Capacity model</h2><pre>${esc(capacityLines(r.capacity).join('\n'))}</pre>`)
  const csp = `default-src 'none'; script-src ${sha256(assets.js)} ${sha256(CLIENT)}; style-src 'unsafe-inline'; img-src data:`
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>faultline sweep: ${esc(r.scenario)}</title>
<style>${assets.css}</style>
<style>${STYLE}
tr.knee td { background: #fff3e0; font-weight: 600; }
pre { white-space: pre-wrap; }
</style>
</head>
<body>
${body2.join('\n')}
<script type="application/json" id="faultline-data">${scriptJson(sweepChartData(r))}</script>
<script>${assets.js}</script>
<script>${CLIENT}</script>
</body>
</html>
`
}

/** A point's directory relative to sweep.html (the last path component: point-NN). */
function relDir(dir: string): string {
  return dir.split(/[\\/]/).filter((s) => s !== '').pop() ?? dir
}
