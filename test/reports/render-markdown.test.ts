import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareRunSets } from '../../reports/compare.ts'
import { renderMarkdown } from '../../reports/render-markdown.ts'
import { buildResults, readResults, type Results, writeResults } from '../../reports/results.ts'
import { fixtureInputs, writeFixtureHistory } from './fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-md-test-'))
let results: Results
let md: string

beforeAll(async () => {
  const history = join(dir, 'history.bin')
  await writeFixtureHistory(history)
  results = await buildResults(history, fixtureInputs)
  md = renderMarkdown(results)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Cells of a markdown table row, honouring escaped pipes. */
const cells = (row: string): string[] => row.slice(1, -1).split(/(?<!\\)\|/)

describe('renderMarkdown', () => {
  it('has the comparison table when the run was compared with a baseline, and none otherwise', () => {
    expect(md).not.toMatch(/## Comparison/)
    const side = (rate: number) => {
      const runs = [0, 1, 2, 3, 4].map((i) => {
        const r = structuredClone(results)
        r.metrics.produce.rate = rate + i
        return r
      })
      return { source: `rate-${rate}`, runs, excluded: [], verdicts: runs.map(() => 'passed' as const) }
    }
    const withComparison = renderMarkdown({ ...results, comparison: compareRunSets(side(1000), side(800)) })
    expect(withComparison).toMatch(/## Comparison with the baseline\n\n\*\*Comparison: REGRESSED\*\* \(1 regressed, /)
    const header = withComparison.split('\n').find((l) => l.startsWith('| metric | baseline (runs)'))!
    expect(cells(header).map((c) => c.trim())).toEqual(['metric', 'baseline (runs)', 'candidate (runs)', 'change', '95% interval', 'p', 'threshold', 'verdict'])
    const row = withComparison.split('\n').find((l) => l.startsWith('| throughput |'))!
    expect(cells(row).map((c) => c.trim())).toEqual(['throughput', '1,002/s (5)', '802/s (5)', '-20.0%', expect.stringMatching(/^\[-20\.\d%, -19\.\d%\]$/), '0.008', '-5.0%', '**REGRESSED**'])
  })

  it('re-renders identically from results.json', () => {
    const path = join(dir, 'results.json')
    writeResults(path, results)
    expect(renderMarkdown(readResults(path))).toBe(md)
  })

  it('has the sections and the verdict with its reasons', () => {
    expect(md.startsWith('# faultline: leader-kill-under-load\n\n**Verdict: FAILED**\n- delivery: 1 lost (limit 0)\n')).toBe(true)
    for (const h of ['## Throughput', '## Latency', '## Errors', '## Faults', '## Delivery', '## SLOs', '## Over time']) expect(md).toContain(`\n${h}\n`)
    expect(md).toContain('| lost | 1 | 0 | **FAIL** |')
    expect(md).toContain('### lost: first 1 of 1')
    expect(md).toContain('| **FAIL** | errors: 20 <= 10 |')
    expect(md).toMatch(/\| kill \| leaderOf orders\/0 \| 4\.000 s \| 6\.000 s \|/)
  })

  it('writes well-formed tables: every row of a table has the header\'s cell count', () => {
    const lines = md.split('\n')
    let width = -1
    for (const line of lines) {
      if (!line.startsWith('|')) {
        width = -1
        continue
      }
      const n = cells(line).length
      if (width < 0) width = n
      expect(n).toBe(width)
    }
  })

  it('escapes table-breaking characters from names', () => {
    const odd: Results = { ...results, faults: [{ ...results.faults[0]!, name: 'a|b', target: 'x\ny' }] }
    const out = renderMarkdown(odd)
    expect(out).toContain('| a\\|b | x y |')
  })

  it('keeps the time-series table short for long runs', () => {
    const n = 3600
    const long: Results = {
      ...results,
      timeseries: {
        ...results.timeseries,
        sent: Array(n).fill(1),
        acked: Array(n).fill(1),
        failed: Array(n).fill(0),
        consumed: Array(n).fill(1),
        produceP99: Array(n).fill(1000),
        e2eP99: Array(n).fill(null),
      },
    }
    const rows = renderMarkdown(long).split('## Over time')[1]!.split('\n').filter((l) => l.startsWith('|'))
    expect(rows.length).toBe(2 + 60)
  })
})
