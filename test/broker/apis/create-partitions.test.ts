import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreatePartitions } from '../../../broker/protocol/messages/create-partitions.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  const res = await c.request(CreateTopics, 7, {
    topics: ['grow', 'a', 'bad', 'dry', ...[0, 1, 2, 3].map((v) => `v${v}`)].map((name) => ({ name, numPartitions: 2, replicationFactor: 1 })) as never,
    timeoutMs: 5000,
    validateOnly: false,
  })
  expect(res.topics.every((t) => t.errorCode === 0)).toBe(true)
})
afterAll(async () => b.stop())

type Topic = { name: string; count: number; assignments: { brokerIds: number[] }[] | null }
const grow = (topics: Topic[], version = 3, validateOnly = false) => c.request(CreatePartitions, version, { topics, timeoutMs: 5000, validateOnly })
const partitions = async (topic: string) => (await c.request(Metadata, 12, { topics: [{ topicId: '00000000000000000000000000000000', name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).topics[0]!.partitions

describe('CreatePartitions', () => {
  test('adds partitions in every version; each new one has a leader, a log, and takes writes', async () => {
    for (let v = 0; v <= 3; v++) {
      const res = await grow([{ name: `v${v}`, count: 3 + v, assignments: null }], v)
      expect(res.results).toEqual([{ name: `v${v}`, errorCode: 0, errorMessage: null }])
      const parts = await partitions(`v${v}`)
      expect(parts.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes])).toEqual(Array.from({ length: 3 + v }, (_, i) => [i, 1, [1]]))
    }
    expect(b.broker.partition('v3', 5)?.log).toBeDefined()
    const r = await c.request(Produce, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'v3', partitionData: [{ index: 5, records: encodeRecordBatch([{ key: 'k', value: 'v' }]) }] }] })
    expect(r.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 })
  })

  test('explicit assignments', async () => {
    const res = await grow([{ name: 'a', count: 4, assignments: [{ brokerIds: [1] }, { brokerIds: [1] }] }])
    expect(res.results[0]!.errorCode).toBe(0)
    expect(await partitions('a')).toHaveLength(4)
  })

  test('errors per topic, as Kafka words them', async () => {
    const res = await grow([
      { name: 'bad', count: 1, assignments: null },
      { name: 'bad', count: 2, assignments: null },
      { name: 'missing', count: 3, assignments: null },
      { name: 'grow', count: 2, assignments: null },
      { name: 'grow', count: 1, assignments: null },
    ])
    expect(res.results.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST])
    const one = async (t: Topic) => (await grow([t])).results[0]!
    expect(await one({ name: 'grow', count: 2, assignments: null })).toMatchObject({ errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'Topic already has 2 partition(s).' })
    expect(await one({ name: 'grow', count: 1, assignments: null })).toMatchObject({ errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'The topic grow currently has 2 partition(s); 1 would not be an increase.' })
    expect(await one({ name: 'missing', count: 3, assignments: null })).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null })
    const assignment = async (assignments: number[][]) => one({ name: 'grow', count: 4, assignments: assignments.map((brokerIds) => ({ brokerIds })) })
    expect(await assignment([[1]])).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.' })
    expect(await assignment([[1], []])).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'The manual partition assignment includes an empty replica list.' })
    expect(await assignment([[1], [7]])).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'The manual partition assignment includes broker 7, but no such broker is registered.' })
    expect(await assignment([[1], [1, 1]])).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'The manual partition assignment includes the broker 1 more than once.' })
    expect(await partitions('grow')).toHaveLength(2)
  })

  test('validateOnly creates nothing', async () => {
    const res = await grow([{ name: 'dry', count: 5, assignments: null }], 3, true)
    expect(res.results[0]!.errorCode).toBe(0)
    expect(await partitions('dry')).toHaveLength(2)
  })
})
