// ElectLeaders on a 3-broker cluster of real processes with auto.leader.rebalance.enable=false, so that only
// the requests move leadership: every version's answers, the per-partition errors while the preferred replica
// is down, and a preferred election once it is back in the ISR (the new leader serves every acknowledged record).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster, type LocalNode } from '../../../chaos/cluster/local.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { ElectLeaders } from '../../../broker/protocol/messages/elect-leaders.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches } from '../../../broker/protocol/record-batch.ts'
import { until } from '../../helpers/until.ts'
import { WireClient } from '../../helpers/wire.ts'

const CONFIG = {
  'auto.leader.rebalance.enable': 'false',
  'broker.session.timeout.ms': '6000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': '3000',
  'replica.fetch.wait.max.ms': '200',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '1',
}

let cluster: LocalCluster
const clients = new Map<number, WireClient>()
const node = (id: number) => cluster.nodes.find((n) => n.id === id)!

async function client(n: LocalNode): Promise<WireClient> {
  const c = clients.get(n.id)
  if (c && !c.closed) return c
  const fresh = await WireClient.connect(n.host, n.port)
  clients.set(n.id, fresh)
  return fresh
}

async function partition(via: LocalNode, topic: string, index: number) {
  const md = await (await client(via)).request(Metadata, 12, { topics: [{ name: topic, topicId: '0'.repeat(32) }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  const p = md.topics[0]!.partitions.find((x) => x.partitionIndex === index)!
  return { leader: p.leaderId, epoch: p.leaderEpoch, isr: [...p.isrNodes].sort(), controller: md.controllerId }
}

/** Every record below the high watermark, one Fetch per segment as Kafka answers; undefined on an error. */
async function consume(n: LocalNode, topic: string, index: number): Promise<string[] | undefined> {
  const out: string[] = []
  for (let offset = 0; ; ) {
    const res = await (await client(n)).request(Fetch, 12, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: index, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
      rackId: '',
    })
    const p = res.responses[0]!.partitions[0]!
    if (p.errorCode !== ErrorCode.NONE) return undefined
    const records = [...iterateBatches(p.records ?? Buffer.alloc(0))].flatMap((b) => decodeRecords(b).map((r) => ({ offset: r.offset, value: r.value!.toString() })))
    for (const r of records) if (r.offset >= offset) out.push(r.value)
    if (records.length === 0 || offset >= Number(p.highWatermark)) return out
    offset = records[records.length - 1]!.offset + 1
  }
}

const codes = (res: { replicaElectionResults: { topic: string; partitionResult: { partitionId: number; errorCode: number }[] }[] }) =>
  res.replicaElectionResults.map((t) => [t.topic, t.partitionResult.map((p) => [p.partitionId, p.errorCode])])

beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG, })
})
afterAll(async () => {
  for (const c of clients.values()) c.close()
  await cluster?.close()
})

describe('ElectLeaders', () => {
  test('every version, preferred and unclean, with the errors Kafka gives per partition', async () => {
    const first = node(1)
    const controller = (await partition(first, '__consumer_offsets', 0).catch(() => ({ controller: -1 }))).controller
    // The broker that goes down is not the active controller, so the quorum keeps its leader.
    const downId = [1, 2, 3].find((id) => id !== controller)!
    const via = node([1, 2, 3].find((id) => id !== downId)!)
    const vc = await client(via)
    const others = [1, 2, 3].filter((id) => id !== downId)
    const created = await vc.request(CreateTopics, 7, {
      topics: [
        { name: 'el', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [downId, ...others] }, { partitionIndex: 1, brokerIds: [...others, downId] }], configs: [] },
        { name: 'el-solo', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [downId] }], configs: [] },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    })
    expect(created.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE])
    await until('full ISRs', async () => ((await partition(via, 'el', 0)).isr.length === 3 && (await partition(via, 'el', 1)).isr.length === 3) || undefined)

    const named = [{ topic: 'el', partitionId: [0, 1] }, { topic: 'no-such-topic', partitionId: [0] }]
    const want = [['el', [[0, ErrorCode.ELECTION_NOT_NEEDED], [1, ErrorCode.ELECTION_NOT_NEEDED]]], ['no-such-topic', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]]
    expect(codes(await vc.request(ElectLeaders, 0, { topicPartitions: named, timeoutMs: 10_000 }))).toEqual(want)
    for (const v of [1, 2]) {
      const res = await vc.request(ElectLeaders, v, { electionType: 0, topicPartitions: named, timeoutMs: 10_000 })
      expect(res.errorCode).toBe(ErrorCode.NONE)
      expect(codes(res)).toEqual(want)
    }
    const bad = await vc.request(ElectLeaders, 1, { electionType: 2, topicPartitions: [{ topic: 'el', partitionId: [0] }], timeoutMs: 10_000 })
    expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect(codes(bad)).toEqual([['el', [[0, ErrorCode.INVALID_REQUEST]]]])
    // Every partition: each topic listed, but not the partitions that need no election.
    const all = await vc.request(ElectLeaders, 2, { electionType: 0, topicPartitions: null, timeoutMs: 10_000 })
    expect(codes(all).filter(([t]) => t === 'el' || t === 'el-solo')).toEqual([['el', []], ['el-solo', []]])

    const produce = async (values: string[]) => {
      const leader = node((await partition(via, 'el', 0)).leader)
      const res = await (await client(leader)).request(Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: 'el', partitionData: [{ index: 0, records: encodeRecordBatch(values.map((v) => ({ value: Buffer.from(v) }))) }] }] })
      expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE)
    }
    await produce(['a', 'b'])
    const down = node(downId)
    await down.stop()
    clients.get(downId)?.close()
    await until('el-0 led by another broker', async () => ((await partition(via, 'el', 0)).leader !== downId ? true : undefined))
    await produce(['c'])
    const whileDown = await vc.request(ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'el', partitionId: [0] }], timeoutMs: 10_000 })
    expect(codes(whileDown)).toEqual([['el', [[0, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]]]])
    const unclean = await vc.request(ElectLeaders, 2, { electionType: 1, topicPartitions: [{ topic: 'el', partitionId: [0] }, { topic: 'el-solo', partitionId: [0] }], timeoutMs: 10_000 })
    expect(codes(unclean)).toEqual([['el', [[0, ErrorCode.ELECTION_NOT_NEEDED]]], ['el-solo', [[0, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]]]])

    await down.start()
    await until('the restarted broker back in the ISR of el-0', async () => ((await partition(via, 'el', 0)).isr.length === 3 ? true : undefined), 30_000)
    const before = await partition(via, 'el', 0)
    expect(before.leader).not.toBe(downId) // nothing moves it back by itself here
    const elected = await vc.request(ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'el', partitionId: [0, 1] }], timeoutMs: 10_000 })
    expect(codes(elected)).toEqual([['el', [[0, ErrorCode.NONE], [1, ErrorCode.ELECTION_NOT_NEEDED]]]])
    const after = await partition(via, 'el', 0)
    expect(after).toMatchObject({ leader: downId, epoch: before.epoch + 1 })
    // The new leader serves every acknowledged record (and no other), once its followers fetched from it (its
    // high watermark moves then, as in Kafka).
    const values = await until('the new leader to serve el-0', async () => {
      const got = await consume(down, 'el', 0)
      return got && got.length >= 3 ? got : undefined
    })
    expect(values).toEqual(['a', 'b', 'c'])
  })
})
