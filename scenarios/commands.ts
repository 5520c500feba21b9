// `faultline validate FILE` and `faultline schema`: thin wrappers that print and return the exit code, so
// bin/faultline.ts only wires them and tests can run them without a process.

import { describeAclMatch } from '../chaos/cluster/security.ts'
import { durationAdjustment, parseDurationFlag } from './duration.ts'
import { formatDuration, formatRate, formatSize } from './units.ts'
import { loadScenario, type Scenario, ScenarioError, scenarioJsonSchema, scheduledFaults } from './schema.ts'
import { type Fault, faultEndMs, type PartitionSide, type PartitionSplit, type Target } from '../chaos/faults.ts'

export const MAX_SEED = 2 ** 32 - 1

/** --seed: an integer from 0 to 2^32 - 1. */
export function parseSeed(text: string): number | null {
  if (!/^\d{1,10}$/.test(text)) return null
  const n = Number(text)
  return n <= MAX_SEED ? n : null
}

export function describeTarget(t: Target): string {
  switch (t.kind) {
    case 'node':
      return `node ${t.node}`
    case 'leaderOf':
      return `leader of ${t.topic}/${t.partition}`
    case 'coordinatorOf':
      return `coordinator of ${t.group}`
    default:
      return t.kind
  }
}

/** A partition's shape in words: `isolate leader of orders/0`, `cut clients -> nodes 2, 3`. */
export function describeSplit(split: PartitionSplit): string {
  const side = (p: PartitionSide): string => (p.kind === 'nodes' ? `nodes ${p.nodes.join(', ')}` : describeTarget(p))
  switch (split.kind) {
    case 'isolate':
      return `isolate ${describeTarget(split.target)}`
    case 'groups':
      return JSON.stringify(split.groups)
    case 'clients':
      return 'isolate clients'
    case 'halves':
      return `random halves (clients: ${split.clients})`
    case 'bridge':
      return `bridge through ${describeTarget(split.bridge)}`
    case 'cut':
      return `cut ${side(split.from)} -> ${side(split.to)}`
  }
}

/** One line per fault, in time order: `20s-30s kill-0: kill leader of orders/0`. */
export function describeSchedule(faults: readonly Fault[]): string[] {
  return [...faults]
    .sort((a, b) => a.atMs - b.atMs)
    .map((f) => {
      const end = faultEndMs(f)
      const target = 'target' in f ? describeTarget(f.target) : f.kind === 'partition' ? describeSplit(f.split) : f.kind === 'revokeUser' ? `user ${f.user}` : `ACLs ${describeAclMatch(f.match)}`
      return `${formatDuration(f.atMs)}-${end === null ? 'end' : formatDuration(end)} ${f.name}: ${f.kind} ${target}`
    })
}

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
    s.nemesis === null ? plural(s.faults.length, 'fault') : `${plural(s.faults.length, 'fault')} and a nemesis (${s.nemesis.kinds.join(', ')})`,
    `${plural(delivery, 'delivery check')}, ${plural(s.checks.slo.length, 'SLO')}`,
  ].join('; ')
}

/**
 * Exit 0 with a one-line summary when the file is valid; 2 with every problem when it is not. `--duration`
 * judges the scenario as `faultline run --duration` would run it.
 */
export function validateCommand(file: string, out: CommandOutput, flags: { readonly duration?: string; readonly seed?: string } = {}): number {
  const seed = flags.seed === undefined ? 1 : parseSeed(flags.seed)
  if (seed === null) {
    out.stderr.write(`faultline validate: --seed ${JSON.stringify(flags.seed)}: expected an integer from 0 to ${MAX_SEED}\n`)
    return 2
  }
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
  const faults = scheduledFaults(scenario, seed)
  if (faults.length > 0) {
    const nemesis = scenario.nemesis === null ? '' : ` with seed ${seed}${flags.seed === undefined ? ' (--seed S shows the nemesis of a run with --seed S)' : ''}`
    out.stdout.write(`fault schedule${nemesis}:\n`)
    for (const line of describeSchedule(faults)) out.stdout.write(`  ${line}\n`)
  }
  return 0
}

/** Prints the scenario JSON Schema (draft-07) for editors, e.g. `faultline schema > scenario.schema.json`. */
export function schemaCommand(out: Pick<CommandOutput, 'stdout'>): number {
  out.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`)
  return 0
}
