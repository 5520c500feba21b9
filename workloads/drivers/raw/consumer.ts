// Consuming by manual assignment (no groups): one Fetch per leader per round, positions kept here.

import { errorName } from '../../../broker/protocol/errors.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { decodeRecords, iterateBatches } from '../../../broker/protocol/record-batch.ts'
import { DriverFailure, type ConsumedRecord, type ConsumerOptions, type DriverConsumer, type StartFrom } from '../../driver.ts'
import { listOffsetsOf, type RawCluster } from './cluster.ts'
import { asDriverError, kafkaError, STALE_METADATA } from './common.ts'

interface Position {
  readonly topic: string
  readonly partition: number
  offset: number
}

export class RawConsumer implements DriverConsumer {
  private readonly cluster: RawCluster
  private readonly o: ConsumerOptions
  private readonly positions: Position[]
  private running = false
  private isPaused = false
  private resumeWaiters: (() => void)[] = []
  private loop: Promise<void> | null = null

  constructor(cluster: RawCluster, opts: ConsumerOptions) {
    if (opts.group) throw new DriverFailure('the raw driver has no consumer groups: use manual assignment', { code: 'ERR_FAULTLINE_UNSUPPORTED' })
    if (!opts.assignment || opts.assignment.length === 0) throw new DriverFailure('a raw consumer needs an assignment (topic partitions)', { code: 'ERR_FAULTLINE_BAD_INPUT' })
    this.cluster = cluster
    this.o = opts
    this.positions = opts.assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition, offset: -1 }))
  }

  get paused(): boolean {
    return this.isPaused
  }

  async start(): Promise<void> {
    if (this.running) return
    for (const t of new Set(this.positions.map((p) => p.topic))) await this.cluster.ensureTopic(t, 10_000)
    await this.resetPositions(this.positions, this.o.from ?? 'earliest')
    this.running = true
    this.o.onAssign?.(this.positions.map(({ topic, partition }) => ({ topic, partition })))
    this.loop = this.run()
  }

  pause(): void {
    this.isPaused = true
  }

  resume(): void {
    this.isPaused = false
    const w = this.resumeWaiters
    this.resumeWaiters = []
    for (const f of w) f()
  }

  async close(): Promise<void> {
    this.running = false
    this.resume()
    this.cluster.close()
    await this.loop?.catch(() => {})
    this.o.onRevoke?.(this.positions.map(({ topic, partition }) => ({ topic, partition })))
  }

  private async resetPositions(ps: readonly Position[], from: StartFrom): Promise<void> {
    const offsets = await listOffsetsOf(this.cluster, ps, from)
    for (const p of ps) p.offset = offsets.get(`${p.topic}\u0000${p.partition}`) ?? 0
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.isPaused) {
        await new Promise<void>((r) => this.resumeWaiters.push(r))
        continue
      }
      const byLeader = new Map<number, Position[]>()
      for (const p of this.positions) {
        const leader = this.cluster.leaderOf(p.topic, p.partition)
        const list = byLeader.get(leader) ?? []
        list.push(p)
        byLeader.set(leader, list)
      }
      try {
        await Promise.all([...byLeader].map(([leader, ps]) => this.fetchFrom(leader, ps)))
      } catch (e) {
        if (!this.running) return
        this.o.onError?.(asDriverError(e, true))
        this.cluster.invalidate()
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  private async fetchFrom(leader: number, ps: Position[]): Promise<void> {
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
    if (!this.running || this.isPaused) return
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
    if (outOfRange.length > 0) await this.resetPositions(outOfRange, this.o.from ?? 'earliest')
  }
}
