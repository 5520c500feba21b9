// The raw driver's idempotent producer keeps each partition's send order through a leader's death (issue 13:
// leader-kill.yaml with the raw driver once acked values below an earlier send of theirs). A send that waits
// for a connection is encoded, and so gets its sequence numbers, only when it goes out; when its turn failed
// (the dead leader refused the connection) it used to go to the back of the waiting sends, so the partition's
// later sends took the lower sequence numbers and the broker wrote them first, as the sequences said.
// Java's producer never lets a retried batch fall behind its partition's later ones (RecordAccumulator
// reenqueue, in sequence order). 3 real brokers; the partition's leader is SIGKILLed while the producer has
// nothing in flight, so it still names the dead leader when the next sends come.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import type { ProduceResult } from '../../../workloads/driver.ts'
import { rawDriver } from '../../../workloads/drivers/raw.ts'
import { until } from '../../helpers/until.ts'
import { FAST_FAILOVER } from '../../helpers/fast-failover.ts'

let cluster: LocalCluster
beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: FAST_FAILOVER })
}, 120_000)
afterAll(async () => {
  await cluster?.close()
})

const bootstrap = (): string[] => cluster.nodes.filter((n) => n.running).map((n) => n.address)

/** Partition 0's leader, asked through the brokers that are up (a fresh client, so nothing is cached). */
async function leaderOf(topic: string): Promise<number> {
  const d = rawDriver({ bootstrap: bootstrap(), clientId: 'probe' })
  try {
    const admin = await d.admin()
    return (await admin.metadata([topic]))[0]?.partitions[0]?.leader ?? -1
  } finally {
    await d.close()
  }
}

test("sends that wait for a dead leader's successor are written in the order they were made", async () => {
  const topic = 'raw-order-after-leader-death'
  const setup = rawDriver({ bootstrap: bootstrap(), clientId: 'setup' })
  const admin = await setup.admin()
  await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }])
  await until('a full ISR', async () => (await admin.metadata([topic]))[0]?.partitions.every((p) => p.leader > 0 && p.isr.length === 3))
  await setup.close()

  const d = rawDriver({ bootstrap: bootstrap(), clientId: 'ordered' })
  try {
    // batchBytes 1: every send() is a batch of its own, so each gets its own sequence numbers.
    const producer = await d.producer({ acks: -1, idempotent: true, batchBytes: 1 })
    const send = (value: string): Promise<ProduceResult> => new Promise((resolve) => producer.send({ topic, partition: 0, records: [{ key: null, value: Buffer.from(value) }] }, resolve))
    expect((await send('first')).ok).toBe(true)

    const dead = await leaderOf(topic)
    await cluster.nodes.find((n) => n.id === dead)!.kill()
    await until('a new leader', async () => {
      const l = await leaderOf(topic)
      return l > 0 && l !== dead
    })

    const values = ['a', 'b', 'c', 'd']
    const results = await Promise.all(values.map(send))
    expect(results.map((r) => r.ok)).toEqual(values.map(() => true))
    const offsets = results.map((r) => (r.ok ? r.baseOffset : -1))
    expect(offsets, `offsets of ${values.join(', ')}`).toEqual([...offsets].sort((x, y) => x - y))
  } finally {
    await d.close()
  }
}, 90_000)
