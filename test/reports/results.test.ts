import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { anomalyKinds } from '../../reports/checker.ts'
import { buildResults, exitCodeOf, parseResults, readResults, type Results, ResultsError, writeResults } from '../../reports/results.ts'
import { renderConsole } from '../../reports/render-console.ts'
import { renderMarkdown } from '../../reports/render-markdown.ts'
import { HistoryWriter } from '../../workloads/history/writer.ts'
import { fixtureInputs, fixtureLostValue, writeFixtureHistory } from './fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-results-test-'))
const historyPath = join(dir, 'history.bin')
let results: Results

beforeAll(async () => {
  await writeFixtureHistory(historyPath)
  results = await buildResults(historyPath, fixtureInputs)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('buildResults', () => {
  it('computes the metrics of the measurement window', () => {
    const m = results.metrics
    expect(results.schemaVersion).toBe(2)
    expect(m.window).toMatchObject({ startUs: 1_000_000, endUs: 9_000_000, durationUs: 8_000_000 })
    // Sends in [1 s, 9 s): 800, of which the 20 in [4.0 s, 4.2 s) failed.
    expect(m.produce).toMatchObject({ sent: 800, failed: 20, sentBytes: 800 * 1024 })
    expect(m.errors).toEqual({ total: 20, definite: 20, indeterminate: 0, byCode: { NOT_LEADER_OR_FOLLOWER: 20 }, shareOfSent: 20 / 800 })
    expect(m.sendDelay).toMatchObject({ min: 0, max: 60 })
    // Acks stopped from just before 4.0 s until 5.5 s.
    expect(m.unavailability.toUs).toBe(5_500_000)
    expect(m.unavailability.longestGapUs).toBeGreaterThan(1_490_000)
    expect(m.unavailability.longestGapUs).toBeLessThan(1_510_000)
    expect(m.totals).toMatchObject({ sent: 1000, failed: 20, acked: 980, consumed: 979 })
  })

  it('runs the delivery check over the same pass', () => {
    const d = results.delivery
    if (d.state === 'skipped') throw new Error('delivery was skipped')
    expect(d.anomalies.lost.examples).toEqual([
      expect.objectContaining({ value: fixtureLostValue, topic: 'orders', partition: 0 }),
    ])
    expect(d.anomalies.pollSkips.count).toBe(1)
    const others = anomalyKinds.filter((k) => k !== 'lost' && k !== 'pollSkips')
    for (const k of others) expect(d.anomalies[k].count).toBe(0)
  })

  it('checks SLOs and reaches a verdict with reasons', () => {
    expect(results.slos.map((s) => [s.metric, s.state])).toEqual([
      ['produce.p99', 'failed'],
      ['e2e.p99.9', 'passed'],
      ['throughput', 'passed'],
      ['errors', 'failed'],
      ['unavailability', 'failed'],
    ])
    expect(results.verdict.state).toBe('failed')
    expect(results.verdict.reasons).toEqual([
      'delivery: 1 lost (limit 0)',
      'delivery: 1 pollSkips (limit 0)',
      expect.stringMatching(/^SLO produce\.p99: .* wanted <= 50\.0 ms$/),
      'SLO errors: 20, wanted <= 10',
      expect.stringMatching(/^SLO unavailability: 1\.5\d s, wanted <= 1\.00 s$/),
    ])
    expect(exitCodeOf(results)).toBe(1)
  })

  it('carries the time series, fault intervals and run metadata', () => {
    expect(results.timeseries.sent).toHaveLength(10)
    expect(results.timeseries.sent.reduce((a, b) => a + b, 0)).toBe(1000)
    expect(results.timeseries.errors.NOT_LEADER_OR_FOLLOWER?.[4]).toBe(20)
    expect(results.faults).toEqual([expect.objectContaining({ name: 'kill', startUs: 4_000_000, endUs: 6_000_000 })])
    expect(results.run).toMatchObject({ seed: 42, durationUs: expect.any(Number), cluster: { backend: 'local' } })
    expect(results.history).toMatchObject({ path: historyPath, complete: true, events: expect.any(Number) })
  })

  it('passes when limits and SLOs allow what happened', async () => {
    const passed = await buildResults(historyPath, {
      ...fixtureInputs,
      slo: { throughput: 50 },
      delivery: { limits: { lost: 1, pollSkips: 1 } },
    })
    expect(passed.verdict).toEqual({ state: 'passed', reasons: [] })
    expect(exitCodeOf(passed)).toBe(0)
  })

  it('can skip the delivery check, saying why', async () => {
    const skipped = await buildResults(historyPath, { ...fixtureInputs, slo: {}, delivery: { skip: 'no consumers in this scenario' } })
    expect(skipped.delivery).toEqual({ state: 'skipped', reason: 'no consumers in this scenario' })
    expect(skipped.verdict.state).toBe('passed')
  })

  it('is errored when the history did not end cleanly or the runner reports a failure', async () => {
    const cut = join(dir, 'cut.bin')
    writeFileSync(cut, readFileSync(historyPath))
    truncateSync(cut, statSync(cut).size - 2)
    const partial = await buildResults(cut, { ...fixtureInputs, slo: {} })
    expect(partial.verdict.state).toBe('errored')
    expect(partial.verdict.reasons[0]).toMatch(/has no end frame/)
    expect(exitCodeOf(partial)).toBe(3)
    const failed = await buildResults(historyPath, { ...fixtureInputs, error: 'cluster did not start' })
    expect(failed.verdict.reasons[0]).toBe('harness: cluster did not start')
    expect(failed.verdict.state).toBe('errored')
  })
})

describe('backlog mode', () => {
  it('carries the backlog outcome in µs and judges the drain rate SLOs from it', async () => {
    const r = await buildResults(historyPath, {
      ...fixtureInputs,
      slo: { drainRateBytes: 20 * 2 ** 20, drainRate: 1000 },
      backlog: [
        {
          consumers: 'readers',
          targetBytes: 64 << 20,
          result: {
            state: 'drained',
            buildMs: 6400,
            drainMs: 2000,
            peakBytes: 65 << 20,
            drainedBytes: 80 << 20,
            drainedRecords: 81_920,
            receiveBytesPerSecond: 40 << 20,
            receiveRecordsPerSecond: 40_960,
            netDrainBytesPerSecond: 30 << 20,
          },
        },
      ],
    })
    expect(r.backlog).toEqual([
      {
        consumers: 'readers',
        targetBytes: 64 << 20,
        state: 'drained',
        buildUs: 6_400_000,
        drainUs: 2_000_000,
        peakBytes: 65 << 20,
        drainedBytes: 80 << 20,
        drainedRecords: 81_920,
        readBytesPerSecond: 40 << 20,
        readRecordsPerSecond: 40_960,
        netDrainBytesPerSecond: 30 << 20,
      },
    ])
    expect(r.slos).toEqual([
      { state: 'passed', metric: 'drainRate', comparison: '>=', unit: 'records/s', threshold: 1000, actual: 40_960 },
      { state: 'passed', metric: 'drainRateBytes', comparison: '>=', unit: 'bytes/s', threshold: 20 * 2 ** 20, actual: 40 << 20 },
    ])
    expect(renderConsole(r)).toMatch(/^backlog\n {2}readers: backlog of 64\.0 MiB built to 65\.0 MiB in 6\.40 s, drained in 2\.00 s: read 40\.0 MiB\/s \(40,960 records\/s\)/m)
    expect(renderMarkdown(r)).toMatch(/^## Backlog\n\n- readers: backlog of 64\.0 MiB/m)
  })

  it('marks a backlog that had not finished, failing its drain rate SLO', async () => {
    const r = await buildResults(historyPath, { ...fixtureInputs, slo: { drainRateBytes: 1 }, backlog: [{ consumers: 'readers', targetBytes: 1 << 20, result: null }] })
    expect(r.backlog).toEqual([{ consumers: 'readers', targetBytes: 1 << 20, state: 'unfinished' }])
    expect(r.verdict.reasons).toContain('SLO drainRateBytes: readers: backlog of 1.0 MiB had not drained when the run ended')
  })
})

describe('an empty run', () => {
  it('builds, renders and passes with nothing measured', async () => {
    const path = join(dir, 'empty.bin')
    await (await HistoryWriter.open(path)).close()
    const empty = await buildResults(path, { ...fixtureInputs, slo: {} })
    expect(empty.verdict).toEqual({ state: 'passed', reasons: [] })
    expect(empty.metrics.produce.latency).toMatchObject({ count: 0, p99: null })
    expect(empty.metrics.unavailability).toEqual({ longestGapUs: 0, fromUs: null, toUs: null })
    expect(empty.timeseries.sent).toEqual([])
    expect(renderConsole(empty)).toContain('verdict  PASSED')
    expect(renderMarkdown(empty)).toContain('**Verdict: PASSED**')
  })

  it('errors an SLO that has nothing to measure', async () => {
    const path = join(dir, 'empty2.bin')
    await (await HistoryWriter.open(path)).close()
    const empty = await buildResults(path, { ...fixtureInputs, slo: { 'e2e.p99': 1000 } })
    expect(empty.verdict).toEqual({ state: 'failed', reasons: ['SLO e2e.p99: no e2e latency samples in the measurement window'] })
  })
})

describe('results.json', () => {
  it('round-trips through writeResults and readResults', () => {
    const path = join(dir, 'results.json')
    writeResults(path, results)
    expect(readResults(path)).toEqual(results)
    expect(readFileSync(path, 'utf8').endsWith('}\n')).toBe(true)
  })

  it("reads version 1 files: anomalies by Jepsen's names, without what version 2 added", () => {
    const v1Names = ['lost-write', 'unseen', 'duplicate', 'inconsistent-offsets', 'nonmonotonic-send', 'poll-skip', 'nonmonotonic-poll', 'G1a', 'consumption-duplicate']
    const d = results.delivery
    if (d.state === 'skipped') throw new Error('delivery was skipped')
    const v1 = JSON.parse(JSON.stringify(results)) as Record<string, any>
    v1.schemaVersion = 1
    v1.delivery.anomalies = Object.fromEntries(anomalyKinds.map((k, i) => [v1Names[i], d.anomalies[k]]))
    delete v1.backlog
    delete v1.metrics.errors.shareOfSent
    for (const s of [v1.metrics.produce.latency, v1.metrics.produce.latencyFromIntended, v1.metrics.sendDelay, v1.metrics.e2e]) delete s.p95
    const read = parseResults(JSON.stringify(v1), 'v1.json')
    expect(read).toEqual(results)
    expect(renderConsole(read)).toBe(renderConsole(results))
    expect(renderMarkdown(read)).toBe(renderMarkdown(results))
  })

  it('rejects what is not a results file, with messages naming the file and the problem', () => {
    const bad = (text: string): string => {
      try {
        parseResults(text, 'r.json')
      } catch (err) {
        expect(err).toBeInstanceOf(ResultsError)
        return (err as Error).message
      }
      throw new Error('accepted')
    }
    const json = JSON.parse(JSON.stringify(results)) as Record<string, unknown>
    expect(bad('{')).toMatch(/^r\.json: not JSON/)
    expect(bad('[]')).toMatch(/expected a JSON object/)
    expect(bad(JSON.stringify({ ...json, schemaVersion: undefined }))).toMatch(/no schemaVersion/)
    expect(bad(JSON.stringify({ ...json, schemaVersion: 3 }))).toMatch(/schemaVersion 3 was written by a newer faultline.*reads schemaVersion 1 to 2: upgrade/)
    expect(bad(JSON.stringify({ ...json, schemaVersion: '1' }))).toMatch(/positive integer/)
    expect(bad(JSON.stringify({ ...json, metrics: null }))).toMatch(/metrics must be an object/)
    expect(bad(JSON.stringify({ ...json, slos: {} }))).toMatch(/slos must be an array/)
    expect(bad(JSON.stringify({ ...json, backlog: null }))).toMatch(/backlog must be an array/)
    expect(bad(JSON.stringify({ ...json, verdict: { state: 'ok', reasons: [] } }))).toMatch(/verdict\.state must be/)
    expect(() => readResults(join(dir, 'missing.json'))).toThrow(/cannot read .*missing\.json/)
  })
})
