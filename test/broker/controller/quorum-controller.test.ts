// The quorum controller in process: three metadata quorum nodes over a ManualClock, SimFileSystems and an
// in-memory transport (the Raft simulator's seams), with brokers played by the test through the ControllerApi.
import { afterEach, describe, expect, test } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { MetadataQuorum } from '../../../broker/controller/metadata-quorum.ts'
import type { ControllerApi } from '../../../broker/controller/quorum-controller.ts'
import type { RaftMessage, RaftTransport } from '../../../broker/controller/raft-types.ts'
import { silentLogger } from '../../../broker/logger.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { seededRandom, SimFileSystem } from '../../../broker/storage/file-system.ts'

const SESSION = 2000
const drain = () => new Promise((r) => setImmediate(r))

class Net {
  readonly handlers = new Map<number, (from: number, m: RaftMessage) => void>()
  readonly down = new Set<number>()
  readonly clock: ManualClock
  constructor(clock: ManualClock) {
    this.clock = clock
  }
  transport(id: number): RaftTransport {
    return {
      send: (to, m) => {
        this.clock.setTimeout(() => {
          if (!this.down.has(id) && !this.down.has(to)) this.handlers.get(to)?.(id, m)
        }, 1)
      },
      onMessage: (h) => void this.handlers.set(id, h),
    }
  }
}

let counter = 0
async function cluster(voters = 3, configs: Record<string, string> = {}, leaderImbalanceCheckIntervalMs?: number) {
  const clock = new ManualClock()
  const net = new Net(clock)
  const nodes: MetadataQuorum[] = []
  const ids = Array.from({ length: voters }, (_, i) => i + 1)
  for (const id of ids) {
    nodes.push(
      await MetadataQuorum.open({
        nodeId: id,
        voters: ids,
        clock,
        fs: new SimFileSystem(),
        dir: '/data/__cluster_metadata-0',
        transport: net.transport(id),
        random: seededRandom(id * 7919),
        randomBytes: (n) => Buffer.alloc(n, ++counter % 256),
        logger: silentLogger,
        sessionTimeoutMs: SESSION,
        topicValue: (name, o) => o[name] ?? configs[name] ?? 'false',
        deleteTopicEnable: true,
        leaderImbalanceCheckIntervalMs,
      }),
    )
  }
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 5) {
      clock.advance(5)
      await drain()
    }
  }
  const active = (): ControllerApi => {
    const a = nodes.find((n) => !net.down.has(n.nodeId) && n.controller.active)
    if (!a) throw new Error('no active controller')
    return a.controller
  }
  /** Runs the clock until the promise settles. */
  const settle = async <T>(p: Promise<T>): Promise<T> => {
    let done = false
    let value: T
    void p.then((v) => {
      done = true
      value = v
    })
    for (let i = 0; i < 4000 && !done; i++) await step(5)
    if (!done) throw new Error('did not settle')
    return value!
  }
  const until = async (what: string, cond: () => boolean) => {
    for (let i = 0; i < 4000; i++) {
      if (cond()) return
      await step(5)
    }
    throw new Error(`timed out waiting for ${what}`)
  }
  await until('an active controller', () => nodes.some((n) => n.controller.active))
  const epochs = new Map<number, number>()
  const offsets = new Map<number, number>()
  const image = () => nodes.find((n) => n.controller.active)!.image
  /** Registers brokers and heartbeats them until unfenced. */
  const join = async (...brokers: number[]) => {
    for (const b of brokers) {
      const r = await settle(active().registerBroker({ brokerId: b, incarnationId: `i${b}`, endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + b }], rack: null }))
      expect(r.errorCode).toBe(0)
      epochs.set(b, r.brokerEpoch)
    }
    for (const b of brokers) await heartbeat(b)
  }
  const heartbeat = async (b: number, wantShutDown = false) => {
    const r = await settle(active().heartbeat({ brokerId: b, brokerEpoch: epochs.get(b)!, metadataOffset: image().offset, wantShutDown }))
    offsets.set(b, r.offset)
    return r
  }
  /** Keeps the given brokers' sessions alive while time passes. */
  const live = async (ms: number, brokers: number[]) => {
    for (let t = 0; t < ms; t += 250) {
      for (const b of brokers) await heartbeat(b)
      await step(250)
    }
  }
  return { clock, net, nodes, step, active, settle, until, join, heartbeat, live, epochs, image }
}

let closers: (() => void)[] = []
afterEach(() => {
  for (const c of closers) c()
  closers = []
})

describe('QuorumController', () => {
  test('registration starts fenced; a heartbeat caught up to the registration unfences', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    const r = await c.settle(c.active().registerBroker({ brokerId: 1, incarnationId: 'a', endpoints: [], rack: null }))
    expect(c.image().broker(1)).toMatchObject({ fenced: true, brokerEpoch: r.brokerEpoch })
    const behind = await c.settle(c.active().heartbeat({ brokerId: 1, brokerEpoch: r.brokerEpoch, metadataOffset: r.brokerEpoch, wantShutDown: false }))
    expect(behind.isFenced).toBe(true)
    const caught = await c.settle(c.active().heartbeat({ brokerId: 1, brokerEpoch: r.brokerEpoch, metadataOffset: r.brokerEpoch + 1, wantShutDown: false }))
    expect(caught).toMatchObject({ errorCode: 0, isFenced: false })
    const stale = await c.settle(c.active().heartbeat({ brokerId: 1, brokerEpoch: r.brokerEpoch - 1, metadataOffset: 99, wantShutDown: false }))
    expect(stale.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH)
    const unknown = await c.settle(c.active().heartbeat({ brokerId: 9, brokerEpoch: 0, metadataOffset: 99, wantShutDown: false }))
    expect(unknown.errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED)
  })

  test('CreateTopics assigns replicas round robin over live brokers and refuses RF above them', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3)
    const res = await c.settle(c.active().createTopics([{ name: 't', partitions: 6, replicationFactor: 3, configs: {} }, { name: 'big', partitions: 1, replicationFactor: 4, configs: {} }, { name: 'bad/name', partitions: 1, replicationFactor: 1, configs: {} }]))
    expect(res.results.map((r) => r.errorCode)).toEqual([0, ErrorCode.INVALID_REPLICATION_FACTOR, ErrorCode.INVALID_TOPIC_EXCEPTION])
    expect(res.results[1]!.errorMessage).toBe('Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered.')
    const t = c.image().topic('t')!
    expect(t.partitions).toHaveLength(6)
    for (const p of t.partitions) {
      expect(new Set(p.replicas).size).toBe(3)
      expect(p.isr).toEqual(p.replicas)
      expect(p.leader).toBe(p.replicas[0])
      expect(p).toMatchObject({ leaderEpoch: 0, partitionEpoch: 0 })
    }
    const leaders = t.partitions.map((p) => p.leader)
    for (const b of [1, 2, 3]) expect(leaders.filter((l) => l === b)).toHaveLength(2)
    const again = await c.settle(c.active().createTopics([{ name: 't', partitions: 1, replicationFactor: 1, configs: {} }]))
    expect(again.results[0]!.errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS)
    const del = await c.settle(c.active().deleteTopics([t.topicId, 'f'.repeat(32)]))
    expect(del.results.map((r) => r.errorCode)).toEqual([0, ErrorCode.UNKNOWN_TOPIC_ID])
    expect(c.image().topic('t')).toBeUndefined()
  })

  test('a broker silent for the session timeout is fenced; its leaderships move within the ISR with a new leader epoch', async () => {
    const c = await cluster(3, {})
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3)
    await c.settle(c.active().createTopics([
      { name: 'r3', partitions: 3, replicationFactor: 3, configs: {} },
      { name: 'solo', partitions: 3, replicationFactor: 1, configs: {} },
      { name: 'dirty', partitions: 3, replicationFactor: 2, configs: { 'unclean.leader.election.enable': 'true' } },
    ]))
    const before = c.image().topic('r3')!.partitions.find((p) => p.leader === 2)!
    await c.live(SESSION - 500, [1, 2, 3])
    expect(c.image().broker(2)!.fenced).toBe(false)
    await c.live(SESSION + 1000, [1, 3])
    expect(c.image().broker(2)!.fenced).toBe(true)
    const after = c.image().topic('r3')!.partitions[before.partition]!
    expect(after.leader).not.toBe(2)
    expect(before.isr).toContain(after.leader)
    expect(after.leaderEpoch).toBe(before.leaderEpoch + 1)
    expect(after.isr).not.toContain(2)
    for (const p of c.image().topic('r3')!.partitions) expect(p.leader).not.toBe(2)
    // The only replica is gone: no leader, and the ISR keeps the last member (no unclean election by default).
    const solo = c.image().topic('solo')!.partitions.find((p) => p.replicas[0] === 2)!
    expect(solo).toMatchObject({ leader: -1, isr: [2] })
    // The partitions keep their leader when the fenced broker was only a follower.
    // Back in the game: the heartbeat unfences it and it leads its leaderless partitions again.
    await c.live(500, [1, 2, 3])
    expect(c.image().broker(2)!.fenced).toBe(false)
    expect(c.image().topic('solo')!.partitions.find((p) => p.replicas[0] === 2)!.leader).toBe(2)
  })

  test('unclean election: an out-of-sync live replica takes over only where the topic allows it', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2)
    await c.settle(c.active().createTopics([
      { name: 'clean', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[2, 1]] },
      { name: 'dirty', partitions: 1, replicationFactor: 1, configs: { 'unclean.leader.election.enable': 'true' }, assignments: [[2, 1]] },
    ]))
    const e1 = c.epochs.get(2)!
    for (const name of ['clean', 'dirty']) {
      const t = c.image().topic(name)!
      const res = await c.settle(c.active().alterPartition({ brokerId: 2, brokerEpoch: e1, topicId: t.topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [2] }))
      expect(res.errorCode).toBe(0)
      expect(res.partition).toMatchObject({ isr: [2], partitionEpoch: 1 })
    }
    await c.live(SESSION + 1000, [1])
    expect(c.image().topic('clean')!.partitions[0]).toMatchObject({ leader: -1, isr: [2] })
    expect(c.image().topic('dirty')!.partitions[0]).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 1 })
  })

  test('ElectLeaders: preferred and unclean elections with Kafka\'s per-partition errors', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3)
    await c.settle(c.active().createTopics([
      { name: 'e', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[1, 2, 3]] },
      { name: 'u', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[2, 1]] },
      { name: 'v', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[2]] },
    ]))
    const elect = async (electionType: 0 | 1, topicPartitions: { topic: string; partitions: number[] }[] | null) => {
      const r = await c.settle(c.active().electLeaders({ brokerId: 1, electionType, topicPartitions }))
      expect(r.errorCode).toBe(ErrorCode.NONE)
      return r.results.map((t) => [t.topic, t.partitions.map((p) => p.errorCode)])
    }
    const part = (name: string) => c.image().topic(name)!.partitions[0]!
    const shrink = async (name: string, leader: number, newIsr: number[]) => {
      const p = part(name)
      const r = await c.settle(c.active().alterPartition({ brokerId: leader, brokerEpoch: c.epochs.get(leader)!, topicId: p.topicId, partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr }))
      expect(r.errorCode).toBe(ErrorCode.NONE)
    }
    expect(await elect(0, [{ topic: 'e', partitions: [0, 7] }, { topic: 'nope', partitions: [0] }])).toEqual([
      ['e', [ErrorCode.ELECTION_NOT_NEEDED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
      ['nope', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
    ])
    await shrink('u', 2, [2])
    await c.live(SESSION + 1000, [1, 3])
    expect(part('u')).toMatchObject({ leader: -1, isr: [2] })
    // Unclean: a leaderless partition takes any live replica, out of sync or not; nothing live, nothing elected.
    expect(await elect(1, [{ topic: 'e', partitions: [0] }, { topic: 'u', partitions: [0] }, { topic: 'v', partitions: [0] }])).toEqual([
      ['e', [ErrorCode.ELECTION_NOT_NEEDED]],
      ['u', [ErrorCode.NONE]],
      ['v', [ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]],
    ])
    expect(part('u')).toMatchObject({ leader: 1, isr: [1] })
    expect(await elect(0, [{ topic: 'u', partitions: [0] }])).toEqual([['u', [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]]])
    // Back and unfenced, but not in the ISR: still not available; once in the ISR it leads again.
    await c.live(500, [1, 2, 3])
    expect(c.image().broker(2)!.fenced).toBe(false)
    expect(await elect(0, [{ topic: 'u', partitions: [0] }])).toEqual([['u', [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]]])
    await shrink('u', 1, [1, 2])
    const before = part('u')
    expect(await elect(0, [{ topic: 'u', partitions: [0, 0] }])).toEqual([['u', [ErrorCode.NONE, ErrorCode.ELECTION_NOT_NEEDED]]])
    expect(part('u')).toMatchObject({ leader: 2, isr: [1, 2], leaderEpoch: before.leaderEpoch + 1 })
    // Every partition: topics listed, partitions needing no election left out.
    expect(await elect(0, null)).toEqual([['e', []], ['u', []], ['v', []]])
  })

  test('auto leader rebalance: leadership returns to the preferred replica once it is back in the ISR', async () => {
    const c = await cluster(3, {}, 1000)
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3)
    await c.settle(c.active().createTopics([{ name: 'b', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[1, 2, 3]] }]))
    await c.live(SESSION + 1000, [2, 3])
    const moved = c.image().topic('b')!.partitions[0]!
    expect(moved).toMatchObject({ leader: 2, isr: [2, 3] })
    // Unfenced but out of the ISR for several check intervals: leadership stays where it is.
    await c.live(3000, [1, 2, 3])
    expect(c.image().topic('b')!.partitions[0]!.leader).toBe(2)
    const r = await c.settle(c.active().alterPartition({ brokerId: 2, brokerEpoch: c.epochs.get(2)!, topicId: moved.topicId, partition: 0, leaderEpoch: moved.leaderEpoch, partitionEpoch: moved.partitionEpoch, newIsr: [2, 3, 1] }))
    expect(r.errorCode).toBe(ErrorCode.NONE)
    await c.live(1500, [1, 2, 3])
    expect(c.image().topic('b')!.partitions[0]!).toMatchObject({ leader: 1, leaderEpoch: moved.leaderEpoch + 1 })
  })

  test('reassignment: new replicas are added, join the ISR, and the move completes; cancel and errors', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3, 4)
    await c.settle(c.active().createTopics([
      { name: 'm', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[1, 2, 3]] },
      { name: 'c', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[1, 2]] },
      { name: 'd', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[1, 2, 3]] },
    ]))
    const part = (name: string) => c.image().topic(name)!.partitions[0]!
    const reassign = async (topics: { name: string; partitions: { partitionIndex: number; replicas: number[] | null }[] }[]) => {
      const r = await c.settle(c.active().alterPartitionReassignments({ brokerId: 1, topics }))
      expect(r.errorCode).toBe(ErrorCode.NONE)
      return r.results.map((t) => t.partitions.map((p) => p.errorCode))
    }
    expect(
      await reassign([
        { name: 'nope', partitions: [{ partitionIndex: 0, replicas: [1] }] },
        { name: 'm', partitions: [{ partitionIndex: 5, replicas: [1] }, { partitionIndex: 0, replicas: [] }, { partitionIndex: 0, replicas: [2, 2] }, { partitionIndex: 0, replicas: [2, 9] }, { partitionIndex: 0, replicas: null }] },
      ]),
    ).toEqual([
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REPLICA_ASSIGNMENT, ErrorCode.INVALID_REPLICA_ASSIGNMENT, ErrorCode.INVALID_REPLICA_ASSIGNMENT, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS],
    ])
    expect(await reassign([{ name: 'm', partitions: [{ partitionIndex: 0, replicas: [2, 3, 4] }] }, { name: 'c', partitions: [{ partitionIndex: 0, replicas: [3] }] }])).toEqual([[ErrorCode.NONE], [ErrorCode.NONE]])
    const moving = part('m')
    expect(moving).toMatchObject({ replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1], isr: [1, 2, 3], leader: 1 })
    // The leader adds the caught-up replica to the ISR: that change completes the move, and leadership leaves 1.
    const r = await c.settle(c.active().alterPartition({ brokerId: 1, brokerEpoch: c.epochs.get(1)!, topicId: moving.topicId, partition: 0, leaderEpoch: moving.leaderEpoch, partitionEpoch: moving.partitionEpoch, newIsr: [1, 2, 3, 4] }))
    expect(r.errorCode).toBe(ErrorCode.NONE)
    expect(part('m')).toMatchObject({ replicas: [2, 3, 4], addingReplicas: [], removingReplicas: [], isr: [2, 3, 4], leader: 2, leaderEpoch: moving.leaderEpoch + 1 })
    // Cancelled: the added replica goes, the old set stays.
    expect(part('c')).toMatchObject({ replicas: [3, 1, 2], addingReplicas: [3], removingReplicas: [1, 2], leaderEpoch: 0 })
    expect(await reassign([{ name: 'c', partitions: [{ partitionIndex: 0, replicas: null }] }])).toEqual([[ErrorCode.NONE]])
    expect(part('c')).toMatchObject({ replicas: [1, 2], addingReplicas: [], removingReplicas: [], isr: [1, 2], leader: 1, leaderEpoch: 1 })
    // Only removing: complete at once; the leader stays, with a new epoch that fences the removed replica.
    expect(await reassign([{ name: 'd', partitions: [{ partitionIndex: 0, replicas: [2, 1] }] }])).toEqual([[ErrorCode.NONE]])
    expect(part('d')).toMatchObject({ replicas: [2, 1], addingReplicas: [], removingReplicas: [], isr: [1, 2], leader: 1, leaderEpoch: 1 })
  })

  test('alterConfigs writes config records; turning unclean election on elects a leaderless partition at once', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2)
    await c.settle(c.active().createTopics([{ name: 'later', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[2, 1]] }]))
    const t = c.image().topic('later')!
    const shrunk = await c.settle(c.active().alterPartition({ brokerId: 2, brokerEpoch: c.epochs.get(2)!, topicId: t.topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [2] }))
    expect(shrunk.errorCode).toBe(0)
    await c.live(SESSION + 1000, [1])
    expect(c.image().topic('later')!.partitions[0]).toMatchObject({ leader: -1, isr: [2] })
    const change = { resourceType: 'topic', resourceName: 'later', set: { 'unclean.leader.election.enable': 'true' }, remove: [], replace: false } as const
    const dry = await c.settle(c.active().alterConfigs([{ ...change, validateOnly: true }]))
    expect(dry).toMatchObject({ errorCode: 0, results: [{ errorCode: 0 }], offset: -1 })
    expect(c.image().topic('later')!.configs).toEqual({})
    const res = await c.settle(c.active().alterConfigs([{ ...change, validateOnly: false }, { ...change, resourceName: 'missing', validateOnly: false }]))
    expect(res.results).toEqual([{ errorCode: 0, errorMessage: null }, { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: "The topic 'missing' does not exist." }])
    expect(c.image().topic('later')!.configs).toEqual({ 'unclean.leader.election.enable': 'true' })
    expect(c.image().topic('later')!.partitions[0]).toMatchObject({ leader: 1, isr: [1] })
    await c.settle(c.active().alterConfigs([{ resourceType: 'broker', resourceName: '', set: { 'log.retention.ms': '5' }, remove: [], replace: false, validateOnly: false }]))
    await c.settle(c.active().alterConfigs([{ ...change, set: {}, replace: true, validateOnly: false }]))
    expect(c.image().topic('later')!.configs).toEqual({})
    expect(c.image().brokerConfigs('')).toEqual({ 'log.retention.ms': '5' })
  })

  test('AlterPartition validates leader, epochs, membership and eligibility (KIP-497)', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3)
    await c.settle(c.active().createTopics([{ name: 'a', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[1, 2, 3]] }]))
    const t = c.image().topic('a')!
    const base = { brokerId: 1, brokerEpoch: c.epochs.get(1)!, topicId: t.topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1, 2] }
    const ask = (over: Partial<typeof base>) => c.settle(c.active().alterPartition({ ...base, ...over }))
    expect((await ask({ brokerId: 2, brokerEpoch: c.epochs.get(2)! })).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect((await ask({ brokerEpoch: 12345 })).errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH)
    expect((await ask({ partitionEpoch: 3 })).errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION)
    expect((await ask({ newIsr: [2, 3] })).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await ask({ newIsr: [1, 4] })).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await ask({ partition: 5 })).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    const ok = await ask({})
    expect(ok).toMatchObject({ errorCode: 0, partition: { isr: [1, 2], partitionEpoch: 1, leaderEpoch: 0 } })
    expect((await ask({})).errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION)
    // Broker 3 fenced: it may not join the ISR.
    await c.live(SESSION + 1000, [1, 2])
    const p = c.image().topic('a')!.partitions[0]!
    expect((await ask({ partitionEpoch: p.partitionEpoch, newIsr: [1, 2, 3] })).errorCode).toBe(ErrorCode.INELIGIBLE_REPLICA)
    // A leader change fences the old epoch.
    await c.live(SESSION + 1000, [2])
    const q = c.image().topic('a')!.partitions[0]!
    expect(q).toMatchObject({ leader: 2, leaderEpoch: 1 })
    expect((await ask({ brokerId: 2, brokerEpoch: c.epochs.get(2)!, leaderEpoch: 0, partitionEpoch: q.partitionEpoch, newIsr: [2] })).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
  })

  test('controlled shutdown moves leaderships first, then lets the broker go', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3)
    await c.settle(c.active().createTopics([{ name: 's', partitions: 3, replicationFactor: 3, configs: {} }]))
    const r1 = await c.heartbeat(1, true)
    expect(r1.shouldShutDown).toBe(true)
    for (const p of c.image().topic('s')!.partitions) {
      expect(p.leader).not.toBe(1)
      expect(p.isr).not.toContain(1)
    }
    const r2 = await c.heartbeat(1, true)
    expect(r2).toMatchObject({ shouldShutDown: true, isFenced: true })
  })

  test('producer id blocks never overlap', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2)
    const a = await c.settle(c.active().allocateProducerIds({ brokerId: 1, brokerEpoch: c.epochs.get(1)! }))
    const b = await c.settle(c.active().allocateProducerIds({ brokerId: 2, brokerEpoch: c.epochs.get(2)! }))
    expect(a).toMatchObject({ errorCode: 0, start: 0, length: 1000 })
    expect(b).toMatchObject({ errorCode: 0, start: 1000, length: 1000 })
    expect((await c.settle(c.active().allocateProducerIds({ brokerId: 2, brokerEpoch: 999 }))).errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH)
  })

  test('the controller fails over: another node becomes active with the same image and creates topics', async () => {
    const c = await cluster()
    closers.push(() => c.nodes.forEach((n) => n.halt()))
    await c.join(1, 2, 3)
    await c.settle(c.active().createTopics([{ name: 'x', partitions: 2, replicationFactor: 3, configs: {} }]))
    const old = c.nodes.find((n) => n.controller.active)!
    c.net.down.add(old.nodeId)
    old.halt()
    const others = [1, 2, 3].filter((b) => b !== old.nodeId)
    await c.until('a new controller', () => c.nodes.some((n) => n !== old && n.controller.active))
    expect(c.image().topic('x')!.partitions).toHaveLength(2)
    for (const b of others) await c.heartbeat(b)
    const res = await c.settle(c.active().createTopics([{ name: 'y', partitions: 1, replicationFactor: 2, configs: {} }]))
    expect(res.results[0]!.errorCode).toBe(0)
    // The old controller's broker misses its heartbeats: fenced by the new controller.
    await c.live(SESSION + 1000, others)
    expect(c.image().broker(old.nodeId)!.fenced).toBe(true)
  })
})
