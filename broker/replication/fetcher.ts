// The follower side of replication (Kafka's ReplicaFetcherThread + AbstractFetcherThread): one ReplicaFetcher per
// leader broker, fetching every partition this broker follows from it in one loop.
//
// * A partition joins in the 'truncating' state (a new leader epoch): OffsetForLeaderEpoch with the epoch of the
//   local log's last record finds where the logs diverge, and the log is truncated there (KIP-101), never to the
//   local high watermark. When the leader answers an epoch this log does not have, the log is cut to the end of
//   the largest local epoch below it and the question is asked again (KIP-279). An empty epoch cache needs no
//   truncation.
// * 'fetching': Fetch v12 with replicaId, currentLeaderEpoch, fetchOffset = log end, lastFetchedEpoch = the
//   epoch cache's latest epoch; records are appended as they are (appendAsFollower keeps the leader's offsets
//   and epochs). A divergingEpoch answer (KIP-320) truncates the same way as OffsetForLeaderEpoch does.
// * The follower's high watermark is min(leader's, own log end); its log start follows the leader's.
// * OFFSET_OUT_OF_RANGE below the leader's log start restarts the log there (at the base of the batch holding it
//   when that start is inside a batch); otherwise the partition goes back to truncating after backoffMs. Other
//   partition errors delay that partition by backoffMs; a failed request or connection closes the channel and
//   every partition waits backoffMs before the loop reconnects.
// * stop() ends the loop after the request in flight; removePartition() waits for it too, so nothing is written
//   to a removed partition afterwards.

import type { Clock, TimerHandle } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode, errorName } from '../protocol/errors.ts'
import { Fetch } from '../protocol/messages/fetch.ts'
import { OffsetForLeaderEpoch } from '../protocol/messages/offset-for-leader-epoch.ts'
import { checkBatchFrame, RecordBatchView } from '../protocol/record-batch.ts'
import { StorageError } from '../storage/file-system.ts'
import { type EpochEndOffset, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from '../storage/leader-epoch-cache.ts'
import type { PartitionLog } from '../storage/log.ts'
import type { BrokerChannel, ConnectChannel } from './channel.ts'

export const FETCH_VERSION = 12
export const OFFSET_FOR_LEADER_EPOCH_VERSION = 4

export interface FollowerPartition {
  readonly topic: string
  readonly partition: number
  readonly log: PartitionLog
  /** The leader epoch of the registration this broker follows. */
  readonly leaderEpoch: number
}

export interface ReplicaFetcherOptions {
  clock: Clock
  logger: Pick<Logger, 'info' | 'warn' | 'error'>
  /** This broker's node id: the Fetch replicaId. */
  nodeId: number
  leaderId: number
  /** Where the leader listens for brokers right now; null while unknown or fenced. */
  endpoint(): { host: string; port: number } | null
  connect: ConnectChannel
  maxWaitMs?: number
  minBytes?: number
  maxBytes?: number
  partitionMaxBytes?: number
  backoffMs?: number
  /** After the leader's records were appended (wake waiting fetchers, rebuild producer state from them). */
  onAppend?(p: FollowerPartition, records: Buffer, lastOffset: number): void
  /** After records were cut from the log (truncation, or a restart at the leader's log start): rebuild state
   *  derived from the log (idempotent producers). Awaited before the partition fetches again. */
  onTruncate?(p: FollowerPartition): void | Promise<void>
  /** After the follower's high watermark moved. */
  onHighWatermark?(p: FollowerPartition, hw: number): void
  /** The log went offline (a disk error): the partition is dropped from this fetcher. */
  onFailure?(p: FollowerPartition, error: unknown): void
}

export type FetchStateKind = 'truncating' | 'fetching'

interface FetchState {
  readonly p: FollowerPartition
  kind: FetchStateKind
  /** Monotonic ms before which this partition is not fetched (after an error). */
  delayUntil: number
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`

export class ReplicaFetcher {
  readonly leaderId: number
  readonly #o: ReplicaFetcherOptions
  readonly #partitions = new Map<string, FetchState>()
  #channel: BrokerChannel | null = null
  #running: Promise<void> | null = null
  #stopped = true
  /** The current round (one request and what it causes); removals wait for it. */
  #round: Promise<void> = Promise.resolve()
  #wake: (() => void) | null = null

  constructor(opts: ReplicaFetcherOptions) {
    this.#o = opts
    this.leaderId = opts.leaderId
  }

  get partitionCount(): number {
    return this.#partitions.size
  }

  state(topic: string, partition: number): { kind: FetchStateKind; delayed: boolean } | undefined {
    const s = this.#partitions.get(key(topic, partition))
    return s && { kind: s.kind, delayed: s.delayUntil > this.#o.clock.monotonic() }
  }

  /** Follows `p` from this leader, starting with truncation (a new leader epoch); replaces an earlier entry. */
  addPartition(p: FollowerPartition, initial: FetchStateKind = 'truncating'): void {
    this.#partitions.set(key(p.topic, p.partition), { p, kind: initial, delayUntil: 0 })
    this.#poke()
  }

  /** Stops following; resolves once no request of this fetcher can still write to the partition. */
  async removePartition(topic: string, partition: number): Promise<void> {
    this.#partitions.delete(key(topic, partition))
    await this.#round
  }

  start(): void {
    if (this.#running) return
    this.#stopped = false
    this.#running = this.#loop().finally(() => {
      this.#running = null
    })
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#poke()
    this.#channel?.close()
    await this.#running
    this.#channel = null
  }

  #poke(): void {
    const w = this.#wake
    this.#wake = null
    w?.()
  }

  /** Waits `ms` on the clock, or until poked (a partition added, stop). */
  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    return new Promise((resolve) => {
      let timer: TimerHandle | null = null
      const done = () => {
        timer?.cancel()
        if (this.#wake === done) this.#wake = null
        resolve()
      }
      this.#wake = done
      if (Number.isFinite(ms)) timer = this.#o.clock.setTimeout(done, Math.max(0, ms))
    })
  }

  get #backoffMs(): number {
    return this.#o.backoffMs ?? 1000
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const now = this.#o.clock.monotonic()
      const states = [...this.#partitions.values()]
      const ready = states.filter((s) => s.delayUntil <= now)
      if (ready.length === 0) {
        const next = Math.min(...states.map((s) => s.delayUntil))
        await this.#sleep(states.length === 0 ? Infinity : next - now)
        continue
      }
      const channel = await this.#connect()
      if (!channel) {
        await this.#sleep(this.#backoffMs)
        continue
      }
      const truncating = ready.filter((s) => s.kind === 'truncating')
      const round = truncating.length > 0 ? this.#truncateRound(channel, truncating) : this.#fetchRound(channel, ready)
      this.#round = round.then(
        () => {},
        () => {},
      )
      const ok = await round.then(
        (r) => r,
        (e: unknown) => {
          this.#o.logger.error('replica fetcher round failed', { leader: this.leaderId, error: String(e) })
          return false
        },
      )
      if (!ok) {
        channel.close()
        this.#channel = null
        await this.#sleep(this.#backoffMs)
      }
    }
  }

  async #connect(): Promise<BrokerChannel | null> {
    if (this.#channel && !this.#channel.closed) return this.#channel
    const ep = this.#o.endpoint()
    if (!ep) return null
    const res = await this.#o.connect(ep)
    if (!res.ok) {
      this.#o.logger.warn('cannot connect to the leader', { leader: this.leaderId, error: res.error })
      return null
    }
    if (this.#stopped) {
      res.body.close()
      return null
    }
    this.#channel = res.body
    return res.body
  }

  #current(s: FetchState): boolean {
    return !this.#stopped && this.#partitions.get(key(s.p.topic, s.p.partition)) === s
  }

  #delay(s: FetchState, why: string, fields: Record<string, unknown> = {}): void {
    s.delayUntil = this.#o.clock.monotonic() + this.#backoffMs
    this.#o.logger.warn(`replica fetch: ${why}`, { topic: s.p.topic, partition: s.p.partition, leader: this.leaderId, ...fields })
  }

  #failed(s: FetchState, e: unknown): void {
    this.#partitions.delete(key(s.p.topic, s.p.partition))
    this.#o.logger.error('replica fetch: the log failed; no longer following', { topic: s.p.topic, partition: s.p.partition, error: String(e) })
    this.#o.onFailure?.(s.p, e)
  }

  // ---- truncation (OffsetForLeaderEpoch) ----

  /** Returns false when the request failed (the channel is then replaced). */
  async #truncateRound(channel: BrokerChannel, states: FetchState[]): Promise<boolean> {
    const asking: FetchState[] = []
    for (const s of states) {
      if (s.p.log.epochCache.latestEpoch === UNDEFINED_EPOCH) s.kind = 'fetching' // nothing to compare
      else asking.push(s)
    }
    if (asking.length === 0) return true
    const byTopic = groupByTopic(asking)
    const res = await channel.request(OffsetForLeaderEpoch, OFFSET_FOR_LEADER_EPOCH_VERSION, {
      replicaId: this.#o.nodeId,
      topics: [...byTopic].map(([topic, ss]) => ({
        topic,
        partitions: ss.map((s) => ({ partition: s.p.partition, currentLeaderEpoch: s.p.leaderEpoch, leaderEpoch: s.p.log.epochCache.latestEpoch })),
      })),
    })
    if (!res.ok) {
      this.#o.logger.warn('OffsetForLeaderEpoch failed', { leader: this.leaderId, error: res.error })
      return false
    }
    for (const t of res.body.topics) {
      for (const r of t.partitions) {
        const s = byTopic.get(t.topic)?.find((x) => x.p.partition === r.partition)
        if (!s || !this.#current(s)) continue
        if (r.errorCode !== ErrorCode.NONE) {
          this.#delay(s, 'OffsetForLeaderEpoch error', { error: errorName(r.errorCode) })
          continue
        }
        try {
          if (await this.#truncate(s, { epoch: r.leaderEpoch, endOffset: r.endOffset })) s.kind = 'fetching'
        } catch (e) {
          this.#failed(s, e)
        }
      }
    }
    return true
  }

  /**
   * Truncates to where the local log stops agreeing with the leader's (epoch, end offset) answer (Kafka's
   * getOffsetTruncationState). Returns whether truncation is complete; false when the log was cut to the end of
   * an earlier local epoch and the leader must be asked again (KIP-279).
   */
  async #truncate(s: FetchState, leader: EpochEndOffset): Promise<boolean> {
    const log = s.p.log
    const leo = log.logEndOffset
    let target: number
    let complete = true
    if (leader.endOffset === UNDEFINED_EPOCH_OFFSET) {
      // The leader cannot place our epoch: keep the log (truncating to the high watermark is the KIP-101 bug);
      // the next fetch answers a divergence or an out-of-range offset if there is one.
      target = leo
    } else if (leader.epoch === UNDEFINED_EPOCH) {
      target = Math.min(leader.endOffset, leo)
    } else {
      const local = log.epochCache.endOffsetFor(leader.epoch, leo)
      if (local.endOffset === UNDEFINED_EPOCH_OFFSET) {
        target = Math.min(leader.endOffset, leo)
      } else if (local.epoch !== leader.epoch) {
        target = Math.min(local.endOffset, leo)
        complete = false
      } else {
        target = Math.min(local.endOffset, leader.endOffset, leo)
      }
    }
    if (target < leo) {
      this.#o.logger.info('truncating the follower log', { topic: s.p.topic, partition: s.p.partition, from: leo, to: target, leaderEpoch: leader.epoch, leaderEndOffset: leader.endOffset })
    }
    // Also at the log end: it drops an epoch this broker assigned as leader but never wrote (no records to cut).
    await log.truncateTo(target)
    if (target < leo) await this.#o.onTruncate?.(s.p)
    // Still asking about an epoch we just removed would loop forever: what is left is settled.
    if (!complete && log.epochCache.latestEpoch === UNDEFINED_EPOCH) complete = true
    return complete
  }

  // ---- fetching ----

  async #fetchRound(channel: BrokerChannel, states: FetchState[]): Promise<boolean> {
    const byTopic = groupByTopic(states)
    const sent = new Map<FetchState, number>()
    const topics = [...byTopic].map(([topic, ss]) => ({
      topic,
      partitions: ss.map((s) => {
        const log = s.p.log
        sent.set(s, log.logEndOffset)
        return {
          partition: s.p.partition,
          currentLeaderEpoch: s.p.leaderEpoch,
          fetchOffset: log.logEndOffset,
          lastFetchedEpoch: log.epochCache.latestEpoch,
          logStartOffset: log.logStartOffset,
          partitionMaxBytes: this.#o.partitionMaxBytes ?? 1024 * 1024,
        }
      }),
    }))
    const res = await channel.request(Fetch, FETCH_VERSION, {
      replicaId: this.#o.nodeId,
      maxWaitMs: this.#o.maxWaitMs ?? 500,
      minBytes: this.#o.minBytes ?? 1,
      maxBytes: this.#o.maxBytes ?? 10 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics,
    })
    if (!res.ok) {
      this.#o.logger.warn('replica fetch failed', { leader: this.leaderId, error: res.error })
      return false
    }
    if (res.body.errorCode !== ErrorCode.NONE) {
      for (const s of states) this.#delay(s, 'fetch error', { error: errorName(res.body.errorCode) })
      return true
    }
    for (const t of res.body.responses) {
      for (const r of t.partitions) {
        const s = byTopic.get(t.topic)?.find((x) => x.p.partition === r.partitionIndex)
        // Removed, replaced, or moved by something else meanwhile: this answer no longer applies.
        if (!s || !this.#current(s) || s.kind !== 'fetching' || s.p.log.logEndOffset !== sent.get(s)) continue
        try {
          await this.#handlePartition(s, r)
        } catch (e) {
          if (StorageError.is(e)) this.#failed(s, e)
          else throw e
        }
      }
    }
    return true
  }

  async #handlePartition(
    s: FetchState,
    r: { errorCode: number; highWatermark: number; logStartOffset: number; divergingEpoch: { epoch: number; endOffset: number }; records: Buffer | null },
  ): Promise<void> {
    const log = s.p.log
    if (r.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) return this.#outOfRange(s, r.logStartOffset)
    if (r.errorCode !== ErrorCode.NONE) return this.#delay(s, 'partition error', { error: errorName(r.errorCode) })
    if (r.divergingEpoch.epoch >= 0 || r.divergingEpoch.endOffset >= 0) {
      await this.#truncate(s, r.divergingEpoch)
      return
    }
    const records = r.records ? wholeBatches(r.records) : null
    if (records && records.length > 0) {
      let appended = log.appendAsFollower(records)
      if (appended.kind === 'error' && appended.code === 'UNEXPECTED_APPEND_OFFSET' && (await this.#startAtFirstBatch(s, records))) appended = log.appendAsFollower(records)
      if (appended.kind === 'error') return this.#delay(s, 'cannot append the leader records', { code: appended.code, message: appended.message })
      this.#o.onAppend?.(s.p, records, appended.lastOffset)
    }
    const hw = Math.max(log.logStartOffset, Math.min(r.highWatermark, log.logEndOffset))
    if (hw !== log.highWatermark) {
      log.highWatermark = hw
      this.#o.onHighWatermark?.(s.p, hw)
    }
    // The leader deleted records: follow it, up to this log's high watermark (Kafka's maybeIncrementLogStartOffset).
    const start = Math.min(r.logStartOffset, log.highWatermark)
    if (start > log.logStartOffset) log.deleteRecordsBefore(start)
  }

  /**
   * The leader's log start fell inside a batch (DeleteRecords), so an empty follower log starting there cannot
   * take that batch: restart it at the batch's base offset, as Kafka's Partition does for this case.
   */
  async #startAtFirstBatch(s: FetchState, records: Buffer): Promise<boolean> {
    const log = s.p.log
    const first = new RecordBatchView(records, 0)
    const leo = log.logEndOffset
    if (leo !== log.logStartOffset || !(first.baseOffset < leo && first.lastOffset >= leo)) return false
    this.#o.logger.info('the first batch starts before the follower log start; restarting the log at it', { topic: s.p.topic, partition: s.p.partition, from: leo, to: first.baseOffset })
    await log.truncateFullyAndStartAt(first.baseOffset)
    await this.#o.onTruncate?.(s.p)
    return true
  }

  async #outOfRange(s: FetchState, leaderLogStartOffset: number): Promise<void> {
    const log = s.p.log
    if (leaderLogStartOffset >= 0 && log.logEndOffset < leaderLogStartOffset) {
      this.#o.logger.info('follower is behind the leader log start; restarting the log there', { topic: s.p.topic, partition: s.p.partition, from: log.logEndOffset, to: leaderLogStartOffset })
      await log.truncateFullyAndStartAt(leaderLogStartOffset)
      await this.#o.onTruncate?.(s.p)
      return
    }
    // Past the leader's end or at an epoch it cannot place: find the divergence again, not in a tight loop.
    s.kind = 'truncating'
    this.#delay(s, 'fetch offset out of range on the leader', { fetchOffset: log.logEndOffset, leaderLogStartOffset })
  }
}

function groupByTopic(states: FetchState[]): Map<string, FetchState[]> {
  const m = new Map<string, FetchState[]>()
  for (const s of states) {
    const list = m.get(s.p.topic)
    if (list) list.push(s)
    else m.set(s.p.topic, [s])
  }
  return m
}

/** The complete batches at the start of `buf` (a leader may cut the last one at maxBytes). */
function wholeBatches(buf: Buffer): Buffer {
  let pos = 0
  while (pos < buf.length) {
    const framed = checkBatchFrame(buf, pos)
    if ('kind' in framed) break
    pos += framed.size
  }
  return pos === buf.length ? buf : buf.subarray(0, pos)
}
