// faultline compare: verdicts on constructed run sets (real results.json built from the fixture history, then
// given per-run throughput and latency histograms), the statistics against brute force (fast-check, seed
// printed), environment warnings, and the CLI's exit code on real result files.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareRunSets, type Comparison, type RunSet } from '../../reports/compare.ts'
import { buildResults, type Results, writeResults } from '../../reports/results.ts'
import { mannWhitney, RunHistograms, seededRandom } from '../../reports/stats.ts'
import { LatencyHistogram, mergeSummaries } from '../../workloads/history/latency.ts'
import { cli } from '../e2e/cli.ts'
import { fixtureInputs, writeFixtureHistory } from './fixture.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`compare.test.ts: fast-check seed ${seed} (FC_SEED=${seed} replays it)`)

const tmp = mkdtempSync(join(tmpdir(), 'faultline-compare-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

let template: Results
beforeAll(async () => {
  const history = join(tmp, 'history.bin')
  await writeFixtureHistory(history)
  template = await buildResults(history, fixtureInputs)
})

/** A latency summary of `n` samples around `centerUs`, spread by ±30%, from a seeded PRNG. */
function latency(centerUs: number, n: number, rnd: () => number) {
  const h = new LatencyHistogram()
  for (let i = 0; i < n; i++) h.record(Math.round(centerUs * (0.7 + 0.6 * rnd() ** 3)))
  return h.summary()
}

/** One run: the fixture's results with this throughput and latencies (scaled by `slow`), per-run noise `noise`. */
function run(rate: number, slow: number, runSeed: number, noise = 0.02, env: Partial<Results['environment']> = {}): Results {
  const rnd = seededRandom(runSeed)
  const jitter = (): number => 1 + noise * (2 * rnd() - 1)
  const r = structuredClone(template)
  r.metrics.produce.rate = rate * jitter()
  r.metrics.produce.latency = latency(2000 * slow * jitter(), 3000, rnd)
  r.metrics.e2e = latency(5000 * slow * jitter(), 3000, rnd)
  r.metrics.sendDelay = latency(100 * jitter(), 3000, rnd)
  r.metrics.unavailability.longestGapUs = 1_500_000 * jitter()
  r.verdict = { state: 'passed', reasons: [] }
  r.environment = { ...r.environment!, ...env }
  return r
}

const set = (runs: Results[], source = 'mem'): RunSet => ({ source, runs, excluded: [], verdicts: runs.map((r) => r.verdict.state) })
const verdicts = (c: Comparison): Record<string, string> => Object.fromEntries(c.metrics.map((m) => [m.metric, m.verdict]))

describe('compare verdicts', () => {
  it('a 15% throughput loss and 30% slower latency with 6 runs a side: regressed, exit 1', () => {
    const base = set(Array.from({ length: 6 }, (_, i) => run(1000, 1, 100 + i)))
    const cand = set(Array.from({ length: 6 }, (_, i) => run(850, 1.3, 200 + i)))
    const c = compareRunSets(base, cand)
    const v = verdicts(c)
    expect(v.throughput).toBe('regressed')
    expect(v['produce.p50']).toBe('regressed')
    expect(v['e2e.p99']).toBe('regressed')
    expect(v['sendDelay.p99']).not.toBe('regressed')
    expect(c.verdict).toBe('regressed')
    const t = c.metrics.find((m) => m.metric === 'throughput')!
    expect(t.change!).toBeLessThan(-0.1)
    expect(t.interval!.hi).toBeLessThan(0)
    expect(t.p!).toBeLessThan(0.05)
    // Swapped, the same difference is an improvement.
    const back = compareRunSets(cand, base)
    expect(verdicts(back).throughput).toBe('improved')
    expect(back.verdict).toBe('passed')
  })

  it('the same build against itself (other seeds): nothing regressed, throughput unchanged', () => {
    const c = compareRunSets(set(Array.from({ length: 5 }, (_, i) => run(1000, 1, 300 + i))), set(Array.from({ length: 5 }, (_, i) => run(1000, 1, 400 + i))))
    expect(c.counts.regressed).toBe(0)
    expect(verdicts(c).throughput).toBe('unchanged')
    expect(c.verdict).toBe('passed')
  })

  it('one run a side, or too few and too noisy runs: inconclusive, never regressed', () => {
    const one = compareRunSets(set([run(1000, 1, 1)]), set([run(500, 3, 2)]))
    expect(new Set(one.metrics.map((m) => m.verdict))).toEqual(new Set(['inconclusive']))
    expect(one.metrics[0]!.reason).toMatch(/no estimate of the noise/)
    const noisy = compareRunSets(set([1, 2, 3].map((i) => run(1000, 1, i, 0.5))), set([4, 5, 6].map((i) => run(900, 1, i, 0.5))))
    expect(verdicts(noisy).throughput).toBe('inconclusive')
    expect(noisy.metrics.find((m) => m.metric === 'throughput')!.reason).toMatch(/the smallest p 3 against 3 runs can reach is 0\.100/)
  })

  it('scenario thresholds from results.json decide: a 15% loss under a 20% threshold is unchanged', () => {
    const base = set(Array.from({ length: 6 }, (_, i) => run(1000, 1, 500 + i)))
    const candRuns = Array.from({ length: 6 }, (_, i) => run(850, 1, 600 + i))
    for (const r of candRuns) r.regression = { throughput: 0.2 }
    const t = compareRunSets(base, set(candRuns)).metrics.find((m) => m.metric === 'throughput')!
    expect(t.threshold).toBe(0.2)
    expect(t.verdict).toBe('unchanged')
  })

  it('errored runs are left out and said so', () => {
    const bad = run(10, 1, 9)
    bad.verdict = { state: 'errored', reasons: ['harness: boom'] }
    const dir = join(tmp, 'with-errored')
    for (const [i, r] of [run(1000, 1, 7), bad].entries()) {
      mkdirSync(join(dir, `repeat-${i + 1}`), { recursive: true })
      writeResults(join(dir, `repeat-${i + 1}`, 'results.json'), r)
    }
    return import('../../reports/compare.ts').then(({ loadRunSet }) => {
      const s = loadRunSet(dir)
      expect(s.runs).toHaveLength(1)
      expect(s.excluded[0]).toMatch(/repeat-2\/results\.json: errored \(harness: boom\)/)
    })
  })

  it('lists every environment difference', () => {
    const c = compareRunSets(set([run(1000, 1, 1), run(1000, 1, 2)]), set([run(1000, 1, 3, 0.02, { node: 'v22.0.0', faultlineCommit: 'abc' }), run(1000, 1, 4, 0.02, { node: 'v22.0.0', faultlineCommit: 'abc' })]))
    expect(c.environment.map((d) => d.field)).toEqual(['node'])
    expect(c.environment[0]).toMatchObject({ baseline: template.environment!.node, candidate: 'v22.0.0' })
  })
})

describe('statistics', () => {
  /** Exact two-sided p by enumerating every split of the pooled values. */
  function bruteForceP(x: number[], y: number[]): number {
    const pooled = [...x, ...y]
    const n = pooled.length
    const u = (ys: number[], xs: number[]): number => ys.reduce((s, b) => s + xs.reduce((t, a) => t + (b > a ? 1 : b === a ? 0.5 : 0), 0), 0)
    const observed = u(y, x)
    const mean = (x.length * y.length) / 2
    let extreme = 0
    let total = 0
    for (let mask = 0; mask < 1 << n; mask++) {
      let bits = 0
      for (let m = mask; m; m &= m - 1) bits++
      if (bits !== y.length) continue
      const ys = pooled.filter((_, i) => mask & (1 << i))
      const xs = pooled.filter((_, i) => !(mask & (1 << i)))
      total++
      if (Math.abs(u(ys, xs) - mean) >= Math.abs(observed - mean) - 1e-9) extreme++
    }
    return extreme / total
  }

  it('Mann-Whitney exact p equals brute-force enumeration, is symmetric, and U complements', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 12 }), fc.integer({ min: 1, max: 11 }), (values, split) => {
        const k = Math.min(split, values.length - 1)
        const x = values.slice(0, k)
        const y = values.slice(k)
        const a = mannWhitney(x, y)
        const b = mannWhitney(y, x)
        expect(a.method).toBe('exact')
        expect(a.u + b.u).toBe(x.length * y.length)
        expect(a.p).toBeCloseTo(b.p, 12)
        expect(a.p).toBeCloseTo(Math.min(1, bruteForceP(x, y)), 9)
      }),
      { seed, numRuns: 150 },
    )
  })

  it('known values: complete separation of 3 against 3 is p = 0.1; all ties is p = 1', () => {
    expect(mannWhitney([1, 2, 3], [4, 5, 6])).toEqual({ u: 9, p: 0.1, method: 'exact' })
    expect(mannWhitney([1, 1], [1, 1]).p).toBe(1)
  })

  it('the merged-histogram percentile of any runs equals HdrHistogram merging them', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 5 }), fc.constantFrom(50, 90, 99, 99.9), (runs, q) => {
        const summaries = runs.map((values) => {
          const h = new LatencyHistogram()
          for (const v of values) h.record(v)
          return h.summary()
        })
        const merged = LatencyHistogram.fromSummary(summaries.reduce((a, b) => mergeSummaries(a, b)))
        const hist = new RunHistograms(
          runs.map((values) => {
            const h = new LatencyHistogram()
            for (const v of values) h.record(v)
            const m = new Map<number, number>()
            // Bucket tops as the comparison sees them: the value HdrHistogram reports for each sample.
            for (const v of values) {
              const one = new LatencyHistogram()
              one.record(v)
              const top = one.percentile(50)!
              m.set(top, (m.get(top) ?? 0) + 1)
            }
            return [...m.entries()]
          }),
        )
        const got = hist.percentile(runs.map((_, i) => i), q)
        const want = merged.percentile(q)!
        // Within HdrHistogram's precision (3 digits); the merged one is clamped into [min, max].
        expect(Math.abs(got - want) / want).toBeLessThanOrEqual(0.002)
      }),
      { seed, numRuns: 60 },
    )
  })
})

describe('faultline compare (the CLI)', () => {
  function writeSet(name: string, runs: Results[]): string {
    const dir = join(tmp, name)
    runs.forEach((r, i) => {
      mkdirSync(join(dir, `repeat-${i + 1}`), { recursive: true })
      writeResults(join(dir, `repeat-${i + 1}`, 'results.json'), r)
    })
    return dir
  }

  it('exits 1 on a regression and 0 without one, prints the table, and warns loudly when environments differ', async () => {
    const base = writeSet('base', Array.from({ length: 5 }, (_, i) => run(1000, 1, 700 + i)))
    const slow = writeSet('slow', Array.from({ length: 5 }, (_, i) => run(800, 1.4, 800 + i)))
    const same = writeSet('same', Array.from({ length: 5 }, (_, i) => run(1000, 1, 900 + i, 0.02, { kernel: '9.9.9-other' })))
    const r1 = await cli(['compare', base, slow])
    expect(r1.stderr).toBe('')
    expect(r1.stdout).toMatch(/^ {2}throughput .* REGRESSED/m)
    expect(r1.stdout).toMatch(/comparison: REGRESSED/)
    expect(r1.code).toBe(1)
    const r0 = await cli(['compare', base, same, '--format', 'json'])
    expect(r0.code).toBe(0)
    expect((JSON.parse(r0.stdout) as Comparison).verdict).toBe('passed')
    expect(r0.stderr).toMatch(/!! WARNING: kernel differs: baseline .*, candidate 9\.9\.9-other/)
    const bad = await cli(['compare', base, join(tmp, 'nowhere')])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/nowhere: no such file or directory/)
    const badThreshold = await cli(['compare', base, slow, '--threshold', 'thruput=5%'])
    expect(badThreshold.code).toBe(2)
    expect(badThreshold.stderr).toMatch(/--threshold thruput: not a compared metric/)
    const badAlpha = await cli(['compare', base, slow, '--alpha', '5%'])
    expect(badAlpha.code).toBe(2)
    expect(badAlpha.stderr).toMatch(/--alpha "5%": expected a significance level between 0 and 0\.5/)
    // 4 runs a side cannot reach the default 0.01 (the smallest exact p is 0.029); --alpha 0.05 can.
    const base4 = writeSet('base4', Array.from({ length: 4 }, (_, i) => run(1000, 1, 1000 + i)))
    const slow4 = writeSet('slow4', Array.from({ length: 4 }, (_, i) => run(800, 1, 1100 + i)))
    const strict = await cli(['compare', base4, slow4, '--format', 'json'])
    expect(strict.code).toBe(0)
    expect((JSON.parse(strict.stdout) as Comparison).metrics.find((m) => m.metric === 'throughput')!.verdict).toBe('inconclusive')
    const loose = await cli(['compare', base4, slow4, '--alpha', '0.05'])
    expect(loose.code).toBe(1)
    expect(loose.stdout).toMatch(/^ {2}throughput .* REGRESSED/m)
  }, 90_000)
})
