import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateAcls } from '../../../broker/protocol/messages/create-acls.ts'
import { AclOperation as Op, PatternType, Permission, ResourceType } from '../../../broker/security/authorizer.ts'
import { startInProcessBroker, type InProcessBroker } from '../../helpers/wire.ts'

const acl = (over: Partial<{ resourceType: number; resourceName: string; resourcePatternType: number; principal: string; host: string; operation: number; permissionType: number }> = {}) => ({
  resourceType: ResourceType.TOPIC,
  resourceName: 'orders',
  resourcePatternType: PatternType.LITERAL,
  principal: 'User:alice',
  host: '*',
  operation: Op.WRITE,
  permissionType: Permission.ALLOW,
  ...over,
})

let admin: InProcessBroker
beforeAll(async () => {
  admin = await startInProcessBroker({ 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'super.users': 'User:ANONYMOUS' })
})
afterAll(async () => admin.stop())

describe('CreateAcls', () => {
  test('stores valid ACLs (again: a no-op) and refuses invalid ones by name', async () => {
    const c = await admin.client()
    const r = await c.request(CreateAcls, 3, {
      creations: [acl(), acl({ resourceType: ResourceType.CLUSTER, resourceName: 'other' }), acl({ resourcePatternType: PatternType.MATCH }), acl({ principal: 'alice' }), acl(), acl({ resourcePatternType: PatternType.PREFIXED, resourceName: 'ord' })],
    })
    expect(r.results.map((x) => x.errorCode)).toEqual([0, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, 0, 0])
    expect(r.results[1]!.errorMessage).toBe('The only valid name for the CLUSTER resource is kafka-cluster')
    expect(admin.broker.quorum.image.acls()).toEqual([
      { resourceType: 2, resourceName: 'orders', patternType: 3, principal: 'User:alice', host: '*', operation: Op.WRITE, permissionType: Permission.ALLOW },
      { resourceType: 2, resourceName: 'ord', patternType: 4, principal: 'User:alice', host: '*', operation: Op.WRITE, permissionType: Permission.ALLOW },
    ])
    expect((await c.request(CreateAcls, 0, { creations: [acl({ resourceName: 'v0' })] })).results[0]!.errorCode).toBe(0)
    expect(admin.broker.quorum.image.acls().at(-1)).toMatchObject({ resourceName: 'v0', patternType: PatternType.LITERAL })
  })

  test('needs ALTER on the cluster, and an authorizer', async () => {
    const locked = await startInProcessBroker({ 'authorizer.class.name': 'x' })
    const open = await startInProcessBroker()
    try {
      const a = await (await locked.client()).request(CreateAcls, 2, { creations: [acl()] })
      expect(a.results).toEqual([{ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.' }])
      const b = await (await open.client()).request(CreateAcls, 2, { creations: [acl()] })
      expect(b.results[0]!.errorCode).toBe(ErrorCode.SECURITY_DISABLED)
      expect(locked.broker.quorum.image.acls()).toEqual([])
    } finally {
      await locked.stop()
      await open.stop()
    }
  })
})
