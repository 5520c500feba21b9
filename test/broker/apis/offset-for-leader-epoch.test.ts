import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { OffsetForLeaderEpoch } from '../../../broker/protocol/messages/offset-for-leader-epoch.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
const produce = (n: number) =>
  c.request(Produce, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'ofle', partitionData: [{ index: 0, records: encodeRecordBatch(Array.from({ length: n }, () => ({ value: 'v' }))) }] }] })

beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'ofle', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
  // Epoch 0 at [0,3), epoch 2 at [3,5), epoch 5 from 5: the leader epoch moves as a controller would move it.
  const p = b.broker.partition('ofle', 0)!
  await produce(3)
  p.leaderEpoch = 2
  await produce(2)
  p.leaderEpoch = 5
  await produce(1)
})
afterAll(async () => b.stop())

async function ask(leaderEpoch: number, opts: { version?: number; currentLeaderEpoch?: number; replicaId?: number; partition?: number; topic?: string } = {}) {
  const res = await c.request(OffsetForLeaderEpoch, opts.version ?? 4, {
    replicaId: opts.replicaId ?? -1,
    topics: [{ topic: opts.topic ?? 'ofle', partitions: [{ partition: opts.partition ?? 0, currentLeaderEpoch: opts.currentLeaderEpoch ?? -1, leaderEpoch }] }],
  })
  return res.topics[0]!.partitions[0]!
}

describe('OffsetForLeaderEpoch', () => {
  test('answers the end offset of the largest epoch <= the requested one, in every version', async () => {
    for (let v = 0; v <= 4; v++) {
      // v0 has no leaderEpoch in the response: it decodes as -1.
      const epoch = (e: number) => (v === 0 ? -1 : e)
      expect(await ask(5, { version: v })).toMatchObject({ errorCode: 0, leaderEpoch: epoch(5), endOffset: 6 }) // latest: the log end
      expect(await ask(2, { version: v })).toMatchObject({ errorCode: 0, leaderEpoch: epoch(2), endOffset: 5 })
      expect(await ask(4, { version: v })).toMatchObject({ errorCode: 0, leaderEpoch: epoch(2), endOffset: 5 })
      expect(await ask(1, { version: v })).toMatchObject({ errorCode: 0, leaderEpoch: epoch(0), endOffset: 3 })
      expect(await ask(0, { version: v })).toMatchObject({ errorCode: 0, leaderEpoch: epoch(0), endOffset: 3 })
      expect(await ask(9, { version: v })).toMatchObject({ errorCode: 0, leaderEpoch: -1, endOffset: -1 }) // unknown epoch
      expect(await ask(-1, { version: v })).toMatchObject({ errorCode: 0, leaderEpoch: -1, endOffset: -1 })
    }
  })

  test('fences stale and unknown current leader epochs, and unknown partitions', async () => {
    expect((await ask(2, { currentLeaderEpoch: 5 })).errorCode).toBe(ErrorCode.NONE)
    expect((await ask(2, { currentLeaderEpoch: 4 })).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect((await ask(2, { currentLeaderEpoch: 6, version: 2 })).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH)
    expect((await ask(2, { partition: 7 })).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect(await ask(2, { topic: 'nope' })).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, endOffset: -1 })
  })

  test('a follower answers only the debugging replica id (and v0-2, which have none)', async () => {
    const p = b.broker.partition('ofle', 0)!
    p.isLeader = false
    try {
      expect((await ask(2, { replicaId: -1 })).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
      expect((await ask(2, { replicaId: 3 })).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
      expect(await ask(2, { replicaId: -2 })).toMatchObject({ errorCode: 0, leaderEpoch: 2, endOffset: 5 })
      for (const v of [0, 1, 2]) expect(await ask(2, { version: v })).toMatchObject({ errorCode: 0, endOffset: 5 })
      // The epoch check comes first, as in Kafka's Partition.getLocalLog.
      expect((await ask(2, { replicaId: 3, currentLeaderEpoch: 1 })).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    } finally {
      p.isLeader = true
    }
  })
})
