// librdkafka's admin API (confluent-kafka-python 1.7.0 on librdkafka 2.0.2, Debian 12's packages, run by Debian's
// python3) against a broker process: CreatePartitions, AlterConfigs and DescribeConfigs, then writes to the new
// partitions (test/interop/python/confluent_kafka_admin.py). Before CreatePartitions existed librdkafka answered
// "not supported by broker".
import { execa } from 'execa'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'

const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('python/confluent_kafka_admin.py', import.meta.url))

let broker: BrokerProcess
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(async () => {
  await broker?.stop()
})

test('confluent-kafka-python admin: create_partitions, alter_configs, describe_configs, then produce to every partition', async () => {
  const { stdout } = await execa(PYTHON, [SCRIPT, broker.bootstrap, 'ckadmin'], { timeout: 90_000 })
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>
  expect(r).toMatchObject({ dry: null, shrink: 'INVALID_PARTITIONS', partitions: 3, unflushed: 0, delivered: [0, 1, 2], errors: [] })
  // librdkafka's ConfigSource: 1 DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG.
  expect(r.configs).toEqual({
    'retention.ms': { value: '3600000', source: 1 },
    'min.insync.replicas': { value: '1', source: 1 },
    'segment.ms': { value: '604800000', source: 5 },
  })
})
