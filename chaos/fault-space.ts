// Random fault schedules for `faultline explore`: fast-check arbitraries that draw faults from a FaultSpace
// (which kinds, which targets, when, for how long). One generator per fault kind, in `faultGenerators`; a new
// kind joins exploration by adding its entry there (and its YAML form in scenarios/explore.ts), so partition,
// latency and the rest come in without touching the explorer.
//
// Shrinking is fast-check's: a schedule shrinks to fewer faults (array), each fault to an earlier start and a
// shorter effect (integers shrink towards their minimum), targets towards the first in `targets` (node ids come
// first), and a kill towards one that is restarted. Times are whole multiples of STEP_MS so they read well in
// the written scenario.

import fc from 'fast-check'
import type { Fault, FaultKind, KillFault, PauseFault, Target } from './faults.ts'

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
}

export type FaultGenerator = (space: FaultSpace) => fc.Arbitrary<Fault>

/** A multiple of STEP_MS in [min, max], shrinking towards min. */
const stepped = (r: MsRange): fc.Arbitrary<number> =>
  fc.integer({ min: Math.ceil(r.minMs / STEP_MS), max: Math.floor(r.maxMs / STEP_MS) }).map((n) => n * STEP_MS)

const target = (s: FaultSpace): fc.Arbitrary<Target> => fc.constantFrom(...s.targets)

/** A start and a duration with start + duration <= endMs (durations above what is left are cut to fit). */
const timed = (s: FaultSpace): fc.Arbitrary<{ atMs: number; durationMs: number }> =>
  fc.tuple(stepped(s.start), stepped(s.duration)).map(([atMs, d]) => ({ atMs, durationMs: Math.min(d, s.endMs - atMs) }))

export const faultGenerators: Partial<Record<FaultKind, FaultGenerator>> = {
  kill: (s) =>
    fc
      .tuple(timed(s), target(s), fc.boolean())
      .map(([t, tg, stays]): KillFault => ({ kind: 'kill', name: 'kill', atMs: t.atMs, target: tg, restartAfterMs: stays ? null : t.durationMs })),
  pause: (s) => fc.tuple(timed(s), target(s)).map(([t, tg]): PauseFault => ({ kind: 'pause', name: 'pause', atMs: t.atMs, target: tg, durationMs: t.durationMs })),
}

/** The kinds explore can generate. */
export const explorableKinds = (): FaultKind[] => (Object.keys(faultGenerators) as FaultKind[]).filter((k) => faultGenerators[k] !== undefined)

/** Why the space cannot be explored, or null. */
export function checkSpace(s: FaultSpace): string | null {
  if (s.kinds.length === 0) return 'no fault kinds to draw from'
  const missing = s.kinds.filter((k) => faultGenerators[k] === undefined)
  if (missing.length > 0) return `no generator for ${missing.join(', ')} faults; expected one of ${explorableKinds().join(', ')}`
  if (s.targets.length === 0) return 'no targets to aim faults at'
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
