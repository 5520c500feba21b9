// kafkajs consumer groups against a broker process (JoinGroup v5, SyncGroup/Heartbeat/LeaveGroup v3,
// OffsetCommit v5, OffsetFetch v4): three members share a six-partition topic, every record is consumed once;
// members leaving and joining rebalance the group without losing a record; committed offsets survive a
// SIGKILL of the broker.
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { sleep, until } from '../helpers/until.ts'

const OVERRIDES = { 'group.initial.rebalance.delay.ms': 0 }

let broker: BrokerProcess
let kafka: Kafka
let admin: Admin
let producer: Producer
const consumers: Consumer[] = []

beforeAll(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
  broker = await startBroker({ overrides: OVERRIDES })
  kafka = new Kafka({ clientId: 'faultline-groups', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } })
  admin = kafka.admin()
  await admin.connect()
  producer = kafka.producer()
  await producer.connect()
})
afterAll(async () => {
  for (const c of consumers) await c.disconnect().catch(() => {})
  await producer?.disconnect().catch(() => {})
  await admin?.disconnect().catch(() => {})
  await broker?.stop()
})

interface Seen {
  consumer: string
  partition: number
  offset: number
  value: string
}

/** A group member that records what it consumes and every assignment it is given. */
async function member(groupId: string, topic: string, name: string, seen: Seen[], assignments: Map<string, number[]>): Promise<Consumer> {
  const c = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 })
  c.on(c.events.GROUP_JOIN, (e) => assignments.set(name, e.payload.memberAssignment[topic] ?? []))
  await c.connect()
  await c.subscribe({ topic, fromBeginning: true })
  await c.run({ eachMessage: async ({ partition, message }) => void seen.push({ consumer: name, partition, offset: Number(message.offset), value: message.value!.toString() }) })
  consumers.push(c)
  return c
}

async function describeGroup(groupId: string) {
  const { groups } = await admin.describeGroups([groupId])
  return groups[0]!
}

/** Stable, with exactly these members, whose latest assignments cover the six partitions once. */
async function settled(groupId: string, names: string[], assignments: Map<string, number[]>): Promise<boolean> {
  const g = await describeGroup(groupId)
  if (g.state !== 'Stable' || g.members.length !== names.length) return false
  const all = names.flatMap((n) => assignments.get(n) ?? [])
  return all.length === 6 && new Set(all).size === 6
}

async function produce(topic: string, prefix: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
  await producer.send({ topic, messages: values.map((value, i) => ({ value, partition: i % 6 })) })
  return values
}

describe('kafkajs consumer group', () => {
  test('three members share six partitions, each record consumed once; leaving and joining rebalances without losing a record', async () => {
    const topic = 'grp-kj'
    const groupId = 'grp-kj-group'
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true })
    const seen: Seen[] = []
    const assignments = new Map<string, number[]>()
    const [a] = [await member(groupId, topic, 'a', seen, assignments), await member(groupId, topic, 'b', seen, assignments), await member(groupId, topic, 'c', seen, assignments)]
    await until('a stable group of three', () => settled(groupId, ['a', 'b', 'c'], assignments))

    const first = await produce(topic, 'first', 300)
    await until('the first 300 records', () => seen.length >= 300)
    expect(seen.map((s) => s.value).sort()).toEqual([...first].sort())
    // Within one generation a partition is read by one member only.
    for (let p = 0; p < 6; p++) expect(new Set(seen.filter((s) => s.partition === p).map((s) => s.consumer)).size).toBe(1)

    // A member leaves, and a new one joins, while records keep coming.
    const more: string[] = []
    let producing = true
    const background = (async () => {
      for (let i = 0; producing; i++) {
        more.push(...(await produce(topic, `more${i}`, 12)))
        // Pacing the load, not waiting for anything: records keep coming through the rebalances.
        await sleep(50)
      }
    })()
    await a.disconnect()
    assignments.delete('a')
    await until('a stable group of two', () => settled(groupId, ['b', 'c'], assignments))
    await member(groupId, topic, 'd', seen, assignments)
    await until('a stable group of three again', () => settled(groupId, ['b', 'c', 'd'], assignments))
    producing = false
    await background
    const want = new Set([...first, ...more])
    await until('every record', () => new Set(seen.map((s) => s.value)).size === want.size)
    expect(new Set(seen.map((s) => s.value))).toEqual(want)
    // Per partition, each member's records come in offset order.
    for (const name of ['b', 'c', 'd']) {
      for (let p = 0; p < 6; p++) {
        const offsets = seen.filter((s) => s.consumer === name && s.partition === p).map((s) => s.offset)
        expect(offsets).toEqual([...offsets].sort((x, y) => x - y))
      }
    }
    const offsets = await admin.fetchTopicOffsets(topic)
    await until('offsets committed up to the end', async () => {
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
      return committed[0]!.partitions.every((p) => p.offset === offsets.find((o) => o.partition === p.partition)!.high)
    })
  })

  test('committed offsets survive a SIGKILL of the broker; the group resumes after them', async () => {
    const topic = 'grp-kj-restart'
    const groupId = 'grp-kj-restart-group'
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true })
    await produce(topic, 'before', 60)
    const seen: Seen[] = []
    const c = await member(groupId, topic, 'r1', seen, new Map())
    await until('the first 60 records, committed', async () => {
      if (seen.length < 60) return false
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
      return committed[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0) === 60
    })
    await c.disconnect()
    const before = await admin.fetchOffsets({ groupId, topics: [topic] })

    await broker.kill('SIGKILL')
    broker = await startBroker({ dataDir: broker.dataDir, host: broker.host, port: broker.port, overrides: OVERRIDES })

    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual(before)
    const after = await produce(topic, 'after', 30)
    const resumed: Seen[] = []
    await member(groupId, topic, 'r2', resumed, new Map())
    // Committed up to the end of every partition (90 in all): whatever the member read, old records included
    // had it not resumed after the committed offsets, has been handed to eachMessage by then.
    await until('the 30 new records, committed', async () => {
      if (resumed.length < 30) return false
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
      return committed[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0) === 90
    })
    expect(resumed.map((s) => s.value).sort()).toEqual([...after].sort())
  })
})
