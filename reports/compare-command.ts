// `faultline compare BASELINE CANDIDATE [--format console|md|json|junit] [--out FILE] [--threshold METRIC=PCT ...]
// [--alpha P] [--seed N]`: each side a results.json, a run directory or a directory of `run --repeat` runs. Exit 0 when no
// metric regressed, 1 on a regression, 2 on bad input. Environment differences are printed to stderr whatever
// the format, so a CI log shows them beside the verdict.

import { writeFileSync } from 'node:fs'
import { compareRunSets, type Comparison, comparisonExitCode, environmentWarnings, loadRunSet, type RegressionThresholds, regressionMetrics, renderComparisonConsole, renderComparisonMarkdown, type RunSet } from './compare.ts'
import { renderComparisonJunit } from './render-junit.ts'
import { ResultsError } from './results.ts'

export const compareFormats = ['console', 'md', 'json', 'junit'] as const
export type CompareFormat = (typeof compareFormats)[number]

export interface CompareFlags {
  format?: string
  out?: string
  threshold?: string[]
  alpha?: string
  seed?: string
}

export interface CompareIo {
  stdout: (s: string) => void
  stderr: (s: string) => void
}

const processIo: CompareIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) }

/** --threshold throughput=5%: the metric and its fraction, or an error message. */
export function parseThreshold(text: string): { metric: keyof RegressionThresholds; value: number } | string {
  const m = /^([^=]+)=(\d+(?:\.\d+)?)%$/.exec(text)
  if (m === null) return `--threshold ${JSON.stringify(text)}: expected METRIC=PERCENT, like throughput=5%`
  if (!(regressionMetrics as readonly string[]).includes(m[1]!)) return `--threshold ${m[1]}: not a compared metric; expected one of ${regressionMetrics.join(', ')}`
  return { metric: m[1] as keyof RegressionThresholds, value: Number(m[2]) / 100 }
}

export function renderComparison(c: Comparison, format: CompareFormat): string {
  if (format === 'md') return renderComparisonMarkdown(c)
  if (format === 'json') return `${JSON.stringify(c, null, 2)}\n`
  if (format === 'junit') return renderComparisonJunit(c)
  return renderComparisonConsole(c)
}

/** Prints environment differences loudly (stderr), framed so they stand out in a CI log. */
export function warnEnvironment(c: Comparison, write: (s: string) => void): void {
  const w = environmentWarnings(c)
  if (w.length === 0) return
  const bar = '!'.repeat(78)
  write(`${bar}\n${w.map((x) => `!! ${x}`).join('\n')}\n!! the two sides did not run alike: a difference may come from the environment, not the build\n${bar}\n`)
}

export function compareCommand(baseline: string, candidate: string, flags: CompareFlags = {}, io: CompareIo = processIo): number {
  const format = (flags.format ?? 'console') === 'markdown' ? 'md' : (flags.format ?? 'console')
  const fail = (msg: string): number => {
    io.stderr(`faultline compare: ${msg}\n`)
    return 2
  }
  if (!(compareFormats as readonly string[]).includes(format)) return fail(`--format ${JSON.stringify(flags.format)} is not one of ${compareFormats.join(', ')}`)
  const thresholds: RegressionThresholds = {}
  for (const t of flags.threshold ?? []) {
    const r = parseThreshold(t)
    if (typeof r === 'string') return fail(r)
    thresholds[r.metric] = r.value
  }
  let seed: number | undefined
  if (flags.seed !== undefined) {
    if (!/^\d{1,10}$/.test(flags.seed) || Number(flags.seed) > 2 ** 32 - 1) return fail(`--seed ${JSON.stringify(flags.seed)}: expected an integer from 0 to ${2 ** 32 - 1}`)
    seed = Number(flags.seed)
  }
  let alpha: number | undefined
  if (flags.alpha !== undefined) {
    alpha = Number(flags.alpha)
    if (!/^0?\.\d+$/.test(flags.alpha) || !(alpha > 0 && alpha < 0.5)) return fail(`--alpha ${JSON.stringify(flags.alpha)}: expected a significance level between 0 and 0.5, like 0.01`)
  }
  let base: RunSet
  let cand: RunSet
  try {
    base = loadRunSet(baseline)
    cand = loadRunSet(candidate)
  } catch (err) {
    if (err instanceof ResultsError) return fail(err.message)
    throw err
  }
  for (const [name, s] of [['baseline', base], ['candidate', cand]] as const) {
    if (s.runs.length === 0) return fail(`${name} ${s.source}: every run errored; nothing to compare (${s.excluded.join('; ')})`)
  }
  const c = compareRunSets(base, cand, { thresholds, seed, alpha })
  warnEnvironment(c, io.stderr)
  const text = renderComparison(c, format as CompareFormat)
  if (flags.out === undefined || flags.out === '-') io.stdout(text)
  else {
    try {
      writeFileSync(flags.out, text)
    } catch (err) {
      return fail(`cannot write ${flags.out}: ${(err as Error).message}`)
    }
    io.stdout(renderComparisonConsole(c))
  }
  return comparisonExitCode(c)
}
