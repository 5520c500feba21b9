// Two brokers' data paths end to end over TCP, with a fake controller: the follower joins the ISR through
// AlterPartition, acks=all waits for it, a cut-off follower makes acks=all time out, then the leader dies with an
// unreplicated tail, the follower is elected, and the old leader comes back from disk as a follower: its
// divergent tail is truncated, every acknowledged write survives, and it rejoins the ISR.

import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock, systemClock } from '../../../broker/clock.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { tcpChannel } from '../../../broker/replication/channel.ts'
import type { PartitionRegistration, ReplicationControl } from '../../../broker/replication/control.ts'
import { ReplicaManager, type ReplicaPartition } from '../../../broker/replication/replica-manager.ts'
import { defaultLogConfig } from '../../../broker/storage/config.ts'
import { NodeFileSystem } from '../../../broker/storage/file-system.ts'
import { PartitionLog } from '../../../broker/storage/log.ts'
import { until } from '../../helpers/until.ts'
import { batch, readAll, recordingLogger, tempDir } from '../storage/helpers.ts'
import { LeaderNode } from './leader-node.ts'

const TOPIC = 'rm'

interface Node {
  id: number
  part: { topic: string; index: number; log: PartitionLog; leaderEpoch: number; partitionEpoch: number }
  manager: ReplicaManager
  server: LeaderNode
  logger: ReturnType<typeof recordingLogger>
}

let tmp: ReturnType<typeof tempDir>
let nodes: Map<number, Node>
let live: Set<number>
let reg: PartitionRegistration
const alterRequests: { newIsr: readonly number[] }[] = []

const control: ReplicationControl = {
  endpoint: (id) => (live.has(id) ? nodes.get(id)?.server.endpoint() ?? null : null),
  async alterPartition(req) {
    alterRequests.push(req)
    if (req.leaderEpoch !== reg.leaderEpoch) return { errorCode: ErrorCode.FENCED_LEADER_EPOCH }
    if (req.partitionEpoch !== reg.partitionEpoch) return { errorCode: 108 } // INVALID_UPDATE_VERSION
    publish({ ...reg, isr: [...req.newIsr], partitionEpoch: reg.partitionEpoch + 1 })
    return { errorCode: 0, registration: reg }
  },
}

/** The controller commits `next` and every live broker applies it, as from the metadata log. */
function publish(next: PartitionRegistration): void {
  reg = next
  for (const n of nodes.values()) if (live.has(n.id)) apply(n)
}

function apply(n: Node): Promise<void> {
  n.part.leaderEpoch = reg.leaderEpoch
  n.part.partitionEpoch = reg.partitionEpoch
  return n.manager.applyRegistration(n.part, reg)
}

async function openLog(id: number): Promise<PartitionLog> {
  return PartitionLog.open(new NodeFileSystem(), new ManualClock(), join(tmp.path, `node-${id}`, `${TOPIC}-0`), TOPIC, 0, defaultLogConfig, {
    recoveryPoint: 0,
    logStartOffset: 0,
    cleanShutdown: false,
    logger: recordingLogger(),
  })
}

async function startNode(id: number, log?: PartitionLog): Promise<Node> {
  const logger = recordingLogger()
  const part = { topic: TOPIC, index: 0, log: log ?? (await openLog(id)), leaderEpoch: 0, partitionEpoch: 0 }
  const manager = new ReplicaManager({
    nodeId: id,
    clock: systemClock,
    logger,
    control,
    connect: tcpChannel({ clock: systemClock, clientId: `replica-${id}`, requestTimeoutMs: 5000, connectTimeoutMs: 2000 }),
    replicaLagTimeMaxMs: 10_000,
    minInsyncReplicas: () => 2,
    fetcher: { maxWaitMs: 100, backoffMs: 20 },
  })
  const server = new LeaderNode({
    partition: (topic, index) => (topic === TOPIC && index === 0 ? part : undefined),
    fetch: (_t, _i, replicaId, fp, maxBytes, minOne) => manager.fetchForFollower(part, replicaId, fp, maxBytes, minOne),
  })
  await server.start()
  const n = { id, part, manager, server, logger }
  nodes.set(id, n)
  live.add(id)
  return n
}

async function stopNode(n: Node): Promise<void> {
  live.delete(n.id)
  await n.manager.stop()
  await n.server.stop()
}

/** Produce on the node's leader path: acks=all checks the ISR first and waits for the high watermark. */
async function produce(n: Node, acks: 1 | -1, timeoutMs = 10_000): Promise<{ errorCode: number; offset: number }> {
  const check = n.manager.checkEnoughReplicas(n.part, acks)
  if (check !== ErrorCode.NONE) return { errorCode: check, offset: -1 }
  const r = n.part.log.appendAsLeader(batch(1, { fill: 0x41 + n.part.log.logEndOffset }), n.part.leaderEpoch)
  n.manager.leaderAppended(n.part)
  if (acks === 1) return { errorCode: 0, offset: r.firstOffset }
  const res = await n.manager.waitForAcks(n.part, r.lastOffset, timeoutMs)
  return { errorCode: res === 'ok' ? 0 : res === 'timeout' ? ErrorCode.REQUEST_TIMED_OUT : -1, offset: r.firstOffset }
}

beforeEach(() => {
  tmp = tempDir()
  nodes = new Map()
  live = new Set()
  alterRequests.length = 0
})
afterEach(async () => {
  for (const n of nodes.values()) {
    await n.manager.stop()
    await n.server.stop()
    await n.part.log.close().catch(() => {})
  }
  tmp.cleanup()
})

describe('ReplicaManager', () => {
  it('replicates, keeps acknowledged writes across a leader failure and truncates the old leader divergent tail', async () => {
    const n1 = await startNode(1)
    const n2 = await startNode(2)
    reg = { topic: TOPIC, topicId: 'x', partition: 0, replicas: [1, 2], isr: [1], leader: 1, leaderEpoch: 1, partitionEpoch: 0 }
    await Promise.all([apply(n1), apply(n2)])
    expect(n2.manager.following(TOPIC, 0)).toBe(1)

    // min.insync.replicas=2 with the leader alone in the ISR: acks=all is refused, acks=1 is taken.
    expect((await produce(n1, -1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS)
    for (let i = 0; i < 3; i++) expect((await produce(n1, 1)).errorCode).toBe(0)
    // The follower catches up and is proposed for the ISR; the controller commits it.
    await until('an ISR of two', () => reg.isr.length === 2, { intervalMs: 1 })
    expect(alterRequests[0]).toMatchObject({ newIsr: [1, 2], leaderEpoch: 1, partitionEpoch: 0 })
    const acked = await produce(n1, -1)
    expect(acked.errorCode).toBe(0)
    expect(n2.part.log.logEndOffset).toBeGreaterThan(acked.offset)

    // Cut the follower off: acks=all cannot complete; acks=1 writes stay on the leader only.
    live.delete(1)
    n1.server.dropConnections()
    const unreplicated = [await produce(n1, 1), await produce(n1, 1)]
    expect((await produce(n1, -1, 300)).errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT)
    const divergentEnd = n1.part.log.logEndOffset
    expect(n2.part.log.logEndOffset).toBe(unreplicated[0]!.offset)

    // The leader dies; the controller elects node 2 (in the ISR) at epoch 2. It writes, acks=1 (ISR below min now).
    await stopNode(n1)
    await n1.part.log.close()
    publish({ ...reg, leader: 2, leaderEpoch: 2, isr: [2], partitionEpoch: reg.partitionEpoch + 1 })
    await until('node 2 leading', () => n2.manager.leader(TOPIC, 0) !== undefined, { intervalMs: 1 })
    for (let i = 0; i < 3; i++) expect((await produce(n2, 1)).errorCode).toBe(0)
    expect(n2.part.log.epochCache.latestEpoch).toBe(2)

    // Node 1 restarts from its disk and follows node 2: its epoch-1 tail past node 2's end of epoch 1 goes.
    nodes.delete(1)
    const back = await startNode(1, await openLog(1))
    expect(back.part.log.logEndOffset).toBe(divergentEnd)
    await apply(back)
    await until('node 1 caught up and back in the ISR', () => back.part.log.logEndOffset === n2.part.log.logEndOffset && reg.isr.length === 2, { intervalMs: 1 })
    const [a, b] = await Promise.all([readAll(back.part.log), readAll(n2.part.log)])
    expect(a.length).toBe(b.length)
    expect(a.every((x, i) => x.equals(b[i]!))).toBe(true)
    expect(back.part.log.epochCache.entries()).toEqual(n2.part.log.epochCache.entries())
    expect(back.logger.lines.some((l) => l.msg === 'truncating the follower log' && l.fields!.to === unreplicated[0]!.offset)).toBe(true)
    expect(reg.isr).toEqual([2, 1])
    // With both in the ISR again, acks=all completes on the new leader.
    expect((await produce(n2, -1)).errorCode).toBe(0)
  })

  it('shrinks the ISR when a follower stops fetching for replica.lag.time.max.ms', async () => {
    const clock = new ManualClock()
    const logger = recordingLogger()
    const log = await openLog(1)
    nodes.set(1, { id: 1, part: { topic: TOPIC, index: 0, log, leaderEpoch: 1, partitionEpoch: 0 }, manager: null as never, server: new LeaderNode(), logger })
    const manager = new ReplicaManager({ nodeId: 1, clock, logger, control, connect: async () => ({ ok: false, error: 'none' }), replicaLagTimeMaxMs: 1000, minInsyncReplicas: () => 1 })
    nodes.get(1)!.manager = manager
    live.add(1)
    manager.start()
    reg = { topic: TOPIC, topicId: 'x', partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 1, partitionEpoch: 0 }
    const part = nodes.get(1)!.part
    await manager.applyRegistration(part, reg)
    log.appendAsLeader(batch(1), 1)
    manager.leaderAppended(part)
    // Replica 3 keeps fetching to the end; replica 2 never does.
    const fetch3 = () => manager.fetchForFollower(part, 3, { fetchOffset: log.logEndOffset, lastFetchedEpoch: 1, currentLeaderEpoch: 1, logStartOffset: 0 }, 1000, true)
    await fetch3()
    clock.advance(900)
    await fetch3()
    expect(alterRequests).toEqual([])
    clock.advance(600)
    await until('an ISR of two', () => reg.isr.length === 2, { intervalMs: 1 })
    expect(reg.isr).toEqual([1, 3])
    expect(manager.leader(TOPIC, 0)!.isr).toEqual([1, 3])
    await manager.stop()
  })
})
