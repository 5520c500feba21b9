import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { Heartbeat } from '../../../broker/protocol/messages/heartbeat.ts'
import { LeaveGroup } from '../../../broker/protocol/messages/leave-group.ts'
import { startInProcessBroker, type InProcessBroker } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG, stableMember } from './group-wire.ts'

let b: InProcessBroker
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
})
afterAll(async () => b.stop())

describe('LeaveGroup', () => {
  test('v0-2: one member, one error code', async () => {
    for (let v = 0; v <= 2; v++) {
      const groupId = `leave-v${v}`
      const m = await stableMember(b, groupId)
      expect((await m.c.request(LeaveGroup, v, { groupId, memberId: m.memberId })).errorCode).toBe(ErrorCode.NONE)
      expect((await m.c.request(Heartbeat, 0, { groupId, generationId: m.generationId, memberId: m.memberId })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      expect((await m.c.request(LeaveGroup, v, { groupId, memberId: m.memberId })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    }
  })

  test('v3-5: a batch, with an error per member (v5: with a reason); a static member can be named by instance id alone', async () => {
    for (let v = 3; v <= 5; v++) {
      const groupId = `leave-v${v}`
      const dyn = await stableMember(b, groupId)
      const res = await dyn.c.request(LeaveGroup, v, {
        groupId,
        members: [
          { memberId: dyn.memberId, groupInstanceId: null, reason: 'shutting down' },
          { memberId: 'ghost', groupInstanceId: null },
        ],
      })
      expect(res.errorCode).toBe(ErrorCode.NONE)
      expect(res.members).toEqual([
        { memberId: dyn.memberId, groupInstanceId: null, errorCode: ErrorCode.NONE },
        { memberId: 'ghost', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
      ])
      const st = await stableMember(b, `${groupId}-static`, { groupInstanceId: 'inst' })
      const byInstance = await st.c.request(LeaveGroup, v, { groupId: `${groupId}-static`, members: [{ memberId: '', groupInstanceId: 'inst' }] })
      expect(byInstance.members[0]!.errorCode).toBe(ErrorCode.NONE)
    }
    const c = await b.client()
    expect((await c.request(LeaveGroup, 4, { groupId: '', members: [] })).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
  })
})
