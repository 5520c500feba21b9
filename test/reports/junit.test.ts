// JUnit output against the Apache Ant JUnit schema (test/reports/junit/JUnit.xsd, source in its README), with
// one failing test case per failed check: delivery, SLOs and regression verdicts.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateXML } from 'xmllint-wasm'
import { compareRunSets, type RunSet } from '../../reports/compare.ts'
import { renderComparisonJunit, renderJunit } from '../../reports/render-junit.ts'
import { render } from '../../reports/report.ts'
import { buildResults, type Results } from '../../reports/results.ts'
import { fixtureInputs, writeFixtureHistory } from './fixture.ts'

const xsd = readFileSync(join(import.meta.dirname, 'junit', 'JUnit.xsd'), 'utf8')
const tmp = mkdtempSync(join(tmpdir(), 'faultline-junit-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

async function valid(xml: string): Promise<void> {
  const r = await validateXML({ xml: { fileName: 'report.xml', contents: xml }, schema: { fileName: 'JUnit.xsd', contents: xsd } })
  expect(r.errors.map((e) => e.rawMessage)).toEqual([])
  expect(r.valid).toBe(true)
}

const failures = (xml: string): string[] => [...xml.matchAll(/<testcase classname="([^"]+)" name="([^"]+)"[^>]*><failure type="[^"]+" message="([^"]*)"/g)].map((m) => `${m[1]} ${m[2]}: ${m[3]}`)

let failed: Results
let passed: Results
beforeAll(async () => {
  const history = join(tmp, 'history.bin')
  await writeFixtureHistory(history)
  failed = await buildResults(history, fixtureInputs)
  passed = await buildResults(history, { ...fixtureInputs, slo: {}, delivery: { limits: { lost: null, pollSkips: null } } })
})

describe('report --format junit', () => {
  it('validates against the JUnit XSD, one failing case per failed check with the measured value and the limit', async () => {
    const xml = render(failed, 'junit')
    await valid(xml)
    const wantDelivery = Object.entries(failed.delivery.state === 'skipped' ? {} : failed.delivery.anomalies).filter(([, a]) => a.exceeded).map(([k]) => k)
    const wantSlos = failed.slos.filter((s) => s.state === 'failed').map((s) => s.metric)
    expect(wantDelivery.length + wantSlos.length).toBeGreaterThan(1)
    const got = failures(xml)
    expect(got).toHaveLength(wantDelivery.length + wantSlos.length)
    expect(got).toContain('faultline.leader-kill-under-load.delivery lost: lost: 1, limit 0')
    for (const m of wantSlos) expect(got.some((g) => g.startsWith(`faultline.leader-kill-under-load.slo ${m}: `) && /, limit (&lt;|&gt;)= /.test(g))).toBe(true)
    const tests = Number(/<testsuite [^>]*tests="(\d+)"/.exec(xml)![1])
    expect(tests).toBe((xml.match(/<testcase /g) ?? []).length)
    expect(Number(/ failures="(\d+)"/.exec(xml)![1])).toBe(got.length)
  })

  it('a passing run has no failure, and a harness error is an error case, still valid', async () => {
    const xml = renderJunit(passed)
    await valid(xml)
    expect(failures(xml)).toEqual([])
    const errored: Results = { ...passed, verdict: { state: 'errored', reasons: ['harness: the cluster <did> not start & "quit"'] } }
    const ex = renderJunit(errored)
    await valid(ex)
    expect(ex).toMatch(/<testcase classname="faultline\.leader-kill-under-load\.harness" name="run" time="0"><error type="harness" message="harness: the cluster &lt;did&gt; not start &amp; &quot;quit&quot;">/)
  })

  it('regression verdicts are test cases: a regressed metric fails with its change, interval and limit', async () => {
    const slower = (r: Results, rate: number, i: number): Results => {
      const c = structuredClone(r)
      c.metrics.produce.rate = rate * (1 + i / 1000)
      return c
    }
    const side = (rate: number): RunSet => {
      const runs = [0, 1, 2, 3, 4].map((i) => slower(passed, rate, i))
      return { source: `rate-${rate}`, runs, excluded: [], verdicts: runs.map(() => 'passed') }
    }
    const comparison = compareRunSets(side(1000), side(700))
    const withComparison: Results = { ...passed, comparison }
    const xml = renderJunit(withComparison)
    await valid(xml)
    expect(failures(xml)).toEqual([expect.stringMatching(/^faultline\.leader-kill-under-load\.regression throughput: throughput: -30\.\d% \(baseline .*; 95% interval \[.*\], p 0\.008\), limit -5\.0%$/)])
    expect((xml.match(/classname="faultline\.leader-kill-under-load\.regression"/g) ?? []).length).toBe(comparison.metrics.length)
    const cx = renderComparisonJunit(comparison, '2025-01-01T00:00:00.000Z')
    await valid(cx)
    expect(failures(cx)).toHaveLength(1)
  })
})
