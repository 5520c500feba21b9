// Network faults on the Docker backend against a real engine. Partitions: iptables rules by container address
// in a chain of the test's own, jumped from FORWARD/OUTPUT/INPUT on the run's bridge; reachability is probed by
// TCP connects from inside a container (docker exec) and from the host (the clients' side), and the cluster's
// reaction is read from metadata: the ISR shrinks while a leader and a follower are cut apart, and grows back
// after heal. Proxies: faultline's proxy server on the host in front of every container's listeners, which the
// brokers advertise at the bridge's gateway; a latency toxic delays acks=all produces by at least its delay.
// Time is asserted only as a lower bound. Nothing is left: no chain, no jump, no container, no network.

import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DockerCluster, type DockerNode, startDockerCluster } from '../../chaos/cluster/docker.ts'
import { LEDGER_LABEL } from '../../chaos/cluster/docker-ledger.ts'
import type { ProxyFault } from '../../chaos/faults.ts'
import { Ledger } from '../../chaos/ledger.ts'
import { chainExistsSync, chainRulesSync } from '../../chaos/network/iptables.ts'
import { cutsBetween, IptablesPartitions } from '../../chaos/network/partition.ts'
import { checkToxiproxy, ClusterProxies, type ProxyServerProcess, startProxyServer } from '../../chaos/proxy/network.ts'
import { RawCluster } from '../../workloads/drivers/raw.ts'
import { dockerTitle, ensureDockerEngine } from '../helpers/docker.ts'
import { tcpProbe } from '../helpers/tcp-probe.ts'
import { until } from '../helpers/until.ts'

const engine = await ensureDockerEngine()
if (!engine.ok) console.warn(`docker network fault tests skipped: ${engine.reason}`)

const CONFIG = {
  'replica.socket.timeout.ms': '2000',
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '300',
  'replica.lag.time.max.ms': '2000',
  'replica.fetch.wait.max.ms': '200',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '1',
}

const root = mkdtempSync(join(tmpdir(), 'faultline-docker-net-'))
const run = promisify(execFile)

afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Partition 0 of the topic as `via` (default: any node) sees it. */
async function partitionOf(cluster: DockerCluster, topic: string, via: readonly DockerNode[] = cluster.nodes): Promise<{ leader: number; isr: readonly number[] }> {
  const c = new RawCluster({ bootstrap: via.map((n) => n.address), requestTimeoutMs: 2000, connectTimeoutMs: 1000 }, 1)
  try {
    await c.refresh([topic])
    const p = c.topics.get(topic)?.[0]
    return { leader: p?.leader ?? -1, isr: p?.isr ?? [] }
  } finally {
    c.close()
  }
}

async function createTopic(kafka: Kafka, cluster: DockerCluster, topic: string): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await until(`${topic} created`, async () => {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true })
        return true
      } catch (err) {
        console.log(`creating ${topic}: ${(err as Error).message}; retrying`)
        return false
      }
    }, 30_000)
  } finally {
    await admin.disconnect()
  }
  await until(`${topic} led with an ISR of 3`, async () => (await partitionOf(cluster, topic)).isr.length === 3, 30_000)
}

/** A TCP connect from inside `from`'s container to `host:port`: 'connected', 'timeout' or the error code. */
async function probeFrom(from: DockerNode, host: string, port: number): Promise<string> {
  const script = `const s=require('net').connect({host:${JSON.stringify(host)},port:${port}});const t=setTimeout(()=>{console.log('timeout');process.exit(0)},1000);s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(0)})`
  const { stdout } = await run('docker', ['exec', from.container.id, '/usr/bin/node', '-e', script], { timeout: 15_000 })
  return stdout.trim()
}

/** A TCP connect from the host (the harness's clients' side). */
function probeHost(host: string, port: number): Promise<string> {
  return tcpProbe({ host, port })
}

function iptablesSaved(): string {
  return execFileSync('iptables', ['-w', '-S']).toString()
}

async function labelled(ledger: Ledger): Promise<number> {
  if (!engine.ok) return 0
  const filters = JSON.stringify({ label: [`${LEDGER_LABEL}=${ledger.path}`] })
  return (await engine.docker.listContainers({ all: true, filters })).length + (await engine.docker.listNetworks({ filters })).length
}

describe.skipIf(!engine.ok)(dockerTitle('partitions on a 3-broker docker cluster', engine), () => {
  let ledger: Ledger
  let cluster: DockerCluster
  let net: IptablesPartitions
  let kafka: Kafka
  const node = (id: number): DockerNode => cluster.nodes.find((n) => n.id === id)!

  beforeAll(async () => {
    ledger = Ledger.create(join(root, 'partitions'), { FAULTLINE_STATE_DIR: join(root, 'state') })
    cluster = await startDockerCluster({ brokers: 3, config: CONFIG, ledger, log: (l) => console.log(l) })
    net = await IptablesPartitions.open({ ledger, scope: cluster.partitionScope, nodes: () => cluster.nodes.map((n) => ({ id: n.id, host: n.host, ports: n.ports })) })
    kafka = new Kafka({ clientId: 'docker-net-test', brokers: [...cluster.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } })
  }, 180_000)

  afterAll(async () => {
    await net?.close()
    await cluster?.close()
  })

  it('the chain is jumped to from the bridge\'s FORWARD, OUTPUT and INPUT traffic', () => {
    const jumps = iptablesSaved()
      .split('\n')
      .filter((l) => l.endsWith(`-j ${net.chain}`))
    expect(jumps.map((l) => l.split(' ')[1]).sort()).toEqual(['FORWARD', 'INPUT', 'OUTPUT'])
    for (const j of jumps) expect(j).toContain(cluster.partitionScope.jumps[0]!.match[1]!)
  })

  it('a cut between two broker containers makes their connections time out, and heal restores them', async () => {
    const [a, b, c] = [node(1), node(2), node(3)]
    expect(await probeFrom(a, b.host, 9092)).toBe('connected')
    const heal = await net.cut('cut-1-2', cutsBetween([[1], [2]]))
    expect(chainRulesSync(net.chain).length).toBeGreaterThan(0)
    expect(await probeFrom(a, b.host, 9092)).toBe('timeout')
    expect(await probeFrom(a, b.host, 9093)).toBe('timeout')
    expect(await probeFrom(b, a.host, 9092)).toBe('timeout')
    expect(await probeFrom(a, c.host, 9092)).toBe('connected')
    expect(await probeHost(a.host, 9092)).toBe('connected')
    await heal()
    expect(chainRulesSync(net.chain)).toEqual([])
    expect(await probeFrom(a, b.host, 9092)).toBe('connected')
    expect(await probeFrom(b, a.host, 9092)).toBe('connected')
  }, 60_000)

  it('isolating a broker with the clients on the other side cuts the host off from it too', async () => {
    const [a, b] = [node(3), node(1)]
    const heal = await net.cut('isolate-3', cutsBetween([[3], [1, 2, 'clients']]))
    expect(await probeHost(a.host, 9092)).toBe('timeout')
    expect(await probeHost(b.host, 9092)).toBe('connected')
    expect(await probeFrom(a, b.host, 9092)).toBe('timeout')
    await heal()
    expect(await probeHost(a.host, 9092)).toBe('connected')
  }, 60_000)

  it('a leader cut off from a follower: an acks=all write waits until the ISR shrinks; heal grows it back', async () => {
    await createTopic(kafka, cluster, 'isr')
    const before = await partitionOf(cluster, 'isr')
    const follower = before.isr.find((id) => id !== before.leader)!
    // Asked of the third broker: one of the pair may be cut off from the controller, so its metadata is stale.
    const third = cluster.nodes.filter((n) => n.id !== before.leader && n.id !== follower)
    const heal = await net.cut('leader-follower', cutsBetween([[before.leader], [follower]]))
    // A follower that stops fetching falls out of sync only once the leader has more than it: write.
    const producer = kafka.producer()
    await producer.connect()
    try {
      await producer.send({ topic: 'isr', acks: -1, timeout: 30_000, messages: [{ value: 'during' }] })
    } finally {
      await producer.disconnect()
    }
    const shrunk = await until('the ISR without the cut-off replica', async () => {
      const p = await partitionOf(cluster, 'isr', third)
      return p.isr.length === 2 ? p : undefined
    }, 30_000)
    // Whichever of the two is left out, the pair no longer replicates.
    expect(shrunk.isr.includes(before.leader) && shrunk.isr.includes(follower)).toBe(false)
    await heal()
    await until('an ISR of 3 again', async () => (await partitionOf(cluster, 'isr', third)).isr.length === 3, 30_000)
  }, 120_000)

  it('close() removes the chain and every jump to it, and the cluster leaves nothing labelled', async () => {
    const chain = net.chain
    await net.close()
    expect(chainExistsSync(chain)).toBe(false)
    expect(iptablesSaved()).not.toContain(chain)
    await cluster.close()
    expect(await labelled(ledger)).toBe(0)
    expect(ledger.outstanding).toEqual([])
  }, 60_000)
})

describe.skipIf(!engine.ok)(dockerTitle('a 3-broker docker cluster behind proxies on the host', engine), () => {
  let ledger: Ledger
  let server: ProxyServerProcess
  let proxies: ClusterProxies
  let cluster: DockerCluster
  let kafka: Kafka

  beforeAll(async () => {
    ledger = Ledger.create(join(root, 'proxies'), { FAULTLINE_STATE_DIR: join(root, 'state') })
    server = await startProxyServer()
    proxies = new ClusterProxies(await checkToxiproxy(server.url))
    cluster = await startDockerCluster({ brokers: 3, config: CONFIG, ledger, front: proxies, log: (l) => console.log(l) })
    kafka = new Kafka({ clientId: 'docker-proxy-test', brokers: [...cluster.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } })
  }, 180_000)

  afterAll(async () => {
    await cluster?.close()
    await proxies?.close()
    await server?.stop()
  })

  it('every broker advertises its proxy at the gateway; the voters reach each other through proxies too', async () => {
    const api = (await (await fetch(`${server.url}/proxies`)).json()) as Record<string, { listen: string; upstream: string }>
    const c = new RawCluster({ bootstrap: [...cluster.bootstrap], requestTimeoutMs: 2000, connectTimeoutMs: 1000 }, 1)
    try {
      await c.refresh()
      expect(c.brokers.size).toBe(3)
      for (const n of cluster.nodes) {
        const front = api[`${proxies.prefix}-broker-${n.id}`]!
        expect(front.upstream).toBe(`${n.host}:9092`)
        expect(front.listen).toBe(n.address)
        expect(c.brokers.get(n.id)).toEqual({ host: cluster.gateway, port: Number(front.listen.split(':')[1]) })
        expect(api[`${proxies.prefix}-controller-${n.id}`]!.upstream).toBe(`${n.host}:9093`)
      }
    } finally {
      c.close()
    }
    // A voter's own connections to its peers go to the gateway (the proxies), none to a peer's address.
    const hex = (ip: string): string =>
      ip
        .split('.')
        .map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase())
        .reverse()
        .join('')
    const remotes = async (): Promise<string[]> => {
      const { stdout } = await run('docker', ['exec', cluster.nodes[0]!.container.id, '/usr/bin/node', '-e', "process.stdout.write(require('fs').readFileSync('/proc/net/tcp'))"], { timeout: 15_000 })
      return stdout.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[2]?.split(':')[0] ?? '')
    }
    const seen = await until('broker 1 connected to a peer through a proxy', async () => {
      const r = await remotes()
      return r.includes(hex(cluster.gateway)) ? r : undefined
    }, 15_000)
    for (const n of cluster.nodes.slice(1)) expect(seen).not.toContain(hex(n.host))
  })

  it('latency on every broker\'s proxies delays an acks=all produce by at least the delay; heal removes the toxics', async () => {
    await createTopic(kafka, cluster, 'slow')
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      await producer.send({ topic: 'slow', acks: -1, messages: [{ value: 'warm' }] })
      const f = { name: 'lat', kind: 'latency', atMs: 0, durationMs: 1000, target: { kind: 'all' }, direction: 'both', delayMs: 300, jitterMs: 0 } as ProxyFault
      const heal = await proxies.apply(f, cluster.nodes.map((n) => n.id), 1)
      const t0 = performance.now()
      await producer.send({ topic: 'slow', acks: -1, messages: [{ value: 'slow' }] })
      // The request waits 300 ms into the leader's proxy and its answer 300 ms out.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(600)
      await heal()
      const api = (await (await fetch(`${server.url}/proxies`)).json()) as Record<string, { toxics?: unknown[] }>
      for (const p of Object.values(api)) expect(p.toxics ?? []).toEqual([])
      await producer.send({ topic: 'slow', acks: -1, messages: [{ value: 'after' }] })
    } finally {
      await producer.disconnect()
    }
  }, 120_000)

  it('close() leaves no container or network, and deleting the proxies leaves none on the server', async () => {
    await cluster.close()
    await proxies.close()
    expect(await labelled(ledger)).toBe(0)
    expect(Object.keys((await (await fetch(`${server.url}/proxies`)).json()) as object)).toEqual([])
  }, 60_000)
})
