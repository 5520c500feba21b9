// ListOffsets: v0-9
//
// Behavior:
// * timestamp -1: the latest offset (high watermark, or last stable offset for read_committed);
//   -2: the log start offset; -3 (v7+, KIP-734): the offset and timestamp of the record with the largest
//   timestamp; -4 (v8+, KIP-405): the local log start, which without tiered storage is the log start; -5
//   (v9+, KIP-1005): the last tiered offset, which without tiered storage is -1 (timestamp and leader epoch -1,
//   no error), as in Kafka; any other value >= 0: the first offset whose timestamp is at or after it, or -1 if
//   none.
// * v0 (Kafka's legacy lookup): up to maxNumOffsets segment start offsets, newest first, for -1 from the log
//   end, for -2 the log start, otherwise from the last segment modified at or before the timestamp (see
//   PartitionLog.legacyOffsetsBefore); a consumer's offsets above the high watermark become the high
//   watermark. Other negative timestamps get UNSUPPORTED_VERSION.
// * Offsets past what the isolation level may read are never returned.
// * Needs DESCRIBE on the topic: else TOPIC_AUTHORIZATION_FAILED.
// * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (v4+),
//   UNSUPPORTED_VERSION for -3 below v7, -4 below v8 and -5 below v9, KAFKA_STORAGE_ERROR when the disk read
//   fails.
//
// Version notes:
// * v0: maxNumOffsets in, oldStyleOffsets out; v1: one offset and its timestamp
// * v2: isolationLevel; v4: currentLeaderEpoch in, leaderEpoch out; v6: flexible; v7: max timestamp (-3)
// * v8: local log start (-4); v9: last tiered offset (-5)

import { ErrorCode } from '../protocol/errors.ts'
import { ListOffsets } from '../protocol/messages/list-offsets.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3
const EARLIEST_LOCAL = -4
const LATEST_TIERED = -5
const CONSUMER = -1
const READ_COMMITTED = 1

register(ListOffsets, async (req, ctx) => {
  const { broker } = ctx
  const committed = req.isolationLevel === READ_COMMITTED
  const topics = []
  for (const t of req.topics) {
    const partitions = []
    const mayDescribe = allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, t.name)
    for (const rp of t.partitions) {
      const base = { partitionIndex: rp.partitionIndex, timestamp: -1, offset: -1, leaderEpoch: -1 }
      if (!mayDescribe) {
        partitions.push({ ...base, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })
        continue
      }
      const p = broker.partition(t.name, rp.partitionIndex)
      if (!p) {
        const known = rp.partitionIndex >= 0 && rp.partitionIndex < (broker.topic(t.name)?.record.partitions ?? 0)
        partitions.push({ ...base, errorCode: known ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
        continue
      }
      const epoch = p.checkLeaderEpoch(rp.currentLeaderEpoch)
      if (epoch !== 'ok') {
        partitions.push({ ...base, errorCode: epoch === 'fenced' ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH })
        continue
      }
      if (!p.isLeader) {
        partitions.push({ ...base, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER })
        continue
      }
      if (ctx.version === 0) {
        if (rp.timestamp < EARLIEST) {
          partitions.push({ ...base, errorCode: ErrorCode.UNSUPPORTED_VERSION })
          continue
        }
        let offsets = p.log.legacyOffsetsBefore(rp.timestamp, rp.maxNumOffsets)
        const hw = p.highWatermark
        if (req.replicaId === CONSUMER && offsets.some((o) => o > hw)) offsets = [hw, ...offsets.filter((o) => o <= hw)]
        partitions.push({ ...base, errorCode: ErrorCode.NONE, oldStyleOffsets: offsets })
        continue
      }
      const limit = committed ? p.lastStableOffset : p.highWatermark
      const ok = { ...base, errorCode: ErrorCode.NONE, leaderEpoch: p.leaderEpoch }
      if (rp.timestamp === LATEST) partitions.push({ ...ok, offset: limit })
      else if (rp.timestamp === EARLIEST || (rp.timestamp === EARLIEST_LOCAL && ctx.version >= 8)) partitions.push({ ...ok, offset: p.log.logStartOffset })
      else if (rp.timestamp === LATEST_TIERED && ctx.version >= 9) partitions.push({ ...ok, leaderEpoch: -1 })
      else if (rp.timestamp === MAX_TIMESTAMP) {
        if (ctx.version < 7) {
          partitions.push({ ...base, errorCode: ErrorCode.UNSUPPORTED_VERSION })
          continue
        }
        const m = p.log.maxTimestampAndOffset()
        partitions.push(m.offset >= 0 && m.offset < limit ? { ...ok, offset: m.offset, timestamp: m.timestamp } : ok)
      } else if (rp.timestamp < 0) {
        partitions.push({ ...base, errorCode: ErrorCode.UNSUPPORTED_VERSION })
      } else {
        try {
          const found = await p.log.offsetForTimestamp(rp.timestamp)
          partitions.push(found && found.offset < limit ? { ...ok, offset: found.offset, timestamp: found.timestamp } : ok)
        } catch (err) {
          broker.log.error('offset lookup failed', { topic: t.name, partition: rp.partitionIndex, err })
          partitions.push({ ...base, errorCode: ErrorCode.KAFKA_STORAGE_ERROR })
        }
      }
    }
    topics.push({ name: t.name, partitions })
  }
  return { throttleTimeMs: 0, topics }
})
