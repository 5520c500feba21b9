// SyncGroup: v0-5
//
// Behavior:
// * Needs READ on the group (GROUP_AUTHORIZATION_FAILED).
// * The leader sends every member's assignment; the coordinator stores the group (generation, members,
//   assignments) in __consumer_offsets and then answers every member waiting in SyncGroup with its own
//   assignment. Members the leader left out get an empty one. In a Stable group, SyncGroup answers at once.
// * Errors: UNKNOWN_MEMBER_ID (unknown member or group), ILLEGAL_GENERATION (not the current generation),
//   REBALANCE_IN_PROGRESS (the group is rebalancing again, or the coordinator is loading: rejoin),
//   FENCED_INSTANCE_ID, INVALID_GROUP_ID, and NOT_COORDINATOR or REQUEST_TIMED_OUT when storing fails.
//
// Version notes:
// * v1: throttleTimeMs; v2: same as v1; v3: groupInstanceId; v4: flexible
// * v5: protocolType and protocolName both ways (KIP-559): when given they must match the group's, else
//   INCONSISTENT_GROUP_PROTOCOL; the response carries the group's

import { ErrorCode } from '../protocol/errors.ts'
import { SyncGroup } from '../protocol/messages/sync-group.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(SyncGroup, async (req, ctx) => {
  if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) }
  const result = await ctx.broker.groups.syncGroup(req.groupId, {
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: ctx.version >= 3 ? req.groupInstanceId : null,
    protocolType: ctx.version >= 5 ? req.protocolType : null,
    protocolName: ctx.version >= 5 ? req.protocolName : null,
    assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
  })
  return { throttleTimeMs: 0, errorCode: result.errorCode, protocolType: result.protocolType, protocolName: result.protocolName, assignment: result.assignment }
})
