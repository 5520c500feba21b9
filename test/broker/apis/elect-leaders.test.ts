// ElectLeaders on a 3-broker cluster of real processes with auto.leader.rebalance.enable=false, so that only
// the requests move leadership: every version's answers, the per-partition errors while the preferred replica
// is down, and a preferred election once it is back in the ISR (the new leader serves every acknowledged record).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { ElectLeaders } from '../../../broker/protocol/messages/elect-leaders.ts'
import { ClusterWire } from '../../helpers/cluster-wire.ts'
import { until } from '../../helpers/until.ts'

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
let wire: ClusterWire

const codes = (res: { replicaElectionResults: { topic: string; partitionResult: { partitionId: number; errorCode: number }[] }[] }) =>
  res.replicaElectionResults.map((t) => [t.topic, t.partitionResult.map((p) => [p.partitionId, p.errorCode])])

beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
  wire = new ClusterWire(cluster)
})
afterAll(async () => {
  wire?.close()
  await cluster?.close()
})

describe('ElectLeaders', () => {
  test('every version, preferred and unclean, with the errors Kafka gives per partition', async () => {
    const controller = await wire.controller(wire.node(1))
    // The broker that goes down is not the active controller, so the quorum keeps its leader.
    const downId = [1, 2, 3].find((id) => id !== controller)!
    const via = wire.node([1, 2, 3].find((id) => id !== downId)!)
    const vc = await wire.client(via)
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
    await until('full ISRs', async () => ((await wire.partition(via, 'el', 0)).isr.length === 3 && (await wire.partition(via, 'el', 1)).isr.length === 3) || undefined)

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

    expect(await wire.produce(via, 'el', 0, ['a', 'b'])).toBe(ErrorCode.NONE)
    const down = wire.node(downId)
    wire.forget(downId)
    await down.stop()
    await until('el-0 led by another broker', async () => ((await wire.partition(via, 'el', 0)).leader !== downId ? true : undefined))
    expect(await wire.produce(via, 'el', 0, ['c'])).toBe(ErrorCode.NONE)
    const whileDown = await vc.request(ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'el', partitionId: [0] }], timeoutMs: 10_000 })
    expect(codes(whileDown)).toEqual([['el', [[0, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]]]])
    const unclean = await vc.request(ElectLeaders, 2, { electionType: 1, topicPartitions: [{ topic: 'el', partitionId: [0] }, { topic: 'el-solo', partitionId: [0] }], timeoutMs: 10_000 })
    expect(codes(unclean)).toEqual([['el', [[0, ErrorCode.ELECTION_NOT_NEEDED]]], ['el-solo', [[0, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]]]])

    await down.start()
    await until('the restarted broker back in the ISR of el-0', async () => ((await wire.partition(via, 'el', 0)).isr.length === 3 ? true : undefined), 30_000)
    const before = await wire.partition(via, 'el', 0)
    expect(before.leader).not.toBe(downId) // nothing moves it back by itself here
    const elected = await vc.request(ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'el', partitionId: [0, 1] }], timeoutMs: 10_000 })
    expect(codes(elected)).toEqual([['el', [[0, ErrorCode.NONE], [1, ErrorCode.ELECTION_NOT_NEEDED]]]])
    expect(await wire.partition(via, 'el', 0)).toMatchObject({ leader: downId, epoch: before.epoch + 1 })
    // The new leader serves every acknowledged record (and no other) once its followers fetched from it (its
    // high watermark moves then, as in Kafka).
    const values = await until('the new leader to serve el-0', async () => {
      const got = await wire.consume(down, 'el', 0)
      return got && got.length >= 3 ? got : undefined
    })
    expect(values).toEqual(['a', 'b', 'c'])
  })
})
