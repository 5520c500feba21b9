// OffsetFetch: v0-9
//
// Behavior:
// * Needs DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED); topics it may not DESCRIBE are left out of an all-topics answer, TOPIC_AUTHORIZATION_FAILED when named.
// * Returns the group's committed offsets with their metadata and leader epoch, whatever state the group
//   is in (it may use Kafka only to store offsets). A partition without a commit, or a group the
//   coordinator does not know, answers offset -1, metadata "" and no error.
// * topics null (v2+): every committed offset of the group (kafkajs sends an empty topic list as null).
// * requireStable (v7+): would wait out pending transactional commits; there are no transactions yet, so
//   nothing is ever pending.
// * v0 read ZooKeeper, which a KRaft broker does not have: as Kafka 3.9 in KRaft mode, every requested
//   partition gets UNSUPPORTED_VERSION (offset -1, metadata "").
// * Errors: COORDINATOR_LOAD_IN_PROGRESS while the group's offsets partition loads, NOT_COORDINATOR,
//   COORDINATOR_NOT_AVAILABLE: top-level from v2 on (per group in v8), per partition in v1.
//
// Version notes:
// * v2: topics nullable, top-level errorCode; v3: throttleTimeMs; v5: committedLeaderEpoch; v6: flexible
// * v7: requireStable; v8: a batch of groups, each with its own topics and errorCode
// * v9: memberId and memberEpoch, for KIP-848 groups; a classic group ignores them, as Kafka 3.9's does

import { ErrorCode } from '../protocol/errors.ts'
import { OffsetFetch } from '../protocol/messages/offset-fetch.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

type Fetched = { errorCode: number; topics: { name: string; partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string | null; errorCode: number }[] }[] }

register(OffsetFetch, (req, ctx) => {
  const groups = {
    // DESCRIBE on the group, else GROUP_AUTHORIZATION_FAILED; topics the principal may not DESCRIBE are left out
    // of an all-topics answer and answered TOPIC_AUTHORIZATION_FAILED when named (as Kafka).
    fetchOffsets(groupId: string, topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null, requireStable: boolean): Fetched {
      if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] }
      const mayDescribe = (t: string) => allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, t)
      const res = ctx.broker.groups.fetchOffsets(groupId, topics === null ? null : topics.filter((t) => mayDescribe(t.name)), requireStable) as Fetched
      if (topics === null) return { ...res, topics: res.topics.filter((t) => mayDescribe(t.name)) }
      const denied = topics
        .filter((t) => !mayDescribe(t.name))
        .map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) }))
      return { ...res, topics: [...res.topics, ...denied] }
    },
  }
  const v = ctx.version
  if (v >= 8) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((g) => {
        const res = groups.fetchOffsets(g.groupId, g.topics, req.requireStable)
        return { groupId: g.groupId, errorCode: res.errorCode, topics: res.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p })) })) }
      }),
    }
  }
  const res = v === 0 ? { errorCode: ErrorCode.UNSUPPORTED_VERSION, topics: [] } : groups.fetchOffsets(req.groupId, v >= 2 ? req.topics : (req.topics ?? []), req.requireStable)
  if (res.errorCode !== ErrorCode.NONE && v < 2) {
    // No top-level error code before v2: every requested partition carries it.
    return {
      throttleTimeMs: 0,
      topics: (req.topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: res.errorCode })),
      })),
    }
  }
  return {
    throttleTimeMs: 0,
    errorCode: res.errorCode,
    topics: res.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p })) })),
  }
})
