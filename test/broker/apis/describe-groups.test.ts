import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { DescribeGroups } from '../../../broker/protocol/messages/describe-groups.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG, stableMember, type Member } from './group-wire.ts'

let b: InProcessBroker
let c: WireClient
let m: Member
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
  c = await b.client()
  m = await stableMember(b, 'dg', { groupInstanceId: 'inst-9' })
})
afterAll(async () => b.stop())

describe('DescribeGroups', () => {
  test('every version: a Stable group with its protocol, members, subscriptions and assignments', async () => {
    for (let v = 0; v <= 5; v++) {
      const res = await c.request(DescribeGroups, v, { groups: ['dg', 'dg-unknown'], includeAuthorizedOperations: false })
      expect(res.groups[0]).toEqual({
        errorCode: ErrorCode.NONE,
        groupId: 'dg',
        groupState: 'Stable',
        protocolType: 'consumer',
        protocolData: 'range',
        members: [
          {
            memberId: m.memberId,
            groupInstanceId: v >= 4 ? 'inst-9' : null,
            clientId: 'wire-test',
            clientHost: expect.stringMatching(/^\/127\.0\.0\.\d+$/),
            memberMetadata: Buffer.from('sub:range'),
            memberAssignment: Buffer.from('all'),
          },
        ],
        authorizedOperations: -2147483648,
      })
      // A group nobody knows is Dead, without an error.
      expect(res.groups[1]).toMatchObject({ errorCode: ErrorCode.NONE, groupId: 'dg-unknown', groupState: 'Dead', protocolType: '', members: [] })
    }
  })

  test('v3+: authorized operations when asked for (READ, DELETE, DESCRIBE: no authorizer yet)', async () => {
    const res = await c.request(DescribeGroups, 5, { groups: ['dg'], includeAuthorizedOperations: true })
    expect(res.groups[0]!.authorizedOperations).toBe((1 << 3) | (1 << 6) | (1 << 8))
  })
})
