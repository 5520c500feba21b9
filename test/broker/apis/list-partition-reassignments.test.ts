// ListPartitionReassignments on one in-process broker: with nothing moving every form answers an empty list
// (unknown topics and partitions are left out, as Kafka does). Partitions being moved are listed in
// test/interop/reassignment.test.ts, where a move waits for a stopped broker.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { ListPartitionReassignments } from '../../../broker/protocol/messages/list-partition-reassignments.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'lpr', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
})
afterAll(async () => b.stop())

describe('ListPartitionReassignments', () => {
  test('nothing moving: every form answers no partitions', async () => {
    for (const topics of [null, [{ name: 'lpr', partitionIndexes: [0, 5] }, { name: 'no-such-topic', partitionIndexes: [0] }]]) {
      const res = await c.request(ListPartitionReassignments, 0, { timeoutMs: 5000, topics })
      expect(res).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [] })
    }
  })
})
