import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AclOperation as Op, Authorizer, operationsBitField, parseSuperUsers, PatternType, Permission, ResourceType, type Acl } from '../../../broker/security/authorizer.ts'

// Kafka's decision rules written out one question at a time, as the docs state them, to check the
// authorizer's filtering against. Deliberately naive: no shared helpers with the code under test.
function reference(acls: readonly Acl[], superUsers: readonly string[], allowEveryone: boolean, principal: string, host: string, op: number, type: number, name: string): boolean {
  if (superUsers.includes(principal)) return true
  const onResource: Acl[] = []
  for (const a of acls) {
    if (a.resourceType !== type) continue
    if (a.patternType === PatternType.LITERAL && (a.resourceName === name || a.resourceName === '*')) onResource.push(a)
    if (a.patternType === PatternType.PREFIXED && name.slice(0, a.resourceName.length) === a.resourceName) onResource.push(a)
  }
  if (onResource.length === 0) return allowEveryone
  const forMe = onResource.filter((a) => (a.principal === principal || a.principal === 'User:*') && (a.host === host || a.host === '*'))
  for (const a of forMe) if (a.permissionType === Permission.DENY && (a.operation === op || a.operation === Op.ALL)) return false
  for (const a of forMe) {
    if (a.permissionType !== Permission.ALLOW) continue
    if (a.operation === Op.ALL || a.operation === op) return true
    if (op === Op.DESCRIBE && [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER].includes(a.operation as 3)) return true
    if (op === Op.DESCRIBE_CONFIGS && a.operation === Op.ALTER_CONFIGS) return true
  }
  return false
}

// Few values per dimension, so that random ACLs often meet the request and each other.
const principals = ['User:alice', 'User:bob', 'User:CN=carol,O=x']
const hosts = ['127.0.0.1', '::1']
const names = ['', 'a', 'ab', 'b', '*']
const ops = [Op.ALL, Op.READ, Op.WRITE, Op.DELETE, Op.ALTER, Op.DESCRIBE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE]
const types = [ResourceType.TOPIC, ResourceType.GROUP]

const acl: fc.Arbitrary<Acl> = fc.record({
  resourceType: fc.constantFrom(...types),
  resourceName: fc.constantFrom(...names.filter((n) => n !== '')),
  patternType: fc.constantFrom(PatternType.LITERAL, PatternType.PREFIXED),
  principal: fc.constantFrom(...principals, 'User:*'),
  host: fc.constantFrom(...hosts, '*'),
  operation: fc.constantFrom(...ops),
  permissionType: fc.constantFrom(Permission.ALLOW, Permission.DENY),
})

describe('Authorizer', () => {
  it('decides as the reference model of Kafka\'s rules over random ACL sets, principals, hosts and operations', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now())
    console.log(`authorizer property seed=${seed}`)
    fc.assert(
      fc.property(
        fc.array(acl, { maxLength: 12 }),
        fc.subarray(principals, { maxLength: 1 }),
        fc.boolean(),
        fc.constantFrom(...principals),
        fc.constantFrom(...hosts),
        fc.constantFrom(...ops.filter((o) => o !== Op.ALL)),
        fc.constantFrom(...types),
        fc.constantFrom(...names),
        (acls, supers, allowEveryone, principal, host, op, type, name) => {
          const z = new Authorizer({ superUsers: new Set(supers), allowEveryoneIfNoAclFound: allowEveryone }, () => acls)
          expect(z.authorize({ principal, host }, op, type, name)).toBe(reference(acls, supers, allowEveryone, principal, host, op, type, name))
        },
      ),
      { seed, numRuns: 3000 },
    )
  })

  it('lets a DENY win over an ALLOW, and implications only widen ALLOWs', () => {
    const acls: Acl[] = [
      { resourceType: ResourceType.TOPIC, resourceName: 'orders', patternType: PatternType.PREFIXED, principal: 'User:*', host: '*', operation: Op.WRITE, permissionType: Permission.ALLOW },
      { resourceType: ResourceType.TOPIC, resourceName: 'orders-eu', patternType: PatternType.LITERAL, principal: 'User:bob', host: '*', operation: Op.WRITE, permissionType: Permission.DENY },
    ]
    const z = new Authorizer({ superUsers: parseSuperUsers('User:admin; ;User:broker'), allowEveryoneIfNoAclFound: false }, () => acls)
    const bob = { principal: 'User:bob', host: '127.0.0.1' }
    expect(z.authorize(bob, Op.WRITE, ResourceType.TOPIC, 'orders-us')).toBe(true)
    expect(z.authorize(bob, Op.WRITE, ResourceType.TOPIC, 'orders-eu')).toBe(false)
    expect(z.authorize(bob, Op.DESCRIBE, ResourceType.TOPIC, 'orders-eu')).toBe(true)
    expect(z.authorize(bob, Op.READ, ResourceType.TOPIC, 'orders-us')).toBe(false)
    expect(z.authorize(bob, Op.DESCRIBE, ResourceType.TOPIC, 'other')).toBe(false)
    expect(z.authorize({ principal: 'User:broker', host: '::1' }, Op.CLUSTER_ACTION, ResourceType.CLUSTER, 'kafka-cluster')).toBe(true)
    expect(z.authorizedOperations(bob, ResourceType.TOPIC, 'orders-us')).toEqual([Op.WRITE, Op.DESCRIBE])
    expect(operationsBitField([Op.WRITE, Op.DESCRIBE])).toBe((1 << 4) | (1 << 8))
    expect(z.authorizeAny(bob, Op.WRITE, ResourceType.TOPIC)).toBe(true)
    expect(z.authorizeAny({ principal: 'User:carol', host: '::1' }, Op.READ, ResourceType.TOPIC)).toBe(false)
  })
})
