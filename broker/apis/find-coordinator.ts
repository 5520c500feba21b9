// FindCoordinator: v0-6
//
// Behavior:
// * Needs DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED) or transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
// * Key type 0 (group): the leader of the group's __consumer_offsets partition, at its endpoint for the
//   listener the request came in on; COORDINATOR_NOT_AVAILABLE while that partition has no leader or the
//   topic does not exist yet (this request creates it, as in Kafka). COORDINATOR_LOAD_IN_PROGRESS comes
//   from the group APIs while the coordinator loads.
// * Key type 1 (transactional id): this broker (transactions are not implemented).
// * Key type 2 (share group, v6+): COORDINATOR_NOT_AVAILABLE, as Kafka 3.9 answers while share groups
//   (KIP-932) are not implemented; INVALID_REQUEST before v6, like other unknown key types.
//
// Version notes:
// * v1: keyType, errorMessage, throttleTimeMs; v2: same as v1; v3: flexible
// * v4: a batch of keys in, one coordinators entry per key out (KIP-699); the single-key fields go
// * v5: may answer TRANSACTION_ABORTABLE (transactions only); v6: key type 2

import { partitionForGroup } from '../group/records.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { FindCoordinator } from '../protocol/messages/find-coordinator.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

const GROUP = 0
const TRANSACTION = 1
const SHARE = 2

register(FindCoordinator, (req, ctx) => {
  const { broker } = ctx
  const endpoint = broker.endpointFor(ctx.connection.listenerName)
  const offsets = broker.image.topic('__consumer_offsets')
  if (req.keyType === GROUP && (!offsets || !broker.groupsReady)) void broker.startGroups('request')
  const unavailable = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'The coordinator is not available.', nodeId: -1, host: '', port: -1 }
  const answer = (key: string) => {
    if (req.keyType === SHARE && ctx.version >= 6) return unavailable
    if (req.keyType !== GROUP && req.keyType !== TRANSACTION) {
      return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown coordinator key type ${req.keyType}`, nodeId: -1, host: '', port: -1 }
    }
    if (req.keyType === GROUP && !allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, key)) {
      return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: 'Group authorization failed.', nodeId: -1, host: '', port: -1 }
    }
    if (req.keyType === TRANSACTION && !allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key)) {
      return { errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, errorMessage: 'Transactional Id authorization failed.', nodeId: -1, host: '', port: -1 }
    }
    if (req.keyType === TRANSACTION) return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: broker.nodeId, host: endpoint.host, port: endpoint.port }
    if (!offsets || offsets.partitions.length === 0) return unavailable
    const leader = offsets.partitions[partitionForGroup(key, offsets.partitions.length)]?.leader ?? -1
    if (leader === broker.nodeId) return broker.groupsReady ? { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: broker.nodeId, host: endpoint.host, port: endpoint.port } : unavailable
    const b = leader >= 0 ? broker.image.broker(leader) : undefined
    const e = b && !b.fenced ? (b.endpoints.find((x) => x.name === ctx.connection.listenerName) ?? b.endpoints[0]) : undefined
    return e ? { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: leader, host: e.host, port: e.port } : unavailable
  }
  if (ctx.version >= 4) return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((key) => ({ key, ...answer(key) })) }
  return { throttleTimeMs: 0, ...answer(req.key) }
})
