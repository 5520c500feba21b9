// Partitions for real: iptables DROP rules in a chain of the test's own, on 3 broker processes. Reachability is
// probed with TCP connects bound to a broker's address (or the clients' 127.0.0.1), as the brokers' own
// connections are; a cut connection times out (DROP), an open one connects. The cluster's reactions are read
// from the majority side's metadata: a new controller, a leader that moved, a shrunk ISR, acks=all writes.
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { startLocalCluster, type LocalCluster, type LocalNode } from '../../../chaos/cluster/local.ts'
import { chainExistsSync, chainRulesSync } from '../../../chaos/network/iptables.ts'
import { CLIENTS_HOST, cutsBetween, IptablesPartitions, type PartitionNode } from '../../../chaos/network/partition.ts'
import { ClusterWire } from '../../helpers/cluster-wire.ts'
import { tcpProbe } from '../../helpers/tcp-probe.ts'
import { until } from '../../helpers/until.ts'

const CONFIG = {
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': '3000',
  'replica.fetch.wait.max.ms': '200',
  'replica.socket.timeout.ms': '2000',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '1',
}

let cluster: LocalCluster
let wire: ClusterWire
let net: IptablesPartitions

const nodes = (): PartitionNode[] => cluster.nodes.map((n) => ({ id: n.id, host: n.host, ports: n.ports }))
const node = (id: number): LocalNode => wire.node(id)
const esc = (host: string): string => host.replace(/\./g, '\\.')

/** Connects from `from` (a host to bind to) to the node's client port: 'connected', 'timeout' or the error code. */
function probe(from: string, to: LocalNode, port = to.port, timeoutMs = 1000): Promise<string> {
  return tcpProbe({ host: to.host, port, localAddress: from }, timeoutMs)
}

beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
  wire = new ClusterWire(cluster)
  net = await IptablesPartitions.open({ nodes })
})
afterAll(async () => {
  wire?.close()
  await net?.close()
  await cluster?.close()
})

describe('partitions in the kernel', () => {
  test('no local broker has the clients\' address, and brokers dial their peers from their own address', async () => {
    expect(cluster.nodes.map((n) => n.host)).not.toContain(CLIENTS_HOST)
    // Connections to the CONTROLLER listeners (Raft, broker heartbeats) come from the brokers' addresses.
    const hosts = cluster.nodes.map((n) => n.host)
    const from = await until('controller connections between the brokers', () => {
      const sources = execFileSync('ss', ['-Htn', 'state', 'established'])
        .toString()
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 4 && cluster.nodes.some((n) => f[3] === `${n.host}:${n.ports[1]}`))
        .map((f) => f[2]!.slice(0, f[2]!.lastIndexOf(':')))
      return sources.length >= 2 ? sources : undefined
    }, 15_000)
    for (const h of from) expect(hosts).toContain(h)
  })

  test('isolating a node makes connections to and from it time out; heal restores them', async () => {
    const [a, b, c] = [node(1), node(2), node(3)]
    expect(await probe(b.host, a)).toBe('connected')
    const heal = await net.cut('isolate-1', cutsBetween([[1], [2, 3, 'clients']]))
    expect(chainRulesSync(net.chain).length).toBeGreaterThan(0)
    expect(await probe(b.host, a)).toBe('timeout')
    expect(await probe(c.host, a, a.ports[1])).toBe('timeout')
    expect(await probe(CLIENTS_HOST, a)).toBe('timeout')
    expect(await probe(a.host, b)).toBe('timeout')
    expect(await probe(a.host, c, c.ports[1])).toBe('timeout')
    expect(await probe(b.host, c)).toBe('connected')
    expect(await probe(CLIENTS_HOST, b)).toBe('connected')
    await heal()
    expect(chainRulesSync(net.chain)).toEqual([])
    expect(await probe(b.host, a)).toBe('connected')
    expect(await probe(CLIENTS_HOST, a)).toBe('connected')
    expect(await probe(a.host, b)).toBe('connected')
  })

  test('a one-way cut stops connections from A to B only', async () => {
    const [a, b] = [node(1), node(2)]
    const heal = await net.cut('cut-1-2', [{ from: 1, to: 2 }])
    expect(await probe(a.host, b)).toBe('timeout')
    expect(await probe(a.host, b, b.ports[1])).toBe('timeout')
    expect(await probe(b.host, a)).toBe('connected')
    expect(await probe(b.host, a, a.ports[1])).toBe('connected')
    expect(await probe(CLIENTS_HOST, b)).toBe('connected')
    await heal()
    expect(await probe(a.host, b)).toBe('connected')
  })

  test('isolating the controller makes the majority elect another; after heal it follows again', async () => {
    const old = await until('a controller', async () => {
      const id = await wire.controller(node(1))
      return id > 0 ? id : undefined
    })
    const others = [1, 2, 3].filter((n) => n !== old)
    wire.forget(old)
    const heal = await net.cut('isolate-controller', cutsBetween([[old], [...others, 'clients']]))
    const elected = await until('the majority to elect a new controller', async () => {
      const ids = await Promise.all(others.map((n) => wire.controller(node(n))))
      return ids.every((id) => id === ids[0] && id > 0 && id !== old) ? ids[0] : undefined
    }, 30_000)
    expect(others).toContain(elected)
    await heal()
    await until('the old controller to follow the new one', async () => ((await wire.controller(node(old))) === elected) || undefined, 30_000)
  })

  test('an isolated partition leader loses leadership and the ISR; acks=all writes go on on the majority side', async () => {
    const via = node(1)
    // The node the previous test isolated may still be fenced: RF 3 is refused (INVALID_REPLICATION_FACTOR)
    // until it is back, as Kafka refuses it.
    const created = await until('the topic created on 3 unfenced brokers', async () => {
      const r = await (await wire.client(via)).request(CreateTopics, 7, {
        topics: [{ name: 'cut', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: '2' }] }],
        timeoutMs: 10_000,
        validateOnly: false,
      })
      return r.topics[0]!.errorCode === ErrorCode.INVALID_REPLICATION_FACTOR ? undefined : r
    }, 30_000)
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE)
    const before = await until('a leader with a full ISR', async () => {
      const s = await wire.partition(via, 'cut', 0)
      return s.leader > 0 && s.isr.length === 3 ? s : undefined
    })
    expect(await wire.produce(via, 'cut', 0, ['before'])).toBe(ErrorCode.NONE)
    const isolated = before.leader
    const majority = [1, 2, 3].filter((n) => n !== isolated)
    const m = node(majority[0]!)
    wire.forget(isolated)
    const heal = await net.cut('isolate-leader', cutsBetween([[isolated], [...majority, 'clients']]))
    const after = await until('leadership and the ISR to leave the isolated leader', async () => {
      const s = await wire.partition(m, 'cut', 0)
      return majority.includes(s.leader) && !s.isr.includes(isolated) ? s : undefined
    }, 30_000)
    expect(after.isr).toEqual(majority)
    await until('an acks=all write on the majority side', async () => (await wire.produce(m, 'cut', 0, ['during'])) === ErrorCode.NONE || undefined, 20_000)
    await heal()
    await until('the old leader back in the ISR', async () => (await wire.partition(m, 'cut', 0)).isr.length === 3 || undefined, 30_000)
    const leader = node((await wire.partition(m, 'cut', 0)).leader)
    expect(await wire.consume(leader, 'cut', 0)).toEqual(expect.arrayContaining(['before', 'during']))
  })

  test('close removes the chain and its jump', async () => {
    const chain = net.chain
    await net.close()
    expect(chainExistsSync(chain)).toBe(false)
    expect(execFileSync('iptables', ['-w', '-S', 'OUTPUT']).toString()).not.toContain(chain)
  })
})
