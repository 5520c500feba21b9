// Topic administration through the controller (CreateTopics, DeleteTopics), offsets and metadata.

import { errorName } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DeleteTopics } from '../../../broker/protocol/messages/delete-topics.ts'
import { DriverFailure, type DriverAdmin, type PartitionOffset, type StartFrom, type TopicMetadata, type TopicSpec } from '../../driver.ts'
import { listOffsetsOf, type RawCluster } from './cluster.ts'
import { kafkaError } from './common.ts'
import type { RawConnection } from './connection.ts'

export class RawAdmin implements DriverAdmin {
  private readonly cluster: RawCluster

  constructor(cluster: RawCluster) {
    this.cluster = cluster
  }

  private async controller(): Promise<RawConnection> {
    await this.cluster.refresh()
    const id = this.cluster.controllerId
    return id >= 0 && this.cluster.brokers.has(id) ? this.cluster.node(id) : this.cluster.any()
  }

  async createTopics(topics: readonly TopicSpec[], opts: { ifNotExists?: boolean } = {}): Promise<void> {
    const conn = await this.controller()
    const res = await conn.call(CreateTopics, {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        assignments: [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: 30_000,
    })
    const problems = res.topics.filter((t) => t.errorCode !== 0 && !(opts.ifNotExists && t.errorCode === 36))
    if (problems.length > 0) {
      const first = problems[0]!
      throw new DriverFailure(`CreateTopics: ${problems.map((t) => `${t.name}: ${errorName(t.errorCode)}${t.errorMessage ? ` (${t.errorMessage})` : ''}`).join('; ')}`, { error: kafkaError(first.errorCode, first.errorMessage) })
    }
    for (const t of topics) await this.cluster.ensureTopic(t.name, 30_000)
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const conn = await this.controller()
    const res = await conn.call(DeleteTopics, { topics: names.map((name) => ({ name })), topicNames: [...names], timeoutMs: 30_000 })
    const problems = res.responses.filter((t) => t.errorCode !== 0)
    if (problems.length > 0) {
      throw new DriverFailure(`DeleteTopics: ${problems.map((t) => `${t.name}: ${errorName(t.errorCode)}`).join('; ')}`, { error: kafkaError(problems[0]!.errorCode) })
    }
    for (const n of names) this.cluster.topics.delete(n)
  }

  async listOffsets(topic: string, which: StartFrom): Promise<PartitionOffset[]> {
    const parts = await this.cluster.ensureTopic(topic, 10_000)
    const ps = parts.map((_, partition) => ({ topic, partition }))
    const offsets = await listOffsetsOf(this.cluster, ps, which)
    return ps.map((p) => ({ partition: p.partition, offset: offsets.get(`${topic}\u0000${p.partition}`) ?? -1 }))
  }

  async metadata(topics: readonly string[]): Promise<TopicMetadata[]> {
    await this.cluster.refresh(topics)
    const out: TopicMetadata[] = []
    for (const name of topics) {
      const parts = this.cluster.topics.get(name)
      if (!parts) continue
      out.push({ name, partitions: parts.map((p, partition) => ({ partition, leader: p.leader, replicas: p.replicas, isr: p.isr })) })
    }
    return out
  }

  async close(): Promise<void> {
    this.cluster.close()
  }
}
