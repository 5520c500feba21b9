// @platformatic/kafka (flexible protocol versions only) against a broker process: admin and producer.
import { execa } from 'execa'
import { Admin, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'

let broker: BrokerProcess
let admin: Admin
let producer: Producer<string, string, string, string>
beforeAll(async () => {
  broker = await startBroker()
  admin = new Admin({ clientId: 'faultline-interop', bootstrapBrokers: [broker.bootstrap] })
  producer = new Producer({ clientId: 'faultline-interop', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers })
})
afterAll(async () => {
  await producer?.close()
  await admin?.close()
  await broker?.stop()
})

async function readAll(topic: string, partition: number): Promise<string[]> {
  const { stdout } = await execa('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-q', '-f', '%k=%s\n'])
  return stdout === '' ? [] : stdout.split('\n')
}

describe('@platformatic/kafka', () => {
  test('admin creates, lists and deletes topics (CreateTopics v7, DeleteTopics v6)', async () => {
    const created = await admin.createTopics({ topics: ['pk-admin'], partitions: 4, replicas: 1 })
    expect(created[0]).toMatchObject({ name: 'pk-admin', partitions: 4, replicas: 1 })
    expect(await admin.listTopics()).toContain('pk-admin')
    await admin.deleteTopics({ topics: ['pk-admin'] })
    expect(await admin.listTopics()).not.toContain('pk-admin')
  })

  test.each([ProduceAcks.NO_RESPONSE, ProduceAcks.LEADER, ProduceAcks.ALL])('producer with acks=%i stores every record once, in order', async (acks) => {
    const topic = `pk-acks${acks === -1 ? 'all' : acks}`
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 })
    for (let batch = 0; batch < 5; batch++) {
      await producer.send({ acks, messages: Array.from({ length: 10 }, (_, i) => ({ topic, key: `k${i}`, value: `b${batch}-m${i}`, partition: i % 2 })) })
    }
    // Nothing tells an acks=0 producer when its records landed: wait until the partitions hold all 50.
    if (acks === ProduceAcks.NO_RESPONSE) {
      await until('50 records stored', async () => {
        const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] })
        return listed!.partitions.reduce((n, p) => n + Number(p.offset), 0) >= 50
      }, { intervalMs: 20 })
    }
    for (let p = 0; p < 2; p++) {
      const want = []
      for (let batch = 0; batch < 5; batch++) for (let i = p; i < 10; i += 2) want.push(`k${i}=b${batch}-m${i}`)
      expect(await readAll(topic, p)).toEqual(want)
    }
  })

  test('idempotent producer (the default) writes each record once', async () => {
    // platformatic's producer does not ask for auto-creation (allowAutoTopicCreation=false) unless told to.
    const idem = new Producer({ clientId: 'pk-idem', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers, idempotent: true, autocreateTopics: true })
    await idem.send({ messages: Array.from({ length: 30 }, (_, i) => ({ topic: 'pk-idem', value: `v${i}`, partition: 0 })) })
    await idem.close()
    expect(await readAll('pk-idem', 0)).toEqual(Array.from({ length: 30 }, (_, i) => `=v${i}`))
  })
})
