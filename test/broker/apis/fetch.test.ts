import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { crc32c } from '../../../broker/protocol/crc32c.ts'
import { readResponseHeader } from '../../../broker/protocol/header.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches } from '../../../broker/protocol/record-batch.ts'
import { until } from '../../helpers/until.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'f', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 })
  // Partition 0: ten batches of 5 records (offsets 0-49), each about 1 KiB.
  for (let i = 0; i < 10; i++) {
    const records = encodeRecordBatch(Array.from({ length: 5 }, (_, j) => ({ value: Buffer.alloc(200, i * 5 + j) })))
    await c.request(Produce, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'f', partitionData: [{ index: 0, records }] }] })
  }
})
afterAll(async () => b.stop())

const fetchReq = (parts: { partition: number; fetchOffset: number; partitionMaxBytes?: number; currentLeaderEpoch?: number }[], over: Record<string, unknown> = {}) => ({
  maxWaitMs: 0,
  minBytes: 0,
  maxBytes: 1 << 20,
  isolationLevel: 0,
  topics: [{ topic: 'f', partitions: parts.map((p) => ({ partitionMaxBytes: 1 << 20, ...p })) }],
  ...over,
})
const offsetsOf = (records: Buffer | null) => [...iterateBatches(records ?? Buffer.alloc(0))].flatMap((bt) => decodeRecords(bt).map((r) => r.offset))

describe('Fetch', () => {
  test('returns whole batches from the one containing the fetch offset, in every v4+ version (v13+: by topic id)', async () => {
    const topicId = b.broker.topic('f')!.record.topicId
    for (let v = 4; v <= 17; v++) {
      const req = fetchReq([{ partition: 0, fetchOffset: 12 }])
      if (v >= 13) req.topics[0] = { ...req.topics[0]!, topic: '', topicId } as never
      const res = await c.request(Fetch, v, req)
      if (v >= 13) expect(res.responses[0]!.topicId).toBe(topicId)
      const p = res.responses[0]!.partitions[0]!
      expect(p.errorCode).toBe(0)
      expect(p.highWatermark).toBe(50)
      const offsets = offsetsOf(p.records)
      expect(offsets[0]).toBe(10) // the batch starting before 12
      expect(offsets.at(-1)).toBe(49)
    }
  })

  test('limits by partitionMaxBytes but returns at least one batch (KIP-74); maxBytes spans partitions', async () => {
    const one = await c.request(Fetch, 12, fetchReq([{ partition: 0, fetchOffset: 0, partitionMaxBytes: 10 }]))
    expect(offsetsOf(one.responses[0]!.partitions[0]!.records)).toEqual([0, 1, 2, 3, 4])
    const two = await c.request(Fetch, 12, fetchReq([{ partition: 0, fetchOffset: 0, partitionMaxBytes: 2500 }]))
    expect(offsetsOf(two.responses[0]!.partitions[0]!.records)).toHaveLength(10)
    const capped = await c.request(Fetch, 12, fetchReq([{ partition: 0, fetchOffset: 0 }], { maxBytes: 100 }))
    expect(offsetsOf(capped.responses[0]!.partitions[0]!.records)).toHaveLength(5)
  })

  test('offsets outside the log are OFFSET_OUT_OF_RANGE; the log end is an empty answer', async () => {
    const res = await c.request(Fetch, 12, fetchReq([{ partition: 0, fetchOffset: 51 }, { partition: 0, fetchOffset: 50 }, { partition: 0, fetchOffset: -1 }]))
    const [past, end, neg] = res.responses[0]!.partitions
    expect(past!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    expect(end!.errorCode).toBe(0)
    expect(end!.records?.length ?? 0).toBe(0)
    expect(neg!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
  })

  test('read_committed gets the last stable offset and an empty aborted list; read_uncommitted a null one', async () => {
    const rc = await c.request(Fetch, 11, fetchReq([{ partition: 0, fetchOffset: 0 }], { isolationLevel: 1 }))
    expect(rc.responses[0]!.partitions[0]).toMatchObject({ lastStableOffset: 50, abortedTransactions: [] })
    const ru = await c.request(Fetch, 11, fetchReq([{ partition: 0, fetchOffset: 0 }]))
    expect(ru.responses[0]!.partitions[0]!.abortedTransactions).toBeNull()
  })

  test('unknown partitions, fenced and unknown leader epochs and unknown sessions are errors', async () => {
    const res = await c.request(Fetch, 12, fetchReq([{ partition: 9, fetchOffset: 0 }, { partition: 0, fetchOffset: 0, currentLeaderEpoch: 5 }]))
    expect(res.responses[0]!.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_LEADER_EPOCH])
    const unknownId = await c.request(Fetch, 13, { ...fetchReq([{ partition: 0, fetchOffset: 0 }]), topics: [{ topicId: 'ab'.repeat(16), partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 100 }] }] })
    expect(unknownId.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_ID)
    const s = await c.request(Fetch, 12, { ...fetchReq([{ partition: 0, fetchOffset: 0 }]), sessionId: 77, sessionEpoch: 3 })
    expect(s.errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
  })

  test('long poll: waits for data up to maxWaitMs and answers as soon as minBytes arrive', async () => {
    const waiter = await b.client()
    const parked = vi.spyOn(b.broker.partition('f', 1)!, 'onAppend')
    const t0 = Date.now()
    const pending = waiter.request(Fetch, 12, fetchReq([{ partition: 1, fetchOffset: 0 }], { maxWaitMs: 20_000, minBytes: 1 }))
    // Produce once the fetch waits at the broker for appends, so that it is the append that answers it.
    await until('the fetch waiting for appends', () => parked.mock.calls.length > 0, { intervalMs: 1 })
    parked.mockRestore()
    await c.request(Produce, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'f', partitionData: [{ index: 1, records: encodeRecordBatch([{ value: 'wake' }]) }] }] })
    const res = await pending
    expect(Date.now() - t0).toBeLessThan(15_000)
    expect(offsetsOf(res.responses[0]!.partitions[0]!.records)).toEqual([0])
    const empty = await waiter.request(Fetch, 12, fetchReq([{ partition: 1, fetchOffset: 1 }], { maxWaitMs: 50, minBytes: 1 }))
    expect(empty.responses[0]!.partitions[0]!.records?.length ?? 0).toBe(0)
  })
})

// kafkajs' fetch v0-3 response parsers read message sets (magic 0/1, gzip wrappers opened): an implementation
// independent of ours checks the down-converted answers.
const require = createRequire(import.meta.url)
// biome-ignore lint: kafkajs is untyped JavaScript
type Js = any
const kjsFetchResponse = (v: number): { decode(b: Buffer): Promise<Js> } => require(`kafkajs/src/protocol/requests/fetch/v${v}/response.js`)

describe('Fetch v0-3: message sets down-converted from the stored v2 batches', () => {
  const T0 = 1_700_000_000_000
  beforeAll(async () => {
    await c.request(CreateTopics, 7, { topics: [{ name: 'old', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
    const send = (records: Buffer) => c.request(Produce, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'old', partitionData: [{ index: 0, records }] }] })
    // Offsets 0-2 plain, with a header (magic 0/1 cannot carry it); 3-4 gzip; 5 a zstd batch (stored as sent).
    await send(encodeRecordBatch([0, 1, 2].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: T0 + i, headers: [{ key: 'h', value: 'x' }] }))))
    await send(encodeRecordBatch([3, 4].map((i) => ({ key: null, value: `v${i}`, timestamp: T0 + i })), { compression: 'gzip' }))
    const zstd = encodeRecordBatch([{ value: 'z', timestamp: T0 + 5 }])
    zstd.writeInt16BE(4, 21)
    zstd.writeUInt32BE(crc32c(zstd, 21, zstd.length), 17)
    await send(zstd)
  })

  async function fetchOld(v: number, fetchOffset: number, partitionMaxBytes = 1 << 20): Promise<{ body: Buffer; parsed: Js }> {
    const { frame } = c.encode(Fetch, v, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: 'old', partitions: [{ partition: 0, fetchOffset, partitionMaxBytes }] }] })
    c.writeRaw(frame)
    const res = (await c.nextFrame())!
    const r = new Reader(res)
    readResponseHeader(r, false)
    const body = res.subarray(r.offset)
    return { body, parsed: await kjsFetchResponse(v).decode(body) }
  }

  for (let v = 0; v <= 3; v++) {
    test(`v${v}: magic ${v <= 1 ? 0 : 1} messages from the fetch offset (whole gzip batches), up to the batch no client of v${v} can read`, async () => {
      const { parsed } = await fetchOld(v, 1)
      const p = parsed.responses[0].partitions[0]
      expect(p.errorCode).toBe(ErrorCode.NONE)
      expect(p.highWatermark).toBe('6')
      const got = p.messages.map((m: Js) => [Number(m.offset), m.magicByte, m.key?.toString() ?? null, m.value.toString(), m.timestamp === undefined ? null : Number(m.timestamp)])
      const ts = (i: number) => (v <= 1 ? null : T0 + i)
      expect(got).toEqual([[1, v <= 1 ? 0 : 1, 'k1', 'v1', ts(1)], [2, v <= 1 ? 0 : 1, 'k2', 'v2', ts(2)], [3, v <= 1 ? 0 : 1, null, 'v3', ts(3)], [4, v <= 1 ? 0 : 1, null, 'v4', ts(4)]])
    })

    test(`v${v}: a zstd batch cannot be down-converted: UNSUPPORTED_COMPRESSION_TYPE with null records, as Kafka writes it`, async () => {
      const { body, parsed } = await fetchOld(v, 5)
      expect(parsed.responses[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, highWatermark: '-1', messages: [] })
      expect(body.subarray(-4).readInt32BE(0)).toBe(-1)
    })
  }

  test('v0-2 limits are hard: a first batch beyond partitionMaxBytes is not sent; v3 sends it (KIP-74)', async () => {
    for (const v of [0, 1, 2]) expect((await fetchOld(v, 0, 20)).parsed.responses[0].partitions[0].messages).toEqual([])
    expect((await fetchOld(3, 0, 20)).parsed.responses[0].partitions[0].messages.map((m: Js) => Number(m.offset))).toEqual([0, 1, 2])
  })
})
