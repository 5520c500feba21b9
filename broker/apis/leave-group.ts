// LeaveGroup: v0-5
//
// Behavior:
// * Needs READ on the group (GROUP_AUTHORIZATION_FAILED).
// * Removes members from the group at once (no session timeout to wait for), which starts a rebalance of
//   the rest. A pending member id (handed out with MEMBER_ID_REQUIRED) is simply forgotten. A member named
//   by groupInstanceId alone (empty member id) is the instance's current member.
// * Per member: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID. Whole request: INVALID_GROUP_ID,
//   COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR.
//
// Version notes:
// * v1: throttleTimeMs; v2: same as v1
// * v3: a batch of members, each with its own error (KIP-345); before v3 one memberId and one errorCode
// * v4: flexible; v5: each member's reason (accepted; Kafka only logs it)

import { ErrorCode } from '../protocol/errors.ts'
import { LeaveGroup } from '../protocol/messages/leave-group.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(LeaveGroup, (req, ctx) => {
  const { groups } = ctx.broker
  if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] }
  if (ctx.version < 3) {
    const result = groups.leaveGroup(req.groupId, [{ memberId: req.memberId, groupInstanceId: null }])
    const errorCode = result.errorCode !== ErrorCode.NONE ? result.errorCode : (result.members[0]?.errorCode ?? ErrorCode.NONE)
    return { throttleTimeMs: 0, errorCode }
  }
  const result = groups.leaveGroup(req.groupId, req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })))
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: m.errorCode })),
  }
})
