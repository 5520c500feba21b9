// ListGroups: v0-4
//
// Behavior:
// * Every group of the offsets partitions this broker has loaded, with its protocol type ("consumer", or ""
//   for a group that only stores offsets). While a partition is still loading the error is
//   COORDINATOR_LOAD_IN_PROGRESS and the groups loaded so far are listed.
//
// Version notes:
// * v1: throttleTimeMs; v2: same as v1; v3: flexible
// * v4: statesFilter (case-insensitive; empty = all) and each group's state (KIP-518)

import { ListGroups } from '../protocol/messages/list-groups.ts'
import { register } from './registry.ts'

register(ListGroups, (req, ctx) => {
  const res = ctx.broker.groups.listGroups(ctx.version >= 4 ? req.statesFilter : [])
  return {
    throttleTimeMs: 0,
    errorCode: res.errorCode,
    groups: res.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.groupState })),
  }
})
