import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderConsole } from '../../reports/render-console.ts'
import { buildResults, readResults, type Results, writeResults } from '../../reports/results.ts'
import { fixtureInputs, writeFixtureHistory } from './fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-console-test-'))
let results: Results
let text: string

beforeAll(async () => {
  const history = join(dir, 'history.bin')
  await writeFixtureHistory(history)
  results = await buildResults(history, fixtureInputs)
  text = renderConsole(results)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('renderConsole', () => {
  it('re-renders identically from results.json', () => {
    const path = join(dir, 'results.json')
    writeResults(path, results)
    expect(renderConsole(readResults(path))).toBe(text)
  })

  it('shows the run, throughput, latency percentiles, faults, delivery, SLOs and the verdict', () => {
    const lines = text.split('\n')
    expect(lines[0]).toBe('faultline  leader-kill-under-load  FAILED')
    expect(text).toContain('seed 42')
    expect(text).toMatch(/cluster local: .*  driver raw/)
    expect(text).toMatch(/produce +800 sent +780 acked +20 failed +97\.5\/s/)
    expect(text).toMatch(/errors 20 \(20 definite, 0 indeterminate, 2\.5% of the window's sends\): NOT_LEADER_OR_FOLLOWER 20/)
    expect(text).toMatch(/unavailability 1\.5\d s longest ack gap \(3\.99\d s \.\. 5\.500 s\)/)
    expect(text).toMatch(/ +count +mean +p50 +p90 +p95 +p99 +p99\.9 +p99\.99 +max/)
    expect(text).toMatch(/send delay +800 +30 µs +30 µs +60 µs +60 µs +60 µs/)
    expect(text).toContain('kill leaderOf orders/0: 4.000 s .. 6.000 s')
    expect(text).toMatch(/lost +1 +limit 0 +FAIL/)
    expect(text).toMatch(/rereads +0 +no limit/)
    expect(text).toMatch(/value 700 at orders\/0@\d+, acked \d+\.\d{3} s; partition read up to \d+/)
    expect(text).toMatch(/FAIL {2}errors: 20 <= 10/)
    expect(text).toMatch(/pass {2}throughput: 97\.5\/s >= 90\/s/)
    expect(text).toMatch(/faults +\s+\^\^/)
    expect(text.trimEnd().split('\n').slice(-6)[0]).toBe('verdict  FAILED')
  })

  it('says when delivery was skipped and omits empty sections', () => {
    const quiet: Results = { ...results, delivery: { state: 'skipped', reason: 'producer-only benchmark' }, slos: [], faults: [] }
    const out = renderConsole(quiet)
    expect(out).toContain('delivery  skipped: producer-only benchmark')
    expect(out).not.toContain('SLOs')
    expect(out).not.toMatch(/^faults/m)
  })
})
