// AlterPartitionReassignments on one in-process broker: Kafka's per-partition errors and a move to the same
// replicas (nothing to do). The move itself, under load on 4 broker processes, is test/interop/reassignment.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { AlterPartitionReassignments } from '../../../broker/protocol/messages/alter-partition-reassignments.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { ListPartitionReassignments } from '../../../broker/protocol/messages/list-partition-reassignments.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  const res = await c.request(CreateTopics, 7, { topics: [{ name: 'apr', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 5000 })
  expect(res.topics[0]!.errorCode).toBe(ErrorCode.NONE)
})
afterAll(async () => b.stop())

describe('AlterPartitionReassignments', () => {
  test('errors per partition, as Kafka gives them; the same replicas again changes nothing', async () => {
    const res = await c.request(AlterPartitionReassignments, 0, {
      timeoutMs: 5000,
      topics: [
        { name: 'no-such-topic', partitions: [{ partitionIndex: 0, replicas: [1] }] },
        {
          name: 'apr',
          partitions: [
            { partitionIndex: 9, replicas: [1] },
            { partitionIndex: 0, replicas: [] },
            { partitionIndex: 0, replicas: [1, 1] },
            { partitionIndex: 0, replicas: [1, 7] },
            { partitionIndex: 0, replicas: null },
            { partitionIndex: 1, replicas: [1] },
          ],
        },
      ],
    })
    expect(res.errorCode).toBe(ErrorCode.NONE)
    expect(res.responses.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])])).toEqual([
      ['no-such-topic', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
      [
        'apr',
        [
          [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
          [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT],
          [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT],
          [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT],
          [0, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS],
          [1, ErrorCode.NONE],
        ],
      ],
    ])
    expect(res.responses[1]!.partitions[3]!.errorMessage).toMatch(/broker 7, but no such broker is registered/)
    const listed = await c.request(ListPartitionReassignments, 0, { timeoutMs: 5000, topics: null })
    expect(listed).toMatchObject({ errorCode: ErrorCode.NONE, topics: [] })
    expect(b.broker.image.topic('apr')!.partitions[1]).toMatchObject({ replicas: [1], isr: [1], leader: 1, partitionEpoch: 0 })
  })
})
