// The schedules explore draws stay inside their FaultSpace, and shrink the way explore promises: to fewer,
// earlier, shorter faults aimed at the first target.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkSpace, explorableKinds, type FaultSpace, scheduleArbitrary, STEP_MS, targetsFor } from '../../chaos/fault-space.ts'
import { DIRECTIONS, type Fault, faultEndMs, type FaultKind, type Target } from '../../chaos/faults.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`fault-space.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

const targets: Target[] = [{ kind: 'node', node: 1 }, { kind: 'node', node: 2 }, { kind: 'node', node: 3 }, { kind: 'controller' }, { kind: 'leaderOf', topic: 't', partition: 0 }]
/** What a nemesis may name besides: targets some kinds cannot take (clients for kill, all for a partition). */
const oddTargets: Target[] = [{ kind: 'all' }, { kind: 'clients' }, { kind: 'random' }, { kind: 'minority' }]
const NETWORK_KINDS: FaultKind[] = ['partition', 'latency', 'bandwidth', 'reset', 'timeout', 'down']

/** Spaces with valid bounds: a run of endMs, faults starting in [startMin, startMax], lasting [dMin, dMax]. */
const spaces: fc.Arbitrary<FaultSpace> = fc
  .record({
    kinds: fc.subarray(['kill', 'pause', ...NETWORK_KINDS] as FaultKind[], { minLength: 1 }),
    // At least one node, so every kind has a target; the odd ones mixed in.
    targets: fc.tuple(fc.subarray(targets, { minLength: 1 }), fc.subarray(oddTargets)).map(([a, b]) => [...a.filter((t) => t.kind === 'node').slice(0, 1), ...a, ...b]),
    brokers: fc.integer({ min: 1, max: 5 }),
    maxFaults: fc.integer({ min: 1, max: 6 }),
    endSteps: fc.integer({ min: 20, max: 600 }),
    a: fc.integer({ min: 0, max: 1000 }),
    b: fc.integer({ min: 0, max: 1000 }),
    c: fc.integer({ min: 0, max: 1000 }),
    d: fc.integer({ min: 0, max: 1000 }),
  })
  .map(({ kinds, targets: ts, brokers, maxFaults, endSteps, a, b, c, d }) => {
    const endMs = endSteps * STEP_MS
    const dMin = STEP_MS * (1 + Math.floor((a / 1000) * (endSteps / 2)))
    const dMax = dMin + STEP_MS * Math.floor((b / 1000) * (endSteps / 2))
    const startMin = STEP_MS * Math.floor((c / 1000) * ((endMs - dMin) / STEP_MS))
    const startMax = startMin + STEP_MS * Math.floor((d / 1000) * ((endMs - dMin - startMin) / STEP_MS))
    return { kinds, targets: ts, brokers, maxFaults, start: { minMs: startMin, maxMs: startMax }, duration: { minMs: dMin, maxMs: dMax }, endMs }
  })

const durationOf = (f: Fault, endMs: number): number => (faultEndMs(f) ?? endMs) - f.atMs

describe('fault schedules for explore', () => {
  it('every generator in the registry is reachable by kind', () => {
    expect(explorableKinds().sort()).toEqual(['bandwidth', 'down', 'kill', 'latency', 'partition', 'pause', 'reset', 'timeout'])
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
            if (f.kind === 'partition') {
              const sp = f.split
              const n = space.brokers!
              if (sp.kind === 'isolate' || sp.kind === 'bridge') {
                expect(targetsFor('partition', space)).toContainEqual(sp.kind === 'isolate' ? sp.target : sp.bridge)
                expect(['all', 'clients']).not.toContain(sp.kind === 'isolate' ? sp.target.kind : sp.bridge.kind)
              }
              if (sp.kind === 'isolate' || sp.kind === 'halves') expect(n).toBeGreaterThanOrEqual(2)
              if (sp.kind === 'bridge') expect(n).toBeGreaterThanOrEqual(3)
              expect(['isolate', 'clients', 'halves', 'bridge']).toContain(sp.kind)
            } else if (f.kind === 'kill' || f.kind === 'pause' || f.kind === 'latency' || f.kind === 'bandwidth' || f.kind === 'reset' || f.kind === 'timeout' || f.kind === 'down') {
              expect(space.targets).toContainEqual(f.target)
              expect(f.target.kind).not.toBe('clients')
              if (f.kind !== 'kill' && f.kind !== 'pause') expect(DIRECTIONS).toContain(f.direction)
              if (f.kind === 'latency') {
                expect(f.delayMs).toBeGreaterThanOrEqual(10)
                expect(f.delayMs).toBeLessThanOrEqual(1000)
                expect(f.jitterMs).toBeLessThanOrEqual(f.delayMs)
              }
              if (f.kind === 'bandwidth') expect(f.bytesPerSecond).toBeGreaterThan(0)
              if (f.kind === 'reset' || f.kind === 'timeout') expect(f.afterMs % STEP_MS).toBe(0)
            } else {
              throw new Error(`unexpected kind ${f.kind}`)
            }
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

  // Network faults shrink towards milder ones: the simplest partition shape (isolate the first target), the
  // smallest delay, the highest bandwidth, both directions, the default `after`.
  const netSpace: FaultSpace = {
    kinds: ['latency', 'partition', 'bandwidth', 'reset', 'timeout', 'down', 'kill'],
    targets,
    brokers: 3,
    maxFaults: 5,
    start: { minMs: 1000, maxMs: 8000 },
    duration: { minMs: 500, maxMs: 4000 },
    endMs: 12_000,
  }
  const minimal = async (bug: (f: Fault) => boolean, expected: Fault, space = netSpace): Promise<void> => {
    for (let s = seed; s < seed + 30; s++) {
      const details = await fc.check(fc.property(scheduleArbitrary(space), (faults) => !faults.some(bug)), { seed: s })
      expect(details.failed).toBe(true)
      expect(details.counterexample![0], `seed ${s}`).toEqual([expected])
    }
  }
  const node1 = { kind: 'node', node: 1 } as const

  it('shrink a partition to isolating the first target, as early and as short as the space allows', async () => {
    await minimal((f) => f.kind === 'partition', { kind: 'partition', name: 'partition-0', atMs: 1000, split: { kind: 'isolate', target: node1 }, healAfterMs: 500 })
  })

  it('shrink a partition that must involve the clients to cutting them off', async () => {
    await minimal(
      (f) => f.kind === 'partition' && (f.split.kind === 'clients' || (f.split.kind === 'halves' && f.split.clients !== 'both')),
      { kind: 'partition', name: 'partition-0', atMs: 1000, split: { kind: 'clients' }, healAfterMs: 500 },
    )
  })

  it('shrink latency to the smallest delay that still fails, without jitter, both ways', async () => {
    await minimal((f) => f.kind === 'latency', { kind: 'latency', name: 'latency-0', atMs: 1000, target: node1, delayMs: 10, jitterMs: 0, direction: 'both', durationMs: 500 })
    await minimal((f) => f.kind === 'latency' && f.delayMs >= 300, { kind: 'latency', name: 'latency-0', atMs: 1000, target: node1, delayMs: 300, jitterMs: 0, direction: 'both', durationMs: 500 })
  })

  it('shrink bandwidth to the highest cap, reset and timeout to their defaults, down to the first target', async () => {
    await minimal((f) => f.kind === 'bandwidth', { kind: 'bandwidth', name: 'bandwidth-0', atMs: 1000, target: node1, bytesPerSecond: 1024 * 1024, direction: 'both', durationMs: 500 })
    await minimal((f) => f.kind === 'reset', { kind: 'reset', name: 'reset-0', atMs: 1000, target: node1, afterMs: 0, direction: 'both', durationMs: 500 })
    await minimal((f) => f.kind === 'timeout', { kind: 'timeout', name: 'timeout-0', atMs: 1000, target: node1, afterMs: 0, direction: 'both', durationMs: 500 })
    await minimal((f) => f.kind === 'down', { kind: 'down', name: 'down-0', atMs: 1000, target: node1, direction: 'both', durationMs: 500 })
  })

  it('draw only the partition shapes the cluster has brokers for', async () => {
    const shapes = (brokers: number) =>
      new Set(fc.sample(scheduleArbitrary({ ...netSpace, kinds: ['partition'], brokers }), { seed, numRuns: 300 }).flat().map((f) => (f.kind === 'partition' ? f.split.kind : f.kind)))
    expect(shapes(1)).toEqual(new Set(['clients']))
    expect(shapes(2)).toEqual(new Set(['isolate', 'clients', 'halves']))
    expect(shapes(3)).toEqual(new Set(['isolate', 'clients', 'halves', 'bridge']))
  })

  it('refuse spaces that cannot be drawn from, saying why', () => {
    const ok: FaultSpace = { kinds: ['kill'], targets, maxFaults: 1, start: { minMs: 0, maxMs: 1000 }, duration: { minMs: 100, maxMs: 200 }, endMs: 2000 }
    expect(checkSpace(ok)).toBeNull()
    expect(checkSpace({ ...ok, kinds: [] })).toMatch(/no fault kinds/)
    expect(checkSpace({ ...ok, kinds: ['slicer'] })).toMatch(/no generator for slicer faults; expected one of kill, pause, partition, latency, bandwidth, reset, timeout, down/)
    expect(checkSpace({ ...ok, kinds: ['latency'], targets: [{ kind: 'clients' }] })).toMatch(/no target for latency faults among clients/)
    expect(checkSpace({ ...ok, targets: [] })).toMatch(/no targets/)
    expect(checkSpace({ ...ok, maxFaults: 0 })).toMatch(/maxFaults 0/)
    expect(checkSpace({ ...ok, start: { minMs: 0, maxMs: 1950 } })).toMatch(/would end after 2000 ms/)
    expect(() => scheduleArbitrary({ ...ok, targets: [] })).toThrow(/fault space: no targets/)
  })
})
