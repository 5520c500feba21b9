// `faultline explore SCENARIO`: property-based search for a fault schedule that breaks the scenario's checks.
//
// The scenario is scaled down first (a shorter run, a capped rate and key count) so each run takes seconds,
// and its own faults are replaced: fast-check draws schedules from a FaultSpace (chaos/fault-space.ts: kinds,
// targets, start times, durations) and the property is "a real run of the scenario with this schedule
// passes its checks". Every candidate is rendered as scenario YAML (the original file's text with the fault
// list, the scaled workload and the seed replaced), parsed back with the schema and run with the Run class,
// exactly as `faultline run` would run that text; so the smallest failing schedule, written out, is a scenario
// that `faultline run` reproduces. On a failure fast-check shrinks the schedule (fewer faults, earlier,
// shorter); a budget of shrink runs bounds that, since every run costs seconds.
//
// Every run is kept under the explore directory (run-NNN/: the scenario it ran, results.json, run.log); the
// heavy files (history, broker logs) are kept only for the first and the smallest failing run, so the
// directory stays small whatever --runs is. explore.jsonl gets one line per run as it ends.
//
// The same seed drives the search and every run (the workload's payloads and keys), so a candidate differs
// from the next only in its faults, and `--seed S` replays the whole search.

import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import fc from 'fast-check'
import { type Document, isMap, isSeq, parseDocument, YAMLMap, YAMLSeq } from 'yaml'
import { ACTIONS_FOR_FAULT } from '../chaos/cluster/external.ts'
import { describeAclMatch } from '../chaos/cluster/security.ts'
import { type FaultSpace, checkSpace, explorableKinds, STEP_MS, scheduleArbitrary } from '../chaos/fault-space.ts'
import { type Fault, FAULT_KINDS, type FaultKind, type PartitionSide, type PartitionSplit, isProxyKind, type Target } from '../chaos/faults.ts'
import type { NemesisSpec } from '../chaos/nemesis.ts'
import { silentProgress, type ProgressReporter } from '../reports/progress.ts'
import { exitCodeOf, type Results } from '../reports/results.ts'
import { describeSplit } from './commands.ts'
import { partitionProblem, RunError, runScenario, type RunOptions } from './runner.ts'
import { parseScenario, type Scenario, ScenarioError } from './schema.ts'
import { formatDuration, formatPercent, formatRate } from './units.ts'

// ---------------------------------------------------------------------------------------------------------
// Scaling the scenario down

export interface ExploreScale {
  /** workload.duration of every run. */
  readonly durationMs: number
  /** Cap on each producer group's rate (messages/s); `rate: max` becomes this. */
  readonly maxRate: number
  /** Cap on key counts. */
  readonly maxKeys: number
  /** `delivery`: SLOs are dropped (a scaled-down rate and injected faults break most of them by design). */
  readonly checks: 'delivery' | 'all'
}

export const DEFAULT_SCALE: Omit<ExploreScale, 'durationMs'> & { readonly maxDurationMs: number } = { maxDurationMs: 20_000, maxRate: 1000, maxKeys: 1000, checks: 'delivery' }

/** What the scaling changed, one line each. */
export type ScaleNotes = string[]

const roundStep = (ms: number): number => Math.floor(ms / STEP_MS) * STEP_MS

/** The producer entries of the document, in workload.producers order (a single mapping is one entry). */
function producerNodes(doc: Document): YAMLMap[] {
  const p = doc.getIn(['workload', 'producers'])
  if (isMap(p)) return [p as YAMLMap]
  if (isSeq(p)) return (p as YAMLSeq).items.filter((i): i is YAMLMap => isMap(i))
  return []
}

/** Edits the document so every run is short: duration, warmup, rates, key counts, SLOs (see ExploreScale). */
export function scaleDocument(doc: Document, s: Scenario, scale: ExploreScale, notes: ScaleNotes): void {
  const w = s.workload
  if (scale.durationMs !== w.durationMs) {
    doc.setIn(['workload', 'duration'], formatDuration(scale.durationMs))
    notes.push(`workload.duration ${formatDuration(w.durationMs)} -> ${formatDuration(scale.durationMs)}`)
  }
  const warmup = Math.min(w.warmupMs, roundStep(scale.durationMs / 10))
  if (warmup !== w.warmupMs) {
    doc.setIn(['workload', 'warmup'], formatDuration(warmup))
    notes.push(`workload.warmup ${formatDuration(w.warmupMs)} -> ${formatDuration(warmup)}`)
  }
  const nodes = producerNodes(doc)
  w.producers.forEach((p, i) => {
    const node = nodes[i]
    if (node === undefined) return
    const cap = { unit: 'messages', perSecond: scale.maxRate } as const
    if (p.rate.kind === 'max' || p.rate.perSecond > scale.maxRate) {
      node.set('rate', formatRate(cap))
      notes.push(`workload.producers[${i}].rate ${p.rate.kind === 'max' ? 'max' : formatRate({ unit: 'messages', perSecond: p.rate.perSecond })} -> ${formatRate(cap)}`)
    }
    const k = p.keys
    if (k.kind !== 'none' && k.kind !== 'round-robin' && k.count > scale.maxKeys) {
      node.set('keys', k.kind === 'zipf' ? { distribution: 'zipf', count: scale.maxKeys, exponent: k.exponent } : { distribution: k.kind, count: scale.maxKeys })
      notes.push(`workload.producers[${i}].keys: ${k.count} -> ${scale.maxKeys} keys`)
    }
  })
  if (w.backlog !== null && scale.durationMs < w.durationMs) {
    doc.deleteIn(['workload', 'backlog'])
    notes.push('workload.backlog: removed (backlog mode needs the full run)')
  }
  if (scale.checks === 'delivery' && s.checks.slo.length > 0) {
    doc.deleteIn(['checks', 'slo'])
    notes.push(`checks.slo: dropped ${s.checks.slo.map((c) => c.key).join(', ')} (explore checks delivery; --checks all keeps SLOs)`)
  } else if (scale.checks === 'all' && s.checks.slo.some((c) => c.kind === 'throughput' || c.kind === 'drainRate')) {
    const slo = doc.getIn(['checks', 'slo'])
    for (const c of s.checks.slo) if ((c.kind === 'throughput' || c.kind === 'drainRate') && isMap(slo)) (slo as YAMLMap).delete(c.key)
    notes.push('checks.slo: dropped throughput and drainRate (the rate is scaled down)')
  }
}

// ---------------------------------------------------------------------------------------------------------
// Faults as YAML

function targetYaml(t: Target): unknown {
  switch (t.kind) {
    case 'node':
      return t.node
    case 'leaderOf':
      return { leaderOf: `${t.topic}/${t.partition}` }
    case 'coordinatorOf':
      return { coordinatorOf: t.group }
    default:
      return t.kind
  }
}

function splitYaml(split: PartitionSplit): unknown {
  const side = (p: PartitionSide): unknown => (p.kind === 'nodes' ? [...p.nodes] : targetYaml(p))
  switch (split.kind) {
    case 'isolate':
      return { isolate: targetYaml(split.target) }
    case 'groups':
      return { groups: split.groups }
    case 'clients':
      return { isolate: 'clients' }
    case 'halves':
      return split.clients === 'both' ? { halves: 'random' } : { halves: 'random', clients: split.clients }
    case 'bridge':
      return { bridge: targetYaml(split.bridge) }
    case 'cut':
      return { cut: { from: side(split.from), to: side(split.to) } }
  }
}

/** A fault in the scenario file's form (schema.ts faultSchema), names left to their defaults. */
export function faultYaml(f: Fault): Record<string, unknown> {
  const at = formatDuration(f.atMs)
  switch (f.kind) {
    case 'kill':
      return f.restartAfterMs === null ? { at, kill: targetYaml(f.target) } : { at, kill: targetYaml(f.target), restartAfter: formatDuration(f.restartAfterMs) }
    case 'pause':
      return { at, pause: targetYaml(f.target), duration: formatDuration(f.durationMs) }
    case 'partition':
      return { at, partition: splitYaml(f.split), heal: formatDuration(f.healAfterMs) }
    case 'latency':
      return { at, latency: { target: targetYaml(f.target), delay: formatDuration(f.delayMs), jitter: formatDuration(f.jitterMs), direction: f.direction, ...toxicityYaml(f.toxicity) }, duration: formatDuration(f.durationMs) }
    case 'bandwidth':
      return { at, bandwidth: { target: targetYaml(f.target), rate: `${f.bytesPerSecond}B/s`, direction: f.direction, ...toxicityYaml(f.toxicity) }, duration: formatDuration(f.durationMs) }
    case 'revokeUser':
      return { at, revokeUser: f.user, duration: formatDuration(f.durationMs) }
    case 'removeAcl':
      return { at, removeAcl: { ...f.match }, duration: formatDuration(f.durationMs) }
    default: {
      const common = { target: targetYaml(f.target), direction: f.direction, ...toxicityYaml(f.toxicity) }
      const duration = formatDuration(f.durationMs)
      switch (f.kind) {
        case 'reset':
          return { at, reset: { ...common, after: formatDuration(f.afterMs) }, duration }
        case 'timeout':
          return { at, timeout: { ...common, after: formatDuration(f.afterMs) }, duration }
        case 'slowClose':
          return { at, slowClose: { ...common, delay: formatDuration(f.delayMs) }, duration }
        case 'slicer':
          return { at, slicer: { ...common, averageSize: `${f.averageBytes}B`, sizeVariation: `${f.variationBytes}B`, delay: formatDuration(f.delayUs / 1000) }, duration }
        case 'limitData':
          return { at, limitData: { ...common, bytes: `${f.bytes}B` }, duration }
        case 'down':
          return { at, down: common, duration }
      }
    }
  }
}

const toxicityYaml = (t: number | undefined): { toxicity?: string } => (t === undefined ? {} : { toxicity: formatPercent(t) })

function describeTarget(t: Target): string {
  return t.kind === 'node' ? `node ${t.node}` : t.kind === 'leaderOf' ? `leader of ${t.topic}/${t.partition}` : t.kind
}

/** "kill node 2 at 3s (restart after 4s)". */
export function describeFault(f: Fault): string {
  const at = `at ${formatDuration(f.atMs)}`
  switch (f.kind) {
    case 'kill':
      return `kill ${describeTarget(f.target)} ${at} (${f.restartAfterMs === null ? 'down until the run ends' : `restart after ${formatDuration(f.restartAfterMs)}`})`
    case 'pause':
      return `pause ${describeTarget(f.target)} ${at} for ${formatDuration(f.durationMs)}`
    case 'partition':
      return `partition (${describeSplit(f.split)}) ${at} for ${formatDuration(f.healAfterMs)}`
    case 'latency':
      return `latency ${formatDuration(f.delayMs)}${f.jitterMs > 0 ? ` +-${formatDuration(f.jitterMs)}` : ''} on ${describeTarget(f.target)} ${at} for ${formatDuration(f.durationMs)}`
    case 'bandwidth':
      return `bandwidth ${f.bytesPerSecond}B/s on ${describeTarget(f.target)} ${at} for ${formatDuration(f.durationMs)}`
    case 'revokeUser':
      return `revoke user ${f.user} ${at} for ${formatDuration(f.durationMs)}`
    case 'removeAcl':
      return `remove ACLs ${describeAclMatch(f.match)} ${at} for ${formatDuration(f.durationMs)}`
    default:
      return `${f.kind} on ${describeTarget(f.target)} ${at} for ${formatDuration(f.durationMs)}`
  }
}

export const describeSchedule = (faults: readonly Fault[]): string => (faults.length === 0 ? 'no faults' : faults.map(describeFault).join('; '))

/** The scenario text of one candidate: the scaled document with these faults and the seed. */
export function candidateText(scaled: Document, faults: readonly Fault[], seed: number, header?: string): string {
  const doc = scaled.clone()
  const list = new YAMLSeq()
  for (const f of faults) {
    const node = doc.createNode(faultYaml(f))
    node.flow = true
    list.items.push(node)
  }
  doc.set('faults', list)
  doc.set('seed', seed)
  if (header !== undefined) doc.commentBefore = doc.commentBefore ? `${header}\n\n${doc.commentBefore}` : header
  return doc.toString({ lineWidth: 0 })
}

// ---------------------------------------------------------------------------------------------------------
// The fault space

export interface SpaceOptions {
  /** Fault kinds to draw; default the scenario's nemesis kinds, or every kind the cluster backend supports here. */
  readonly kinds?: readonly FaultKind[]
  /** Most faults per schedule; default 4. */
  readonly maxFaults?: number
  /** How long each fault lasts; default 2 s (a quarter of shorter runs) to half the run. */
  readonly duration?: { readonly minMs: number; readonly maxMs: number }
}

type Env = Readonly<Record<string, string | undefined>>


/** Why the scenario's cluster cannot take faults of this kind on this machine (preflight would refuse them), or null. */
export function kindProblem(s: Scenario, kind: FaultKind, env: Env = process.env): string | null {
  const c = s.cluster
  if (kind === 'partition') return partitionProblem(c.backend, env)
  if (c.backend === 'external') {
    if (isProxyKind(kind)) return `${kind} faults need proxies in front of the brokers, which only the local and docker backends set up`
    if (kind === 'kill' || kind === 'pause') {
      const actions = ACTIONS_FOR_FAULT[kind]
      const lacking = c.nodes.filter((n) => actions.some((a) => n.commands[a] === undefined))
      if (c.nodes.length === 0) return `${kind} faults on an external cluster run commands per node, and cluster.nodes lists none`
      if (lacking.length > 0) return `${kind} faults on an external cluster run the ${actions.join(' and ')} commands, which node ${lacking.map((n) => n.id).join(', ')} lacks`
    }
  }
  return null
}

/** Whether a docker cluster has proxies in front of its brokers whatever the faults (partitions cannot see through them). */
const dockerProxied = (s: Scenario): boolean => s.cluster.backend === 'docker' && (s.cluster.proxies === true || s.cluster.toxiproxy !== undefined)

/**
 * Kinds explore draws by default: those the backend applies on this machine. Partitions only where preflight
 * would allow them (root, iptables; on docker bridge netfilter). On docker, partitions and proxy faults cannot
 * share a scenario (partition rules match container addresses, which the proxies hide): partitions when they
 * can run and the cluster has no proxies of its own, network-quality faults otherwise. An external cluster takes
 * kill and pause where its nodes have the commands, nothing else.
 */
export function backendKinds(s: Scenario, env: Env = process.env): FaultKind[] {
  const usable = explorableKinds().filter((k) => kindProblem(s, k, env) === null)
  if (s.cluster.backend !== 'docker') return usable
  const partitions = usable.includes('partition') && !dockerProxied(s)
  return usable.filter((k) => (partitions ? !isProxyKind(k) : k !== 'partition'))
}

/** Why these kinds (from --kinds or the scenario's nemesis) cannot be explored on this machine, or null. */
export function kindsProblem(s: Scenario, kinds: readonly FaultKind[], env: Env = process.env): string | null {
  const proxy = kinds.filter(isProxyKind)
  if (s.cluster.backend === 'docker' && kinds.includes('partition') && (proxy.length > 0 || dockerProxied(s))) {
    return `partition with ${proxy.length > 0 ? proxy.join(', ') : 'cluster.proxies/toxiproxy'}: partitions on the docker backend cut traffic by container address, which the proxies in front of the containers hide; expected partitions or network-quality faults, not both, on a docker cluster`
  }
  for (const k of kinds) {
    const why = kindProblem(s, k, env)
    if (why !== null) return `${k}: ${why}`
  }
  return null
}

/**
 * Targets for generated faults: every node, then the leader of each topic's first partitions (up to 3 per
 * topic), resolved when the fault fires. Not `controller`: with the quorum down it resolves to nothing and the
 * run ends errored, which teaches the search nothing.
 */
export function targetsOf(s: Scenario): Target[] {
  const out: Target[] = []
  if (s.cluster.backend !== 'external') for (let n = 1; n <= s.cluster.brokers; n++) out.push({ kind: 'node', node: n })
  else for (const n of s.cluster.nodes) out.push({ kind: 'node', node: n.id })
  for (const t of s.topics) for (let p = 0; p < Math.min(t.partitions, 3); p++) out.push({ kind: 'leaderOf', topic: t.name, partition: p })
  return out
}

/**
 * The space for a (scaled) scenario: faults start after the warmup and before 70% of the run. A scenario with a
 * nemesis gives its kinds, its targets and its duration range (within half the scaled run); --kinds and
 * --fault-duration still override them.
 */
export function spaceFor(s: Scenario, o: SpaceOptions = {}, nemesis: NemesisSpec | null = null, env: Env = process.env): FaultSpace {
  const d = s.workload.durationMs
  const half = roundStep(d / 2)
  const fromNemesis = nemesis === null ? undefined : { minMs: Math.min(Math.ceil(nemesis.duration.minMs / STEP_MS) * STEP_MS, half), maxMs: Math.min(roundStep(nemesis.duration.maxMs), half) }
  // At least 2 s: shorter faults end before failure detection (a broker session) notices them, so a failure
  // they cause at all is marginal and a shrunk schedule would rarely fail again.
  const duration = o.duration ?? (fromNemesis !== undefined && fromNemesis.minMs <= fromNemesis.maxMs ? fromNemesis : { minMs: Math.min(2000, roundStep(d / 4)), maxMs: half })
  const startMin = Math.max(s.workload.warmupMs, STEP_MS)
  return {
    kinds: o.kinds ?? (nemesis === null ? backendKinds(s, env) : (nemesis.kinds as FaultKind[])),
    targets: nemesis === null ? targetsOf(s) : [...nemesis.targets],
    maxFaults: o.maxFaults ?? 4,
    start: { minMs: startMin, maxMs: Math.max(startMin, Math.min(roundStep(d * 0.7), d - duration.minMs)) },
    duration,
    endMs: d,
    ...(s.cluster.backend === 'external' ? {} : { brokers: s.cluster.brokers }),
  }
}

// ---------------------------------------------------------------------------------------------------------
// Exploring

export interface ExploreOptions {
  /** The scenario file. */
  readonly file: string
  /** Schedules to try before declaring the scenario robust. */
  readonly runs: number
  readonly seed: number
  /** The explore directory (created). */
  readonly outDir: string
  /** durationMs absent: the scenario's own, at most DEFAULT_SCALE.maxDurationMs. */
  readonly scale: Omit<ExploreScale, 'durationMs'> & { readonly durationMs?: number }
  readonly space: SpaceOptions
  /** Runs allowed for shrinking after the first failure. */
  readonly shrinkRuns: number
  /** Times the written counterexample is run again, as `faultline run` runs it, to confirm it fails. */
  readonly confirmRuns: number
  /** One line per run and per step. */
  readonly log: (line: string) => void
  /** Shows each run's own progress when set. */
  readonly runProgress?: ProgressReporter
  /** Aborting ends the current run (its resources torn down) and the search. */
  readonly signal?: AbortSignal
  /** Passed to every run (tests shorten timeouts). */
  readonly runOptions?: Pick<RunOptions, 'assignTimeoutMs' | 'drainTimeoutMs' | 'producerGraceMs' | 'env'>
}

export interface ExploreRun {
  readonly n: number
  readonly phase: 'search' | 'shrink' | 'confirm'
  readonly faults: readonly Fault[]
  readonly verdict: 'passed' | 'failed' | 'errored'
  readonly reasons: readonly string[]
  readonly dir: string
  readonly ms: number
}

export interface ExploreOutcome {
  readonly state: 'passed' | 'failed' | 'interrupted'
  readonly seed: number
  readonly runs: readonly ExploreRun[]
  /** Search runs until the first failure (inclusive), or all of them. */
  readonly searchRuns: number
  readonly erroredRuns: number
  readonly notes: readonly string[]
  readonly space: FaultSpace
  readonly failure: null | {
    readonly firstFaults: readonly Fault[]
    /** Where shrinking ended. */
    readonly shrunkFaults: readonly Fault[]
    /** The schedule written: the smallest failing one that also failed its confirmation runs. */
    readonly faults: readonly Fault[]
    readonly reasons: readonly string[]
    /** Successful shrink steps (fast-check's numShrinks) and the runs shrinking took. */
    readonly shrinkSteps: number
    readonly shrinkRuns: number
    readonly path: string
    readonly confirmed: number
    readonly confirmRuns: number
  }
  readonly wallMs: number
}

/** Bad input for explore (exit 2): a scenario or flag problem, with the message to print. */
export class ExploreInputError extends Error {
  readonly code = 'ERR_EXPLORE_INPUT'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ExploreInputError'
  }
}

/** Failing schedules of the shrink tried, smallest first, until one fails its confirmation runs. */
const MAX_CONFIRM_CANDIDATES = 3

const HEAVY = /^(history\.bin|broker-\d+\.log|results\.md|report\.html)$/

function dropHeavy(dir: string): void {
  if (!existsSync(dir)) return
  for (const f of readdirSync(dir)) if (HEAVY.test(f)) rmSync(join(dir, f), { force: true })
}

const pad = (n: number): string => String(n).padStart(3, '0')
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** Loads and scales the scenario; throws ExploreInputError for anything wrong with it. */
export function prepareScenario(file: string, scaleFor: (s: Scenario) => ExploreScale): { original: Scenario; scaled: Scenario; doc: Document; notes: ScaleNotes } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ExploreInputError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected a scenario YAML file`, { cause: err })
  }
  let original: Scenario
  try {
    original = parseScenario(text, file)
  } catch (err) {
    if (!ScenarioError.is(err)) throw err
    throw new ExploreInputError(`${err.message}\n${file} is not a valid scenario (\`faultline validate ${file}\` checks it)`, { cause: err })
  }
  const doc = parseDocument(text, { merge: true })
  const notes: ScaleNotes = []
  scaleDocument(doc, original, scaleFor(original), notes)
  doc.delete('faults')
  doc.delete('seed')
  // Its kinds, targets and durations become the fault space (spaceFor); left in, it would add its own faults.
  if (original.nemesis !== null) {
    doc.delete('nemesis')
    notes.push(`nemesis: replaced by explore's schedules, drawn from its kinds (${original.nemesis.kinds.join(', ')}), targets and durations`)
  }
  let scaled: Scenario
  try {
    scaled = parseScenario(doc.toString({ lineWidth: 0 }), file)
  } catch (err) {
    if (!ScenarioError.is(err)) throw err
    throw new ExploreInputError(`${err.message}\n${file}, scaled down for explore (${notes.join('; ') || 'unchanged'}), is not valid; expected other --duration, --rate or --keys`, { cause: err })
  }
  return { original, scaled, doc, notes }
}

/** Runs the search; the verdicts are in the outcome (exit codes are the command's business). */
export async function explore(o: ExploreOptions): Promise<ExploreOutcome> {
  const t0 = performance.now()
  const { original, scaled, doc, notes } = prepareScenario(o.file, (s) => ({ ...o.scale, durationMs: o.scale.durationMs ?? Math.min(s.workload.durationMs, DEFAULT_SCALE.maxDurationMs) }))
  const env = o.runOptions?.env ?? process.env
  const space = spaceFor(scaled, o.space, original.nemesis, env)
  // Kinds asked for (--kinds, the nemesis) that this machine cannot apply are refused now, not at the first run that draws one.
  const asked = o.space.kinds !== undefined ? '--kinds' : original.nemesis !== null ? 'nemesis.kinds' : null
  const problem = checkSpace(space) ?? (asked === null ? null : kindsProblem(scaled, space.kinds, env))
  if (problem !== null) {
    const why = space.kinds.length === 0 && scaled.cluster.backend === 'external' ? ' (an external cluster takes kill and pause faults through cluster.nodes commands only)' : ''
    throw new ExploreInputError(`${o.file}: cannot explore${asked === null ? '' : ` ${asked} ${space.kinds.join(',')}`}: ${problem}${why}`)
  }
  mkdirSync(o.outDir, { recursive: true })
  const journal = join(o.outDir, 'explore.jsonl')

  const runs: ExploreRun[] = []
  const memo = new Map<string, boolean>()
  let phase: 'search' | 'shrink' = 'search'
  let shrinkRuns = 0
  let errored = 0
  let firstFailing: ExploreRun | null = null
  let lastFailing: ExploreRun | null = null
  let inputError: Error | null = null

  const runOne = async (faults: readonly Fault[], runPhase: ExploreRun['phase'], text: string, fileName: string): Promise<ExploreRun> => {
    const n = runs.length + 1
    const dir = join(o.outDir, `run-${pad(n)}`)
    mkdirSync(dir, { recursive: true })
    const scenarioPath = join(dir, fileName)
    writeFileSync(scenarioPath, text)
    const started = performance.now()
    let results: Results | null = null
    let reasons: string[] = []
    // One signal per run, so the runs do not pile listeners onto the command's signal.
    const stop = new AbortController()
    const forward = (): void => stop.abort()
    o.signal?.addEventListener('abort', forward, { once: true })
    try {
      // Parsed from the written text, as `faultline run` parses a file.
      const scenario = parseScenario(text, scenarioPath)
      results = await runScenario(scenario, { outDir: dir, seed: scenario.seed ?? o.seed, progress: o.runProgress ?? silentProgress, signal: stop.signal, ...o.runOptions })
      reasons = results.verdict.reasons
    } catch (err) {
      if (err instanceof RunError && err.exitCode === 2) throw err
      if (ScenarioError.is(err)) throw err
      reasons = [(err as Error).message]
    } finally {
      o.signal?.removeEventListener('abort', forward)
    }
    const code = results === null ? 3 : exitCodeOf(results)
    const run: ExploreRun = { n, phase: runPhase, faults, verdict: code === 0 ? 'passed' : code === 1 ? 'failed' : 'errored', reasons, dir, ms: performance.now() - started }
    runs.push(run)
    appendFileSync(journal, `${JSON.stringify({ ...run, faults: faults.map(faultYaml) })}\n`)
    const head = `${runPhase} run ${n}${runPhase === 'search' ? ` (${runs.filter((r) => r.phase === 'search').length}/${o.runs})` : ''}`
    o.log(`${head}: ${describeSchedule(faults)} -> ${run.verdict}${run.verdict === 'passed' ? '' : `: ${reasons.join('; ')}`} (${(run.ms / 1000).toFixed(1)} s)`)
    return run
  }

  const property = fc.asyncProperty(scheduleArbitrary(space), async (faults) => {
    if (o.signal?.aborted || inputError !== null) return true
    const key = JSON.stringify(faults)
    const seen = memo.get(key)
    if (seen !== undefined) return seen
    if (phase === 'shrink' && shrinkRuns >= o.shrinkRuns) return true
    if (phase === 'shrink') shrinkRuns++
    let run: ExploreRun
    try {
      run = await runOne(faults, phase, candidateText(doc, faults, o.seed), 'scenario.yaml')
    } catch (err) {
      // Bad input (the scenario as scaled, a refused fault) is no property failure: stop and report it.
      inputError = err as Error
      return true
    }
    if (run.verdict === 'errored') errored++
    const passed = run.verdict !== 'failed'
    if (!passed) {
      if (firstFailing === null) firstFailing = run
      else if (lastFailing !== null && lastFailing !== firstFailing) dropHeavy(lastFailing.dir)
      lastFailing = run
      phase = 'shrink'
    } else {
      dropHeavy(run.dir)
    }
    memo.set(key, passed)
    return passed
  })

  const details = await fc.check(property, { seed: o.seed, numRuns: o.runs, endOnFailure: false })
  if (inputError !== null) {
    const e = inputError as Error
    throw new ExploreInputError(`${e.message}${e instanceof RunError ? '\nexplore generated a schedule this harness refuses; expected --kinds with faults it supports' : ''}`, { cause: e })
  }
  const searchRuns = runs.filter((r) => r.phase === 'search').length
  const base = { seed: o.seed, runs, searchRuns, erroredRuns: errored, notes, space }
  if (o.signal?.aborted) return { ...base, state: 'interrupted', failure: null, wallMs: performance.now() - t0 }
  if (!details.failed || firstFailing === null || lastFailing === null) return { ...base, state: 'passed', failure: null, wallMs: performance.now() - t0 }

  const first: ExploreRun = firstFailing
  const shrunk: ExploreRun = lastFailing
  const path = resolve(o.outDir, 'counterexample.yaml')
  // Timing makes some failures marginal: the smallest schedule may fail only now and then. Each failing
  // schedule of the shrink, smallest first, is written and run again as `faultline run` would run the file;
  // the first that fails every confirmation run stays. None does: the smallest stays, and the output says so.
  const seen = new Set<string>()
  const candidates = runs
    .filter((r) => r.verdict === 'failed' && r.phase !== 'confirm')
    .reverse()
    .filter((r) => {
      const k = JSON.stringify(r.faults)
      if (seen.has(k)) return false
      seen.add(k)
      return true
    })
    .slice(0, o.confirmRuns > 0 ? MAX_CONFIRM_CANDIDATES : 1)
  const write = (c: ExploreRun, skipped: readonly ExploreRun[]): void => {
    const header = [
      ` Counterexample found by \`faultline explore ${o.file} --runs ${o.runs} --seed ${o.seed}\` on ${new Date().toISOString()}:`,
      ` search run ${first.n} of up to ${o.runs} failed (${plural(first.faults.length, 'fault')}); fast-check shrank it in ${plural(details.numShrinks, 'step')}`,
      ` (${plural(shrinkRuns, 'shrink run')}) to ${plural(shrunk.faults.length, 'fault')}: ${describeSchedule(shrunk.faults)}.`,
      ...(skipped.length > 0 ? [` ${plural(skipped.length, 'smaller failing schedule')} did not fail again when confirmed; this one (run ${c.n}) did.`] : []),
      ` It failed with: ${c.reasons.join('; ')}`,
      ` Scaled down from the original for short runs: ${notes.join('; ') || 'nothing changed'}.`,
      ` Reproduce: faultline run ${path}   (the seed below is the run seed)`,
    ].join('\n')
    writeFileSync(path, candidateText(doc, c.faults, o.seed, header))
  }

  let chosen = candidates[0]!
  let confirmed = 0
  const skipped: ExploreRun[] = []
  for (const c of candidates) {
    if (o.signal?.aborted) break
    write(c, skipped)
    let ok = 0
    for (let i = 0; i < o.confirmRuns && !o.signal?.aborted; i++) {
      const run = await runOne(c.faults, 'confirm', readFileSync(path, 'utf8'), 'counterexample.yaml')
      if (run.verdict !== 'failed') {
        dropHeavy(run.dir)
        break
      }
      ok++
    }
    if (ok === o.confirmRuns || c === candidates.at(-1)) {
      if (ok < o.confirmRuns) write(candidates[0]!, [])
      chosen = ok < o.confirmRuns ? candidates[0]! : c
      confirmed = ok < o.confirmRuns ? 0 : ok
      break
    }
    skipped.push(c)
  }
  return {
    ...base,
    state: o.signal?.aborted ? 'interrupted' : 'failed',
    failure: {
      firstFaults: first.faults,
      shrunkFaults: shrunk.faults,
      faults: chosen.faults,
      reasons: chosen.reasons,
      shrinkSteps: details.numShrinks,
      shrinkRuns,
      path,
      confirmed,
      confirmRuns: o.confirmRuns,
    },
    wallMs: performance.now() - t0,
  }
}

/** `runs/explore-<UTC timestamp>`. */
export function defaultExploreDir(now = new Date()): string {
  return join('runs', `explore-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}`)
}

/** Keeps the newest `keep` explore directories under `parent` (those explore wrote: explore-* with an explore.jsonl). */
export function pruneExploreDirs(parent: string, keep: number): string[] {
  if (!existsSync(parent)) return []
  const dirs = readdirSync(parent)
    .filter((d) => /^explore-\d{4}-\d\d-\d\dT/.test(d) && existsSync(join(parent, d, 'explore.jsonl')))
    .map((d) => ({ d, t: statSync(join(parent, d)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
  const removed = dirs.slice(keep).map((x) => join(parent, x.d))
  for (const r of removed) rmSync(r, { recursive: true, force: true })
  return removed
}

/** Fault kinds from --kinds (comma-separated). */
export function parseKinds(text: string): { ok: true; kinds: FaultKind[] } | { ok: false; message: string } {
  const kinds = text.split(',').map((k) => k.trim()).filter((k) => k !== '')
  const bad = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k))
  if (kinds.length === 0 || bad.length > 0) return { ok: false, message: `--kinds ${JSON.stringify(text)}: ${bad.length > 0 ? `unknown kind ${bad.join(', ')}` : 'is empty'}; expected a comma-separated list of ${explorableKinds().join(', ')}` }
  return { ok: true, kinds: kinds as FaultKind[] }
}
