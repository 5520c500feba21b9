// How each partition shape resolves into one-way cuts, and the rules a cut becomes. Property tests print their
// seed (FC_SEED replays one).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { PartitionSplit, Target } from '../../../chaos/faults.ts'
import { CLIENTS_HOST, type Cut, resolveSplit, rulesFor } from '../../../chaos/network/partition.ts'
import { Prng } from '../../../workloads/generators.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`split.test.ts: fast-check seed ${seed} (FC_SEED=${seed} replays it)`)

const ctx = (n: number, s = 1, controller = 1) => ({
  nodes: Array.from({ length: n }, (_, i) => i + 1),
  resolveTarget: async (t: Target) => (t.kind === 'node' ? [t.node] : t.kind === 'controller' ? [controller] : []),
  prng: new Prng(s),
})
const show = (cuts: readonly Cut[]) => cuts.map((c) => `${c.from}>${c.to}`).sort()
const reaches = (cuts: readonly Cut[], from: number | 'clients', to: number) => !cuts.some((c) => c.from === from && c.to === to)

describe('resolveSplit', () => {
  it('isolate cuts the target from the others and the clients, both ways', async () => {
    const r = await resolveSplit({ kind: 'isolate', target: { kind: 'controller' } }, ctx(3, 1, 2))
    expect(r.label).toBe('isolate [2] | [1, 3, clients]')
    expect(show(r.cuts)).toEqual(['1>2', '2>1', '2>3', '3>2', 'clients>2'].sort())
  })

  it('groups may hold the clients; unlisted, they reach everyone', async () => {
    const listed = await resolveSplit({ kind: 'groups', groups: [[1, 'clients'], [2, 3]] }, ctx(3))
    expect(listed.label).toBe('[1, clients] | [2, 3]')
    expect(show(listed.cuts)).toEqual(['1>2', '1>3', '2>1', '3>1', 'clients>2', 'clients>3'].sort())
    const unlisted = await resolveSplit({ kind: 'groups', groups: [[1], [2, 3]] }, ctx(3))
    expect(unlisted.cuts.some((c) => c.from === 'clients')).toBe(false)
  })

  it('clients: the clients reach no broker, the brokers each other', async () => {
    const r = await resolveSplit({ kind: 'clients' }, ctx(3))
    expect(show(r.cuts)).toEqual(['clients>1', 'clients>2', 'clients>3'])
  })

  it('a one-way cut drops only connections from `from` to `to`', async () => {
    const r = await resolveSplit({ kind: 'cut', from: { kind: 'node', node: 1 }, to: { kind: 'nodes', nodes: [2, 3] } }, ctx(3))
    expect(show(r.cuts)).toEqual(['1>2', '1>3'])
    expect(r.label).toBe('1 -> 2, 3 (one way)')
  })

  it('halves: a minority of floor(n/2) and a majority that cannot reach each other, the same for the same seed', () =>
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 9 }), fc.integer(), fc.constantFrom<'majority' | 'minority' | 'both'>('majority', 'minority', 'both'), async (n, s, clients) => {
        const split: PartitionSplit = { kind: 'halves', clients }
        const r = await resolveSplit(split, ctx(n, s))
        expect(show((await resolveSplit(split, ctx(n, s))).cuts)).toEqual(show(r.cuts))
        const ids = ctx(n).nodes
        // Each node's side: the nodes it still reaches, itself included.
        const side = (a: number) => ids.filter((b) => a === b || reaches(r.cuts, a, b))
        const sizes = new Set(ids.map((a) => side(a).length))
        expect([...sizes].sort()).toEqual([...new Set([Math.floor(n / 2), n - Math.floor(n / 2)])].sort())
        for (const a of ids) for (const b of side(a)) expect(reaches(r.cuts, b, a)).toBe(true)
        const clientSide = ids.filter((b) => reaches(r.cuts, 'clients', b)).length
        expect(clientSide).toBe(clients === 'both' ? n : clients === 'majority' ? n - Math.floor(n / 2) : Math.floor(n / 2))
      }),
      { seed, numRuns: 50 },
    ))

  it('bridge: the two halves cannot reach each other, both reach the bridge', () =>
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 3, max: 9 }), fc.integer(), async (n, s) => {
        const bridge = 1 + (Math.abs(s) % n)
        const r = await resolveSplit({ kind: 'bridge', bridge: { kind: 'node', node: bridge } }, ctx(n, s))
        const others = ctx(n).nodes.filter((x) => x !== bridge)
        for (const a of others) {
          expect(reaches(r.cuts, a, bridge) && reaches(r.cuts, bridge, a)).toBe(true)
          const cutOff = others.filter((b) => b !== a && !reaches(r.cuts, a, b))
          expect(cutOff.length).toBeGreaterThan(0)
        }
        expect(r.cuts.some((c) => c.from === 'clients')).toBe(false)
      }),
      { seed, numRuns: 50 },
    ))
})

describe('rulesFor', () => {
  it('drops the requests to each of the node\'s ports and the answers from them', () => {
    const rules = rulesFor([{ from: 'clients', to: 2 }], [{ id: 2, host: '127.0.0.9', ports: [9092, 19092] }], 'faultline x')
    expect(rules.map((r) => r.join(' '))).toEqual([
      `-p tcp -s ${CLIENTS_HOST} -d 127.0.0.9 --dport 9092 -m comment --comment faultline_x -j DROP`,
      `-p tcp -s 127.0.0.9 --sport 9092 -d ${CLIENTS_HOST} -m comment --comment faultline_x -j DROP`,
      `-p tcp -s ${CLIENTS_HOST} -d 127.0.0.9 --dport 19092 -m comment --comment faultline_x -j DROP`,
      `-p tcp -s 127.0.0.9 --sport 19092 -d ${CLIENTS_HOST} -m comment --comment faultline_x -j DROP`,
    ])
    expect(() => rulesFor([{ from: 1, to: 2 }], [{ id: 2, host: '127.0.0.9', ports: [1] }], 'x')).toThrow(/node 1 is not a node of this cluster/)
  })
})
