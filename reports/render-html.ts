// report.html, rendered from a Results object only: one self-contained file that opens with no network.
// uPlot's JS and CSS are read from node_modules at render time and inlined; the chart data travels as JSON in
// a non-executed <script type="application/json">. Everything that comes from data (scenario names, fault
// targets, error codes, anomaly values) is escaped; on top of that a Content-Security-Policy allows only the
// two inline scripts written here (by hash) and no fetches at all, so an injected script or image would not
// run or load even if escaping failed somewhere.
//
// Charts: throughput and latency over time with fault intervals shaded; the latency percentile distribution
// (HdrHistogram's percentile plot: x = 1 / (1 - p) on a log axis, to p99.99) computed from the histograms in
// results.json. window.faultlineCharts holds the uPlot instances by chart id, for the browser test and for
// anyone poking at a report in devtools.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describeBacklog } from './backlog.ts'
import { anomalyKinds } from './checker.ts'
import { anomalyMeaning, describeExample, describeSlo, sloValue } from './describe.ts'
import { formatAt, formatBytes, formatCount, formatRate, formatUs, plural } from './format.ts'
import type { FaultInterval } from './metrics.ts'
import { latencyRows } from './render-console.ts'
import type { Comparison, MetricComparison } from './compare.ts'
import type { Results } from './results.ts'
import { LatencyHistogram, type LatencySummary } from '../workloads/history/latency.ts'

/**
 * The comparison section's input. A seam: `faultline compare` (reports/compare.ts) owns the real Comparison
 * type; whoever wires it maps it onto this shape, so this renderer needs nothing of the statistics.
 */
export interface HtmlComparison {
  /** What the baseline is, for the heading: a path, "3 runs of build abc123". */
  readonly baseline: string
  readonly candidate: string
  readonly rows: readonly HtmlComparisonRow[]
  /** Environment differences and other cautions, shown above the table. */
  readonly warnings: readonly string[]
}

export interface HtmlComparisonRow {
  readonly metric: string
  /** Already formatted, in the metric's unit. */
  readonly baseline: string
  readonly candidate: string
  /** candidate / baseline - 1 (0.05 = 5% higher); null when either side has no figure. */
  readonly change: number | null
  /** Confidence interval of the change, same scale; null when there is none (a single run each side). */
  readonly ciLow: number | null
  readonly ciHigh: number | null
  /** "95%", the interval's confidence level. */
  readonly confidence?: string
  /** The scenario's threshold for this metric, formatted ("5%"). */
  readonly threshold?: string
  readonly verdict: 'improved' | 'unchanged' | 'regressed' | 'inconclusive'
}

export interface HtmlOptions {
  readonly comparison?: HtmlComparison
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const esc = (v: unknown): string => escapeHtml(String(v))

/** JSON that can sit inside a <script> element: no "</script", no "<!--", no line separators that end JS strings. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

let uplotAssets: { js: string; css: string } | null = null

export function uplot(): { js: string; css: string } {
  if (uplotAssets) return uplotAssets
  const req = createRequire(import.meta.url)
  const js = readFileSync(req.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')
  const css = readFileSync(req.resolve('uplot/dist/uPlot.min.css'), 'utf8')
  // Inlined in a <script>: a literal "</script" inside would end it early.
  if (/<\/script/i.test(js)) throw new Error('uplot/dist/uPlot.iife.min.js contains "</script"; it cannot be inlined')
  uplotAssets = { js, css }
  return uplotAssets
}

/** The percentile plot's x positions, 1 / (1 - p): 20 per decade from p0 to p99.99. */
const PERCENTILE_XS = Array.from({ length: 81 }, (_, i) => 10 ** (i / 20))

const MS = (us: number | null): number | null => (us === null ? null : us / 1000)

interface ChartData {
  readonly intervalS: number
  readonly faults: { name: string; target: string; startS: number; endS: number | null }[]
  readonly window: { startS: number; endS: number }
  readonly endS: number
  readonly throughput: { x: number[]; series: { label: string; values: (number | null)[] }[] }
  readonly latency: { x: number[]; series: { label: string; values: (number | null)[] }[] }
  readonly percentiles: { x: number[]; series: { label: string; values: (number | null)[] }[] }
}

function percentileSeries(s: LatencySummary): (number | null)[] {
  if (s.count === 0 || !s.histogram) return PERCENTILE_XS.map(() => null)
  const h = LatencyHistogram.fromSummary(s)
  return PERCENTILE_XS.map((x) => MS(h.percentile(100 * (1 - 1 / x))))
}

export function chartData(r: Results): ChartData {
  const ts = r.timeseries
  const intervalS = ts.intervalUs / 1_000_000
  const n = ts.sent.length
  const x = Array.from({ length: n }, (_, i) => i * intervalS)
  const perSecond = (a: number[]): number[] => a.slice(0, n).map((v) => v / intervalS)
  const latency = (a: (number | null)[]): (number | null)[] => a.slice(0, n).map(MS)
  const throughput = [
    { label: 'sent/s', values: perSecond(ts.sent) },
    { label: 'acked/s', values: perSecond(ts.acked) },
    { label: 'consumed/s', values: perSecond(ts.consumed) },
  ]
  if (ts.failed.some((v) => v > 0)) throughput.push({ label: 'failed/s', values: perSecond(ts.failed) })
  return {
    intervalS,
    faults: r.faults.map((f) => ({ name: f.name, target: f.target, startS: f.startUs / 1_000_000, endS: f.endUs === null ? null : f.endUs / 1_000_000 })),
    window: { startS: r.metrics.window.startUs / 1_000_000, endS: r.metrics.window.endUs / 1_000_000 },
    endS: n * intervalS,
    throughput: { x, series: throughput },
    latency: {
      x,
      series: [
        { label: 'produce p50', values: latency(ts.produceP50) },
        { label: 'produce p99', values: latency(ts.produceP99) },
        { label: 'end-to-end p50', values: latency(ts.e2eP50) },
        { label: 'end-to-end p99', values: latency(ts.e2eP99) },
      ],
    },
    percentiles: {
      x: PERCENTILE_XS,
      series: latencyRows(r).map(([label, s]) => ({ label, values: percentileSeries(s) })),
    },
  }
}

// The page's own script: builds the charts from the JSON data. Plain ES2020, no template literals, so it
// sits in this file as a string; the browser test runs it.
const CLIENT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('faultline-data').textContent);
  var COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#d62728', '#ff7f0e', '#8c564b'];
  var FLOOR_MS = 0.001;
  window.faultlineCharts = {};

  function width(el) { return Math.max(320, Math.floor(el.clientWidth || 800)); }

  function pct(x) {
    var p = 100 * (1 - 1 / x);
    if (p <= 0) return '0%';
    var digits = Math.max(0, Math.ceil(Math.log10(x)) - 2);
    return p.toFixed(digits) + '%';
  }

  function ms(v) {
    if (v == null) return '-';
    if (v < 1) return (v * 1000).toFixed(0) + ' µs';
    if (v < 1000) return v.toFixed(v < 10 ? 2 : 1) + ' ms';
    return (v / 1000).toFixed(2) + ' s';
  }

  function rate(v) { return v == null ? '-' : Math.round(v).toLocaleString('en') + '/s'; }

  // Fault intervals as shaded bands behind the series, labelled at the top; outside the measurement window grey.
  function faultBands(faults, endS, win) {
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
          ctx.save();
          ctx.beginPath();
          ctx.rect(u.bbox.left, top, u.bbox.width, h);
          ctx.clip();
          ctx.fillStyle = 'rgba(0, 0, 0, 0.05)';
          var w0 = u.valToPos(win.startS, 'x', true), w1 = u.valToPos(win.endS, 'x', true);
          ctx.fillRect(u.bbox.left, top, Math.max(0, w0 - u.bbox.left), h);
          ctx.fillRect(w1, top, Math.max(0, u.bbox.left + u.bbox.width - w1), h);
          faults.forEach(function (f, i) {
            var x0 = u.valToPos(f.startS, 'x', true);
            var x1 = u.valToPos(f.endS == null ? endS : f.endS, 'x', true);
            ctx.fillStyle = i % 2 ? 'rgba(255, 140, 0, 0.16)' : 'rgba(214, 39, 40, 0.13)';
            ctx.fillRect(x0, top, Math.max(1, x1 - x0), h);
            ctx.fillStyle = '#7a1f1f';
            ctx.font = Math.round(11 * devicePixelRatio) + 'px sans-serif';
            ctx.fillText(f.name + ' ' + f.target, x0 + 3 * devicePixelRatio, top + 13 * devicePixelRatio * (1 + (i % 3)));
          });
          ctx.restore();
        }]
      }
    };
  }

  function floor(values) { return values.map(function (v) { return v == null ? null : Math.max(FLOOR_MS, v); }); }

  function chart(id, opts, series, plugins) {
    var el = document.getElementById('chart-' + id);
    var hasData = series.x.length > 0 && series.series.some(function (s) { return s.values.some(function (v) { return v != null; }); });
    if (!hasData) {
      // A run that ended before any load (the cluster did not start) still gets its report.
      el.textContent = 'No data: nothing was recorded for this chart.';
      el.className += ' empty';
      return;
    }
    try {
      var aligned = [series.x].concat(series.series.map(function (s) { return s.values; }));
      opts.width = width(el);
      opts.height = 300;
      opts.plugins = plugins || [];
      opts.series = [opts.xSeries].concat(series.series.map(function (s, i) {
        return { label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, value: opts.fmt };
      }));
      delete opts.xSeries;
      delete opts.fmt;
      var u = new uPlot(opts, aligned, el);
      window.faultlineCharts[id] = u;
      window.addEventListener('resize', function () { u.setSize({ width: width(el), height: 300 }); });
    } catch (err) {
      el.textContent = 'chart failed: ' + err;
      console.error('faultline chart ' + id + ':', err);
    }
  }

  var seconds = { label: 'time (s)', value: function (u, v) { return v == null ? '-' : v.toFixed(1) + ' s'; } };
  var timeScale = { time: false };
  var bands = faultBands(data.faults, data.endS, data.window);

  chart('throughput', {
    xSeries: seconds, fmt: function (u, v) { return rate(v); },
    scales: { x: timeScale },
    axes: [{ label: 'seconds since start' }, { label: 'records/s', size: 70, values: function (u, vs) { return vs.map(function (v) { return Math.round(v).toLocaleString('en'); }); } }]
  }, data.throughput, [bands]);

  chart('latency', {
    xSeries: seconds, fmt: function (u, v) { return ms(v); },
    scales: { x: timeScale, y: { distr: 3, log: 10 } },
    axes: [{ label: 'seconds since start' }, { label: 'latency (log)', size: 70, values: function (u, vs) { return vs.map(ms); } }]
  }, { x: data.latency.x, series: data.latency.series.map(function (s) { return { label: s.label, values: floor(s.values) }; }) }, [bands]);

  chart('percentiles', {
    xSeries: { label: 'percentile', value: function (u, v) { return v == null ? '-' : pct(v); } },
    fmt: function (u, v) { return ms(v); },
    scales: { x: { time: false, distr: 3, log: 10, range: function () { return [1, 10000]; } }, y: { distr: 3, log: 10 } },
    axes: [
      { label: 'percentile (log of 1 / (1 - p))', splits: function () { return [1, 10, 100, 1000, 10000]; }, values: function (u, vs) { return vs.map(pct); } },
      { label: 'latency (log)', size: 70, values: function (u, vs) { return vs.map(ms); } }
    ]
  }, { x: data.percentiles.x, series: data.percentiles.series.map(function (s) { return { label: s.label, values: floor(s.values) }; }) });
})();
`

export const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 10px; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: 600; color: #fff; }
.passed, .improved { background: #2e7d32; } .failed, .regressed { background: #c62828; } .errored { background: #6a1b9a; }
.unchanged { background: #607d8b; } .inconclusive { background: #ef6c00; }
td .verdict { font-size: 12px; padding: 0 6px; }
.fail { color: #c62828; font-weight: 600; } .muted { color: #666; } .warn { color: #b45309; }
.chart { margin: 8px 0 18px; min-height: 300px; } .chart.empty { min-height: 0; color: #666; } code { font-size: 12px; }
`

function table(header: string[], rows: string[][], numeric: boolean[] = []): string {
  const cls = (i: number): string => (numeric[i] ? ' class="n"' : '')
  return `<table><thead><tr>${header.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

/** Fields of a fault interval beyond what this renderer knows, e.g. per-fault availability added later. */
const knownFaultKeys = new Set(['id', 'name', 'target', 'startUs', 'endUs', 'acks', 'longestAckGapUs'])

function scalarText(v: unknown): string {
  if (v === null || v === undefined) return '-'
  if (typeof v === 'number') return Number.isInteger(v) ? formatCount(v) : String(Number(v.toPrecision(4)))
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

function faultsSection(r: Results): string {
  const out: string[] = ['<section id="faults">', '<h2>Faults and availability</h2>']
  const u = r.metrics.unavailability
  out.push(
    `<p>Longest time without an ack while producing: <b>${esc(formatUs(u.longestGapUs))}</b>${u.fromUs !== null ? ` (${esc(formatAt(u.fromUs))} .. ${esc(formatAt(u.toUs))})` : ''}.</p>`,
  )
  if (r.faults.length === 0) {
    out.push('<p class="muted">No faults in this run.</p>', '</section>')
    return out.join('\n')
  }
  const extra = [...new Set(r.faults.flatMap((f) => Object.keys(f).filter((k) => !knownFaultKeys.has(k))))]
  const rows = r.faults.map((f: FaultInterval) => {
    const more = f as unknown as Record<string, unknown>
    return [
      esc(f.name),
      esc(f.target),
      esc(formatAt(f.startUs)),
      f.endUs === null ? '<span class="fail">never ended</span>' : esc(formatAt(f.endUs)),
      esc(f.endUs === null ? '-' : formatUs(f.endUs - f.startUs)),
      esc(formatCount(f.acks)),
      esc(formatUs(f.longestAckGapUs)),
      ...extra.map((k) => esc(scalarText(more[k]))),
    ]
  })
  out.push(table(['fault', 'target', 'start', 'end', 'lasted', 'acks during', 'longest ack gap', ...extra], rows, [false, false, true, true, true, true, true, ...extra.map(() => true)]))
  out.push('</section>')
  return out.join('\n')
}

function deliverySection(r: Results): string {
  const out: string[] = ['<section id="delivery">', '<h2>Delivery</h2>']
  const d = r.delivery
  if (d.state === 'skipped') {
    out.push(`<p class="muted">Skipped${d.reason ? `: ${esc(d.reason)}` : ''}.</p>`, '</section>')
    return out.join('\n')
  }
  const s = d.stats
  out.push(
    `<p><span class="verdict ${esc(d.state)}">${esc(d.state.toUpperCase())}</span> ${esc(formatCount(s.values))} values sent, ${esc(formatCount(s.acks))} acked, ` +
      `${esc(formatCount(s.failsDefinite))} definite and ${esc(formatCount(s.failsIndeterminate))} indeterminate failures, ` +
      `${esc(formatCount(s.consumedValues))} consumed in ${esc(formatCount(s.recvs))} reads over ${esc(plural(s.partitions, 'partition'))} by ${esc(plural(s.groups, 'group'))}.</p>`,
  )
  out.push(
    table(
      ['anomaly', 'count', 'limit', 'status', 'meaning'],
      anomalyKinds.map((k) => {
        const a = d.anomalies[k]
        return [
          esc(k),
          a.checked ? esc(formatCount(a.count)) : 'not checked',
          a.limit === null ? 'none' : esc(a.limit),
          a.exceeded ? '<span class="fail">FAIL</span>' : a.checked ? 'ok' : '-',
          esc(anomalyMeaning[k]),
        ]
      }),
      [false, true, true, false, false],
    ),
  )
  for (const kind of anomalyKinds) {
    const a = d.anomalies[kind]
    if (a.examples.length === 0) continue
    out.push(`<h3>${esc(kind)}: first ${esc(a.examples.length)} of ${esc(formatCount(a.count))}</h3>`)
    out.push(`<ul class="examples">${a.examples.map((e) => `<li>${esc(describeExample(kind, e))}</li>`).join('')}</ul>`)
  }
  out.push('</section>')
  return out.join('\n')
}

function percentText(v: number | null): string {
  return v === null ? '-' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`
}

/** `faultline compare`'s result (stored in results.json by `run --baseline`) as the report's comparison table. */
export function htmlComparison(c: Comparison): HtmlComparison {
  const figure = (m: MetricComparison, v: number | null): string => {
    if (v === null) return 'n/a'
    if (m.unit === 'us') return formatUs(v)
    if (m.unit === 'fraction') return `${(v * 100).toFixed(2)}%`
    return formatRate(v)
  }
  const side = (s: Comparison['baseline']): string => `${s.source} (${plural(s.runs, 'run')})`
  return {
    baseline: side(c.baseline),
    candidate: side(c.candidate),
    warnings: c.environment.map((d) => `environment differs: ${d.field}: ${d.baseline} vs ${d.candidate}`),
    rows: c.metrics.map((m) => ({
      metric: m.metric,
      baseline: figure(m, m.baseline.value),
      candidate: figure(m, m.candidate.value),
      change: m.change,
      ciLow: m.interval?.lo ?? null,
      ciHigh: m.interval?.hi ?? null,
      confidence: `${Math.round(c.settings.confidence * 100)}%`,
      threshold: `${(m.threshold * 100).toFixed(m.threshold < 0.01 ? 2 : 0)}%`,
      verdict: m.verdict,
    })),
  }
}

function comparisonSection(c: HtmlComparison | undefined): string {
  if (!c) return ''
  const out: string[] = ['<section id="comparison">', '<h2>Comparison with the baseline</h2>']
  out.push(`<p>Baseline <code>${esc(c.baseline)}</code>, candidate <code>${esc(c.candidate)}</code>.</p>`)
  if (c.warnings.length > 0) out.push(`<ul class="warn">${c.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`)
  out.push(
    table(
      ['metric', 'baseline', 'candidate', 'change', 'confidence interval', 'threshold', 'verdict'],
      c.rows.map((row) => [
        esc(row.metric),
        esc(row.baseline),
        esc(row.candidate),
        esc(percentText(row.change)),
        row.ciLow === null || row.ciHigh === null ? '-' : `${esc(percentText(row.ciLow))} .. ${esc(percentText(row.ciHigh))}${row.confidence ? ` (${esc(row.confidence)})` : ''}`,
        esc(row.threshold ?? '-'),
        `<span class="verdict ${esc(row.verdict)}">${esc(row.verdict)}</span>`,
      ]),
      [false, true, true, true, true, true, false],
    ),
  )
  out.push('</section>')
  return out.join('\n')
}

function environmentSection(r: Results): string {
  const h = r.run.host
  const c = r.run.cluster
  const rows: [string, string][] = [
    ['scenario', `${r.scenario.name} (digest ${r.scenario.digest.slice(0, 12)})`],
    ['started', r.run.startedAt],
    ['seed', String(r.run.seed ?? '-')],
    ['faultline', r.run.faultlineVersion],
    ['cluster', `${c.backend}: ${c.description}${c.bootstrap ? ` (${c.bootstrap})` : ''}`],
    ['nodes', c.nodes.map((n) => `${n.id}${n.address ? ` ${n.address}` : ''}${n.version ? ` (${n.version})` : ''}`).join(', ') || '-'],
    ['host', `${h.hostname}, ${h.platform}/${h.arch}`],
    ['CPU', `${h.cpus} × ${h.cpuModel ?? 'unknown model'}`],
    ['memory', formatBytes(h.memoryBytes)],
    ['Node.js', h.node],
    ['history', `${r.history.path}: ${formatCount(r.history.events)} events, ${formatBytes(r.history.bytes)}${r.history.complete ? '' : ', INCOMPLETE'}`],
  ]
  // Seam: results that carry a captured environment (kernel, git commit, digests; the compare work adds it)
  // show every field of it, whatever its shape.
  const captured = (r as unknown as { environment?: unknown }).environment
  if (typeof captured === 'object' && captured !== null && !Array.isArray(captured)) {
    for (const [k, v] of Object.entries(captured)) rows.push([k, scalarText(v)])
  }
  return ['<section id="environment">', '<h2>Environment</h2>', table(['', ''], rows.map(([k, v]) => [esc(k), esc(v)])), '</section>'].join('\n')
}

export function sha256(s: string): string {
  return `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`
}

export function renderHtml(results: Results, options: HtmlOptions = {}): string {
  const r = results
  const m = r.metrics
  const assets = uplot()
  const body: string[] = []
  body.push(`<h1>faultline: ${esc(r.scenario.name)}</h1>`)
  body.push(
    `<p><span class="verdict ${esc(r.verdict.state)}">${esc(r.verdict.state.toUpperCase())}</span> started ${esc(r.run.startedAt)}, ran ${esc(formatUs(r.run.durationUs))}, measured ${esc(formatAt(m.window.startUs))} .. ${esc(formatAt(m.window.endUs))}; ${esc(r.run.cluster.description)}.</p>`,
  )
  if (r.verdict.reasons.length > 0) body.push(`<ul class="reasons">${r.verdict.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`)
  body.push(
    table(
      ['', 'records', 'rate', 'bytes/s'],
      [
        ['sent', esc(formatCount(m.produce.sent)), '', ''],
        ['acked', esc(formatCount(m.produce.acked)), esc(formatRate(m.produce.rate)), esc(`${formatBytes(m.produce.bytesRate)}/s`)],
        ['failed', esc(formatCount(m.produce.failed)), '', ''],
        ['consumed', esc(formatCount(m.consume.records)), esc(formatRate(m.consume.rate)), esc(`${formatBytes(m.consume.bytesRate)}/s`)],
      ],
      [false, true, true, true],
    ),
  )

  body.push(comparisonSection(options.comparison ?? (r.comparison ? htmlComparison(r.comparison) : undefined)))

  body.push('<h2 id="over-time">Over time</h2>')
  body.push(`<p class="muted">Per ${esc(formatUs(r.timeseries.intervalUs))}; shaded: fault intervals; grey: outside the measurement window (warmup, drain).</p>`)
  body.push('<h3>Throughput</h3><div class="chart" id="chart-throughput" data-chart="throughput"></div>')
  body.push('<h3>Produce vs end-to-end latency</h3><div class="chart" id="chart-latency" data-chart="latency"></div>')

  body.push('<h2 id="latency">Latency</h2>')
  body.push('<h3>Percentile distribution</h3><div class="chart" id="chart-percentiles" data-chart="percentiles"></div>')
  body.push(
    table(
      ['', 'count', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'p99.99', 'max'],
      latencyRows(r).map(([name, s]) => [esc(name), ...[formatCount(s.count), formatUs(s.mean), formatUs(s.p50), formatUs(s.p90), formatUs(s.p99), formatUs(s.p999), formatUs(s.p9999), formatUs(s.max)].map(esc)]),
      [false, true, true, true, true, true, true, true, true],
    ),
  )
  body.push('<p class="muted">produce = ack - send; from intended = ack - scheduled send (corrected for coordinated omission); send delay = send - scheduled send; end-to-end = receive - scheduled send.</p>')

  body.push(faultsSection(r))

  if (m.errors.total > 0) {
    body.push('<h2 id="errors">Errors</h2>')
    const share = m.errors.shareOfSent === null ? '' : ` (${sloValue('fraction', m.errors.shareOfSent)} of the window's sends)`
    body.push(`<p>${esc(formatCount(m.errors.total))} failed sends${esc(share)}: ${esc(formatCount(m.errors.definite))} definite, ${esc(formatCount(m.errors.indeterminate))} indeterminate.</p>`)
    body.push(table(['code', 'count'], Object.entries(m.errors.byCode).map(([code, n]) => [esc(code), esc(formatCount(n))]), [false, true]))
  }

  if (r.backlog.length > 0) {
    body.push('<h2 id="backlog">Backlog</h2>')
    body.push(`<ul>${r.backlog.map((b) => `<li>${esc(describeBacklog(b))}</li>`).join('')}</ul>`)
  }

  body.push(deliverySection(r))

  if (r.slos.length > 0) {
    body.push('<h2 id="slos">SLOs</h2>')
    body.push(
      table(
        ['status', 'check'],
        r.slos.map((s) => [s.state === 'passed' ? 'pass' : `<span class="fail">${s.state === 'failed' ? 'FAIL' : 'ERROR'}</span>`, esc(describeSlo(s))]),
      ),
    )
  }

  body.push(environmentSection(r))

  const csp = `default-src 'none'; script-src ${sha256(assets.js)} ${sha256(CLIENT)}; style-src 'unsafe-inline'; img-src data:`
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>faultline: ${esc(r.scenario.name)} (${esc(r.verdict.state)})</title>
<style>${assets.css}</style>
<style>${STYLE}</style>
</head>
<body>
${body.filter((s) => s !== '').join('\n')}
<script type="application/json" id="faultline-data">${scriptJson(chartData(r))}</script>
<script>${assets.js}</script>
<script>${CLIENT}</script>
</body>
</html>
`
}
