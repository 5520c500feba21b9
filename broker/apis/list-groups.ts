// ListGroups: v0-5
//
// Behavior:
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
import { register } from './registry.ts'

register(ListGroups, (req, ctx) => {
  const res = ctx.broker.groups.listGroups(ctx.version >= 4 ? req.statesFilter : [])
  const classic = ctx.version < 5 || req.typesFilter.length === 0 || req.typesFilter.some((t) => t.toLowerCase() === 'classic')
  return {
    throttleTimeMs: 0,
    errorCode: res.errorCode,
    groups: classic ? res.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.groupState, groupType: 'classic' })) : [],
  }
})
