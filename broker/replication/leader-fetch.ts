// The leader side of a follower's Fetch (Kafka's Partition.fetchRecords for a replica): what the Fetch handler
// calls for a partition when the request carries a replica id >= 0.
//
// * Fencing first: currentLeaderEpoch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), then NOT_LEADER_OR_FOLLOWER
//   when this broker does not lead the partition or the replica is not one of its replicas.
// * KIP-320 (Fetch v12+): when the follower names the epoch of its last record (lastFetchedEpoch >= 0) and this
//   log ends that epoch earlier (a smaller epoch, or an end offset below the fetch offset), the answer is
//   divergingEpoch = (largest epoch <= lastFetchedEpoch, its end offset) with no records, and the follower's
//   position is not recorded: it truncates and fetches again. An epoch this log cannot place is OFFSET_OUT_OF_RANGE.
// * Otherwise the fetch offset is the follower's log end offset: the leader state records it (caught-up time, high
//   watermark, ISR expansion) before the read, so appends during the read cannot keep the follower out of sync.
// * Followers read up to the log end, not the high watermark.

import { ErrorCode } from '../protocol/errors.ts'
import type { PartitionLog } from '../storage/log.ts'
import { UNDEFINED_EPOCH_OFFSET } from '../storage/leader-epoch-cache.ts'
import type { LeaderState } from './leader-state.ts'

export interface LeaderPartitionView {
  readonly log: PartitionLog
  readonly leaderEpoch: number
  /** This broker's leader state for the partition; null (or resigned) when it does not lead it. */
  readonly leader: LeaderState | null
}

export interface FollowerFetchPartition {
  fetchOffset: number
  /** Epoch of the follower's last record; -1 when unknown (Fetch below v12 or an empty log). */
  lastFetchedEpoch: number
  currentLeaderEpoch: number
  logStartOffset: number
}

export interface FollowerRead {
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** (-1, -1) unless the follower's log diverges. */
  divergingEpoch: { epoch: number; endOffset: number }
  records: Buffer[] | null
  bytes: number
  /** The follower now qualifies for the ISR: the caller proposes it (AlterPartition). */
  expandIsr: boolean
}

export async function readForFollower(p: LeaderPartitionView, replicaId: number, fp: FollowerFetchPartition, maxBytes: number, minOneBatch: boolean): Promise<FollowerRead> {
  const { log } = p
  const out: FollowerRead = {
    errorCode: ErrorCode.NONE,
    highWatermark: log.highWatermark,
    lastStableOffset: log.highWatermark,
    logStartOffset: log.logStartOffset,
    divergingEpoch: { epoch: -1, endOffset: -1 },
    records: null,
    bytes: 0,
    expandIsr: false,
  }
  const fail = (errorCode: number): FollowerRead => ({ ...out, errorCode })
  if (fp.currentLeaderEpoch >= 0 && fp.currentLeaderEpoch !== p.leaderEpoch) {
    return fail(fp.currentLeaderEpoch < p.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH)
  }
  const leader = p.leader
  if (!leader || !leader.isActive || !leader.replicas.includes(replicaId)) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER)

  if (fp.lastFetchedEpoch >= 0) {
    const end = log.epochCache.endOffsetFor(fp.lastFetchedEpoch, log.logEndOffset)
    if (end.endOffset === UNDEFINED_EPOCH_OFFSET) return fail(ErrorCode.OFFSET_OUT_OF_RANGE)
    if (end.epoch < fp.lastFetchedEpoch || end.endOffset < fp.fetchOffset) return { ...out, divergingEpoch: { epoch: end.epoch, endOffset: end.endOffset }, records: [] }
  }
  if (fp.fetchOffset < log.logStartOffset || fp.fetchOffset > log.logEndOffset) return fail(ErrorCode.OFFSET_OUT_OF_RANGE)

  const { expand } = leader.updateFollowerFetch(replicaId, fp.fetchOffset, fp.logStartOffset)
  const read = await log.read(fp.fetchOffset, maxBytes, Infinity, minOneBatch)
  const state = { highWatermark: log.highWatermark, lastStableOffset: log.highWatermark, logStartOffset: log.logStartOffset, expandIsr: expand }
  if (read.kind === 'out-of-range') return { ...out, ...state, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }
  return { ...out, ...state, records: read.records, bytes: read.bytes }
}
