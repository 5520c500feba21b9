// Replication on real processes (3 brokers, RF=3), seen through the wire protocol and kafkajs:
// * acks=all waits for every in-sync replica: with one follower paused (SIGSTOP) the write times out until the
//   leader drops the follower from the ISR after replica.lag.time.max.ms, then acks=all succeeds with 2 of 3;
// * min.insync.replicas=3 with a follower out of the ISR: acks=all is refused with NOT_ENOUGH_REPLICAS, and an
//   acks=1 write stays invisible to consumers (the high watermark is held, as in Kafka 4) until the follower is
//   back in the ISR;
// * followers hold byte-identical copies of the leader's log files;
// * committed offsets survive a kill -9 of the group coordinator (they live in replicated __consumer_offsets).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster, type LocalNode } from '../../chaos/cluster/local.ts'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { CreateTopics } from '../../broker/protocol/messages/create-topics.ts'
import { Fetch } from '../../broker/protocol/messages/fetch.ts'
import { FindCoordinator } from '../../broker/protocol/messages/find-coordinator.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../broker/protocol/messages/produce.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches } from '../../broker/protocol/record-batch.ts'
import { WireClient } from '../helpers/wire.ts'
import { until } from '../helpers/until.ts'

const LAG_MS = 3000
const CONFIG = {
  'broker.session.timeout.ms': '6000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': String(LAG_MS),
  'replica.fetch.wait.max.ms': '200',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '3',
}

let cluster: LocalCluster
const clients = new Map<number, WireClient>()

async function client(node: LocalNode): Promise<WireClient> {
  const c = clients.get(node.id)
  if (c && !c.closed) return c
  const fresh = await WireClient.connect(node.host, node.port)
  clients.set(node.id, fresh)
  return fresh
}


async function partitionState(topic: string, via?: LocalNode) {
  const node = via ?? cluster.nodes.find((n) => n.running && !n.proc.isPaused)!
  const md = await (await client(node)).request(Metadata, 12, { topics: [{ name: topic, topicId: '0'.repeat(32) }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  const p = md.topics[0]!.partitions[0]!
  return { leader: p.leaderId, epoch: p.leaderEpoch, isr: [...p.isrNodes].sort(), controller: md.controllerId }
}

async function createTopic(name: string, minIsr: number) {
  const c = await client(cluster.nodes[0]!)
  const res = await c.request(CreateTopics, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: String(minIsr) }] }],
    timeoutMs: 10_000,
    validateOnly: false,
  })
  expect(res.topics[0]!.errorCode).toBe(ErrorCode.NONE)
  return until('a leader with a full ISR', async () => {
    const s = await partitionState(name)
    return s.leader >= 0 && s.isr.length === 3 ? s : undefined
  })
}

async function produce(node: LocalNode, topic: string, values: string[], acks: number, timeoutMs = 5000) {
  const records = encodeRecordBatch(values.map((v) => ({ value: Buffer.from(v) })))
  const res = await (await client(node)).request(Produce, 9, { acks, timeoutMs, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] })
  return res.responses[0]!.partitionResponses[0]!
}

/** What a consumer sees on the leader: the high watermark and the values below it. */
async function consume(node: LocalNode, topic: string) {
  const res = await (await client(node)).request(Fetch, 12, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
    rackId: '',
  })
  const p = res.responses[0]!.partitions[0]!
  expect(p.errorCode).toBe(ErrorCode.NONE)
  const values = [...iterateBatches(p.records ?? Buffer.alloc(0))].flatMap((b) => decodeRecords(b).map((r) => r.value!.toString()))
  return { highWatermark: Number(p.highWatermark), values }
}

const node = (id: number) => cluster.nodes.find((n) => n.id === id)!

beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
})
afterAll(async () => {
  for (const c of clients.values()) c.close()
  for (const n of cluster?.nodes ?? []) if (n.proc.isPaused) n.resume()
  await cluster?.close()
})

describe('replication on a 3-broker cluster', () => {
  test('acks=all waits for the in-sync replicas; a paused follower leaves the ISR and writes go on with two', async () => {
    const s = await createTopic('acks', 2)
    const leader = node(s.leader)
    expect((await produce(leader, 'acks', ['a0', 'a1'], -1)).errorCode).toBe(ErrorCode.NONE)
    // Pause a follower that is not the active controller (the quorum keeps its leader).
    const paused = node(s.isr.find((id) => id !== s.leader && id !== s.controller) ?? s.isr.find((id) => id !== s.leader)!)
    paused.pause()
    try {
      const started = Date.now()
      const timedOut = await produce(leader, 'acks', ['a2'], -1, 1000)
      expect(timedOut.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT)
      expect(Date.now() - started).toBeGreaterThanOrEqual(900)
      expect((await consume(leader, 'acks')).values).toEqual(['a0', 'a1'])
      const shrunk = await until('the ISR to shrink', async () => {
        const st = await partitionState('acks', leader)
        return st.isr.length === 2 ? st : undefined
      })
      expect(shrunk.isr).not.toContain(paused.id)
      const ok = await produce(leader, 'acks', ['a3'], -1)
      expect(ok.errorCode).toBe(ErrorCode.NONE)
      // The timed-out write was appended; it is committed once the ISR no longer waits for the paused follower.
      expect((await consume(leader, 'acks')).values).toEqual(['a0', 'a1', 'a2', 'a3'])
    } finally {
      paused.resume()
    }
    await until('the follower back in the ISR', async () => ((await partitionState('acks', leader)).isr.length === 3 ? true : undefined))
    // Every replica holds the same bytes as the leader once the follower has fetched the log end.
    const file = (id: number) => readFileSync(join(node(id).proc.dataDir, 'acks-0', '00000000000000000000.log'))
    await until('identical log files', async () => [1, 2, 3].every((id) => file(id).equals(file(s.leader))) || undefined)
    expect(file(paused.id).length).toBeGreaterThan(0)
  })

  test('min.insync.replicas=3 with a follower out of the ISR: NOT_ENOUGH_REPLICAS, and acks=1 writes stay invisible until it is back', async () => {
    const s = await createTopic('minisr', 3)
    const leader = node(s.leader)
    expect((await produce(leader, 'minisr', ['m0'], -1)).errorCode).toBe(ErrorCode.NONE)
    const paused = node(s.isr.find((id) => id !== s.leader && id !== s.controller) ?? s.isr.find((id) => id !== s.leader)!)
    paused.pause()
    try {
      await until('the ISR to shrink', async () => ((await partitionState('minisr', leader)).isr.length === 2 ? true : undefined))
      expect((await produce(leader, 'minisr', ['m1'], -1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS)
      expect((await produce(leader, 'minisr', ['m2'], 1)).errorCode).toBe(ErrorCode.NONE)
      const seen = await consume(leader, 'minisr')
      expect(seen.values).toEqual(['m0'])
      expect(seen.highWatermark).toBe(1)
    } finally {
      paused.resume()
    }
    await until('the follower back in the ISR', async () => ((await partitionState('minisr', leader)).isr.length === 3 ? true : undefined))
    const after = await until('the held write to become visible', async () => {
      const c = await consume(leader, 'minisr')
      return c.highWatermark === 2 ? c : undefined
    })
    expect(after.values).toEqual(['m0', 'm2'])
  })

  test('committed offsets survive a kill -9 of the group coordinator', async () => {
    await createTopic('offs', 1)
    const kafka = new Kafka({ clientId: 'replication-test', brokers: [...cluster.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } })
    const admin = kafka.admin()
    await admin.connect()
    try {
      const group = 'replicated-offsets'
      await admin.setOffsets({ groupId: group, topic: 'offs', partitions: [{ partition: 0, offset: '42' }] })
      const fc = await (await client(cluster.nodes[0]!)).request(FindCoordinator, 3, { key: group, keyType: 0 })
      expect(fc.errorCode).toBe(ErrorCode.NONE)
      const coordinator = node(fc.nodeId)
      await coordinator.kill('SIGKILL')
      try {
        const survivors = cluster.nodes.filter((n) => n.id !== coordinator.id).map((n) => n.address)
        const k2 = new Kafka({ clientId: 'replication-test-2', brokers: survivors, logLevel: logLevel.NOTHING, retry: { retries: 40, initialRetryTime: 100, maxRetryTime: 1000 } })
        const a2 = k2.admin()
        await a2.connect()
        try {
          const offsets = await until('offsets from the new coordinator', async () => {
            const r = await a2.fetchOffsets({ groupId: group, topics: ['offs'] })
            return r[0]?.partitions[0]
          }, 30_000)
          expect(offsets.offset).toBe('42')
          const survivor = cluster.nodes.find((n) => n.id !== coordinator.id)!
          const moved = await (await client(survivor)).request(FindCoordinator, 3, { key: group, keyType: 0 })
          expect(moved.nodeId).not.toBe(coordinator.id)
        } finally {
          await a2.disconnect()
        }
      } finally {
        await coordinator.start()
      }
    } finally {
      await admin.disconnect()
    }
  })
})
