// DescribeGroups: v0-5
//
// Behavior:
// * Per group: state, protocol type, and members (id, instance id, client id, client host). While the group
//   is Stable also the selected protocol and each member's subscription and assignment; otherwise those are
//   empty, as in Kafka. A group the coordinator does not know is described as Dead, without an error.
// * Per group errors: COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE.
// * authorizedOperations (v3+, when asked for): there is no authorizer yet, so every group operation
//   (READ, DELETE, DESCRIBE); INT32_MIN when not asked for.
//
// Version notes:
// * v1: throttleTimeMs; v2: same as v1; v3: authorized operations; v4: groupInstanceId; v5: flexible

import { DescribeGroups } from '../protocol/messages/describe-groups.ts'
import { register } from './registry.ts'

const NOT_REQUESTED = -2147483648
// AclOperation codes READ = 3, DELETE = 6, DESCRIBE = 8, as a bit set.
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)

register(DescribeGroups, (req, ctx) => {
  const { groups } = ctx.broker
  const withOperations = ctx.version >= 3 && req.includeAuthorizedOperations
  return {
    throttleTimeMs: 0,
    groups: req.groups.map((groupId) => {
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
        authorizedOperations: withOperations ? GROUP_OPERATIONS : NOT_REQUESTED,
      }
    }),
  }
})
