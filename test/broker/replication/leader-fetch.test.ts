import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { iterateBatches } from '../../../broker/protocol/record-batch.ts'
import { type FollowerFetchPartition, readForFollower } from '../../../broker/replication/leader-fetch.ts'
import { LeaderState } from '../../../broker/replication/leader-state.ts'
import { defaultLogConfig } from '../../../broker/storage/config.ts'
import { NodeFileSystem } from '../../../broker/storage/file-system.ts'
import { PartitionLog } from '../../../broker/storage/log.ts'
import { batch, recordingLogger, tempDir } from '../storage/helpers.ts'

let tmp: ReturnType<typeof tempDir>
let log: PartitionLog
let clock: ManualClock
beforeEach(async () => {
  tmp = tempDir()
  clock = new ManualClock()
  log = await PartitionLog.open(new NodeFileSystem(), clock, join(tmp.path, 't-0'), 't', 0, defaultLogConfig, { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false, logger: recordingLogger() })
})
afterEach(async () => {
  await log.close()
  tmp.cleanup()
})

/** Leader at epoch 5 of a log with epoch 1 at [0,2), epoch 3 at [2,4), epoch 5 at [4,6); ISR {1,2}, HW 4. */
function setup(opts: { isr?: number[] } = {}) {
  for (const e of [1, 1, 3, 3]) log.appendAsLeader(batch(1), e)
  log.highWatermark = 2
  log.epochCache.assign(5, log.logEndOffset)
  const leader = new LeaderState(
    { clock, localId: 1, logEndOffset: () => log.logEndOffset, replicaLagTimeMaxMs: 1000, minInsyncReplicas: 1, onHighWatermark: (hw) => (log.highWatermark = hw) },
    { leaderEpoch: 5, epochStartOffset: 4, replicas: [1, 2, 3], isr: opts.isr ?? [1, 2], highWatermark: 2 },
  )
  for (const e of [5, 5]) log.appendAsLeader(batch(1), e)
  return { view: { log, leaderEpoch: 5, leader }, leader }
}

const req = (over: Partial<FollowerFetchPartition> = {}): FollowerFetchPartition => ({ fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: 5, logStartOffset: 0, ...over })
const offsets = (records: Buffer[] | null) => (records ?? []).flatMap((b) => [...iterateBatches(b)].map((v) => v.baseOffset))

describe('readForFollower', () => {
  it('reads up to the log end (not the high watermark) and records the follower position', async () => {
    const { view, leader } = setup()
    const r = await readForFollower(view, 2, req({ fetchOffset: 3, lastFetchedEpoch: 3 }), 1 << 20, true)
    expect(r.errorCode).toBe(0)
    expect(offsets(r.records)).toEqual([3, 4, 5])
    expect(leader.follower(2)!.logEndOffset).toBe(3)
    expect(r.highWatermark).toBe(3) // the follower at 3 is the slowest ISR member
    expect(r.divergingEpoch).toEqual({ epoch: -1, endOffset: -1 })
    const caughtUp = await readForFollower(view, 2, req({ fetchOffset: 6, lastFetchedEpoch: 5 }), 1 << 20, true)
    expect(caughtUp).toMatchObject({ errorCode: 0, highWatermark: 6, bytes: 0 })
  })

  it('answers divergingEpoch when the follower last epoch ends earlier here, without recording its position', async () => {
    const { view, leader } = setup()
    // The follower has epoch 4 records (a leadership we never replicated): largest epoch <= 4 here is 3, ending at 4.
    const r = await readForFollower(view, 2, req({ fetchOffset: 7, lastFetchedEpoch: 4 }), 1 << 20, true)
    expect(r).toMatchObject({ errorCode: 0, divergingEpoch: { epoch: 3, endOffset: 4 }, records: [] })
    // Same epoch, but the follower has more of it than we do.
    const longer = await readForFollower(view, 2, req({ fetchOffset: 3, lastFetchedEpoch: 1 }), 1 << 20, true)
    expect(longer.divergingEpoch).toEqual({ epoch: 1, endOffset: 2 })
    expect(leader.follower(2)!.logEndOffset).toBe(-1)
    // An epoch below every one we know ends where the first known one starts (Kafka answers that too).
    log.epochCache.truncateFromStart(2)
    const below = await readForFollower(view, 2, req({ fetchOffset: 3, lastFetchedEpoch: 0 }), 1 << 20, true)
    expect(below.divergingEpoch).toEqual({ epoch: 0, endOffset: 2 })
  })

  it('fences epochs, refuses non-replicas and non-leaders, and answers out-of-range offsets', async () => {
    const { view, leader } = setup()
    expect((await readForFollower(view, 2, req({ currentLeaderEpoch: 4 }), 1000, true)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect((await readForFollower(view, 2, req({ currentLeaderEpoch: 6 }), 1000, true)).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH)
    expect((await readForFollower(view, 9, req(), 1000, true)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect((await readForFollower(view, 2, req({ fetchOffset: 7 }), 1000, true)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    expect(leader.follower(2)!.logEndOffset).toBe(-1)
    leader.resign()
    expect((await readForFollower(view, 2, req(), 1000, true)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect((await readForFollower({ ...view, leader: null }, 2, req(), 1000, true)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
  })

  it('tells the caller when the follower qualifies for the ISR', async () => {
    const { view } = setup({ isr: [1] })
    expect((await readForFollower(view, 3, req({ fetchOffset: 3, lastFetchedEpoch: 3 }), 1 << 20, true)).expandIsr).toBe(false) // below the epoch start (4)
    expect((await readForFollower(view, 3, req({ fetchOffset: 6, lastFetchedEpoch: 5 }), 1 << 20, true)).expandIsr).toBe(true)
  })
})
