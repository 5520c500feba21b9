import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DescribeConfigs } from '../../../broker/protocol/messages/describe-configs.ts'
import { IncrementalAlterConfigs } from '../../../broker/protocol/messages/incremental-alter-configs.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
let dataDir: string
beforeAll(async () => {
  b = await startInProcessBroker()
  dataDir = b.dataDir
  c = await b.client()
  const res = await c.request(CreateTopics, 7, { topics: ['ic', 'errs'].map((name) => ({ name, numPartitions: 1, replicationFactor: 1 })) as never, timeoutMs: 5000, validateOnly: false })
  expect(res.topics.every((t) => t.errorCode === 0)).toBe(true)
})
afterAll(async () => b.stop())

type Op = { name: string; configOperation: number; value: string | null }
const alter = (resources: { resourceType: number; resourceName: string; configs: Op[] }[], version = 1, validateOnly = false) =>
  c.request(IncrementalAlterConfigs, version, { resources, validateOnly })
const topicConfig = async (topic: string, name: string) => {
  const res = await c.request(DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: topic, configurationKeys: [name] }], includeSynonyms: true, includeDocumentation: false })
  return res.results[0]!.configs[0]!
}

describe('IncrementalAlterConfigs', () => {
  test('SET and DELETE a topic config in both versions: DescribeConfigs and the open log see it', async () => {
    for (const v of [0, 1]) {
      const res = await alter([{ resourceType: 2, resourceName: 'ic', configs: [{ name: 'retention.ms', configOperation: 0, value: String(1000 + v) }] }], v)
      expect(res.responses).toEqual([{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'ic' }])
      expect(await topicConfig('ic', 'retention.ms')).toMatchObject({ value: String(1000 + v), configSource: 1 })
      expect(b.broker.partition('ic', 0)!.log.config.retentionMs).toBe(1000 + v)
    }
    await alter([{ resourceType: 2, resourceName: 'ic', configs: [{ name: 'retention.ms', configOperation: 1, value: null }] }])
    expect(await topicConfig('ic', 'retention.ms')).toMatchObject({ value: '604800000', configSource: 5 })
    expect(b.broker.partition('ic', 0)!.log.config.retentionMs).toBe(604_800_000)
  })

  test('a cluster-wide broker default applies to topics without their own value, as DYNAMIC_DEFAULT_BROKER_CONFIG', async () => {
    const res = await alter([{ resourceType: 4, resourceName: '', configs: [{ name: 'log.retention.ms', configOperation: 0, value: '7777' }] }])
    expect(res.responses[0]!.errorCode).toBe(0)
    expect(await topicConfig('errs', 'retention.ms')).toMatchObject({ value: '7777', configSource: 3 })
    expect(b.broker.partition('errs', 0)!.log.config.retentionMs).toBe(7777)
    const broker = await c.request(DescribeConfigs, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: ['log.retention.ms', 'node.id'] }], includeSynonyms: true, includeDocumentation: false })
    expect(broker.results[0]!.configs.map((x) => [x.name, x.value, x.configSource, x.readOnly])).toEqual([['node.id', '1', 4, true], ['log.retention.ms', '7777', 3, false]])
    const own = await alter([{ resourceType: 4, resourceName: '1', configs: [{ name: 'log.retention.ms', configOperation: 0, value: '8888' }] }])
    expect(own.responses[0]!.errorCode).toBe(0)
    expect(await topicConfig('errs', 'retention.ms')).toMatchObject({ value: '8888', configSource: 2 })
  })

  test('the change is in the metadata log: a restarted broker has it', async () => {
    await alter([{ resourceType: 2, resourceName: 'ic', configs: [{ name: 'segment.ms', configOperation: 0, value: '123456' }] }])
    await b.stop()
    b = await startInProcessBroker({}, { dataDir })
    c = await b.client()
    expect(await topicConfig('ic', 'segment.ms')).toMatchObject({ value: '123456', configSource: 1 })
    expect(await topicConfig('errs', 'retention.ms')).toMatchObject({ value: '8888', configSource: 2 })
    expect(b.broker.partition('ic', 0)!.log.config.segmentMs).toBe(123_456)
  })

  test('validateOnly changes nothing', async () => {
    const res = await alter([{ resourceType: 2, resourceName: 'ic', configs: [{ name: 'flush.ms', configOperation: 0, value: '5' }] }], 1, true)
    expect(res.responses[0]!.errorCode).toBe(0)
    expect(await topicConfig('ic', 'flush.ms')).toMatchObject({ value: '1000', configSource: 5 })
  })

  test("errors per resource, in Kafka's words", async () => {
    const one = async (resourceType: number, resourceName: string, configs: Op[]) => (await alter([{ resourceType, resourceName, configs }])).responses[0]!
    const set = (name: string, value: string | null, configOperation = 0) => ({ name, configOperation, value })
    const twice = await alter([{ resourceType: 2, resourceName: 'errs', configs: [] }, { resourceType: 2, resourceName: 'errs', configs: [] }])
    expect(twice.responses.map((r) => [r.errorCode, r.errorMessage])).toEqual([[ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'], [ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.']])
    expect(await one(2, 'errs', [set('retention.ms', '1'), set('retention.ms', null, 1)])).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Error due to duplicate config keys' })
    expect(await one(2, 'errs', [set('retention.ms', null), set('flush.ms', null, 2)])).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Null value not supported for : retention.ms, flush.ms' })
    expect(await one(2, 'errs', [set('retention.ms', '1', 9)])).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST })
    expect(await one(2, 'errs', [set('retention.ms', '1', 2)])).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Config value append is not allowed for config key: retention.ms' })
    expect(await one(2, 'errs', [set('retention.mss', '1')])).toMatchObject({ errorCode: ErrorCode.INVALID_CONFIG, errorMessage: 'Unknown topic config name: retention.mss' })
    expect((await one(2, 'errs', [set('retention.ms', 'soon')])).errorCode).toBe(ErrorCode.INVALID_CONFIG)
    expect(await one(2, 'nope', [set('retention.ms', '1')])).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: "The topic 'nope' does not exist." })
    expect(await one(4, '', [set('node.id', '3')])).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Cannot update these configs dynamically: Set(node.id)' })
    expect((await one(4, 'x', [set('log.retention.ms', '1')])).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await one(8, '1', [set('kafka', 'DEBUG')])).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect(await topicConfig('errs', 'retention.ms')).toMatchObject({ configSource: 2 })
  })
})
