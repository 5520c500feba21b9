// ListGroups: v0-5
//
// Behavior:
// * Needs DESCRIBE on the CLUSTER lists every group; else only the groups the principal may DESCRIBE.
// * Every group of the offsets partitions this broker has loaded, with its protocol type ("consumer", or ""
//   for a group that only stores offsets). While a partition is still loading the error is
//   COORDINATOR_LOAD_IN_PROGRESS and the groups loaded so far are listed.
//
// Version notes:
// * v1: throttleTimeMs; v2: same as v1; v3: flexible
// * v4: statesFilter (case-insensitive; empty = all) and each group's state (KIP-518)
// * v5: typesFilter (case-insensitive; empty = all) and each group's type (KIP-848): every group here is a
//   classic group, so a filter without "classic" lists none, as with Kafka 3.9's classic coordinator

import { ListGroups } from '../protocol/messages/list-groups.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(ListGroups, (req, ctx) => {
  const res = ctx.broker.groups.listGroups(ctx.version >= 4 ? req.statesFilter : [])
  // DESCRIBE on the cluster lists every group; else the groups the principal may DESCRIBE (as Kafka).
  const all = allowed(ctx, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)
  const visible = res.groups.filter((g) => all || allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId))
  const classic = ctx.version < 5 || req.typesFilter.length === 0 || req.typesFilter.some((t) => t.toLowerCase() === 'classic')
  return {
    throttleTimeMs: 0,
    errorCode: res.errorCode,
    groups: classic ? visible.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.groupState, groupType: 'classic' })) : [],
  }
})
