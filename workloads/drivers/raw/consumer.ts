// Consuming: the Fetcher (one Fetch per leader per round, positions kept here) and the consumer by manual
// assignment (no groups) on it; group membership on the same Fetcher is in group.ts.

import { errorName } from '../../../broker/protocol/errors.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { decodeRecords, iterateBatches } from '../../../broker/protocol/record-batch.ts'
import { DriverFailure, type ConsumedRecord, type ConsumerOptions, type DriverConsumer, type StartFrom, type TopicPartition } from '../../driver.ts'
import { listOffsetsOf, type RawCluster } from './cluster.ts'
import { asDriverError, kafkaError, STALE_METADATA } from './common.ts'

export interface Position {
  readonly topic: string
  readonly partition: number
  offset: number
}

/**
 * The fetch loop over a set of positions that may change under it (a group's assignment): a fetch answered
 * after the set changed is dropped, so no record of a partition given up reaches onRecords.
 */
export class Fetcher {
  private readonly cluster: RawCluster
  private readonly o: ConsumerOptions
  private positions: Position[] = []
  private epoch = 0
  private running = false
  private isPaused = false
  private waiters: (() => void)[] = []
  private loop: Promise<void> | null = null

  constructor(cluster: RawCluster, opts: ConsumerOptions) {
    this.cluster = cluster
    this.o = opts
  }

  get paused(): boolean {
    return this.isPaused
  }

  /** The positions fetched now (each one's offset is the next record to hand on). */
  get owned(): readonly Position[] {
    return this.positions
  }

  /** Replaces the positions; a fetch under way for the old ones is dropped when it returns. */
  assign(positions: Position[]): void {
    this.positions = positions
    this.epoch++
    this.wake()
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  pause(): void {
    this.isPaused = true
  }

  resume(): void {
    this.isPaused = false
    this.wake()
  }

  async stop(): Promise<void> {
    this.running = false
    this.wake()
    await this.loop?.catch(() => {})
  }

  /** Sets positions from ListOffsets (where to start without a committed offset). */
  async reset(ps: readonly Position[], from: StartFrom): Promise<void> {
    const offsets = await listOffsetsOf(this.cluster, ps, from)
    for (const p of ps) p.offset = offsets.get(`${p.topic}\u0000${p.partition}`) ?? 0
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.isPaused || this.positions.length === 0) {
        await new Promise<void>((r) => this.waiters.push(r))
        continue
      }
      const epoch = this.epoch
      const byLeader = new Map<number, Position[]>()
      for (const p of this.positions) {
        const leader = this.cluster.leaderOf(p.topic, p.partition)
        const list = byLeader.get(leader) ?? []
        list.push(p)
        byLeader.set(leader, list)
      }
      try {
        await Promise.all([...byLeader].map(([leader, ps]) => this.fetchFrom(leader, ps, epoch)))
      } catch (e) {
        if (!this.running) return
        this.o.onError?.(asDriverError(e, true))
        this.cluster.invalidate()
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  private current(epoch: number): boolean {
    return this.running && !this.isPaused && epoch === this.epoch
  }

  private async fetchFrom(leader: number, ps: Position[], epoch: number): Promise<void> {
    if (leader < 0) {
      await this.cluster.refresh()
      return
    }
    const conn = await this.cluster.node(leader)
    const byTopic = new Map<string, Position[]>()
    for (const p of ps) {
      const list = byTopic.get(p.topic) ?? []
      list.push(p)
      byTopic.set(p.topic, list)
    }
    const perPartition = this.o.maxBytesPerPartition ?? 1 << 20
    // Fetch v13+ names topics by id; this client keeps names, so it stays at v12 (supported since Kafka 2.7).
    const res = await conn.call(Fetch, {
      replicaId: -1,
      maxWaitMs: this.o.maxWaitMs ?? 500,
      minBytes: this.o.minBytes ?? 1,
      maxBytes: this.o.maxBytes ?? 50 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic].map(([topic, list]) => ({
        topic,
        partitions: list.map((p) => ({ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: perPartition })),
      })),
    }, Math.min(12, conn.version(Fetch)))
    if (res.errorCode !== 0) throw new DriverFailure(`Fetch failed: ${errorName(res.errorCode)}`, { error: kafkaError(res.errorCode) })
    if (!this.current(epoch)) return
    const outOfRange: Position[] = []
    for (const t of res.responses) {
      const topicPositions = byTopic.get(t.topic) ?? []
      for (const pr of t.partitions) {
        const pos = topicPositions.find((p) => p.partition === pr.partitionIndex)
        if (!pos) continue
        if (pr.errorCode !== 0) {
          if (pr.errorCode === 1) outOfRange.push(pos)
          else {
            if (STALE_METADATA.has(pr.errorCode)) this.cluster.invalidate()
            this.o.onError?.(kafkaError(pr.errorCode))
          }
          continue
        }
        if (!pr.records || pr.records.length === 0) continue
        const out: ConsumedRecord[] = []
        let next = pos.offset
        for (const batch of iterateBatches(pr.records)) {
          const last = batch.lastOffset
          if (last < pos.offset) continue
          if (!batch.isControl) {
            for (const rec of decodeRecords(batch)) {
              if (rec.offset >= pos.offset) out.push({ offset: rec.offset, timestamp: rec.timestamp, key: rec.key, value: rec.value })
            }
          }
          next = last + 1
        }
        if (next > pos.offset) {
          pos.offset = next
          if (out.length > 0) this.o.onRecords({ topic: pos.topic, partition: pos.partition, records: out, highWatermark: pr.highWatermark })
        }
      }
    }
    if (outOfRange.length > 0) await this.reset(outOfRange, this.o.from ?? 'earliest')
  }
}

export function partitionsOf(ps: readonly Position[]): TopicPartition[] {
  return ps.map(({ topic, partition }) => ({ topic, partition }))
}

/** Manual assignment: the given partitions from `from`, no group. */
export class RawConsumer implements DriverConsumer {
  private readonly cluster: RawCluster
  private readonly o: ConsumerOptions
  private readonly fetcher: Fetcher
  private readonly positions: Position[]
  private started = false

  constructor(cluster: RawCluster, opts: ConsumerOptions) {
    if (!opts.assignment || opts.assignment.length === 0) throw new DriverFailure('a raw consumer needs an assignment (topic partitions) or a group', { code: 'ERR_FAULTLINE_BAD_INPUT' })
    this.cluster = cluster
    this.o = opts
    this.fetcher = new Fetcher(cluster, opts)
    this.positions = opts.assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition, offset: -1 }))
  }

  get paused(): boolean {
    return this.fetcher.paused
  }

  async start(): Promise<void> {
    if (this.started) return
    for (const t of new Set(this.positions.map((p) => p.topic))) await this.cluster.ensureTopic(t, 10_000)
    await this.fetcher.reset(this.positions, this.o.from ?? 'earliest')
    this.started = true
    this.o.onAssign?.(partitionsOf(this.positions))
    this.fetcher.assign(this.positions)
    this.fetcher.start()
  }

  pause(): void {
    this.fetcher.pause()
  }

  resume(): void {
    this.fetcher.resume()
  }

  async close(): Promise<void> {
    const stopping = this.fetcher.stop()
    this.cluster.close()
    await stopping
    this.o.onRevoke?.(partitionsOf(this.positions))
  }
}
