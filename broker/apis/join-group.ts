// JoinGroup: v0-9
//
// Behavior:
// * Needs READ on the group (GROUP_AUTHORIZATION_FAILED).
// * Joins the member to the group (created when the first member without an id arrives) and answers once
//   the rebalance completes: the generation, the selected protocol, the leader and, for the leader only,
//   every member's subscription. See broker/group/classic-group.ts for the state machine.
// * A member id for a group the coordinator does not know gets UNKNOWN_MEMBER_ID; a session timeout
//   outside group.min/max.session.timeout.ms gets INVALID_SESSION_TIMEOUT; an empty group id
//   INVALID_GROUP_ID; protocols that the group cannot share INCONSISTENT_GROUP_PROTOCOL; a member beyond
//   group.max.size GROUP_MAX_SIZE_REACHED; a static member whose instance id moved to a newer member id
//   FENCED_INSTANCE_ID; COORDINATOR_LOAD_IN_PROGRESS while the group's offsets partition loads.
//
// Version notes:
// * v0: no rebalanceTimeoutMs, the session timeout is used; v1: rebalanceTimeoutMs; v2: throttleTimeMs
// * v4: a dynamic member without an id gets MEMBER_ID_REQUIRED with its new id and joins again (KIP-394)
// * v5: groupInstanceId (static membership, KIP-345); v6: flexible
// * v7: protocolType in the response, protocolName nullable (null on errors)
// * v8: the member's reason (accepted; Kafka only logs it); v9: skipAssignment, false for a classic group (KIP-848)

import { ErrorCode } from '../protocol/errors.ts'
import { JoinGroup } from '../protocol/messages/join-group.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(JoinGroup, async (req, ctx) => {
  const v = ctx.version
  if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolType: null, protocolName: v >= 7 ? null : '', leader: '', skipAssignment: false, memberId: req.memberId, members: [] }
  }
  const groupInstanceId = v >= 5 ? req.groupInstanceId : null
  const result = await ctx.broker.groups.joinGroup(req.groupId, {
    memberId: req.memberId,
    groupInstanceId,
    requireKnownMemberId: v >= 4 && groupInstanceId === null,
    clientId: ctx.header.clientId ?? '',
    clientHost: `/${ctx.connection.remoteAddress}`,
    rebalanceTimeoutMs: v >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    sessionTimeoutMs: req.sessionTimeoutMs,
    protocolType: req.protocolType,
    // Copies: the request's bytes are views into a frame buffer the group would otherwise keep alive.
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
  })
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolType: result.protocolType,
    protocolName: v >= 7 ? result.protocolName : (result.protocolName ?? ''),
    leader: result.leader,
    skipAssignment: false,
    memberId: result.memberId,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  }
})
