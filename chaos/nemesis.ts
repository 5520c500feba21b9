// Fault schedules beyond one fault at one time: a fault repeated `every` period `count` times, and a seeded
// random nemesis that mixes fault kinds like Jepsen's combined nemesis. Both expand, before the run, into the
// plain faults chaos/scheduler.ts applies, so `faultline validate --seed S` can print the schedule a run with
// --seed S will apply, and `explore` can draw schedules with the same function (expandNemesis).
//
// The nemesis is sequential: wait a draw from `interval`, inject one fault (a kind and a target drawn from
// the lists) for a draw from `duration`, heal, wait again; a fault that would not end by `until` (default:
// the run's end) is not scheduled. So its faults never overlap each other, on any node. Targets stay
// unresolved here (random, leaderOf, ...): the scheduler resolves them when the fault fires.
//
// A kind joins the nemesis by adding a builder to nemesisBuilders (how one draw becomes a fault of that
// kind); the schema accepts exactly the kinds listed there.

import { deriveSeed, Prng } from '../workloads/generators.ts'
import type { Fault, Target } from './faults.ts'

/** Inclusive bounds in ms; min === max is a fixed value. */
export interface MsRange {
  readonly minMs: number
  readonly maxMs: number
}

export interface NemesisSpec {
  /** Names of kinds with a builder in nemesisBuilders. */
  readonly kinds: readonly string[]
  /** Quiet time before each fault. */
  readonly interval: MsRange
  /** How long each fault lasts. */
  readonly duration: MsRange
  /** Drawn uniformly per fault; resolved when the fault fires. */
  readonly targets: readonly Target[]
  /** ms from the run's start: the nemesis is quiet before `fromMs` and schedules nothing that ends after `untilMs`. */
  readonly fromMs: number
  /** null: the run's end. */
  readonly untilMs: number | null
}

/** One draw of the nemesis, which a builder turns into a fault of its kind. */
export interface NemesisDraw {
  readonly name: string
  readonly atMs: number
  readonly durationMs: number
  readonly target: Target
}

/** The nemesis's network faults, as Jepsen's: a partition isolates the drawn target (`clients`: cuts the clients
 *  off; `minority`/`majority`: those brokers from the rest), a latency fault adds 100 ms +- 20 ms both ways, and
 *  reset, timeout and down break the target's connections in the proxies in front of it. */
export const NEMESIS_LATENCY = { delayMs: 100, jitterMs: 20 } as const

export const nemesisBuilders: Readonly<Record<string, (d: NemesisDraw) => Fault>> = {
  kill: (d) => ({ kind: 'kill', name: d.name, atMs: d.atMs, target: d.target, restartAfterMs: d.durationMs }),
  pause: (d) => ({ kind: 'pause', name: d.name, atMs: d.atMs, target: d.target, durationMs: d.durationMs }),
  partition: (d) => ({ kind: 'partition', name: d.name, atMs: d.atMs, split: d.target.kind === 'clients' ? { kind: 'clients' } : { kind: 'isolate', target: d.target }, healAfterMs: d.durationMs }),
  latency: (d) => ({ kind: 'latency', name: d.name, atMs: d.atMs, target: d.target, ...NEMESIS_LATENCY, direction: 'both', durationMs: d.durationMs }),
  reset: (d) => ({ kind: 'reset', name: d.name, atMs: d.atMs, target: d.target, afterMs: 0, direction: 'both', durationMs: d.durationMs }),
  timeout: (d) => ({ kind: 'timeout', name: d.name, atMs: d.atMs, target: d.target, afterMs: 0, direction: 'both', durationMs: d.durationMs }),
  down: (d) => ({ kind: 'down', name: d.name, atMs: d.atMs, target: d.target, direction: 'both', durationMs: d.durationMs }),
}

export const nemesisKinds = (): string[] => Object.keys(nemesisBuilders)

/** In 100 ms steps when the range spans a second or more, so a printed schedule reads like the ranges written. */
function draw(prng: Prng, r: MsRange): number {
  const step = r.maxMs - r.minMs >= 1000 ? 100 : 1
  return r.minMs + step * prng.int(Math.floor((r.maxMs - r.minMs) / step) + 1)
}

/**
 * The nemesis's faults for a run of `durationMs` with `seed`: the same spec, seed and duration always give
 * the same faults. Names are nemesis-1, nemesis-2, ... in time order.
 */
export function expandNemesis(spec: NemesisSpec, opts: { readonly seed: number; readonly durationMs: number }): Fault[] {
  // Every fault takes time, so the schedule ends.
  if (!(spec.duration.minMs >= 1)) throw new RangeError(`expandNemesis: duration.minMs must be at least 1, got ${spec.duration.minMs}`)
  const until = Math.min(spec.untilMs ?? opts.durationMs, opts.durationMs)
  const prng = new Prng(deriveSeed(opts.seed, 'nemesis'))
  const out: Fault[] = []
  let t = spec.fromMs
  for (;;) {
    const atMs = t + draw(prng, spec.interval)
    const durationMs = draw(prng, spec.duration)
    const kind = spec.kinds[prng.int(spec.kinds.length)]!
    const target = spec.targets[prng.int(spec.targets.length)]!
    if (atMs + durationMs > until) return out
    const build = nemesisBuilders[kind]
    if (build === undefined) throw new RangeError(`expandNemesis: no builder for fault kind ${JSON.stringify(kind)}; known: ${nemesisKinds().join(', ')}`)
    out.push(build({ name: `nemesis-${out.length + 1}`, atMs, durationMs, target }))
    t = atMs + durationMs
  }
}

/** `count` copies of a fault, `everyMs` apart, named <name>#1, <name>#2, ... */
export function repeatFault(f: Fault, everyMs: number, count: number): Fault[] {
  if (count === 1) return [f]
  return Array.from({ length: count }, (_, k) => ({ ...f, name: `${f.name}#${k + 1}`, atMs: f.atMs + k * everyMs }))
}
