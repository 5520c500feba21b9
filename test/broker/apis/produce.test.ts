import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { crc32c } from '../../../broker/protocol/crc32c.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { InitProducerId } from '../../../broker/protocol/messages/init-producer-id.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches, type BatchOptions } from '../../../broker/protocol/record-batch.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

const require = createRequire(import.meta.url)
// kafkajs' own message-set encoders (magic 0 and 1), an implementation independent of ours.
// biome-ignore lint: kafkajs is untyped JavaScript
type Js = any
const kjsProduce = (v: number): (args: Js) => { encode(): Promise<{ buffer: Buffer }> } => require(`kafkajs/src/protocol/requests/produce/v${v}/request.js`)
const kjsMessageSet = require('kafkajs/src/protocol/messageSet/index.js') as (args: Js) => { buffer: Buffer }

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker({ 'message.max.bytes': '5000' })
  c = await b.client()
  const res = await c.request(CreateTopics, 7, {
    topics: [
      { name: 'p', numPartitions: 2, replicationFactor: 1 },
      { name: 'lat', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
      { name: 'misr', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'min.insync.replicas', value: '2' }] },
    ],
    timeoutMs: 1000,
  })
  expect(res.topics.map((t) => t.errorCode)).toEqual([0, 0, 0])
})
afterAll(async () => b.stop())

async function produce(topic: string, records: Buffer | null, opts: { acks?: number; version?: number; partition?: number } = {}) {
  const res = await c.request(Produce, opts.version ?? 9, { acks: opts.acks ?? -1, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: opts.partition ?? 0, records }] }] })
  return res.responses[0]!.partitionResponses[0]!
}
const batch = (n: number, opts: BatchOptions = {}) => encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}` })), { timestamp: 1000, ...opts })

describe('Produce', () => {
  test('assigns consecutive offsets in every version; the stored batch reads back with those offsets', async () => {
    let next = 0
    // v0-2 take a v2 batch too: Kafka checks the magic only from v3 on.
    for (let v = Produce.minVersion; v <= Produce.maxVersion; v++) {
      const r = await produce('p', batch(3), { version: v, partition: 1 })
      expect(r.errorCode).toBe(0)
      expect(r.baseOffset).toBe(next)
      next += 3
    }
    const f = await c.request(Fetch, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: 'p', partitions: [{ partition: 1, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }] })
    const recs = [...iterateBatches(f.responses[0]!.partitions[0]!.records!)].flatMap((bt) => decodeRecords(bt))
    expect(recs.map((r) => r.offset)).toEqual(Array.from({ length: next }, (_, i) => i))
  })

  test('bad input is refused per partition with Kafka\'s codes', async () => {
    const corrupt = batch(2)
    corrupt[corrupt.length - 1] = corrupt[corrupt.length - 1]! ^ 0xff
    expect((await produce('p', corrupt)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect((await produce('p', Buffer.concat([batch(1), batch(1)]))).errorCode).toBe(ErrorCode.INVALID_RECORD)
    const magic1 = batch(1)
    magic1.writeInt8(1, 16)
    expect((await produce('p', magic1)).errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect((await produce('p', kjsMessageSet({ messageVersion: 1, entries: [{ value: 'x', timestamp: 1 }] }).buffer, { version: 3 })).errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect((await produce('p', batch(1).subarray(0, 40))).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect((await produce('p', null)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect((await produce('nope', batch(1))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect((await produce('p', batch(1), { partition: 7 })).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect((await produce('p', encodeRecordBatch([{ value: Buffer.alloc(6000) }]))).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
    expect((await produce('p', batch(1), { acks: 2 })).errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS)
    expect((await produce('p', batch(1, { transactional: true, producerId: 1, producerEpoch: 0, baseSequence: 0 }))).errorCode).toBe(ErrorCode.INVALID_TXN_STATE)
    // min.insync.replicas above the replication factor is capped to it (Kafka's effectiveMinIsr): one replica
    // suffices here. NOT_ENOUGH_REPLICAS with a shrunk ISR is covered by test/interop/replication.test.ts.
    expect((await produce('misr', batch(1))).errorCode).toBe(ErrorCode.NONE)
    expect((await produce('__consumer_offsets', batch(1))).errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
    expect((await produce('misr', batch(1), { acks: 1 })).errorCode).toBe(ErrorCode.NONE)
  })

  test('zstd batches need v7 (Kafka: UNSUPPORTED_COMPRESSION_TYPE below)', async () => {
    const zstd = batch(1)
    zstd.writeInt16BE(4, 21)
    zstd.writeUInt32BE(crc32c(zstd, 21, zstd.length), 17)
    for (let v = 3; v <= 6; v++) expect((await produce('p', zstd, { version: v })).errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
    expect((await produce('p', zstd, { version: 7 })).errorCode).toBe(ErrorCode.NONE)
  })

  test('v0-2 message sets written by kafkajs (magic 0, magic 1, gzip) are stored as one v2 batch each', async () => {
    await c.request(CreateTopics, 7, { topics: [{ name: 'legacy', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
    const messages = [
      { key: Buffer.from('k0'), value: Buffer.from('v0'), timestamp: 1_700_000_000_000 },
      { key: null, value: Buffer.from('v1'), timestamp: 1_700_000_000_005 },
      { key: Buffer.from('k2'), value: null, timestamp: 1_700_000_000_003 },
    ]
    const sends = [
      { v: 0, compression: 0 },
      { v: 1, compression: 0 },
      { v: 2, compression: 0 },
      { v: 2, compression: 1 },
    ]
    let next = 0
    for (const { v, compression } of sends) {
      const body = (await kjsProduce(v)({ acks: -1, timeout: 1000, compression, topicData: [{ topic: 'legacy', partitions: [{ partition: 0, messages }] }] }).encode()).buffer
      const res = await c.request(Produce, v, Produce.request.decode(v, new Reader(body)))
      expect(res.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: next })
      next += messages.length
    }
    const f = await c.request(Fetch, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: 'legacy', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }] })
    const batches = [...iterateBatches(f.responses[0]!.partitions[0]!.records!)]
    expect(batches.map((bt) => [bt.baseOffset, bt.recordCount, bt.compression, bt.producerId])).toEqual([[0, 3, 0, -1], [3, 3, 0, -1], [6, 3, 0, -1], [9, 3, 1, -1]])
    const got = batches.flatMap((bt) => decodeRecords(bt)).map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null, r.timestamp])
    const want = (base: number, magic0: boolean) => messages.map((m, i) => [base + i, m.key?.toString() ?? null, m.value?.toString() ?? null, magic0 ? -1 : m.timestamp])
    expect(got).toEqual([...want(0, true), ...want(3, true), ...want(6, false), ...want(9, false)])
  })

  test('v0-2 message sets Kafka refuses, and those this broker cannot convert', async () => {
    const set = (compression: number) => kjsMessageSet({ messageVersion: 1, compression, entries: [{ key: null, value: 'x', timestamp: 1, compression }] }).buffer
    const corrupt = Buffer.from(set(0))
    corrupt[corrupt.length - 1] = corrupt[corrupt.length - 1]! ^ 0xff
    expect((await produce('p', corrupt, { version: 2 })).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect((await produce('p', set(0).subarray(0, 20), { version: 2 })).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    // A snappy wrapper: Kafka would decompress it; without a snappy codec this broker says so.
    expect((await produce('p', set(2), { version: 2 })).errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
  })

  test('LogAppendTime topics stamp the broker time and keep the CRC valid', async () => {
    const before = Date.now()
    const r = await produce('lat', batch(2))
    expect(r.logAppendTimeMs).toBeGreaterThanOrEqual(before)
    const f = await c.request(Fetch, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: 'lat', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }] })
    const [bt] = [...iterateBatches(f.responses[0]!.partitions[0]!.records!)]
    expect(bt!.isCrcValid()).toBe(true)
    expect(bt!.isLogAppendTime).toBe(true)
    expect(decodeRecords(bt!)[0]!.timestamp).toBe(r.logAppendTimeMs)
  })

  describe('idempotence', () => {
    test('a retried batch is acknowledged with its original offset and stored once', async () => {
      const { producerId } = await c.request(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 1000 })
      const b0 = batch(2, { producerId, producerEpoch: 0, baseSequence: 0 })
      const first = await produce('p', b0)
      const again = await produce('p', batch(2, { producerId, producerEpoch: 0, baseSequence: 0 }))
      expect(again).toMatchObject({ errorCode: 0, baseOffset: first.baseOffset })
      const next = await produce('p', batch(1, { producerId, producerEpoch: 0, baseSequence: 2 }))
      expect(next.baseOffset).toBe(first.baseOffset + 2)
    })

    test('gaps and stale epochs are refused; an id with no state here starts fresh', async () => {
      const { producerId } = await c.request(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 1000 })
      expect((await produce('p', batch(1, { producerId, producerEpoch: 3, baseSequence: 0 }))).errorCode).toBe(0)
      expect((await produce('p', batch(1, { producerId, producerEpoch: 3, baseSequence: 5 }))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      expect((await produce('p', batch(1, { producerId, producerEpoch: 2, baseSequence: 1 }))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
      expect((await produce('p', batch(1, { producerId, producerEpoch: 4, baseSequence: 1 }))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      // Like Kafka, no list of allocated ids: an id another broker just handed out must not be refused here.
      expect((await produce('p', batch(1, { producerId: 10_000_000, producerEpoch: 0, baseSequence: 0 }))).errorCode).toBe(ErrorCode.NONE)
    })
  })
})
