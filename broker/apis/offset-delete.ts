// OffsetDelete: v0
//
// Behavior:
// * Needs DELETE on the group (GROUP_AUTHORIZATION_FAILED) and READ on each topic (TOPIC_AUTHORIZATION_FAILED).
// * Deletes a group's committed offsets for the named partitions (Kafka's GroupCoordinator.handleDeleteOffsets):
//   all of them in an Empty group (which goes once it has no offsets left); in a consumer group with members
//   only those of topics no member subscribes to, the others GROUP_SUBSCRIBED_TO_TOPIC. Partitions of topics
//   that do not exist are UNKNOWN_TOPIC_OR_PARTITION.
// * Group errors (top-level, no topics): INVALID_GROUP_ID (empty id), GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (a
//   non-consumer group with members), NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.

import { ErrorCode } from '../protocol/errors.ts'
import { OffsetDelete } from '../protocol/messages/offset-delete.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(OffsetDelete, async (req, ctx) => {
  const { broker } = ctx
  const fail = (errorCode: number) => ({ errorCode, throttleTimeMs: 0, topics: [] })
  if (!allowed(ctx, AclOperation.DELETE, ResourceType.GROUP, req.groupId)) return fail(ErrorCode.GROUP_AUTHORIZATION_FAILED)
  if (!broker.groupsReady) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
  const known = (topic: string, partition: number) => partition >= 0 && partition < (broker.image.topic(topic)?.partitions.length ?? 0)
  const readable = (topic: string) => allowed(ctx, AclOperation.READ, ResourceType.TOPIC, topic)
  const asked = req.topics.flatMap((t) => t.partitions.filter((p) => readable(t.name) && known(t.name, p.partitionIndex)).map((p) => ({ topic: t.name, partition: p.partitionIndex })))
  const res = await broker.groups.deleteOffsets(req.groupId, asked)
  if (res.errorCode !== ErrorCode.NONE) return fail(res.errorCode)
  const errors = new Map(asked.map((a, i) => [`${a.topic}\u0000${a.partition}`, res.partitionErrors[i]!]))
  return {
    errorCode: ErrorCode.NONE,
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errors.get(`${t.name}\u0000${p.partitionIndex}`) ?? (readable(t.name) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.TOPIC_AUTHORIZATION_FAILED) })),
    })),
  }
})
