// A partition moves from brokers {1,2,3} to {2,3,4} on 4 broker processes under acks=all load: the move is
// recorded at once (replicas 2,3,4,1; adding 4; removing 1) and ListPartitionReassignments shows it while broker
// 4 is down; once 4 is back it catches up, joins the ISR, and the move completes by itself (leadership leaves
// broker 1, which deletes its copy). Every acknowledged record is read back exactly once from the new leader.
// The move is asked for and listed by kafkajs' admin client, and listed over the wire too.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../chaos/cluster/local.ts'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { CreateTopics } from '../../broker/protocol/messages/create-topics.ts'
import { ListPartitionReassignments } from '../../broker/protocol/messages/list-partition-reassignments.ts'
import { ClusterWire } from '../helpers/cluster-wire.ts'
import { until } from '../helpers/until.ts'

const CONFIG = {
  'broker.session.timeout.ms': '4000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': '3000',
  'replica.fetch.wait.max.ms': '200',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '1',
}

let cluster: LocalCluster
let wire: ClusterWire
let loadWire: ClusterWire

beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 4, config: CONFIG })
  wire = new ClusterWire(cluster)
  loadWire = new ClusterWire(cluster)
})
afterAll(async () => {
  wire?.close()
  loadWire?.close()
  await cluster?.close()
})

describe('partition reassignment', () => {
  test('{1,2,3} -> {2,3,4} under acks=all load: every acknowledged record consumed once', async () => {
    const via = wire.node(3)
    const vc = await wire.client(via)
    const created = await vc.request(CreateTopics, 7, {
      topics: [{ name: 'move', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2, 3] }], configs: [{ name: 'min.insync.replicas', value: '2' }] }],
      timeoutMs: 10_000,
      validateOnly: false,
    })
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE)
    await until('a full ISR led by broker 1', async () => {
      const s = await wire.partition(via, 'move', 0)
      return (s.leader === 1 && s.isr.length === 3) || undefined
    })
    const four = wire.node(4)
    wire.forget(4)
    await four.stop()

    // The load: one record per acks=all produce, each value once; a failed produce is not retried.
    const acked: string[] = []
    let stop = false
    let sent = 0
    const load = (async () => {
      while (!stop) {
        const value = `v${sent++}`
        const code = await loadWire.produce(loadWire.node(3), 'move', 0, [value]).catch(() => -1)
        if (code === ErrorCode.NONE) acked.push(value)
      }
    })()
    const ackedAtLeast = (n: number) => until(`${n} acknowledged records`, async () => acked.length >= n || undefined, 30_000)
    const admin = new Kafka({ clientId: 'reassignment-test', brokers: [via.address], logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      await ackedAtLeast(20)
      await admin.alterPartitionReassignments({ topics: [{ topic: 'move', partitionAssignment: [{ partition: 0, replicas: [2, 3, 4] }] }] })
      const ongoing = { name: 'move', partitions: [{ partitionIndex: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }] }
      // kafkajs asks the controller's broker; broker 3 lists the move once it has applied that metadata.
      await until('broker 3 to list the move', async () => (await vc.request(ListPartitionReassignments, 0, { timeoutMs: 10_000, topics: null })).topics.length > 0 || undefined)
      for (const topics of [null, [{ name: 'move', partitionIndexes: [0] }]]) {
        expect((await vc.request(ListPartitionReassignments, 0, { timeoutMs: 10_000, topics })).topics).toEqual([ongoing])
      }
      // kafkajs 2.2 answers with name and partition (its type declarations say topic and partitionIndex).
      expect(await admin.listPartitionReassignments({})).toEqual({ topics: [{ name: 'move', partitions: [{ partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }] }] })
      // Broker 4 is down: the move waits for it while writes go on.
      const mark = acked.length
      await ackedAtLeast(mark + 20)
      expect((await vc.request(ListPartitionReassignments, 0, { timeoutMs: 10_000, topics: null })).topics).toEqual([ongoing])

      await four.start()
      const done = await until('the move to complete', async () => {
        const listed = await vc.request(ListPartitionReassignments, 0, { timeoutMs: 10_000, topics: null })
        const s = await wire.partition(via, 'move', 0)
        return listed.topics.length === 0 && s.isr.length === 3 ? s : undefined
      }, 60_000)
      expect(done).toMatchObject({ replicas: [2, 3, 4], isr: [2, 3, 4] })
      expect(done.leader).not.toBe(1)
      const after = acked.length
      await ackedAtLeast(after + 20)
    } finally {
      stop = true
      await load
      await admin.disconnect()
    }
    const leader = wire.node((await wire.partition(via, 'move', 0)).leader)
    const consumed = await until('every acknowledged record readable', async () => {
      const values = await wire.consume(leader, 'move', 0)
      return values && acked.every((v) => values.includes(v)) ? values : undefined
    })
    expect(new Set(consumed).size).toBe(consumed.length) // nothing twice (no produce was retried)
    expect(consumed.filter((v) => acked.includes(v))).toEqual(acked) // in the order they were acknowledged
    console.log(`reassignment under load: ${sent} produced, ${acked.length} acknowledged, ${consumed.length} in the log`)
    expect(existsSync(join(wire.node(4).proc.dataDir, 'move-0'))).toBe(true)
    await until('broker 1 to delete its copy', async () => !existsSync(join(wire.node(1).proc.dataDir, 'move-0')) || undefined)
  })
})
