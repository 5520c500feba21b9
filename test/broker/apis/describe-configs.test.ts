import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { brokerConfigDefs, topicConfigDefs } from '../../../broker/config.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DescribeConfigs } from '../../../broker/protocol/messages/describe-configs.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker({ 'log.retention.ms': '3600000' })
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'dc', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'segment.bytes', value: '1048576' }] }], timeoutMs: 1000 })
})
afterAll(async () => b.stop())

describe('DescribeConfigs', () => {
  test('a topic: every config, its value and its source, in every version', async () => {
    for (let v = 0; v <= 4; v++) {
      const res = await c.request(DescribeConfigs, v, { resources: [{ resourceType: 2, resourceName: 'dc', configurationKeys: null }], includeSynonyms: true, includeDocumentation: true })
      const r = res.results[0]!
      expect(r.errorCode).toBe(0)
      expect(r.configs.map((x) => x.name).sort()).toEqual(topicConfigDefs.map((d) => d.name).sort())
      const seg = r.configs.find((x) => x.name === 'segment.bytes')!
      const ret = r.configs.find((x) => x.name === 'retention.ms')!
      const idx = r.configs.find((x) => x.name === 'index.interval.bytes')!
      expect([seg.value, ret.value, idx.value]).toEqual(['1048576', '3600000', '4096'])
      if (v === 0) expect([seg.isDefault, ret.isDefault, idx.isDefault]).toEqual([false, false, true])
      if (v >= 1) {
        expect([seg.configSource, ret.configSource, idx.configSource]).toEqual([1, 4, 5])
        expect(ret.synonyms.map((s) => s.name)).toEqual(['log.retention.ms', 'log.retention.ms'])
      }
      if (v >= 3) expect(seg.configType).toBe(3)
      if (v >= 3) expect(seg.documentation).toBeTruthy()
    }
  })

  test('the broker: every broker config; configurationKeys narrows', async () => {
    const res = await c.request(DescribeConfigs, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: null }, { resourceType: 4, resourceName: '', configurationKeys: ['num.partitions', 'nope'] }] })
    expect(res.results[0]!.configs).toHaveLength(brokerConfigDefs.length)
    expect(res.results[1]!.configs.map((x) => [x.name, x.value])).toEqual([['num.partitions', '1']])
  })

  test('unknown topics, other brokers and unsupported resource types are errors', async () => {
    const res = await c.request(DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'ghost', configurationKeys: null }, { resourceType: 4, resourceName: '9', configurationKeys: null }, { resourceType: 8, resourceName: '1', configurationKeys: null }] })
    expect(res.results.map((r) => r.errorCode)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST])
  })
})
