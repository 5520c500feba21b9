import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { SyncGroup } from '../../../broker/protocol/messages/sync-group.ts'
import { startInProcessBroker, type InProcessBroker } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG, joinMember } from './group-wire.ts'

let b: InProcessBroker
// Two members joining at once must land in one generation: with no initial rebalance delay the first join can
// complete a generation alone, and the second then waits out the rebalance timeout. Kafka's initial delay (on
// an empty group) is what makes concurrent joins meet; 500 ms is plenty on loopback.
let delayed: InProcessBroker
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
  delayed = await startInProcessBroker({ ...GROUP_TEST_CONFIG, 'group.initial.rebalance.delay.ms': '500' })
})
afterAll(async () => {
  await b.stop()
  await delayed.stop()
})

describe('SyncGroup', () => {
  test('every version: the leader hands out the assignment and gets its own back', async () => {
    for (let v = 0; v <= SyncGroup.maxVersion; v++) {
      const groupId = `sync-v${v}`
      const m = await joinMember(b, groupId)
      const res = await m.c.request(SyncGroup, v, { groupId, generationId: m.generationId, memberId: m.memberId, assignments: [{ memberId: m.memberId, assignment: Buffer.from(`a${v}`) }] })
      expect(res).toMatchObject({ errorCode: ErrorCode.NONE, assignment: Buffer.from(`a${v}`) })
      // v5 echoes the group's protocol type and name.
      expect([res.protocolType, res.protocolName]).toEqual(v >= 5 ? ['consumer', 'range'] : [null, null])
      // In a Stable group SyncGroup answers at once with the stored assignment.
      expect((await m.c.request(SyncGroup, v, { groupId, generationId: m.generationId, memberId: m.memberId, assignments: [] })).assignment).toEqual(Buffer.from(`a${v}`))
    }
  })

  test('v5: a protocol type or name that is not the group\'s is INCONSISTENT_GROUP_PROTOCOL', async () => {
    const groupId = 'sync-v5-protocol'
    const m = await joinMember(b, groupId)
    const sync = (protocolType: string | null, protocolName: string | null) =>
      m.c.request(SyncGroup, 5, { groupId, generationId: m.generationId, memberId: m.memberId, protocolType, protocolName, assignments: [] }).then((r) => r.errorCode)
    expect(await sync('connect', null)).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    expect(await sync(null, 'sticky')).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    expect(await sync('consumer', 'range')).toBe(ErrorCode.NONE)
  })

  test('a follower waits for the leader; stale generations and strangers are refused', async () => {
    const groupId = 'sync-two'
    const [a, b2] = await Promise.all([joinMember(delayed, groupId), joinMember(delayed, groupId)])
    expect(a.generationId).toBe(b2.generationId)
    const leader = a.memberId === a.leader ? a : b2
    const follower = leader === a ? b2 : a
    const waiting = follower.c.request(SyncGroup, 4, { groupId, generationId: follower.generationId, memberId: follower.memberId, assignments: [] })
    const lres = await leader.c.request(SyncGroup, 4, {
      groupId,
      generationId: leader.generationId,
      memberId: leader.memberId,
      assignments: [{ memberId: leader.memberId, assignment: Buffer.from('L') }, { memberId: follower.memberId, assignment: Buffer.from('F') }],
    })
    expect(lres.assignment).toEqual(Buffer.from('L'))
    expect(await waiting).toMatchObject({ errorCode: ErrorCode.NONE, assignment: Buffer.from('F') })
    const c = await delayed.client()
    expect((await c.request(SyncGroup, 4, { groupId, generationId: leader.generationId - 1, memberId: leader.memberId, assignments: [] })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect((await c.request(SyncGroup, 4, { groupId, generationId: leader.generationId, memberId: 'nobody', assignments: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await c.request(SyncGroup, 4, { groupId: 'sync-none', generationId: 1, memberId: 'nobody', assignments: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })
})
