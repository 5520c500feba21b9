// kafkajs (classic protocol versions only) against a broker process: admin, producer with each acks level.
import { execa } from 'execa'
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'

let broker: BrokerProcess
let kafka: Kafka
let admin: Admin
let producer: Producer
beforeAll(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
  broker = await startBroker()
  kafka = new Kafka({ clientId: 'faultline-interop', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
  admin = kafka.admin()
  await admin.connect()
  producer = kafka.producer()
  await producer.connect()
})
afterAll(async () => {
  await producer?.disconnect()
  await admin?.disconnect()
  await broker?.stop()
})

async function readAll(topic: string, partition: number): Promise<string[]> {
  const { stdout } = await execa('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-q', '-f', '%k=%s\n'])
  return stdout === '' ? [] : stdout.split('\n')
}

describe('kafkajs', () => {
  test('admin creates, lists, describes and deletes topics', async () => {
    expect(await admin.createTopics({ topics: [{ topic: 'kj-admin', numPartitions: 4 }], waitForLeaders: true })).toBe(true)
    expect(await admin.listTopics()).toContain('kj-admin')
    const md = await admin.fetchTopicMetadata({ topics: ['kj-admin'] })
    expect(md.topics[0]!.partitions).toHaveLength(4)
    const cfg = await admin.describeConfigs({ resources: [{ type: 2, name: 'kj-admin' }], includeSynonyms: false })
    expect(cfg.resources[0]!.configEntries.find((e) => e.configName === 'cleanup.policy')!.configValue).toBe('delete')
    await admin.deleteTopics({ topics: ['kj-admin'] })
    expect(await admin.listTopics()).not.toContain('kj-admin')
  })

  test.each([0, 1, -1])('producer with acks=%i stores every record once, in order, per partition', async (acks) => {
    const topic = `kj-acks${acks === -1 ? 'all' : acks}`
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
    for (let batch = 0; batch < 5; batch++) {
      await producer.send({ topic, acks, messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 3}`, value: `b${batch}-m${i}`, partition: i % 3 })) })
    }
    // Nothing tells an acks=0 producer when its records landed: wait until the partitions hold 100 (acks=1 and
    // acks=all must not need to wait).
    const stored = async () => (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0)
    if (acks === 0) await until('100 records stored', async () => (await stored()) >= 100, { intervalMs: 20 })
    for (let p = 0; p < 3; p++) {
      const want = []
      for (let batch = 0; batch < 5; batch++) for (let i = p; i < 20; i += 3) want.push(`k${i % 3}=b${batch}-m${i}`)
      expect(await readAll(topic, p)).toEqual(want)
    }
    expect(await stored()).toBe(100)
  })

  test('idempotent producer writes each record once', async () => {
    const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await idem.connect()
    await idem.send({ topic: 'kj-idem', acks: -1, messages: Array.from({ length: 50 }, (_, i) => ({ value: `v${i}`, partition: 0 })) })
    await idem.disconnect()
    expect(await readAll('kj-idem', 0)).toEqual(Array.from({ length: 50 }, (_, i) => `=v${i}`))
  })
})
