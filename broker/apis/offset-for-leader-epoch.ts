// OffsetForLeaderEpoch: v0-4
//
// Behavior:
// * Per partition, the end offset of the largest leader epoch <= the requested one, from the log's leader-epoch
//   cache: the start offset of the next higher epoch, or the log end offset for the latest epoch (followers use
//   it to find where their log diverges, KIP-101/KIP-279). An epoch above every cached one, or an empty cache,
//   answers NONE with leaderEpoch -1 and endOffset -1; one below the first cached epoch answers that first start
//   offset (Kafka's LeaderEpochFileCache.endOffsetFor).
// * Only the leader answers consumers (replicaId -1) and followers (replicaId >= 0); the debugging id -2 (and every
//   v0-2 request, which cannot carry a replicaId) may be answered by a follower too, as in Kafka's KafkaApis.
// * Needs CLUSTER_ACTION on the cluster (brokers) or DESCRIBE on the topic (consumers): else TOPIC_AUTHORIZATION_FAILED.
// * Errors per partition, in Kafka's order: UNKNOWN_TOPIC_OR_PARTITION, then FENCED_LEADER_EPOCH /
//   UNKNOWN_LEADER_EPOCH from currentLeaderEpoch (-1 skips the check), then NOT_LEADER_OR_FOLLOWER.
//
// Version notes:
// * v0: the end offset only; v1: leaderEpoch in the response; v2: currentLeaderEpoch, throttleTimeMs;
//   v3: replicaId; v4: flexible

import { ErrorCode } from '../protocol/errors.ts'
import { OffsetForLeaderEpoch } from '../protocol/messages/offset-for-leader-epoch.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

const DEBUGGING_REPLICA_ID = -2

register(OffsetForLeaderEpoch, (req, ctx) => {
  const { broker } = ctx
  const leaderOnly = req.replicaId !== DEBUGGING_REPLICA_ID
  const clusterAction = allowed(ctx, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
  const topics = req.topics.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((rp) => {
      const base = { partition: rp.partition, leaderEpoch: -1, endOffset: -1 }
      if (!clusterAction && !allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, t.topic)) return { ...base, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }
      const p = broker.partition(t.topic, rp.partition)
      if (!p) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
      const epoch = p.checkLeaderEpoch(rp.currentLeaderEpoch)
      if (epoch !== 'ok') return { ...base, errorCode: epoch === 'fenced' ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH }
      if (leaderOnly && !p.isLeader) return { ...base, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }
      const found = p.log.epochCache.endOffsetFor(rp.leaderEpoch, p.log.logEndOffset)
      return { ...base, errorCode: ErrorCode.NONE, leaderEpoch: found.epoch, endOffset: found.endOffset }
    }),
  }))
  return { throttleTimeMs: 0, topics }
})
