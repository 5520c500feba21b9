// A broker restarted after a crash must not answer from the metadata image it had before the crash: in it, it may
// still lead partitions and coordinate groups that moved while it was down. As Kafka, it serves requests only
// once it is caught up with the metadata log and unfenced; clients that connected earlier wait.
//
// Seen in a rolling restart: a restarted ex-coordinator answered a LeaveGroup for a group that had moved, so the
// member stayed at the real coordinator and the group waited 30 s for its session. Here the other two brokers
// are paused (SIGSTOP) while the ex-leader starts, so it cannot catch up. An acks=1 produce and a JoinGroup sent
// to it then must wait and get the answers of the current metadata once the others resume: NOT_LEADER_OR_FOLLOWER
// and NOT_COORDINATOR. (Answered at once, the produce got UNKNOWN_TOPIC_OR_PARTITION for a topic that exists.)
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { FindCoordinator } from '../../../broker/protocol/messages/find-coordinator.ts'
import { JoinGroup } from '../../../broker/protocol/messages/join-group.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { ClusterWire } from '../../helpers/cluster-wire.ts'
import { until } from '../../helpers/until.ts'
import { WireClient } from '../../helpers/wire.ts'

const CONFIG = {
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': '3000',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '1',
  'auto.leader.rebalance.enable': 'false',
}
const GROUP = 'stale-restart-group'

let cluster: LocalCluster
let wire: ClusterWire

beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
  wire = new ClusterWire(cluster)
})
afterAll(async () => {
  for (const n of cluster?.nodes ?? []) n.resume()
  wire?.close()
  await cluster?.close()
})

test('a restarted broker answers only once caught up with the metadata log', async () => {
  const via = wire.node(1)
  const c = await wire.client(via)
  const coord = await until('the group has a coordinator', async () => {
    const fc = await c.request(FindCoordinator, 3, { key: GROUP, keyType: 0 })
    return fc.errorCode === ErrorCode.NONE ? fc.nodeId : undefined
  })
  // The coordinator also leads the topic's partition: the broker to restart had both roles.
  const created = await c.request(CreateTopics, 7, {
    topics: [{ name: 'stale', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [coord, ...[1, 2, 3].filter((id) => id !== coord)] }], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  })
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE)
  await until('full ISR of stale-0', async () => ((await wire.partition(via, 'stale', 0)).isr.length === 3 ? true : undefined))
  expect(await wire.produce(via, 'stale', 0, ['before'])).toBe(ErrorCode.NONE)

  const down = wire.node(coord)
  const others = [1, 2, 3].filter((id) => id !== coord)
  wire.forget(coord)
  await down.kill('SIGKILL')
  const alive = wire.node(others[0]!)
  await until('stale-0 and the group moved to another broker', async () => {
    const p = await wire.partition(alive, 'stale', 0)
    const o = await wire.partition(alive, '__consumer_offsets', 0)
    return p.leader !== coord && p.leader >= 0 && o.leader !== coord && o.leader >= 0 ? true : undefined
  })

  // The old leader starts while the other two are stopped: it has only its old image.
  for (const id of others) {
    wire.forget(id)
    wire.node(id).pause()
  }
  const logged = down.proc.logs.length
  const started = down.start()
  const client = await until('the restarted broker accepts connections', async () => WireClient.connect(down.host, down.port).catch(() => undefined))
  const produced = client.request(Produce, 9, {
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ name: 'stale', partitionData: [{ index: 0, records: encodeRecordBatch([{ value: Buffer.from('stale') }]) }] }],
  })
  const joined = client.request(JoinGroup, 5, {
    groupId: GROUP,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  })
  let answered = false
  void Promise.allSettled([produced, joined]).then(() => (answered = true))
  // Long enough for a broker that answers from its old image to have answered: it has given up on the quorum once.
  await until('the restarted broker campaigned without a quorum', () => (answered || down.proc.logs.slice(logged).some((r) => r.msg === 'raft: prospective') ? true : undefined))
  for (const id of others) wire.node(id).resume()
  await started

  const p = await produced
  expect(p.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
  expect((await joined).errorCode).toBe(ErrorCode.NOT_COORDINATOR)
  client.close()
}, 120_000)
