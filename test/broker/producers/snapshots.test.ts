// Producer state survives restarts: after a clean stop (snapshot) and after SIGKILL (replay of the log
// after the last snapshot), a retried batch is still recognized and the sequence still continues.
import { afterAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { InitProducerId } from '../../../broker/protocol/messages/init-producer-id.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { loopbackHost, startBroker, tempDir, type BrokerProcess } from '../../helpers/broker-process.ts'
import { WireClient } from '../../helpers/wire.ts'

let broker: BrokerProcess | undefined
afterAll(async () => broker?.kill())

describe('producer state persistence', () => {
  test.each(['clean', 'SIGKILL'] as const)('duplicates are still recognized after a %s restart', async (how) => {
    const host = loopbackHost()
    const dataDir = tempDir()
    broker = await startBroker({ host, dataDir })
    const port = broker.port
    let c = await WireClient.connect(host, port)
    await c.request(CreateTopics, 7, { topics: [{ name: 'ps', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
    const { producerId } = await c.request(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 1000 })
    const send = async (client: WireClient, baseSequence: number, n = 2) => {
      const records = encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ value: `s${baseSequence + i}` })), { producerId, producerEpoch: 0, baseSequence, timestamp: 0 })
      const res = await client.request(Produce, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'ps', partitionData: [{ index: 0, records }] }] })
      return res.responses[0]!.partitionResponses[0]!
    }
    for (let s = 0; s < 20; s += 2) expect((await send(c, s)).errorCode).toBe(0)
    c.close()
    if (how === 'clean') expect(await broker.stop()).toBe(0)
    else await broker.kill('SIGKILL')
    broker = await startBroker({ host, port, dataDir })
    c = await WireClient.connect(host, port)
    expect(await send(c, 18)).toMatchObject({ errorCode: 0, baseOffset: 18 })
    expect(await send(c, 16)).toMatchObject({ errorCode: 0, baseOffset: 16 })
    expect((await send(c, 30)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect(await send(c, 20)).toMatchObject({ errorCode: 0, baseOffset: 20 })
    c.close()
    await broker.stop()
  })
})
