import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { FindCoordinator } from '../../../broker/protocol/messages/find-coordinator.ts'
import { OffsetCommit } from '../../../broker/protocol/messages/offset-commit.ts'
import { OffsetFetch } from '../../../broker/protocol/messages/offset-fetch.ts'
import { startLocalCluster } from '../../../chaos/cluster/local.ts'
import { until } from '../../helpers/until.ts'
import { startInProcessBroker, WireClient, type InProcessBroker } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG, stableMember } from './group-wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker({ ...GROUP_TEST_CONFIG, 'offset.metadata.max.bytes': '10' })
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'oc', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 })
})
afterAll(async () => b.stop())

const partition = (partitionIndex: number, committedOffset: number, committedMetadata: string | null = 'm') => ({ partitionIndex, committedOffset, committedLeaderEpoch: 4, committedMetadata })

async function committed(groupId: string) {
  const res = await c.request(OffsetFetch, 5, { groupId, topics: [{ name: 'oc', partitionIndexes: [0, 1] }] })
  return res.topics[0]!.partitions.map((p) => [p.committedOffset, p.committedLeaderEpoch, p.metadata])
}

describe('OffsetCommit', () => {
  test('every version stores offsets (leader epoch from v6) for a simple consumer', async () => {
    for (let v = 1; v <= 9; v++) {
      const groupId = `oc-simple-v${v}`
      const res = await c.request(OffsetCommit, v, { groupId, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'oc', partitions: [partition(0, 10 + v), partition(1, 20 + v, null)] }] })
      expect(res.topics).toEqual([{ name: 'oc', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }, { partitionIndex: 1, errorCode: ErrorCode.NONE }] }])
      expect(await committed(groupId)).toEqual([[10 + v, v >= 6 ? 4 : -1, 'm'], [20 + v, v >= 6 ? 4 : -1, '']])
    }
  })

  test('v0 stored offsets in ZooKeeper: UNSUPPORTED_VERSION for every partition, as Kafka 3.9 in KRaft mode answers', async () => {
    const topics = [{ name: 'oc', partitions: [partition(0, 1), partition(7, 2)] }, { name: 'no-such-topic', partitions: [partition(0, 3)] }]
    const res = await c.request(OffsetCommit, 0, { groupId: 'oc-v0', topics })
    expect(res.topics.map((t) => t.partitions.map((p) => p.errorCode))).toEqual([[ErrorCode.UNSUPPORTED_VERSION, ErrorCode.UNSUPPORTED_VERSION], [ErrorCode.UNSUPPORTED_VERSION]])
    expect(await committed('oc-v0')).toEqual([[-1, -1, ''], [-1, -1, '']])
    // When no partition exists, Kafka answers before reaching the ZooKeeper path.
    const none = await c.request(OffsetCommit, 0, { groupId: 'oc-v0', topics: [{ name: 'no-such-topic', partitions: [partition(0, 3)] }] })
    expect(none.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  })

  test('v1 keeps the commit timestamp the client sends: an old one has expired by the next retention check', async () => {
    const r = await startInProcessBroker({ ...GROUP_TEST_CONFIG, 'offsets.retention.check.interval.ms': '100' })
    try {
      const rc = await r.client()
      await rc.request(CreateTopics, 7, { topics: [{ name: 'oc', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
      const commit = (groupId: string, commitTimestamp: number) =>
        rc.request(OffsetCommit, 1, { groupId, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'oc', partitions: [{ partitionIndex: 0, committedOffset: 7, commitTimestamp, committedMetadata: '' }] }] })
      expect((await commit('oc-ancient', 1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE)
      expect((await commit('oc-now', -1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE)
      const fetched = async (groupId: string) => (await rc.request(OffsetFetch, 5, { groupId, topics: [{ name: 'oc', partitionIndexes: [0] }] })).topics[0]!.partitions[0]!.committedOffset
      await until('the offset committed at time 1 to expire', async () => (await fetched('oc-ancient')) === -1)
      expect(await fetched('oc-now')).toBe(7)
    } finally {
      await r.stop()
    }
  })

  test('members commit with their generation; stale generations, strangers and unknown groups are refused', async () => {
    const m = await stableMember(b, 'oc-group')
    const commit = (generationIdOrMemberEpoch: number, memberId: string, version = 8, groupId = 'oc-group') =>
      c.request(OffsetCommit, version, { groupId, generationIdOrMemberEpoch, memberId, topics: [{ name: 'oc', partitions: [partition(0, 5)] }] }).then((r) => r.topics[0]!.partitions[0]!.errorCode)
    expect(await commit(m.generationId, m.memberId)).toBe(ErrorCode.NONE)
    expect(await commit(m.generationId - 1, m.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect(await commit(m.generationId, 'stranger')).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(await commit(-1, '')).toBe(ErrorCode.UNKNOWN_MEMBER_ID) // the group has members
    expect(await commit(1, 'm', 8, 'oc-unknown')).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect(await commit(1, 'm', 9, 'oc-unknown')).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
  })

  test('per partition: unknown partitions and oversized metadata fail alone', async () => {
    const res = await c.request(OffsetCommit, 8, {
      groupId: 'oc-partial',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        { name: 'oc', partitions: [partition(0, 1), partition(1, 2, 'way too long metadata'), partition(7, 3)] },
        { name: 'no-such-topic', partitions: [partition(0, 1)] },
      ],
    })
    expect(res.topics.map((t) => t.partitions.map((p) => p.errorCode))).toEqual([
      [ErrorCode.NONE, ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ])
    expect(await committed('oc-partial')).toEqual([[1, 4, 'm'], [-1, -1, '']])
  })

  test('an empty group id is accepted (old simple consumers); committed offsets survive a broker restart', async () => {
    const res = await c.request(OffsetCommit, 3, { groupId: '', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1, topics: [{ name: 'oc', partitions: [partition(1, 99)] }] })
    expect(res.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE)
    const dataDir = b.dataDir
    await b.stop()
    b = await startInProcessBroker(GROUP_TEST_CONFIG, { dataDir })
    c = await b.client()
    let got: unknown[] = []
    for (let i = 0; i < 100; i++) {
      const r = await c.request(OffsetFetch, 7, { groupId: '', topics: [{ name: 'oc', partitionIndexes: [1] }], requireStable: false })
      if (r.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) continue
      got = r.topics[0]!.partitions.map((p) => p.committedOffset)
      break
    }
    expect(got).toEqual([99])
    expect(await committed('oc-simple-v9')).toEqual([[19, 4, 'm'], [29, 4, '']])
  })
})

describe('OffsetCommit on a 3-broker cluster', () => {
  test('a coordinator that hosts no replica of a partition accepts commits for it (Kafka checks the cluster metadata)', async () => {
    const cluster = await startLocalCluster({ brokers: 3, config: { 'offsets.topic.num.partitions': '1', 'offsets.topic.replication.factor': '1' } })
    const clients: WireClient[] = []
    const connect = async (id: number) => {
      const n = cluster.nodes.find((x) => x.id === id)!
      const wc = await WireClient.connect(n.host, n.port)
      clients.push(wc)
      return wc
    }
    try {
      const any = await connect(1)
      const groupId = 'oc-remote-partitions'
      const coordinatorId = await until('a coordinator', async () => {
        const r = await any.request(FindCoordinator, 3, { key: groupId, keyType: 0 })
        return r.errorCode === ErrorCode.NONE ? r.nodeId : undefined
      })
      const others = [1, 2, 3].filter((id) => id !== coordinatorId)
      const cc = await connect(coordinatorId)
      // Created through the coordinator, which answers once its own image has the topic.
      const created = await cc.request(CreateTopics, 7, {
        topics: [{ name: 'remote', numPartitions: -1, replicationFactor: -1, assignments: others.map((id, i) => ({ partitionIndex: i, brokerIds: [id] })), configs: [] }],
        timeoutMs: 10_000,
        validateOnly: false,
      })
      expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE)
      const commit = () =>
        cc.request(OffsetCommit, 8, { groupId, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'remote', partitions: [partition(0, 11), partition(1, 12), partition(2, 13)] }] })
      const res = await until('the coordinator to load the group', async () => {
        const r = await commit()
        const codes = r.topics[0]!.partitions.map((p) => p.errorCode)
        return codes.includes(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) || codes.includes(ErrorCode.NOT_COORDINATOR) ? undefined : codes
      })
      expect(res).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
      const fetched = await cc.request(OffsetFetch, 5, { groupId, topics: [{ name: 'remote', partitionIndexes: [0, 1] }] })
      expect(fetched.topics[0]!.partitions.map((p) => p.committedOffset)).toEqual([11, 12])
    } finally {
      for (const wc of clients) wc.close()
      await cluster.close()
    }
  })
})
