// The liveness watchdog and how its findings and the run's client errors reach results.json, the verdict and
// the summaries: a consumer stall is reported once past the threshold and again when it ends, a drain left
// behind fails a run that checks delivery, and "errors 0" is never printed while consumers reported errors.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { describeClientErrors, LivenessWatchdog } from '../../reports/liveness.ts'
import { renderConsole } from '../../reports/render-console.ts'
import { renderMarkdown } from '../../reports/render-markdown.ts'
import { buildResults, exitCodeOf, readResults, writeResults } from '../../reports/results.ts'
import { fixtureInputs, writeFixtureHistory } from './fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-liveness-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('LivenessWatchdog', () => {
  it('reports a consumer stall past the threshold once, its end, and keeps the longest', () => {
    const said: string[] = []
    const dog = new LivenessWatchdog({ thresholdMs: 3000, say: (l) => said.push(l) })
    dog.consumer('g0', 0, 10, 0)
    dog.consumer('g0', 1_000_000, 20, 5)
    for (let t = 2; t <= 6; t++) dog.consumer('g0', t * 1_000_000, 20, 40 + t)
    expect(said).toEqual(['liveness: consumers of g0 made no progress for 3.0 s while 44 acknowledged records waited'])
    expect(dog.stalled(6_000_000)).toEqual(['g0 stalled 5.0 s'])
    dog.consumer('g0', 7_000_000, 30, 10)
    expect(said[1]).toBe('liveness: consumers of g0 progress again after 6.0 s')
    expect(dog.consumers).toEqual({ group: 'g0', fromUs: 1_000_000, toUs: 7_000_000, durationUs: 6_000_000, waitingRecords: 46 })
    expect(dog.stalled(7_000_000)).toEqual([])
  })

  it('does not call an idle group stalled when nothing waits for it', () => {
    const said: string[] = []
    const dog = new LivenessWatchdog({ thresholdMs: 1000, say: (l) => said.push(l) })
    for (let t = 0; t <= 5; t++) dog.consumer('g0', t * 1_000_000, 7, 0)
    expect(said).toEqual([])
    expect(dog.consumers).toBeNull()
  })

  it('reports producers that learn no outcome while sends wait', () => {
    const said: string[] = []
    const dog = new LivenessWatchdog({ thresholdMs: 2000, say: (l) => said.push(l) })
    dog.producersAt(0, 100, 3)
    dog.producersAt(1_000_000, 100, 30)
    dog.producersAt(2_000_000, 100, 60)
    expect(said).toEqual(['liveness: producers waited 2.0 s for outcomes of 60 sends'])
    dog.producersAt(3_000_000, 160, 0)
    expect(said[1]).toBe('liveness: producers learned outcomes again after 3.0 s')
    expect(dog.producers).toEqual({ fromUs: 0, toUs: 3_000_000, durationUs: 3_000_000, pendingSends: 60 })
  })
})

describe('client errors and liveness in results.json', () => {
  it('a drain left behind fails the verdict; consumer errors are counted by code and printed, never as "errors 0"', async () => {
    const history = join(dir, 'history.bin')
    await writeFixtureHistory(history)
    const dog = new LivenessWatchdog({ thresholdMs: 1000, say: () => {} })
    dog.consumer('g0', 0, 5, 0)
    dog.consumer('g0', 1_000_000, 5, 9)
    dog.consumer('g0', 4_000_000, 5, 9)
    const results = await buildResults(history, {
      ...fixtureInputs,
      slo: {},
      delivery: { sendOrder: true, limits: { lost: null, unseen: null, duplicates: null, inconsistentOffsets: null, reordered: null, pollSkips: null, pollRewinds: null, failedWritesRead: null, rereads: null } },
      clientErrors: { consume: { NOT_COORDINATOR: 3, NETWORK: 2 }, client: {} },
      liveness: dog.section({ state: 'behind', behindRecords: 9, waitedUs: 15_000_000 }, true),
    })
    const path = join(dir, 'results.json')
    writeResults(path, results)
    const r = readResults(path)
    expect(r.errors?.consume).toEqual({ NOT_COORDINATOR: 3, NETWORK: 2 })
    expect(r.errors?.produce).toEqual(results.metrics.errors.byCode)
    expect(r.verdict.state).toBe('failed')
    expect(exitCodeOf(r)).toBe(1)
    expect(r.verdict.reasons).toContain(
      'liveness: consumers did not catch up: 9 acknowledged records unread after 15.0 s of drain; consumers made no progress for 3.0 s while 9 acknowledged records waited (g0)',
    )
    const text = renderConsole(r)
    expect(text).toMatch(/errors \d+ in the run: .*consume NOT_COORDINATOR 3, NETWORK 2/)
    expect(text).not.toMatch(/errors 0\b/)
    expect(text).toContain('consumers made no progress for 3.0 s while 9 acknowledged records waited (g0, from 1.0 s)')
    const md = renderMarkdown(r)
    expect(md).toContain('## Client errors')
    expect(md).toContain('| consume | NOT_COORDINATOR | 3 |')
    expect(md).toContain('## Liveness')
  })

  it('the same drain does not fail a run without delivery checks (enforced: false)', async () => {
    const history = join(dir, 'history2.bin')
    await writeFixtureHistory(history)
    const dog = new LivenessWatchdog({ thresholdMs: 1000, say: () => {} })
    const r = await buildResults(history, { ...fixtureInputs, slo: {}, delivery: { skip: 'no consumers' }, liveness: dog.section({ state: 'behind', behindRecords: 9, waitedUs: 1 }, false) })
    expect(r.verdict.reasons.some((x) => x.startsWith('liveness'))).toBe(false)
  })

  it('sends without an outcome after the producers\' grace fail the verdict (exit 1), not the harness (exit 3)', async () => {
    const history = join(dir, 'history3.bin')
    await writeFixtureHistory(history)
    const dog = new LivenessWatchdog({ thresholdMs: 1000, say: () => {} })
    const r = await buildResults(history, { ...fixtureInputs, slo: {}, delivery: { skip: 'no consumers' }, liveness: dog.section(null, false, { sends: 433, graceUs: 30_000_000 }) })
    expect(r.verdict).toEqual({ state: 'failed', reasons: ['liveness: 433 sends had no outcome 30.0 s after the schedule ended (indeterminate: they may or may not have been written)'] })
    expect(exitCodeOf(r)).toBe(1)
    expect(renderConsole(r)).toContain('433 sends still had no outcome 30.0 s after the schedule ended')
  })

  it('describes errors by role and code, most frequent first', () => {
    expect(describeClientErrors({ produce: { A: 1 }, consume: { B: 1, C: 4 }, client: {} })).toEqual({ total: 6, line: 'produce A 1; consume C 4, B 1' })
  })
})
