// DeleteRecords: v0-2
//
// Behavior:
// * Needs DELETE on the topic (TOPIC_AUTHORIZATION_FAILED).
// * On the partition's leader, raises the log start offset to the requested offset (-1: the high watermark);
//   followers follow it through the log start offset in their fetch responses and report theirs back in their
//   fetches. Whole segments below it go at the next retention check. Answered once the low watermark (the
//   lowest log start offset of the leader and its followers on live brokers, Kafka's lowWatermarkIfLeader)
//   reached the offset, or at timeoutMs with REQUEST_TIMED_OUT for the partitions still short of it; the
//   response carries the low watermark.
// * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE (past the high
//   watermark, or negative other than -1), REQUEST_TIMED_OUT.
//
// Version notes:
// * v1: same as v0; v2: flexible

import { ErrorCode } from '../protocol/errors.ts'
import { DeleteRecords } from '../protocol/messages/delete-records.ts'
import type { Broker } from '../broker.ts'
import type { Partition } from '../replication/partition.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

const HIGH_WATERMARK = -1
/** How often a waiting request looks at the followers' log start offsets (they move with their fetches). */
const POLL_MS = 10

function lowWatermark(broker: Broker, p: Partition): number {
  let low = p.log.logStartOffset
  const leader = broker.replicas.leader(p.topic, p.index)
  for (const id of leader?.replicas ?? []) {
    if (id === broker.nodeId || broker.control.endpoint(id) === null) continue
    const f = leader!.follower(id)
    if (f && f.logStartOffset < low) low = f.logStartOffset
  }
  return low
}

register(DeleteRecords, async (req, ctx) => {
  const { broker } = ctx
  type Pending = { p: Partition; offset: number; out: { partitionIndex: number; lowWatermark: number; errorCode: number } }
  const pending: Pending[] = []
  const topics = req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((rp) => {
      const out: Pending['out'] = { partitionIndex: rp.partitionIndex, lowWatermark: -1, errorCode: ErrorCode.NONE }
      if (!allowed(ctx, AclOperation.DELETE, ResourceType.TOPIC, t.name)) {
        out.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED
        return out
      }
      const p = broker.partition(t.name, rp.partitionIndex)
      if (!p) {
        const known = rp.partitionIndex >= 0 && rp.partitionIndex < (broker.image.topic(t.name)?.partitions.length ?? 0)
        out.errorCode = known ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        return out
      }
      if (!broker.leads(t.name, rp.partitionIndex)) {
        out.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER
        return out
      }
      const offset = rp.offset === HIGH_WATERMARK ? p.log.highWatermark : rp.offset
      if (offset < 0 || offset > p.log.highWatermark) {
        out.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE
        return out
      }
      p.log.deleteRecordsBefore(offset)
      pending.push({ p, offset, out })
      return out
    }),
  }))
  const deadline = broker.clock.monotonic() + Math.max(0, req.timeoutMs)
  for (;;) {
    const short = pending.filter((x) => lowWatermark(broker, x.p) < x.offset)
    if (short.length === 0 || broker.clock.monotonic() >= deadline) {
      for (const x of pending) x.out.lowWatermark = lowWatermark(broker, x.p)
      for (const x of short) x.out.errorCode = ErrorCode.REQUEST_TIMED_OUT
      break
    }
    await new Promise<void>((resolve) => broker.clock.setTimeout(resolve, POLL_MS))
  }
  return { throttleTimeMs: 0, topics }
})
