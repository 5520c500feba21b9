import { describe, expect, it } from 'vitest'
import type { NodeHandle } from '../../chaos/cluster/types.ts'
import type { Fault, Target } from '../../chaos/faults.ts'
import type { PartitionControl } from '../../chaos/network/partition.ts'
import { FaultScheduler, type TargetResolver } from '../../chaos/scheduler.ts'
import type { FaultEvent, HistoryEvent } from '../../workloads/history/events.ts'
import { SimScheduler } from '../../workloads/rate.ts'

const ORIGIN = 10_000

/** A node handle that records what was done to it, with simulated start and stop times. */
class FakeNode implements NodeHandle {
  readonly id: number
  readonly address: string
  readonly host = '127.0.0.1'
  readonly port: number
  running = true
  paused = false
  readonly calls: string[] = []
  private readonly sched: SimScheduler

  constructor(id: number, sched: SimScheduler) {
    this.id = id
    this.port = 9000 + id
    this.address = `127.0.0.1:${this.port}`
    this.sched = sched
  }

  private log(what: string): void {
    this.calls.push(`${what}@${this.sched.now() - ORIGIN}`)
  }

  async start(): Promise<void> {
    this.log('start')
    this.running = true
  }
  async stop(): Promise<void> {
    this.log('stop')
    this.running = false
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.log(`kill:${signal}`)
    this.running = false
    this.paused = false
  }
  pause(): void {
    this.log('pause')
    this.paused = true
  }
  resume(): void {
    this.log('resume')
    this.paused = false
  }
}

const kill = (name: string, atMs: number, target: Target, restartAfterMs: number | null): Fault => ({ kind: 'kill', name, atMs, target, restartAfterMs })
const pause = (name: string, atMs: number, target: Target, durationMs: number): Fault => ({ kind: 'pause', name, atMs, target, durationMs })

function setup(faults: Fault[], opts: { nodes?: number; resolver?: Partial<TargetResolver>; seed?: number } = {}) {
  const sched = new SimScheduler(ORIGIN)
  const nodes = Array.from({ length: opts.nodes ?? 3 }, (_, i) => new FakeNode(i + 1, sched))
  const events: HistoryEvent[] = []
  const lines: string[] = []
  const resolver: TargetResolver = { leaderOf: async () => -1, controller: async () => -1, coordinatorOf: async () => -1, ...opts.resolver }
  const s = new FaultScheduler({ faults, nodes, resolver, history: { append: (e) => events.push(e) }, scheduler: sched, originMs: ORIGIN, seed: opts.seed ?? 1, onEvent: (l) => lines.push(l) })
  return { sched, nodes, events, lines, s, faultEvents: () => events.filter((e): e is FaultEvent => e.type === 'fault') }
}

/** Moves simulated time in small steps and lets the fault actions' promises settle between steps. */
async function advanceTo(sched: SimScheduler, msSinceOrigin: number): Promise<void> {
  while (sched.now() < ORIGIN + msSinceOrigin) {
    sched.run(Math.min(ORIGIN + msSinceOrigin, sched.now() + 1))
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
}

describe('FaultScheduler', () => {
  it('kills at the fault time, restarts after restartAfter, and records both edges with the fault id', async () => {
    const { sched, nodes, s, faultEvents } = setup([kill('crash', 1000, { kind: 'node', node: 2 }, 2000)])
    s.start()
    await advanceTo(sched, 999)
    expect(nodes[1]!.calls).toEqual([])
    await advanceTo(sched, 1500)
    expect(nodes[1]!.calls).toEqual(['kill:SIGKILL@1000'])
    expect(s.active).toMatchObject([{ id: 0, name: 'crash', kind: 'kill', target: 'node 2', nodes: [2], sinceMs: 1000, untilMs: 3000 }])
    await advanceTo(sched, 3500)
    expect(nodes[1]!.calls).toEqual(['kill:SIGKILL@1000', 'start@3000'])
    expect(s.active).toEqual([])
    expect(faultEvents()).toEqual([
      { type: 'fault', edge: 'start', id: 0, name: 'crash', target: 'node 2', time: 1_000_000, kind: 'kill', nodes: [2], params: '{"restartAfterMs":2000}' },
      { type: 'fault', edge: 'end', id: 0, name: 'crash', target: 'node 2', time: 3_000_000 },
    ])
    expect(nodes[0]!.calls).toEqual([])
    expect(s.errors).toEqual([])
  })

  it('pauses with SIGSTOP and resumes after the duration', async () => {
    const { sched, nodes, s, faultEvents } = setup([pause('freeze', 500, { kind: 'all' }, 1500)])
    s.start()
    await advanceTo(sched, 1000)
    expect(nodes.map((n) => n.paused)).toEqual([true, true, true])
    expect(s.active.map((f) => f.target)).toEqual(['all (nodes 1, 2, 3)'])
    await advanceTo(sched, 2500)
    expect(nodes.map((n) => n.calls)).toEqual([
      ['pause@500', 'resume@2000'],
      ['pause@500', 'resume@2000'],
      ['pause@500', 'resume@2000'],
    ])
    expect(faultEvents().map((e) => [e.edge, e.time])).toEqual([
      ['start', 500_000],
      ['end', 2_000_000],
    ])
  })

  it('resolves leaderOf and controller when the fault fires, not before', async () => {
    let leader = 1
    const asked: string[] = []
    const { sched, nodes, s } = setup([kill('leader', 1000, { kind: 'leaderOf', topic: 'orders', partition: 3 }, null), pause('ctl', 2000, { kind: 'controller' }, 100)], {
      resolver: {
        leaderOf: async (topic, partition) => {
          asked.push(`${topic}/${partition}`)
          return leader
        },
        controller: async () => 3,
      },
    })
    s.start()
    // The leader moves before the fault fires: the fault must follow it.
    leader = 2
    await advanceTo(sched, 2050)
    expect(asked).toEqual(['orders/3'])
    expect(nodes[1]!.calls).toEqual(['kill:SIGKILL@1000'])
    expect(nodes[0]!.calls).toEqual([])
    expect(nodes[2]!.calls).toEqual(['pause@2000'])
    expect(s.active.map((f) => f.target)).toEqual(['leader of orders/3 (node 2)', 'controller (node 3)'])
  })

  it('picks the same random node for the same seed and fault', async () => {
    const picks = async (seed: number) => {
      const { sched, nodes, s } = setup(
        Array.from({ length: 6 }, (_, i) => pause(`p${i}`, 100 + i * 10, { kind: 'random' }, 5)),
        { nodes: 5, seed },
      )
      s.start()
      await advanceTo(sched, 300)
      return s.active.length === 0 ? nodes.map((n) => n.calls.filter((c) => c.startsWith('pause')).length) : null
    }
    const a = await picks(7)
    expect(a).toEqual(await picks(7))
    expect(a!.reduce((x, y) => x + y, 0)).toBe(6)
    expect(await picks(8)).not.toEqual(a)
  })

  it('draws minority and majority as complements from the seed, the same for the same seed', async () => {
    const draw = async (seed: number) => {
      const { sched, s } = setup([pause('min', 100, { kind: 'minority' }, 50), pause('maj', 200, { kind: 'majority' }, 50)], { nodes: 5, seed })
      s.start()
      await advanceTo(sched, 120)
      const min = s.active[0]!.nodes
      await advanceTo(sched, 220)
      const maj = s.active[0]!.nodes
      return { min, maj }
    }
    const a = await draw(3)
    expect(a.min).toHaveLength(2)
    expect(a.maj).toHaveLength(3)
    expect(await draw(3)).toEqual(a)
    // Different fault indexes draw independently, so only each set's size is fixed; over seeds every node is picked.
    const picked = new Set<number>()
    for (let seed = 0; seed < 20; seed++) for (const n of (await draw(seed)).min) picked.add(n)
    expect([...picked].sort()).toEqual([1, 2, 3, 4, 5])
  })

  it('resolves coordinatorOf through the resolver when the fault fires', async () => {
    const asked: string[] = []
    const { sched, nodes, s, faultEvents } = setup([kill('coord', 100, { kind: 'coordinatorOf', group: 'readers' }, 200)], {
      resolver: {
        coordinatorOf: async (g) => {
          asked.push(g)
          return 3
        },
      },
    })
    s.start()
    await advanceTo(sched, 150)
    expect(asked).toEqual(['readers'])
    expect(nodes[2]!.calls).toEqual(['kill:SIGKILL@100'])
    expect(faultEvents()[0]).toMatchObject({ target: 'coordinator of readers (node 3)', kind: 'kill', nodes: [3] })
  })

  it('never kills a node twice or pauses a dead one: a node belongs to one process fault at a time', async () => {
    const { sched, nodes, s, lines } = setup([
      kill('first', 100, { kind: 'node', node: 2 }, 1000),
      kill('again', 200, { kind: 'node', node: 2 }, 1000),
      pause('freeze', 300, { kind: 'all' }, 100),
      kill('after', 1500, { kind: 'node', node: 2 }, 100),
    ])
    s.start()
    await advanceTo(sched, 2000)
    expect(nodes[1]!.calls).toEqual(['kill:SIGKILL@100', 'start@1100', 'kill:SIGKILL@1500', 'start@1600'])
    expect(nodes[0]!.calls).toEqual(['pause@300', 'resume@400'])
    expect(lines).toContain('again: skipped, no node of node 2 is free')
    expect(lines.some((l) => /^freeze: leaves node 2 alone, already held by first/.test(l))).toBe(true)
    expect(s.errors).toEqual([])
  })

  it('draws random targets only among free nodes', async () => {
    const { sched, nodes, s } = setup([kill('down', 100, { kind: 'node', node: 1 }, 5000), ...Array.from({ length: 10 }, (_, i) => pause(`p${i}`, 200 + i * 10, { kind: 'random' }, 5))], { nodes: 2 })
    s.start()
    await advanceTo(sched, 400)
    expect(nodes[0]!.calls).toEqual(['kill:SIGKILL@100'])
    expect(nodes[1]!.calls.filter((c) => c.startsWith('pause'))).toHaveLength(10)
  })

  it('refuses a process fault aimed at the clients', async () => {
    const { sched, nodes, s } = setup([kill('clients', 100, { kind: 'clients' }, 100)])
    s.start()
    await advanceTo(sched, 300)
    expect(nodes.flatMap((n) => n.calls)).toEqual([])
    expect(s.errors[0]!.message).toMatch(/clients have no broker process to kill/)
  })

  it('records an error and applies nothing when the target cannot be resolved', async () => {
    const { sched, nodes, s, faultEvents, lines } = setup([kill('nobody', 100, { kind: 'leaderOf', topic: 't', partition: 0 }, 100), kill('ghost', 200, { kind: 'node', node: 9 }, 100)])
    s.start()
    await advanceTo(sched, 500)
    expect(faultEvents()).toEqual([])
    expect(nodes.flatMap((n) => n.calls)).toEqual([])
    expect(s.errors.map((e) => e.fault)).toEqual(['nobody', 'ghost'])
    expect(s.errors[0]!.message).toMatch(/t\/0 has no leader/)
    expect(s.errors[1]!.message).toMatch(/node 9 is not a node this run controls/)
    expect(lines.length).toBe(2)
  })

  it('stop heals everything: pending faults never fire, paused nodes resume, killed nodes restart on a clean close', async () => {
    const { sched, nodes, s, faultEvents } = setup([kill('forever', 100, { kind: 'node', node: 1 }, null), pause('long', 200, { kind: 'node', node: 2 }, 60_000), kill('later', 5000, { kind: 'node', node: 3 }, 100)])
    s.start()
    await advanceTo(sched, 1000)
    expect(s.active.map((f) => f.name)).toEqual(['forever', 'long'])
    await s.stop({ restart: true })
    await advanceTo(sched, 10_000)
    expect(nodes[0]!.calls).toEqual(['kill:SIGKILL@100', 'start@1000'])
    expect(nodes[1]!.calls).toEqual(['pause@200', 'resume@1000'])
    expect(nodes[2]!.calls).toEqual([])
    expect(nodes.every((n) => n.running && !n.paused)).toBe(true)
    expect(s.active).toEqual([])
    expect(faultEvents().map((e) => `${e.name}:${e.edge}@${e.time / 1000}`)).toEqual(['forever:start@100', 'long:start@200', 'forever:end@1000', 'long:end@1000'])
  })

  it('on abort resumes paused nodes but leaves killed ones down, and still closes their intervals', async () => {
    const { sched, nodes, s, faultEvents } = setup([kill('crash', 100, { kind: 'node', node: 1 }, 5000), pause('stall', 100, { kind: 'node', node: 2 }, 5000)])
    s.start()
    await advanceTo(sched, 500)
    await s.stop({ restart: false })
    expect(nodes[0]!.running).toBe(false)
    expect(nodes[0]!.calls).toEqual(['kill:SIGKILL@100'])
    expect(nodes[1]!.paused).toBe(false)
    expect(faultEvents().filter((e) => e.edge === 'end').map((e) => e.name).sort()).toEqual(['crash', 'stall'])
  })

  it('refuses a partition without a network to cut, and latency faults without proxies', () => {
    const sched = new SimScheduler(0)
    const partition: Fault = { kind: 'partition', name: 'split', atMs: 0, split: { kind: 'isolate', target: { kind: 'controller' } }, healAfterMs: 1000 }
    const latency: Fault = { kind: 'latency', name: 'slow', atMs: 0, target: { kind: 'all' }, delayMs: 10, jitterMs: 0, direction: 'both', durationMs: 1000 }
    const make = (f: Fault, partitions?: PartitionControl) =>
      new FaultScheduler({ faults: [f], nodes: [], resolver: { leaderOf: async () => 1, controller: async () => 1, coordinatorOf: async () => 1 }, history: { append() {} }, scheduler: sched, originMs: 0, seed: 1, partitions })
    expect(() => make(partition)).toThrow(/faults\[0\]: partition faults need a network to cut/)
    expect(() => make(latency, { cut: async () => async () => {} })).toThrow(/faults\[0\]: latency faults need proxies/)
  })

  it('partitions through the network at the fault time, heals after heal, and records the resolved sides', async () => {
    const cuts: string[] = []
    const network: PartitionControl = {
      cut: async (name, c) => {
        cuts.push(`${name} cut ${c.map((x) => `${x.from}>${x.to}`).join(' ')}`)
        return async () => void cuts.push(`${name} healed`)
      },
    }
    const sched = new SimScheduler(ORIGIN)
    const nodes = [1, 2, 3].map((id) => new FakeNode(id, sched))
    const events: HistoryEvent[] = []
    const split: Fault = { kind: 'partition', name: 'split', atMs: 1000, split: { kind: 'isolate', target: { kind: 'controller' } }, healAfterMs: 2000 }
    const oneWay: Fault = { kind: 'partition', name: 'oneway', atMs: 1500, split: { kind: 'cut', from: { kind: 'clients' }, to: { kind: 'node', node: 2 } }, healAfterMs: 60_000 }
    const s = new FaultScheduler({ faults: [split, oneWay], nodes, resolver: { leaderOf: async () => -1, controller: async () => 3, coordinatorOf: async () => -1 }, history: { append: (e) => events.push(e) }, scheduler: sched, originMs: ORIGIN, seed: 1, partitions: network })
    s.start()
    await advanceTo(sched, 1600)
    expect(cuts).toEqual(['split cut 3>1 3>2 1>3 2>3 clients>3', 'oneway cut clients>2'])
    expect(s.active).toMatchObject([
      { name: 'split', kind: 'partition', target: 'isolate [3] | [1, 2, clients]', nodes: [1, 2, 3], untilMs: 3000 },
      { name: 'oneway', kind: 'partition', target: 'clients -> 2 (one way)', nodes: [2] },
    ])
    await advanceTo(sched, 3100)
    expect(cuts.slice(2)).toEqual(['split healed'])
    await s.stop({ restart: true })
    expect(cuts.slice(3)).toEqual(['oneway healed'])
    expect(s.active).toEqual([])
    expect(events.filter((e): e is FaultEvent => e.type === 'fault').map((e) => `${e.edge} ${e.name} ${e.target} ${e.time}`)).toEqual([
      'start split isolate [3] | [1, 2, clients] 1000000',
      'start oneway clients -> 2 (one way) 1500000',
      'end split isolate [3] | [1, 2, clients] 3000000',
      `end oneway clients -> 2 (one way) ${(sched.now() - ORIGIN) * 1000}`,
    ])
    expect(s.errors).toEqual([])
  })
})
