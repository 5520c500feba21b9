// Model-based test of the classic group state machine (fast-check commands): simulated consumers join,
// sync, heartbeat, commit, leave and crash in any order while time moves and stores complete or fail.
// The model keeps only what the clients have been told: the newest generation handed out, and who was given
// which partition in each generation. Checked after every step:
//   - no two consumers are given the same partition in one generation, and each gets exactly what the
//     leader of its generation assigned it;
//   - an offset commit (or heartbeat) is accepted only from the newest generation, never a stale one;
//     a commit without member id and generation only while the group is Empty;
//   - generations never go back, the selected protocol is one the member offered, and the group's own
//     state is coherent (Stable and CompletingRebalance have members and a leader among them).
// After the commands, the live consumers cooperate and the group must reach Stable with every partition
// assigned exactly once.

import fc from 'fast-check'
import { expect, test } from 'vitest'
import type { JoinResult, SyncResult } from '../../../broker/group/classic-group.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { GroupHarness } from './group-harness.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`classic-group-model.test.ts: FC_SEED=${seed}`)

const PARTITIONS = 6
const SESSION_MS = 10_000
const REBALANCE_MS = 15_000

interface ClientSpec {
  readonly name: string
  readonly instanceId: string | null
  readonly protocols: readonly string[]
  /** JoinGroup v4+: MEMBER_ID_REQUIRED first. */
  readonly v4: boolean
}

const SPECS: readonly ClientSpec[] = [
  { name: 'c0', instanceId: null, protocols: ['range', 'roundrobin'], v4: true },
  { name: 'c1', instanceId: 's1', protocols: ['roundrobin', 'range'], v4: false },
  { name: 'c2', instanceId: 's2', protocols: ['roundrobin'], v4: true },
  // Shares no protocol with c2: the group must refuse one while the other is in.
  { name: 'c3', instanceId: null, protocols: ['sticky'], v4: true },
]
const COOPERATIVE = [0, 1, 2]

interface Client {
  readonly spec: ClientSpec
  memberId: string
  generation: number
  assignment: number[] | null
  joinResult: JoinResult | null
  joining: boolean
  syncing: boolean
  needsRejoin: boolean
  /** Bumped when the client forgets its membership; answers to older requests are then stale. */
  epoch: number
}

interface Model {
  /** Newest generation any JoinGroup answer carried. */
  generation: number
  /** generation -> partition -> client name. */
  owners: Map<number, Map<number, string>>
  /** generation -> (instance id, else member id) -> what that generation's leader assigned. */
  assigned: Map<number, Map<string, string>>
}

class Sim {
  readonly h: GroupHarness
  readonly clients: Client[]
  readonly trace: string[] = []
  model: Model | null = null

  constructor(opts: { autoStore: boolean; initialDelay: number; maxSize: number }) {
    this.h = new GroupHarness({ initialRebalanceDelayMs: opts.initialDelay, maxSize: opts.maxSize })
    this.h.autoStore = opts.autoStore
    this.clients = SPECS.map((spec) => ({ spec, memberId: '', generation: -1, assignment: null, joinResult: null, joining: false, syncing: false, needsRejoin: false, epoch: 0 }))
  }

  reset(c: Client): void {
    c.memberId = ''
    c.generation = -1
    c.assignment = null
    c.joinResult = null
    c.joining = false
    c.syncing = false
    c.needsRejoin = false
    c.epoch++
  }

  join(m: Model, c: Client): void {
    if (c.joining) return
    c.joining = true
    const epoch = c.epoch
    const protocols = c.spec.protocols.map((name) => ({ name, metadata: Buffer.from(`${c.spec.name}:${name}`) }))
    this.trace.push(`join ${c.spec.name} ${c.memberId || '-'}`)
    this.h.group.join(
      {
        memberId: c.memberId,
        groupInstanceId: c.spec.instanceId,
        requireKnownMemberId: c.spec.v4 && c.spec.instanceId === null,
        clientId: c.spec.name,
        clientHost: '/127.0.0.1',
        rebalanceTimeoutMs: REBALANCE_MS,
        sessionTimeoutMs: SESSION_MS,
        protocolType: 'consumer',
        protocols,
      },
      (r) => this.onJoin(m, c, epoch, r),
    )
  }

  private onJoin(m: Model, c: Client, epoch: number, r: JoinResult): void {
    this.trace.push(`  join answer ${c.spec.name}${epoch !== c.epoch ? ' (stale)' : ''}: ${r.errorCode} gen ${r.generationId} ${r.memberId} leader ${r.leader}`)
    if (r.errorCode === ErrorCode.NONE) {
      expect(r.generationId, 'generations never go back').toBeGreaterThanOrEqual(m.generation)
      m.generation = r.generationId
      expect(c.spec.protocols, 'the selected protocol is one the member offered').toContain(r.protocolName)
      if (r.members.length > 0) {
        expect(r.leader).toBe(r.memberId)
        const ids = r.members.map((x) => x.memberId)
        expect(new Set(ids).size).toBe(ids.length)
        expect(ids).toContain(r.memberId)
      }
    }
    if (epoch !== c.epoch) return
    c.joining = false
    switch (r.errorCode) {
      case ErrorCode.NONE:
        c.memberId = r.memberId
        c.generation = r.generationId
        c.joinResult = r
        c.needsRejoin = false
        return
      case ErrorCode.MEMBER_ID_REQUIRED:
        c.memberId = r.memberId
        return
      case ErrorCode.UNKNOWN_MEMBER_ID:
      case ErrorCode.FENCED_INSTANCE_ID:
        this.reset(c)
        return
      default:
    }
  }

  sync(m: Model, c: Client): void {
    const jr = c.joinResult
    if (!jr || c.syncing) return
    c.joinResult = null
    c.syncing = true
    const epoch = c.epoch
    const generation = c.generation
    const assignments: { memberId: string; assignment: Buffer }[] = []
    if (jr.members.length > 0) {
      const members = [...jr.members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
      const plan = new Map<string, string>()
      for (const [i, member] of members.entries()) {
        const parts = JSON.stringify(Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % members.length === i))
        assignments.push({ memberId: member.memberId, assignment: Buffer.from(parts) })
        plan.set(member.groupInstanceId ?? member.memberId, parts)
      }
      m.assigned.set(generation, plan)
    }
    this.trace.push(`sync ${c.spec.name} gen ${generation}${assignments.length ? ' (leader)' : ''}`)
    this.h.group.sync({ generationId: generation, memberId: c.memberId, groupInstanceId: c.spec.instanceId, assignments }, (r) => this.onSync(m, c, epoch, generation, r))
  }

  private onSync(m: Model, c: Client, epoch: number, generation: number, r: SyncResult): void {
    this.trace.push(`  sync answer ${c.spec.name}${epoch !== c.epoch ? ' (stale)' : ''}: ${r.errorCode} ${r.assignment.toString()}`)
    if (epoch !== c.epoch) return
    c.syncing = false
    switch (r.errorCode) {
      case ErrorCode.NONE: {
        const planned = m.assigned.get(generation)?.get(c.spec.instanceId ?? c.memberId)
        expect(r.assignment.toString(), `${c.spec.name} was not given what the leader of generation ${generation} assigned it`).toBe(planned)
        const parts = r.assignment.length > 0 ? (JSON.parse(r.assignment.toString()) as number[]) : []
        let owners = m.owners.get(generation)
        if (!owners) m.owners.set(generation, (owners = new Map()))
        for (const p of parts) {
          const other = owners.get(p)
          expect(other === undefined || other === c.spec.name, `partition ${p} given to ${other} and ${c.spec.name} in generation ${generation}`).toBe(true)
          owners.set(p, c.spec.name)
        }
        c.assignment = parts
        return
      }
      case ErrorCode.UNKNOWN_MEMBER_ID:
      case ErrorCode.FENCED_INSTANCE_ID:
        this.reset(c)
        return
      default:
        c.needsRejoin = true
    }
  }

  heartbeat(m: Model, c: Client): void {
    if (c.memberId === '' || c.joining) return
    const code = this.h.group.heartbeat(c.generation, c.memberId, c.spec.instanceId)
    this.trace.push(`heartbeat ${c.spec.name} gen ${c.generation}: ${code}`)
    if (code === ErrorCode.NONE) expect(c.generation, 'heartbeat accepted only from the newest generation').toBe(m.generation)
    else if (code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.FENCED_INSTANCE_ID) this.reset(c)
    else c.needsRejoin = true
  }

  commit(m: Model, c: Client): void {
    const code = this.h.group.validateOffsetCommit(c.generation, c.memberId, c.spec.instanceId)
    this.trace.push(`commit ${c.spec.name} gen ${c.generation} ${c.memberId || '-'}: ${code}`)
    if (code !== ErrorCode.NONE) return
    if (c.memberId === '' && c.generation < 0 && c.spec.instanceId === null) {
      expect(this.h.group.state, 'commits without a member only while Empty').toBe('Empty')
    } else {
      expect(c.generation, 'a commit from a stale generation was accepted').toBe(m.generation)
      expect(this.h.group.generationId).toBe(c.generation)
      expect(['Stable', 'PreparingRebalance']).toContain(this.h.group.state)
    }
  }

  leave(c: Client): void {
    if (c.memberId === '') return
    this.trace.push(`leave ${c.spec.name}`)
    this.h.group.leave([{ memberId: c.memberId, groupInstanceId: c.spec.instanceId }])
    this.reset(c)
  }

  /** The group's own invariants, and generations only move forward. */
  checkGroup(m: Model): void {
    const g = this.h.group
    expect(g.generationId).toBeGreaterThanOrEqual(m.generation)
    if (g.state === 'Empty') expect(g.size).toBe(0)
    if (g.state === 'Stable' || g.state === 'CompletingRebalance') {
      expect(g.size).toBeGreaterThan(0)
      expect(g.memberIds()).toContain(g.leaderId)
    }
    if (g.size > 0 && g.state !== 'Dead') expect(g.memberIds()).toContain(g.leaderId)
  }
}

type Cmd = fc.Command<Model, Sim>

const cmd = (name: string, run: (m: Model, s: Sim) => void): Cmd => ({
  check: () => true,
  run: (m, s) => {
    s.model = m
    run(m, s)
    s.checkGroup(m)
  },
  toString: () => name,
})

const client = fc.integer({ min: 0, max: SPECS.length - 1 })
const commands = [
  client.map((i) => cmd(`join(${i})`, (m, s) => s.join(m, s.clients[i]!))),
  client.map((i) => cmd(`sync(${i})`, (m, s) => s.sync(m, s.clients[i]!))),
  client.map((i) => cmd(`heartbeat(${i})`, (m, s) => s.heartbeat(m, s.clients[i]!))),
  client.map((i) => cmd(`commit(${i})`, (m, s) => s.commit(m, s.clients[i]!))),
  client.map((i) => cmd(`leave(${i})`, (_m, s) => s.leave(s.clients[i]!))),
  client.map((i) => cmd(`crash(${i})`, (_m, s) => s.reset(s.clients[i]!))),
  fc.constantFrom(1, 500, 3000, 9000, 10_001, 15_001).map((ms) => cmd(`advance(${ms})`, (_m, s) => s.h.clock.advance(ms))),
  fc.constantFrom(ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NOT_COORDINATOR).map((e) => cmd(`completeStores(${e})`, (_m, s) => s.h.completeStores(e))),
]

/** The cooperative consumers play by the rules until the group is Stable with every partition assigned once. */
function settle(s: Sim, m: Model): void {
  const c3 = s.clients[3]!
  s.leave(c3)
  const active = COOPERATIVE.map((i) => s.clients[i]!)
  const done = () => {
    const g = s.h.group
    if (g.state !== 'Stable' || g.size !== active.length) return false
    const owned: number[] = []
    for (const c of active) {
      if (c.joining || c.syncing || c.joinResult || c.generation !== g.generationId || !c.assignment) return false
      owned.push(...c.assignment)
    }
    return owned.length === PARTITIONS && new Set(owned).size === PARTITIONS
  }
  for (let round = 0; round < 400 && !done(); round++) {
    s.h.completeStores()
    for (const c of active) {
      if (c.joining || c.syncing) continue
      if (c.memberId === '' || c.needsRejoin || (c.generation < 0 && !c.joinResult)) s.join(m, c)
      else if (c.joinResult) s.sync(m, c)
      else s.heartbeat(m, c)
      s.checkGroup(m)
    }
    s.h.completeStores()
    s.h.clock.advance(1000)
    s.checkGroup(m)
  }
  expect(done(), `the group did not settle:\n${s.trace.slice(-60).join('\n')}`).toBe(true)
}

test('the classic group keeps partitions exclusive per generation and refuses stale commits, in any interleaving', () => {
  fc.assert(
    fc.property(
      fc.record({ autoStore: fc.boolean(), initialDelay: fc.constantFrom(0, 3000), maxSize: fc.constantFrom(3, 1000) }),
      fc.commands(commands, { maxCommands: 80 }),
      (opts, cmds) => {
        const sim = new Sim(opts)
        const model: Model = { generation: 0, owners: new Map(), assigned: new Map() }
        fc.modelRun(() => ({ model, real: sim }), cmds)
        settle(sim, model)
      },
    ),
    { seed, numRuns: Number(process.env.FC_RUNS ?? 300) },
  )
})
