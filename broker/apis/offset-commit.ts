// OffsetCommit: v0-9
//
// Behavior:
// * Needs READ on the group (GROUP_AUTHORIZATION_FAILED) and on each topic (TOPIC_AUTHORIZATION_FAILED).
// * Stores the offsets (with their metadata string and leader epoch) in __consumer_offsets and answers once
//   they are durable under the topic's flush policy. A member commits with its member id and generation;
//   a consumer outside group management (generation -1, no member id) may commit while the group is Empty,
//   and creates the group if needed.
// * Per partition: UNKNOWN_TOPIC_OR_PARTITION (no such partition in the cluster's metadata), OFFSET_METADATA_TOO_LARGE (beyond
//   offset.metadata.max.bytes). For the whole group: ILLEGAL_GENERATION (stale generation, or a generation
//   for a group we do not know), UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS (the
//   member has its new generation but has not synced yet), COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR
//   (storage failed), REQUEST_TIMED_OUT (not durable within offsets.commit.timeout.ms).
// * A null metadata string is stored as "".
// * v0 stored offsets in ZooKeeper, which a KRaft broker does not have: as Kafka 3.9 in KRaft mode, every
//   partition gets UNSUPPORTED_VERSION (UNKNOWN_TOPIC_OR_PARTITION when none of them exists).
//
// Version notes:
// * v1: generationId, memberId and a per-partition commitTimestamp (-1: the time of the commit), kept as the
//   offset's commit timestamp
// * v2-4: retentionTimeMs (-1: the broker's offsets.retention.minutes; otherwise kept as the offset's
//   expire timestamp); v3: throttleTimeMs; v5: retentionTimeMs gone; v6: committedLeaderEpoch
// * v7: groupInstanceId; v8: flexible
// * v9: for a group the coordinator does not know, GROUP_ID_NOT_FOUND instead of ILLEGAL_GENERATION

import { ErrorCode } from '../protocol/errors.ts'
import { OffsetCommit } from '../protocol/messages/offset-commit.ts'
import type { CommitEntry } from '../group/coordinator.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(OffsetCommit, async (req, ctx) => {
  const { broker } = ctx
  const v = ctx.version
  const maxMetadata = broker.groups.config.metadataMaxBytes
  const errors = req.topics.map((t) => t.partitions.map((): number => ErrorCode.NONE))
  const mayRead = allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)
  const entries: CommitEntry[] = []
  const slots: [number, number][] = []
  req.topics.forEach((t, ti) => {
    t.partitions.forEach((p, pi) => {
      const metadata = p.committedMetadata ?? ''
      // Kafka checks the cluster's metadata, not this broker's replicas: the coordinator need not host the partition.
      if (!mayRead) errors[ti]![pi] = ErrorCode.GROUP_AUTHORIZATION_FAILED
      else if (!allowed(ctx, AclOperation.READ, ResourceType.TOPIC, t.name)) errors[ti]![pi] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
      else if (!broker.image.topic(t.name)?.partitions[p.partitionIndex]) errors[ti]![pi] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      else if (Buffer.byteLength(metadata) > maxMetadata) errors[ti]![pi] = ErrorCode.OFFSET_METADATA_TOO_LARGE
      else {
        entries.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1, metadata, commitTimestamp: v === 1 ? p.commitTimestamp : -1 })
        slots.push([ti, pi])
      }
    })
  })
  if (v === 0 && errors.flat().some((e) => e !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) {
    return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNSUPPORTED_VERSION })) })) }
  }
  const results = await broker.groups.commitOffsets(
    req.groupId,
    {
      generationId: req.generationIdOrMemberEpoch,
      memberId: req.memberId,
      groupInstanceId: v >= 7 ? req.groupInstanceId : null,
      retentionTimeMs: v <= 4 ? req.retentionTimeMs : -1,
      apiVersion: v,
    },
    entries,
  )
  results.forEach((errorCode, i) => {
    const [ti, pi] = slots[i]!
    errors[ti]![pi] = errorCode
  })
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t, ti) => ({
      name: t.name,
      partitions: t.partitions.map((p, pi) => ({ partitionIndex: p.partitionIndex, errorCode: errors[ti]![pi]! })),
    })),
  }
})
