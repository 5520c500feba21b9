// The schedules explore draws stay inside their FaultSpace, and shrink the way explore promises: to fewer,
// earlier, shorter faults aimed at the first target.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkSpace, explorableKinds, type FaultSpace, scheduleArbitrary, STEP_MS } from '../../chaos/fault-space.ts'
import { type Fault, faultEndMs, type FaultKind, type Target } from '../../chaos/faults.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`fault-space.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

const targets: Target[] = [{ kind: 'node', node: 1 }, { kind: 'node', node: 2 }, { kind: 'node', node: 3 }, { kind: 'controller' }, { kind: 'leaderOf', topic: 't', partition: 0 }]

/** Spaces with valid bounds: a run of endMs, faults starting in [startMin, startMax], lasting [dMin, dMax]. */
const spaces: fc.Arbitrary<FaultSpace> = fc
  .record({
    kinds: fc.subarray(['kill', 'pause'] as FaultKind[], { minLength: 1 }),
    targets: fc.subarray(targets, { minLength: 1 }),
    maxFaults: fc.integer({ min: 1, max: 6 }),
    endSteps: fc.integer({ min: 20, max: 600 }),
    a: fc.integer({ min: 0, max: 1000 }),
    b: fc.integer({ min: 0, max: 1000 }),
    c: fc.integer({ min: 0, max: 1000 }),
    d: fc.integer({ min: 0, max: 1000 }),
  })
  .map(({ kinds, targets: ts, maxFaults, endSteps, a, b, c, d }) => {
    const endMs = endSteps * STEP_MS
    const dMin = STEP_MS * (1 + Math.floor((a / 1000) * (endSteps / 2)))
    const dMax = dMin + STEP_MS * Math.floor((b / 1000) * (endSteps / 2))
    const startMin = STEP_MS * Math.floor((c / 1000) * ((endMs - dMin) / STEP_MS))
    const startMax = startMin + STEP_MS * Math.floor((d / 1000) * ((endMs - dMin - startMin) / STEP_MS))
    return { kinds, targets: ts, maxFaults, start: { minMs: startMin, maxMs: startMax }, duration: { minMs: dMin, maxMs: dMax }, endMs }
  })

const durationOf = (f: Fault, endMs: number): number => (faultEndMs(f) ?? endMs) - f.atMs

describe('fault schedules for explore', () => {
  it('every generator in the registry is reachable by kind', () => {
    expect(explorableKinds().sort()).toEqual(['kill', 'pause'])
  })

  it('respect the space: kinds, targets, count, start times, durations, the end of the run', async () => {
    await fc.assert(
      fc.property(
        spaces.chain((space) => fc.tuple(fc.constant(space), scheduleArbitrary(space))),
        ([space, schedule]) => {
          expect(checkSpace(space)).toBeNull()
          expect(schedule.length).toBeGreaterThanOrEqual(1)
          expect(schedule.length).toBeLessThanOrEqual(space.maxFaults)
          schedule.forEach((f, i) => {
            expect(space.kinds).toContain(f.kind)
            expect(f.name).toBe(`${f.kind}-${i}`)
            if (i > 0) expect(f.atMs).toBeGreaterThanOrEqual(schedule[i - 1]!.atMs)
            if (f.kind !== 'kill' && f.kind !== 'pause') throw new Error(`unexpected kind ${f.kind}`)
            expect(space.targets).toContainEqual(f.target)
            expect(f.atMs % STEP_MS).toBe(0)
            expect(f.atMs).toBeGreaterThanOrEqual(space.start.minMs)
            expect(f.atMs).toBeLessThanOrEqual(space.start.maxMs)
            const end = faultEndMs(f)
            if (end !== null) {
              expect(end).toBeLessThanOrEqual(space.endMs)
              expect(durationOf(f, space.endMs)).toBeGreaterThanOrEqual(space.duration.minMs)
              expect(durationOf(f, space.endMs)).toBeLessThanOrEqual(space.duration.maxMs)
              expect(durationOf(f, space.endMs) % STEP_MS).toBe(0)
            } else {
              expect(f.kind).toBe('kill')
            }
          })
        },
      ),
      { seed, numRuns: 300 },
    )
  })

  it('shrink to one fault, as early and as short as the space allows, on the first target', async () => {
    const space: FaultSpace = {
      kinds: ['pause', 'kill'],
      targets,
      maxFaults: 5,
      start: { minMs: 1000, maxMs: 8000 },
      duration: { minMs: 500, maxMs: 4000 },
      endMs: 12_000,
    }
    // A "bug" that any kill triggers: the minimal counterexample is one kill, restarted, at the earliest start,
    // for the shortest duration, on node 1.
    for (let s = seed; s < seed + 50; s++) {
      const details = await fc.check(fc.property(scheduleArbitrary(space), (faults) => !faults.some((f) => f.kind === 'kill')), { seed: s })
      expect(details.failed).toBe(true)
      expect(details.counterexample![0], `seed ${s}`).toEqual([{ kind: 'kill', name: 'kill-0', atMs: 1000, target: { kind: 'node', node: 1 }, restartAfterMs: 500 }])
    }
  })

  it('refuse spaces that cannot be drawn from, saying why', () => {
    const ok: FaultSpace = { kinds: ['kill'], targets, maxFaults: 1, start: { minMs: 0, maxMs: 1000 }, duration: { minMs: 100, maxMs: 200 }, endMs: 2000 }
    expect(checkSpace(ok)).toBeNull()
    expect(checkSpace({ ...ok, kinds: [] })).toMatch(/no fault kinds/)
    expect(checkSpace({ ...ok, kinds: ['partition'] })).toMatch(/no generator for partition faults; expected one of kill, pause/)
    expect(checkSpace({ ...ok, targets: [] })).toMatch(/no targets/)
    expect(checkSpace({ ...ok, maxFaults: 0 })).toMatch(/maxFaults 0/)
    expect(checkSpace({ ...ok, start: { minMs: 0, maxMs: 1950 } })).toMatch(/would end after 2000 ms/)
    expect(() => scheduleArbitrary({ ...ok, targets: [] })).toThrow(/fault space: no targets/)
  })
})
