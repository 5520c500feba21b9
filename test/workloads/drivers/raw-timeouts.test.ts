// The raw producer's two timeouts (Java's request.timeout.ms and delivery.timeout.ms) against a real broker
// frozen with SIGSTOP: its TCP connections stay open and nothing answers. In-flight requests fail at the request
// timeout; sends that queue behind metadata refreshes and reconnects (each of which waits out a request
// timeout of its own) fail at their delivery timeout instead of one after another; after SIGCONT sends succeed.
// An idempotent producer retries within the delivery timeout: sends caught by a freeze longer than the request
// timeout and shorter than the delivery timeout all succeed after SIGCONT, each record stored once.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import type { ProduceResult } from '../../../workloads/driver.ts'
import { RawCluster, rawDriver } from '../../../workloads/drivers/raw.ts'
import { until } from '../../helpers/until.ts'

let cluster: LocalCluster
beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 1 })
}, 60_000)
afterAll(async () => {
  cluster?.nodes[0]?.resume()
  await cluster?.close()
})

it('sends to a frozen leader fail at the request or delivery timeout, never hang, and succeed after it resumes', async () => {
  const node = cluster.nodes[0]!
  const driver = rawDriver({ bootstrap: cluster.bootstrap, clientId: 'raw-timeouts', requestTimeoutMs: 1000, connectTimeoutMs: 1000 })
  try {
    const admin = await driver.admin()
    await admin.createTopics([{ name: 'frozen', partitions: 1, replicationFactor: 1 }])
    await admin.close()
    const producer = await driver.producer({ acks: -1, deliveryTimeoutMs: 2500 })
    // Pre-encoded sends, as raw ingest makes them: each is a request of its own (no batching merges them).
    const template = producer.preEncoded.template([Buffer.alloc(64)])
    let valueId = 0
    const send = (): Promise<ProduceResult> => new Promise((r) => producer.preEncoded.send('frozen', 0, template, valueId++, performance.now(), r))
    expect((await send()).ok).toBe(true)

    node.pause()
    const outcomes: (ProduceResult | null)[] = []
    // 60 sends 50 ms apart, every one behind the last in the producer's slow path: one after another, each
    // waiting out a request timeout, the last would settle about a minute later.
    for (let i = 0; i < 60; i++) {
      const k = outcomes.push(null) - 1
      void send().then((r) => (outcomes[k] = r))
      await new Promise((r) => setTimeout(r, 50))
    }
    await until('every send made during the pause settled while the broker is still frozen', () => outcomes.every((o) => o !== null), 20_000)
    const failures = outcomes.filter((o): o is Extract<ProduceResult, { ok: false }> => o !== null && !o.ok)
    expect(failures.length).toBe(60)
    expect([...new Set(failures.map((f) => f.error.name))].filter((n) => n !== 'TIMEOUT' && n !== 'NOT_CONNECTED')).toEqual([])
    expect(failures.some((f) => f.error.definite), 'some sends were never written').toBe(true)
    expect(failures.some((f) => !f.error.definite), 'the first ones were in flight').toBe(true)

    node.resume()
    await until('a send succeeds after SIGCONT', async () => (await send()).ok, 30_000)
    await producer.close()
  } finally {
    node.resume()
    await driver.close()
  }
}, 90_000)

it('an idempotent producer retries sends caught by a freeze longer than the request timeout: all succeed, each stored once', async () => {
  const node = cluster.nodes[0]!
  const connect = { bootstrap: cluster.bootstrap, clientId: 'raw-retries', requestTimeoutMs: 1000, connectTimeoutMs: 1000 }
  const driver = rawDriver(connect)
  try {
    const admin = await driver.admin()
    await admin.createTopics([{ name: 'retried', partitions: 1, replicationFactor: 1 }])
    await admin.close()
    const producer = await driver.producer({ acks: -1, idempotent: true, maxInFlight: 5, lingerMs: 0, deliveryTimeoutMs: 30_000 })
    const send = (value: string): Promise<ProduceResult> => new Promise((r) => producer.send({ topic: 'retried', partition: 0, records: [{ key: null, value: Buffer.from(value) }] }, r))
    expect((await send('before')).ok).toBe(true)

    node.pause()
    const outcomes: Promise<ProduceResult>[] = []
    for (let i = 0; i < 20; i++) {
      outcomes.push(send(`v${i}`))
      await new Promise((r) => setTimeout(r, 20))
    }
    // A request sent after those sends, timed out: they have been in flight longer than the request timeout.
    const probe = new RawCluster(connect, 1)
    try {
      await expect(probe.any().then((c) => c.call(Metadata, { topics: [], allowAutoTopicCreation: false }))).rejects.toThrow(/within 1000 ms/)
    } finally {
      probe.close()
    }
    node.resume()
    const results = await Promise.all(outcomes)
    expect(results.filter((r) => !r.ok)).toEqual([])
    await producer.close()

    const seen: string[] = []
    const consumer = await driver.consumer({ assignment: [{ topic: 'retried', partition: 0 }], onRecords: (b) => b.records.forEach((r) => seen.push(r.value!.toString())) })
    await consumer.start()
    await until('every record read', () => seen.length >= 21)
    await consumer.close()
    expect(seen).toEqual(['before', ...Array.from({ length: 20 }, (_, i) => `v${i}`)])
  } finally {
    node.resume()
    await driver.close()
  }
}, 90_000)
