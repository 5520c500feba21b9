// The replication data path of one broker (the part of Kafka's ReplicaManager and Partition.makeLeader /
// makeFollower that is not metadata): for every partition it hosts, either a LeaderState (this broker leads it)
// or a place in the ReplicaFetcher of its leader (it follows), switched by the registrations the control plane
// applies. It also keeps the ISR: followers that caught up are proposed for it, lagging ones are proposed out on
// a timer (every replica.lag.time.max.ms / 2, as Kafka's isr-expiration task), both through AlterPartition.
//
// * Becoming leader at a new epoch: the epoch is assigned at the log end in the epoch cache (its start offset,
//   which followers must reach to join the ISR), waiting acks of a previous leadership fail, fetching stops.
//   The same epoch again is an ISR or replica-set change only.
// * Becoming follower: any leadership is resigned (its acks=all waiters fail with NOT_LEADER_OR_FOLLOWER) and the
//   partition joins the fetcher of the new leader, starting with truncation. The log is never cut to the high
//   watermark here (KIP-101); the fetcher finds the divergence.
// * Changes of one partition are applied in order, each after the previous finished (a fetcher removal waits for
//   the request in flight).

import type { Clock, TimerHandle } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode, errorName } from '../protocol/errors.ts'
import type { PartitionLog } from '../storage/log.ts'
import type { ConnectChannel } from './channel.ts'
import type { PartitionRegistration, ReplicationControl } from './control.ts'
import { type FollowerPartition, ReplicaFetcher, type ReplicaFetcherOptions } from './fetcher.ts'
import { type FollowerFetchPartition, type FollowerRead, readForFollower } from './leader-fetch.ts'
import { type AckResult, LeaderState } from './leader-state.ts'

/** What the manager needs of a hosted partition (broker/replication/partition.ts's Partition has it). */
export interface ReplicaPartition {
  readonly topic: string
  readonly index: number
  readonly log: PartitionLog
  readonly leaderEpoch: number
  readonly partitionEpoch: number
}

export interface ReplicaManagerOptions {
  nodeId: number
  clock: Clock
  logger: Pick<Logger, 'info' | 'warn' | 'error'>
  control: ReplicationControl
  connect: ConnectChannel
  replicaLagTimeMaxMs: number
  minInsyncReplicas(topic: string): number
  holdHighWatermarkUnderMinIsr?: boolean
  fetcher?: Pick<ReplicaFetcherOptions, 'maxWaitMs' | 'minBytes' | 'maxBytes' | 'partitionMaxBytes' | 'backoffMs'>
  /** The high watermark moved or records arrived: wake the partition's waiting fetches. */
  wake?(p: ReplicaPartition): void
  /** A follower appended the leader's records (rebuild producer state from them). */
  onFollowerAppend?(p: ReplicaPartition, records: Buffer, lastOffset: number): void
  /** A follower's log was cut (truncation to the leader's, or a restart at its log start). */
  onTruncate?(p: ReplicaPartition): void | Promise<void>
  /** AlterPartition committed a registration for a partition this broker leads. */
  onRegistration?(p: ReplicaPartition, reg: PartitionRegistration): void
}

const key = (topic: string, index: number): string => `${topic}\u0000${index}`

interface Followed {
  leaderId: number
  leaderEpoch: number
}

export class ReplicaManager {
  readonly #o: ReplicaManagerOptions
  readonly #leaders = new Map<string, LeaderState>()
  readonly #partitions = new Map<string, ReplicaPartition>()
  readonly #followed = new Map<string, Followed>()
  readonly #fetchers = new Map<number, ReplicaFetcher>()
  readonly #queues = new Map<string, Promise<void>>()
  #shrinkTimer: TimerHandle | null = null
  #stopped = false

  constructor(opts: ReplicaManagerOptions) {
    this.#o = opts
  }

  start(): void {
    this.#shrinkTimer ??= this.#o.clock.setInterval(() => this.maybeShrinkIsr(), Math.max(1, Math.floor(this.#o.replicaLagTimeMaxMs / 2)))
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#shrinkTimer?.cancel()
    this.#shrinkTimer = null
    for (const s of this.#leaders.values()) s.resign()
    this.#leaders.clear()
    await Promise.all([...this.#fetchers.values()].map((f) => f.stop()))
    this.#fetchers.clear()
    this.#followed.clear()
  }

  /** This broker's leader state for the partition, when it leads it. */
  leader(topic: string, index: number): LeaderState | undefined {
    return this.#leaders.get(key(topic, index))
  }

  /** The leader this broker fetches the partition from, when it follows it. */
  following(topic: string, index: number): number | undefined {
    return this.#followed.get(key(topic, index))?.leaderId
  }

  fetcher(leaderId: number): ReplicaFetcher | undefined {
    return this.#fetchers.get(leaderId)
  }

  /** Applies a registration (after Partition.applyRegistration); resolves once leader or follower state matches it. */
  applyRegistration(p: ReplicaPartition, reg: PartitionRegistration): Promise<void> {
    const k = key(p.topic, p.index)
    const run = (this.#queues.get(k) ?? Promise.resolve()).then(() => this.#apply(p, reg))
    const tail = run.catch((e: unknown) => this.#o.logger.error('cannot apply a partition registration', { topic: p.topic, partition: p.index, error: String(e) }))
    this.#queues.set(k, tail)
    return run
  }

  /** The partition is gone from this broker (deleted, reassigned away). */
  removePartition(topic: string, index: number): Promise<void> {
    const k = key(topic, index)
    const run = (this.#queues.get(k) ?? Promise.resolve()).then(async () => {
      this.#leaders.get(k)?.resign()
      this.#leaders.delete(k)
      this.#partitions.delete(k)
      await this.#unfollow(k, topic, index)
    })
    this.#queues.set(k, run.catch(() => {}))
    return run
  }

  async #apply(p: ReplicaPartition, reg: PartitionRegistration): Promise<void> {
    if (this.#stopped) return
    const k = key(p.topic, p.index)
    this.#partitions.set(k, p)
    const current = this.#leaders.get(k)
    if (reg.leader === this.#o.nodeId) {
      if (current && current.isActive && current.leaderEpoch === reg.leaderEpoch) {
        current.commitIsr(reg.isr, reg.replicas)
        return
      }
      current?.resign()
      await this.#unfollow(k, p.topic, p.index)
      const log = p.log
      log.epochCache.assign(reg.leaderEpoch, log.logEndOffset)
      const state = new LeaderState(
        {
          clock: this.#o.clock,
          localId: this.#o.nodeId,
          logEndOffset: () => log.logEndOffset,
          replicaLagTimeMaxMs: this.#o.replicaLagTimeMaxMs,
          minInsyncReplicas: () => this.#o.minInsyncReplicas(p.topic),
          holdHighWatermarkUnderMinIsr: this.#o.holdHighWatermarkUnderMinIsr,
          isEligible: (id) => (this.#o.control.isEligible ? this.#o.control.isEligible(id) : this.#o.control.endpoint(id) !== null),
          onHighWatermark: (hw) => {
            log.highWatermark = hw
            this.#o.wake?.(p)
          },
        },
        { leaderEpoch: reg.leaderEpoch, epochStartOffset: log.logEndOffset, replicas: reg.replicas, isr: reg.isr, highWatermark: log.highWatermark },
      )
      this.#leaders.set(k, state)
      this.#o.logger.info('leading partition', { topic: p.topic, partition: p.index, leaderEpoch: reg.leaderEpoch, epochStartOffset: log.logEndOffset, isr: reg.isr })
      return
    }
    if (current) {
      current.resign()
      this.#leaders.delete(k)
    }
    if (reg.leader < 0 || !reg.replicas.includes(this.#o.nodeId)) {
      await this.#unfollow(k, p.topic, p.index)
      return
    }
    const was = this.#followed.get(k)
    if (was && was.leaderId === reg.leader && was.leaderEpoch === reg.leaderEpoch) return
    if (was && was.leaderId !== reg.leader) await this.#unfollow(k, p.topic, p.index)
    const follower: FollowerPartition = { topic: p.topic, partition: p.index, log: p.log, leaderEpoch: reg.leaderEpoch }
    this.#fetcherFor(reg.leader).addPartition(follower)
    this.#followed.set(k, { leaderId: reg.leader, leaderEpoch: reg.leaderEpoch })
    this.#o.logger.info('following partition', { topic: p.topic, partition: p.index, leader: reg.leader, leaderEpoch: reg.leaderEpoch })
  }

  async #unfollow(k: string, topic: string, index: number): Promise<void> {
    const was = this.#followed.get(k)
    if (!was) return
    this.#followed.delete(k)
    const f = this.#fetchers.get(was.leaderId)
    if (!f) return
    await f.removePartition(topic, index)
    if (f.partitionCount === 0 && this.#fetchers.get(was.leaderId) === f) {
      this.#fetchers.delete(was.leaderId)
      await f.stop()
    }
  }

  #fetcherFor(leaderId: number): ReplicaFetcher {
    let f = this.#fetchers.get(leaderId)
    if (f) return f
    f = new ReplicaFetcher({
      ...this.#o.fetcher,
      clock: this.#o.clock,
      logger: this.#o.logger,
      nodeId: this.#o.nodeId,
      leaderId,
      endpoint: () => this.#o.control.endpoint(leaderId),
      connect: this.#o.connect,
      onAppend: (fp, records, lastOffset) => {
        const p = this.#partitions.get(key(fp.topic, fp.partition))
        if (!p) return
        this.#o.onFollowerAppend?.(p, records, lastOffset)
        this.#o.wake?.(p)
      },
      onHighWatermark: (fp) => {
        const p = this.#partitions.get(key(fp.topic, fp.partition))
        if (p) this.#o.wake?.(p)
      },
      onTruncate: async (fp) => {
        const p = this.#partitions.get(key(fp.topic, fp.partition))
        if (p) await this.#o.onTruncate?.(p)
      },
    })
    this.#fetchers.set(leaderId, f)
    f.start()
    return f
  }

  // ---- the leader's side of requests ----

  /** Fetch from a follower (replicaId >= 0) for a partition hosted here; proposes the follower for the ISR when it qualifies. */
  async fetchForFollower(p: ReplicaPartition, replicaId: number, fp: FollowerFetchPartition, maxBytes: number, minOneBatch: boolean): Promise<FollowerRead> {
    const state = this.#leaders.get(key(p.topic, p.index)) ?? null
    const read = await readForFollower({ log: p.log, leaderEpoch: p.leaderEpoch, leader: state }, replicaId, fp, maxBytes, minOneBatch)
    if (read.expandIsr && state && state.isActive && !state.pendingIsr && !state.isr.includes(replicaId)) {
      this.#alterIsr(p, state, [...state.isr, replicaId])
    }
    return read
  }

  /** NOT_ENOUGH_REPLICAS for an acks=all produce when the ISR is below min.insync.replicas; NOT_LEADER_OR_FOLLOWER when not leading. */
  checkEnoughReplicas(p: ReplicaPartition, acks: number): number {
    const state = this.#leaders.get(key(p.topic, p.index))
    if (!state || !state.isActive) return ErrorCode.NOT_LEADER_OR_FOLLOWER
    return state.checkEnoughReplicas(acks)
  }

  /** After a leader append: the high watermark may move (a leader alone in the ISR). */
  leaderAppended(p: ReplicaPartition): void {
    this.#leaders.get(key(p.topic, p.index))?.onLeaderAppend()
  }

  /** acks=all: waits for the high watermark to pass `lastOffset`. */
  waitForAcks(p: ReplicaPartition, lastOffset: number, timeoutMs: number): Promise<AckResult> {
    const state = this.#leaders.get(key(p.topic, p.index))
    return state ? state.waitForHighWatermark(lastOffset, timeoutMs) : Promise.resolve('not-leader')
  }

  // ---- ISR ----

  /** Proposes lagging followers out of the ISR (run on a timer by start()). */
  maybeShrinkIsr(): void {
    for (const [k, state] of this.#leaders) {
      const p = this.#partitions.get(k)
      const out = state.shrinkCandidates()
      if (!p || out.length === 0) continue
      this.#o.logger.info('shrinking the ISR', { topic: p.topic, partition: p.index, out, isr: state.isr })
      this.#alterIsr(p, state, state.isr.filter((id) => !out.includes(id)))
    }
  }

  #alterIsr(p: ReplicaPartition, state: LeaderState, newIsr: number[]): void {
    state.proposeIsr(newIsr)
    const k = key(p.topic, p.index)
    this.#o.control
      .alterPartition({ topic: p.topic, partition: p.index, leaderEpoch: state.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr })
      .then(
        (res) => {
          if (this.#leaders.get(k) !== state || !state.isActive) return
          if (res.errorCode === ErrorCode.NONE && res.registration) {
            state.commitIsr(res.registration.isr, res.registration.replicas)
            this.#o.onRegistration?.(p, res.registration)
            return
          }
          this.#o.logger.warn('AlterPartition failed', { topic: p.topic, partition: p.index, newIsr, error: errorName(res.errorCode) })
          state.abortIsrChange()
        },
        (e: unknown) => {
          this.#o.logger.warn('AlterPartition failed', { topic: p.topic, partition: p.index, newIsr, error: String(e) })
          if (this.#leaders.get(k) === state) state.abortIsrChange()
        },
      )
  }
}
