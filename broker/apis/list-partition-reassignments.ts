// ListPartitionReassignments: v0
//
// Behavior:
// * Needs DESCRIBE on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * The partitions being moved, from this broker's metadata image (the controller's, as of the last entry this
//   broker applied): the whole replica set, the replicas being added and those being removed.
// * A null topic list means every partition being moved; named topics and partitions that do not exist or are
//   not being moved are left out, as Kafka does.

import { isReassigning, type PartitionInfo } from '../controller/metadata-image.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { ListPartitionReassignments } from '../protocol/messages/list-partition-reassignments.ts'
import { clusterAllowed } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(ListPartitionReassignments, (req, ctx) => {
  const { image } = ctx.broker
  if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', topics: [] }
  const ongoing = (name: string, parts: readonly (PartitionInfo | undefined)[]) => ({
    name,
    partitions: parts
      .filter((p): p is PartitionInfo => p !== undefined && isReassigning(p))
      .map((p) => ({ partitionIndex: p.partition, replicas: [...p.replicas], addingReplicas: [...(p.addingReplicas ?? [])], removingReplicas: [...(p.removingReplicas ?? [])] })),
  })
  const wanted =
    req.topics === null
      ? image.topics().map((t) => ongoing(t.name, t.partitions))
      : req.topics.map((t) => {
          const info = image.topic(t.name)
          return ongoing(t.name, info ? t.partitionIndexes.map((i) => info.partitions[i]) : [])
        })
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: wanted.filter((t) => t.partitions.length > 0) }
})
