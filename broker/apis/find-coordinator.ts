// FindCoordinator: v0-4
//
// Behavior:
// * Key type 0 (group) and 1 (transactional id) are answered with this broker, at the address of the listener
//   the request came in on: a single node coordinates everything. Which offsets partition holds a group is
//   the coordinator's business (COORDINATOR_LOAD_IN_PROGRESS comes from the group APIs while it loads).
// * Other key types get INVALID_REQUEST.
//
// Version notes:
// * v1: keyType, errorMessage, throttleTimeMs; v2: same as v1; v3: flexible
// * v4: a batch of keys in, one coordinators entry per key out (KIP-699); the single-key fields go

import { ErrorCode } from '../protocol/errors.ts'
import { FindCoordinator } from '../protocol/messages/find-coordinator.ts'
import { register } from './registry.ts'

const GROUP = 0
const TRANSACTION = 1

register(FindCoordinator, (req, ctx) => {
  const { broker } = ctx
  const endpoint = broker.endpointFor(ctx.connection.listenerName)
  const answer = () => {
    if (req.keyType !== GROUP && req.keyType !== TRANSACTION) {
      return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown coordinator key type ${req.keyType}`, nodeId: -1, host: '', port: -1 }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: broker.nodeId, host: endpoint.host, port: endpoint.port }
  }
  if (ctx.version >= 4) return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((key) => ({ key, ...answer() })) }
  return { throttleTimeMs: 0, ...answer() }
})
