// DescribeGroups: v0-5
//
// Behavior:
// * Per group: state, protocol type, and members (id, instance id, client id, client host). While the group
//   is Stable also the selected protocol and each member's subscription and assignment; otherwise those are
//   empty, as in Kafka. A group the coordinator does not know is described as Dead, without an error.
// * Per group errors: COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE.
// * Needs DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED).
// * authorizedOperations (v3+, when asked for): the group operations (READ, DELETE, DESCRIBE) the principal may
//   do, as a bit field (all three without an authorizer); INT32_MIN when not asked for.
//
// Version notes:
// * v1: throttleTimeMs; v2: same as v1; v3: authorized operations; v4: groupInstanceId; v5: flexible

import { ErrorCode } from '../protocol/errors.ts'
import { DescribeGroups } from '../protocol/messages/describe-groups.ts'
import { allowed, authorizedOperations } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

const NOT_REQUESTED = -2147483648

register(DescribeGroups, (req, ctx) => {
  const { groups } = ctx.broker
  const withOperations = ctx.version >= 3 && req.includeAuthorizedOperations
  return {
    throttleTimeMs: 0,
    groups: req.groups.map((groupId) => {
      if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) {
        return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NOT_REQUESTED }
      }
      const { errorCode, summary } = groups.describeGroup(groupId)
      return {
        errorCode,
        groupId,
        groupState: summary.state,
        protocolType: summary.protocolType,
        protocolData: summary.protocolData,
        members: summary.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
        authorizedOperations: withOperations ? authorizedOperations(ctx, ResourceType.GROUP, groupId) : NOT_REQUESTED,
      }
    }),
  }
})
