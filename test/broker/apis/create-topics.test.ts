import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker({ 'num.partitions': '4' })
  c = await b.client()
})
afterAll(async () => b.stop())

const create = (topics: Record<string, unknown>[], version = 7, validateOnly = false) => c.request(CreateTopics, version, { topics: topics as never, timeoutMs: 1000, validateOnly })

describe('CreateTopics', () => {
  test('creates topics in every version; v5+ reports partitions, replication factor and configs', async () => {
    for (let v = 0; v <= 7; v++) {
      const res = await create([{ name: `ct${v}`, numPartitions: 2, replicationFactor: 1, configs: [{ name: 'retention.ms', value: '1000' }] }], v)
      expect(res.topics[0]).toMatchObject({ name: `ct${v}`, errorCode: 0 })
      if (v >= 5) {
        expect(res.topics[0]).toMatchObject({ numPartitions: 2, replicationFactor: 1 })
        expect(res.topics[0]!.configs!.find((x) => x.name === 'retention.ms')).toMatchObject({ value: '1000', configSource: 1 })
        expect(res.topics[0]!.configs!.find((x) => x.name === 'segment.bytes')).toMatchObject({ value: '1073741824', configSource: 5 })
      }
    }
    const md = await c.request(Metadata, 9, { topics: [{ name: 'ct3' }], allowAutoTopicCreation: false })
    expect(md.topics[0]!.partitions).toHaveLength(2)
  })

  test('-1 takes the broker defaults (v4+); manual assignment to this broker works', async () => {
    const res = await create([{ name: 'dflt', numPartitions: -1, replicationFactor: -1 }, { name: 'assigned', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1] }, { partitionIndex: 1, brokerIds: [1] }] }])
    expect(res.topics[0]).toMatchObject({ errorCode: 0, numPartitions: 4, replicationFactor: 1 })
    expect(res.topics[1]).toMatchObject({ errorCode: 0, numPartitions: 2 })
  })

  test('errors per topic', async () => {
    await create([{ name: 'dup', numPartitions: 1, replicationFactor: 1 }])
    const res = await create([
      { name: 'dup', numPartitions: 1, replicationFactor: 1 },
      { name: 'bad/name', numPartitions: 1, replicationFactor: 1 },
      { name: 'zero', numPartitions: 0, replicationFactor: 1 },
      { name: 'rf3', numPartitions: 1, replicationFactor: 3 },
      { name: 'cfg', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'retention.mss', value: '1' }] },
      { name: 'cfgval', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'retention.ms', value: 'soon' }] },
      { name: 'twice', numPartitions: 1, replicationFactor: 1 },
      { name: 'twice', numPartitions: 1, replicationFactor: 1 },
      { name: 'other-broker', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [2] }] },
    ])
    expect(res.topics.map((t) => t.errorCode)).toEqual([
      ErrorCode.TOPIC_ALREADY_EXISTS,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_PARTITIONS,
      ErrorCode.INVALID_REPLICATION_FACTOR,
      ErrorCode.INVALID_CONFIG,
      ErrorCode.INVALID_CONFIG,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ])
    expect(res.topics[5]!.errorMessage).toContain('retention.ms')
  })

  test('validateOnly creates nothing', async () => {
    const res = await create([{ name: 'dry', numPartitions: 1, replicationFactor: 1 }], 7, true)
    expect(res.topics[0]!.errorCode).toBe(0)
    expect(b.broker.topic('dry')).toBeUndefined()
  })
})
