// The admin operations of issue 14 on a 3-broker local cluster (real processes, one Raft metadata quorum), driven
// by kafkajs' admin client: each change goes through the controller, every broker applies it, and a client
// sees its effect (new partitions take writes, a config changed at run time changes what acks=all produce does).
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../chaos/cluster/local.ts'
import { until } from '../helpers/until.ts'

const CONFIG = {
  'broker.session.timeout.ms': '2000',
  'broker.heartbeat.interval.ms': '500',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '3',
}

let cluster: LocalCluster
let kafka: Kafka
let admin: Admin

beforeAll(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
  kafka = new Kafka({ clientId: 'admin-test', brokers: [...cluster.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } })
  admin = kafka.admin()
  await admin.connect()
})
afterAll(async () => {
  await admin?.disconnect().catch(() => undefined)
  await cluster?.close()
})

describe('kafkajs admin on a 3-broker cluster', () => {
  test('createPartitions: new partitions get replicas on every broker and leaders, and a producer writes to them', async () => {
    await admin.createTopics({ topics: [{ topic: 'scaled', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true })
    await admin.createPartitions({ topicPartitions: [{ topic: 'scaled', count: 5 }] })
    await until('five partitions with leaders and full ISRs', async () => {
      const parts = (await admin.fetchTopicMetadata({ topics: ['scaled'] })).topics[0]!.partitions
      return parts.length === 5 && parts.every((p) => p.leader >= 1 && p.isr.length === 3)
    })
    const err = await admin.createPartitions({ topicPartitions: [{ topic: 'scaled', count: 4 }] }).catch((e: unknown) => e)
    expect((err as { type?: string }).type).toBe('INVALID_PARTITIONS')
    const producer = kafka.producer()
    await producer.connect()
    try {
      for (let p = 0; p < 5; p++) await producer.send({ topic: 'scaled', acks: -1, messages: [{ partition: p, value: `to-${p}` }] })
    } finally {
      await producer.disconnect()
    }
    const offsets = await admin.fetchTopicOffsets('scaled')
    expect(offsets.map((o) => [o.partition, o.high]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([0, 1, 2, 3, 4].map((p) => [p, '1']))
  })

  test('deleteTopicRecords: the followers follow the new log start offset, so a new leader keeps it', async () => {
    await admin.createTopics({ topics: [{ topic: 'trimmed', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true })
    const producer = kafka.producer()
    await producer.connect()
    try {
      await producer.send({ topic: 'trimmed', acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ value: `v${i}` })) })
    } finally {
      await producer.disconnect()
    }
    const low = async () => (await admin.fetchTopicOffsets('trimmed'))[0]!.low
    // kafkajs finds the leader in its metadata cache, which this loads.
    expect(await low()).toBe('0')
    // Answered once every live follower reported a log start offset of at least 15 (the low watermark).
    await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '15' }] })
    expect(await low()).toBe('15')
    const leader = (await admin.fetchTopicMetadata({ topics: ['trimmed'] })).topics[0]!.partitions[0]!.leader
    const node = cluster.nodes.find((n) => n.id === leader)!
    await node.stop()
    try {
      await until('another leader', async () => {
        const p = (await admin.fetchTopicMetadata({ topics: ['trimmed'] })).topics[0]!.partitions[0]!
        return p.leader >= 1 && p.leader !== leader
      })
      await until('the new leader answers with log start offset 15', async () => (await low().catch(() => '')) === '15')
    } finally {
      await node.start()
    }
  })

  test('alterConfigs min.insync.replicas at run time: acks=all produce is refused while the ISR is short of it, and every broker sees the change', async () => {
    await admin.createTopics({ topics: [{ topic: 'misr', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true })
    const alterMinIsr = (value: string) => admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'misr', configEntries: [{ name: 'min.insync.replicas', value }] }] })
    await alterMinIsr('3')
    for (const address of cluster.bootstrap) {
      const one = new Kafka({ clientId: 'one', brokers: [address], logLevel: logLevel.NOTHING }).admin()
      await one.connect()
      try {
        await until(`broker ${address} shows min.insync.replicas 3`, async () => {
          const d = await one.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'misr', configNames: ['min.insync.replicas'] }] })
          return d.resources[0]!.configEntries[0]!.configValue === '3'
        })
      } finally {
        await one.disconnect()
      }
    }
    const leader = (await admin.fetchTopicMetadata({ topics: ['misr'] })).topics[0]!.partitions[0]!.leader
    const victim = cluster.nodes.find((n) => n.id !== leader)!
    await victim.stop()
    const producer = kafka.producer({ retry: { retries: 0 } })
    await producer.connect()
    try {
      await until('the ISR shrank to 2', async () => (await admin.fetchTopicMetadata({ topics: ['misr'] })).topics[0]!.partitions[0]!.isr.length === 2)
      const refused = await producer.send({ topic: 'misr', acks: -1, messages: [{ value: 'a' }] }).catch((e: unknown) => e)
      expect((refused as { cause?: { type?: string } }).cause?.type).toBe('NOT_ENOUGH_REPLICAS')
      await alterMinIsr('2')
      await until('acks=all produce accepted with min.insync.replicas 2', async () => {
        try {
          await producer.send({ topic: 'misr', acks: -1, messages: [{ value: 'b' }] })
          return true
        } catch {
          return false
        }
      })
    } finally {
      await producer.disconnect()
      await victim.start()
    }
  })
})
