import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { AlterConfigs } from '../../../broker/protocol/messages/alter-configs.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DescribeConfigs } from '../../../broker/protocol/messages/describe-configs.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  const res = await c.request(CreateTopics, 7, { topics: [{ name: 'ac', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'segment.ms', value: '99999' }] }], timeoutMs: 5000, validateOnly: false })
  expect(res.topics[0]!.errorCode).toBe(0)
})
afterAll(async () => b.stop())

const overrides = async (topic: string) => {
  const res = await c.request(DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })
  return Object.fromEntries(res.results[0]!.configs.filter((x) => x.configSource === 1).map((x) => [x.name, x.value]))
}

describe('AlterConfigs', () => {
  test('replaces the whole set of topic overrides in every version; the open log takes them', async () => {
    for (let v = 0; v <= 2; v++) {
      const res = await c.request(AlterConfigs, v, { resources: [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'retention.bytes', value: String(5000 + v) }] }], validateOnly: false })
      expect(res.responses).toEqual([{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'ac' }])
      expect(await overrides('ac')).toEqual({ 'retention.bytes': String(5000 + v) })
    }
    expect(b.broker.partition('ac', 0)!.log.config).toMatchObject({ retentionBytes: 5002, segmentMs: 604_800_000 })
  })

  test('validateOnly changes nothing; a null value, an unknown config and an unknown topic are refused', async () => {
    const alter = (resourceName: string, configs: { name: string; value: string | null }[], validateOnly = false) =>
      c.request(AlterConfigs, 2, { resources: [{ resourceType: 2, resourceName, configs }], validateOnly })
    expect((await alter('ac', [], true)).responses[0]!.errorCode).toBe(0)
    expect(await overrides('ac')).toEqual({ 'retention.bytes': '5002' })
    expect((await alter('ac', [{ name: 'retention.ms', value: null }])).responses[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Null value not supported for : retention.ms' })
    expect((await alter('ac', [{ name: 'bogus', value: '1' }])).responses[0]!.errorCode).toBe(ErrorCode.INVALID_CONFIG)
    expect((await alter('gone', [{ name: 'retention.ms', value: '1' }])).responses[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect(await overrides('ac')).toEqual({ 'retention.bytes': '5002' })
  })
})
