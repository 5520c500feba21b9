// `faultline sweep SCENARIO --axis rate --from 1000/s --to 200000/s --steps 10`: the scenario at each point of
// an axis (rate, partitions, messageSize, producers, workers), then a bisection near the knee, and what the
// points say (scenarios/sweep-analysis.ts): the knee, the saturation point and a capacity model.
//
// Every point is a whole `faultline run` in this process (runScenario) of the scenario with the axis value put
// in (through the schema's adjustment, so the cross-field rules judge it like a written file), with its own
// output directory OUT/point-NN and, on the local and docker backends, a fresh cluster: points do not inherit
// each other's logs, caches or backlog. An external cluster is the same cluster for every point (its topics
// stay). Every point runs with the same seed, so they differ only in the axis value. history.bin is deleted
// after each point (results.json has every figure), so a long sweep's disk use stays small.
//
// Broker resources: on the local backend the brokers' pids (chaos/cluster NodeHandle.pid) are sampled from
// /proc (chaos/cluster/usage.ts) from the start of the measured window to its end (the run's phases measure and
// heal), the same window the throughput and latency figures cover. On the docker backend the containers' counters
// come from the Engine's stats instead (chaos/cluster/docker-usage.ts; NodeHandle.readUsage), over the same window.
//
// Exit codes: 0 the sweep ran (the knee is its finding, so SLOs failing at some points is expected), 2 bad
// flags or scenario (nothing runs), 3 the harness failed or the sweep was interrupted (sweep.json still written).

import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import type { ClusterTarget } from '../chaos/cluster/types.ts'
import { CounterUsageSampler, type NodeUsage, NodeUsageSampler } from '../chaos/cluster/usage.ts'
import { consoleProgress, type ProgressReporter, silentProgress } from '../reports/progress.ts'
import { renderSweepConsole, renderSweepHtml } from '../reports/render-sweep.ts'
import { formatRate as formatPerSecond } from '../reports/format.ts'
import type { Results } from '../reports/results.ts'
import { type PointResources, type PointSlo, type SweepAxis, sweepAxes, type SweepPoint, type SweepReport, sweepSchemaVersion } from '../reports/sweep.ts'
import { MAX_SEED, parseSeed } from './commands.ts'
import { durationAdjustment, parseDurationFlag } from './duration.ts'
import type { RunIo } from './runner-command.ts'
import { defaultOutDir, RunError, type RunPhase, runScenario, timeSeed } from './runner.ts'
import { parseScenario, type Scenario, type ScenarioAdjustment, ScenarioError, type SloCheck } from './schema.ts'
import { capacityModel, findKnee, findSaturation, gridValues, heldAgain, nextRefinement } from './sweep-analysis.ts'
import { formatSize, parseRate, parseSize } from './units.ts'

export interface SweepFlags {
  readonly axis?: string
  readonly from?: string
  readonly to?: string
  readonly steps?: string
  readonly scale?: string
  readonly refine?: string
  readonly out?: string
  readonly seed?: string
  readonly duration?: string
  readonly target?: string
  readonly coresPerBroker?: string
  readonly quiet?: boolean
}

/** As `faultline run`'s: the first Ctrl-C stops the current point and writes sweep.json, a second quits. */
export type SweepIo = Omit<RunIo, 'forceExit'>

export const SWEEP_USAGE = [
  'faultline sweep SCENARIO.yaml --axis rate|partitions|messageSize|producers|workers --from V --to V [--steps 5]',
  '       [--scale linear|log] [--refine 2] [--out DIR] [--seed N] [--duration D] [--target RATE] [--cores-per-broker N] [--quiet]',
  '  --from, --to  the axis range: rates like 1000/s (rate), sizes like 512B (messageSize), whole numbers otherwise',
  '  --steps N     points from --from to --to, evenly spaced (--scale log: geometric), 2 to 100',
  '  --refine N    extra points bisecting between the last point whose latency SLOs held and the first that failed (0-10)',
  '  --target RATE records/s to size a cluster for in the capacity model; --cores-per-broker N its brokers\' cores',
  '                (default: this host\'s)',
  '  --duration D  every point runs for D instead of workload.duration (as `faultline run --duration`)',
  'Writes OUT/sweep.json, OUT/sweep.html and OUT/point-NN/ (each a run\'s results); exit 0 when the sweep ran.',
].join('\n')

const fmtRate = (n: number): string => formatPerSecond(n)

/** A value of the axis as a user writes it. */
export function axisLabel(axis: SweepAxis, v: number): string {
  if (axis === 'rate') return `${Math.round(v)}/s`
  if (axis === 'messageSize') return formatSize(Math.round(v))
  return String(v)
}

/** --from / --to on an axis, or what is wrong with it. */
export function parseAxisValue(axis: SweepAxis, flag: string, text: string): { ok: true; value: number } | { ok: false; message: string } {
  const bad = (why: string, expected: string) => ({ ok: false as const, message: `${flag} ${JSON.stringify(text)} ${why}; expected ${expected}` })
  if (axis === 'rate') {
    const r = parseRate(text)
    if (!r.ok) return bad(r.problem, 'a record rate like 1000/s')
    if (r.value.unit !== 'messages') return bad('is a byte rate', 'a record rate like 1000/s (the rate axis counts records)')
    return { ok: true, value: r.value.perSecond }
  }
  if (axis === 'messageSize') {
    const r = parseSize(text)
    if (!r.ok) return bad(r.problem, r.expected)
    if (r.value < 1) return bad('is zero', 'a size of at least 1B, like 512B or 1KiB')
    return { ok: true, value: r.value }
  }
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1) return bad('is not a whole number from 1', `a ${axis === 'partitions' ? 'partition' : axis === 'producers' ? 'producer' : 'worker'} count like 4`)
  return { ok: true, value: Number(text) }
}

/** The records/s the scenario's producers ask for, or null when one discovers its rate or counts bytes. */
export function offeredRate(s: Scenario): number | null {
  let sum = 0
  for (const p of s.workload.producers) {
    if (p.rate.kind !== 'fixed' || p.rate.unit === 'bytes') return null
    sum += p.rate.perSecond
  }
  return s.workload.producers.length === 0 ? null : sum
}

/** The scenario with one axis value put in; problems name the field. */
export function applyAxis(s: Scenario, axis: SweepAxis, value: number): ReturnType<ScenarioAdjustment> {
  const w = s.workload
  if (w.producers.length === 0) return { scenario: s, problems: [{ path: ['workload', 'producers'], message: 'a sweep needs producers; expected workload.producers' }] }
  switch (axis) {
    case 'rate': {
      // Split as the scenario splits its rate; groups without a record rate (max, bytes/s) share equally.
      const weights = w.producers.map((p) => (p.rate.kind === 'fixed' && p.rate.unit !== 'bytes' ? p.rate.perSecond : 0))
      const total = weights.reduce((a, b) => a + b, 0)
      const share = (i: number): number => (total > 0 && weights.every((x) => x > 0) ? weights[i]! / total : 1 / w.producers.length)
      return { scenario: { ...s, workload: { ...w, producers: w.producers.map((p, i) => ({ ...p, rate: { kind: 'fixed', perSecond: value * share(i), unit: 'messages' } })) } }, problems: [] }
    }
    case 'partitions':
      return { scenario: { ...s, topics: s.topics.map((t) => ({ ...t, partitions: value })) }, problems: [] }
    case 'messageSize':
      return { scenario: { ...s, workload: { ...w, producers: w.producers.map((p) => ({ ...p, messageSize: { kind: 'fixed', bytes: value } })) } }, problems: [] }
    case 'producers':
      return { scenario: { ...s, workload: { ...w, producers: w.producers.map((p) => ({ ...p, count: value })) } }, problems: [] }
    case 'workers':
      if (w.workers?.kind === 'remote') return { scenario: s, problems: [{ path: ['workload', 'workers'], message: 'the workers axis starts local load workers, but the scenario names remote ones; expected workload.workers: N or none' }] }
      return { scenario: { ...s, workload: { ...w, workers: { kind: 'local', count: value } } }, problems: [] }
  }
}

type LatencySlo = Extract<SloCheck, { kind: 'latency' }>
const latencySlos = (s: Scenario): LatencySlo[] => s.checks.slo.filter((c): c is LatencySlo => c.kind === 'latency' && (c.metric === 'produce' || c.metric === 'e2e'))

/** A point from its run's results (or its error when it had none). */
export function pointOf(base: Omit<SweepPoint, 'verdict' | 'error' | 'achieved' | 'achievedBytes' | 'consumed' | 'consumedBytes' | 'inBytes' | 'outBytes' | 'windowSeconds' | 'produce' | 'e2e' | 'errors' | 'slos' | 'slosHeld' | 'harnessSaturated' | 'harnessReasons'>, r: Results | { error: string }, sloMetrics: readonly string[]): SweepPoint {
  if ('error' in r) {
    const none = { p50: null, p99: null, p999: null }
    return { ...base, verdict: 'errored', error: r.error, achieved: 0, achievedBytes: 0, consumed: 0, consumedBytes: 0, inBytes: 0, outBytes: 0, windowSeconds: 0, produce: none, e2e: none, errors: 0, slos: [], slosHeld: false, harnessSaturated: false, harnessReasons: [] }
  }
  const m = r.metrics
  const slos: PointSlo[] = r.slos.filter((x) => sloMetrics.includes(x.metric)).map((x) => ({ metric: x.metric, threshold: x.threshold, actual: x.actual, state: x.state }))
  const lat = (l: { p50: number | null; p99: number | null; p999: number | null }) => ({ p50: l.p50, p99: l.p99, p999: l.p999 })
  return {
    ...base,
    verdict: r.verdict.state,
    error: r.verdict.state === 'errored' ? r.verdict.reasons.join('; ') : null,
    achieved: m.produce.rate,
    achievedBytes: m.produce.bytesRate,
    consumed: m.consume.rate,
    consumedBytes: m.consume.bytesRate,
    inBytes: m.produce.ackedBytes,
    outBytes: m.consume.bytes,
    windowSeconds: m.window.durationUs / 1e6,
    produce: lat(m.produce.latency),
    e2e: lat(m.e2e),
    errors: m.errors.total,
    slos,
    slosHeld: slos.length > 0 && slos.every((x) => x.state === 'passed'),
    harnessSaturated: r.loadGenerator?.saturated === true,
    harnessReasons: r.loadGenerator?.reasons ?? [],
  }
}

/** Samples a local cluster's brokers (or a docker cluster's containers) over the measured window (phases measure to heal). */
class ResourceProbe {
  private sampler: { stop(): NodeUsage[] | Promise<NodeUsage[]> } | null = null
  /** The window's last reading, taken when it ends. */
  private ended: Promise<NodeUsage[]> | null = null
  private source = 'broker process could be read in /proc'
  private result: PointResources
  constructor(backend: string) {
    this.result = { measured: false, reason: backend === 'external' ? 'not measured: external cluster' : 'not measured: the run ended before its measured window' }
  }
  readonly onPhase = (phase: RunPhase, cluster: ClusterTarget | null): void => {
    if (phase === 'measure' && cluster !== null && cluster.nodes.some((n) => n.pid !== undefined)) {
      this.sampler = new NodeUsageSampler(() => cluster.nodes).start()
    } else if (phase === 'measure' && cluster !== null && cluster.nodes.some((n) => n.readUsage !== undefined)) {
      this.source = 'container could be read from the Docker Engine'
      this.sampler = new CounterUsageSampler(() => cluster.nodes).start()
    } else if (phase !== 'measure' && this.sampler !== null) {
      this.ended = Promise.resolve(this.sampler.stop())
      this.sampler = null
    }
  }
  async finish(): Promise<PointResources> {
    if (this.sampler !== null) {
      this.ended = Promise.resolve(this.sampler.stop())
      this.sampler = null
    }
    if (this.ended !== null) {
      const brokers = await this.ended
      this.ended = null
      const rss = brokers.map((b) => b.peakRssBytes).filter((v): v is number => v !== null)
      const writes = brokers.map((b) => b.writeBytes)
      this.result = brokers.length === 0
        ? { measured: false, reason: `not measured: no broker ${this.source}` }
        : {
            measured: true,
            brokers: brokers.map((b) => ({ ...b })),
            cpuSeconds: brokers.reduce((s, b) => s + b.cpuSeconds, 0),
            peakRssBytes: rss.length === 0 ? null : Math.max(...rss),
            writeBytes: writes.every((x) => x !== null) ? writes.reduce((s: number, x) => s + x!, 0) : null,
          }
    }
    return this.result
  }
}

export async function sweepCommand(file: string, flags: SweepFlags, io: SweepIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const err = (s: string): number => {
    io.stderr.write(`faultline sweep: ${s}\n`)
    return 2
  }
  const axis = (flags.axis ?? 'rate') as SweepAxis
  if (!(sweepAxes as readonly string[]).includes(axis)) return err(`--axis ${JSON.stringify(flags.axis)}: expected one of ${sweepAxes.join(', ')}`)
  if (flags.from === undefined) return err(`--from: missing; expected the first value of the ${axis} axis, like ${axisLabel(axis, axis === 'rate' ? 1000 : axis === 'messageSize' ? 512 : 1)}`)
  if (flags.to === undefined) return err(`--to: missing; expected the last value of the ${axis} axis`)
  const from = parseAxisValue(axis, '--from', flags.from)
  if (!from.ok) return err(from.message)
  const to = parseAxisValue(axis, '--to', flags.to)
  if (!to.ok) return err(to.message)
  if (!(to.value > from.value)) return err(`--to ${flags.to}: not above --from ${flags.from}; expected a range from low to high`)
  const count = (flag: string, text: string | undefined, dflt: number, min: number, max: number): number | string => {
    if (text === undefined) return dflt
    if (!/^\d{1,3}$/.test(text) || Number(text) < min || Number(text) > max) return `${flag} ${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`
    return Number(text)
  }
  const steps = count('--steps', flags.steps, 5, 2, 100)
  if (typeof steps === 'string') return err(steps)
  const refine = count('--refine', flags.refine, 2, 0, 10)
  if (typeof refine === 'string') return err(refine)
  const scale = flags.scale ?? 'linear'
  if (scale !== 'linear' && scale !== 'log') return err(`--scale ${JSON.stringify(flags.scale)}: expected linear or log`)
  let seed: number | undefined
  if (flags.seed !== undefined) {
    const parsed = parseSeed(flags.seed)
    if (parsed === null) return err(`--seed ${JSON.stringify(flags.seed)}: expected an integer from 0 to ${MAX_SEED}`)
    seed = parsed
  }
  let durationMs: number | undefined
  if (flags.duration !== undefined) {
    const d = parseDurationFlag(flags.duration)
    if (!d.ok) return err(d.message)
    durationMs = d.ms
  }
  let target: number | null = null
  if (flags.target !== undefined) {
    const t = parseRate(flags.target)
    if (!t.ok || t.value.unit !== 'messages') return err(`--target ${JSON.stringify(flags.target)}: expected a record rate like 500000/s`)
    target = t.value.perSecond
  }
  let coresPerBroker = cpus().length
  if (flags.coresPerBroker !== undefined) {
    if (!/^\d{1,4}(\.\d+)?$/.test(flags.coresPerBroker) || !(Number(flags.coresPerBroker) > 0)) return err(`--cores-per-broker ${JSON.stringify(flags.coresPerBroker)}: expected a number of cores above 0, like 8`)
    coresPerBroker = Number(flags.coresPerBroker)
  }

  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    return err(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a scenario YAML file`)
  }
  const notes: string[] = []
  const adjust = (v: number | null): ScenarioAdjustment => (s) => {
    let cur = s
    if (durationMs !== undefined) {
      const d = durationAdjustment(durationMs, v === null ? notes : [])(cur)
      if (d.problems.length > 0) return d
      cur = d.scenario
    }
    return v === null ? { scenario: cur, problems: [] } : applyAxis(cur, axis, v)
  }
  const load = (v: number | null): Scenario | ScenarioError => {
    try {
      return parseScenario(text, file, { adjust: adjust(v) })
    } catch (e) {
      if (ScenarioError.is(e)) return e
      throw e
    }
  }
  const base = load(null)
  if (base instanceof ScenarioError) {
    io.stderr.write(`${base.message}\n`)
    return err(`${file} is not a valid scenario; nothing was run`)
  }
  const slos = latencySlos(base)
  if (slos.length === 0) {
    return err(`checks.slo: ${file} has no latency SLO on produce or e2e; a sweep finds the knee where one starts failing, so expected one like checks.slo: { produce.p99: 50ms }`)
  }
  const sloMetrics = slos.map((c) => `${c.metric}.${c.stat}`)
  const grid = gridValues(from.value, to.value, steps, scale)
  const scenarios = new Map<number, Scenario>()
  const scenarioAt = (v: number): Scenario | ScenarioError => {
    const had = scenarios.get(v)
    if (had) return had
    const s = load(v)
    if (!(s instanceof ScenarioError)) scenarios.set(v, s)
    return s
  }
  // Every grid point is checked before anything runs: a value the schema refuses fails the sweep now.
  for (const v of grid) {
    const s = scenarioAt(v)
    if (s instanceof ScenarioError) {
      io.stderr.write(`${s.message}\n`)
      return err(`--axis ${axis} = ${axisLabel(axis, v)} makes ${file} invalid; nothing was run`)
    }
  }

  const seedFrom = seed !== undefined ? '' : base.seed !== undefined ? ' (from the scenario file)' : ' (from the clock)'
  seed ??= base.seed ?? timeSeed()
  const outDir = flags.out ?? defaultOutDir(`sweep-${base.name}`)
  mkdirSync(outDir, { recursive: true })
  const progress: ProgressReporter = flags.quiet ? silentProgress : consoleProgress(io.stderr)
  progress.info(`faultline sweep ${file}: ${axis} ${grid.map((v) => axisLabel(axis, v)).join(', ')}${refine > 0 ? ` (+ up to ${refine} bisection point${refine === 1 ? '' : 's'})` : ''}; seed ${seed}${seedFrom}; output in ${outDir}`)
  for (const n of notes) progress.info(n)
  const backend = base.cluster.backend
  if (backend !== 'external') notes.push(`every point ran on a fresh ${backend} cluster`)
  else notes.push('every point ran on the same external cluster (its topics and their data stay between points)')
  notes.push('history.bin of each point is deleted after it ran; results.json keeps every figure')

  const controller = new AbortController()
  const signals = io.signals ?? process
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      io.stderr.write('faultline sweep: interrupted again: quitting now\n')
      process.exit(130)
    }
    io.stderr.write('\nfaultline sweep: interrupted: stopping the current point, writing sweep.json (Ctrl-C again to quit at once)\n')
    controller.abort()
  }
  signals.on('SIGINT', onSignal)
  signals.on('SIGTERM', onSignal)
  const points: SweepPoint[] = []
  const runPoint = async (v: number, refinement: boolean): Promise<number | null> => {
    const run = points.length + 1
    const label = axisLabel(axis, v)
    const dir = join(outDir, `point-${String(run).padStart(2, '0')}`)
    const s = scenarioAt(v)
    if (s instanceof ScenarioError) {
      // A bisection value between two valid ones: the schema refusing it ends the refinement, not the sweep.
      notes.push(`bisection point ${label} is not a valid scenario (${s.problems[0]?.message ?? s.message}); not run`)
      return null
    }
    const tag = `point ${run} (${axis} ${label}${refinement ? ', bisection' : ''})`
    const say: ProgressReporter = { info: (l) => progress.info(`${tag}: ${l}`), status: (x) => progress.status(x), done: () => progress.done() }
    const probe = new ResourceProbe(backend)
    let results: Results | { error: string }
    try {
      results = await runScenario(s, { outDir: dir, seed: seed!, progress: say, signal: controller.signal, onPhase: probe.onPhase })
    } catch (e) {
      if (e instanceof RunError && e.exitCode === 2) {
        for (const line of e.message.split('\n')) io.stderr.write(`faultline sweep: ${tag}: ${line}\n`)
        return 2
      }
      if (!(e instanceof RunError)) throw e
      results = { error: e.message }
    }
    rmSync(join(dir, 'history.bin'), { force: true })
    const p = pointOf({ run, value: v, label, refinement, dir, offered: offeredRate(s), resources: await probe.finish() }, results, sloMetrics)
    points.push(p)
    points.sort((a, b) => a.value - b.value || a.run - b.run)
    progress.info(`${tag}: achieved ${fmtRate(p.achieved)}, ${p.verdict === 'errored' ? `errored: ${p.error}` : p.slosHeld ? 'latency SLOs held' : `latency SLOs failed (${p.slos.filter((x) => x.state !== 'passed').map((x) => x.metric).join(', ')})`}${p.harnessSaturated ? '; load generator saturated: not the cluster\'s figures' : ''}`)
    return null
  }

  let code: number | null = null
  const startedAt = new Date().toISOString()
  try {
    for (const v of grid) {
      if (controller.signal.aborted) break
      code = await runPoint(v, false)
      if (code !== null) return code
    }
    for (let i = 0; i < refine && !controller.signal.aborted; i++) {
      const v = nextRefinement(points, axis)
      if (v === null) break
      code = await runPoint(v, true)
      if (code !== null) return code
    }
  } finally {
    signals.off('SIGINT', onSignal)
    signals.off('SIGTERM', onSignal)
  }

  const again = heldAgain(points)
  if (again.length > 0) notes.push(`latency SLOs held again above the first failure at ${again.map((p) => p.label).join(', ')}: the knee is noisy there; longer points (--duration) tell it apart`)
  const brokers = backend === 'external' ? null : base.cluster.brokers
  const replicationFactor = Math.max(...base.topics.map((t) => t.replicationFactor))
  const report: SweepReport = {
    schemaVersion: sweepSchemaVersion,
    scenario: base.name,
    file,
    startedAt,
    axis,
    from: flags.from,
    to: flags.to,
    steps,
    scale,
    seed,
    durationMs: base.workload.durationMs,
    cluster: { backend, brokers, replicationFactor },
    latencySlos: slos.map((c) => ({ metric: `${c.metric}.${c.stat}`, threshold: c.maxMs * 1000 })),
    points,
    knee: findKnee(points, fmtRate),
    saturation: findSaturation(points, fmtRate),
    capacity: backend !== 'external'
      ? capacityModel(points, { brokers, replicationFactor, coresPerBroker, hostCores: cpus().length, targetRate: target, cpuSource: backend === 'docker' ? "the containers' cgroups, from the Docker Engine's stats" : undefined })
      : { measured: false, reason: 'not measured: external cluster' },
    interrupted: controller.signal.aborted,
    notes,
  }
  writeFileSync(join(outDir, 'sweep.json'), `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(join(outDir, 'sweep.html'), renderSweepHtml(report))
  io.stdout.write(renderSweepConsole(report))
  io.stdout.write(`\nresults  ${resolve(outDir, 'sweep.json')}\n         ${resolve(outDir, 'sweep.html')}\n`)
  if (report.interrupted || points.length === 0 || points.every((p) => p.verdict === 'errored')) return 3
  return 0
}

