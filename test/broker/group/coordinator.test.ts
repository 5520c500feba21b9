// The group coordinator over real partition logs on the simulated file system: committed offsets and group
// metadata survive restarts and crashes, loading gates the group APIs, retention deletes what expired, and
// storage trouble becomes NOT_COORDINATOR or REQUEST_TIMED_OUT.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import type { JoinResult } from '../../../broker/group/classic-group.ts'
import { type CommitEntry, type CoordinatorConfig, GroupCoordinator, OFFSETS_TOPIC, type OffsetsPartition } from '../../../broker/group/coordinator.ts'
import { silentLogger } from '../../../broker/logger.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { defaultLogConfig, type LogConfig } from '../../../broker/storage/config.ts'
import { seededRandom, SimFileSystem } from '../../../broker/storage/file-system.ts'
import { LogManager } from '../../../broker/storage/log-manager.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`coordinator.test.ts: FC_SEED=${seed}`)

const NONE = ErrorCode.NONE
const PARTITIONS = 3
const CONFIG: CoordinatorConfig = {
  initialRebalanceDelayMs: 0,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  maxSize: 100,
  offsetsRetentionMs: 60 * 60_000,
  retentionCheckIntervalMs: 60_000,
  commitTimeoutMs: 5000,
  metadataMaxBytes: 4096,
}

interface Node {
  clock: ManualClock
  mgr: LogManager
  coord: GroupCoordinator
  parts: OffsetsPartition[]
}

let suffix = 0

async function open(sim: SimFileSystem, opts: { clock?: ManualClock; log?: Partial<LogConfig>; load?: boolean; config?: Partial<CoordinatorConfig> } = {}): Promise<Node> {
  const clock = opts.clock ?? new ManualClock()
  const logConfig = { ...defaultLogConfig, retentionMs: -1, ...opts.log }
  const mgr = await LogManager.open(sim, clock, '/data', logConfig, silentLogger)
  const parts = Array.from({ length: PARTITIONS }, (_, index): OffsetsPartition => {
    const log = mgr.getOrCreate(OFFSETS_TOPIC, index, logConfig)
    return { index, log, leaderEpoch: 0, appended: () => void (log.highWatermark = log.logEndOffset) }
  })
  const coord = new GroupCoordinator({ clock, config: { ...CONFIG, ...opts.config }, log: silentLogger, partitions: parts, newMemberIdSuffix: () => String(suffix++) })
  const loading = coord.startup()
  if (opts.load !== false) await loading
  return { clock, mgr, coord, parts }
}

async function restart(sim: SimFileSystem, node: Node, how: 'clean' | 'crash', rng = seededRandom(seed), opts: Parameters<typeof open>[1] = {}): Promise<Node> {
  node.coord.shutdown()
  if (how === 'clean') await node.mgr.shutdown()
  else sim.crash(rng)
  return open(sim, { ...opts, clock: new ManualClock(0, node.clock.now()) })
}

function join(node: Node, groupId: string, memberId = '', extra: { groupInstanceId?: string | null; sessionTimeoutMs?: number } = {}): Promise<JoinResult> {
  return node.coord.joinGroup(groupId, {
    memberId,
    groupInstanceId: extra.groupInstanceId ?? null,
    requireKnownMemberId: false,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    rebalanceTimeoutMs: 30_000,
    sessionTimeoutMs: extra.sessionTimeoutMs ?? 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
  })
}

/** One member joined and synced (it is the leader): generation 1, Stable. */
async function stableGroup(node: Node, groupId: string, groupInstanceId: string | null = null): Promise<string> {
  const joined = join(node, groupId, '', { groupInstanceId })
  node.clock.advance(0)
  const j = await joined
  expect(j.errorCode).toBe(NONE)
  const s = await node.coord.syncGroup(groupId, { generationId: j.generationId, memberId: j.memberId, groupInstanceId, assignments: [{ memberId: j.memberId, assignment: Buffer.from('all') }] })
  expect(s).toMatchObject({ errorCode: NONE, assignment: Buffer.from('all') })
  return j.memberId
}

const entry = (topic: string, partition: number, offset: number, metadata = ''): CommitEntry => ({ topic, partition, offset, leaderEpoch: 3, metadata })
const commit = (node: Node, groupId: string, entries: CommitEntry[], generationId = -1, memberId = '', apiVersion = 8) =>
  node.coord.commitOffsets(groupId, { generationId, memberId, groupInstanceId: null, retentionTimeMs: -1, apiVersion }, entries)
const fetched = (node: Node, groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null = null) => node.coord.fetchOffsets(groupId, topics, false)

describe('durability', () => {
  test('offsets and group metadata survive a clean restart; members carry on in their generation', async () => {
    const sim = new SimFileSystem()
    let node = await open(sim)
    const member = await stableGroup(node, 'g')
    expect(await commit(node, 'g', [entry('t', 0, 10, 'first'), entry('t', 1, 20)], 1, member)).toEqual([NONE, NONE])
    expect(await commit(node, 'g', [entry('t', 0, 15, 'second')], 1, member)).toEqual([NONE])
    node = await restart(sim, node, 'clean')
    expect(fetched(node, 'g')).toEqual({
      errorCode: NONE,
      topics: [{ name: 't', partitions: [
        { partitionIndex: 0, committedOffset: 15, committedLeaderEpoch: 3, metadata: 'second', errorCode: NONE },
        { partitionIndex: 1, committedOffset: 20, committedLeaderEpoch: 3, metadata: '', errorCode: NONE },
      ] }],
    })
    const g = node.coord.group('g')!
    expect([g.state, g.generationId, g.memberIds(), g.protocolName]).toEqual(['Stable', 1, [member], 'range'])
    expect(node.coord.heartbeat('g', 1, member, null)).toBe(NONE)
    expect(await node.coord.syncGroup('g', { generationId: 1, memberId: member, groupInstanceId: null, assignments: [] })).toMatchObject({ errorCode: NONE, assignment: Buffer.from('all') })
    // A member that never comes back after the restart times out.
    node.clock.advance(10_000)
    expect(g.state).toBe('Empty')
  })

  test('acknowledged commits survive a crash when the topic fsyncs every write (flush.messages=1), compacted or not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 2 }), fc.nat(1000)), { minLength: 1, maxLength: 24 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(undefined, 2, 5), fc.boolean(), async (commits, crashSeed, compactAfterRecords, checkpoint) => {
        const sim = new SimFileSystem()
        let node = await open(sim, { log: { flushMessages: 1 }, config: { compactAfterRecords } })
        const acked = new Map<string, number>()
        for (const [group, partition, offset] of commits) {
          expect(await commit(node, group, [entry('t', partition, offset)])).toEqual([NONE])
          acked.set(`${group}/${partition}`, offset)
        }
        await new Promise((r) => setImmediate(r)) // a compaction may be on its way to the disk
        // With the moved log start offset checkpointed, recovery starts at the compacted state.
        if (checkpoint) await node.mgr.checkpoint()
        node = await restart(sim, node, 'crash', seededRandom(crashSeed))
        for (const [key, offset] of acked) {
          const [group, partition] = key.split('/')
          const got = fetched(node, group!, [{ name: 't', partitionIndexes: [Number(partition)] }])
          expect(got.topics[0]!.partitions[0]!.committedOffset).toBe(offset)
        }
      }),
      { seed, numRuns: 30 },
    )
  })

  test('compaction rewrites the live state and moves the log start offset; a restart loads only that', async () => {
    const sim = new SimFileSystem()
    let node = await open(sim, { config: { compactAfterRecords: 50 } })
    const member = await stableGroup(node, 'g')
    const p = node.coord.partitionFor('g')
    for (let i = 0; i < 120; i++) expect(await commit(node, 'g', [entry('t', i % 2, i)], 1, member)).toEqual([NONE])
    await new Promise((r) => setImmediate(r))
    const log = node.parts[p]!.log
    expect(log.logStartOffset).toBeGreaterThan(0)
    // What is left: at most the last snapshot (group metadata + two offsets) and the commits since.
    expect(log.logEndOffset - log.logStartOffset).toBeLessThanOrEqual(50)
    node = await restart(sim, node, 'clean', seededRandom(seed), { config: { compactAfterRecords: 50 } })
    expect(fetched(node, 'g').topics[0]!.partitions.map((x) => [x.partitionIndex, x.committedOffset])).toEqual([[0, 118], [1, 119]])
    const g = node.coord.group('g')!
    expect([g.state, g.generationId, g.memberIds()]).toEqual(['Stable', 1, [member]])
    expect(node.parts[p]!.log.logStartOffset).toBeGreaterThan(0)
  })

  test('each group writes to the offsets partition Kafka would pick for it', async () => {
    const node = await open(new SimFileSystem())
    for (const groupId of ['alpha', 'beta', 'gamma', 'delta']) {
      const p = node.coord.partitionFor(groupId)
      const before = node.parts.map((x) => x.log.logEndOffset)
      await commit(node, groupId, [entry('t', 0, 1)])
      expect(node.parts.map((x) => x.log.logEndOffset - before[x.index]!)).toEqual(node.parts.map((x) => (x.index === p ? 1 : 0)))
    }
  })

  test('a static member is restored after a restart and replaced by its next incarnation without a rebalance', async () => {
    const sim = new SimFileSystem()
    let node = await open(sim)
    const old = await stableGroup(node, 'sg', 'inst-1')
    node = await restart(sim, node, 'clean')
    const j = await join(node, 'sg', '', { groupInstanceId: 'inst-1' })
    expect(j).toMatchObject({ errorCode: NONE, generationId: 1 })
    expect(j.memberId).not.toBe(old)
    expect(node.coord.heartbeat('sg', 1, old, 'inst-1')).toBe(ErrorCode.FENCED_INSTANCE_ID)
    const s = await node.coord.syncGroup('sg', { generationId: 1, memberId: j.memberId, groupInstanceId: 'inst-1', assignments: [] })
    expect(s).toMatchObject({ errorCode: NONE, assignment: Buffer.from('all') })
  })
})

describe('loading and unloading', () => {
  test('while a partition loads: LOAD_IN_PROGRESS, except SyncGroup (REBALANCE_IN_PROGRESS) and Heartbeat (NONE)', async () => {
    const sim = new SimFileSystem()
    const first = await open(sim)
    await commit(first, 'g', [entry('t', 0, 5)])
    first.coord.shutdown()
    await first.mgr.shutdown()
    const node = await open(sim, { load: false })
    expect(node.coord.isLoading(node.coord.partitionFor('g'))).toBe(true)
    expect((await join(node, 'g')).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
    expect((await node.coord.syncGroup('g', { generationId: 1, memberId: 'm', groupInstanceId: null, assignments: [] })).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    expect(node.coord.heartbeat('g', 1, 'm', null)).toBe(NONE)
    expect(fetched(node, 'g').errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
    expect(node.coord.listGroups([]).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
    expect(await commit(node, 'g', [entry('t', 0, 6)])).toEqual([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS])
    await node.coord.startup()
    expect(fetched(node, 'g').topics[0]!.partitions[0]!.committedOffset).toBe(5)
  })

  test('unloading answers waiting members NOT_COORDINATOR; loading again brings the group back from the log', async () => {
    const node = await open(new SimFileSystem())
    await stableGroup(node, 'g')
    const p = node.coord.partitionFor('g')
    const waiting = join(node, 'g', '', {})
    node.coord.unload(p)
    expect((await waiting).errorCode).toBe(ErrorCode.NOT_COORDINATOR)
    expect(node.coord.heartbeat('g', 1, 'x', null)).toBe(ErrorCode.NOT_COORDINATOR)
    await node.coord.load(p)
    expect(node.coord.group('g')?.generationId).toBe(1)
  })
})

describe('offset commits', () => {
  test('a simple consumer (generation -1) creates the group; a generation for an unknown group is refused', async () => {
    const node = await open(new SimFileSystem())
    expect(await commit(node, 'nogroup', [entry('t', 0, 1)], 3, 'm')).toEqual([ErrorCode.ILLEGAL_GENERATION])
    expect(await commit(node, 'nogroup', [entry('t', 0, 1)], 3, 'm', 9)).toEqual([ErrorCode.GROUP_ID_NOT_FOUND])
    expect(await commit(node, 'simple', [entry('t', 0, 1)])).toEqual([NONE])
    expect(node.coord.listGroups([])).toEqual({ errorCode: NONE, groups: [{ groupId: 'simple', protocolType: '', groupState: 'Empty' }] })
    expect(fetched(node, 'simple', [{ name: 't', partitionIndexes: [0, 1] }]).topics[0]!.partitions.map((p) => p.committedOffset)).toEqual([1, -1])
    expect(fetched(node, 'unknown', [{ name: 't', partitionIndexes: [0] }]).topics[0]!.partitions[0]).toMatchObject({ committedOffset: -1, metadata: '', errorCode: NONE })
    expect(fetched(node, 'unknown')).toEqual({ errorCode: NONE, topics: [] })
  })

  test('a commit not durable within offsets.commit.timeout.ms is REQUEST_TIMED_OUT, and counts once durable', async () => {
    const sim = new SimFileSystem()
    const node = await open(sim, { log: { flushMessages: 1 } })
    sim.autoSync = false
    const pending = commit(node, 'g', [entry('t', 0, 42)])
    node.clock.advance(5000)
    expect(await pending).toEqual([ErrorCode.REQUEST_TIMED_OUT])
    expect(fetched(node, 'g').topics).toEqual([])
    // The append may need more than one fsync (a new leader epoch also checkpoints the epoch cache).
    for (let i = 0; i < 5; i++) {
      sim.completeSyncs()
      await new Promise((r) => setImmediate(r))
    }
    expect(fetched(node, 'g').topics[0]!.partitions[0]!.committedOffset).toBe(42)
  })

  test('a failed write is NOT_COORDINATOR and changes nothing', async () => {
    const sim = new SimFileSystem()
    const node = await open(sim)
    sim.faults = (op, path) => (op === 'write' && path.includes(OFFSETS_TOPIC) ? 'EIO' : undefined)
    expect(await commit(node, 'g', [entry('t', 0, 1)])).toEqual([ErrorCode.NOT_COORDINATOR])
    sim.faults = null
    expect(fetched(node, 'g').topics).toEqual([])
  })
})

describe('retention', () => {
  test("offsets of a group Empty for offsets.retention.minutes are deleted, then the group; it stays so after a restart", async () => {
    const sim = new SimFileSystem()
    let node = await open(sim)
    const member = await stableGroup(node, 'g')
    await commit(node, 'g', [entry('t', 0, 7)], 1, member)
    await commit(node, 'simple', [entry('t', 0, 3)])
    node.coord.leaveGroup('g', [{ memberId: member, groupInstanceId: null }])
    expect(node.coord.group('g')?.state).toBe('Empty')
    node.clock.advance(CONFIG.offsetsRetentionMs - 60_000)
    expect(fetched(node, 'g').topics).toHaveLength(1)
    node.clock.advance(60_000)
    await new Promise((r) => setImmediate(r))
    expect(fetched(node, 'g').topics).toEqual([])
    expect(fetched(node, 'simple').topics).toEqual([])
    expect(node.coord.listGroups([]).groups).toEqual([])
    expect(node.coord.describeGroup('g').summary.state).toBe('Dead')
    node = await restart(sim, node, 'clean')
    expect(fetched(node, 'g').topics).toEqual([])
    expect(node.coord.listGroups([]).groups).toEqual([])
  })

  test('offsets of a group with members do not expire', async () => {
    const node = await open(new SimFileSystem())
    const member = await stableGroup(node, 'g')
    await commit(node, 'g', [entry('t', 0, 7)], 1, member)
    for (let t = 0; t < CONFIG.offsetsRetentionMs * 2; t += 5000) {
      node.clock.advance(5000)
      expect(node.coord.heartbeat('g', 1, member, null)).toBe(NONE)
    }
    expect(fetched(node, 'g').topics).toHaveLength(1)
  })
})

describe('validation', () => {
  test('group ids, session timeouts and unknown member ids', async () => {
    const node = await open(new SimFileSystem())
    expect((await join(node, '')).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
    expect((await join(node, 'g', '', { sessionTimeoutMs: 5999 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    expect((await join(node, 'g', '', { sessionTimeoutMs: 1_800_001 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    expect((await join(node, 'g', 'someone')).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(node.coord.heartbeat('g', 1, 'someone', null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(node.coord.leaveGroup('g', [{ memberId: 'someone', groupInstanceId: null }]).members[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    // The offset APIs accept the empty group id (old simple consumers).
    expect(await commit(node, '', [entry('t', 0, 1)])).toEqual([NONE])
  })

  test('ListGroups filters by state, case-insensitively; DescribeGroups shows assignments only when Stable', async () => {
    const node = await open(new SimFileSystem())
    const member = await stableGroup(node, 'stable')
    await commit(node, 'simple', [entry('t', 0, 1)])
    expect(node.coord.listGroups(['stable']).groups.map((g) => g.groupId)).toEqual(['stable'])
    expect(node.coord.listGroups(['EMPTY', 'dead']).groups.map((g) => g.groupId)).toEqual(['simple'])
    expect(node.coord.describeGroup('stable').summary).toMatchObject({
      state: 'Stable',
      protocolType: 'consumer',
      protocolData: 'range',
      members: [{ memberId: member, clientId: 'c', clientHost: '/127.0.0.1', metadata: Buffer.from('sub'), assignment: Buffer.from('all') }],
    })
    void join(node, 'stable', member) // the leader rejoins: a new generation, not yet synced
    expect(node.coord.describeGroup('stable').summary).toMatchObject({ state: 'CompletingRebalance', protocolData: '', members: [{ metadata: Buffer.alloc(0), assignment: Buffer.alloc(0) }] })
  })
})
