// ElectLeaders: v0-2
//
// Behavior:
// * Needs ALTER on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * Asks the active controller (through the Raft metadata quorum) to elect leaders, as Kafka 3.9's KRaft
//   controller does, and answers once this broker has applied the result.
// * Per partition: NONE (elected), ELECTION_NOT_NEEDED (preferred: the preferred replica leads already;
//   unclean: the partition has a leader), PREFERRED_LEADER_NOT_AVAILABLE (the preferred replica is not in the
//   ISR, or fenced, or shutting down), ELIGIBLE_LEADERS_NOT_AVAILABLE (unclean: no live replica),
//   UNKNOWN_TOPIC_OR_PARTITION.
// * A null partition list means every partition; the answer then lists every topic but leaves out the
//   partitions that needed no election (as Kafka does).
// * Whole request: INVALID_REQUEST (an election type other than 0 or 1), REQUEST_TIMED_OUT (no controller
//   within timeoutMs); each named partition carries the same error.
//
// Version notes:
// * v0: preferred elections only, no top-level errorCode; v1: electionType and errorCode (KIP-460); v2: flexible

import { ErrorCode } from '../protocol/errors.ts'
import { ElectLeaders } from '../protocol/messages/elect-leaders.ts'
import { clusterAllowed } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

const CONTROLLER_TIMEOUT_MS = 30_000

register(ElectLeaders, async (req, ctx) => {
  const { broker } = ctx
  const electionType = ctx.version >= 1 ? req.electionType : 0
  const failAll = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    errorCode,
    replicaElectionResults: (req.topicPartitions ?? []).map((t) => ({ topic: t.topic, partitionResult: t.partitionId.map((partitionId) => ({ partitionId, errorCode, errorMessage })) })),
  })
  if (!clusterAllowed(ctx, AclOperation.ALTER)) return failAll(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  if (electionType !== 0 && electionType !== 1) return failAll(ErrorCode.INVALID_REQUEST, `Unknown election type ${electionType}`)
  const topicPartitions = req.topicPartitions?.map((t) => ({ topic: t.topic, partitions: t.partitionId })) ?? null
  const timeoutMs = req.timeoutMs > 0 ? req.timeoutMs : CONTROLLER_TIMEOUT_MS
  const r = await broker.controllerClient.call('electLeaders', { brokerId: broker.nodeId, electionType, topicPartitions }, timeoutMs)
  if (!('results' in r) || r.errorCode !== ErrorCode.NONE) {
    const code = r.errorCode === ErrorCode.NOT_CONTROLLER ? ErrorCode.REQUEST_TIMED_OUT : r.errorCode
    return failAll(code, code === ErrorCode.REQUEST_TIMED_OUT ? 'The controller did not answer in time.' : 'The controller could not elect leaders.')
  }
  await broker.waitForMetadata(r.offset, 5000)
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    replicaElectionResults: r.results.map((t) => ({ topic: t.topic, partitionResult: t.partitions.map((p) => ({ ...p })) })),
  }
})
