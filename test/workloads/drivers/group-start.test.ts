// A consumer that starts while the cluster cannot yet serve its group keeps trying, as the Java consumer's
// poll() does, instead of failing the run: under load the group coordinator (a __consumer_offsets leader) can
// take seconds to appear, and @platformatic/kafka gives up after a few quick retries. Here the only broker is
// dead when the consumer starts and comes back a moment later.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import type { DriverError } from '../../../workloads/driver.ts'
import { createDriver } from '../../../workloads/drivers/registry.ts'
import { until } from '../../helpers/until.ts'

let cluster: LocalCluster
beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 1, config: { 'group.initial.rebalance.delay.ms': '0' } })
}, 60_000)
afterAll(async () => {
  await cluster?.close()
})

test('platformatic: a consumer started while its broker is down joins once the broker is back', async () => {
  const node = cluster.nodes[0]!
  const driver = await createDriver('platformatic', { bootstrap: [node.address], clientId: 'group-start', connectTimeoutMs: 1000, requestTimeoutMs: 3000 })
  try {
    const admin = await driver.admin()
    await admin.createTopics([{ name: 'late', partitions: 1, replicationFactor: 1 }])
    await until('the partition led', async () => (await admin.metadata(['late']))[0]?.partitions.every((p) => p.leader > 0))
    await admin.close()
    const producer = await driver.producer({ acks: -1 })
    const sent = await Promise.all(Array.from({ length: 10 }, (_, i) => new Promise<{ ok: boolean }>((r) => producer.send({ topic: 'late', partition: 0, records: [{ key: null, value: Buffer.from(`v${i}`) }] }, r))))
    expect(sent.every((s) => s.ok)).toBe(true)
    await producer.close()

    await node.kill()
    const seen = new Set<string>()
    const errors: DriverError[] = []
    const consumer = await driver.consumer({
      group: { groupId: 'group-start', topics: ['late'] },
      onRecords: (b) => {
        for (const r of b.records) seen.add(r.value!.toString())
      },
      onError: (e) => errors.push(e),
    })
    const started = consumer.start()
    let settled = false
    void started.then(() => (settled = true), () => (settled = true))
    await until('the consumer to report a failed attempt to join', () => errors.length > 0)
    expect(settled).toBe(false)
    await node.start()
    await started
    await until('every record read', () => seen.size === 10)
    await consumer.close()
  } finally {
    await driver.close()
  }
}, 90_000)
