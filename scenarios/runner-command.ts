// `faultline run SCENARIO.yaml [--out DIR] [--seed N] [--duration D] [--baseline RESULTS.json|DIR] [--repeat N]
// [--baseline-cmd CMD] [--quiet]`: flags, the scenario file, Ctrl-C, and what is printed; the run itself is
// runner.ts, --duration is duration.ts, --repeat and --baseline-cmd are runner-repeat.ts. --baseline compares
// with reports/compare.ts, stores the comparison in results.json and exits 1 on a regression.
//
// Output: progress and run messages on stderr (a redrawn line on a terminal, plain lines in CI logs), the
// summary on stdout, so `faultline run x.yaml > summary.txt` keeps just the summary.
// Exit codes: 0 passed, 1 a check or SLO failed, 2 bad scenario or flags, 3 the harness failed or was
// interrupted. The first Ctrl-C stops the run, closes the cluster and still writes results.json (errored);
// a second one quits at once (the brokers exit with us).

import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { consoleProgress, silentProgress } from '../reports/progress.ts'
import { renderConsole } from '../reports/render-console.ts'
import { exitCodeOf, type Results, ResultsError, writeResults } from '../reports/results.ts'
import { MAX_SEED, parseSeed, summarize } from './commands.ts'
import { durationAdjustment, parseDurationFlag } from './duration.ts'
import { compareRunSets, loadRunSet, renderComparisonConsole, type RunSet } from '../reports/compare.ts'
import { warnEnvironment } from '../reports/compare-command.ts'
import { renderMarkdown } from '../reports/render-markdown.ts'
import { runRepeated } from './runner-repeat.ts'
import { defaultOutDir, RunError, runScenario, timeSeed } from './runner.ts'
import { composeAdjustments, driverAdjustment, loadScenario, type Scenario, type ScenarioAdjustment, ScenarioError } from './schema.ts'
import { type DriverName, driverNames } from '../workloads/drivers/registry.ts'

export interface RunFlags {
  readonly out?: string
  readonly seed?: string
  /** Replaces workload.duration (see duration.ts). */
  readonly duration?: string
  /** Replaces workload.driver: the same scenario through another client library. */
  readonly driver?: string
  readonly baseline?: string
  /** Runs of the scenario, each on a fresh cluster (runner-repeat.ts). */
  readonly repeat?: string
  /** A command running the baseline build's faultline, interleaved with this build's runs. */
  readonly baselineCmd?: string
  readonly quiet?: boolean
}

export interface RunIo {
  readonly stdout: { write(s: string): unknown }
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  /** Where SIGINT/SIGTERM come from; tests pass an EventEmitter. Default process. */
  readonly signals?: { on(sig: 'SIGINT' | 'SIGTERM', f: () => void): unknown; off(sig: 'SIGINT' | 'SIGTERM', f: () => void): unknown }
  /** Called on a second Ctrl-C. Default process.exit(130). */
  readonly forceExit?: () => void
}

export { parseSeed }

export const DRIVER_FLAG_HELP = `  --driver NAME run the scenario through this client library instead of its workload.driver (${driverNames.join(', ')})`

export async function runCommand(file: string, flags: RunFlags, io: RunIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const err = (s: string): void => {
    io.stderr.write(`faultline run: ${s}\n`)
  }
  let seed: number | undefined
  if (flags.seed !== undefined) {
    const parsed = parseSeed(flags.seed)
    if (parsed === null) {
      err(`--seed ${JSON.stringify(flags.seed)}: expected an integer from 0 to ${MAX_SEED}`)
      return 2
    }
    seed = parsed
  }

  let durationMs: number | undefined
  if (flags.duration !== undefined) {
    const d = parseDurationFlag(flags.duration)
    if (!d.ok) {
      err(d.message)
      return 2
    }
    durationMs = d.ms
  }

  let driver: DriverName | undefined
  if (flags.driver !== undefined) {
    if (!(driverNames as readonly string[]).includes(flags.driver)) {
      err(`--driver ${JSON.stringify(flags.driver)}: expected one of ${driverNames.join(', ')}`)
      return 2
    }
    driver = flags.driver as DriverName
  }

  let scenario: Scenario
  const notes: string[] = []
  const adjustments: ScenarioAdjustment[] = []
  if (durationMs !== undefined) adjustments.push(durationAdjustment(durationMs, notes))
  if (driver !== undefined) adjustments.push(driverAdjustment(driver, notes))
  try {
    scenario = loadScenario(file, adjustments.length === 0 ? {} : { adjust: composeAdjustments(adjustments) })
  } catch (e) {
    if (!ScenarioError.is(e)) throw e
    io.stderr.write(`${e.message}\n`)
    const overrides = [flags.duration === undefined ? '' : ` --duration ${flags.duration}`, driver === undefined ? '' : ` --driver ${driver}`].join('')
    const what = overrides === '' ? file : `${file} with${overrides}`
    const validate = `${file}${flags.duration === undefined ? '' : ` --duration ${flags.duration}`}`
    err(`${what} is not a valid scenario; nothing was run (\`faultline validate ${validate}\` checks it, \`faultline schema\` prints what it accepts)`)
    return 2
  }

  // --seed, else the scenario's own seed (a counterexample from `faultline explore` pins one), else the clock.
  const seedFrom = seed !== undefined ? 'flag' : scenario.seed !== undefined ? 'scenario' : 'clock'
  seed ??= scenario.seed ?? timeSeed()

  let repeat = 1
  if (flags.repeat !== undefined) {
    if (!/^\d{1,3}$/.test(flags.repeat) || Number(flags.repeat) < 1) {
      err(`--repeat ${JSON.stringify(flags.repeat)}: expected a whole number of runs from 1 to 999`)
      return 2
    }
    repeat = Number(flags.repeat)
  }
  if (flags.baseline !== undefined && flags.baselineCmd !== undefined) {
    err('--baseline and --baseline-cmd exclude each other: compare with earlier runs, or run the baseline build now')
    return 2
  }
  if (flags.baselineCmd !== undefined && flags.baselineCmd.trim() === '') {
    err('--baseline-cmd: empty; expected a command running the baseline build, like "node ../main/dist/bin/faultline.js"')
    return 2
  }
  let baseline: RunSet | null = null
  if (flags.baseline !== undefined) {
    try {
      baseline = loadRunSet(flags.baseline)
    } catch (e) {
      if (!(e instanceof ResultsError)) throw e
      err(`--baseline: ${e.message}; expected the results.json of an earlier run or a directory of repeated runs`)
      return 2
    }
    if (baseline.runs.length === 0) {
      err(`--baseline ${flags.baseline}: every run in it errored; nothing to compare with`)
      return 2
    }
  }

  const outDir = flags.out ?? defaultOutDir(scenario.name)
  const progress = flags.quiet ? silentProgress : consoleProgress(io.stderr)
  progress.info(`faultline run ${file}: ${summarize(scenario)}`)
  for (const note of notes) progress.info(note)
  progress.info(`seed ${seed}${seedFrom === 'clock' ? ` (from the clock; replay with --seed ${seed})` : seedFrom === 'scenario' ? ' (from the scenario file)' : ''}; output in ${outDir}`)

  const controller = new AbortController()
  const signals = io.signals ?? process
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      err('interrupted again: quitting now')
      ;(io.forceExit ?? (() => process.exit(130)))()
      return
    }
    io.stderr.write('\nfaultline run: interrupted: stopping the run, closing the cluster and writing results (Ctrl-C again to quit at once)\n')
    controller.abort()
  }
  signals.on('SIGINT', onSignal)
  signals.on('SIGTERM', onSignal)
  if (repeat > 1 || flags.baselineCmd !== undefined) {
    try {
      return await runRepeated({
        file,
        scenario,
        outDir,
        seed,
        repeat,
        baseline: flags.baseline,
        baselineCmd: flags.baselineCmd,
        duration: flags.duration,
        driver,
        progress,
        signal: controller.signal,
        stdout: io.stdout,
        stderr: io.stderr,
      })
    } finally {
      signals.off('SIGINT', onSignal)
      signals.off('SIGTERM', onSignal)
    }
  }
  let results: Results
  try {
    results = await runScenario(scenario, { outDir, seed, progress, signal: controller.signal })
  } catch (e) {
    if (e instanceof RunError) {
      for (const line of e.message.split('\n')) err(line)
      if (e.exitCode === 2) err(`nothing was run; fix ${file} (or the flags) and run it again`)
      return e.exitCode
    }
    throw e
  } finally {
    signals.off('SIGINT', onSignal)
    signals.off('SIGTERM', onSignal)
  }

  io.stdout.write(renderConsole(results))
  let code = exitCodeOf(results)
  if (baseline !== null) {
    const comparison = compareRunSets(baseline, { source: outDir, runs: results.verdict.state === 'errored' ? [] : [results], excluded: [], verdicts: [results.verdict.state] })
    // Stored in results.json (and results.md), so `faultline report` renders it and CI keeps it.
    results = { ...results, comparison }
    writeResults(join(outDir, 'results.json'), results)
    writeFileSync(join(outDir, 'results.md'), renderMarkdown(results))
    warnEnvironment(comparison, (s) => io.stderr.write(s))
    io.stdout.write(`\n${renderComparisonConsole(comparison)}`)
    if (comparison.verdict === 'regressed' && code === 0) code = 1
  }
  io.stdout.write(`\nresults  ${resolve(outDir, 'results.json')}\n         ${resolve(outDir, 'results.md')}\n         ${resolve(outDir, 'report.html')}\n`)
  return code
}
