// The raw driver's consumer groups (workloads/drivers/raw/group.ts) against a real 3-broker cluster: members of
// one group split the partitions and read every acknowledged record; a member that leaves, and one whose
// process is SIGKILLed, hand their partitions to the rest; the group carries on when its coordinator is killed;
// a member that joins later takes over partitions from the offsets committed for them.
import { execa, type ResultPromise } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FindCoordinator } from '../../../broker/protocol/messages/find-coordinator.ts'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import type { ConnectOptions, Driver, DriverConsumer, DriverProducer, TopicPartition } from '../../../workloads/driver.ts'
import { RawCluster, rawDriver } from '../../../workloads/drivers/raw.ts'
import { rangeAssign } from '../../../workloads/drivers/raw/group.ts'
import { until } from '../../helpers/until.ts'

describe('rangeAssign', () => {
  it('gives each topic out in ranges over its subscribers sorted by id, the first ones one longer', () => {
    const plan = rangeAssign(
      new Map([
        ['m-b', ['t', 'u']],
        ['m-a', ['t']],
        ['m-c', ['t', 'u']],
      ]),
      new Map([
        ['t', 7],
        ['u', 1],
      ]),
    )
    expect(Object.fromEntries([...plan].map(([m, ts]) => [m, Object.fromEntries(ts)]))).toEqual({
      'm-a': { t: [0, 1, 2] },
      'm-b': { t: [3, 4], u: [0] },
      'm-c': { t: [5, 6] },
    })
  })
})

let cluster: LocalCluster
let connect: ConnectOptions
let driver: Driver
beforeAll(async () => {
  cluster = await startLocalCluster({
    brokers: 3,
    config: { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '1000', 'offsets.topic.num.partitions': '3' },
  })
  connect = { bootstrap: cluster.bootstrap, clientId: 'raw-group', connectTimeoutMs: 2000, requestTimeoutMs: 5000 }
  driver = rawDriver(connect)
}, 90_000)
afterAll(async () => {
  await driver?.close()
  await cluster?.close()
})

const key = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`

interface Member {
  readonly consumer: DriverConsumer
  readonly owned: Set<string>
  readonly seen: Set<string>
  /** Batches handed on for a partition the member did not own at that moment. */
  readonly strays: string[]
}

async function member(groupId: string, topic: string, sessionTimeoutMs = 3000): Promise<Member> {
  const owned = new Set<string>()
  const seen = new Set<string>()
  const strays: string[] = []
  const consumer = await driver.consumer({
    group: { groupId, topics: [topic], sessionTimeoutMs },
    maxWaitMs: 100,
    onRecords: (b) => {
      if (!owned.has(key(b))) strays.push(key(b))
      for (const r of b.records) seen.add(r.value!.toString())
    },
    onAssign: (tps) => tps.forEach((tp) => owned.add(key(tp))),
    onRevoke: (tps) => tps.forEach((tp) => owned.delete(key(tp))),
  })
  return { consumer, owned, seen, strays }
}

async function createTopic(name: string, partitions: number): Promise<void> {
  const admin = await driver.admin()
  await admin.createTopics([{ name, partitions, replicationFactor: 3 }])
  await admin.close()
}

/** Sends `count` records per partition, each retried until acknowledged; returns their values. */
async function produce(p: DriverProducer, topic: string, partitions: number, count: number, tag: string): Promise<string[]> {
  const values: string[] = []
  await Promise.all(
    Array.from({ length: partitions }, async (_, partition) => {
      for (let i = 0; i < count; i++) {
        const value = `${tag}-${partition}-${i}`
        await until(`${value} acknowledged`, () => new Promise<boolean>((r) => p.send({ topic, partition, records: [{ key: null, value: Buffer.from(value) }] }, (res) => r(res.ok))), { timeoutMs: 30_000, intervalMs: 50 })
        values.push(value)
      }
    }),
  )
  return values
}

function owners(members: readonly { owned: Set<string> }[]): string[] {
  return members.flatMap((m) => [...m.owned]).sort()
}

function all(topic: string, partitions: number): string[] {
  return Array.from({ length: partitions }, (_, p) => `${topic}/${p}`).sort()
}

async function coordinatorOf(groupId: string): Promise<number> {
  const c = new RawCluster(connect, 1)
  try {
    const res = await (await c.any()).call(FindCoordinator, { key: groupId, keyType: 0, coordinatorKeys: [groupId] })
    const entry = res.coordinators[0] ?? res
    if (entry.errorCode !== 0) throw new Error(`FindCoordinator: ${entry.errorCode}`)
    return entry.nodeId
  } finally {
    c.close()
  }
}

it('members of one group split the partitions and read every acknowledged record', async () => {
  await createTopic('split', 6)
  const producer = await driver.producer({ acks: -1 })
  const acked = await produce(producer, 'split', 6, 20, 'a')
  const members = await Promise.all([0, 1, 2].map(() => member('split-group', 'split')))
  await Promise.all(members.map((m) => m.consumer.start()))
  await until('the partitions split 2/2/2', () => members.every((m) => m.owned.size === 2) && owners(members).join() === all('split', 6).join())
  acked.push(...(await produce(producer, 'split', 6, 20, 'b')))
  await until('every acknowledged record read', () => acked.every((v) => members.some((m) => m.seen.has(v))))
  await producer.close()
  await Promise.all(members.map((m) => m.consumer.close()))
  expect(owners(members)).toEqual([])
  expect(members.flatMap((m) => m.strays)).toEqual([])
}, 60_000)

it('a member that leaves, and one that is SIGKILLed, hand their partitions to the rest', async () => {
  await createTopic('handover', 6)
  const a = await member('handover-group', 'handover')
  const b = await member('handover-group', 'handover')
  await Promise.all([a.consumer.start(), b.consumer.start()])
  // A third member in a process of its own, killed below: it neither leaves nor heartbeats again.
  const script = `
    import { rawDriver } from './dist/workloads/drivers/raw.js'
    const d = rawDriver(${JSON.stringify(connect)})
    const c = await d.consumer({ group: { groupId: 'handover-group', topics: ['handover'], sessionTimeoutMs: 3000 }, onRecords() {},
      onAssign: (tps) => console.log('assigned ' + tps.length) })
    await c.start()
    setInterval(() => {}, 1000)`
  const child: ResultPromise = execa(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), reject: false, buffer: false })
  let childAssigned = 0
  child.stdout!.on('data', (d: Buffer) => {
    const m = /assigned (\d+)/.exec(d.toString())
    if (m) childAssigned = Number(m[1])
  })
  try {
    await until('three members with two partitions each', () => childAssigned === 2 && a.owned.size === 2 && b.owned.size === 2, 30_000)
    await a.consumer.close()
    await until('b takes over a share of what a left', () => b.owned.size === 3, 20_000)
    child.kill('SIGKILL')
    await child
    await until('b owns every partition once the killed member’s session expired', () => b.owned.size === 6, 20_000)
    const producer = await driver.producer({ acks: -1 })
    const acked = await produce(producer, 'handover', 6, 10, 'after')
    await until('b reads every record sent after the handover', () => acked.every((v) => b.seen.has(v)))
    await producer.close()
  } finally {
    child.kill('SIGKILL')
    await b.consumer.close()
  }
}, 90_000)

it('the group carries on when its coordinator is killed', async () => {
  await createTopic('failover', 3)
  const members = await Promise.all([0, 1].map(() => member('failover-group', 'failover')))
  await Promise.all(members.map((m) => m.consumer.start()))
  await until('both members own partitions', () => members.every((m) => m.owned.size > 0) && owners(members).join() === all('failover', 3).join())
  const producer = await driver.producer({ acks: -1 })
  const before = await produce(producer, 'failover', 3, 10, 'before')
  await until('the records before read', () => before.every((v) => members.some((m) => m.seen.has(v))))
  const coordinator = await coordinatorOf('failover-group')
  const node = cluster.nodes.find((n) => n.id === coordinator)!
  await node.kill()
  try {
    await until('another broker coordinates the group', async () => (await coordinatorOf('failover-group')) !== coordinator)
    const after = await produce(producer, 'failover', 3, 10, 'after')
    await until('the records after read', () => after.every((v) => members.some((m) => m.seen.has(v))))
    expect(owners(members)).toEqual(all('failover', 3))
    // A third member joining now is served by the new coordinator: the group rebalances over it.
    const late = await member('failover-group', 'failover')
    await late.consumer.start()
    await until('the newcomer gets a partition', () => late.owned.size === 1 && owners([...members, late]).join() === all('failover', 3).join())
    await late.consumer.close()
  } finally {
    await producer.close()
    await Promise.all(members.map((m) => m.consumer.close()))
    await node.start()
  }
}, 90_000)

it('a member that joins takes over partitions from the offsets committed for them, not from the start', async () => {
  await createTopic('resume', 2)
  const producer = await driver.producer({ acks: -1 })
  const first = await produce(producer, 'resume', 2, 10, 'first')
  const a = await member('resume-group', 'resume')
  await a.consumer.start()
  await until('the first records read', () => first.every((v) => a.seen.has(v)))
  // b joins as a follower (a leads): a commits what it read as it gives up a partition, b fetches that commit.
  const b = await member('resume-group', 'resume')
  await b.consumer.start()
  await until('one partition each', () => a.owned.size === 1 && b.owned.size === 1)
  const second = await produce(producer, 'resume', 2, 10, 'second')
  await producer.close()
  await until('the records sent after the join read', () => second.every((v) => a.seen.has(v) || b.seen.has(v)))
  await Promise.all([a.consumer.close(), b.consumer.close()])
  expect(first.filter((v) => b.seen.has(v))).toEqual([])
  expect(second.some((v) => b.seen.has(v))).toBe(true)
}, 60_000)
