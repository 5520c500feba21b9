// docs/ci/github-actions.yml, the CI recipe's example workflow: valid YAML of the shape GitHub Actions reads,
// every `faultline` command in its steps exists in the built CLI (bin/faultline.ts) with every flag it passes,
// every scenario it runs passes `faultline validate`, and it does what the README promises: a job on the
// built-in cluster (5 runs in turn with the base branch's build on a pull request) and one on an Apache Kafka
// service container (5 runs against the 5 kept from main), each exiting 1 on a regression and uploading
// report.html whatever the outcome.

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { cli } from '../e2e/cli.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const workflowPath = join(root, 'docs/ci/github-actions.yml')

interface Step {
  name?: string
  uses?: string
  run?: string
  if?: string
  with?: Record<string, unknown>
  env?: Record<string, unknown>
}

interface Job {
  'runs-on': string
  services?: Record<string, { image: string; ports?: string[]; env?: Record<string, unknown>; options?: string }>
  steps: Step[]
}

const workflow = parse(readFileSync(workflowPath, 'utf8'), { prettyErrors: true, strict: true }) as { on: unknown; jobs: Record<string, Job> }

/** Each `faultline CMD ARGS...` in a shell script: one per line, up to a pipe, `;`, `&&` or the line's end. */
function faultlineCalls(script: string): { command: string; args: string[] }[] {
  const calls: { command: string; args: string[] }[] = []
  for (const line of script.split('\n')) {
    for (const m of line.matchAll(/(?:^|[\s;&|(])(?:npx\s+)?faultline\s+([a-z][a-z-]*)([^|;&)]*)/g)) {
      calls.push({ command: m[1]!, args: m[2]!.trim().split(/\s+/).filter(Boolean) })
    }
  }
  return calls
}

const jobs = Object.entries(workflow.jobs)
const calls = jobs.flatMap(([job, j]) => j.steps.flatMap((s) => (s.run ? faultlineCalls(s.run).map((c) => ({ job, ...c })) : [])))

describe('docs/ci/github-actions.yml', () => {
  it('parses as a workflow with a job on the built-in cluster and one on a KRaft Apache Kafka service container', () => {
    expect(workflow.on).toBeTruthy()
    expect(Object.keys(workflow.jobs).sort()).toEqual(['builtin', 'kafka'])
    for (const [name, j] of jobs) {
      expect(j['runs-on'], name).toMatch(/^ubuntu-/)
      expect(j.steps.length, name).toBeGreaterThan(0)
      for (const s of j.steps) expect(Boolean(s.uses) !== Boolean(s.run), `${name}: a step has exactly one of uses and run: ${JSON.stringify(s)}`).toBe(true)
    }
    const kafka = workflow.jobs.kafka!.services?.kafka
    expect(kafka?.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/)
    expect(kafka?.ports).toContain('9092:9092')
    expect(String(kafka?.env?.KAFKA_PROCESS_ROLES)).toBe('broker,controller')
    expect(kafka?.options).toMatch(/--health-cmd/)
    expect(workflow.jobs.builtin!.services).toBeUndefined()
  })

  it('runs a scenario 5 times a side against a baseline in each job, and uploads report.html whatever the outcome', () => {
    for (const [name, j] of jobs) {
      const runs = calls.filter((c) => c.job === name && c.command === 'run')
      expect(runs, `${name}: one faultline run`).toHaveLength(1)
      // One run a side is always inconclusive: a recipe without repeats could never fail on a regression.
      expect(runs[0]!.args.join(' '), `${name}: repeats`).toMatch(/--repeat 5\b/)
      const uploads = j.steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'))
      const report = uploads.find((s) => String(s.with?.path).includes('report.html'))
      expect(report?.if, `${name}: uploads report.html even when the run failed`).toBe('always()')
    }
    // builtin: on a pull request, the base branch built beside this one and run in turn on the same runner.
    const builtin = workflow.jobs.builtin!.steps
    const base = builtin.find((s) => s.uses?.startsWith('actions/checkout@') && s.with?.path === 'baseline-build')
    expect(String(base?.with?.ref)).toMatch(/pull_request\.base\.sha/)
    expect(builtin.find((s) => s.run?.includes('--baseline-cmd "node baseline-build/dist/bin/faultline.js"'))).toBeDefined()
    // kafka: the 5 runs of the latest push to main, kept as an artifact, are the baseline.
    const kafka = workflow.jobs.kafka!.steps
    expect(kafka.find((s) => s.run?.includes('gh run download') && s.run.includes('faultline-baseline-kafka'))).toBeDefined()
    expect(kafka.find((s) => s.run?.includes('--baseline baseline'))).toBeDefined()
    const keep = kafka.find((s) => s.uses?.startsWith('actions/upload-artifact@') && s.with?.name === 'faultline-baseline-kafka')
    expect(String(keep?.with?.path)).toBe('out/repeat-*/results.json')
    expect(keep?.if, 'only pushes to main set the baseline').toMatch(/refs\/heads\/main/)
  })

  it('calls only faultline commands and flags that bin/faultline.ts has', async () => {
    expect(calls.length).toBeGreaterThan(0)
    const seen = new Map<string, string>()
    for (const c of calls) {
      if (!seen.has(c.command)) {
        const help = await cli([c.command, '--help'])
        expect(help.code, `faultline ${c.command} --help: ${help.stderr}`).toBe(0)
        seen.set(c.command, help.stdout)
      }
      const usage = seen.get(c.command)!
      for (const flag of c.args.filter((a) => a.startsWith('--'))) {
        expect(usage, `${c.job}: faultline ${c.command} ${flag}`).toMatch(new RegExp(`\\[?${flag.replace(/-/g, '\\-')}[\\s\\]=]`))
      }
    }
  })

  it('runs scenario files that exist and are valid', async () => {
    const files = [...new Set(calls.filter((c) => c.command === 'run' || c.command === 'validate').map((c) => c.args[0]!))]
    expect(files).toEqual(expect.arrayContaining(['scenarios/quickstart.yaml', 'docs/ci/kafka.yaml']))
    for (const f of files) {
      expect(existsSync(join(root, f)), f).toBe(true)
      const v = await cli(['validate', join(root, f)])
      expect(v.code, `${f}: ${v.stderr}`).toBe(0)
    }
  })
})
