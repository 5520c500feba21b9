// ListOffsets: v1-7
//
// Behavior:
// * timestamp -1: the latest offset (high watermark, or last stable offset for read_committed);
//   -2: the log start offset; -3 (v7+, KIP-734): the offset and timestamp of the record with the largest
//   timestamp; any other value >= 0: the first offset whose timestamp is at or after it, or -1 if none.
// * Offsets past what the isolation level may read are never returned.
// * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (v4+),
//   UNSUPPORTED_VERSION for -3 below v7, KAFKA_STORAGE_ERROR when the disk read fails.
//
// Version notes:
// * v2: isolationLevel; v4: currentLeaderEpoch in, leaderEpoch out; v6: flexible; v7: max timestamp (-3)

import { ErrorCode } from '../protocol/errors.ts'
import { ListOffsets } from '../protocol/messages/list-offsets.ts'
import { register } from './registry.ts'

const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3
const READ_COMMITTED = 1

register(ListOffsets, async (req, ctx) => {
  const { broker } = ctx
  const committed = req.isolationLevel === READ_COMMITTED
  const topics = []
  for (const t of req.topics) {
    const partitions = []
    for (const rp of t.partitions) {
      const base = { partitionIndex: rp.partitionIndex, timestamp: -1, offset: -1, leaderEpoch: -1 }
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
      const limit = committed ? p.lastStableOffset : p.highWatermark
      const ok = { ...base, errorCode: ErrorCode.NONE, leaderEpoch: p.leaderEpoch }
      if (rp.timestamp === LATEST) partitions.push({ ...ok, offset: limit })
      else if (rp.timestamp === EARLIEST) partitions.push({ ...ok, offset: p.log.logStartOffset })
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
