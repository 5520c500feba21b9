// AlterPartitionReassignments: v0
//
// Behavior:
// * Needs ALTER on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * Moves partitions to new replica sets through the active controller (the Raft metadata quorum), as Kafka
//   3.9's KRaft controller does: the answer comes once the reassignment is recorded (the replica set is then the
//   target plus the replicas being removed); the new replicas catch up, join the ISR, and the move completes by
//   itself (broker/controller/quorum-controller.ts). A null replica list cancels the move under way.
// * Per partition: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty, a broker twice, an
//   unregistered broker; a cancel that would need an unclean election), NO_REASSIGNMENT_IN_PROGRESS (cancel
//   without a move), INVALID_REQUEST (a partition named twice).
// * Whole request: REQUEST_TIMED_OUT (no controller within timeoutMs), with every partition carrying it too.

import { ErrorCode } from '../protocol/errors.ts'
import { AlterPartitionReassignments } from '../protocol/messages/alter-partition-reassignments.ts'
import { clusterAllowed } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

const CONTROLLER_TIMEOUT_MS = 30_000

register(AlterPartitionReassignments, async (req, ctx) => {
  const { broker } = ctx
  const topics = req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, replicas: p.replicas })) }))
  if (!clusterAllowed(ctx, AclOperation.ALTER)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', responses: [] }
  }
  const r = await broker.controllerClient.call('alterPartitionReassignments', { brokerId: broker.nodeId, topics }, req.timeoutMs > 0 ? req.timeoutMs : CONTROLLER_TIMEOUT_MS)
  if (!('results' in r) || r.errorCode !== ErrorCode.NONE) {
    const errorCode = r.errorCode === ErrorCode.NOT_CONTROLLER ? ErrorCode.REQUEST_TIMED_OUT : r.errorCode
    const errorMessage = errorCode === ErrorCode.REQUEST_TIMED_OUT ? 'The controller did not answer in time.' : 'The controller could not reassign partitions.'
    return {
      throttleTimeMs: 0,
      errorCode,
      errorMessage,
      responses: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage })) })),
    }
  }
  await broker.waitForMetadata(r.offset, 5000)
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    responses: r.results.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionId, errorCode: p.errorCode, errorMessage: p.errorMessage })) })),
  }
})
