import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateAcls } from '../../../broker/protocol/messages/create-acls.ts'
import { DeleteAcls } from '../../../broker/protocol/messages/delete-acls.ts'
import { AclOperation as Op, PatternType, Permission, ResourceType } from '../../../broker/security/authorizer.ts'
import { startInProcessBroker, type InProcessBroker } from '../../helpers/wire.ts'

let b: InProcessBroker
beforeAll(async () => {
  b = await startInProcessBroker({ 'authorizer.class.name': 'x', 'super.users': 'User:ANONYMOUS' })
})
afterAll(async () => b.stop())

const entry = (resourceName: string, resourcePatternType: number, principal: string) => ({ resourceType: ResourceType.TOPIC, resourceName, resourcePatternType, principal, host: '*', operation: Op.READ, permissionType: Permission.ALLOW })
const filter = (over: Record<string, unknown>) => ({ resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: Permission.ANY, ...over })

describe('DeleteAcls', () => {
  test('each filter removes what it matches (first filter wins), and the rest stay in force', async () => {
    const c = await b.client()
    await c.request(CreateAcls, 3, { creations: [entry('orders', 3, 'User:a'), entry('ord', 4, 'User:a'), entry('pay', 3, 'User:b'), entry('*', 3, 'User:b')] })
    const r = await c.request(DeleteAcls, 3, {
      filters: [
        filter({ resourceTypeFilter: ResourceType.TOPIC, resourceNameFilter: 'orders', patternTypeFilter: PatternType.MATCH }),
        filter({ principalFilter: 'User:a' }),
        filter({ patternTypeFilter: PatternType.UNKNOWN }),
        filter({ resourceNameFilter: 'nothing' }),
      ],
    })
    expect(r.filterResults.map((f) => [f.errorCode, f.matchingAcls.map((a) => `${a.resourceName}/${a.patternType}/${a.principal}`)])).toEqual([
      [0, ['orders/3/User:a', 'ord/4/User:a', '*/3/User:b']],
      [0, []],
      [ErrorCode.INVALID_REQUEST, []],
      [0, []],
    ])
    expect(b.broker.quorum.image.acls().map((a) => a.resourceName)).toEqual(['pay'])
  })
})
