import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateAcls } from '../../../broker/protocol/messages/create-acls.ts'
import { DescribeAcls } from '../../../broker/protocol/messages/describe-acls.ts'
import { AclOperation as Op, PatternType, Permission, ResourceType } from '../../../broker/security/authorizer.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
const entry = (resourceType: number, resourceName: string, resourcePatternType: number, principal: string, operation: number, permissionType: number = Permission.ALLOW) => ({
  resourceType,
  resourceName,
  resourcePatternType,
  principal,
  host: '*',
  operation,
  permissionType,
})
beforeAll(async () => {
  b = await startInProcessBroker({ 'authorizer.class.name': 'x', 'super.users': 'User:ANONYMOUS' })
  c = await b.client()
  const r = await c.request(CreateAcls, 3, {
    creations: [
      entry(ResourceType.TOPIC, 'orders', PatternType.LITERAL, 'User:alice', Op.READ),
      entry(ResourceType.TOPIC, 'orders', PatternType.LITERAL, 'User:bob', Op.WRITE, Permission.DENY),
      entry(ResourceType.TOPIC, '*', PatternType.LITERAL, 'User:alice', Op.DESCRIBE),
      entry(ResourceType.TOPIC, 'ord', PatternType.PREFIXED, 'User:bob', Op.ALL),
      entry(ResourceType.TOPIC, 'x', PatternType.PREFIXED, 'User:bob', Op.ALL),
      entry(ResourceType.GROUP, 'orders', PatternType.LITERAL, 'User:alice', Op.READ),
    ],
  })
  expect(r.results.every((x) => x.errorCode === 0)).toBe(true)
})
afterAll(async () => b.stop())

const filter = (over: Record<string, unknown> = {}) => ({
  resourceTypeFilter: ResourceType.ANY,
  resourceNameFilter: null,
  patternTypeFilter: PatternType.ANY,
  principalFilter: null,
  hostFilter: null,
  operation: Op.ANY,
  permissionType: Permission.ANY,
  ...over,
})

describe('DescribeAcls', () => {
  test('ANY matches all, grouped by resource pattern', async () => {
    const r = await c.request(DescribeAcls, 3, filter())
    expect(r.errorCode).toBe(0)
    expect(r.resources.map((x) => [x.resourceType, x.resourceName, x.patternType, x.acls.length])).toEqual([
      [2, 'orders', 3, 2],
      [2, '*', 3, 1],
      [2, 'ord', 4, 1],
      [2, 'x', 4, 1],
      [3, 'orders', 3, 1],
    ])
  })

  test('MATCH gives the patterns that apply to a name; LITERAL only that exact pattern; entry fields narrow', async () => {
    const match = await c.request(DescribeAcls, 3, filter({ resourceTypeFilter: ResourceType.TOPIC, resourceNameFilter: 'orders', patternTypeFilter: PatternType.MATCH }))
    expect(match.resources.map((x) => `${x.resourceName}/${x.patternType}`)).toEqual(['orders/3', '*/3', 'ord/4'])
    const literal = await c.request(DescribeAcls, 3, filter({ resourceNameFilter: 'orders', patternTypeFilter: PatternType.LITERAL, principalFilter: 'User:bob' }))
    expect(literal.resources).toEqual([{ resourceType: 2, resourceName: 'orders', patternType: 3, acls: [{ principal: 'User:bob', host: '*', operation: Op.WRITE, permissionType: Permission.DENY }] }])
    const v0 = await c.request(DescribeAcls, 0, filter({ resourceTypeFilter: ResourceType.TOPIC }))
    expect(v0.resources.map((x) => x.resourceName)).toEqual(['orders', '*'])
  })

  test('UNKNOWN codes are INVALID_REQUEST; DESCRIBE on the cluster is needed', async () => {
    expect((await c.request(DescribeAcls, 3, filter({ operation: Op.UNKNOWN }))).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    const locked = await startInProcessBroker({ 'authorizer.class.name': 'x' })
    try {
      const r = await (await locked.client()).request(DescribeAcls, 3, filter())
      expect([r.errorCode, r.resources]).toEqual([ErrorCode.CLUSTER_AUTHORIZATION_FAILED, []])
    } finally {
      await locked.stop()
    }
  })
})
