// A deterministic in-process cluster for the Raft quorum: one ManualClock, a simulated network that drops,
// duplicates, delays, reorders and partitions, and one SimFileSystem per node whose fsyncs complete after a
// per-node latency, so a crash (SimFileSystem.crash: unsynced writes kept in part, torn, or followed by garbage)
// can land between a write and its fsync. Time jumps from event to event (the next timer, message or fsync),
// and microtasks are drained between events, so one schedule always plays out the same way.
//
// Checked after every event (throws with a trace of recent events on the first violation):
//   election safety     at most one leader per epoch (every node that ever became leader, not just the current ones)
//   log matching        an (offset, epoch) pair ever seen in any log always carries the same entry and the same
//                       epoch before it, on every node, live or recovered from disk
//   leader completeness every committed entry is in the log (or snapshot) of every leader of a later epoch
//   state machine       no two nodes apply different entries at one offset; snapshots restore exactly the committed
//     safety            entries below their end; a leader never restores a snapshot
//   durability          a majority of voters hold every committed entry, counting crashed voters by what their disk
//                       recovers to; a restarted node's epoch is never below one it sent, and its vote in an epoch it
//                       voted in is the vote it sent
//   acknowledgements    a proposal acknowledged at offset o is the committed entry at o
// At the end the network and disks heal and every node restarts; within bounded simulated time there must be a
// leader that every node follows, a new proposal must commit, every node must apply everything committed, every
// acknowledged proposal must be applied everywhere at its offset, and no proposal refused with NOT_LEADER may
// ever have been applied.

import fc from 'fast-check'
import { ManualClock, type Clock, type TimerHandle } from '../../../broker/clock.ts'
import { RaftNode } from '../../../broker/controller/raft.ts'
import { readRaftDisk } from '../../../broker/controller/raft-store.ts'
import {
  defaultRaftConfig,
  type LogEntry,
  type RaftConfig,
  type RaftMessage,
  type RaftStateMachine,
  type RaftStatus,
  type RaftTransport,
  type SnapshotId,
} from '../../../broker/controller/raft-types.ts'
import { seededRandom, SimFileSystem } from '../../../broker/storage/file-system.ts'

export const DIR = '/data/__cluster_metadata-0'

export interface SimOptions {
  readonly voters: number
  readonly observers: number
  /** Seeds the network, crashes and the nodes' own randomness. */
  readonly seed: number
  readonly snapshotEvery: number
  readonly chunkBytes: number
  readonly fetchMaxEntries: number
  /** Initial fsync latency per node (ms), indexed by node position. */
  readonly diskLatency: readonly number[]
  /** KIP-996 pre-votes; the default config's when absent. */
  readonly preVote?: boolean
}

export type SimEvent =
  | { readonly t: 'run'; readonly ms: number }
  /** node null: whichever node currently leads (the newest epoch). */
  | { readonly t: 'propose'; readonly node: number | null; readonly records: number }
  | { readonly t: 'crash'; readonly node: number }
  | { readonly t: 'restart'; readonly node: number }
  | { readonly t: 'stop'; readonly node: number }
  /** Nodes on the same side talk; the others do not. */
  | { readonly t: 'partition'; readonly sides: readonly boolean[] }
  | { readonly t: 'cut'; readonly from: number; readonly to: number }
  | { readonly t: 'heal' }
  | { readonly t: 'net'; readonly loss: number; readonly dup: number; readonly minDelay: number; readonly maxDelay: number }
  | { readonly t: 'disk'; readonly node: number; readonly latency: number }
  | { readonly t: 'resign' }

export interface Schedule {
  readonly options: SimOptions
  readonly events: readonly SimEvent[]
}

/** Raft timings of the simulation: small, so a schedule covers many elections in little simulated time. */
export function simRaftConfig(options: SimOptions, nodeId: number): RaftConfig {
  return {
    ...defaultRaftConfig,
    nodeId,
    voters: Array.from({ length: options.voters }, (_, i) => i + 1),
    preVote: options.preVote ?? defaultRaftConfig.preVote,
    electionTimeoutMs: 300,
    electionBackoffMaxMs: 300,
    fetchTimeoutMs: 600,
    requestTimeoutMs: 300,
    retryBackoffMs: 30,
    fetchMaxWaitMs: 150,
    fetchMaxEntries: options.fetchMaxEntries,
    snapshotChunkBytes: options.chunkBytes,
    snapshotEveryEntries: options.snapshotEvery,
  }
}

export class SimViolation extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SimViolation'
  }
}

function violation(message: string): never {
  throw new SimViolation(message)
}

const LIVENESS_DEADLINE_MS = 60_000
const MAX_ITERATIONS = 2_000_000
const MAX_IN_FLIGHT = 2_000

/** A Clock for one incarnation of a node: knows its timers' due times and drops them all when the node dies. */
class NodeClock implements Clock {
  readonly #base: ManualClock
  readonly #timers = new Set<{ at: number; handle: TimerHandle }>()
  #dead = false

  constructor(base: ManualClock) {
    this.#base = base
  }

  now(): number {
    return this.#base.now()
  }

  monotonic(): number {
    return this.#base.monotonic()
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = { at: this.#base.monotonic() + Math.max(0, ms), handle: null as unknown as TimerHandle }
    t.handle = this.#base.setTimeout(() => {
      this.#timers.delete(t)
      if (!this.#dead) fn()
    }, ms)
    this.#timers.add(t)
    return {
      cancel: () => {
        t.handle.cancel()
        this.#timers.delete(t)
      },
    }
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    let current: TimerHandle
    const tick = (): void => {
      current = this.setTimeout(tick, ms)
      fn()
    }
    current = this.setTimeout(tick, ms)
    return { cancel: () => current.cancel() }
  }

  nextDue(): number {
    let min = Infinity
    for (const t of this.#timers) if (t.at < min) min = t.at
    return min
  }

  kill(): void {
    this.#dead = true
    for (const t of this.#timers) t.handle.cancel()
    this.#timers.clear()
  }
}

interface LogSnapshot {
  readonly startOffset: number
  readonly startEpoch: number
  readonly entries: readonly LogEntry[]
}

interface SimNode {
  readonly id: number
  readonly index: number
  readonly voter: boolean
  readonly fs: SimFileSystem
  state: 'up' | 'starting' | 'stopping' | 'down'
  incarnation: number
  node: RaftNode | null
  clock: NodeClock | null
  endpoint: Endpoint | null
  sm: TestStateMachine | null
  diskLatency: number
  syncDueAt: number | null
  /** What the disk recovers to, while the node is not running. */
  diskView: LogSnapshot | null
  maxSentEpoch: number
  /** epoch -> candidate this node sent a granted vote to. */
  readonly votesSent: Map<number, number>
  /** Log-matching check cache: log version last checked. */
  checkedVersion: number
  /** Durability check cache. */
  held: { version: number; committed: number; k: number } | null
  completeness: { version: number; committed: number } | null
  lastHw: number
}

class Endpoint implements RaftTransport {
  readonly #sim: RaftSim
  readonly #node: SimNode
  handler: ((from: number, m: RaftMessage) => void) | null = null
  dead = false

  constructor(sim: RaftSim, node: SimNode) {
    this.#sim = sim
    this.#node = node
  }

  send(to: number, message: RaftMessage): void {
    if (!this.dead) this.#sim.send(this.#node, to, message)
  }

  onMessage(handler: (from: number, m: RaftMessage) => void): void {
    this.handler = handler
  }
}

function fingerprint(e: LogEntry): string {
  return e.kind === 'data' ? `d:${e.records.map((r) => r.toString()).join('+')}` : `lc:${e.leaderId}`
}

interface AppliedEntry {
  readonly offset: number
  readonly epoch: number
  readonly fp: string
}

/** The state machine: the list of every entry applied, so a snapshot is the whole history and can be checked. */
class TestStateMachine implements RaftStateMachine {
  readonly #sim: RaftSim
  readonly #node: SimNode
  readonly #incarnation: number
  history: AppliedEntry[] = []

  constructor(sim: RaftSim, node: SimNode, incarnation: number) {
    this.#sim = sim
    this.#node = node
    this.#incarnation = incarnation
  }

  get #live(): boolean {
    return this.#node.incarnation === this.#incarnation
  }

  apply(entry: LogEntry): void {
    if (!this.#live) return
    if (entry.offset !== this.history.length) violation(`node ${this.#node.id} applied offset ${entry.offset}, expected ${this.history.length}`)
    const a = { offset: entry.offset, epoch: entry.epoch, fp: fingerprint(entry) }
    this.history.push(a)
    this.#sim.onApply(this.#node, a)
  }

  snapshot(): Buffer {
    return Buffer.from(JSON.stringify(this.history))
  }

  restore(data: Buffer, id: SnapshotId): void {
    if (!this.#live) return
    const history = JSON.parse(data.toString()) as AppliedEntry[]
    this.#sim.onRestore(this.#node, history, id)
    this.history = history
  }

  onLeaderChange(leaderId: number | null, epoch: number): void {
    if (this.#live) this.#sim.onLeaderChange(this.#node, leaderId, epoch)
  }
}

interface Wire {
  readonly seq: number
  readonly at: number
  readonly from: SimNode
  readonly to: number
  readonly message: RaftMessage
}

function cloneMessage(m: RaftMessage): RaftMessage {
  if (m.type === 'fetch-response') {
    return { ...m, entries: m.entries.map((e) => (e.kind === 'data' ? { ...e, records: e.records.map((r) => Buffer.from(r)) } : { ...e })) }
  }
  if (m.type === 'fetch-snapshot-response') return { ...m, bytes: Buffer.from(m.bytes) }
  if (m.type === 'end-quorum-epoch-request') return { ...m, preferredSuccessors: [...m.preferredSuccessors] }
  return { ...m }
}

interface Proposal {
  readonly fp: string
  status: 'pending' | 'acked' | 'rejected' | 'unknown'
  offset: number
}

export class RaftSim {
  readonly options: SimOptions
  readonly clock = new ManualClock()
  readonly nodes: SimNode[] = []
  readonly trace: string[] = []
  readonly #rng: () => number
  #wires: Wire[] = []
  #seq = 0
  #loss = 0
  #dup = 0
  #minDelay = 1
  #maxDelay = 20
  /** "from>to" links that drop everything. */
  readonly #blocked = new Set<string>()
  readonly #leaders = new Map<number, number>()
  /** (offset, epoch) -> entry and the epoch before it, for every entry ever seen in any log. */
  readonly #seen = new Map<number, Map<number, { fp: string; prevEpoch: number }>>()
  /** offset -> committed entry; knownAt: the lowest epoch of a node that applied it. */
  readonly #committed = new Map<number, AppliedEntry & { knownAt: number }>()
  readonly #proposals: Proposal[] = []
  #proposalSeq = 0
  readonly #fatal: string[] = []
  #iterations = 0
  #started = false

  constructor(options: SimOptions) {
    this.options = options
    this.#rng = seededRandom(options.seed)
    const total = options.voters + options.observers
    for (let i = 0; i < total; i++) {
      const fs = new SimFileSystem()
      fs.autoSync = false
      this.nodes.push({
        id: i + 1,
        index: i,
        voter: i < options.voters,
        fs,
        state: 'down',
        incarnation: 0,
        node: null,
        clock: null,
        endpoint: null,
        sm: null,
        diskLatency: options.diskLatency[i] ?? 0,
        syncDueAt: null,
        diskView: { startOffset: 0, startEpoch: 0, entries: [] },
        maxSentEpoch: 0,
        votesSent: new Map(),
        checkedVersion: -1,
        held: null,
        completeness: null,
        lastHw: 0,
      })
    }
  }

  /** Violations found in promise callbacks surface at the next settle. */
  #guard(fn: () => void): void {
    try {
      fn()
    } catch (e) {
      this.#fatal.push(e instanceof Error ? e.message : String(e))
    }
  }

  get #now(): number {
    return this.clock.monotonic()
  }

  #log(line: string): void {
    this.trace.push(`${String(this.#now).padStart(6)} ${line}`)
    if (this.trace.length > 400) this.trace.splice(0, 100)
  }

  #node(index: number): SimNode {
    return this.nodes[index % this.nodes.length]!
  }

  /** Runs a whole schedule: start, events, heal, liveness. */
  async run(events: readonly SimEvent[]): Promise<void> {
    await this.play(events)
    await this.#traced(() => this.#finish())
  }

  /** Starts the nodes (on the first call) and applies the events, checked as run() checks them, without the final
   * heal: for tests that look at the quorum between events. */
  async play(events: readonly SimEvent[]): Promise<void> {
    await this.#traced(async () => {
      if (!this.#started) {
        this.#started = true
        for (const n of this.nodes) this.#start(n)
        await this.#runFor(0)
      }
      for (const e of events) {
        this.#log(`event ${JSON.stringify(e)}`)
        await this.#apply(e)
        await this.#runFor(0)
      }
    })
  }

  /** The status of every live node, by node id. */
  statuses(): Map<number, RaftStatus> {
    const out = new Map<number, RaftStatus>()
    for (const n of this.nodes) if (n.state === 'up' && n.node) out.set(n.id, n.node.status())
    return out
  }

  async #traced(fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (e) {
      if (e instanceof Error) e.message += `\n--- last events (ms, what) ---\n${this.trace.slice(-120).join('\n')}\n--- nodes ---\n${this.describe()}`
      throw e
    }
  }

  describe(): string {
    return this.nodes
      .map((n) => {
        if (!n.node) return `node ${n.id}: ${n.state}`
        const s = n.node.status()
        return `node ${n.id}: ${n.state} ${s.role} epoch ${s.epoch} leader ${s.leaderId} voted ${s.votedId} log ${s.logStartOffset}..${s.logEndOffset} (last epoch ${s.lastEpoch}) hw ${s.highWatermark} applied ${s.appliedOffset} durable ${s.durableEndOffset} disk latency ${n.diskLatency}`
      })
      .join('\n')
  }

  async #apply(e: SimEvent): Promise<void> {
    switch (e.t) {
      case 'run':
        return this.#runFor(e.ms)
      case 'propose':
        return this.#propose(e.node === null ? this.#currentLeader() : this.#node(e.node), e.records)
      case 'crash':
        return this.#crash(this.#node(e.node))
      case 'restart': {
        const n = this.#node(e.node)
        if (n.state === 'down') this.#start(n)
        return
      }
      case 'stop':
        return this.#stop(this.#node(e.node))
      case 'partition':
        this.#blocked.clear()
        for (const a of this.nodes) for (const b of this.nodes) if ((e.sides[a.index] ?? false) !== (e.sides[b.index] ?? false)) this.#blocked.add(`${a.id}>${b.id}`)
        return
      case 'cut': {
        const from = this.#node(e.from)
        const to = this.#node(e.to)
        if (from !== to) this.#blocked.add(`${from.id}>${to.id}`)
        return
      }
      case 'heal':
        this.#blocked.clear()
        return
      case 'net':
        this.#loss = e.loss
        this.#dup = e.dup
        this.#minDelay = e.minDelay
        this.#maxDelay = Math.max(e.minDelay, e.maxDelay)
        return
      case 'disk': {
        const n = this.#node(e.node)
        n.diskLatency = e.latency
        return
      }
      case 'resign':
        this.#currentLeader()?.node?.resign()
        return
    }
  }

  // ---- nodes ----

  #start(n: SimNode): void {
    const incarnation = ++n.incarnation
    n.state = 'starting'
    const clock = new NodeClock(this.clock)
    const endpoint = new Endpoint(this, n)
    const sm = new TestStateMachine(this, n, incarnation)
    n.clock = clock
    n.endpoint = endpoint
    n.sm = sm
    n.lastHw = 0
    n.held = null
    n.completeness = null
    n.checkedVersion = -1
    this.#log(`start node ${n.id} (incarnation ${incarnation})`)
    RaftNode.open({
      config: simRaftConfig(this.options, n.id),
      clock,
      transport: endpoint,
      fs: n.fs,
      dir: DIR,
      random: seededRandom((this.options.seed ^ Math.imul(n.id, 0x9e3779b1) ^ Math.imul(incarnation, 0x85ebca6b)) >>> 0),
      stateMachine: sm,
      onFatal: (err) => {
        if (n.incarnation === incarnation) this.#fatal.push(`node ${n.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      },
    }).then(
      (node) =>
        this.#guard(() => {
          if (n.incarnation !== incarnation) return node.halt()
          n.node = node
          n.state = 'up'
          n.diskView = null
          const s = node.status()
          if (s.epoch < n.maxSentEpoch) violation(`node ${n.id} restarted in epoch ${s.epoch} after sending epoch ${n.maxSentEpoch}`)
          const vote = n.votesSent.get(s.epoch)
          if (vote !== undefined && s.votedId !== vote) violation(`node ${n.id} restarted in epoch ${s.epoch} with vote ${s.votedId}, but it voted for ${vote}`)
        }),
      (err: unknown) => {
        if (n.incarnation === incarnation) this.#fatal.push(`node ${n.id} failed to open: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      },
    )
  }

  async #crash(n: SimNode): Promise<void> {
    if (n.state === 'down') return
    this.#log(`crash node ${n.id}`)
    n.node?.halt()
    this.#kill(n)
    n.fs.crash(this.#rng)
    await this.#inspectDisk(n)
  }

  #kill(n: SimNode): void {
    n.clock?.kill()
    if (n.endpoint) n.endpoint.dead = true
    n.incarnation++
    n.state = 'down'
    n.node = null
    n.sm = null
    n.syncDueAt = null
  }

  #stop(n: SimNode): void {
    if (n.state !== 'up' || !n.node) return
    this.#log(`stop node ${n.id}`)
    n.state = 'stopping'
    const incarnation = n.incarnation
    n.node.close().then(
      async () => {
        if (n.incarnation !== incarnation) return
        this.#kill(n)
        await this.#inspectDisk(n).catch((e: unknown) => this.#fatal.push(e instanceof Error ? e.message : String(e)))
      },
      (err: unknown) => {
        if (n.incarnation === incarnation) this.#fatal.push(`node ${n.id} failed to close: ${String(err)}`)
      },
    )
  }

  /** Reads what the node's disk recovers to, and checks that it kept what the node told others. */
  async #inspectDisk(n: SimNode): Promise<void> {
    const disk = await readRaftDisk(n.fs, DIR)
    n.diskView = { startOffset: disk.startOffset, startEpoch: disk.startEpoch, entries: disk.entries }
    const epoch = Math.max(disk.quorum?.epoch ?? 0, disk.entries.at(-1)?.epoch ?? disk.startEpoch)
    if (epoch < n.maxSentEpoch) violation(`node ${n.id}'s disk holds epoch ${epoch}, but it sent messages in epoch ${n.maxSentEpoch}`)
    const q = disk.quorum
    if (q) {
      const vote = n.votesSent.get(q.epoch)
      if (vote !== undefined && q.votedId !== vote) violation(`node ${n.id}'s disk holds vote ${q.votedId} in epoch ${q.epoch}, but it granted its vote to ${vote}`)
    }
    this.#checkLogMatching(n, n.diskView)
    this.#log(`node ${n.id} disk: quorum ${JSON.stringify(q)} log ${disk.startOffset}..${disk.startOffset + disk.entries.length}`)
  }

  #currentLeader(): SimNode | null {
    let best: SimNode | null = null
    let bestEpoch = -1
    for (const n of this.nodes) {
      const s = n.state === 'up' ? n.node?.status() : undefined
      if (s?.role === 'leader' && s.epoch > bestEpoch) {
        best = n
        bestEpoch = s.epoch
      }
    }
    return best
  }

  #propose(n: SimNode | null, count: number): void {
    if (!n || n.state !== 'up' || !n.node) return
    const payloads = Array.from({ length: count }, () => `p${this.#proposalSeq++}`)
    const p: Proposal = { fp: `d:${payloads.join('+')}`, status: 'pending', offset: -1 }
    this.#proposals.push(p)
    this.#log(`propose ${p.fp} at node ${n.id}`)
    n.node.propose(payloads.map((s) => Buffer.from(s))).then((r) =>
      this.#guard(() => {
        this.#log(`proposal ${p.fp}: ${JSON.stringify(r)}`)
        if (r.ok) {
          p.status = 'acked'
          p.offset = r.offset
          const c = this.#committed.get(r.offset)
          if (!c || c.fp !== p.fp) violation(`proposal ${p.fp} acknowledged at ${r.offset}, where the committed entry is ${c?.fp}`)
        } else if (r.error === 'NOT_LEADER') p.status = 'rejected'
        else p.status = 'unknown'
      }),
    )
  }

  // ---- network ----

  send(from: SimNode, to: number, message: RaftMessage): void {
    if (message.epoch > from.maxSentEpoch) from.maxSentEpoch = message.epoch
    // A pre-vote is no vote: it changes nothing, so granting several in one epoch is fine.
    if (message.type === 'vote-response' && message.granted && !message.preVote) {
      const prior = from.votesSent.get(message.epoch)
      if (prior !== undefined && prior !== to) violation(`node ${from.id} granted its vote in epoch ${message.epoch} to both ${prior} and ${to}`)
      from.votesSent.set(message.epoch, to)
    }
    if (this.#rng() < this.#loss) return
    // A few nodes keep a handful of requests in flight; thousands mean messages multiply (a duplicated response
    // answered twice, say), which would otherwise show up only as a run that never ends.
    if (this.#wires.length > MAX_IN_FLIGHT) violation(`${this.#wires.length} messages in flight: a message storm`)
    const copies = this.#rng() < this.#dup ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delay = this.#minDelay + Math.floor(this.#rng() * (this.#maxDelay - this.#minDelay + 1))
      this.#wires.push({ seq: this.#seq++, at: this.#now + delay, from, to, message })
    }
  }

  #deliverDue(): void {
    for (;;) {
      let next: Wire | undefined
      let idx = -1
      for (let i = 0; i < this.#wires.length; i++) {
        const w = this.#wires[i]!
        if (w.at <= this.#now && (!next || w.at < next.at || (w.at === next.at && w.seq < next.seq))) {
          next = w
          idx = i
        }
      }
      if (!next) return
      this.#wires.splice(idx, 1)
      if (this.#blocked.has(`${next.from.id}>${next.to}`)) continue
      const target = this.nodes[next.to - 1]
      const handler = target?.endpoint && !target.endpoint.dead ? target.endpoint.handler : null
      if (handler) handler(next.from.id, cloneMessage(next.message))
    }
  }

  // ---- time ----

  async #settle(): Promise<void> {
    for (let round = 0; ; round++) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      let progressed = false
      for (const n of this.nodes) {
        if (n.fs.pendingSyncs > 0 && n.diskLatency === 0) {
          n.fs.completeSyncs()
          progressed = true
        }
      }
      if (!progressed) break
      if (round > 100_000) throw new Error('the simulated disks never settle')
    }
    for (const n of this.nodes) if (n.fs.pendingSyncs > 0 && n.syncDueAt === null) n.syncDueAt = this.#now + n.diskLatency
    if (this.#fatal.length > 0) violation(`a node stopped on an error:\n${this.#fatal.join('\n')}`)
  }

  #nextDue(): number {
    let next = Infinity
    for (const n of this.nodes) {
      if (n.clock) next = Math.min(next, n.clock.nextDue())
      if (n.syncDueAt !== null) next = Math.min(next, n.syncDueAt)
    }
    for (const w of this.#wires) if (w.at < next) next = w.at
    return next
  }

  async #runFor(ms: number): Promise<void> {
    const end = this.#now + ms
    for (;;) {
      await this.#settle()
      this.check()
      const next = this.#nextDue()
      if (next > end) break
      if (++this.#iterations > MAX_ITERATIONS) throw new Error('the simulation does not make progress')
      this.clock.advance(Math.max(0, next - this.#now))
      this.#deliverDue()
      for (const n of this.nodes) {
        if (n.syncDueAt !== null && n.syncDueAt <= this.#now) {
          n.syncDueAt = null
          n.fs.completeSyncs()
        }
      }
    }
    this.clock.advance(end - this.#now)
  }

  // ---- checks ----

  onApply(n: SimNode, a: AppliedEntry): void {
    const epoch = n.node?.status().epoch ?? Infinity
    const c = this.#committed.get(a.offset)
    if (c) {
      if (c.epoch !== a.epoch || c.fp !== a.fp) violation(`node ${n.id} applied ${a.fp} (epoch ${a.epoch}) at ${a.offset}, where ${c.fp} (epoch ${c.epoch}) was applied before`)
      if (epoch < c.knownAt) c.knownAt = epoch
      return
    }
    if (a.offset !== this.#committed.size) violation(`node ${n.id} applied offset ${a.offset} before offset ${this.#committed.size} was committed anywhere`)
    this.#committed.set(a.offset, { ...a, knownAt: epoch })
  }

  onRestore(n: SimNode, history: readonly AppliedEntry[], id: SnapshotId): void {
    if (n.node?.status().role === 'leader') violation(`leader ${n.id} restored snapshot ${JSON.stringify(id)}`)
    if (history.length !== id.endOffset) violation(`node ${n.id} restored snapshot ${JSON.stringify(id)} holding ${history.length} entries`)
    for (const [i, a] of history.entries()) {
      const c = this.#committed.get(i)
      if (!c || a.offset !== i || c.fp !== a.fp || c.epoch !== a.epoch) violation(`node ${n.id} restored snapshot ${JSON.stringify(id)} whose entry ${i} (${a.fp}) is not the committed one (${c?.fp})`)
    }
    if (id.endOffset > 0 && history.at(-1)!.epoch !== id.epoch) violation(`snapshot ${JSON.stringify(id)} ends with an entry of epoch ${history.at(-1)!.epoch}`)
  }

  onLeaderChange(n: SimNode, leaderId: number | null, epoch: number): void {
    this.#log(`node ${n.id}: leader ${leaderId} epoch ${epoch}`)
    if (leaderId === n.id) this.#recordLeader(n, epoch)
  }

  #recordLeader(n: SimNode, epoch: number): void {
    const other = this.#leaders.get(epoch)
    if (other !== undefined && other !== n.id) violation(`two leaders in epoch ${epoch}: ${other} and ${n.id}`)
    this.#leaders.set(epoch, n.id)
  }

  #view(n: SimNode): LogSnapshot & { version: number } {
    if (n.node && (n.state === 'up' || n.state === 'stopping')) return n.node.logView()
    return { ...(n.diskView ?? { startOffset: 0, startEpoch: 0, entries: [] }), version: -1 - n.incarnation }
  }

  #checkLogMatching(n: SimNode, view: LogSnapshot): void {
    let prevEpoch = view.startOffset === 0 ? 0 : view.startEpoch
    for (const e of view.entries) {
      const fp = fingerprint(e)
      let byEpoch = this.#seen.get(e.offset)
      if (!byEpoch) this.#seen.set(e.offset, (byEpoch = new Map()))
      const s = byEpoch.get(e.epoch)
      if (!s) byEpoch.set(e.epoch, { fp, prevEpoch })
      else if (s.fp !== fp || s.prevEpoch !== prevEpoch) {
        violation(`log matching: node ${n.id} holds ${fp} at (${e.offset}, epoch ${e.epoch}) after epoch ${prevEpoch}; seen before: ${s.fp} after epoch ${s.prevEpoch}`)
      }
      prevEpoch = e.epoch
    }
  }

  /** How many committed entries, from offset 0, the log holds (log matching makes that a prefix). */
  #heldPrefix(view: LogSnapshot): number {
    const c = this.#committed.size
    let k = Math.min(view.startOffset, c)
    if (view.startOffset > 0 && view.startOffset - 1 < c && this.#committed.get(view.startOffset - 1)!.epoch !== view.startEpoch) {
      violation(`a log starts after a snapshot ending in epoch ${view.startEpoch} at ${view.startOffset}, but the committed entry there has epoch ${this.#committed.get(view.startOffset - 1)!.epoch}`)
    }
    for (const e of view.entries) {
      if (e.offset >= c) break
      const cm = this.#committed.get(e.offset)!
      if (cm.epoch !== e.epoch || cm.fp !== fingerprint(e)) break
      k = e.offset + 1
    }
    return k
  }

  check(): void {
    const committed = this.#committed.size
    const held: number[] = []
    for (const n of this.nodes) {
      const view = this.#view(n)
      if (n.node && (n.state === 'up' || n.state === 'stopping')) {
        const s = n.node.status()
        if (s.role === 'leader') this.#recordLeader(n, s.epoch)
        if (s.highWatermark < n.lastHw) violation(`node ${n.id}'s high watermark went back from ${n.lastHw} to ${s.highWatermark}`)
        n.lastHw = s.highWatermark
        if (!(s.logStartOffset <= s.appliedOffset && s.appliedOffset <= s.highWatermark && s.highWatermark <= Math.max(s.logEndOffset, s.logStartOffset))) {
          violation(`node ${n.id}: log start ${s.logStartOffset}, applied ${s.appliedOffset}, high watermark ${s.highWatermark}, log end ${s.logEndOffset}`)
        }
        if (view.version !== n.checkedVersion) {
          this.#checkLogMatching(n, view)
          n.checkedVersion = view.version
        }
        if (s.role === 'leader' && (n.completeness?.version !== view.version || n.completeness.committed !== committed)) {
          this.#checkCompleteness(n, view, s.epoch)
          n.completeness = { version: view.version, committed }
        }
      }
      if (n.voter) {
        if (n.held?.version !== view.version || n.held.committed !== committed) n.held = { version: view.version, committed, k: this.#heldPrefix(view) }
        held.push(n.held.k)
      }
    }
    held.sort((a, b) => b - a)
    const majority = Math.floor(this.options.voters / 2) + 1
    if (held[majority - 1]! < committed) {
      violation(`only ${held.filter((k) => k >= committed).length} voters hold all ${committed} committed entries (held prefixes ${held.join(',')})`)
    }
  }

  #checkCompleteness(n: SimNode, view: LogSnapshot, epoch: number): void {
    const end = view.startOffset + view.entries.length
    for (const [offset, c] of this.#committed) {
      if (c.knownAt > epoch) continue
      if (offset >= end) violation(`leader ${n.id} of epoch ${epoch} lacks committed entry ${offset} (${c.fp}, known committed in epoch ${c.knownAt}); its log ends at ${end}`)
      if (offset < view.startOffset) continue
      const e = view.entries[offset - view.startOffset]!
      if (e.epoch !== c.epoch || fingerprint(e) !== c.fp) violation(`leader ${n.id} of epoch ${epoch} holds ${fingerprint(e)} at ${offset}, where ${c.fp} was committed`)
    }
  }

  // ---- the end ----

  async #finish(): Promise<void> {
    this.#log('heal everything')
    this.#blocked.clear()
    this.#loss = 0
    this.#dup = 0
    this.#minDelay = 1
    this.#maxDelay = 20
    for (const n of this.nodes) n.diskLatency = Math.min(n.diskLatency, 2)
    const deadline = this.#now + LIVENESS_DEADLINE_MS
    let final: Proposal | null = null
    for (;;) {
      for (const n of this.nodes) if (n.state === 'down') this.#start(n)
      await this.#runFor(50)
      const leader = this.#currentLeader()
      if (leader?.node && (!final || final.status === 'rejected' || final.status === 'unknown')) {
        this.#propose(leader, 1)
        final = this.#proposals.at(-1)!
      }
      if (this.#settled(final)) break
      if (this.#now > deadline) violation(`no stable, caught-up leader within ${LIVENESS_DEADLINE_MS} ms of healing`)
    }
    const ref = this.nodes[0]!.sm!.history
    for (const n of this.nodes) {
      const h = n.sm!.history
      if (h.length !== ref.length || h.some((a, i) => a.fp !== ref[i]!.fp || a.epoch !== ref[i]!.epoch)) violation(`node ${n.id} applied a different history than node 1`)
    }
    const applied = new Set(ref.map((a) => a.fp))
    for (const p of this.#proposals) {
      if (p.status === 'acked' && ref[p.offset]?.fp !== p.fp) violation(`acknowledged proposal ${p.fp} is not applied at ${p.offset}`)
      if (p.status === 'rejected' && applied.has(p.fp)) violation(`proposal ${p.fp} was refused with NOT_LEADER but applied`)
      if (p.status === 'pending') violation(`proposal ${p.fp} never got an answer`)
    }
  }

  /** One leader, followed by every node in its epoch, everything committed and applied everywhere. */
  #settled(final: Proposal | null): boolean {
    if (!final || final.status !== 'acked') return false
    const leader = this.#currentLeader()
    const s = leader?.node?.status()
    if (!s || s.highWatermark !== s.logEndOffset) return false
    for (const n of this.nodes) {
      if (n.state !== 'up' || !n.node) return false
      const t = n.node.status()
      if (t.epoch !== s.epoch || (n !== leader && (t.role !== 'follower' || t.leaderId !== leader!.id))) return false
      if (t.appliedOffset !== s.highWatermark || t.logEndOffset !== s.logEndOffset) return false
    }
    return true
  }
}

// ---- schedules ----

const nodeArb = fc.integer({ min: 0, max: 5 })

export const eventArb: fc.Arbitrary<SimEvent> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('run' as const), ms: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 200, max: 2500 })) }) },
  {
    weight: 6,
    arbitrary: fc.record({ t: fc.constant('propose' as const), node: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: nodeArb }), records: fc.integer({ min: 1, max: 3 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('crash' as const), node: nodeArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('restart' as const), node: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stop' as const), node: nodeArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('partition' as const), sides: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cut' as const), from: nodeArb, to: nodeArb }) },
  { weight: 2, arbitrary: fc.constant({ t: 'heal' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('net' as const),
      loss: fc.constantFrom(0, 0.05, 0.2, 0.5),
      dup: fc.constantFrom(0, 0.1, 0.3),
      minDelay: fc.integer({ min: 1, max: 30 }),
      maxDelay: fc.constantFrom(5, 40, 150, 400),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('disk' as const), node: nodeArb, latency: fc.constantFrom(0, 3, 40, 500) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'resign' as const }) },
)

export const optionsArb: fc.Arbitrary<SimOptions> = fc.record({
  voters: fc.constantFrom(3, 5),
  observers: fc.constantFrom(0, 0, 1),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  snapshotEvery: fc.constantFrom(0, 3, 8),
  chunkBytes: fc.constantFrom(48, 100_000),
  fetchMaxEntries: fc.constantFrom(2, 50),
  diskLatency: fc.array(fc.constantFrom(0, 0, 2, 25), { minLength: 6, maxLength: 6 }),
})

export function scheduleArb(maxEvents: number, options: fc.Arbitrary<SimOptions> = optionsArb): fc.Arbitrary<Schedule> {
  return fc.record({ options, events: fc.array(eventArb, { maxLength: maxEvents }) })
}
