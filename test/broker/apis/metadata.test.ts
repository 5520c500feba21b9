import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { ZERO_UUID } from '../../../broker/protocol/schema.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker({ 'num.partitions': '3' })
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'm', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 })
})
afterAll(async () => b.stop())

describe('Metadata', () => {
  test('describes this broker at its advertised address and every topic, in every version', async () => {
    for (let v = 0; v <= 12; v++) {
      // v0 has no null: its empty list means every topic.
      const res = await c.request(Metadata, v, { topics: v === 0 ? [] : null })
      expect(res.brokers).toEqual([{ nodeId: 1, host: b.host, port: b.port, rack: null }])
      if (v >= 1) expect(res.controllerId).toBe(1)
      const t = res.topics.find((x) => x.name === 'm')!
      expect(t.errorCode).toBe(0)
      expect(t.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes, p.isrNodes])).toEqual([[0, 1, [1], [1]], [1, 1, [1], [1]]])
      if (v >= 2) expect(res.clusterId).toBe(b.broker.clusterId)
      if (v >= 10) expect(t.topicId).not.toBe(ZERO_UUID)
    }
  })

  test('auto-creates named topics with num.partitions unless the request or the config forbids it', async () => {
    const res = await c.request(Metadata, 9, { topics: [{ name: 'auto1' }], allowAutoTopicCreation: true })
    expect(res.topics[0]).toMatchObject({ name: 'auto1', errorCode: 0 })
    expect(res.topics[0]!.partitions).toHaveLength(3)
    const no = await c.request(Metadata, 9, { topics: [{ name: 'auto2' }], allowAutoTopicCreation: false })
    expect(no.topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    const off = await startInProcessBroker({ 'auto.create.topics.enable': 'false' })
    const oc = await off.client()
    expect((await oc.request(Metadata, 1, { topics: [{ name: 'auto3' }] })).topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    await off.stop()
  })

  test('illegal names, empty lists and topic ids (v12)', async () => {
    const bad = await c.request(Metadata, 12, { topics: [{ name: 'bad name!' }, { name: '..' }] })
    expect(bad.topics.map((t) => t.errorCode)).toEqual([ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION])
    for (let v = 1; v <= 12; v++) expect((await c.request(Metadata, v, { topics: [] })).topics).toEqual([])
    expect((await c.request(Metadata, 0, { topics: [] })).topics.map((t) => t.name)).toContain('m')
    // v0 cannot forbid auto-creation.
    expect((await c.request(Metadata, 0, { topics: [{ name: 'auto0' }] })).topics[0]).toMatchObject({ name: 'auto0', errorCode: 0 })
    const all = await c.request(Metadata, 12, { topics: null })
    const id = all.topics.find((t) => t.name === 'm')!.topicId
    const byId = await c.request(Metadata, 12, { topics: [{ topicId: id, name: null }, { topicId: 'ab'.repeat(16), name: null }] })
    expect(byId.topics[0]).toMatchObject({ name: 'm', errorCode: 0 })
    expect(byId.topics[1]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_ID)
  })
})
