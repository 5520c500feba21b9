// A 3-broker local cluster (real processes, combined broker + controller, one Raft metadata quorum) seen through
// kafkajs and kcat: one controller, brokers and RF=3 topics with spread leaders in Metadata, controller failover
// (kill -9 of the quorum leader), and partition leader failover after the broker session timeout with a kafkajs
// acks=1 producer that keeps going. Replication of data is not part of this (records acknowledged by a killed
// leader may be gone); only records acknowledged after the failover are checked.
import { execa } from 'execa'
import { Kafka, logLevel, type Admin } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../chaos/cluster/local.ts'
import { RawCluster } from '../../workloads/drivers/raw.ts'
import { sleep, until } from '../helpers/until.ts'

const CONFIG = {
  'broker.session.timeout.ms': '2000',
  'broker.heartbeat.interval.ms': '500',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '3',
}

let cluster: LocalCluster
let kafka: Kafka
let admin: Admin

/** Metadata v12 through the harness's raw driver, for the leader epoch kafkajs does not show. */
async function rawPartition(bootstrap: string[], topic: string) {
  const c = new RawCluster({ bootstrap }, 1)
  try {
    await c.refresh([topic])
    return c.topics.get(topic)![0]!
  } finally {
    c.close()
  }
}

const newAdmin = async () => {
  const a = kafka.admin()
  await a.connect()
  return a
}

beforeAll(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
  kafka = new Kafka({ clientId: 'cluster-test', brokers: [...cluster.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } })
  admin = await newAdmin()
})
afterAll(async () => {
  await admin?.disconnect().catch(() => undefined)
  await cluster?.close()
})

describe('a 3-broker local cluster', () => {
  test('forms one quorum: every broker reports the same controller and all three brokers', async () => {
    const controllers = new Set<number>()
    for (const address of cluster.bootstrap) {
      const k = new Kafka({ clientId: 'one', brokers: [address], logLevel: logLevel.NOTHING })
      const a = k.admin()
      await a.connect()
      const d = await a.describeCluster()
      await a.disconnect()
      expect(d.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3])
      for (const b of d.brokers) expect(b.host).toBe(cluster.nodes[b.nodeId - 1]!.host)
      controllers.add(d.controller!)
    }
    expect(controllers.size).toBe(1)
    expect([1, 2, 3]).toContain([...controllers][0])
  })

  test('__consumer_offsets is a replicated topic created through the controller (RF 3 with three brokers)', async () => {
    // FindCoordinator creates it if no broker saw all three live at startup, as Kafka does.
    await until('a group coordinator', async () => (await admin.describeGroups(['cluster-test-group'])).groups.length === 1)
    const md = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] })
    const parts = md.topics[0]!.partitions
    expect(parts).toHaveLength(3)
    for (const p of parts) expect([...p.replicas].sort()).toEqual([1, 2, 3])
  })

  test('an RF=3 topic has three replicas in sync and leaders on every broker (kafkajs and kcat -L)', async () => {
    await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 6, replicationFactor: 3 }], waitForLeaders: true })
    const md = await admin.fetchTopicMetadata({ topics: ['spread'] })
    const parts = md.topics[0]!.partitions
    expect(parts).toHaveLength(6)
    for (const p of parts) {
      expect([...p.replicas].sort()).toEqual([1, 2, 3])
      expect([...p.isr].sort()).toEqual([1, 2, 3])
      expect(p.replicas[0]).toBe(p.leader)
    }
    expect(new Set(parts.map((p) => p.leader))).toEqual(new Set([1, 2, 3]))
    const { stdout } = await execa('kcat', ['-b', cluster.bootstrap.join(','), '-L', '-J', '-t', 'spread'])
    const kmd = JSON.parse(stdout) as { brokers: { id: number; name: string }[]; topics: { topic: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[] }
    expect(kmd.brokers.map((b) => b.id).sort()).toEqual([1, 2, 3])
    expect(kmd.brokers.map((b) => b.name).sort()).toEqual([...cluster.bootstrap].sort())
    const kt = kmd.topics.find((t) => t.topic === 'spread')!
    expect(kt.partitions).toHaveLength(6)
    for (const p of kt.partitions) expect(p.replicas.map((r) => r.id).sort()).toEqual([1, 2, 3])
    // RF above the live brokers is refused with Kafka's message.
    const err = await admin.createTopics({ topics: [{ topic: 'too-wide', numPartitions: 1, replicationFactor: 4 }] }).catch((e: unknown) => e)
    expect(JSON.stringify((err as { errors?: unknown[] }).errors ?? String(err))).toContain('INVALID_REPLICATION_FACTOR')
  })

  test('kill -9 of a partition leader: leadership moves within the ISR with a new epoch, and acks=1 producing continues', async () => {
    await admin.createTopics({ topics: [{ topic: 'moving', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true })
    const before = (await admin.fetchTopicMetadata({ topics: ['moving'] })).topics[0]!.partitions[0]!
    const victim = cluster.nodes.find((n) => n.id === before.leader)!
    const rest = cluster.bootstrap.filter((b) => b !== victim.address)
    const epochBefore = (await rawPartition(rest, 'moving')).leaderEpoch
    const producer = kafka.producer({ retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 500 } })
    await producer.connect()
    let stop = false
    const acked: { value: string; at: number }[] = []
    let n = 0
    const loop = (async () => {
      while (!stop) {
        const value = `v${n++}`
        try {
          await producer.send({ topic: 'moving', acks: 1, messages: [{ value }] })
          acked.push({ value, at: Date.now() })
        } catch {
          // retried by the next send
        }
        // Pacing the load, not waiting for anything.
        await sleep(20)
      }
    })()
    await until('some records acknowledged', () => acked.length >= 10)
    await victim.kill('SIGKILL')
    const killedAt = Date.now()
    const survivor = new Kafka({ clientId: 'survivor', brokers: cluster.bootstrap.filter((b) => b !== victim.address), logLevel: logLevel.NOTHING })
    const sa = survivor.admin()
    await sa.connect()
    let after = before
    await until('a new leader', async () => {
      after = (await sa.fetchTopicMetadata({ topics: ['moving'] })).topics[0]!.partitions[0]!
      return after.leader !== before.leader && after.leader >= 0
    })
    const movedMs = Date.now() - killedAt
    expect(before.isr).toContain(after.leader)
    expect(after.isr).not.toContain(victim.id)
    const raw = await rawPartition(rest, 'moving')
    expect(raw.leader).toBe(after.leader)
    expect(raw.leaderEpoch).toBe(epochBefore + 1)
    const failoverAt = Date.now()
    await until('records acknowledged by the new leader', () => acked.filter((a) => a.at > failoverAt).length >= 20)
    stop = true
    await loop
    await producer.disconnect()
    const late = acked.filter((a) => a.at > failoverAt).map((a) => a.value)
    const newLeader = cluster.nodes.find((x) => x.id === after.leader)!
    const { stdout } = await execa('kcat', ['-b', newLeader.address, '-C', '-t', 'moving', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%s\n'])
    const got = new Set(stdout.split('\n'))
    for (const v of late) expect(got.has(v)).toBe(true)
    await sa.disconnect()
    // Bring it back: it registers again and is unfenced (Metadata lists three brokers once more).
    await victim.start()
    await until('three brokers again', async () => (await admin.describeCluster()).brokers.length === 3)
    expect(movedMs).toBeLessThan(15_000)
  })

  test('kill -9 of the controller: another node becomes controller within seconds and topic creation works', async () => {
    await until('three live brokers', async () => (await admin.describeCluster()).brokers.length === 3)
    const controller = (await admin.describeCluster()).controller!
    const victim = cluster.nodes.find((n) => n.id === controller)!
    await victim.kill('SIGKILL')
    const others = new Kafka({ clientId: 'others', brokers: cluster.bootstrap.filter((b) => b !== victim.address), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } })
    const oa = others.admin()
    await oa.connect()
    const t0 = Date.now()
    await until('a new controller', async () => {
      const now = (await oa.describeCluster()).controller
      return now !== null && now !== controller && now >= 1
    }, 10_000)
    expect(Date.now() - t0).toBeLessThan(10_000)
    await oa.createTopics({ topics: [{ topic: 'after-controller-failover', numPartitions: 2, replicationFactor: 2 }], waitForLeaders: true })
    expect((await oa.fetchTopicMetadata({ topics: ['after-controller-failover'] })).topics[0]!.partitions).toHaveLength(2)
    // The new controller fences the dead one after its session (it may have got replicas before that, as in
    // Kafka) and moves its leaderships.
    await until('the old controller fenced', async () => (await oa.describeCluster()).brokers.length === 2)
    await until('no leadership on the dead broker', async () => {
      const md = await oa.fetchTopicMetadata({ topics: ['after-controller-failover', 'spread'] })
      return md.topics.every((t) => t.partitions.every((p) => p.leader !== victim.id && p.leader >= 0))
    })
    await oa.disconnect()
    await victim.start()
  })
})
