// Every driver against a real reference broker process: produce N records with acks 1 and -1, check the
// acknowledged offsets, and read the records back (with the driver's own consumer where it can assign
// partitions, and always with the raw driver as an independent reader).
// The raw driver has no group consumer, so its group test is skipped with that reason.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Fetch } from '../../broker/protocol/messages/fetch.ts'
import { iterateBatches } from '../../broker/protocol/record-batch.ts'
import { removeDir, startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import {
  partitionForKey,
  sendAsync,
  type ConsumedRecord,
  type Driver,
  type DriverProducer,
  type ProduceResult,
  type TopicPartition,
} from '../../workloads/driver.ts'
import { createDriver, driverNames, type DriverName } from '../../workloads/drivers/registry.ts'
import { BatchTemplate, RawCluster, rawDriver, type RawDriver } from '../../workloads/drivers/raw.ts'
import { PayloadPool, readPayloadHeader } from '../../workloads/generators.ts'

let broker: BrokerProcess

beforeAll(async () => {
  broker = await startBroker()
})

afterAll(async () => {
  await broker?.stop()
  if (broker) removeDir(broker.dataDir)
})

let topicSeq = 0
const topicName = (what: string) => `${what}-${process.pid}-${topicSeq++}`

interface Sent {
  partition: number
  value: Buffer
  result?: ProduceResult
}

/** Sends n records (a third keyed, the rest to explicit partitions; some above 600 bytes) and waits for all acks. */
async function produceN(d: Driver, topic: string, partitions: number, n: number, acks: 1 | -1): Promise<Sent[]> {
  const producer = await d.producer({ acks, lingerMs: 2, maxInFlight: 5 })
  const sent: Sent[] = []
  for (let i = 0; i < n; i++) {
    const value = Buffer.alloc(i % 7 === 0 ? 1500 : 40 + (i % 50), i % 251)
    value.write(`v${i};`)
    const key = i % 3 === 0 ? Buffer.from(`key-${i % 17}`) : null
    const partition = key ? partitionForKey(key, partitions) : i % partitions
    const s: Sent = { partition, value }
    sent.push(s)
    producer.send({ topic, partition, records: [{ key, value }] }, (r) => (s.result = r))
  }
  await producer.flush()
  await producer.close()
  return sent
}

function checkOffsets(sent: Sent[], partitions: number): void {
  for (const s of sent) expect(s.result, 'every send completes').toBeDefined()
  const failed = sent.filter((s) => !s.result!.ok)
  expect(failed.map((s) => s.result)).toEqual([])
  for (let p = 0; p < partitions; p++) {
    const offsets = sent
      .filter((s) => s.partition === p)
      .map((s) => (s.result as { baseOffset: number }).baseOffset)
      .sort((a, b) => a - b)
    expect(offsets).toEqual(offsets.map((_, i) => i))
  }
}

/** A promise to settle from callbacks: consumers fail the test at their first error instead of hanging. */
function deferred() {
  let resolve!: () => void
  let reject!: (e: Error) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { done, resolve, reject }
}

/** Reads every partition from offset 0 until `counts` records arrived, with a manual-assignment consumer. */
async function readBack(d: Driver, topic: string, counts: number[]): Promise<Map<string, ConsumedRecord>> {
  const got = new Map<string, ConsumedRecord>()
  const total = counts.reduce((a, b) => a + b, 0)
  const { done, resolve, reject } = deferred()
  const assignment: TopicPartition[] = counts.map((_, partition) => ({ topic, partition }))
  const consumer = await d.consumer({
    assignment,
    from: 'earliest',
    maxWaitMs: 100,
    onRecords: (b) => {
      for (const r of b.records) got.set(`${b.partition}@${r.offset}`, r)
      if (got.size >= total) resolve()
    },
    onError: (e) => reject(new Error(`consumer error ${e.name}: ${e.message}`)),
  })
  try {
    await consumer.start()
    await done
  } finally {
    await consumer.close()
  }
  return got
}

function checkReadBack(sent: Sent[], got: Map<string, ConsumedRecord>): void {
  let mismatches = 0
  for (const s of sent) {
    const r = got.get(`${s.partition}@${(s.result as { baseOffset: number }).baseOffset}`)
    if (!r || !r.value || !r.value.equals(s.value)) mismatches++
  }
  expect(mismatches).toBe(0)
  expect(got.size).toBe(sent.length)
}

const N = 300
const PARTITIONS = 3

describe.each(driverNames.map((n) => [n] as [DriverName]))('%s driver', (name) => {
  for (const acks of [1, -1] as const) {
    it(`produces ${N} records with acks ${acks} and reads them back`, async () => {
      const d = await createDriver(name, { bootstrap: [broker.bootstrap], clientId: `test-${name}` })
      const reader = rawDriver({ bootstrap: [broker.bootstrap], clientId: 'test-reader' })
      try {
        const topic = topicName(`${name}-acks${acks === -1 ? 'all' : acks}`)
        const admin = await d.admin()
        await admin.createTopics([{ name: topic, partitions: PARTITIONS, replicationFactor: 1 }])
        const md = await admin.metadata([topic])
        expect(md[0]?.partitions.map((p) => p.leader)).toEqual([broker.nodeId, broker.nodeId, broker.nodeId])
        const sent = await produceN(d, topic, PARTITIONS, N, acks)
        checkOffsets(sent, PARTITIONS)
        const counts = Array.from({ length: PARTITIONS }, (_, p) => sent.filter((s) => s.partition === p).length)
        expect((await admin.listOffsets(topic, 'latest')).map((o) => o.offset)).toEqual(counts)
        expect((await admin.listOffsets(topic, 'earliest')).map((o) => o.offset)).toEqual([0, 0, 0])
        await admin.close()
        checkReadBack(sent, await readBack(reader, topic, counts))
        if (d.capabilities.manualAssignment) checkReadBack(sent, await readBack(d, topic, counts))
      } finally {
        await d.close()
        await reader.close()
      }
    })
  }

  it('reads with a consumer group', async (ctx) => {
    const d = await createDriver(name, { bootstrap: [broker.bootstrap], clientId: `test-${name}-group` })
    if (!d.capabilities.consumerGroups) {
      await d.close()
      ctx.skip(`the ${name} driver has no consumer groups`)
    }
    try {
      const topic = topicName(`${name}-group`)
      const admin = await d.admin()
      await admin.createTopics([{ name: topic, partitions: PARTITIONS, replicationFactor: 1 }])
      await admin.close()
      const sent = await produceN(d, topic, PARTITIONS, N, -1)
      checkOffsets(sent, PARTITIONS)
      const got = new Map<string, ConsumedRecord>()
      const assigned: TopicPartition[] = []
      const { done, resolve, reject } = deferred()
      const consumer = await d.consumer({
        group: { groupId: `g-${topic}`, topics: [topic] },
        from: 'earliest',
        onAssign: (tps) => assigned.push(...tps),
        onRecords: (b) => {
          for (const r of b.records) got.set(`${b.partition}@${r.offset}`, r)
          if (got.size >= N) resolve()
        },
        onError: (e) => reject(new Error(`consumer error ${e.name}: ${e.message}`)),
      })
      try {
        await consumer.start()
        await done
      } finally {
        await consumer.close()
      }
      expect(assigned.map((t) => t.partition).sort()).toEqual([0, 1, 2])
      checkReadBack(sent, got)
    } finally {
      await d.close()
    }
  })
})

describe('raw driver specifics', () => {
  it('pipelines pre-encoded, stamped batches and keeps every value id and offset', async () => {
    const d: RawDriver = rawDriver({ bootstrap: [broker.bootstrap] })
    try {
      const topic = topicName('raw-stamped')
      const admin = await d.admin()
      await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 1 }])
      const producer = await d.producer({ acks: 1, maxInFlight: 16 })
      const pool = new PayloadPool(100, 1)
      const template = new BatchTemplate(Array.from({ length: 10 }, () => pool.make(100, 0, 0)))
      const results: ProduceResult[] = []
      for (let b = 0; b < 200; b++) producer.sendEncoded(topic, 0, template.stamp(b * 10, 1000 + b), 10, (r) => results.push(r))
      await producer.flush()
      expect(results.length).toBe(200)
      expect(results.every((r) => r.ok)).toBe(true)
      expect(results.map((r) => (r as { baseOffset: number }).baseOffset).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i * 10))
      const got = await readBack(d, topic, [2000])
      for (let offset = 0; offset < 2000; offset++) {
        const h = readPayloadHeader(got.get(`0@${offset}`)?.value ?? null)
        expect(h?.valueId).toBe(offset)
        expect(h?.intendedMs).toBe(1000 + Math.floor(offset / 10))
      }
      await admin.close()
    } finally {
      await d.close()
    }
  })

  it('acks 0 completes without offsets and the records still arrive', async () => {
    const d = rawDriver({ bootstrap: [broker.bootstrap] })
    try {
      const topic = topicName('raw-acks0')
      const admin = await d.admin()
      await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 1 }])
      const producer = await d.producer({ acks: 0 })
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sendAsync(producer, { topic, partition: 0, records: [{ key: null, value: Buffer.from(`x${i}`) }] })))
      expect(results.every((r) => r.ok && r.baseOffset === -1)).toBe(true)
      const got = await readBack(d, topic, [20])
      expect(got.size).toBe(20)
      await admin.close()
    } finally {
      await d.close()
    }
  })

  it('fails definitely, without sending, to a partition that does not exist', async () => {
    const d = rawDriver({ bootstrap: [broker.bootstrap] })
    try {
      const topic = topicName('raw-missing')
      const admin = await d.admin()
      await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 1 }])
      const producer = await d.producer({ acks: -1 })
      const r = await sendAsync(producer, { topic, partition: 5, records: [{ key: null, value: Buffer.from('x') }] })
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error).toMatchObject({ code: 3, name: 'UNKNOWN_TOPIC_OR_PARTITION', definite: true })
      const none = await sendAsync(producer, { topic: topicName('raw-nosuchtopic'), partition: 0, records: [{ key: null, value: Buffer.from('x') }] })
      expect(none.ok).toBe(false)
      if (!none.ok) expect(none.error.definite).toBe(true)
      await admin.close()
    } finally {
      await d.close()
    }
  })

  it('writes idempotent batches with a producer id and sequences', async () => {
    const d = rawDriver({ bootstrap: [broker.bootstrap] })
    try {
      const topic = topicName('raw-idempotent')
      const admin = await d.admin()
      await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 1 }])
      const producer = await d.producer({ acks: -1, idempotent: true })
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sendAsync(producer, { topic, partition: 0, records: [{ key: null, value: Buffer.from(`i${i}`) }] })))
      expect(results.every((r) => r.ok)).toBe(true)
      expect(producer.producerIdentity?.producerId).toBeGreaterThanOrEqual(0)
      await admin.close()
    } finally {
      await d.close()
    }
  })

  it('sends pre-encoded batches through the DriverProducer capability, idempotent, in sequence', async () => {
    const d = rawDriver({ bootstrap: [broker.bootstrap] })
    try {
      const topic = topicName('raw-preencoded')
      const admin = await d.admin()
      await admin.createTopics([{ name: topic, partitions: 2, replicationFactor: 1 }])
      const producer = await d.producer({ acks: -1, idempotent: true, maxInFlight: 5 })
      const sender = (producer as DriverProducer).preEncoded!
      const pool = new PayloadPool(100, 1)
      const template = sender.template(Array.from({ length: 10 }, () => pool.make(100, 0, 0)))
      expect(template).toMatchObject({ recordCount: 10, valueBytes: 1000 })
      const results: ProduceResult[] = []
      for (let b = 0; b < 40; b++) sender.send(topic, b % 2, template, b * 10, 1000 + b, (r) => results.push(r))
      await producer.flush()
      expect(results.length).toBe(40)
      expect(results.filter((r) => !r.ok)).toEqual([])
      const got = await readBack(d, topic, [200, 200])
      expect(readPayloadHeader(got.get('1@190')?.value ?? null)).toEqual({ valueId: 390, intendedMs: 1039 })
      // Each batch as stored: this producer's id, and sequences that follow on in each partition.
      const cluster = new RawCluster({ bootstrap: [broker.bootstrap] }, 2)
      try {
        await cluster.ensureTopic(topic, 10_000)
        const conn = await cluster.node(cluster.leaderOf(topic, 1))
        const res = await conn.call(
          Fetch,
          {
            replicaId: -1,
            maxWaitMs: 0,
            minBytes: 1,
            maxBytes: 1 << 20,
            isolationLevel: 0,
            sessionId: 0,
            sessionEpoch: -1,
            topics: [{ topic, partitions: [{ partition: 1, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
          },
          12,
        )
        const batches = [...iterateBatches(res.responses[0]!.partitions[0]!.records!)]
        const id = producer.producerIdentity!.producerId
        expect(batches.map((b) => [b.producerId, b.baseSequence])).toEqual(Array.from({ length: 20 }, (_, i) => [id, i * 10]))
      } finally {
        cluster.close()
      }
      await admin.close()
    } finally {
      await d.close()
    }
  })

  it('gives a clear error when no bootstrap server answers', async () => {
    const d = rawDriver({ bootstrap: ['127.0.0.1:1'], connectTimeoutMs: 2000 })
    await expect(d.admin()).rejects.toThrow(/no bootstrap server answered/)
  })
})
