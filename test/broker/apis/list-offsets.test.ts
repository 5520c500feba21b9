import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { ListOffsets } from '../../../broker/protocol/messages/list-offsets.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'lo', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
  // Timestamps 1000, 2000, ... 5000 in batches of two records (second record +500).
  for (let i = 1; i <= 5; i++) {
    const records = encodeRecordBatch([{ value: 'a', timestamp: i * 1000 }, { value: 'b', timestamp: i * 1000 + 500 }])
    await c.request(Produce, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'lo', partitionData: [{ index: 0, records }] }] })
  }
})
afterAll(async () => b.stop())

async function list(timestamp: number, version = 7, isolationLevel = 0) {
  const res = await c.request(ListOffsets, version, { replicaId: -1, isolationLevel, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, timestamp }] }] })
  return res.topics[0]!.partitions[0]!
}

describe('ListOffsets', () => {
  test('earliest, latest and by timestamp in every version', async () => {
    for (let v = 1; v <= ListOffsets.maxVersion; v++) {
      expect(await list(-2, v)).toMatchObject({ errorCode: 0, offset: 0 })
      expect(await list(-1, v)).toMatchObject({ errorCode: 0, offset: 10 })
      expect(await list(2100, v)).toMatchObject({ errorCode: 0, offset: 3, timestamp: 2500 })
      expect(await list(2000, v)).toMatchObject({ errorCode: 0, offset: 2, timestamp: 2000 })
      expect(await list(0, v)).toMatchObject({ offset: 0 })
      expect(await list(99_999, v)).toMatchObject({ errorCode: 0, offset: -1, timestamp: -1 })
    }
    expect((await list(-1, 7, 1)).offset).toBe(10)
  })

  test('max timestamp (-3) from v7; below v7 it is UNSUPPORTED_VERSION', async () => {
    expect(await list(-3, 7)).toMatchObject({ errorCode: 0, offset: 9, timestamp: 5500 })
    expect((await list(-3, 6)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
  })

  test('local log start (-4) from v8 is the log start; last tiered offset (-5) from v9 is -1 without tiered storage', async () => {
    expect(await list(-4, 8)).toMatchObject({ errorCode: 0, offset: 0, timestamp: -1 })
    expect((await list(-4, 7)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    expect(await list(-5, 9)).toMatchObject({ errorCode: 0, offset: -1, timestamp: -1, leaderEpoch: -1 })
    expect((await list(-5, 8)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
  })

  test('v0: up to maxNumOffsets segment start offsets, newest first (Kafka\'s legacy lookup)', async () => {
    const v0 = async (timestamp: number, maxNumOffsets: number, replicaId = -1) =>
      (await c.request(ListOffsets, 0, { replicaId, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, timestamp, maxNumOffsets }] }] })).topics[0]!.partitions[0]!
    // One segment (base 0) plus the log end.
    expect(await v0(-1, 1)).toMatchObject({ errorCode: 0, oldStyleOffsets: [10] })
    expect(await v0(-1, 5)).toMatchObject({ errorCode: 0, oldStyleOffsets: [10, 0] })
    expect(await v0(-2, 5)).toMatchObject({ errorCode: 0, oldStyleOffsets: [0] })
    expect(await v0(-1, 0)).toMatchObject({ errorCode: 0, oldStyleOffsets: [] })
    // The segment was last written at 5500 (its largest timestamp): before that, nothing; after it, its start.
    expect((await v0(5000, 5)).oldStyleOffsets).toEqual([])
    expect((await v0(6000, 5)).oldStyleOffsets).toEqual([0])
    expect((await v0(-3, 1)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
  })

  test('unknown partitions and wrong leader epochs are errors', async () => {
    const res = await c.request(ListOffsets, 7, { replicaId: -1, topics: [{ name: 'lo', partitions: [{ partitionIndex: 3, timestamp: -1 }, { partitionIndex: 0, timestamp: -1, currentLeaderEpoch: 1 }] }, { name: 'none', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] })
    expect(res.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_LEADER_EPOCH])
    expect(res.topics[1]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  })
})
