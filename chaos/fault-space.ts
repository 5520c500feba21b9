// Random fault schedules for `faultline explore`: fast-check arbitraries that draw faults from a FaultSpace
// (which kinds, which targets, when, for how long). One generator per fault kind, in `faultGenerators`; a new
// kind joins exploration by adding its entry there (and its YAML form in scenarios/explore.ts), so partition,
// latency and the rest come in without touching the explorer.
//
// Shrinking is fast-check's: a schedule shrinks to fewer faults (array), each fault to an earlier start and a
// shorter effect (integers shrink towards their minimum), targets towards the first in `targets` (node ids come
// first), and a kill towards one that is restarted. Network faults shrink towards milder ones: a partition
// towards isolating the first target, a latency towards a smaller delay without jitter, a bandwidth cap towards
// a higher rate, a direction towards both, reset and timeout towards their defaults (at once, and hanging).
// Times are whole multiples of STEP_MS so they read well in the written scenario.

import fc from 'fast-check'
import {
  type BandwidthFault,
  DIRECTIONS,
  type DownFault,
  type Fault,
  type FaultKind,
  type KillFault,
  type LatencyFault,
  type PartitionFault,
  type PartitionSplit,
  type PauseFault,
  type ResetFault,
  type Target,
  type TimeoutFault,
} from './faults.ts'

/** Times and durations are multiples of this. */
export const STEP_MS = 100

export interface MsRange {
  readonly minMs: number
  readonly maxMs: number
}

/** What a schedule may contain; every bound is inclusive. */
export interface FaultSpace {
  readonly kinds: readonly FaultKind[]
  readonly targets: readonly Target[]
  /** Faults per schedule, at least 1. */
  readonly maxFaults: number
  /** When a fault may start (ms from the start of the run). */
  readonly start: MsRange
  /** How long a fault's effect lasts (pause duration, kill until restart). */
  readonly duration: MsRange
  /** Every fault ends by this time (ms from the start of the run); a kill may also last until the run ends. */
  readonly endMs: number
  /** The cluster's size when known: partition shapes that need more brokers than it has are not drawn. */
  readonly brokers?: number
}

export type FaultGenerator = (space: FaultSpace) => fc.Arbitrary<Fault>

/** A multiple of STEP_MS in [min, max], shrinking towards min. */
const stepped = (r: MsRange): fc.Arbitrary<number> =>
  fc.integer({ min: Math.ceil(r.minMs / STEP_MS), max: Math.floor(r.maxMs / STEP_MS) }).map((n) => n * STEP_MS)

/** The targets of the space a fault of this kind can aim at (validate refuses the others for it). */
export function targetsFor(kind: FaultKind, s: FaultSpace): Target[] {
  // clients: no process to kill or pause, and a proxy fault on them selects no broker's proxy.
  if (kind !== 'partition') return s.targets.filter((t) => t.kind !== 'clients')
  return s.targets.filter((t) => t.kind !== 'clients' && t.kind !== 'all')
}

const target = (kind: FaultKind, s: FaultSpace): fc.Arbitrary<Target> => fc.constantFrom(...targetsFor(kind, s))

/** A start and a duration with start + duration <= endMs (durations above what is left are cut to fit). */
const timed = (s: FaultSpace): fc.Arbitrary<{ atMs: number; durationMs: number }> =>
  fc.tuple(stepped(s.start), stepped(s.duration)).map(([atMs, d]) => ({ atMs, durationMs: Math.min(d, s.endMs - atMs) }))

/** One of the arbitraries, each drawn as often, each shrinking towards the ones before it (oneof's cross
 *  shrink tries only the first arbitrary, so they nest: the last shrinks to the one before, and so on). */
function simplestFirst<T>(arbs: readonly fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  const [first, ...rest] = arbs
  if (rest.length === 0) return first!
  return fc.oneof({ withCrossShrink: true }, { arbitrary: first!, weight: 1 }, { arbitrary: simplestFirst(rest), weight: rest.length })
}

/** Partition shapes the space allows, simplest first (isolate one target), so a shape shrinks towards it. */
function splits(s: FaultSpace): fc.Arbitrary<PartitionSplit>[] {
  const n = s.brokers ?? 0
  const nodes = targetsFor('partition', s)
  const out: fc.Arbitrary<PartitionSplit>[] = []
  if (n >= 2 && nodes.length > 0) out.push(fc.constantFrom(...nodes).map((t): PartitionSplit => ({ kind: 'isolate', target: t })))
  out.push(fc.constant<PartitionSplit>({ kind: 'clients' }))
  if (n >= 2) out.push(fc.constantFrom('both', 'minority', 'majority').map((c): PartitionSplit => ({ kind: 'halves', clients: c })))
  if (n >= 3 && nodes.length > 0) out.push(fc.constantFrom(...nodes).map((t): PartitionSplit => ({ kind: 'bridge', bridge: t })))
  return out
}

const direction = fc.constantFrom(...DIRECTIONS)

/** Added delay: 10 ms to 1 s in 10 ms steps. */
const LATENCY_STEPS = 100
/** Bandwidth caps: 64 KiB/s to 1 MiB/s in 64 KiB/s steps, the highest (mildest) first. */
const BANDWIDTH_STEP = 64 * 1024
const BANDWIDTH_STEPS = 16

export const faultGenerators: Partial<Record<FaultKind, FaultGenerator>> = {
  kill: (s) =>
    fc
      .tuple(timed(s), target('kill', s), fc.boolean())
      .map(([t, tg, stays]): KillFault => ({ kind: 'kill', name: 'kill', atMs: t.atMs, target: tg, restartAfterMs: stays ? null : t.durationMs })),
  pause: (s) => fc.tuple(timed(s), target('pause', s)).map(([t, tg]): PauseFault => ({ kind: 'pause', name: 'pause', atMs: t.atMs, target: tg, durationMs: t.durationMs })),
  partition: (s) =>
    fc
      .tuple(timed(s), simplestFirst(splits(s)))
      .map(([t, split]): PartitionFault => ({ kind: 'partition', name: 'partition', atMs: t.atMs, split, healAfterMs: t.durationMs })),
  latency: (s) =>
    fc
      .tuple(timed(s), target('latency', s), fc.integer({ min: 1, max: LATENCY_STEPS }), fc.integer({ min: 0, max: 5 }), direction)
      .map(([t, tg, d, j, dir]): LatencyFault => ({ kind: 'latency', name: 'latency', atMs: t.atMs, target: tg, delayMs: d * 10, jitterMs: j * d * 2, direction: dir, durationMs: t.durationMs })),
  bandwidth: (s) =>
    fc
      .tuple(timed(s), target('bandwidth', s), fc.integer({ min: 0, max: BANDWIDTH_STEPS - 1 }), direction)
      .map(([t, tg, k, dir]): BandwidthFault => ({ kind: 'bandwidth', name: 'bandwidth', atMs: t.atMs, target: tg, bytesPerSecond: (BANDWIDTH_STEPS - k) * BANDWIDTH_STEP, direction: dir, durationMs: t.durationMs })),
  reset: (s) =>
    fc
      .tuple(timed(s), target('reset', s), fc.integer({ min: 0, max: 20 }), direction)
      .map(([t, tg, a, dir]): ResetFault => ({ kind: 'reset', name: 'reset', atMs: t.atMs, target: tg, afterMs: a * STEP_MS, direction: dir, durationMs: t.durationMs })),
  timeout: (s) =>
    fc
      .tuple(timed(s), target('timeout', s), fc.integer({ min: 0, max: 30 }), direction)
      .map(([t, tg, a, dir]): TimeoutFault => ({ kind: 'timeout', name: 'timeout', atMs: t.atMs, target: tg, afterMs: a * STEP_MS, direction: dir, durationMs: t.durationMs })),
  down: (s) => fc.tuple(timed(s), target('down', s)).map(([t, tg]): DownFault => ({ kind: 'down', name: 'down', atMs: t.atMs, target: tg, direction: 'both', durationMs: t.durationMs })),
}

/** The kinds explore can generate. */
export const explorableKinds = (): FaultKind[] => (Object.keys(faultGenerators) as FaultKind[]).filter((k) => faultGenerators[k] !== undefined)

/** Why the space cannot be explored, or null. */
export function checkSpace(s: FaultSpace): string | null {
  if (s.kinds.length === 0) return 'no fault kinds to draw from'
  const missing = s.kinds.filter((k) => faultGenerators[k] === undefined)
  if (missing.length > 0) return `no generator for ${missing.join(', ')} faults; expected one of ${explorableKinds().join(', ')}`
  if (s.targets.length === 0) return 'no targets to aim faults at'
  for (const k of s.kinds) {
    if (k === 'partition' ? splits(s).length === 0 : targetsFor(k, s).length === 0) return `no target for ${k} faults among ${s.targets.map((t) => t.kind).join(', ')}`
  }
  if (!Number.isInteger(s.maxFaults) || s.maxFaults < 1) return `maxFaults ${s.maxFaults}: expected an integer of at least 1`
  if (s.duration.minMs < STEP_MS || s.duration.minMs > s.duration.maxMs) return `fault duration ${s.duration.minMs}..${s.duration.maxMs} ms: expected ${STEP_MS} ms <= min <= max`
  if (s.start.minMs < 0 || Math.ceil(s.start.minMs / STEP_MS) > Math.floor(s.start.maxMs / STEP_MS)) return `fault start ${s.start.minMs}..${s.start.maxMs} ms: expected 0 <= min <= max`
  if (s.start.maxMs + s.duration.minMs > s.endMs) return `a fault starting at ${s.start.maxMs} ms for ${s.duration.minMs} ms would end after ${s.endMs} ms`
  return null
}

/** Names faults as the scheduler and reports show them: <kind>-<index>, in start order. */
export function nameSchedule(faults: readonly Fault[]): Fault[] {
  return [...faults].sort((a, b) => a.atMs - b.atMs).map((f, i) => ({ ...f, name: `${f.kind}-${i}` }))
}

/** Schedules of 1..maxFaults faults drawn from the space, sorted by start time. */
export function scheduleArbitrary(s: FaultSpace): fc.Arbitrary<Fault[]> {
  const problem = checkSpace(s)
  if (problem !== null) throw new RangeError(`fault space: ${problem}`)
  const one = fc.oneof(...s.kinds.map((k) => faultGenerators[k]!(s)))
  // minLength 0 and a filter rather than minLength 1: with minLength 1, fast-check's array shrinker kept a
  // second fault after the first one (about a third of seeds), and a counterexample should hold only what it needs.
  return fc.array(one, { minLength: 0, maxLength: s.maxFaults }).filter((a) => a.length > 0).map(nameSchedule)
}
