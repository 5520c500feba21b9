import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DeleteRecords } from '../../../broker/protocol/messages/delete-records.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { ListOffsets } from '../../../broker/protocol/messages/list-offsets.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  const res = await c.request(CreateTopics, 7, { topics: [{ name: 'dr', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 5000, validateOnly: false })
  expect(res.topics[0]!.errorCode).toBe(0)
  for (const index of [0, 1]) {
    for (let i = 0; i < 10; i++) {
      const r = await c.request(Produce, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'dr', partitionData: [{ index, records: encodeRecordBatch([{ key: 'k', value: `v${i}` }]) }] }] })
      expect(r.responses[0]!.partitionResponses[0]!.errorCode).toBe(0)
    }
  }
})
afterAll(async () => b.stop())

const del = (partitions: { partitionIndex: number; offset: number }[], version = 2, name = 'dr') => c.request(DeleteRecords, version, { topics: [{ name, partitions }], timeoutMs: 5000 })
const earliest = async (partition: number) =>
  (await c.request(ListOffsets, 9, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'dr', partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -2 }] }] })).topics[0]!.partitions[0]!.offset

describe('DeleteRecords', () => {
  test('raises the log start offset in every version; earliest offsets and fetches follow it', async () => {
    for (let v = 0; v <= 2; v++) {
      const res = await del([{ partitionIndex: 0, offset: 2 + v }], v)
      expect(res.topics[0]!.partitions).toEqual([{ partitionIndex: 0, lowWatermark: 2 + v, errorCode: 0 }])
      expect(await earliest(0)).toBe(2 + v)
    }
    const f = await c.request(Fetch, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: 'dr', partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20 }] }] })
    expect(f.responses[0]!.partitions[0]).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE })
    // A lower offset than the current start changes nothing.
    expect((await del([{ partitionIndex: 0, offset: 1 }])).topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, lowWatermark: 4 })
  })

  test('-1 deletes up to the high watermark', async () => {
    expect((await del([{ partitionIndex: 1, offset: -1 }])).topics[0]!.partitions[0]).toEqual({ partitionIndex: 1, lowWatermark: 10, errorCode: 0 })
    expect(await earliest(1)).toBe(10)
  })

  test('errors per partition', async () => {
    const res = await del([{ partitionIndex: 0, offset: 11 }, { partitionIndex: 0, offset: -5 }, { partitionIndex: 9, offset: 0 }])
    expect(res.topics[0]!.partitions.map((p) => [p.errorCode, p.lowWatermark])).toEqual([
      [ErrorCode.OFFSET_OUT_OF_RANGE, -1],
      [ErrorCode.OFFSET_OUT_OF_RANGE, -1],
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1],
    ])
    expect((await del([{ partitionIndex: 0, offset: 0 }], 2, 'nope')).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect(await earliest(0)).toBe(4)
  })
})
