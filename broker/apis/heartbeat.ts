// Heartbeat: v0-4
//
// Behavior:
// * Needs READ on the group (GROUP_AUTHORIZATION_FAILED).
// * Keeps a member's session alive. NONE while the group is Stable or completing a rebalance;
//   REBALANCE_IN_PROGRESS while it prepares one (the member must rejoin); UNKNOWN_MEMBER_ID,
//   ILLEGAL_GENERATION, FENCED_INSTANCE_ID when the member is not, or no longer, who it says it is.
// * While the coordinator loads the group's offsets partition the member cannot be checked: NONE.
//
// Version notes:
// * v1: throttleTimeMs; v2: same as v1; v3: groupInstanceId; v4: flexible

import { ErrorCode } from '../protocol/errors.ts'
import { Heartbeat } from '../protocol/messages/heartbeat.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(Heartbeat, (req, ctx) => {
  if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED }
  const errorCode = ctx.broker.groups.heartbeat(req.groupId, req.generationId, req.memberId, ctx.version >= 3 ? req.groupInstanceId : null)
  return { throttleTimeMs: 0, errorCode }
})
