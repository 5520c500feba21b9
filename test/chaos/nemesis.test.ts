import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Fault, faultEndMs, type Target } from '../../chaos/faults.ts'
import { expandNemesis, type NemesisSpec, nemesisKinds, repeatFault } from '../../chaos/nemesis.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`nemesis.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const range = (lo: number, hi: number) => fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: 0, max: hi })).map(([min, extra]) => ({ minMs: min, maxMs: min + extra }))
const targets: fc.Arbitrary<Target> = fc.oneof(
  fc.constant<Target>({ kind: 'random' }),
  fc.constant<Target>({ kind: 'controller' }),
  fc.constant<Target>({ kind: 'minority' }),
  fc.integer({ min: 1, max: 5 }).map((node): Target => ({ kind: 'node', node })),
)
const specs: fc.Arbitrary<{ spec: NemesisSpec; durationMs: number }> = fc
  .record({
    kinds: fc.uniqueArray(fc.constantFrom(...nemesisKinds()), { minLength: 1 }),
    interval: range(0, 30_000),
    duration: range(1, 20_000),
    targets: fc.array(targets, { minLength: 1, maxLength: 4 }),
    fromMs: fc.integer({ min: 0, max: 60_000 }),
    untilMs: fc.option(fc.integer({ min: 1, max: 300_000 }), { nil: null }),
    durationMs: fc.integer({ min: 1000, max: 300_000 }),
  })
  .map(({ durationMs, ...spec }) => ({ spec, durationMs }))

const durationOf = (f: Fault): number => faultEndMs(f)! - f.atMs
/** The drawn target a fault acts on: a partition's isolated side, or the clients it cuts off. */
const targetOf = (f: Fault): Target | null => {
  if ('target' in f) return f.target
  if (f.kind !== 'partition') return null
  return f.split.kind === 'isolate' ? f.split.target : f.split.kind === 'clients' ? { kind: 'clients' } : null
}

describe('expandNemesis', () => {
  it('is deterministic per seed, stays within its bounds and never overlaps two faults', () => {
    fc.assert(
      fc.property(specs, fc.integer({ min: 0, max: 2 ** 32 - 1 }), ({ spec, durationMs }, runSeed) => {
        const faults = expandNemesis(spec, { seed: runSeed, durationMs })
        expect(expandNemesis(spec, { seed: runSeed, durationMs })).toEqual(faults)
        const until = Math.min(spec.untilMs ?? durationMs, durationMs)
        let previousEnd = spec.fromMs
        faults.forEach((f, i) => {
          expect(f.name).toBe(`nemesis-${i + 1}`)
          expect(spec.kinds).toContain(f.kind)
          expect(spec.targets).toContainEqual(targetOf(f))
          const gap = f.atMs - previousEnd
          expect(gap).toBeGreaterThanOrEqual(spec.interval.minMs)
          expect(gap).toBeLessThanOrEqual(spec.interval.maxMs)
          const d = durationOf(f)
          expect(d).toBeGreaterThanOrEqual(spec.duration.minMs)
          expect(d).toBeLessThanOrEqual(spec.duration.maxMs)
          expect(faultEndMs(f)!).toBeLessThanOrEqual(until)
          previousEnd = faultEndMs(f)!
        })
      }),
      { seed, numRuns: 300 },
    )
  })

  it('draws other schedules from other seeds, and mixes the kinds it is given', () => {
    const spec: NemesisSpec = { kinds: ['kill', 'pause'], interval: { minMs: 1000, maxMs: 3000 }, duration: { minMs: 500, maxMs: 2000 }, targets: [{ kind: 'random' }], fromMs: 0, untilMs: null }
    const a = expandNemesis(spec, { seed: 1, durationMs: 120_000 })
    const b = expandNemesis(spec, { seed: 2, durationMs: 120_000 })
    expect(a).not.toEqual(b)
    expect(new Set(a.map((f) => f.kind))).toEqual(new Set(['kill', 'pause']))
    expect(a.length).toBeGreaterThan(20)
  })

  it('turns a kill draw into a kill restarted after the drawn duration', () => {
    const spec: NemesisSpec = { kinds: ['kill'], interval: { minMs: 5000, maxMs: 5000 }, duration: { minMs: 2000, maxMs: 2000 }, targets: [{ kind: 'controller' }], fromMs: 10_000, untilMs: 30_000 }
    expect(expandNemesis(spec, { seed: 9, durationMs: 60_000 })).toEqual([
      { kind: 'kill', name: 'nemesis-1', atMs: 15_000, target: { kind: 'controller' }, restartAfterMs: 2000 },
      { kind: 'kill', name: 'nemesis-2', atMs: 22_000, target: { kind: 'controller' }, restartAfterMs: 2000 },
    ])
  })
})

describe("the nemesis's network faults", () => {
  const one = (kind: string, target: Target) =>
    expandNemesis({ kinds: [kind], interval: { minMs: 1000, maxMs: 1000 }, duration: { minMs: 3000, maxMs: 3000 }, targets: [target], fromMs: 0, untilMs: 5000 }, { seed: 1, durationMs: 10_000 })
  it('isolates the drawn target, or cuts the clients off; heals after the drawn duration', () => {
    expect(one('partition', { kind: 'leaderOf', topic: 'a', partition: 0 })).toEqual([
      { kind: 'partition', name: 'nemesis-1', atMs: 1000, split: { kind: 'isolate', target: { kind: 'leaderOf', topic: 'a', partition: 0 } }, healAfterMs: 3000 },
    ])
    expect(one('partition', { kind: 'clients' })).toEqual([{ kind: 'partition', name: 'nemesis-1', atMs: 1000, split: { kind: 'clients' }, healAfterMs: 3000 }])
  })
  it('slows, resets, hangs or takes down the target in its proxies, both ways, for the drawn duration', () => {
    const node: Target = { kind: 'node', node: 2 }
    const common = { name: 'nemesis-1', atMs: 1000, target: node, direction: 'both', durationMs: 3000 }
    expect(one('latency', node)).toEqual([{ kind: 'latency', ...common, delayMs: 100, jitterMs: 20 }])
    expect(one('reset', node)).toEqual([{ kind: 'reset', ...common, afterMs: 0 }])
    expect(one('timeout', node)).toEqual([{ kind: 'timeout', ...common, afterMs: 0 }])
    expect(one('down', node)).toEqual([{ kind: 'down', ...common }])
  })
})

describe('repeatFault', () => {
  it('makes count copies every period apart, named #1..#count', () => {
    const f: Fault = { kind: 'pause', name: 'stall', atMs: 1000, target: { kind: 'node', node: 2 }, durationMs: 500 }
    expect(repeatFault(f, 2000, 3).map((c) => [c.name, c.atMs])).toEqual([
      ['stall#1', 1000],
      ['stall#2', 3000],
      ['stall#3', 5000],
    ])
    expect(repeatFault(f, 2000, 1)).toEqual([f])
  })
})
