// DescribeCluster: v0-1
//
// Behavior:
// * The cluster id, the registered unfenced brokers at their endpoint for the listener the request came in
//   on (as Metadata lists them), and the controller id: the active controller (a combined node here), -1 when
//   there is none or it is not among those brokers (Kafka's AuthHelper does the same).
// * Needs DESCRIBE on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * includeClusterAuthorizedOperations: the CLUSTER operations the principal may do (without an authorizer all
//   of ALTER, ALTER_CONFIGS, CLUSTER_ACTION, CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE) as a bit
//   field; otherwise INT32_MIN.
// * This is a broker endpoint: endpointType 2 (CONTROLLER) is MISMATCHED_ENDPOINT_TYPE, any other type but
//   1 (BROKER) UNSUPPORTED_ENDPOINT_TYPE; in v0 both are INVALID_REQUEST, answered with the message alone.
//
// Version notes:
// * v0: flexible; v1: endpointType (KIP-919)

import { ErrorCode } from '../protocol/errors.ts'
import { DescribeCluster } from '../protocol/messages/describe-cluster.ts'
import { authorizedOperations, clusterAllowed } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

const BROKER = 1
const CONTROLLER = 2
const NOT_REQUESTED = -2147483648
// AclOperation codes: CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.

register(DescribeCluster, (req, ctx) => {
  const { broker } = ctx
  const refuse = (code: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    errorCode: ctx.version === 0 ? ErrorCode.INVALID_REQUEST : code,
    errorMessage,
    endpointType: BROKER,
    clusterId: '',
    controllerId: -1,
    brokers: [],
    clusterAuthorizedOperations: NOT_REQUESTED,
  })
  if (req.endpointType !== BROKER && req.endpointType !== CONTROLLER) return refuse(ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, `Unsupported endpoint type ${req.endpointType}`)
  if (req.endpointType === CONTROLLER) return refuse(ErrorCode.MISMATCHED_ENDPOINT_TYPE, 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER')
  if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const listener = ctx.connection.listenerName
  const brokers = broker.image.liveBrokers().map((b) => {
    const e = b.endpoints.find((x) => x.name === listener) ?? b.endpoints[0]
    return { brokerId: b.brokerId, host: e?.host ?? '', port: e?.port ?? -1, rack: b.rack }
  })
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: BROKER,
    clusterId: broker.clusterId,
    controllerId: brokers.some((b) => b.brokerId === broker.controllerId) ? broker.controllerId : -1,
    brokers,
    clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_NAME) : NOT_REQUESTED,
  }
})
