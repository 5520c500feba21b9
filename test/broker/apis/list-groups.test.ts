import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { ListGroups } from '../../../broker/protocol/messages/list-groups.ts'
import { OffsetCommit } from '../../../broker/protocol/messages/offset-commit.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG, stableMember } from './group-wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
  c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'lg', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
  await stableMember(b, 'lg-stable')
  await c.request(OffsetCommit, 8, { groupId: 'lg-simple', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'lg', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }] })
})
afterAll(async () => b.stop())

describe('ListGroups', () => {
  test('every version lists the groups with their protocol type', async () => {
    for (let v = 0; v <= ListGroups.maxVersion; v++) {
      const res = await c.request(ListGroups, v, { statesFilter: [] })
      expect(res.errorCode).toBe(ErrorCode.NONE)
      const groups = res.groups.map((g) => [g.groupId, g.protocolType, g.groupState, g.groupType]).sort()
      const type = v >= 5 ? 'classic' : ''
      expect(groups).toEqual([
        ['lg-simple', '', v >= 4 ? 'Empty' : '', type],
        ['lg-stable', 'consumer', v >= 4 ? 'Stable' : '', type],
      ])
    }
  })

  test('v4 filters by state, case-insensitively', async () => {
    expect((await c.request(ListGroups, 4, { statesFilter: ['stable'] })).groups.map((g) => g.groupId)).toEqual(['lg-stable'])
    expect((await c.request(ListGroups, 4, { statesFilter: ['Empty', 'Dead'] })).groups.map((g) => g.groupId)).toEqual(['lg-simple'])
    expect((await c.request(ListGroups, 4, { statesFilter: ['PreparingRebalance'] })).groups).toEqual([])
  })

  test('v5 filters by type, case-insensitively: every group here is classic, as under Kafka 3.9\'s classic coordinator', async () => {
    expect((await c.request(ListGroups, 5, { typesFilter: ['Classic'] })).groups.map((g) => g.groupId).sort()).toEqual(['lg-simple', 'lg-stable'])
    expect((await c.request(ListGroups, 5, { typesFilter: ['consumer'] })).groups).toEqual([])
    expect((await c.request(ListGroups, 5, { statesFilter: ['stable'], typesFilter: ['classic', 'consumer'] })).groups.map((g) => g.groupId)).toEqual(['lg-stable'])
  })
})
