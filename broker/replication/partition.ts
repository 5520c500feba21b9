// One partition as the broker serves it: its log, its leader epoch, its high watermark, and the fetchers
// waiting for new data. On a single broker the high watermark follows the log end; replication will move
// it by the in-sync replicas' fetch positions instead.

import { ProducerStateManager } from '../producers/producer-state.ts'
import type { PartitionLog } from '../storage/log.ts'

export class Partition {
  readonly topic: string
  readonly index: number
  readonly log: PartitionLog
  leaderEpoch: number
  /** Idempotent producers' sequence windows for this partition. */
  producers: ProducerStateManager
  /** Whether producer state changed since the last snapshot. */
  producersDirty = false
  /** Bytes appended since the broker started; fetchers waiting for minBytes compare snapshots of it. */
  bytesAppended = 0
  private readonly waiters = new Set<() => void>()

  constructor(topic: string, index: number, log: PartitionLog, producers = new ProducerStateManager(), leaderEpoch = 0) {
    this.topic = topic
    this.index = index
    this.log = log
    this.producers = producers
    this.leaderEpoch = leaderEpoch
  }

  get highWatermark(): number {
    return this.log.highWatermark
  }

  /** No transactions yet, so the last stable offset is the high watermark. */
  get lastStableOffset(): number {
    return this.log.highWatermark
  }

  /** Registers a callback for the next appends; returns the unsubscribe function. */
  onAppend(fn: () => void): () => void {
    this.waiters.add(fn)
    return () => this.waiters.delete(fn)
  }

  /** Called after an append: advances the high watermark and wakes waiting fetchers. */
  appended(bytes = 0): void {
    this.bytesAppended += bytes
    this.log.highWatermark = this.log.logEndOffset
    for (const fn of [...this.waiters]) fn()
  }

  /** Checks a client's CurrentLeaderEpoch (KIP-320): -1 means unknown and always passes. */
  checkLeaderEpoch(current: number): 'ok' | 'fenced' | 'unknown' {
    if (current < 0 || current === this.leaderEpoch) return 'ok'
    return current < this.leaderEpoch ? 'fenced' : 'unknown'
  }
}
