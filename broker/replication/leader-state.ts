// The leader's view of one partition's followers (Kafka's Partition + Replica state on the leader, and the
// DelayedProduce purgatory). Pure: time from a Clock, the leader's log end offset from a getter, no I/O; the
// caller turns ISR proposals into AlterPartition requests and mirrors the high watermark into the log.
//
// Rules, as in Kafka (Partition.scala, Replica.scala):
// * A follower's log end offset is its last fetch offset. It is caught up at a fetch when the fetch offset
//   reaches the leader's log end offset (now), or when it reaches the leader's log end offset as of its previous
//   fetch (caught up as of that fetch's time): Replica.updateFetchStateOrThrow.
// * High watermark: the smallest log end offset among the leader and the followers in the maximal ISR (the
//   committed ISR plus a pending expansion, or the old ISR during a pending shrink; KIP-497) or caught up within
//   replica.lag.time.max.ms and eligible. It only moves forward, and not at all while the committed ISR is smaller
//   than the effective min.insync.replicas (min(min.insync.replicas, replicas); KIP-966 as in Kafka 4; an option
//   restores the Kafka 3 rule).
// * ISR shrink: ISR followers whose log end offset differs from the leader's and that were last caught up more
//   than replica.lag.time.max.ms ago. ISR expand: eligible followers outside the maximal ISR whose log end offset
//   reaches both the high watermark and the start offset of the leader's epoch (isFollowerInSync).
// * acks=all: the write is acknowledged once the high watermark passes its last offset; with
//   NOT_ENOUGH_REPLICAS_AFTER_APPEND if by then the maximal ISR is below the effective min ISR
//   (checkEnoughReplicasReachOffset), REQUEST_TIMED_OUT after the request's timeout, NOT_LEADER_OR_FOLLOWER
//   when leadership moves. Before appending, NOT_ENOUGH_REPLICAS when the committed ISR is below the minimum.

import type { Clock, TimerHandle } from '../clock.ts'
import { ErrorCode } from '../protocol/errors.ts'

export type AckResult = 'ok' | 'timeout' | 'not-leader' | 'not-enough-replicas-after-append'

/** The Produce error code for an acks=all outcome. */
export function ackErrorCode(result: AckResult): number {
  switch (result) {
    case 'ok':
      return ErrorCode.NONE
    case 'timeout':
      return ErrorCode.REQUEST_TIMED_OUT
    case 'not-leader':
      return ErrorCode.NOT_LEADER_OR_FOLLOWER
    case 'not-enough-replicas-after-append':
      return ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
  }
}

export interface FollowerState {
  /** The last fetch offset; -1 until the follower fetches from this leader. */
  logEndOffset: number
  logStartOffset: number
  /** Monotonic ms of the last fetch; -Infinity before the first. */
  lastFetchTime: number
  lastCaughtUpTime: number
  /** The leader's log end offset when the follower last fetched. */
  lastFetchLeaderLogEndOffset: number
}

export interface LeaderStateOptions {
  clock: Clock
  localId: number
  /** The leader's log end offset right now. */
  logEndOffset(): number
  replicaLagTimeMaxMs: number
  /** A function when the topic's config may change while this replica leads (a dynamic config). */
  minInsyncReplicas: number | (() => number)
  /** Whether a replica may join the ISR (registered, not fenced, not shutting down); all by default. */
  isEligible?(replicaId: number): boolean
  /** Called after the high watermark moved (mirror it into the log, wake fetchers). */
  onHighWatermark?(hw: number): void
  /**
   * Kafka 4 (KIP-966) holds the high watermark while the ISR is below the minimum, so acks=all writes then time
   * out; false is the Kafka 3 rule, where they complete with NOT_ENOUGH_REPLICAS_AFTER_APPEND. Default true.
   */
  holdHighWatermarkUnderMinIsr?: boolean
}

export interface LeaderInit {
  leaderEpoch: number
  /** The log end offset when this broker became leader: the first offset of its epoch. */
  epochStartOffset: number
  replicas: readonly number[]
  isr: readonly number[]
  /** The high watermark this broker knew as a follower (or from its checkpoint). */
  highWatermark: number
}

interface Waiter {
  offset: number
  resolve(r: AckResult): void
  timer: TimerHandle | null
  done: boolean
}

export class LeaderState {
  readonly leaderEpoch: number
  readonly epochStartOffset: number
  readonly #o: LeaderStateOptions
  #replicas: number[]
  #isr: number[]
  #pendingIsr: number[] | null = null
  #hw: number
  #followers = new Map<number, FollowerState>()
  /** Ascending by offset (appends come in offset order); completed entries are skipped lazily. */
  #waiters: Waiter[] = []
  #active = true

  constructor(opts: LeaderStateOptions, init: LeaderInit) {
    this.#o = opts
    this.leaderEpoch = init.leaderEpoch
    this.epochStartOffset = init.epochStartOffset
    this.#replicas = [...init.replicas]
    this.#isr = [...init.isr]
    this.#hw = Math.min(init.highWatermark, opts.logEndOffset())
    const now = opts.clock.monotonic()
    // Kafka's resetReplicaState for a new leader: ISR members count as caught up now, the others never were.
    for (const id of this.#replicas) if (id !== opts.localId) this.#followers.set(id, newFollower(this.#isr.includes(id) ? now : -Infinity))
    this.maybeIncrementHighWatermark()
  }

  get highWatermark(): number {
    return this.#hw
  }

  get isActive(): boolean {
    return this.#active
  }

  get isr(): readonly number[] {
    return this.#isr
  }

  get replicas(): readonly number[] {
    return this.#replicas
  }

  get pendingIsr(): readonly number[] | null {
    return this.#pendingIsr
  }

  /** The committed ISR widened by a pending change (KIP-497): what the high watermark must wait for. */
  maximalIsr(): number[] {
    if (!this.#pendingIsr) return [...this.#isr]
    return [...new Set([...this.#isr, ...this.#pendingIsr])]
  }

  follower(id: number): Readonly<FollowerState> | undefined {
    return this.#followers.get(id)
  }

  get effectiveMinIsr(): number {
    const min = this.#o.minInsyncReplicas
    return Math.min(typeof min === 'function' ? min() : min, this.#replicas.length)
  }

  /** NOT_ENOUGH_REPLICAS before an acks=all append when the committed ISR is below the minimum, else NONE. */
  checkEnoughReplicas(acks: number): number {
    return acks === -1 && this.#isr.length < this.effectiveMinIsr ? ErrorCode.NOT_ENOUGH_REPLICAS : ErrorCode.NONE
  }

  /**
   * A follower fetched from `fetchOffset` (its log end offset). Updates its caught-up time and the high
   * watermark; returns whether the high watermark moved and whether the follower should join the ISR.
   */
  updateFollowerFetch(replicaId: number, fetchOffset: number, followerLogStartOffset = -1): { highWatermarkChanged: boolean; expand: boolean } {
    const st = this.#followers.get(replicaId)
    if (!st || !this.#active) return { highWatermarkChanged: false, expand: false }
    const now = this.#o.clock.monotonic()
    const leo = this.#o.logEndOffset()
    if (fetchOffset >= leo) st.lastCaughtUpTime = Math.max(st.lastCaughtUpTime, now)
    else if (fetchOffset >= st.lastFetchLeaderLogEndOffset) st.lastCaughtUpTime = Math.max(st.lastCaughtUpTime, st.lastFetchTime)
    const moved = st.logEndOffset !== fetchOffset
    st.logEndOffset = fetchOffset
    st.logStartOffset = followerLogStartOffset
    st.lastFetchLeaderLogEndOffset = leo
    st.lastFetchTime = now
    const highWatermarkChanged = moved ? this.maybeIncrementHighWatermark() : false
    return { highWatermarkChanged, expand: this.#shouldExpand(replicaId, st) }
  }

  /** After a local append: with no followers to wait for, the high watermark follows the log end. */
  onLeaderAppend(): boolean {
    return this.maybeIncrementHighWatermark()
  }

  maybeIncrementHighWatermark(): boolean {
    if (!this.#active) return false
    if (this.#isr.length < this.effectiveMinIsr && this.#o.holdHighWatermarkUnderMinIsr !== false) return false
    const now = this.#o.clock.monotonic()
    const leo = this.#o.logEndOffset()
    const maximal = this.maximalIsr()
    let hw = leo
    for (const [id, st] of this.#followers) {
      if (st.logEndOffset >= hw) continue
      if (maximal.includes(id) || (this.#isCaughtUp(st, leo, now) && this.#eligible(id))) hw = st.logEndOffset
    }
    if (hw <= this.#hw) return false
    this.#hw = hw
    this.#o.onHighWatermark?.(hw)
    this.#completeWaiters()
    return true
  }

  #isCaughtUp(st: FollowerState, leo: number, now: number): boolean {
    return st.logEndOffset === leo || now - st.lastCaughtUpTime <= this.#o.replicaLagTimeMaxMs
  }

  #eligible(id: number): boolean {
    return this.#o.isEligible?.(id) ?? true
  }

  #shouldExpand(id: number, st: FollowerState): boolean {
    if (this.#pendingIsr || this.maximalIsr().includes(id) || !this.#eligible(id)) return false
    return st.logEndOffset >= this.#hw && st.logEndOffset >= this.epochStartOffset
  }

  /** Followers that may join the ISR now (no change may be pending). */
  expandCandidates(): number[] {
    const out: number[] = []
    for (const [id, st] of this.#followers) if (this.#shouldExpand(id, st)) out.push(id)
    return out
  }

  /** ISR followers that have not been caught up for longer than replica.lag.time.max.ms. */
  shrinkCandidates(): number[] {
    if (this.#pendingIsr || !this.#active) return []
    const now = this.#o.clock.monotonic()
    const leo = this.#o.logEndOffset()
    return this.#isr.filter((id) => {
      const st = this.#followers.get(id)
      return st !== undefined && st.logEndOffset !== leo && now - st.lastCaughtUpTime > this.#o.replicaLagTimeMaxMs
    })
  }

  /** An AlterPartition with this ISR is in flight: the high watermark now waits for the wider of both. */
  proposeIsr(newIsr: readonly number[]): void {
    this.#pendingIsr = [...newIsr]
  }

  /** The controller committed an ISR (an AlterPartition answer or a new registration with the same epoch). */
  commitIsr(isr: readonly number[], replicas: readonly number[] = this.#replicas): void {
    this.#pendingIsr = null
    this.#isr = [...isr]
    if (replicas !== this.#replicas) {
      this.#replicas = [...replicas]
      for (const id of replicas) if (id !== this.#o.localId && !this.#followers.has(id)) this.#followers.set(id, newFollower(-Infinity))
      for (const id of this.#followers.keys()) if (!replicas.includes(id)) this.#followers.delete(id)
    }
    this.maybeIncrementHighWatermark()
  }

  /** The AlterPartition failed: back to the committed ISR. */
  abortIsrChange(): void {
    this.#pendingIsr = null
    this.maybeIncrementHighWatermark()
  }

  /**
   * acks=all: resolves when the high watermark passes `lastOffset` ('ok', or 'not-enough-replicas-after-append'
   * if the maximal ISR is then below the minimum), after `timeoutMs` ('timeout'), or when leadership ends.
   */
  waitForHighWatermark(lastOffset: number, timeoutMs: number): Promise<AckResult> {
    if (!this.#active) return Promise.resolve('not-leader')
    if (this.#hw > lastOffset) return Promise.resolve(this.#reachedResult())
    return new Promise<AckResult>((resolve) => {
      const w: Waiter = { offset: lastOffset, resolve, timer: null, done: false }
      w.timer = this.#o.clock.setTimeout(() => this.#finish(w, 'timeout'), Math.max(0, timeoutMs))
      let i = this.#waiters.length
      while (i > 0 && this.#waiters[i - 1]!.offset > lastOffset) i--
      this.#waiters.splice(i, 0, w)
    })
  }

  /** Acks waiting for the high watermark. */
  get waiting(): number {
    return this.#waiters.filter((w) => !w.done).length
  }

  #reachedResult(): AckResult {
    return this.maximalIsr().length >= this.effectiveMinIsr ? 'ok' : 'not-enough-replicas-after-append'
  }

  #finish(w: Waiter, r: AckResult): void {
    if (w.done) return
    w.done = true
    w.timer?.cancel()
    w.resolve(r)
  }

  #completeWaiters(): void {
    let n = 0
    while (n < this.#waiters.length && (this.#waiters[n]!.done || this.#waiters[n]!.offset < this.#hw)) n++
    if (n === 0) return
    const result = this.#reachedResult()
    for (const w of this.#waiters.splice(0, n)) this.#finish(w, result)
  }

  /** Leadership moved (a new epoch, or this broker became a follower): every waiting ack fails. */
  resign(): void {
    if (!this.#active) return
    this.#active = false
    for (const w of this.#waiters.splice(0)) this.#finish(w, 'not-leader')
  }
}

function newFollower(lastCaughtUpTime: number): FollowerState {
  return { logEndOffset: -1, logStartOffset: -1, lastFetchTime: -Infinity, lastCaughtUpTime, lastFetchLeaderLogEndOffset: -1 }
}
