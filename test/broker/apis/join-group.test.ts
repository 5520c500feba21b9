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

const body = (groupId: string, memberId = '') => ({ groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId, protocolType: 'consumer', protocols: protocols('range', 'roundrobin') })

describe('JoinGroup', () => {
  test('every version: a lone member becomes the leader of generation 1 (v4+ through MEMBER_ID_REQUIRED)', async () => {
    for (let v = 0; v <= JoinGroup.maxVersion; v++) {
      const c = await b.client()
      const groupId = `join-v${v}`
      // v8 adds the member's reason (Kafka only logs it); v9 answers skipAssignment, false for a classic group.
      let res = await c.request(JoinGroup, v, { ...body(groupId), reason: 'joining' })
      if (v >= 4) {
        expect(res).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1 })
        expect(res.memberId).toMatch(/^wire-test-/)
        res = await c.request(JoinGroup, v, body(groupId, res.memberId))
      }
      expect(res).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, protocolName: 'range' })
      expect(res.leader).toBe(res.memberId)
      expect(res.members).toEqual([{ memberId: res.memberId, groupInstanceId: null, metadata: Buffer.from('sub:range') }])
      expect(res.protocolType).toBe(v >= 7 ? 'consumer' : null)
      expect(res.skipAssignment).toBe(false)
    }
  })

  test('errors: protocolName is null from v7 and empty before', async () => {
    const c = await b.client()
    const bad = { ...body('join-errors'), sessionTimeoutMs: 10 }
    expect(await c.request(JoinGroup, 7, bad)).toMatchObject({ errorCode: ErrorCode.INVALID_SESSION_TIMEOUT, protocolName: null, protocolType: null })
    expect(await c.request(JoinGroup, 6, bad)).toMatchObject({ errorCode: ErrorCode.INVALID_SESSION_TIMEOUT, protocolName: '' })
    expect((await c.request(JoinGroup, 5, body(''))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
    expect((await c.request(JoinGroup, 5, body('join-errors', 'not-a-member'))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  test('a member that shares no protocol with the group is INCONSISTENT_GROUP_PROTOCOL', async () => {
    await stableMember(b, 'join-protocols')
    const c = await b.client()
    const res = await c.request(JoinGroup, 1, { ...body('join-protocols'), protocols: protocols('sticky') })
    expect(res.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  })

  test('v5 static membership: a new incarnation of an instance fences the old member id', async () => {
    const first = await stableMember(b, 'join-static', { groupInstanceId: 'host-1' })
    const c = await b.client()
    const res = await c.request(JoinGroup, 5, { ...body('join-static'), groupInstanceId: 'host-1' })
    expect(res).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, members: [] })
    expect(res.memberId).not.toBe(first.memberId)
    expect(res.memberId).toMatch(/^host-1-/)
    const hb = await c.request(Heartbeat, 3, { groupId: 'join-static', generationId: 1, memberId: first.memberId, groupInstanceId: 'host-1' })
    expect(hb.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID)
  })
})
