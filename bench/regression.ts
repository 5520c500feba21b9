// The regression verdict's own error rates (issue 16, Show): how often `faultline compare` calls the same build
// regressed (A/A false alarms), and how often it catches an injected slowdown (A/B detection).
//
//   node dist/bench/regression.js aa [--runs 20] [--comparisons 20] [--repeat 5] [--pool DIR] [--seed N] [--out FILE]
//   node dist/bench/regression.js ab --burn US [--runs 20] [--comparisons 20] [--repeat 5] [--pool-a DIR] [--pool-b DIR]
//
// A pool is `--runs` runs of one scenario through the real CLI (`faultline run --repeat`, a fresh cluster each);
// each comparison draws `--repeat` runs per side from the pools without replacement within the comparison (A/A:
// 2 x repeat distinct runs of one pool, split in two) and judges them with reports/compare.ts at its default
// thresholds. Comparisons drawn from one pool share runs, so they are not independent trials: the figures say
// how often the verdict errs on this machine's real run-to-run noise, not a confidence of that rate.
// A/A runs bench/scenarios/regression-short.yaml (a steady 500 records/s). A/B runs
// bench/scenarios/regression-saturated.yaml, one broker offered more than it takes, so its acked throughput is
// the broker's capacity; both sides spin the broker test knob faultline.test.produce.cpu.burn.us.per.kib at a
// base 80 us/KiB (the scenario says why) and side B raises it to --burn (the A and B runs alternate). The
// first A/B (a fixed 500/s) showed a slower broker in latency only, and on a loaded machine not at all.
// `npm run bench -- --only regression` runs the A/A measurement as a bench section.

import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { compareRunSets, type MetricVerdict, loadRunSet, type RegressionMetric, type RunSet } from '../reports/compare.ts'
import { seededRandom } from '../reports/stats.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const CLI = join(ROOT, 'dist/bin/faultline.js')
export const AA_SCENARIO = join(ROOT, 'bench/scenarios/regression-short.yaml')
export const AB_SCENARIO = join(ROOT, 'bench/scenarios/regression-saturated.yaml')
const KNOB = 'faultline.test.produce.cpu.burn.us.per.kib'

export interface RateReport {
  mode: 'aa' | 'ab'
  scenario: string
  burnUsPerKiB: number | null
  runs: { a: number; b: number }
  comparisons: number
  repeat: number
  seed: number
  /** Per metric: how many comparisons gave each verdict. */
  verdicts: Partial<Record<RegressionMetric, Record<MetricVerdict, number>>>
  /** A/A: regressed metric verdicts over all metric verdicts. */
  falseAlarmRate: number
  /** A/B: comparisons with throughput regressed; with any latency metric regressed. */
  detection: { throughput: number; latency: number; either: number }
  /** Median throughput per pool, so the injected slowdown's real size is on record. */
  medianThroughput: { a: number; b: number | null }
  commands: string[]
}

/** Runs `runs` runs of `scenario` into `dir` (repeat-1..N) through the CLI; returns the command used. */
export function makePool(scenario: string, dir: string, runs: number, seed: number, log: (s: string) => void): string {
  const args = [CLI, 'run', scenario, '--repeat', String(runs), '--seed', String(seed), '--out', dir, '--quiet']
  log(`pool: node ${args.join(' ')}`)
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0 && r.status !== 1) throw new Error(`pool ${dir}: faultline run exited ${r.status}`)
  return `node ${args.join(' ')}`
}

/** Two pools whose runs alternate A, B, A, B (each a `faultline run`), so drift falls on both alike. */
function makeInterleavedPools(burn: number, dirA: string, dirB: string, runs: number, seed: number, log: (s: string) => void): string[] {
  const text = readFileSync(AB_SCENARIO, 'utf8')
  const withKnob = text.replace(new RegExp(`${KNOB.replace(/\./g, '\\.')}: \\d+`), `${KNOB}: ${burn}`)
  if (withKnob === text) throw new Error(`${AB_SCENARIO}: cannot find ${KNOB} in its cluster line to raise it`)
  const bScenario = join(dirB, 'scenario-b.yaml')
  mkdirSync(dirB, { recursive: true })
  writeFileSync(bScenario, withKnob)
  for (let i = 1; i <= runs; i++) {
    for (const [scenario, dir] of i % 2 ? [[AB_SCENARIO, dirA], [bScenario, dirB]] : [[bScenario, dirB], [AB_SCENARIO, dirA]]) {
      const args = [CLI, 'run', scenario!, '--seed', String(seed + i), '--out', join(dir!, `repeat-${i}`), '--quiet']
      log(`${i}/${runs}: ${scenario === bScenario ? 'B' : 'A'}`)
      const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] })
      if (r.status !== 0 && r.status !== 1) log(`  run exited ${r.status}`)
    }
  }
  return [`interleaved: node ${CLI} run ${AB_SCENARIO} / ${bScenario} (${KNOB}: ${burn}) --seed ${seed}+i --out ${dirA}|${dirB}/repeat-i, i = 1..${runs}`]
}

/** `k` distinct items of `xs`, drawn with `rnd`. */
function draw<T>(xs: readonly T[], k: number, rnd: () => number): T[] {
  const pool = [...xs]
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[pool[i], pool[j]] = [pool[j]!, pool[i]!]
  }
  return pool.slice(0, k)
}

const sub = (s: RunSet, runs: RunSet['runs'], name: string): RunSet => ({ source: name, runs, excluded: [], verdicts: runs.map((r) => r.verdict.state) })

export function measureRates(mode: 'aa' | 'ab', a: RunSet, b: RunSet | null, opts: { comparisons: number; repeat: number; seed: number; burn: number | null; commands: string[]; scenario: string; alpha?: number }): RateReport {
  const rnd = seededRandom(opts.seed)
  const verdicts: RateReport['verdicts'] = {}
  let regressed = 0
  let total = 0
  const detected = { throughput: 0, latency: 0, either: 0 }
  if (mode === 'aa' && a.runs.length < 2 * opts.repeat) throw new Error(`A/A needs at least ${2 * opts.repeat} runs in the pool, it has ${a.runs.length}`)
  if (mode === 'ab' && (a.runs.length < opts.repeat || (b?.runs.length ?? 0) < opts.repeat)) throw new Error(`A/B needs at least ${opts.repeat} runs in each pool`)
  for (let i = 0; i < opts.comparisons; i++) {
    let left: RunSet
    let right: RunSet
    if (mode === 'aa') {
      const picked = draw(a.runs, 2 * opts.repeat, rnd)
      left = sub(a, picked.slice(0, opts.repeat), 'A')
      right = sub(a, picked.slice(opts.repeat), 'A')
    } else {
      left = sub(a, draw(a.runs, opts.repeat, rnd), 'A')
      right = sub(b!, draw(b!.runs, opts.repeat, rnd), 'B')
    }
    const c = compareRunSets(left, right, { seed: (opts.seed + i) >>> 0, alpha: opts.alpha })
    let t = false
    let l = false
    for (const m of c.metrics) {
      const row = (verdicts[m.metric] ??= { improved: 0, unchanged: 0, regressed: 0, inconclusive: 0 })
      row[m.verdict]++
      total++
      if (m.verdict === 'regressed') {
        regressed++
        if (m.metric === 'throughput') t = true
        if (m.unit === 'us' && m.metric !== 'unavailability') l = true
      }
    }
    if (t) detected.throughput++
    if (l) detected.latency++
    if (t || l) detected.either++
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((x, y) => x - y)
    return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  }
  return {
    mode,
    scenario: opts.scenario,
    burnUsPerKiB: opts.burn,
    runs: { a: a.runs.length, b: b?.runs.length ?? 0 },
    comparisons: opts.comparisons,
    repeat: opts.repeat,
    seed: opts.seed,
    verdicts,
    falseAlarmRate: total > 0 ? regressed / total : 0,
    detection: { throughput: detected.throughput / opts.comparisons, latency: detected.latency / opts.comparisons, either: detected.either / opts.comparisons },
    medianThroughput: { a: median(a.runs.map((r) => r.metrics.produce.rate)), b: b ? median(b.runs.map((r) => r.metrics.produce.rate)) : null },
    commands: opts.commands,
  }
}

export function formatRates(r: RateReport): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
  const lines = [
    `== regression ${r.mode === 'aa' ? 'A/A (same build)' : `A/B (side B: ${KNOB} = ${r.burnUsPerKiB})`}: ${r.comparisons} comparisons of ${r.repeat} vs ${r.repeat} runs drawn from ${r.runs.a}${r.mode === 'ab' ? ` + ${r.runs.b}` : ''} runs, seed ${r.seed}`,
    `   median throughput A ${r.medianThroughput.a.toFixed(0)}/s${r.medianThroughput.b === null ? '' : `, B ${r.medianThroughput.b.toFixed(0)}/s (${pct(r.medianThroughput.b / r.medianThroughput.a - 1)})`}`,
  ]
  const names = Object.keys(r.verdicts) as RegressionMetric[]
  const w = Math.max(...names.map((n) => n.length))
  lines.push(`   ${'metric'.padEnd(w)}  regressed  improved  unchanged  inconclusive`)
  for (const n of names) {
    const v = r.verdicts[n]!
    lines.push(`   ${n.padEnd(w)}  ${String(v.regressed).padStart(9)}  ${String(v.improved).padStart(8)}  ${String(v.unchanged).padStart(9)}  ${String(v.inconclusive).padStart(12)}`)
  }
  if (r.mode === 'aa') lines.push(`   false alarms: ${pct(r.falseAlarmRate)} of metric verdicts regressed (goal under 1%)`)
  else lines.push(`   detected: throughput regressed in ${pct(r.detection.throughput)}, a latency metric in ${pct(r.detection.latency)}, either in ${pct(r.detection.either)} of comparisons (goal 95%)`)
  for (const c of r.commands) lines.push(`   ${c}`)
  return lines.join('\n')
}

async function main(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv
  if (mode !== 'aa' && mode !== 'ab') {
    process.stderr.write('usage: node dist/bench/regression.js aa|ab [--burn US] [--runs 20] [--comparisons 20] [--repeat 5] [--pool DIR | --pool-a DIR --pool-b DIR] [--seed N] [--out FILE]\n')
    return 2
  }
  const { values } = parseArgs({
    args: rest,
    options: { burn: { type: 'string' }, runs: { type: 'string' }, comparisons: { type: 'string' }, repeat: { type: 'string' }, pool: { type: 'string' }, 'pool-a': { type: 'string' }, 'pool-b': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, alpha: { type: 'string' } },
    strict: true,
  })
  const n = (v: string | undefined, d: number): number => (v === undefined ? d : Number(v))
  const runs = n(values.runs, 20)
  const repeat = n(values.repeat, 5)
  const comparisons = n(values.comparisons, 20)
  const seed = n(values.seed, 1)
  const alpha = values.alpha === undefined ? undefined : Number(values.alpha)
  const log = (s: string): void => {
    process.stderr.write(`[regression] ${s}\n`)
  }
  const work = mkdtempSync(join(tmpdir(), 'faultline-regression-'))
  let report: RateReport
  if (mode === 'aa') {
    const pool = values.pool ?? join(work, 'a')
    const commands = values.pool ? [`pool ${pool}`] : [makePool(AA_SCENARIO, pool, runs, seed, log)]
    report = measureRates('aa', loadRunSet(pool), null, { comparisons, repeat, seed, burn: null, commands, scenario: AA_SCENARIO, alpha })
  } else {
    const burn = n(values.burn, Number.NaN)
    if (!Number.isFinite(burn) || burn < 0) {
      process.stderr.write('regression ab: --burn US (microseconds per KiB the broker spins) is required\n')
      return 2
    }
    const a = values['pool-a'] ?? join(work, 'a')
    const b = values['pool-b'] ?? join(work, 'b')
    const commands = values['pool-a'] && values['pool-b'] ? [`pools ${a} ${b}`] : makeInterleavedPools(burn, a, b, runs, seed, log)
    report = measureRates('ab', loadRunSet(a), loadRunSet(b), { comparisons, repeat, seed, burn, commands, scenario: AB_SCENARIO, alpha })
  }
  process.stdout.write(`${formatRates(report)}\n`)
  if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`)
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`regression: ${(err as Error).stack ?? String(err)}\n`)
      process.exit(3)
    },
  )
}
