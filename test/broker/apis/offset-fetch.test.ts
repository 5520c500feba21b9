import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { OffsetCommit } from '../../../broker/protocol/messages/offset-commit.ts'
import { OffsetFetch } from '../../../broker/protocol/messages/offset-fetch.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG } from './group-wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'of-a', numPartitions: 2, replicationFactor: 1 }, { name: 'of-b', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
  for (const groupId of ['of-1', 'of-2']) {
    const topics = [
      { name: 'of-a', partitions: [{ partitionIndex: 0, committedOffset: groupId === 'of-1' ? 10 : 30, committedLeaderEpoch: 2, committedMetadata: 'x' }] },
      { name: 'of-b', partitions: [{ partitionIndex: 0, committedOffset: 20, committedLeaderEpoch: 2, committedMetadata: null }] },
    ]
    await c.request(OffsetCommit, 8, { groupId, generationIdOrMemberEpoch: -1, memberId: '', topics })
  }
})
afterAll(async () => b.stop())

describe('OffsetFetch', () => {
  test('v1-7: named partitions; uncommitted ones and unknown groups answer -1 without error', async () => {
    for (let v = 1; v <= 7; v++) {
      const res = await c.request(OffsetFetch, v, { groupId: 'of-1', topics: [{ name: 'of-a', partitionIndexes: [0, 1] }], requireStable: v >= 7 })
      expect(res.topics).toEqual([
        {
          name: 'of-a',
          partitions: [
            { partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: v >= 5 ? 2 : -1, metadata: 'x', errorCode: ErrorCode.NONE },
            { partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE },
          ],
        },
      ])
      if (v >= 2) expect(res.errorCode).toBe(ErrorCode.NONE)
      const unknown = await c.request(OffsetFetch, v, { groupId: 'of-nobody', topics: [{ name: 'of-b', partitionIndexes: [0] }] })
      expect(unknown.topics[0]!.partitions[0]).toMatchObject({ committedOffset: -1, errorCode: ErrorCode.NONE })
    }
  })

  test('v0 read ZooKeeper: every requested partition gets UNSUPPORTED_VERSION, as Kafka 3.9 in KRaft mode answers', async () => {
    const res = await c.request(OffsetFetch, 0, { groupId: 'of-1', topics: [{ name: 'of-a', partitionIndexes: [0, 1] }] })
    expect(res.topics).toEqual([
      {
        name: 'of-a',
        partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSUPPORTED_VERSION })),
      },
    ])
  })

  test('v2-7: null topics means every committed offset of the group', async () => {
    for (let v = 2; v <= 7; v++) {
      const res = await c.request(OffsetFetch, v, { groupId: 'of-1', topics: null })
      const flat = res.topics.flatMap((t) => t.partitions.map((p) => `${t.name}/${p.partitionIndex}=${p.committedOffset}`)).sort()
      expect(flat).toEqual(['of-a/0=10', 'of-b/0=20'])
    }
  })

  test('v8-9: a batch of groups, each with its own topics (null for all) and error code; v9\'s member fields do not matter to a classic group', async () => {
    for (const v of [8, 9]) {
      const res = await c.request(OffsetFetch, v, {
        groups: [
          { groupId: 'of-1', topics: [{ name: 'of-a', partitionIndexes: [0] }], memberId: 'someone', memberEpoch: 3 },
          { groupId: 'of-2', topics: null },
          { groupId: 'of-none', topics: null },
        ],
        requireStable: true,
      })
      expect(res.groups.map((g) => [g.groupId, g.errorCode, g.topics.flatMap((t) => t.partitions.map((p) => `${t.name}/${p.partitionIndex}=${p.committedOffset}:${p.committedLeaderEpoch}`)).sort()])).toEqual([
        ['of-1', ErrorCode.NONE, ['of-a/0=10:2']],
        ['of-2', ErrorCode.NONE, ['of-a/0=30:2', 'of-b/0=20:2']],
        ['of-none', ErrorCode.NONE, []],
      ])
    }
  })
})
