// confluent-kafka-python (Debian 12's python3-confluent-kafka, on librdkafka 2.0.2) against a broker process: an
// idempotent producer and a consumer group that commits (test/interop/python/confluent_kafka_client.py). The
// stored batches show the idempotence: a producer id and gapless sequence numbers per partition.
// Debian's own python3 runs it: the first python3 on PATH may be another installation without the package.
import { execa } from 'execa'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { CreateTopics } from '../../broker/protocol/messages/create-topics.ts'
import { Fetch } from '../../broker/protocol/messages/fetch.ts'
import { OffsetFetch } from '../../broker/protocol/messages/offset-fetch.ts'
import { iterateBatches } from '../../broker/protocol/record-batch.ts'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { WireClient } from '../helpers/wire.ts'

const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('python/confluent_kafka_client.py', import.meta.url))
const N = 300
const PARTITIONS = 3

let broker: BrokerProcess
let wire: WireClient
beforeAll(async () => {
  broker = await startBroker({ overrides: { 'group.initial.rebalance.delay.ms': 0 } })
  wire = await WireClient.connect(broker.host, broker.port)
})
afterAll(async () => {
  wire?.close()
  await broker?.stop()
})

interface Report {
  version: string
  librdkafka: string
  unflushed: number
  failed: string[]
  delivered: { partition: number; offset: number }[]
  consumed: { partition: number; offset: number; key: string; value: string }[]
  errors: string[]
  committed: Record<string, number>
}

describe('confluent-kafka-python (python3-confluent-kafka)', () => {
  test('an idempotent producer stores every record once; a consumer group reads them all and commits', async () => {
    const created = await wire.request(CreateTopics, 7, { topics: [{ name: 'ckpy', numPartitions: PARTITIONS, replicationFactor: 1 }], timeoutMs: 5000 })
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE)
    const { stdout } = await execa(PYTHON, [SCRIPT, broker.bootstrap, 'ckpy', 'ckpy-group', String(N), String(PARTITIONS)], { timeout: 90_000 })
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Report
    expect([r.version, r.librdkafka]).toEqual(['1.7.0', '2.0.2'])
    expect([r.unflushed, r.failed, r.errors]).toEqual([0, [], []])
    expect(r.delivered).toHaveLength(N)

    const key = (x: { partition: number; offset: number }) => `${x.partition}/${x.offset}`
    expect(r.consumed.map(key).sort()).toEqual(r.delivered.map(key).sort())
    expect(r.consumed.map((m) => m.value).sort()).toEqual(Array.from({ length: N }, (_, i) => `v${i}`).sort())

    const perPartition = Array.from({ length: PARTITIONS }, (_, p) => r.delivered.filter((x) => x.partition === p).length)
    expect(Array.from({ length: PARTITIONS }, (_, p) => r.committed[String(p)])).toEqual(perPartition)
    const fetched = await wire.request(OffsetFetch, 7, { groupId: 'ckpy-group', topics: [{ name: 'ckpy', partitionIndexes: [0, 1, 2] }], requireStable: true })
    expect(fetched.topics[0]!.partitions.map((p) => p.committedOffset)).toEqual(perPartition)

    // Idempotence on the log: one producer id, epoch 0, each batch's sequence continuing the previous one.
    const res = await wire.request(Fetch, 12, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 24,
      topics: [{ topic: 'ckpy', partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: 1 << 22 })) }],
    })
    const producerIds = new Set<number>()
    for (const p of res.responses[0]!.partitions) {
      let next = 0
      for (const b of iterateBatches(p.records ?? Buffer.alloc(0))) {
        producerIds.add(b.producerId)
        expect([b.producerEpoch, b.baseSequence, b.baseOffset]).toEqual([0, next, next])
        next += b.recordCount
      }
      expect(next).toBe(perPartition[p.partitionIndex])
    }
    expect([...producerIds].length).toBe(1)
    expect([...producerIds][0]).toBeGreaterThanOrEqual(0)
  }, 120_000)
})
