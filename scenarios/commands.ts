// `faultline validate FILE` and `faultline schema`: thin wrappers that print and return the exit code, so
// bin/faultline.ts only wires them and tests can run them without a process.

import { durationAdjustment, parseDurationFlag } from './duration.ts'
import { formatDuration, formatRate, formatSize } from './units.ts'
import { loadScenario, type Scenario, ScenarioError, scenarioJsonSchema } from './schema.ts'

export interface CommandOutput {
  readonly stdout: { write(chunk: string): unknown }
  readonly stderr: { write(chunk: string): unknown }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** One line: what the scenario will do, so a user can check it reads the way they meant. */
export function summarize(s: Scenario): string {
  const cluster = s.cluster.backend === 'external' ? `external, ${s.cluster.bootstrap.join(',')}` : `${s.cluster.backend}, ${plural(s.cluster.brokers, 'broker')}`
  const partitions = s.topics.reduce((n, t) => n + t.partitions, 0)
  const rates = s.workload.producers.map((p) => (p.rate.kind === 'max' ? 'max' : formatRate({ unit: 'messages', perSecond: p.rate.perSecond })))
  const backlog = s.workload.backlog === null ? '' : `; backlog ${formatSize(s.workload.backlog.bytes)}`
  const delivery = Object.values(s.checks.delivery).filter((v) => v !== null).length
  return [
    `${s.name} (${cluster})`,
    `${plural(s.topics.length, 'topic')}, ${plural(partitions, 'partition')}`,
    `${formatDuration(s.workload.durationMs)} with ${formatDuration(s.workload.warmupMs)} warmup`,
    `${plural(s.workload.producers.length, 'producer group')} at ${rates.join(' + ')}`,
    `${plural(s.workload.consumers.length, 'consumer group')}${backlog}`,
    plural(s.faults.length, 'fault'),
    `${plural(delivery, 'delivery check')}, ${plural(s.checks.slo.length, 'SLO')}`,
  ].join('; ')
}

/**
 * Exit 0 with a one-line summary when the file is valid; 2 with every problem when it is not. `--duration`
 * judges the scenario as `faultline run --duration` would run it.
 */
export function validateCommand(file: string, out: CommandOutput, flags: { readonly duration?: string } = {}): number {
  let durationMs: number | undefined
  if (flags.duration !== undefined) {
    const d = parseDurationFlag(flags.duration)
    if (!d.ok) {
      out.stderr.write(`faultline validate: ${d.message}\n`)
      return 2
    }
    durationMs = d.ms
  }
  const notes: string[] = []
  let scenario: Scenario
  try {
    scenario = loadScenario(file, durationMs === undefined ? {} : { adjust: durationAdjustment(durationMs, notes) })
  } catch (err) {
    if (!ScenarioError.is(err)) throw err
    out.stderr.write(`${err.message}\n`)
    const what = durationMs === undefined ? file : `${file} with --duration ${flags.duration}`
    out.stderr.write(`${what}: ${plural(err.problems.length, 'problem')}; nothing was run (\`faultline schema\` prints what a scenario accepts)\n`)
    return 2
  }
  for (const note of notes) out.stdout.write(`${note}\n`)
  out.stdout.write(`ok ${file}: ${summarize(scenario)}\n`)
  return 0
}

/** Prints the scenario JSON Schema (draft-07) for editors, e.g. `faultline schema > scenario.schema.json`. */
export function schemaCommand(out: Pick<CommandOutput, 'stdout'>): number {
  out.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`)
  return 0
}
