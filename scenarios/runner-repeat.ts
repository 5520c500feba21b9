// `faultline run SCENARIO --repeat N [--baseline RESULTS|DIR | --baseline-cmd CMD]`: the scenario N times, each
// on a fresh cluster (every run starts its own), into OUT/repeat-1..N, then OUT/aggregate.json (every run's
// verdict and key figures, latency merged across runs from the histograms) and, with a baseline,
// OUT/comparison.json and OUT/comparison.md (reports/compare.ts).
//
// "Baseline build": --baseline-cmd CMD is a command that runs another faultline build, e.g.
// `node ../faultline-main/dist/bin/faultline.js`; `CMD run SCENARIO --out OUT/baseline/repeat-i --seed S_i --quiet`
// is run through the shell, interleaved with this build's runs in ABBA order (baseline first on odd repeats,
// candidate first on even ones), so drift of a shared machine falls on both sides alike. Run i of both builds
// uses the same seed. --baseline PATH instead compares with runs made earlier (no interleaving).

import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { compareRunSets, type Comparison, loadRunSet, renderComparisonConsole, renderComparisonMarkdown, type RunSet } from '../reports/compare.ts'
import { warnEnvironment } from '../reports/compare-command.ts'
import type { ProgressReporter } from '../reports/progress.ts'
import { exitCodeOf, type Results, ResultsError } from '../reports/results.ts'
import { mergeSummaries, type LatencySummary } from '../workloads/history/latency.ts'
import { RunError, runScenario } from './runner.ts'
import type { Scenario } from './schema.ts'

export interface RepeatOptions {
  readonly file: string
  readonly scenario: Scenario
  readonly outDir: string
  readonly seed: number
  readonly repeat: number
  /** Earlier runs: a results.json or a directory of repeats. */
  readonly baseline?: string
  readonly baselineCmd?: string
  /** Passed on to the baseline command. */
  readonly duration?: string
  readonly driver?: string
  readonly progress: ProgressReporter
  readonly signal: AbortSignal
  readonly stdout: { write(s: string): unknown }
  readonly stderr: { write(s: string): unknown }
}

export interface Aggregate {
  schemaVersion: 1
  scenario: string
  repeat: number
  runs: { dir: string; seed: number; verdict: Results['verdict']['state']; throughput: number; produceP99: number | null; e2eP99: number | null }[]
  /** Latency of every run merged (HdrHistograms added), with its encoded histogram. */
  merged: { produce: LatencySummary; e2e: LatencySummary; sendDelay: LatencySummary }
  /** The worst of the runs' verdicts. */
  verdict: Results['verdict']['state']
}

/** The seed of repeat i (1-based): the run's seed for the first, then successive ones, wrapped to 32 bits. */
export const repeatSeed = (seed: number, i: number): number => (seed + i - 1) >>> 0

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

function runBaselineCmd(o: RepeatOptions, dir: string, seed: number): Promise<number> {
  const args = ['run', o.file, '--out', dir, '--seed', String(seed), '--quiet', ...(o.duration ? ['--duration', o.duration] : []), ...(o.driver ? ['--driver', o.driver] : [])]
  const command = `${o.baselineCmd} ${args.map(quote).join(' ')}`
  return new Promise((res, rej) => {
    const child = spawn(command, { shell: true, stdio: ['ignore', 'ignore', 'inherit'] })
    const onAbort = (): void => {
      child.kill('SIGINT')
    }
    o.signal.addEventListener('abort', onAbort, { once: true })
    child.on('error', rej)
    child.on('exit', (code, sig) => {
      o.signal.removeEventListener('abort', onAbort)
      res(code ?? (sig ? 3 : 0))
    })
  })
}

export function aggregate(scenario: string, runs: { dir: string; seed: number; results: Results }[]): Aggregate {
  const merge = (pick: (r: Results) => LatencySummary): LatencySummary => runs.map((r) => pick(r.results)).reduce((a, b) => mergeSummaries(a, b))
  const states = runs.map((r) => r.results.verdict.state)
  return {
    schemaVersion: 1,
    scenario,
    repeat: runs.length,
    runs: runs.map(({ dir, seed, results: r }) => ({
      dir,
      seed,
      verdict: r.verdict.state,
      throughput: r.metrics.produce.rate,
      produceP99: r.metrics.produce.latency.p99,
      e2eP99: r.metrics.e2e.p99,
    })),
    merged: { produce: merge((r) => r.metrics.produce.latency), e2e: merge((r) => r.metrics.e2e), sendDelay: merge((r) => r.metrics.sendDelay) },
    verdict: states.includes('errored') ? 'errored' : states.includes('failed') ? 'failed' : 'passed',
  }
}

/** Runs the repeats (and the interleaved baseline build); returns the exit code. */
export async function runRepeated(o: RepeatOptions): Promise<number> {
  const runs: { dir: string; seed: number; results: Results }[] = []
  let baselineFailures = 0
  for (let i = 1; i <= o.repeat && !o.signal.aborted; i++) {
    const seed = repeatSeed(o.seed, i)
    const dir = join(o.outDir, `repeat-${i}`)
    const candidate = async (): Promise<void> => {
      o.progress.info(`repeat ${i}/${o.repeat}: seed ${seed}, output in ${dir}`)
      // A signal of its own per run: a run leaves its listener on the signal it is given.
      const own = new AbortController()
      const forward = (): void => own.abort()
      o.signal.addEventListener('abort', forward, { once: true })
      try {
        runs.push({ dir, seed, results: await runScenario(o.scenario, { outDir: dir, seed, progress: o.progress, signal: own.signal }) })
      } finally {
        o.signal.removeEventListener('abort', forward)
      }
    }
    const baseline = async (): Promise<void> => {
      if (!o.baselineCmd || o.signal.aborted) return
      const bdir = join(o.outDir, 'baseline', `repeat-${i}`)
      o.progress.info(`repeat ${i}/${o.repeat}: baseline build (${o.baselineCmd}), seed ${seed}, output in ${bdir}`)
      const code = await runBaselineCmd(o, bdir, seed)
      if (code !== 0 && code !== 1) {
        baselineFailures++
        o.progress.info(`repeat ${i}/${o.repeat}: the baseline build exited ${code}`)
      }
    }
    try {
      if (i % 2 === 1) {
        await baseline()
        await candidate()
      } else {
        await candidate()
        await baseline()
      }
    } catch (e) {
      if (e instanceof RunError) {
        o.stderr.write(`faultline run: repeat ${i}: ${e.message}\n`)
        return e.exitCode
      }
      throw e
    }
  }
  if (runs.length === 0) return 3
  const agg = aggregate(o.scenario.name, runs)
  mkdirSync(o.outDir, { recursive: true })
  writeFileSync(join(o.outDir, 'aggregate.json'), `${JSON.stringify(agg, null, 2)}\n`)
  o.stdout.write(`${runs.length} run${runs.length === 1 ? '' : 's'} of ${o.scenario.name}: ${runs.map((r) => r.results.verdict.state).join(', ')}\n`)
  let code = Math.max(...runs.map((r) => exitCodeOf(r.results)))
  const baselinePath = o.baselineCmd ? join(o.outDir, 'baseline') : o.baseline
  if (baselinePath !== undefined) {
    let base: RunSet
    try {
      base = loadRunSet(baselinePath)
    } catch (e) {
      if (!(e instanceof ResultsError)) throw e
      o.stderr.write(`faultline run: baseline: ${e.message}\n`)
      return 3
    }
    if (base.runs.length === 0) {
      o.stderr.write(`faultline run: baseline ${baselinePath}: no usable run (${baselineFailures} failed to run; ${base.excluded.join('; ')})\n`)
      return 3
    }
    const cand: RunSet = { source: o.outDir, runs: runs.filter((r) => r.results.verdict.state !== 'errored').map((r) => r.results), excluded: [], verdicts: runs.map((r) => r.results.verdict.state) }
    const c: Comparison = compareRunSets(base, cand)
    writeFileSync(join(o.outDir, 'comparison.json'), `${JSON.stringify(c, null, 2)}\n`)
    writeFileSync(join(o.outDir, 'comparison.md'), renderComparisonMarkdown(c))
    warnEnvironment(c, (s) => o.stderr.write(s))
    o.stdout.write(`\n${renderComparisonConsole(c)}`)
    if (c.verdict === 'regressed' && code < 1) code = 1
  }
  o.stdout.write(`\nresults  ${resolve(o.outDir)}/repeat-1..${runs.length}/results.json\n         ${resolve(o.outDir, 'aggregate.json')}\n`)
  return o.signal.aborted ? 3 : code
}
