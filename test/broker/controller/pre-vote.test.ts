// Pre-vote (KIP-996) on real broker processes: 3 voters on their own 127.0.0.x addresses, a non-leader voter cut
// off from the other two with iptables DROP rules (chaos/network) for several election timeouts, then healed.
// What each node's quorum does is read from its own structured log ("raft: leader", "raft: candidate",
// "raft: prospective", "raft: follower", each with the node's epoch), which the brokers write as they go.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import { cutsBetween, IptablesPartitions, type PartitionNode } from '../../../chaos/network/partition.ts'
import { ClusterWire } from '../../helpers/cluster-wire.ts'
import { until } from '../../helpers/until.ts'

const CONFIG = {
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '500',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '1',
}

interface RaftEvent {
  readonly seq: number
  readonly node: number
  readonly msg: string
  readonly epoch: number
  readonly leaderId: unknown
}

let cluster: LocalCluster
let wire: ClusterWire
let net: IptablesPartitions
const events: RaftEvent[] = []

const since = (seq: number, node?: number): RaftEvent[] => events.filter((e) => e.seq > seq && (node === undefined || e.node === node))
const lastSeq = (): number => events.at(-1)?.seq ?? 0
const maxEpoch = (es: readonly RaftEvent[]): number => Math.max(-1, ...es.map((e) => e.epoch))

/** The leader every live voter's Metadata names, with the epoch it was elected in (its last "raft: leader" line). */
async function agreedLeader(ids: readonly number[]): Promise<{ id: number; epoch: number } | undefined> {
  const seen = await Promise.all(ids.map((id) => wire.controller(wire.node(id)).catch(() => -1)))
  const id = seen[0]!
  if (id <= 0 || !ids.includes(id) || seen.some((s) => s !== id)) return undefined
  const elected = events.filter((e) => e.node === id && e.msg === 'raft: leader').at(-1)
  return elected ? { id, epoch: elected.epoch } : undefined
}

beforeAll(async () => {
  cluster = await startLocalCluster({
    brokers: 3,
    config: CONFIG,
    onLog: (node, rec) => {
      if (typeof rec.msg === 'string' && rec.msg.startsWith('raft: ') && typeof rec.epoch === 'number') {
        events.push({ seq: events.length + 1, node, msg: rec.msg, epoch: rec.epoch, leaderId: rec.leaderId })
      }
    },
  })
  wire = new ClusterWire(cluster)
  const nodes = (): PartitionNode[] => cluster.nodes.map((n) => ({ id: n.id, host: n.host, ports: n.ports }))
  net = await IptablesPartitions.open({ nodes })
})
afterAll(async () => {
  wire?.close()
  await net?.close()
  await cluster?.close()
})

describe('pre-vote in the metadata quorum', () => {
  test('a voter cut off for several election timeouts neither runs its epoch ahead nor deposes the leader when it comes back', async () => {
    const all = [1, 2, 3]
    const leader = await until('a leader all voters agree on', () => agreedLeader(all), 30_000)
    const isolated = all.find((id) => id !== leader.id)!
    const start = lastSeq()
    const heal = await net.cut('isolate-voter', cutsBetween([[isolated], all.filter((id) => id !== isolated)]))
    // Four campaigns of its own: several election timeouts without a leader.
    await until(`node ${isolated} to campaign 4 times while cut off`, () => since(start, isolated).filter((e) => e.msg === 'raft: prospective' || e.msg === 'raft: candidate').length >= 4 || undefined, 30_000)
    const whileCut = since(start, isolated)
    // Marked before the heal: the node may rejoin, and its log line arrive, before heal() has returned.
    const healed = lastSeq()
    await heal()
    await until(`node ${isolated} to rejoin and all voters to agree on a leader`, async () => {
      const back = since(healed, isolated).some((e) => e.msg === 'raft: follower' || e.msg === 'raft: leader')
      return back && (await agreedLeader(all)) !== undefined ? true : undefined
    }, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; quorum log since the cut:\n${since(start).map((x) => JSON.stringify(x)).join('\n')}`)
    })
    expect({ isolatedEpochWhileCut: maxEpoch(whileCut), leader: await agreedLeader(all) }).toEqual({ isolatedEpochWhileCut: leader.epoch, leader })
    // No node left the leader's epoch or elected anyone, from the cut to now.
    expect(since(start).filter((e) => e.epoch !== leader.epoch || e.msg === 'raft: leader' || e.msg === 'raft: candidate' || e.msg === 'raft: resigning')).toEqual([])
  })

  test('losing the leader still elects a new one among the others, in a later epoch', async () => {
    const all = [1, 2, 3]
    const old = await until('a leader all voters agree on', () => agreedLeader(all), 30_000)
    const others = all.filter((id) => id !== old.id)
    wire.forget(old.id)
    await wire.node(old.id).kill('SIGKILL')
    const elected = await until('a new leader among the two others', () => agreedLeader(others), 20_000)
    expect(others).toContain(elected.id)
    expect(elected.epoch).toBeGreaterThan(old.epoch)
    await wire.node(old.id).start()
    await until(`node ${old.id} to follow node ${elected.id}`, async () => ((await wire.controller(wire.node(old.id)).catch(() => -1)) === elected.id) || undefined, 30_000)
  })
})
