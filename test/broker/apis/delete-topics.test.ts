import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { existsSync, readdirSync } from 'node:fs'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DeleteTopics } from '../../../broker/protocol/messages/delete-topics.ts'
import { until } from '../../helpers/until.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
})
afterAll(async () => b.stop())

describe('DeleteTopics', () => {
  test('deletes by name in v0-5 and by name or id in v6; the partition directories go', async () => {
    for (let v = 0; v <= 6; v++) {
      const created = await c.request(CreateTopics, 7, { topics: [{ name: `d${v}`, numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 })
      const id = created.topics[0]!.topicId
      const res = v < 6
        ? await c.request(DeleteTopics, v, { topicNames: [`d${v}`], timeoutMs: 1000 })
        : await c.request(DeleteTopics, v, { topics: [{ name: null, topicId: id }], timeoutMs: 1000 })
      expect(res.responses[0]).toMatchObject({ errorCode: 0 })
      expect(b.broker.topic(`d${v}`)).toBeUndefined()
    }
    // The broker may still be removing them when it answers.
    await until('the partition directories removed', () => readdirSync(b.dataDir).filter((n) => /^d\d-\d+$/.test(n) && existsSync(`${b.dataDir}/${n}`)).length === 0, { intervalMs: 5 })
  })

  test('internal topics cannot be deleted', async () => {
    const res = await c.request(DeleteTopics, 6, { topics: [{ name: '__consumer_offsets', topicId: '0'.repeat(32) }], timeoutMs: 1000 })
    expect(res.responses[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect(b.broker.topic('__consumer_offsets')).toBeDefined()
  })

  test('unknown names and ids are errors', async () => {
    const res = await c.request(DeleteTopics, 6, { topics: [{ name: 'ghost', topicId: '0'.repeat(32) }, { name: null, topicId: 'f'.repeat(32) }], timeoutMs: 1000 })
    expect(res.responses.map((r) => r.errorCode)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID])
  })

  test('delete.topic.enable=false refuses', async () => {
    const off = await startInProcessBroker({ 'delete.topic.enable': 'false' })
    const oc = await off.client()
    await oc.request(CreateTopics, 7, { topics: [{ name: 'keep', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
    const res = await oc.request(DeleteTopics, 6, { topics: [{ name: 'keep', topicId: '0'.repeat(32) }], timeoutMs: 1000 })
    expect(res.responses[0]!.errorCode).toBe(ErrorCode.TOPIC_DELETION_DISABLED)
    await off.stop()
  })
})
