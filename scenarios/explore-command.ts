// `faultline explore SCENARIO.yaml [--runs N] [--seed S] ...`: flags, Ctrl-C and what is printed; the search
// itself is explore.ts.
//
// Exit codes: 0 every schedule passed, 1 a failing schedule was found (the counterexample file written),
// 2 bad scenario or flags, 3 interrupted. The first Ctrl-C ends the current run (its resources torn down as in
// `faultline run`) and the search; a second one quits at once.

import { dirname, resolve } from 'node:path'
import { explorableKinds } from '../chaos/fault-space.ts'
import { consoleProgress } from '../reports/progress.ts'
import { parseDurationFlag } from './duration.ts'
import {
  DEFAULT_SCALE,
  defaultExploreDir,
  describeSchedule,
  explore,
  ExploreInputError,
  type ExploreOutcome,
  parseKinds,
  pruneExploreDirs,
  type SpaceOptions,
} from './explore.ts'
import { timeSeed } from './runner.ts'
import { parseSeed, type RunIo } from './runner-command.ts'
import { formatDuration, parseRate } from './units.ts'

export interface ExploreFlags {
  readonly runs?: string
  readonly seed?: string
  readonly out?: string
  readonly duration?: string
  readonly rate?: string
  readonly keys?: string
  readonly faults?: string
  readonly kinds?: string
  readonly faultDuration?: string
  readonly shrinkRuns?: string
  readonly confirm?: string
  readonly checks?: string
  readonly verbose?: boolean
}

/** Explore directories kept under runs/ (older ones are removed), so repeated explores stay bounded on disk. */
const KEEP_EXPLORE_DIRS = 10

export const EXPLORE_USAGE = [
  'faultline explore SCENARIO.yaml [--runs 20] [--seed S] [--out DIR] [--duration D] [--rate R] [--keys K]',
  '                 [--kinds kill,partition,...] [--faults N] [--fault-duration MIN-MAX] [--shrink-runs N] [--confirm N]',
  '                 [--checks delivery|all] [--verbose]',
  '  Generates fault schedules (fast-check) for the scenario\'s cluster, runs each as `faultline run` would, and',
  '  on a failure shrinks the schedule and writes the smallest failing one as a scenario (DIR/counterexample.yaml).',
  '  --runs N            schedules to try (default 20)',
  '  --seed S            seed of the search and of every run (default from the clock; printed)',
  '  --out DIR           explore directory (default runs/explore-<time>; the newest 10 of those are kept)',
  '  --duration D        length of each run (default the scenario\'s, at most 20s)',
  `  --rate R            cap on each producer group's rate (default ${DEFAULT_SCALE.maxRate}/s)`,
  `  --keys K            cap on key counts (default ${DEFAULT_SCALE.maxKeys})`,
  `  --kinds LIST        fault kinds to draw, of ${explorableKinds().join(', ')}\n` +
    '                      (default the scenario\'s nemesis kinds, else every kind the backend applies on this\n' +
    '                      machine: partitions only with root and iptables; docker: partitions or the proxy\n' +
    '                      kinds, never both)',
  '  --faults N          most faults per schedule (default 4)',
  '  --fault-duration R  how long a fault lasts, like 1s-5s (default 2s to half the run)',
  '  --shrink-runs N     runs allowed for shrinking a failure (default 30)',
  '  --confirm N         runs of the counterexample to confirm it fails (default 1); a smaller one that does not\n' +
    '                      fail again gives way to the next larger failing schedule (up to 3 tried)',
  '  --checks delivery   the property is the delivery checks (default); all keeps the SLOs too',
  '  Exit codes: 0 all passed, 1 a failure found (counterexample written), 2 bad input, 3 interrupted.',
].join('\n')

function count(text: string | undefined, flag: string, min: number, fallback: number): number | string {
  if (text === undefined) return fallback
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 1_000_000) return `${flag} ${JSON.stringify(text)}: expected an integer from ${min} to 1000000`
  return Number(text)
}

export async function exploreCommand(file: string, flags: ExploreFlags, io: RunIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const err = (s: string): void => {
    io.stderr.write(`faultline explore: ${s}\n`)
  }
  const problems: string[] = []
  const num = (text: string | undefined, flag: string, min: number, fallback: number): number => {
    const v = count(text, flag, min, fallback)
    if (typeof v === 'string') {
      problems.push(v)
      return fallback
    }
    return v
  }
  const runs = num(flags.runs, '--runs', 1, 20)
  const maxFaults = num(flags.faults, '--faults', 1, 4)
  const shrinkRuns = num(flags.shrinkRuns, '--shrink-runs', 0, 30)
  const confirmRuns = num(flags.confirm, '--confirm', 0, 1)
  const maxKeys = num(flags.keys, '--keys', 1, DEFAULT_SCALE.maxKeys)
  let seed = timeSeed()
  if (flags.seed !== undefined) {
    const s = parseSeed(flags.seed)
    if (s === null) problems.push(`--seed ${JSON.stringify(flags.seed)}: expected an integer from 0 to ${2 ** 32 - 1}`)
    else seed = s
  }
  let durationMs: number | undefined
  if (flags.duration !== undefined) {
    const d = parseDurationFlag(flags.duration)
    if (d.ok) durationMs = d.ms
    else problems.push(d.message)
  }
  let maxRate = DEFAULT_SCALE.maxRate
  if (flags.rate !== undefined) {
    const r = parseRate(flags.rate)
    if (!r.ok || r.value.unit !== 'messages') problems.push(`--rate ${JSON.stringify(flags.rate)}: expected a message rate, like 500/s`)
    else maxRate = r.value.perSecond
  }
  const space: { -readonly [K in keyof SpaceOptions]: SpaceOptions[K] } = { maxFaults }
  if (flags.kinds !== undefined) {
    const k = parseKinds(flags.kinds)
    if (k.ok) space.kinds = k.kinds
    else problems.push(k.message)
  }
  if (flags.faultDuration !== undefined) {
    const m = /^([^-]+)-([^-]+)$/.exec(flags.faultDuration)
    const lo = m ? parseDurationFlag(m[1]!) : null
    const hi = m ? parseDurationFlag(m[2]!) : null
    if (!lo?.ok || !hi?.ok || lo.ms > hi.ms) problems.push(`--fault-duration ${JSON.stringify(flags.faultDuration)}: expected MIN-MAX, like 1s-5s`)
    else space.duration = { minMs: lo.ms, maxMs: hi.ms }
  }
  const checks = flags.checks === 'all' ? 'all' : 'delivery'
  if (flags.checks !== undefined && flags.checks !== 'delivery' && flags.checks !== 'all') problems.push(`--checks ${JSON.stringify(flags.checks)}: expected delivery or all`)
  if (problems.length > 0) {
    for (const p of problems) err(p)
    return 2
  }

  const outDir = flags.out ?? defaultExploreDir()
  const controller = new AbortController()
  const signals = io.signals ?? process
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      err('interrupted again: quitting now')
      ;(io.forceExit ?? (() => process.exit(130)))()
      return
    }
    io.stderr.write('\nfaultline explore: interrupted: ending the current run (its cluster torn down) and the search (Ctrl-C again to quit at once)\n')
    controller.abort()
  }
  signals.on('SIGINT', onSignal)
  signals.on('SIGTERM', onSignal)
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`)
  }
  log(`faultline explore ${file}: seed ${seed}${flags.seed === undefined ? ` (from the clock; replay with --seed ${seed})` : ''}, up to ${runs} runs; output in ${outDir}`)
  let outcome: ExploreOutcome
  try {
    outcome = await explore({
      file,
      runs,
      seed,
      outDir,
      scale: { durationMs, maxRate, maxKeys, checks },
      space,
      shrinkRuns,
      confirmRuns,
      log,
      runProgress: flags.verbose ? consoleProgress(io.stderr) : undefined,
      signal: controller.signal,
    })
  } catch (e) {
    if (e instanceof ExploreInputError) {
      for (const line of e.message.split('\n')) err(line)
      return 2
    }
    throw e
  } finally {
    signals.off('SIGINT', onSignal)
    signals.off('SIGTERM', onSignal)
  }
  if (flags.out === undefined) pruneExploreDirs(dirname(outDir), KEEP_EXPLORE_DIRS)

  const out = io.stdout
  for (const n of outcome.notes) log(`scaled: ${n}`)
  const wall = formatDuration(Math.round(outcome.wallMs / 100) * 100)
  const errored = outcome.erroredRuns > 0 ? ` (${outcome.erroredRuns} errored: the harness failed, not a check; see their run.log)` : ''
  if (outcome.state === 'interrupted') {
    out.write(`explore INTERRUPTED after ${outcome.runs.length} run${outcome.runs.length === 1 ? '' : 's'}${errored}; seed ${seed}; runs kept in ${resolve(outDir)}\n`)
    return 3
  }
  if (outcome.state === 'passed') {
    out.write(`explore PASSED: ${outcome.searchRuns} schedules, every check held${errored}\n  seed ${seed}  wall ${wall}  runs in ${resolve(outDir)}\n`)
    return 0
  }
  const f = outcome.failure!
  out.write(
    [
      `explore FAILED: search run ${outcome.searchRuns} of ${runs} broke the checks`,
      `  first failing schedule  ${describeSchedule(f.firstFaults)}`,
      `  shrunk in ${f.shrinkSteps} steps (${f.shrinkRuns} shrink runs) to ${f.shrunkFaults.length} fault${f.shrunkFaults.length === 1 ? '' : 's'}: ${describeSchedule(f.shrunkFaults)}`,
      f.faults === f.shrunkFaults ? '' : `  written instead  ${describeSchedule(f.faults)} (the smaller ones did not fail again when confirmed)`,
      `  which fails with  ${f.reasons.join('; ')}`,
      f.confirmRuns > 0 ? `  confirmed  the written scenario failed ${f.confirmed} of ${f.confirmRuns} runs${f.confirmed < f.confirmRuns ? ' (no shrunk schedule failed every time; the failure depends on timing, run it again)' : ''}` : '',
      `  seed ${seed}  wall ${wall}${errored}`,
      `  counterexample  ${f.path}`,
      `  reproduce       faultline run ${f.path}`,
      '',
    ]
      .filter((l) => l !== '')
      .join('\n') + '\n',
  )
  return 1
}
