// One node of the Raft metadata quorum, the way Kafka's KRaft does it (KIP-595, KIP-630), as a deterministic
// state machine: messages arrive through a RaftTransport, timers run on the Clock, randomness comes from the
// Random, the disk is a FileSystem, and committed entries go to a RaftStateMachine. No other I/O.
//
// Replication is pull-based, as in Kafka: followers send Fetch(fetchOffset, lastFetchedEpoch) to the leader,
// which answers with entries, with DivergingEpoch (truncate to the end of that epoch, then fetch again) or with
// a SnapshotId (the follower is behind the log start: FetchSnapshot in chunks). A fetch offset tells the leader
// that the follower holds, durably, the leader's log below it, so the leader learns positions from fetches and
// needs no AppendEntries acknowledgements. Pulling keeps the leader passive (it never tracks what it sent) and
// is what Kafka's Fetch, DivergingEpoch and FetchSnapshot already express on the wire.
//
// Elections: an unattached voter waits a random election timeout, then campaigns in epoch + 1 with Vote
// requests carrying its last epoch and end offset; voters grant one vote per epoch, to candidates whose log is
// at least as up to date. Before that (KIP-996) it is prospective: it asks for pre-votes in its current epoch,
// which change nothing on either side, and becomes a candidate only once a majority would vote for it. A voter
// grants a pre-vote to a log at least as up to date unless it leads, resigned, or follows a leader it has
// fetched from within fetch.timeout; so a voter cut off from the quorum keeps its epoch, and on heal learns the
// leader from the rejections instead of deposing it with a higher epoch. The winner writes a leader-change entry in its epoch and announces itself with
// BeginQuorumEpoch (again every fetch.timeout / 2). A follower that has not heard from its leader for
// fetch.timeout campaigns; a leader that has not been fetched from by a majority for 1.5 x fetch.timeout
// resigns; a resigning leader sends EndQuorumEpoch so the most caught-up voter campaigns at once.
//
// Commit: the high watermark is the largest offset a majority of voters hold durably (the leader counts its
// own flushed end), and it moves only past the leader's first entry of its own epoch, so nothing from an
// earlier epoch is committed by counting replicas (the Raft paper's figure 8).
//
// Durability: every disk operation and every outgoing message goes through one ordered queue, so a message
// leaves only after every write issued before it is fsynced: a vote is granted after the vote is on disk, a
// fetch offset is sent after the entries below it are. The in-memory state runs ahead; nothing outside sees it
// before it is durable. A restarted node never leads again in an epoch it led before (it would reuse offsets
// with that epoch for different entries): it comes back unattached, with its vote, and campaigns in a new epoch.

import type { Clock, TimerHandle } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { FileSystem } from '../storage/file-system.ts'
import { RaftLog } from './raft-log.ts'
import { decodeSnapshot, encodeSnapshot, type QuorumStateRecord, type RaftDiskState, RaftStore } from './raft-store.ts'
import type {
  BeginQuorumEpochRequest,
  EndQuorumEpochRequest,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  LogEntry,
  ProposeResult,
  RaftConfig,
  RaftMessage,
  RaftRole,
  RaftStateMachine,
  RaftStatus,
  RaftTransport,
  Random,
  SnapshotId,
  VoteRequest,
  VoteResponse,
} from './raft-types.ts'

export interface RaftNodeOptions {
  readonly config: RaftConfig
  readonly clock: Clock
  readonly transport: RaftTransport
  readonly fs: FileSystem
  /** The node's own directory (quorum-state, raft.log, snapshots). */
  readonly dir: string
  readonly random: Random
  readonly stateMachine: RaftStateMachine
  readonly logger?: Logger
  /** Called once when the node stops on an error it cannot go on from: a disk failure or a broken invariant. */
  readonly onFatal?: (error: unknown) => void
}

/** A broken Raft invariant: a bug, or a disk that lost what it acknowledged. The node stops. */
export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RaftInvariantError'
  }
}

function invariant(cond: boolean, message: string): asserts cond {
  if (!cond) throw new RaftInvariantError(message)
}

export const CHECK_QUORUM_FACTOR = 1.5

const EMPTY = Buffer.alloc(0)

type Op = () => void | Promise<void>

/** Runs disk operations and sends one at a time in the order issued; stops at the first failure. */
class DiskQueue {
  #items: Op[] = []
  #busy = false
  #stopped = false
  #idle: (() => void)[] = []
  readonly #onError: (e: unknown) => void

  constructor(onError: (e: unknown) => void) {
    this.#onError = onError
  }

  push(op: Op): void {
    if (this.#stopped) return
    this.#items.push(op)
    if (!this.#busy) this.#pump()
  }

  stop(): void {
    this.#stopped = true
    this.#items = []
    this.#wake()
  }

  whenIdle(): Promise<void> {
    if (!this.#busy || this.#stopped) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #pump(): void {
    this.#busy = true
    while (this.#items.length > 0 && !this.#stopped) {
      const op = this.#items.shift()!
      let result: void | Promise<void>
      try {
        result = op()
      } catch (e) {
        return this.#fail(e)
      }
      if (result) {
        result.then(
          () => this.#pump(),
          (e: unknown) => this.#fail(e),
        )
        return
      }
    }
    this.#busy = false
    this.#wake()
  }

  #fail(e: unknown): void {
    this.#busy = false
    if (this.#stopped) return
    this.stop()
    this.#onError(e)
  }

  #wake(): void {
    const idle = this.#idle
    this.#idle = []
    for (const w of idle) w()
  }
}

interface ReplicaState {
  /** Offset below which the replica durably holds the leader's log; -1 until its first valid fetch this epoch. */
  endOffset: number
  lastFetchMs: number
}

interface LeaderState {
  readonly epochStartOffset: number
  readonly replicas: Map<number, ReplicaState>
  /** Caught-up fetches held until there is something new or their maxWaitMs passes. */
  readonly parked: Map<number, { request: FetchRequest; timer: TimerHandle }>
  /** Proposals waiting for their commit, in offset order. */
  readonly proposals: { offset: number; resolve: (r: ProposeResult) => void }[]
  readonly timers: TimerHandle[]
}

/** A candidate's votes, or a prospective candidate's pre-votes. */
interface CandidateState {
  readonly preVote: boolean
  readonly granted: Set<number>
  readonly rejected: Set<number>
  backingOff: boolean
}

type InFlight = { kind: 'fetch'; correlationId: number; fetchOffset: number; lastFetchedEpoch: number } | { kind: 'snapshot'; correlationId: number; id: SnapshotId; position: number }

interface FollowerState {
  inFlight: InFlight | null
  /** When a fetch from the leader last succeeded; null before the first and after the leader ended its epoch. */
  leaderContactMs: number | null
  /** A snapshot being fetched: chunks so far. */
  snapshot: { id: SnapshotId; position: number; chunks: Buffer[] } | null
}

const sameId = (a: SnapshotId, b: SnapshotId): boolean => a.endOffset === b.endOffset && a.epoch === b.epoch

export class RaftNode {
  readonly #cfg: RaftConfig
  readonly #id: number
  readonly #clock: Clock
  readonly #transport: RaftTransport
  readonly #random: Random
  readonly #sm: RaftStateMachine
  readonly #logger: Logger | undefined
  readonly #onFatal: ((e: unknown) => void) | undefined
  readonly #store: RaftStore
  readonly #disk: DiskQueue
  readonly #log: RaftLog
  readonly #voters: ReadonlySet<number>
  readonly #isVoter: boolean
  readonly #majority: number

  #role: RaftRole = 'unattached'
  #epoch = 0
  #votedId: number | null = null
  #leaderId: number | null = null
  #persisted: QuorumStateRecord | null
  #hw = 0
  #applied = 0
  #durableEnd: number
  /** Bumped by every truncation, so a flush issued before it does not count for entries written after it. */
  #generation = 0
  /** Names the follower's fetches; responses echo it. */
  #correlation = 0
  #snapshot: { id: SnapshotId; bytes: Buffer } | null
  #snapshotting = false
  #electionTimer: TimerHandle | null = null
  #requestTimer: TimerHandle | null = null
  #candidate: CandidateState | null = null
  #candidateRetries = 0
  #leader: LeaderState | null = null
  #follower: FollowerState | null = null
  #notified: { leaderId: number | null; epoch: number } | null = null

  /** Recovers the node's directory and starts it. */
  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    validateConfig(options.config)
    const { store, state } = await RaftStore.open(options.fs, options.dir)
    return new RaftNode(options, store, state)
  }

  private constructor(o: RaftNodeOptions, store: RaftStore, disk: RaftDiskState) {
    this.#cfg = o.config
    this.#id = o.config.nodeId
    this.#clock = o.clock
    this.#transport = o.transport
    this.#random = o.random
    this.#sm = o.stateMachine
    this.#logger = o.logger
    this.#onFatal = o.onFatal
    this.#store = store
    this.#disk = new DiskQueue((e) => this.#fail(e))
    this.#voters = new Set(o.config.voters)
    this.#isVoter = this.#voters.has(this.#id)
    this.#majority = Math.floor(this.#voters.size / 2) + 1
    this.#log = new RaftLog(disk.startOffset, disk.startEpoch, disk.entries)
    this.#durableEnd = this.#log.endOffset
    this.#snapshot = disk.snapshot ? { id: disk.snapshot.id, bytes: disk.snapshot.bytes } : null
    if (disk.snapshot) {
      this.#sm.restore(disk.snapshot.data, disk.snapshot.id)
      this.#applied = this.#hw = disk.snapshot.id.endOffset
    }
    const q = disk.quorum ?? { epoch: 0, votedId: null, leaderId: null }
    this.#persisted = disk.quorum
    this.#epoch = q.epoch
    this.#votedId = q.votedId
    this.#transport.onMessage((from, m) => this.#guard(() => this.#onMessage(from, m)))
    this.#guard(() => {
      if (this.#log.lastEpoch > q.epoch) {
        // The epoch file lost a write the log kept: no vote was ever sent in the newer epoch.
        this.#becomeUnattached(this.#log.lastEpoch, null)
      } else if (q.leaderId !== null && q.leaderId !== this.#id) this.#becomeFollower(q.epoch, q.leaderId)
      else this.#becomeUnattached(q.epoch, q.votedId)
    })
  }

  // ---- public API ----

  /**
   * Appends the records as one entry when this node leads; resolves once the entry is committed and applied
   * here. The node keeps the buffers: do not change them afterwards.
   */
  propose(records: readonly Buffer[]): Promise<ProposeResult> {
    if (records.length === 0) throw new TypeError('propose: at least one record')
    const leader = this.#leader
    if (this.#role !== 'leader' || !leader) {
      return Promise.resolve({ ok: false, error: 'NOT_LEADER', leaderId: this.#role === 'follower' ? this.#leaderId : null, epoch: this.#epoch })
    }
    const offset = this.#log.endOffset
    const promise = new Promise<ProposeResult>((resolve) => leader.proposals.push({ offset, resolve }))
    this.#guard(() => this.#appendAsLeader([{ offset, epoch: this.#epoch, kind: 'data', records: [...records] }]))
    return promise
  }

  /** Steps down as leader (EndQuorumEpoch to the voters); no-op otherwise. */
  resign(): void {
    if (this.#role === 'leader') this.#guard(() => this.#resign('asked to'))
  }

  status(): RaftStatus {
    return {
      nodeId: this.#id,
      role: this.#role,
      voter: this.#isVoter,
      epoch: this.#epoch,
      leaderId: this.#currentLeader(),
      votedId: this.#votedId,
      highWatermark: this.#hw,
      appliedOffset: this.#applied,
      logStartOffset: this.#log.startOffset,
      logEndOffset: this.#log.endOffset,
      lastEpoch: this.#log.lastEpoch,
      durableEndOffset: this.#durableEnd,
      snapshotId: this.#snapshot?.id ?? null,
    }
  }

  /** The log as this node holds it in memory (entries from startOffset); `version` changes with every change. */
  logView(): { readonly startOffset: number; readonly startEpoch: number; readonly entries: readonly LogEntry[]; readonly version: number } {
    return { startOffset: this.#log.startOffset, startEpoch: this.#log.startEpoch, entries: this.#log.entries(), version: this.#log.version }
  }

  /** Graceful stop: a leader resigns first; resolves once everything issued is on disk and sent. */
  async close(): Promise<void> {
    if (this.#role === 'stopped' || this.#role === 'failed') return
    if (this.#role === 'leader') this.#guard(() => this.#resign('shutting down'))
    this.#leaveRole()
    this.#role = 'stopped'
    this.#notifyLeader()
    await this.#disk.whenIdle()
    this.#disk.stop()
    await this.#store.close()
  }

  /** Stops at once, the way a killed process does: no more messages, no more disk operations. */
  halt(): void {
    if (this.#role === 'stopped' || this.#role === 'failed') return
    this.#disk.stop()
    this.#leaveRole()
    this.#role = 'stopped'
  }

  // ---- plumbing ----

  get #running(): boolean {
    return this.#role !== 'stopped' && this.#role !== 'failed'
  }

  #guard(fn: () => void): void {
    if (!this.#running) return
    try {
      fn()
    } catch (e) {
      this.#fail(e)
    }
  }

  #fail(e: unknown): void {
    if (!this.#running) return
    this.#disk.stop()
    this.#leaveRole()
    this.#role = 'failed'
    this.#logger?.error('raft: node stopped on an error', { nodeId: this.#id, error: e })
    this.#onFatal?.(e)
  }

  #send(to: number, message: RaftMessage): void {
    this.#disk.push(() => this.#transport.send(to, message))
  }

  #persistQuorumState(): void {
    const q: QuorumStateRecord = { epoch: this.#epoch, votedId: this.#votedId, leaderId: this.#role === 'leader' ? this.#id : this.#role === 'follower' ? this.#leaderId : null }
    const p = this.#persisted
    if (p && p.epoch === q.epoch && p.votedId === q.votedId && (p.leaderId === q.leaderId || q.leaderId === null)) return
    this.#persisted = q
    this.#disk.push(() => this.#store.writeQuorumState(q))
  }

  #armElection(ms: number, fn: () => void): void {
    this.#electionTimer?.cancel()
    this.#electionTimer = this.#clock.setTimeout(() => {
      this.#electionTimer = null
      this.#guard(fn)
    }, ms)
  }

  #armRequest(ms: number, fn: () => void): void {
    this.#requestTimer?.cancel()
    this.#requestTimer = this.#clock.setTimeout(() => {
      this.#requestTimer = null
      this.#guard(fn)
    }, ms)
  }

  #randomElectionTimeout(): number {
    return this.#cfg.electionTimeoutMs + Math.floor(this.#random() * this.#cfg.electionTimeoutMs)
  }

  /** Kafka's binary exponential election backoff. */
  #electionBackoff(): number {
    const retries = Math.max(1, this.#candidateRetries)
    return Math.min(this.#cfg.retryBackoffMs * Math.floor(this.#random() * (2 << Math.min(20, retries - 1))), this.#cfg.electionBackoffMaxMs)
  }

  #currentLeader(): number | null {
    if (this.#role === 'leader') return this.#id
    if (this.#role === 'follower') return this.#leaderId
    return null
  }

  #notifyLeader(): void {
    const leaderId = this.#currentLeader()
    const n = this.#notified
    if (n && n.leaderId === leaderId && n.epoch === this.#epoch) return
    this.#notified = { leaderId, epoch: this.#epoch }
    this.#sm.onLeaderChange?.(leaderId, this.#epoch)
  }

  // ---- transitions ----

  #leaveRole(): void {
    this.#electionTimer?.cancel()
    this.#electionTimer = null
    this.#requestTimer?.cancel()
    this.#requestTimer = null
    const leader = this.#leader
    this.#leader = null
    this.#candidate = null
    this.#follower = null
    if (leader) {
      for (const t of leader.timers) t.cancel()
      for (const [replica, p] of leader.parked) {
        p.timer.cancel()
        this.#send(replica, this.#fetchError(p.request, ErrorCode.NOT_LEADER_OR_FOLLOWER))
      }
      for (const p of leader.proposals) p.resolve({ ok: false, error: 'LEADERSHIP_LOST', offset: p.offset, epoch: this.#epoch })
    }
  }

  #becomeUnattached(epoch: number, votedId: number | null): void {
    this.#leaveRole()
    this.#logger?.info('raft: unattached', { nodeId: this.#id, epoch, votedId })
    this.#role = 'unattached'
    this.#epoch = epoch
    this.#votedId = votedId
    this.#leaderId = null
    this.#persistQuorumState()
    if (this.#isVoter) this.#armElection(this.#randomElectionTimeout(), () => this.#campaign())
    else this.#discoverLeader()
    this.#notifyLeader()
  }

  /** Starts an election: with pre-votes first unless they are off. */
  #campaign(): void {
    if (this.#cfg.preVote) this.#becomeProspective()
    else this.#becomeCandidate()
  }

  /** Asks for pre-votes in the current epoch; nothing to persist, since neither epoch nor vote changes. It
   * remembers the leader it followed, so a rejection naming that leader does not make it follow again a leader
   * it cannot reach (only the leader's own BeginQuorumEpoch does). */
  #becomeProspective(): void {
    const lost = this.#role === 'follower' || this.#role === 'prospective' ? this.#leaderId : null
    this.#leaveRole()
    this.#role = 'prospective'
    this.#leaderId = lost
    this.#logger?.info('raft: prospective', { nodeId: this.#id, epoch: this.#epoch })
    this.#candidate = { preVote: true, granted: new Set([this.#id]), rejected: new Set(), backingOff: false }
    if (this.#maybeWin()) return
    this.#requestVotes()
    this.#armElection(this.#randomElectionTimeout(), () => this.#backOff())
    this.#notifyLeader()
  }

  #becomeCandidate(): void {
    this.#leaveRole()
    this.#role = 'candidate'
    this.#epoch += 1
    this.#votedId = this.#id
    this.#leaderId = null
    const epoch = this.#epoch
    this.#logger?.info('raft: candidate', { nodeId: this.#id, epoch })
    this.#candidate = { preVote: false, granted: new Set(), rejected: new Set(), backingOff: false }
    this.#persistQuorumState()
    // Our own vote counts only once it is on disk, like everybody else's.
    this.#disk.push(() => this.#guard(() => this.#onSelfVoteDurable(epoch)))
    this.#requestVotes()
    this.#armElection(this.#randomElectionTimeout(), () => this.#backOff())
    this.#notifyLeader()
  }

  #requestVotes(): void {
    const c = this.#candidate
    if (!c || c.backingOff) return
    const request: VoteRequest = { type: 'vote-request', epoch: this.#epoch, candidateId: this.#id, lastEpoch: this.#log.lastEpoch, endOffset: this.#log.endOffset, preVote: c.preVote }
    for (const v of this.#voters) if (v !== this.#id && !c.granted.has(v) && !c.rejected.has(v)) this.#send(v, request)
    this.#armRequest(this.#cfg.requestTimeoutMs, () => this.#requestVotes())
  }

  /** Lost or timed out: wait a random backoff, then campaign again (pre-votes first). */
  #backOff(): void {
    const c = this.#candidate
    if (!c || c.backingOff) return
    c.backingOff = true
    this.#candidateRetries++
    this.#requestTimer?.cancel()
    this.#armElection(this.#electionBackoff(), () => this.#campaign())
  }

  #onSelfVoteDurable(epoch: number): void {
    if (this.#role !== 'candidate' || this.#epoch !== epoch || !this.#candidate) return
    this.#candidate.granted.add(this.#id)
    this.#maybeWin()
  }

  #maybeWin(): boolean {
    const c = this.#candidate
    if (!c || c.granted.size < this.#majority) return false
    if (c.preVote) this.#becomeCandidate()
    else this.#becomeLeader()
    return true
  }

  #becomeLeader(): void {
    this.#leaveRole()
    this.#logger?.info('raft: leader', { nodeId: this.#id, epoch: this.#epoch, endOffset: this.#log.endOffset })
    this.#role = 'leader'
    this.#leaderId = this.#id
    this.#candidateRetries = 0
    this.#persistQuorumState()
    const now = this.#clock.monotonic()
    const replicas = new Map<number, ReplicaState>()
    for (const v of this.#voters) if (v !== this.#id) replicas.set(v, { endOffset: -1, lastFetchMs: now })
    const leader: LeaderState = { epochStartOffset: this.#log.endOffset, replicas, parked: new Map(), proposals: [], timers: [] }
    this.#leader = leader
    this.#appendAsLeader([{ offset: this.#log.endOffset, epoch: this.#epoch, kind: 'leader-change', leaderId: this.#id }])
    this.#beginQuorumEpochTick()
    this.#armLeaderTimer(this.#cfg.fetchTimeoutMs / 2, () => this.#checkQuorumTick())
    this.#notifyLeader()
  }

  #armLeaderTimer(ms: number, fn: () => void): void {
    const leader = this.#leader
    if (!leader) return
    const t = this.#clock.setTimeout(() => {
      const i = leader.timers.indexOf(t)
      if (i >= 0) leader.timers.splice(i, 1)
      if (this.#leader === leader) this.#guard(fn)
    }, ms)
    leader.timers.push(t)
  }

  #beginQuorumEpochTick(): void {
    const request: BeginQuorumEpochRequest = { type: 'begin-quorum-epoch-request', epoch: this.#epoch, leaderId: this.#id }
    for (const v of this.#voters) if (v !== this.#id) this.#send(v, request)
    this.#armLeaderTimer(this.#cfg.fetchTimeoutMs / 2, () => this.#beginQuorumEpochTick())
  }

  /** Resigns when fewer than a majority of voters (itself included) fetched within 1.5 x fetch.timeout. */
  #checkQuorumTick(): void {
    const leader = this.#leader
    if (!leader) return
    const since = this.#clock.monotonic() - this.#cfg.fetchTimeoutMs * CHECK_QUORUM_FACTOR
    let contacts = 1
    for (const [id, r] of leader.replicas) if (this.#voters.has(id) && r.lastFetchMs > since) contacts++
    if (contacts < this.#majority) return this.#resign('lost contact with a majority of voters')
    this.#armLeaderTimer(this.#cfg.fetchTimeoutMs / 2, () => this.#checkQuorumTick())
  }

  #resign(reason: string): void {
    const leader = this.#leader
    if (this.#role !== 'leader' || !leader) return
    this.#logger?.info('raft: resigning', { nodeId: this.#id, epoch: this.#epoch, reason })
    const successors = [...this.#voters]
      .filter((v) => v !== this.#id)
      .sort((a, b) => (leader.replicas.get(b)?.endOffset ?? -1) - (leader.replicas.get(a)?.endOffset ?? -1) || a - b)
    this.#leaveRole()
    this.#role = 'resigned'
    const request: EndQuorumEpochRequest = { type: 'end-quorum-epoch-request', epoch: this.#epoch, leaderId: this.#id, preferredSuccessors: successors }
    for (const v of successors) this.#send(v, request)
    this.#armElection(this.#randomElectionTimeout(), () => this.#campaign())
    this.#notifyLeader()
  }

  #becomeFollower(epoch: number, leaderId: number): void {
    this.#leaveRole()
    this.#logger?.info('raft: follower', { nodeId: this.#id, epoch, leaderId })
    if (epoch !== this.#epoch) this.#votedId = null
    this.#role = 'follower'
    this.#epoch = epoch
    this.#leaderId = leaderId
    this.#candidateRetries = 0
    this.#persistQuorumState()
    this.#follower = { inFlight: null, leaderContactMs: null, snapshot: null }
    this.#resetFetchTimeout()
    this.#sendFetch()
    this.#notifyLeader()
  }

  #resetFetchTimeout(): void {
    this.#armElection(this.#cfg.fetchTimeoutMs, () => this.#onFetchTimeout())
  }

  #onFetchTimeout(): void {
    this.#logger?.info('raft: no word from the leader', { nodeId: this.#id, epoch: this.#epoch, leaderId: this.#leaderId })
    if (this.#isVoter) this.#campaign()
    else this.#becomeUnattached(this.#epoch, this.#votedId)
  }

  /** An observer without a leader asks a random voter, whose answer names the leader. */
  #discoverLeader(): void {
    const voters = [...this.#voters]
    const to = voters[Math.floor(this.#random() * voters.length)]!
    this.#send(to, this.#fetchRequest(0))
    this.#armRequest(this.#cfg.requestTimeoutMs, () => this.#discoverLeader())
  }

  /**
   * Learns of an epoch (and maybe its leader) from any message. Returns true when the node changed state, in
   * which case the message has served its purpose.
   */
  #observeEpoch(epoch: number, leaderId: number | null): boolean {
    if (epoch < this.#epoch) return false
    const knownLeader = leaderId !== null && leaderId !== this.#id && this.#voters.has(leaderId)
    if (epoch === this.#epoch) {
      if (!knownLeader) return false
      if ((this.#role === 'follower' || this.#role === 'prospective') && this.#leaderId === leaderId) return false
      invariant(this.#role !== 'leader' && this.#role !== 'resigned', `node ${this.#id} leads epoch ${epoch} but ${leaderId} claims it too`)
      this.#becomeFollower(epoch, leaderId)
      return true
    }
    if (knownLeader) this.#becomeFollower(epoch, leaderId)
    else this.#becomeUnattached(epoch, null)
    return true
  }

  // ---- messages ----

  #onMessage(from: number, m: RaftMessage): void {
    switch (m.type) {
      case 'vote-request':
        return this.#onVoteRequest(from, m)
      case 'vote-response':
        return this.#onVoteResponse(from, m)
      case 'begin-quorum-epoch-request':
        return this.#onBeginQuorumEpoch(from, m)
      case 'end-quorum-epoch-request':
        return this.#onEndQuorumEpoch(from, m)
      case 'begin-quorum-epoch-response':
      case 'end-quorum-epoch-response':
        this.#observeEpoch(m.epoch, m.leaderId)
        return
      case 'fetch-request':
        return this.#onFetchRequest(from, m)
      case 'fetch-response':
        return this.#onFetchResponse(from, m)
      case 'fetch-snapshot-request':
        return this.#onFetchSnapshotRequest(from, m)
      case 'fetch-snapshot-response':
        return this.#onFetchSnapshotResponse(from, m)
    }
  }

  #onVoteRequest(from: number, r: VoteRequest): void {
    const respond = (granted: boolean, errorCode: number = ErrorCode.NONE): void => {
      const response: VoteResponse = { type: 'vote-response', errorCode, epoch: this.#epoch, leaderId: this.#currentLeader(), granted, preVote: r.preVote }
      this.#send(from, response)
    }
    if (!this.#isVoter || !this.#voters.has(r.candidateId)) return respond(false, ErrorCode.INCONSISTENT_VOTER_SET)
    if (r.epoch < this.#epoch) return respond(false)
    // As Kafka does for pre-votes too: a higher epoch means this node missed an election.
    if (r.epoch > this.#epoch) this.#becomeUnattached(r.epoch, null)
    const upToDate = r.lastEpoch > this.#log.lastEpoch || (r.lastEpoch === this.#log.lastEpoch && r.endOffset >= this.#log.endOffset)
    if (r.preVote) return respond(upToDate && this.#grantsPreVote())
    const granted = (this.#role === 'unattached' || this.#role === 'prospective') && (this.#votedId === null || this.#votedId === r.candidateId) && upToDate
    if (granted && this.#votedId === null) {
      if (this.#role === 'prospective') this.#becomeUnattached(this.#epoch, r.candidateId)
      else {
        this.#votedId = r.candidateId
        this.#persistQuorumState()
        this.#armElection(this.#randomElectionTimeout(), () => this.#campaign())
      }
    }
    respond(granted)
  }

  /** KIP-996: no pre-vote while this node leads or follows a leader it has heard from within fetch.timeout. A
   * follower that has not fetched since it started following grants it, so two voters that each learn the old
   * leader from the other's rejection do not take turns forever. */
  #grantsPreVote(): boolean {
    if (this.#role === 'leader' || this.#role === 'resigned') return false
    if (this.#role !== 'follower') return true
    const contact = this.#follower?.leaderContactMs ?? null
    return contact === null || this.#clock.monotonic() - contact >= this.#cfg.fetchTimeoutMs
  }

  #onVoteResponse(from: number, r: VoteResponse): void {
    if (this.#observeEpoch(r.epoch, r.leaderId)) return
    const c = this.#candidate
    const role = c?.preVote ? 'prospective' : 'candidate'
    if (r.epoch !== this.#epoch || this.#role !== role || !c || r.preVote !== c.preVote || !this.#voters.has(from) || r.errorCode !== ErrorCode.NONE) return
    if (r.granted) c.granted.add(from)
    else c.rejected.add(from)
    if (this.#maybeWin()) return
    if (c.rejected.size >= this.#majority) this.#backOff()
  }

  #onBeginQuorumEpoch(from: number, r: BeginQuorumEpochRequest): void {
    let errorCode: number = ErrorCode.NONE
    if (!this.#voters.has(r.leaderId)) errorCode = ErrorCode.INCONSISTENT_VOTER_SET
    else if (r.epoch < this.#epoch) errorCode = ErrorCode.FENCED_LEADER_EPOCH
    else if (!this.#observeEpoch(r.epoch, r.leaderId) && this.#role === 'prospective') this.#becomeFollower(r.epoch, r.leaderId)
    this.#send(from, { type: 'begin-quorum-epoch-response', errorCode, epoch: this.#epoch, leaderId: this.#currentLeader() })
  }

  #onEndQuorumEpoch(from: number, r: EndQuorumEpochRequest): void {
    let errorCode: number = ErrorCode.NONE
    if (!this.#voters.has(r.leaderId)) errorCode = ErrorCode.INCONSISTENT_VOTER_SET
    else if (r.epoch < this.#epoch) errorCode = ErrorCode.FENCED_LEADER_EPOCH
    else {
      this.#observeEpoch(r.epoch, r.leaderId)
      if (this.#role === 'follower' && this.#epoch === r.epoch && this.#leaderId === r.leaderId) {
        // The leader is leaving: grant the successors' pre-votes.
        if (this.#follower) this.#follower.leaderContactMs = null
        this.#armElection(this.#endEpochBackoff(r.preferredSuccessors), () => this.#onFetchTimeout())
      }
    }
    this.#send(from, { type: 'end-quorum-epoch-response', errorCode, epoch: this.#epoch, leaderId: this.#currentLeader() })
  }

  /** Kafka's strict exponential backoff: the first successor campaigns at once, later ones wait longer. */
  #endEpochBackoff(successors: readonly number[]): number {
    const max = this.#cfg.electionBackoffMaxMs
    const position = successors.indexOf(this.#id)
    if (position === 0) return 0
    if (position < 0) return max
    const base = max >> (successors.length - 1)
    return Math.min(max, base << (position - 1))
  }

  // ---- leader side ----

  #leaderRequestError(epoch: number): number {
    if (epoch < this.#epoch) return ErrorCode.FENCED_LEADER_EPOCH
    if (epoch > this.#epoch) return ErrorCode.UNKNOWN_LEADER_EPOCH
    if (this.#role !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER
    return ErrorCode.NONE
  }

  #replica(leader: LeaderState, id: number): ReplicaState {
    let r = leader.replicas.get(id)
    if (!r) leader.replicas.set(id, (r = { endOffset: -1, lastFetchMs: this.#clock.monotonic() }))
    return r
  }

  #fetchError(r: FetchRequest, errorCode: number): FetchResponse {
    return {
      type: 'fetch-response',
      errorCode,
      epoch: this.#epoch,
      leaderId: this.#currentLeader(),
      correlationId: r.correlationId,
      fetchOffset: r.fetchOffset,
      lastFetchedEpoch: r.lastFetchedEpoch,
      highWatermark: -1,
      logStartOffset: -1,
      divergingEpoch: null,
      snapshotId: null,
      entries: [],
    }
  }

  #onFetchRequest(from: number, r: FetchRequest): void {
    let error = this.#leaderRequestError(r.epoch)
    if (error === ErrorCode.NONE && (r.fetchOffset < 0 || r.lastFetchedEpoch < 0 || r.lastFetchedEpoch > r.epoch)) error = ErrorCode.INVALID_REQUEST
    const leader = this.#leader
    if (error !== ErrorCode.NONE || !leader) return this.#send(from, this.#fetchError(r, error))
    const replica = this.#replica(leader, r.replicaId)
    replica.lastFetchMs = this.#clock.monotonic()
    const v = this.#log.validateFetch(r.fetchOffset, r.lastFetchedEpoch)
    if (v.kind === 'valid' && r.fetchOffset > replica.endOffset) {
      replica.endOffset = r.fetchOffset
      if (this.#voters.has(r.replicaId)) this.#maybeAdvanceHighWatermark()
    }
    if (leader.parked.has(r.replicaId)) this.#completeParked(r.replicaId)
    const caughtUp = v.kind === 'valid' && r.fetchOffset === this.#log.endOffset && r.highWatermark >= this.#hw
    if (caughtUp && r.maxWaitMs > 0) {
      const timer = this.#clock.setTimeout(() => this.#guard(() => this.#completeParked(r.replicaId)), r.maxWaitMs)
      leader.parked.set(r.replicaId, { request: r, timer })
      return
    }
    this.#send(from, this.#fetchResponse(r))
  }

  #fetchResponse(r: FetchRequest): FetchResponse {
    const v = this.#log.validateFetch(r.fetchOffset, r.lastFetchedEpoch)
    const base: FetchResponse = {
      type: 'fetch-response',
      errorCode: ErrorCode.NONE,
      epoch: this.#epoch,
      leaderId: this.#id,
      correlationId: r.correlationId,
      fetchOffset: r.fetchOffset,
      lastFetchedEpoch: r.lastFetchedEpoch,
      highWatermark: this.#hw,
      logStartOffset: this.#log.startOffset,
      divergingEpoch: null,
      snapshotId: null,
      entries: [],
    }
    if (v.kind === 'diverging') return { ...base, divergingEpoch: { epoch: v.epoch, endOffset: v.endOffset } }
    if (v.kind === 'snapshot') {
      invariant(this.#snapshot !== null, `log starts at ${this.#log.startOffset} without a snapshot`)
      return { ...base, snapshotId: this.#snapshot.id }
    }
    const to = Math.min(this.#log.endOffset, r.fetchOffset + this.#cfg.fetchMaxEntries)
    return { ...base, entries: this.#log.slice(r.fetchOffset, to) }
  }

  #completeParked(replicaId: number): void {
    const leader = this.#leader
    const p = leader?.parked.get(replicaId)
    if (!leader || !p) return
    leader.parked.delete(replicaId)
    p.timer.cancel()
    this.#send(replicaId, this.#fetchResponse(p.request))
  }

  #completeAllParked(): void {
    const leader = this.#leader
    if (leader) for (const id of [...leader.parked.keys()]) this.#completeParked(id)
  }

  #onFetchSnapshotRequest(from: number, r: FetchSnapshotRequest): void {
    const base = { type: 'fetch-snapshot-response', snapshotId: r.snapshotId, position: r.position, correlationId: r.correlationId } as const
    const respond = (errorCode: number, size = 0, bytes: Buffer = EMPTY): void => {
      const response: FetchSnapshotResponse = { ...base, errorCode, epoch: this.#epoch, leaderId: this.#currentLeader(), size, bytes }
      this.#send(from, response)
    }
    const error = this.#leaderRequestError(r.epoch)
    const leader = this.#leader
    if (error !== ErrorCode.NONE || !leader) return respond(error)
    this.#replica(leader, r.replicaId).lastFetchMs = this.#clock.monotonic()
    const s = this.#snapshot
    if (!s || !sameId(s.id, r.snapshotId)) return respond(ErrorCode.SNAPSHOT_NOT_FOUND)
    if (r.position < 0 || r.position >= s.bytes.length) return respond(ErrorCode.POSITION_OUT_OF_RANGE)
    respond(ErrorCode.NONE, s.bytes.length, s.bytes.subarray(r.position, r.position + this.#cfg.snapshotChunkBytes))
  }

  #appendAsLeader(entries: readonly LogEntry[]): void {
    this.#appendEntries(entries)
    this.#completeAllParked()
  }

  #maybeAdvanceHighWatermark(): void {
    const leader = this.#leader
    if (!leader) return
    const offsets = [this.#durableEnd]
    for (const v of this.#voters) if (v !== this.#id) offsets.push(leader.replicas.get(v)?.endOffset ?? -1)
    offsets.sort((a, b) => b - a)
    const majorityHolds = offsets[this.#majority - 1]!
    // Only past an entry of our own epoch: replicas of older entries alone do not make them committed.
    if (majorityHolds <= leader.epochStartOffset || majorityHolds <= this.#hw) return
    this.#hw = majorityHolds
    this.#applyCommitted()
    this.#completeAllParked()
  }

  // ---- follower side ----

  #fetchRequest(maxWaitMs: number): FetchRequest {
    return {
      type: 'fetch-request',
      epoch: this.#epoch,
      replicaId: this.#id,
      fetchOffset: this.#log.endOffset,
      lastFetchedEpoch: this.#log.lastEpoch,
      highWatermark: this.#hw,
      maxWaitMs,
      correlationId: ++this.#correlation,
    }
  }

  #sendFetch(): void {
    const f = this.#follower
    const leaderId = this.#leaderId
    if (this.#role !== 'follower' || !f || leaderId === null) return
    const retry = (): void => {
      f.inFlight = null
      this.#sendFetch()
    }
    if (f.snapshot) {
      const { id, position } = f.snapshot
      const correlationId = ++this.#correlation
      f.inFlight = { kind: 'snapshot', correlationId, id, position }
      this.#send(leaderId, { type: 'fetch-snapshot-request', epoch: this.#epoch, replicaId: this.#id, snapshotId: id, position, correlationId })
      this.#armRequest(this.#cfg.requestTimeoutMs, retry)
      return
    }
    const request = this.#fetchRequest(this.#cfg.fetchMaxWaitMs)
    f.inFlight = { kind: 'fetch', correlationId: request.correlationId, fetchOffset: request.fetchOffset, lastFetchedEpoch: request.lastFetchedEpoch }
    this.#send(leaderId, request)
    this.#armRequest(this.#cfg.requestTimeoutMs + this.#cfg.fetchMaxWaitMs, retry)
  }

  #retryFetchLater(): void {
    this.#armRequest(this.#cfg.retryBackoffMs, () => this.#sendFetch())
  }

  #onFetchResponse(from: number, r: FetchResponse): void {
    if (this.#observeEpoch(r.epoch, r.leaderId)) return
    const f = this.#follower
    if (r.epoch !== this.#epoch || this.#role !== 'follower' || !f || from !== this.#leaderId) return
    const inFlight = f.inFlight
    if (!inFlight || inFlight.kind !== 'fetch' || inFlight.correlationId !== r.correlationId || inFlight.fetchOffset !== r.fetchOffset || inFlight.lastFetchedEpoch !== r.lastFetchedEpoch) return
    if (r.fetchOffset !== this.#log.endOffset || r.lastFetchedEpoch !== this.#log.lastEpoch) return
    f.inFlight = null
    this.#requestTimer?.cancel()
    if (r.errorCode !== ErrorCode.NONE) return this.#retryFetchLater()
    this.#resetFetchTimeout()
    f.leaderContactMs = this.#clock.monotonic()
    if (r.divergingEpoch) {
      const local = this.#log.endOffsetForEpoch(r.divergingEpoch.epoch)
      invariant(local !== null, `leader ${from} reports divergence at epoch ${r.divergingEpoch.epoch}, below our snapshot`)
      const target = Math.min(r.divergingEpoch.endOffset, local.offset)
      invariant(target >= this.#hw, `leader ${from} asks to truncate to ${target}, below the high watermark ${this.#hw}`)
      this.#logger?.info('raft: truncating a diverging log', { nodeId: this.#id, to: target, from: this.#log.endOffset })
      this.#truncate(target)
    } else if (r.snapshotId) {
      f.snapshot = { id: r.snapshotId, position: 0, chunks: [] }
    } else {
      for (const e of r.entries) invariant(e.epoch <= this.#epoch, `leader ${from} sent an entry of epoch ${e.epoch} in epoch ${this.#epoch}`)
      this.#appendEntries(r.entries)
      const hw = Math.min(r.highWatermark, this.#log.endOffset)
      if (hw > this.#hw) {
        this.#hw = hw
        this.#applyCommitted()
      }
    }
    this.#sendFetch()
  }

  #onFetchSnapshotResponse(from: number, r: FetchSnapshotResponse): void {
    if (this.#observeEpoch(r.epoch, r.leaderId)) return
    const f = this.#follower
    if (r.epoch !== this.#epoch || this.#role !== 'follower' || !f || from !== this.#leaderId) return
    const s = f.snapshot
    const inFlight = f.inFlight
    if (!s || !inFlight || inFlight.kind !== 'snapshot' || inFlight.correlationId !== r.correlationId || !sameId(inFlight.id, r.snapshotId) || inFlight.position !== r.position) return
    f.inFlight = null
    this.#requestTimer?.cancel()
    if (r.errorCode !== ErrorCode.NONE) {
      // The leader moved to a newer snapshot (or lost ours): ask again what to fetch.
      if (r.errorCode === ErrorCode.SNAPSHOT_NOT_FOUND || r.errorCode === ErrorCode.POSITION_OUT_OF_RANGE) f.snapshot = null
      return this.#retryFetchLater()
    }
    this.#resetFetchTimeout()
    f.leaderContactMs = this.#clock.monotonic()
    if (r.bytes.length === 0 || r.position + r.bytes.length > r.size) {
      f.snapshot = null
      return this.#retryFetchLater()
    }
    s.chunks.push(Buffer.from(r.bytes))
    s.position += r.bytes.length
    if (s.position === r.size) {
      f.snapshot = null
      this.#installSnapshot(s.id, Buffer.concat(s.chunks))
    }
    this.#sendFetch()
  }

  #installSnapshot(id: SnapshotId, bytes: Buffer): void {
    const decoded = decodeSnapshot(bytes)
    if (!decoded || !sameId(decoded.id, id)) {
      this.#logger?.warn('raft: fetched snapshot is damaged; fetching again', { nodeId: this.#id, snapshotId: id })
      return
    }
    if (id.endOffset <= this.#applied) return
    invariant(this.#role !== 'leader', `leader ${this.#id} installing a snapshot`)
    this.#logger?.info('raft: installing a snapshot', { nodeId: this.#id, snapshotId: id })
    const S = id.endOffset
    this.#disk.push(() => this.#store.saveSnapshot(id, bytes))
    if (this.#log.epochAt(S - 1) === id.epoch) {
      this.#log.compactTo(S)
      this.#disk.push(() => this.#store.compactTo(S))
    } else {
      this.#log.reset(S, id.epoch)
      this.#generation++
      this.#durableEnd = Math.min(this.#durableEnd, S)
      this.#disk.push(() => this.#store.resetTo(S))
      this.#flushLog()
    }
    this.#snapshot = { id, bytes }
    this.#sm.restore(decoded.data, id)
    this.#applied = S
    if (this.#hw < S) this.#hw = S
    this.#applyCommitted()
  }

  // ---- log, commit, snapshots ----

  #appendEntries(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return
    this.#log.append(entries)
    this.#disk.push(() => this.#store.append(entries))
    this.#flushLog()
  }

  #truncate(offset: number): void {
    this.#log.truncateTo(offset)
    this.#generation++
    this.#durableEnd = Math.min(this.#durableEnd, offset)
    this.#disk.push(() => this.#store.truncateTo(offset))
    this.#flushLog()
  }

  #flushLog(): void {
    const end = this.#log.endOffset
    const generation = this.#generation
    this.#disk.push(() => this.#store.flush())
    this.#disk.push(() =>
      this.#guard(() => {
        if (generation !== this.#generation || end <= this.#durableEnd) return
        this.#durableEnd = end
        this.#maybeAdvanceHighWatermark()
      }),
    )
  }

  #applyCommitted(): void {
    while (this.#applied < this.#hw) {
      const entry = this.#log.entry(this.#applied)
      invariant(entry !== undefined, `node ${this.#id}: committed entry ${this.#applied} is not in the log (${this.#log.startOffset}..${this.#log.endOffset})`)
      this.#applied++
      this.#sm.apply(entry)
    }
    const leader = this.#leader
    if (leader) {
      while (leader.proposals.length > 0 && leader.proposals[0]!.offset < this.#applied) {
        const p = leader.proposals.shift()!
        p.resolve({ ok: true, offset: p.offset, epoch: this.#epoch })
      }
    }
    this.#maybeSnapshot()
  }

  #maybeSnapshot(): void {
    const every = this.#cfg.snapshotEveryEntries
    if (every <= 0 || this.#snapshotting) return
    const S = this.#applied
    if (S - (this.#snapshot?.id.endOffset ?? 0) < every) return
    const epoch = this.#log.epochAt(S - 1)
    invariant(epoch !== undefined, `node ${this.#id}: no epoch for applied offset ${S - 1}`)
    const id: SnapshotId = { endOffset: S, epoch }
    const bytes = encodeSnapshot(id, this.#sm.snapshot())
    this.#snapshotting = true
    this.#disk.push(() => this.#store.saveSnapshot(id, bytes))
    this.#disk.push(() =>
      this.#guard(() => {
        this.#snapshotting = false
        if (this.#snapshot && this.#snapshot.id.endOffset >= S) return
        this.#snapshot = { id, bytes }
        if (S > this.#log.startOffset) {
          this.#log.compactTo(S)
          this.#disk.push(() => this.#store.compactTo(S))
        }
      }),
    )
  }
}

function validateConfig(c: RaftConfig): void {
  const problems: string[] = []
  if (!Number.isSafeInteger(c.nodeId) || c.nodeId < 0) problems.push(`nodeId ${c.nodeId} is not a non-negative integer`)
  if (c.voters.length === 0) problems.push('voters is empty')
  if (new Set(c.voters).size !== c.voters.length) problems.push(`voters ${c.voters.join(',')} has duplicates`)
  for (const v of c.voters) if (!Number.isSafeInteger(v) || v < 0) problems.push(`voter ${v} is not a non-negative integer`)
  for (const k of ['electionTimeoutMs', 'fetchTimeoutMs', 'requestTimeoutMs', 'fetchMaxEntries', 'snapshotChunkBytes'] as const) {
    if (!(c[k] > 0)) problems.push(`${k} must be positive, got ${c[k]}`)
  }
  for (const k of ['electionBackoffMaxMs', 'retryBackoffMs', 'fetchMaxWaitMs', 'snapshotEveryEntries'] as const) {
    if (!(c[k] >= 0)) problems.push(`${k} must not be negative, got ${c[k]}`)
  }
  if (problems.length > 0) throw new Error(`raft config: ${problems.join('; ')}`)
}
