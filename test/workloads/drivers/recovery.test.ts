// Every driver that claims consumer groups recovers from a broker's death the way Kafka's Java client does
// (issue 13 item 9): 3 reference brokers, RF=3, min.insync.replicas=2, acks=all idempotent producers; a group
// member reads, then the leader of a partition, or the group's coordinator, is SIGKILLed and stays dead.
// Records written afterwards must still reach the group (new leaders, a new coordinator found again), and the
// harness must not crash on anything a client library throws.
import { Consumer } from '@platformatic/kafka'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import type { Driver, DriverConsumer, DriverError, DriverProducer, ProduceResult } from '../../../workloads/driver.ts'
import { createDriver, type DriverName } from '../../../workloads/drivers/registry.ts'
import { until } from '../../helpers/until.ts'
import { FAST_FAILOVER } from '../../helpers/fast-failover.ts'

const CONFIG = {
  ...FAST_FAILOVER,
  'offsets.topic.num.partitions': '3',
  'group.initial.rebalance.delay.ms': '0',
}

let cluster: LocalCluster
beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
}, 120_000)
afterAll(async () => {
  await cluster?.close()
})

const bootstrap = (): string[] => cluster.nodes.filter((n) => n.running).map((n) => n.address)

/** The group's coordinator as FindCoordinator answers now (a throwaway consumer that never joins). */
async function coordinatorOf(groupId: string): Promise<number> {
  const c = new Consumer({ clientId: 'probe', groupId, bootstrapBrokers: bootstrap() })
  try {
    return await c.findGroupCoordinator()
  } finally {
    await c.close()
  }
}

interface Rig {
  driver: Driver
  producer: DriverProducer
  consumer: DriverConsumer
  seen: Set<string>
  errors: DriverError[]
  write(prefix: string, n: number): Promise<ProduceResult[]>
  close(): Promise<void>
}

async function rig(name: DriverName, topic: string, groupId: string): Promise<Rig> {
  const driver = await createDriver(name, { bootstrap: bootstrap(), clientId: `recovery-${name}`, requestTimeoutMs: 20_000 })
  const admin = await driver.admin()
  await admin.createTopics([{ name: topic, partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }])
  await until('every partition led', async () => (await admin.metadata([topic]))[0]?.partitions.every((p) => p.leader > 0 && p.isr.length === 3))
  await admin.close()
  const seen = new Set<string>()
  const errors: DriverError[] = []
  const consumer = await driver.consumer({
    group: { groupId, topics: [topic] },
    onRecords: (b) => {
      for (const r of b.records) seen.add(r.value!.toString())
    },
    onError: (e) => errors.push(e),
  })
  await consumer.start()
  const producer = await driver.producer({ acks: -1, idempotent: true })
  const write = (prefix: string, n: number): Promise<ProduceResult[]> =>
    Promise.all(
      Array.from({ length: n }, (_, i) => new Promise<ProduceResult>((resolve) => producer.send({ topic, partition: i % 3, records: [{ key: null, value: Buffer.from(`${prefix}-${i}`) }] }, resolve))),
    )
  return {
    driver,
    producer,
    consumer,
    seen,
    errors,
    write,
    close: () => driver.close(),
  }
}

const missing = (seen: Set<string>, prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`).filter((v) => !seen.has(v))

describe.each(['platformatic', 'kafkajs'] as const)('%s consumer groups survive a dead broker', (name) => {
  test('the leader of a partition and then the group coordinator are killed; every later record is read', async () => {
    const topic = `recovery-${name}`
    const groupId = `recovery-${name}-group`
    const r = await rig(name, topic, groupId)
    const restart: (() => Promise<void>)[] = []
    try {
      expect((await r.write('before', 30)).every((x) => x.ok)).toBe(true)
      await until('the group reads the first records', () => missing(r.seen, 'before', 30).length === 0, { timeoutMs: 60_000 })

      const admin = await r.driver.admin()
      const leader = (await admin.metadata([topic]))[0]!.partitions[0]!.leader
      await admin.close()
      const leaderNode = cluster.nodes.find((n) => n.id === leader)!
      await leaderNode.kill()
      restart.push(() => leaderNode.start())
      const afterLeader = await r.write('after-leader', 30)
      expect(afterLeader.filter((x) => !x.ok)).toEqual([])
      await until(`the group reads past the leader's death (missing ${missing(r.seen, 'after-leader', 30).length})`, () => missing(r.seen, 'after-leader', 30).length === 0, { timeoutMs: 60_000 })

      // Bring the dead leader back, so that the coordinator's death leaves two of three replicas.
      await leaderNode.start()
      restart.pop()
      const coordinator = await coordinatorOf(groupId)
      const coordinatorNode = cluster.nodes.find((n) => n.id === coordinator)!
      await coordinatorNode.kill()
      restart.push(() => coordinatorNode.start())
      const afterCoordinator = await r.write('after-coordinator', 30)
      expect(afterCoordinator.filter((x) => !x.ok)).toEqual([])
      await until(`the group reads past the coordinator's death (missing ${missing(r.seen, 'after-coordinator', 30).length})`, () => missing(r.seen, 'after-coordinator', 30).length === 0, {
        timeoutMs: 60_000,
      })
    } finally {
      await r.close()
      for (const f of restart) await f()
    }
  }, 240_000)

  test('a record callback that throws once does not stop the consumer for good', async () => {
    const topic = `throwing-${name}`
    const driver = await createDriver(name, { bootstrap: bootstrap(), clientId: `throwing-${name}` })
    try {
      const admin = await driver.admin()
      await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 3 }])
      await until('the partition led', async () => (await admin.metadata([topic]))[0]?.partitions.every((p) => p.leader > 0))
      await admin.close()
      const seen = new Set<string>()
      let thrown = false
      const consumer = await driver.consumer({
        group: { groupId: `throwing-${name}-group`, topics: [topic] },
        onRecords: (b) => {
          if (!thrown) {
            thrown = true
            throw new Error('a harness callback failed')
          }
          for (const r of b.records) seen.add(r.value!.toString())
        },
      })
      await consumer.start()
      const producer = await driver.producer({ acks: -1 })
      for (let i = 0; i < 20; i++) producer.send({ topic, partition: 0, records: [{ key: null, value: Buffer.from(`v-${i}`) }] }, () => {})
      await producer.flush()
      await until(`every record read after the throw (missing ${missing(seen, 'v', 20).length})`, () => thrown && missing(seen, 'v', 20).length === 0, { timeoutMs: 60_000 })
    } finally {
      await driver.close()
    }
  }, 120_000)
})
