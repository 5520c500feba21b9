// Wire-level access to the nodes of a local cluster for tests: one connection per node (reopened after a
// restart), a partition's leader and ISR as Metadata reports them, acks-all produce and a full read of a
// partition below its high watermark.
import type { LocalCluster, LocalNode } from '../../chaos/cluster/local.ts'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { Fetch } from '../../broker/protocol/messages/fetch.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../broker/protocol/messages/produce.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches } from '../../broker/protocol/record-batch.ts'
import { WireClient } from './wire.ts'

export interface PartitionState {
  leader: number
  epoch: number
  /** Sorted. */
  isr: number[]
  replicas: number[]
  controller: number
}

export class ClusterWire {
  readonly #cluster: LocalCluster
  readonly #clients = new Map<number, WireClient>()

  constructor(cluster: LocalCluster) {
    this.#cluster = cluster
  }

  node(id: number): LocalNode {
    const n = this.#cluster.nodes.find((x) => x.id === id)
    if (!n) throw new Error(`no node ${id}`)
    return n
  }

  async client(n: LocalNode): Promise<WireClient> {
    const c = this.#clients.get(n.id)
    if (c && !c.closed) return c
    const fresh = await WireClient.connect(n.host, n.port)
    this.#clients.set(n.id, fresh)
    return fresh
  }

  /** Drops the connection to a node (before stopping it). */
  forget(id: number): void {
    this.#clients.get(id)?.close()
    this.#clients.delete(id)
  }

  /** The active controller as `via` reports it. */
  async controller(via: LocalNode): Promise<number> {
    const md = await (await this.client(via)).request(Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    return md.controllerId
  }

  async partition(via: LocalNode, topic: string, index: number): Promise<PartitionState> {
    const md = await (await this.client(via)).request(Metadata, 12, { topics: [{ name: topic, topicId: '0'.repeat(32) }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    const p = md.topics[0]!.partitions.find((x) => x.partitionIndex === index)
    if (!p) throw new Error(`${topic}-${index} is not in the metadata of node ${via.id}`)
    return { leader: p.leaderId, epoch: p.leaderEpoch, isr: [...p.isrNodes].sort(), replicas: [...p.replicaNodes], controller: md.controllerId }
  }

  /** Produces with acks=all to the partition's leader as `via` sees it; returns the error code. */
  async produce(via: LocalNode, topic: string, index: number, values: string[]): Promise<number> {
    const leader = (await this.partition(via, topic, index)).leader
    if (leader < 0) return ErrorCode.LEADER_NOT_AVAILABLE
    const res = await (await this.client(this.node(leader))).request(Produce, 9, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index, records: encodeRecordBatch(values.map((v) => ({ value: Buffer.from(v) }))) }] }],
    })
    return res.responses[0]!.partitionResponses[0]!.errorCode
  }

  /** Every value below the high watermark on node `n`, one Fetch per segment as Kafka answers; undefined on an error. */
  async consume(n: LocalNode, topic: string, index: number): Promise<string[] | undefined> {
    const out: string[] = []
    for (let offset = 0; ; ) {
      const res = await (await this.client(n)).request(Fetch, 12, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: index, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
        rackId: '',
      })
      const p = res.responses[0]!.partitions[0]!
      if (p.errorCode !== ErrorCode.NONE) return undefined
      const records = [...iterateBatches(p.records ?? Buffer.alloc(0))].flatMap((b) => decodeRecords(b)).filter((r) => r.offset >= offset)
      for (const r of records) out.push(r.value!.toString())
      if (records.length === 0) return out
      offset = records[records.length - 1]!.offset + 1
      if (offset >= Number(p.highWatermark)) return out
    }
  }

  close(): void {
    for (const c of this.#clients.values()) c.close()
    this.#clients.clear()
  }
}
