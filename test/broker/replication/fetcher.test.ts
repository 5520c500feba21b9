// The follower fetcher against a real leader over TCP (LeaderNode: our codecs, readForFollower, the epoch cache),
// with both logs on disk: catching up, the KIP-101 and KIP-279 truncation scenarios through OffsetForLeaderEpoch
// and through Fetch's divergingEpoch (KIP-320), a follower behind the leader's log start, fencing, reconnects
// and a clean stop. Waits are for conditions, never timing assertions.

import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock, systemClock } from '../../../broker/clock.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { iterateBatches } from '../../../broker/protocol/record-batch.ts'
import { tcpChannel } from '../../../broker/replication/channel.ts'
import { type FetchStateKind, ReplicaFetcher } from '../../../broker/replication/fetcher.ts'
import { defaultLogConfig } from '../../../broker/storage/config.ts'
import { NodeFileSystem } from '../../../broker/storage/file-system.ts'
import { PartitionLog } from '../../../broker/storage/log.ts'
import { until } from '../../helpers/until.ts'
import { batch, readAll, recordingLogger, tempDir } from '../storage/helpers.ts'
import { LeaderNode } from './leader-node.ts'

const TOPIC = 'rep'

let tmp: ReturnType<typeof tempDir>
let node: LeaderNode
let fetchers: ReplicaFetcher[]
let logs: PartitionLog[]
beforeEach(async () => {
  tmp = tempDir()
  node = new LeaderNode()
  await node.start()
  fetchers = []
  logs = []
})
afterEach(async () => {
  for (const f of fetchers) await f.stop()
  await node.stop()
  for (const l of logs) await l.close().catch(() => {})
  tmp.cleanup()
})

async function openLog(name: string): Promise<PartitionLog> {
  const log = await PartitionLog.open(new NodeFileSystem(), new ManualClock(), join(tmp.path, name, `${TOPIC}-0`), TOPIC, 0, { ...defaultLogConfig, segmentBytes: 1024 }, {
    recoveryPoint: 0,
    logStartOffset: 0,
    cleanShutdown: false,
    logger: recordingLogger(),
  })
  logs.push(log)
  return log
}

/** Appends batches of one record each with the given epochs; `fill` tells the logs' records apart. */
function write(log: PartitionLog, epochs: number[], fill = 0x61): void {
  for (const e of epochs) log.appendAsLeader(batch(1, { fill }), e)
}

function fetcher(follower: PartitionLog, leaderEpoch: number, initial?: FetchStateKind) {
  const logger = recordingLogger()
  const f = new ReplicaFetcher({
    clock: systemClock,
    logger,
    nodeId: 2,
    leaderId: 1,
    endpoint: () => node.endpoint(),
    connect: tcpChannel({ clock: systemClock, clientId: 'replica-2', requestTimeoutMs: 5000, connectTimeoutMs: 5000 }),
    maxWaitMs: 100,
    backoffMs: 20,
  })
  f.addPartition({ topic: TOPIC, partition: 0, log: follower, leaderEpoch }, initial)
  fetchers.push(f)
  f.start()
  return { f, logger }
}

async function expectSameLog(follower: PartitionLog, leader: PartitionLog): Promise<void> {
  expect(follower.logEndOffset).toBe(leader.logEndOffset)
  expect(follower.logStartOffset).toBe(leader.logStartOffset)
  const [a, b] = await Promise.all([readAll(follower), readAll(leader)])
  expect(a.length).toBe(b.length)
  expect(a.every((x, i) => x.equals(b[i]!))).toBe(true)
  // The leader's cache also holds its own epoch from the moment it took over, before any record of it.
  const leaderEntries = leader.epochCache.entries().filter((e) => e.startOffset < leader.logEndOffset)
  expect(follower.epochCache.entries()).toEqual(leaderEntries)
}

const epochsOf = async (log: PartitionLog) => (await readAll(log)).map((b) => [...iterateBatches(b)][0]!.partitionLeaderEpoch)

describe('ReplicaFetcher', () => {
  it('catches up from empty, keeps the leader offsets and epochs, and moves the ISR and high watermark', async () => {
    const leaderLog = await openLog('leader')
    const followerLog = await openLog('follower')
    write(leaderLog, [0, 0, 1, 1, 1])
    const lp = node.lead(TOPIC, 0, leaderLog, 3, { replicas: [1, 2], isr: [1], minIsr: 1 })
    write(leaderLog, [3, 3])
    lp.leader!.onLeaderAppend()
    expect(leaderLog.highWatermark).toBe(7)
    fetcher(followerLog, 3)
    await until('the follower at 7 with the high watermark at 7', () => followerLog.logEndOffset === 7 && followerLog.highWatermark === 7, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
    expect(await epochsOf(followerLog)).toEqual([0, 0, 1, 1, 1, 3, 3])
    // Caught up to the high watermark and the epoch start: the leader would propose it for the ISR.
    expect(lp.leader!.expandCandidates()).toEqual([2])
    lp.leader!.commitIsr([1, 2])
    // acks=all now waits for the follower, which fetches the new records.
    write(leaderLog, [3, 3, 3])
    lp.leader!.onLeaderAppend()
    expect(leaderLog.highWatermark).toBe(7)
    const ack = await lp.leader!.waitForHighWatermark(9, 10_000)
    expect(ack).toBe('ok')
    await until('the high watermark at 10 on the follower', () => followerLog.highWatermark === 10, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
    // The follower's fetches ask for the log end with the epoch of its last record (KIP-320), as replica 2.
    const last = node.requests.filter((r) => r.apiKey === Fetch.key).at(-1)!
    expect(last.version).toBe(12)
    expect(last.body).toMatchObject({ replicaId: 2, topics: [{ topic: TOPIC, partitions: [{ currentLeaderEpoch: 3, fetchOffset: 10, lastFetchedEpoch: 3 }] }] })
  })

  it('KIP-101 case 1: a follower whose high watermark lags keeps the records the leader has (no truncation to the HW)', async () => {
    const leaderLog = await openLog('leader')
    const followerLog = await openLog('follower')
    write(leaderLog, [0, 0])
    write(followerLog, [0, 0])
    followerLog.highWatermark = 1 // it restarted before learning that m2 was committed
    node.lead(TOPIC, 0, leaderLog, 1, { isr: [1, 2] })
    const { f, logger } = fetcher(followerLog, 1)
    await until('fetching, with the high watermark at 2', () => f.state(TOPIC, 0)?.kind === 'fetching' && followerLog.highWatermark === 2, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
    // Not even briefly: had it cut m2 and the leader died before it fetched m2 again, m2 would be lost.
    expect(logger.lines.filter((l) => l.msg === 'truncating the follower log')).toEqual([])
    // OffsetForLeaderEpoch asked for the end of epoch 0, which the leader says is its log end (2).
    expect(node.requests.find((r) => r.apiKey === 23)?.body).toMatchObject({ replicaId: 2, topics: [{ partitions: [{ currentLeaderEpoch: 1, leaderEpoch: 0 }] }] })
    write(leaderLog, [1])
    await until('the follower at 3', () => followerLog.logEndOffset === 3, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
  })

  it('KIP-101 case 2: a divergent record at the same offset is truncated even though the follower HW covers it', async () => {
    const leaderLog = await openLog('leader')
    const followerLog = await openLog('follower')
    // Both had m1 (epoch 0). The old leader (now follower) also wrote m2 at offset 1; the new leader wrote m3 there.
    write(leaderLog, [0])
    write(followerLog, [0])
    write(followerLog, [0], 0x62)
    followerLog.highWatermark = 2
    write(leaderLog, [1], 0x63)
    node.lead(TOPIC, 0, leaderLog, 1, { isr: [1, 2] })
    write(leaderLog, [1], 0x63)
    fetcher(followerLog, 1)
    await until('the follower at 3', () => followerLog.logEndOffset === 3, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
    expect(await epochsOf(followerLog)).toEqual([0, 1, 1])
  })

  for (const initial of ['truncating', 'fetching'] as const) {
    it(`KIP-279: epochs the leader never had are truncated step by step (${initial === 'truncating' ? 'OffsetForLeaderEpoch' : 'Fetch divergingEpoch, KIP-320'})`, async () => {
      const leaderLog = await openLog('leader')
      const followerLog = await openLog('follower')
      // Follower: epoch 0 [0,2), then its own short leadership at epoch 2 [2,5) never replicated.
      write(followerLog, [0, 0])
      write(followerLog, [2, 2, 2], 0x62)
      // Leader: epoch 0 [0,2), epoch 1 [2,4) (which the follower never saw), now epoch 3 from 4.
      write(leaderLog, [0, 0])
      write(leaderLog, [1, 1], 0x63)
      node.lead(TOPIC, 0, leaderLog, 3, { isr: [1, 2] })
      write(leaderLog, [3, 3], 0x64)
      const { f, logger } = fetcher(followerLog, 3, initial)
      await until('the follower at 6, fetching', () => followerLog.logEndOffset === 6 && f.state(TOPIC, 0)?.kind === 'fetching', { intervalMs: 1 })
      await expectSameLog(followerLog, leaderLog)
      // Straight to the end of the last common epoch (0 ends at 2), not to the leader's end of epoch 1 (4), which
      // would keep two of the follower's epoch-2 records at offsets the leader filled with epoch 1.
      expect(logger.lines.filter((l) => l.msg === 'truncating the follower log').map((l) => [l.fields!.from, l.fields!.to])).toEqual([[5, 2]])
      expect(await epochsOf(followerLog)).toEqual([0, 0, 1, 1, 3, 3])
      if (initial === 'fetching') {
        // The first fetch named epoch 2 at offset 5; the leader answered with where its epoch <= 2 ends.
        const fetches = node.requests.filter((r) => r.apiKey === Fetch.key).map((r) => (r.body as { topics: { partitions: { fetchOffset: number; lastFetchedEpoch: number }[] }[] }).topics[0]!.partitions[0]!)
        expect(fetches.slice(0, 2)).toMatchObject([
          { fetchOffset: 5, lastFetchedEpoch: 2 },
          { fetchOffset: 2, lastFetchedEpoch: 0 },
        ])
        expect(node.requests.some((r) => r.apiKey === 23)).toBe(false)
      }
    })
  }

  it('a follower behind the leader log start restarts its log there', async () => {
    const leaderLog = await openLog('leader')
    const followerLog = await openLog('follower')
    write(followerLog, [0, 0, 0, 0, 0])
    await leaderLog.truncateFullyAndStartAt(100)
    node.lead(TOPIC, 0, leaderLog, 2, { isr: [1, 2] })
    write(leaderLog, [2, 2, 2])
    const { logger } = fetcher(followerLog, 2)
    await until('the follower at 103', () => followerLog.logEndOffset === 103, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
    expect(logger.lines.some((l) => l.msg.includes('behind the leader log start'))).toBe(true)
  })

  it('a leader log start inside a batch (DeleteRecords): the follower starts at that batch and keeps the leader log start', async () => {
    const leaderLog = await openLog('leader')
    const followerLog = await openLog('follower')
    leaderLog.appendAsLeader(batch(3), 0)
    leaderLog.appendAsLeader(batch(2), 0)
    leaderLog.highWatermark = 5
    leaderLog.deleteRecordsBefore(1)
    node.lead(TOPIC, 0, leaderLog, 1, { isr: [1, 2] })
    const { logger } = fetcher(followerLog, 1)
    await until('the follower from 1 to 5', () => followerLog.logEndOffset === 5 && followerLog.logStartOffset === 1, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
    expect(logger.lines.some((l) => l.msg.includes('restarting the log at it'))).toBe(true)
  })

  it('a stale leader epoch is fenced until the follower learns the new one', async () => {
    const leaderLog = await openLog('leader')
    const followerLog = await openLog('follower')
    write(leaderLog, [0, 0, 0])
    node.lead(TOPIC, 0, leaderLog, 4, { isr: [1, 2] })
    const { f, logger } = fetcher(followerLog, 3, 'fetching')
    await until('a FENCED_LEADER_EPOCH error logged', () => logger.lines.some((l) => l.fields?.error === 'FENCED_LEADER_EPOCH'), { intervalMs: 1 })
    expect(followerLog.logEndOffset).toBe(0)
    f.addPartition({ topic: TOPIC, partition: 0, log: followerLog, leaderEpoch: 4 })
    await until('the follower at 3', () => followerLog.logEndOffset === 3, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
  })

  it('reconnects after the connection drops, and stops cleanly', async () => {
    const leaderLog = await openLog('leader')
    const followerLog = await openLog('follower')
    write(leaderLog, [0, 0])
    node.lead(TOPIC, 0, leaderLog, 0, { isr: [1, 2] })
    const { f } = fetcher(followerLog, 0)
    await until('the follower at 2', () => followerLog.logEndOffset === 2, { intervalMs: 1 })
    node.dropConnections()
    write(leaderLog, [0, 0, 0])
    await until('the follower at 5', () => followerLog.logEndOffset === 5, { intervalMs: 1 })
    await expectSameLog(followerLog, leaderLog)
    await f.removePartition(TOPIC, 0)
    write(leaderLog, [0])
    await f.stop()
    const seen = node.requests.length
    // Nothing may happen after stop(): a window longer than a fetch cycle (maxWaitMs 100) for a request that must
    // not come, not a wait for one.
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(node.requests.length).toBe(seen)
    expect(followerLog.logEndOffset).toBe(5)
  })
})
