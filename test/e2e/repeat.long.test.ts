// `faultline run --repeat N --baseline DIR` through the built CLI, with real short runs (each on its own local
// broker): the repeats, the aggregate, the stored comparison, the environment warning and the exit code.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Comparison } from '../../reports/compare.ts'
import { buildResults, writeResults } from '../../reports/results.ts'
import type { Aggregate } from '../../scenarios/runner-repeat.ts'
import { fixtureInputs, writeFixtureHistory } from '../reports/fixture.ts'
import { cli, processesUsing } from './cli.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-repeat-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('run --repeat', () => {
  it('runs N times on fresh clusters, aggregates, compares with the baseline and warns that the runs differ', async () => {
    // A baseline of another scenario (the reports fixture), so the environment warning must fire.
    const history = join(tmp, 'history.bin')
    await writeFixtureHistory(history)
    const base = await buildResults(history, fixtureInputs)
    for (const i of [1, 2]) {
      mkdirSync(join(tmp, 'base', `repeat-${i}`), { recursive: true })
      writeResults(join(tmp, 'base', `repeat-${i}`, 'results.json'), base)
    }
    const out = join(tmp, 'out')
    const r = await cli(['run', 'bench/scenarios/regression-short.yaml', '--repeat', '2', '--duration', '3s', '--seed', '7', '--baseline', join(tmp, 'base'), '--out', out, '--quiet'])
    expect(r.stderr).toMatch(/!! WARNING: scenarioDigest differs/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^2 runs of regression-short: passed, passed$/m)
    expect(r.stdout).toMatch(/comparison: PASSED/)
    for (const i of [1, 2]) expect(existsSync(join(out, `repeat-${i}`, 'results.json'))).toBe(true)
    const agg = JSON.parse(readFileSync(join(out, 'aggregate.json'), 'utf8')) as Aggregate
    expect(agg.runs.map((x) => x.seed)).toEqual([7, 8])
    const repeat1 = JSON.parse(readFileSync(join(out, 'repeat-1', 'results.json'), 'utf8')) as { metrics: { produce: { latency: { count: number } } } }
    expect(agg.merged.produce.count).toBeGreaterThan(repeat1.metrics.produce.latency.count)
    const c = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as Comparison
    expect(c.candidate.runs).toBe(2)
    expect(c.counts.regressed).toBe(0)
    expect(readFileSync(join(out, 'comparison.md'), 'utf8')).toMatch(/^\| throughput \|/m)
    expect(processesUsing(out)).toEqual([])
  }, 180_000)

  it('refuses a bad --repeat and --baseline with --baseline-cmd before running anything', async () => {
    const a = await cli(['run', 'bench/scenarios/regression-short.yaml', '--repeat', '0', '--out', join(tmp, 'never')])
    expect(a.code).toBe(2)
    expect(a.stderr).toMatch(/--repeat "0": expected a whole number of runs from 1 to 999/)
    const b = await cli(['run', 'bench/scenarios/regression-short.yaml', '--baseline', tmp, '--baseline-cmd', 'true', '--out', join(tmp, 'never')])
    expect(b.code).toBe(2)
    expect(b.stderr).toMatch(/--baseline and --baseline-cmd exclude each other/)
    expect(existsSync(join(tmp, 'never'))).toBe(false)
  })
})
