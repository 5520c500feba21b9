import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { ConsumerProtocolSubscription } from '../../../broker/protocol/messages/consumer-protocol.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { JoinGroup } from '../../../broker/protocol/messages/join-group.ts'
import { OffsetCommit } from '../../../broker/protocol/messages/offset-commit.ts'
import { OffsetDelete } from '../../../broker/protocol/messages/offset-delete.ts'
import { OffsetFetch } from '../../../broker/protocol/messages/offset-fetch.ts'
import { SyncGroup } from '../../../broker/protocol/messages/sync-group.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'
import { until } from '../../helpers/until.ts'
import { GROUP_TEST_CONFIG } from './group-wire.ts'

let b: InProcessBroker
let c: WireClient
let dataDir: string
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
  dataDir = b.dataDir
  c = await b.client()
  const res = await c.request(CreateTopics, 7, { topics: ['od-a', 'od-sub'].map((name) => ({ name, numPartitions: 2, replicationFactor: 1 })) as never, timeoutMs: 5000, validateOnly: false })
  expect(res.topics.every((t) => t.errorCode === 0)).toBe(true)
})
afterAll(async () => b.stop())

const commit = async (groupId: string, generationId = -1, memberId = '') => {
  const topics = ['od-a', 'od-sub'].map((name) => ({ name, partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null })) }))
  const res = await c.request(OffsetCommit, 8, { groupId, generationIdOrMemberEpoch: generationId, memberId, groupInstanceId: null, topics })
  expect(res.topics.flatMap((t) => t.partitions.map((p) => p.errorCode))).toEqual([0, 0, 0, 0])
}
const committed = async (groupId: string) => {
  const res = await c.request(OffsetFetch, 7, { groupId, topics: null, requireStable: false })
  expect(res.errorCode).toBe(0)
  return res.topics.flatMap((t) => t.partitions.map((p) => `${t.name}:${p.partitionIndex}`)).sort()
}
const del = (groupId: string, topics: { name: string; partitions: number[] }[]) =>
  c.request(OffsetDelete, 0, { groupId, topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((partitionIndex) => ({ partitionIndex })) })) })
/** A member of a Stable group; its subscription (to od-sub) is Kafka's consumer protocol. */
const join = async (groupId: string, protocolType: string) => {
  const m = await b.client()
  const metadata = ConsumerProtocolSubscription.encode(0, { topics: ['od-sub'], userData: null } as never)
  const body = { groupId, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '', groupInstanceId: null, protocolType, protocols: [{ name: 'range', metadata }] }
  let res = await m.request(JoinGroup, 5, body)
  if (res.errorCode === ErrorCode.MEMBER_ID_REQUIRED) res = await m.request(JoinGroup, 5, { ...body, memberId: res.memberId })
  expect(res.errorCode).toBe(0)
  const s = await m.request(SyncGroup, 3, { groupId, generationId: res.generationId, memberId: res.memberId, groupInstanceId: null, assignments: [{ memberId: res.memberId, assignment: Buffer.from('all') }] })
  expect(s.errorCode).toBe(0)
  return res
}

describe('OffsetDelete', () => {
  test('an Empty group loses the named offsets, then the group itself once none are left; a restart keeps that', async () => {
    await commit('od-empty')
    const res = await del('od-empty', [{ name: 'od-a', partitions: [0, 1] }, { name: 'nope', partitions: [0] }, { name: 'od-sub', partitions: [7] }])
    expect(res).toEqual({
      errorCode: 0,
      throttleTimeMs: 0,
      topics: [
        { name: 'od-a', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] },
        { name: 'nope', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
        { name: 'od-sub', partitions: [{ partitionIndex: 7, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
      ],
    })
    expect(await committed('od-empty')).toEqual(['od-sub:0', 'od-sub:1'])
    expect((await del('od-empty', [{ name: 'od-sub', partitions: [0, 1] }])).errorCode).toBe(0)
    expect((await del('od-empty', [{ name: 'od-sub', partitions: [0] }])).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
    await commit('od-kept')
    expect((await del('od-kept', [{ name: 'od-a', partitions: [1] }])).errorCode).toBe(0)
    await b.stop()
    b = await startInProcessBroker(GROUP_TEST_CONFIG, { dataDir })
    c = await b.client()
    // The restarted coordinator loads the offsets log first (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
    await until('the offsets to be loaded after the restart', async () => (await c.request(OffsetFetch, 7, { groupId: 'od-kept', topics: null, requireStable: false })).errorCode === 0)
    expect(await committed('od-kept')).toEqual(['od-a:0', 'od-sub:0', 'od-sub:1'])
    expect(await committed('od-empty')).toEqual([])
  })

  test('a consumer group with members keeps the offsets of topics it subscribes to', async () => {
    const m = await join('od-live', 'consumer')
    await commit('od-live', m.generationId, m.memberId)
    const res = await del('od-live', [{ name: 'od-a', partitions: [0] }, { name: 'od-sub', partitions: [0] }])
    expect(res.topics.map((t) => [t.name, t.partitions[0]!.errorCode])).toEqual([['od-a', 0], ['od-sub', ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC]])
    expect(await committed('od-live')).toEqual(['od-a:1', 'od-sub:0', 'od-sub:1'])
  })

  test('group errors', async () => {
    await join('od-connect', 'connect')
    expect(await del('od-connect', [{ name: 'od-a', partitions: [0] }])).toEqual({ errorCode: ErrorCode.NON_EMPTY_GROUP, throttleTimeMs: 0, topics: [] })
    expect((await del('od-nobody', [{ name: 'od-a', partitions: [0] }])).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
    expect((await del('', [{ name: 'od-a', partitions: [0] }])).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
  })
})
