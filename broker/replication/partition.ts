// One partition as the broker serves it: its log, its leader epoch, its high watermark, and the fetchers
// waiting for new data. Outside a broker (tests, tools) the high watermark follows the log end; in a broker
// the replication layer owns it (highWatermarkManaged): the leader moves it by the in-sync replicas' fetch
// positions, a follower takes the leader's.

import { ProducerStateManager } from '../producers/producer-state.ts'
import type { PartitionLog } from '../storage/log.ts'
import type { PartitionRegistration } from './control.ts'

export class Partition {
  readonly topic: string
  readonly index: number
  readonly log: PartitionLog
  leaderEpoch: number
  /** The registration as of the last metadata applied (controller's view): leader -1 means none. */
  leader = -1
  partitionEpoch = 0
  replicas: readonly number[] = []
  isr: readonly number[] = []
  /** Whether this broker leads the partition; only a leader serves clients. True until a registration says
   *  otherwise, so a Partition built outside a broker (tests, tools) behaves as a single node's. */
  isLeader = true
  /** This broker's id, to tell leader from follower in applyRegistration; set by the broker. */
  localBrokerId = -1
  /** Idempotent producers' sequence windows for this partition. */
  producers: ProducerStateManager
  /** Whether producer state changed since the last snapshot. */
  producersDirty = false
  /** Bytes appended since the broker started; replica fetches waiting for minBytes compare snapshots of it. */
  bytesAppended = 0
  /** Bytes appended below the high watermark (what consumers can read); consumer fetches wait on it. */
  bytesVisible = 0
  /** Leader appends above the high watermark: the log end after each and bytesAppended then, oldest first. */
  private readonly invisible: { end: number; total: number }[] = []
  /** Set by the broker: the replication layer moves the high watermark, appended() leaves it alone. */
  highWatermarkManaged = false
  /** Called by appended() after a leader append (the broker: the leader state may move the high watermark). */
  afterAppend: (() => void) | null = null
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

  /** Called after a leader append: counts the bytes, moves the high watermark (or lets the replication layer
   *  move it) and wakes waiting fetchers. */
  appended(bytes = 0): void {
    this.bytesAppended += bytes
    if (this.highWatermarkManaged) this.invisible.push({ end: this.log.logEndOffset, total: this.bytesAppended })
    else this.log.highWatermark = this.log.logEndOffset
    this.afterAppend?.()
    this.wake()
  }

  /** A follower append: counts the bytes and wakes fetchers (the leader's high watermark comes with the fetch). */
  followerAppended(bytes: number): void {
    this.bytesAppended += bytes
    this.wake()
  }

  /** Wakes waiting fetches (the high watermark moved, records arrived, the topic went or leadership moved). */
  wake(): void {
    const hw = this.log.highWatermark
    let visible = this.bytesVisible
    if (!this.highWatermarkManaged || !this.isLeader) {
      this.invisible.length = 0
      visible = this.bytesAppended
    } else {
      let n = 0
      while (n < this.invisible.length && this.invisible[n]!.end <= hw) visible = this.invisible[n++]!.total
      if (n > 0) this.invisible.splice(0, n)
    }
    this.bytesVisible = visible
    for (const fn of [...this.waiters]) fn()
  }

  /** Takes the controller's registration; returns whether anything changed. */
  applyRegistration(reg: PartitionRegistration): boolean {
    const isLeader = reg.leader === this.localBrokerId && reg.leader >= 0
    const changed =
      reg.leader !== this.leader ||
      reg.leaderEpoch !== this.leaderEpoch ||
      reg.partitionEpoch !== this.partitionEpoch ||
      isLeader !== this.isLeader ||
      !sameList(reg.isr, this.isr) ||
      !sameList(reg.replicas, this.replicas)
    this.leader = reg.leader
    this.leaderEpoch = reg.leaderEpoch
    this.partitionEpoch = reg.partitionEpoch
    this.replicas = [...reg.replicas]
    this.isr = [...reg.isr]
    this.isLeader = isLeader
    return changed
  }

  /** Checks a client's CurrentLeaderEpoch (KIP-320): -1 means unknown and always passes. */
  checkLeaderEpoch(current: number): 'ok' | 'fenced' | 'unknown' {
    if (current < 0 || current === this.leaderEpoch) return 'ok'
    return current < this.leaderEpoch ? 'fenced' : 'unknown'
  }
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
