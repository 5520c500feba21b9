import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { Heartbeat } from '../../../broker/protocol/messages/heartbeat.ts'
import { JoinGroup } from '../../../broker/protocol/messages/join-group.ts'
import { startInProcessBroker, type InProcessBroker } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG, protocols, stableMember } from './group-wire.ts'

let b: InProcessBroker
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
})
afterAll(async () => b.stop())

describe('Heartbeat', () => {
  test('every version: NONE in a Stable group, errors for strangers and stale generations', async () => {
    const m = await stableMember(b, 'hb')
    for (let v = 0; v <= 4; v++) {
      expect((await m.c.request(Heartbeat, v, { groupId: 'hb', generationId: m.generationId, memberId: m.memberId })).errorCode).toBe(ErrorCode.NONE)
      expect((await m.c.request(Heartbeat, v, { groupId: 'hb', generationId: m.generationId + 1, memberId: m.memberId })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
      expect((await m.c.request(Heartbeat, v, { groupId: 'hb', generationId: m.generationId, memberId: 'x' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      expect((await m.c.request(Heartbeat, v, { groupId: 'hb-none', generationId: 1, memberId: 'x' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    }
    expect((await m.c.request(Heartbeat, 4, { groupId: '', generationId: 1, memberId: 'x' })).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
  })

  test('a newcomer starts a rebalance: the member hears REBALANCE_IN_PROGRESS', async () => {
    const m = await stableMember(b, 'hb-rebalance')
    const c = await b.client()
    // Its JoinGroup waits for the rebalance; the connection closes before it is answered.
    c.request(JoinGroup, 3, { groupId: 'hb-rebalance', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: protocols('range') }).catch(() => {})
    let code: number = ErrorCode.NONE
    for (let i = 0; i < 50 && code === ErrorCode.NONE; i++) {
      code = (await m.c.request(Heartbeat, 2, { groupId: 'hb-rebalance', generationId: m.generationId, memberId: m.memberId })).errorCode
    }
    expect(code).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
  })
})
