// kafkajs idempotent producer while responses are lost: a proxy lets every third Produce request reach the
// broker and be appended, then cuts the connection instead of returning the answer. kafkajs reconnects and
// resends the same batch with the same sequence numbers; the broker must recognize it and store it once.
import { execa } from 'execa'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, test } from 'vitest'
import { loopbackHost, startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { startDropProxy, type DropProxy } from '../helpers/drop-proxy.ts'

const PRODUCE = 0
let broker: BrokerProcess | undefined
let proxy: DropProxy | undefined
afterAll(async () => {
  await proxy?.close()
  await broker?.stop()
})

describe('kafkajs idempotent producer with dropped responses', () => {
  test('every record is stored exactly once, in order', async () => {
    process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
    const host = loopbackHost()
    let produces = 0
    proxy = await startDropProxy({ host, drop: (apiKey) => apiKey === PRODUCE && ++produces % 3 === 0 })
    broker = await startBroker({ overrides: { 'advertised.listeners': `PLAINTEXT://${host}:${proxy.port}` } })
    proxy.setUpstream(broker.host, broker.port)
    const kafka = new Kafka({ clientId: 'idem', brokers: [`${host}:${proxy.port}`], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50 } })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'idem-drop', numPartitions: 1 }], waitForLeaders: true })
    await admin.disconnect()
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const N = 60
    for (let i = 0; i < N; i++) {
      await producer.send({ topic: 'idem-drop', acks: -1, messages: [0, 1, 2].map((j) => ({ value: `m${i}-${j}` })) })
    }
    await producer.disconnect()
    expect(proxy.dropped).toBeGreaterThanOrEqual(10)
    const { stdout } = await execa('kcat', ['-b', broker.bootstrap, '-C', '-t', 'idem-drop', '-p', '0', '-o', 'beginning', '-e', '-q'])
    const want = Array.from({ length: N }, (_, i) => [0, 1, 2].map((j) => `m${i}-${j}`)).flat()
    expect(stdout.split('\n')).toEqual(want)
  })
})
