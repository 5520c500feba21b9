// report.html in a real browser: Debian's headless Chromium driven by playwright-core opens the file as a user
// would (file://, fresh profile) and the test reads what the page built. The results come from a real run,
// committed as fixtures/html-run.results.json (fixtures/html-run.yaml says how it was made): three brokers,
// one killed and one paused, so there are fault intervals to shade and anomaly examples to list.
// The screenshot is kept in test-artifacts/report.png (gitignored); its path is printed.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type BrowserContext, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { escapeHtml, type HtmlComparison, renderHtml, scriptJson } from '../../reports/render-html.ts'
import { reportCommand } from '../../reports/report.ts'
import { parseResults, type Results } from '../../reports/results.ts'

const here = dirname(fileURLToPath(import.meta.url))
const fixturePath = join(here, 'fixtures/html-run.results.json')
const artifacts = join(here, '../../test-artifacts')
const CHROMIUM = '/usr/bin/chromium'
const CHARTS = ['throughput', 'latency', 'percentiles']

// The page's globals as far as the page.evaluate callbacks read them (the test program has no DOM lib).
interface Chart {
  data: (number | null)[][]
  series: { label?: string }[]
  bbox: { top: number; height: number }
  ctx: { canvas: { width: number }; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }
  valToPos(v: number, scale: string, canvasPixels: boolean): number
}
declare const window: { faultlineCharts?: Record<string, Chart>; pwned?: number }
declare const document: {
  querySelectorAll(selector: string): Iterable<{ dataset: Record<string, string | undefined> }>
  getElementById(id: string): { textContent: string | null } | null
}

const fixture = (): Results => parseResults(readFileSync(fixturePath, 'utf8'), fixturePath)

// Every place data reaches the page, with markup that would run or load something if it were not escaped.
const HOSTILE = `</title><script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2"><b id="injected">&amp;`

function hostile(): Results {
  const r = fixture()
  r.scenario.name = HOSTILE
  r.run.cluster.description = HOSTILE
  r.faults[0]!.name = HOSTILE
  r.faults[0]!.target = HOSTILE
  r.verdict.reasons.push(HOSTILE)
  r.metrics.errors.total = 1
  r.metrics.errors.byCode = { [HOSTILE]: 1 }
  if (r.delivery.state !== 'skipped') r.delivery.anomalies.unseen.examples[0]!.topic = HOSTILE
  ;(r as unknown as { environment: Record<string, string> }).environment = { kernel: HOSTILE }
  ;(r.faults[1] as unknown as Record<string, unknown>)[HOSTILE] = 0.5
  return r
}

const comparison: HtmlComparison = {
  baseline: `baseline/${HOSTILE}`,
  candidate: 'out/results.json',
  warnings: [`CPU model differs: ${HOSTILE}`],
  rows: [
    { metric: 'throughput', baseline: '812/s', candidate: '498/s', change: -0.387, ciLow: -0.41, ciHigh: -0.35, confidence: '95%', threshold: '5%', verdict: 'regressed' },
    { metric: HOSTILE, baseline: '5.8 ms', candidate: '5.9 ms', change: 0.01, ciLow: null, ciHigh: null, verdict: 'inconclusive' },
  ],
}

describe('escaping', () => {
  it('escapes markup characters and keeps script-embedded JSON inert', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;')
    const json = scriptJson({ s: '</script><!-- \u2028' })
    expect(json).not.toMatch(/<|\u2028/)
    expect(JSON.parse(json)).toEqual({ s: '</script><!-- \u2028' })
  })

  it('leaves no data-borne markup in the file', () => {
    const html = renderHtml(hostile(), { comparison })
    expect(html).not.toContain('<img')
    expect(html).not.toContain('id="injected"')
    expect(html).not.toContain('<script>window.pwned')
    expect(html).toContain(escapeHtml(HOSTILE))
  })
})

describe('faultline report --format html', () => {
  it('writes the same page the renderer makes, with the run\'s verdict as exit code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-html-'))
    try {
      const out = join(dir, 'report.html')
      const io = { stdout: () => {}, stderr: (s: string) => expect.fail(s) }
      expect(reportCommand(fixturePath, 'html', out, io)).toBe(1)
      expect(readFileSync(out, 'utf8')).toBe(renderHtml(fixture()))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('report.html in headless Chromium', () => {
  let context: BrowserContext
  let profile: string

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; \`bash bin/prepare.sh --test\` installs Debian's chromium`)
    profile = mkdtempSync(join(tmpdir(), 'faultline-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1200, height: 900 },
    })
  })

  afterAll(async () => {
    await context?.close()
    if (profile) rmSync(profile, { recursive: true, force: true })
  })

  /** Opens `html` from a file; returns what the console said and which URLs the page asked for. */
  async function open(html: string, name: string) {
    mkdirSync(artifacts, { recursive: true })
    const file = join(artifacts, `${name}.html`)
    writeFileSync(file, html)
    const page = await context.newPage()
    const problems: string[] = []
    const requests: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
    page.on('request', (r) => requests.push(r.url()))
    const url = pathToFileURL(file).href
    await page.goto(url, { waitUntil: 'load' })
    return { page, problems, requests, url, file }
  }

  it('renders every chart with data, logs no errors, asks for nothing and keeps a screenshot', async () => {
    const { page, problems, requests, url } = await open(renderHtml(fixture()), 'report')
    const charts = await page.evaluate(() => {
      const registry = window.faultlineCharts ?? {}
      return [...document.querySelectorAll('[data-chart]')].map((el) => {
        const u = registry[el.dataset.chart!]
        return {
          id: el.dataset.chart!,
          points: u ? u.data[0]!.length : 0,
          series: u ? u.data.slice(1).map((values, i) => ({ label: u.series[i + 1]!.label, drawn: values.filter((v) => v !== null && Number.isFinite(v)).length })) : [],
          canvasWidth: u ? u.ctx.canvas.width : 0,
        }
      })
    })
    expect(charts.map((c) => c.id)).toEqual(CHARTS)
    for (const c of charts) {
      expect(c.points, `${c.id}: x values`).toBeGreaterThan(1)
      expect(c.canvasWidth, `${c.id}: canvas`).toBeGreaterThan(0)
      expect(c.series.length, `${c.id}: series`).toBeGreaterThan(1)
      for (const s of c.series) expect(s.drawn, `${c.id}: ${s.label} has data points`).toBeGreaterThan(1)
    }
    // The fixture's fault intervals are listed, and shaded behind the time charts (pixels of the band's color).
    const shaded = await page.evaluate(() => {
      const registry = window.faultlineCharts!
      const data = JSON.parse(document.getElementById('faultline-data')!.textContent!) as { faults: { startS: number; endS: number }[] }
      return ['throughput', 'latency'].map((id) => {
        const u = registry[id]!
        const f = data.faults[0]!
        const x = Math.round(u.valToPos((f.startS + f.endS) / 2, 'x', true))
        const y = Math.round(u.bbox.top + u.bbox.height - 4)
        const [r, g, b, a] = u.ctx.getImageData(x, y, 1, 1).data
        return { id, r, g, b, a }
      })
    })
    for (const px of shaded) expect(px.a! > 0 && px.r! > px.b!, `${px.id}: fault band pixel ${JSON.stringify(px)}`).toBe(true)
    expect(await page.locator('#faults tbody tr').count()).toBe(2)
    expect(problems).toEqual([])
    expect(requests).toEqual([url])
    const png = join(artifacts, 'report.png')
    await page.screenshot({ path: png, fullPage: true })
    console.log(`report screenshot: ${png}`)
    await page.close()
  })

  it('renders a run that recorded nothing (the cluster never started) without errors, saying so', async () => {
    const r = fixture()
    const ts = r.timeseries
    for (const k of ['sent', 'acked', 'failed', 'consumed', 'sentBytes', 'ackedBytes', 'consumedBytes', 'produceP50', 'produceP99', 'produceMax', 'e2eP50', 'e2eP99', 'e2eMax'] as const) ts[k] = []
    ts.errors = {}
    for (const s of [r.metrics.produce.latency, r.metrics.produce.latencyFromIntended, r.metrics.sendDelay, r.metrics.e2e]) s.count = 0
    r.faults = []
    r.delivery = { state: 'skipped', reason: 'the run ended before any load' }
    r.verdict = { state: 'errored', reasons: ['harness: cluster did not start'] }
    const { page, problems, requests, url } = await open(renderHtml(r), 'report-empty')
    expect(await page.locator('[data-chart]').allTextContents()).toEqual(CHARTS.map(() => 'No data: nothing was recorded for this chart.'))
    expect(problems).toEqual([])
    expect(requests).toEqual([url])
    await page.close()
  })

  it('shows data-borne markup as text: nothing injected runs or loads, and the comparison renders', async () => {
    const { page, problems, requests, url } = await open(renderHtml(hostile(), { comparison }), 'report-hostile')
    expect(await page.evaluate(() => window.pwned)).toBeUndefined()
    expect(await page.locator('#injected').count()).toBe(0)
    expect(await page.locator('img').count()).toBe(0)
    expect(await page.locator('script').count()).toBe(3)
    expect(await page.title()).toContain(HOSTILE)
    expect(await page.locator('h1').textContent()).toBe(`faultline: ${HOSTILE}`)
    const rows = await page.locator('#comparison tbody tr').allTextContents()
    expect(rows).toHaveLength(2)
    expect(rows[0]).toContain('-38.7%')
    expect(rows[0]).toContain('-41.0% .. -35.0% (95%)')
    expect(rows[0]).toContain('regressed')
    expect(rows[1]).toContain(HOSTILE)
    expect(await page.locator('body').textContent()).toContain(`kernel${HOSTILE}`)
    expect(problems).toEqual([])
    expect(requests).toEqual([url])
    await page.close()
  })
})
