// @platformatic/kafka consumer groups (flexible versions: FindCoordinator v4, JoinGroup v7, SyncGroup,
// Heartbeat and LeaveGroup v4, OffsetCommit v9, OffsetFetch v8) against a broker process: three members share
// six partitions and rebalance as members leave and join; their commits survive a SIGKILL of the broker; and
// consuming through the group reads every record once.
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'

const OVERRIDES = { 'group.initial.rebalance.delay.ms': 0 }

let broker: BrokerProcess
let admin: Admin
const consumers: Consumer<string, string, string, string>[] = []

beforeAll(async () => {
  broker = await startBroker({ overrides: OVERRIDES })
  admin = new Admin({ clientId: 'faultline-groups', bootstrapBrokers: [broker.bootstrap] })
})
afterAll(async () => {
  for (const c of consumers) {
    try {
      await c.close(true)
    } catch {
      // already closed, or the broker is gone
    }
  }
  await admin?.close()
  await broker?.stop()
})

function consumer(groupId: string, name: string): Consumer<string, string, string, string> {
  const c = new Consumer({
    clientId: name,
    groupId,
    bootstrapBrokers: [broker.bootstrap],
    deserializers: stringDeserializers,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    retries: 20,
    retryDelay: 100,
  })
  consumers.push(c)
  return c
}

/** The members share one generation and their assignments cover the topic's six partitions once. */
function settled(members: Consumer<string, string, string, string>[], topic: string): boolean {
  const generations = new Set(members.map((m) => m.generationId))
  const owned = members.flatMap((m) => m.assignments?.find((a) => a.topic === topic)?.partitions ?? [])
  return generations.size === 1 && owned.length === 6 && new Set(owned).size === 6
}

describe('@platformatic/kafka consumer group', () => {
  test('members share six partitions, rebalance as they leave and join, and their commits survive a SIGKILL', async () => {
    const topic = 'grp-plt'
    const groupId = 'grp-plt-group'
    await admin.createTopics({ topics: [topic], partitions: 6, replicas: 1 })
    const [a, b, c] = ['a', 'b', 'c'].map((n) => consumer(groupId, n)) as [Consumer<string, string, string, string>, Consumer<string, string, string, string>, Consumer<string, string, string, string>]
    for (const m of [a, b, c]) {
      m.topics.trackAll(topic)
      await m.joinGroup({})
    }
    await until('three members sharing the partitions', () => settled([a, b, c], topic))
    const firstGeneration = a.generationId

    await a.leaveGroup()
    await until('two members sharing the partitions', () => settled([b, c], topic))
    const d = consumer(groupId, 'd')
    d.topics.trackAll(topic)
    await d.joinGroup({})
    await until('three members again', () => settled([b, c, d], topic))
    expect(d.generationId).toBeGreaterThan(firstGeneration + 1)

    for (const m of [b, c, d]) {
      const partitions = m.assignments!.find((x) => x.topic === topic)!.partitions
      await m.commit({ offsets: partitions.map((partition) => ({ topic, partition, offset: BigInt(100 + partition), leaderEpoch: 0 })) })
    }
    const want = [100n, 101n, 102n, 103n, 104n, 105n]
    expect((await b.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3, 4, 5] }] })).get(topic)).toEqual(want)

    await broker.kill('SIGKILL')
    broker = await startBroker({ dataDir: broker.dataDir, host: broker.host, port: broker.port, overrides: OVERRIDES })
    const reader = consumer(groupId, 'reader')
    expect((await reader.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3, 4, 5] }] })).get(topic)).toEqual(want)
  })

  test('three members consuming through the group read every record once', async () => {
    const topic = 'grp-plt-consume'
    const groupId = 'grp-plt-consume-group'
    await admin.createTopics({ topics: [topic], partitions: 6, replicas: 1 })
    const members = ['x', 'y', 'z'].map((n) => consumer(groupId, n))
    const seen: string[] = []
    const errors: string[] = []
    // Fetches each member's stream has completed (it has one in flight at a time: one broker).
    const fetches = members.map(() => 0)
    for (const [i, m] of members.entries()) {
      const stream = await m.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 200, maxWaitTime: 200 })
      stream.on('data', (message) => void seen.push(message.value))
      stream.on('fetch', () => void fetches[i]!++)
      stream.on('error', (e: Error & { errors?: Error[] }) => void errors.push(`${e.message}: ${(e.errors ?? []).map((x) => x.message).join('; ')}`))
    }
    /** Every member has completed a fetch since `mark`: none still has one out that was sent before it. */
    const fetchedSince = (mark: number[]) => fetches.every((n, i) => n > mark[i]!)
    await until('three members sharing the partitions', () => settled(members, topic))
    // A long-poll Fetch sent under the previous generation's assignment may still be out; the client would
    // deliver what it returns even for partitions it no longer owns. Let those finish.
    const settledAt = [...fetches]
    await until('a fetch completed by every member since the group settled', () => fetchedSince(settledAt))
    const producer = new Producer({ clientId: 'faultline-groups', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers })
    const values = Array.from({ length: 120 }, (_, i) => `v${i}`)
    await producer.send({ messages: values.map((value, i) => ({ topic, value, partition: i % 6 })) })
    await producer.close()
    await until('every record', () => seen.length >= values.length || errors.length > 0)
    expect(errors).toEqual([])
    // A record delivered twice would come in a response that was still out when the last one arrived.
    const allSeenAt = [...fetches]
    await until('a fetch completed by every member since every record arrived', () => fetchedSince(allSeenAt))
    expect([...seen].sort()).toEqual([...values].sort())
  })
})
