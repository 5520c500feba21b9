// The Docker backend against a real engine: a 3-broker cluster of reference-broker containers on a network of
// its own, reached by kafkajs from the host at the containers' addresses. Each fault is checked by its effect
// on the cluster: a killed leader is replaced and its container restarts with its data; a paused broker stops
// answering and loses its leadership; an isolated broker cannot be reached from the host or its peers until
// healed. close() leaves no container and no network, and the ledger nothing outstanding.

import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DockerCluster, startDockerCluster } from '../../chaos/cluster/docker.ts'
import { LEDGER_LABEL } from '../../chaos/cluster/docker-ledger.ts'
import { Ledger } from '../../chaos/ledger.ts'
import { RawCluster } from '../../workloads/drivers/raw.ts'
import { dockerTitle, ensureDockerEngine } from '../helpers/docker.ts'
import { until } from '../helpers/until.ts'

const engine = await ensureDockerEngine()
if (!engine.ok) console.warn(`docker backend tests skipped: ${engine.reason}`)

// replica.socket.timeout.ms bounds a follower's connect to its vanished leader: the broker becomes leader only
// after its fetcher for the old leader stopped, which waits for that connect (30 s by default).
const CONFIG = {
  'replica.socket.timeout.ms': '2000',
  'broker.session.timeout.ms': '2000',
  'broker.heartbeat.interval.ms': '300',
  'replica.lag.time.max.ms': '2000',
  'replica.fetch.wait.max.ms': '200',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
  'offsets.topic.num.partitions': '1',
}

const root = mkdtempSync(join(tmpdir(), 'faultline-docker-'))
let ledger: Ledger
let cluster: DockerCluster
let kafka: Kafka

async function metadata(topic: string, from = cluster.nodes.filter((n) => n.running && !n.isPaused && !n.isIsolated)) {
  const c = new RawCluster({ bootstrap: from.map((n) => n.address), requestTimeoutMs: 2000, connectTimeoutMs: 1000 }, 1)
  try {
    await c.refresh([topic])
    return { partitions: c.topics.get(topic) ?? [], controller: c.controllerId, brokers: [...c.brokers.keys()].sort() }
  } finally {
    c.close()
  }
}

const leaderOf = async (topic: string): Promise<number> => (await metadata(topic)).partitions[0]?.leader ?? -1

/** Whether a TCP connection to the address opens within 1 s. */
function reachable(address: string): Promise<boolean> {
  const [host, port] = address.split(':') as [string, string]
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(port), timeout: 1000 })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('timeout', () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(false))
  })
}

async function produce(topic: string, values: string[]): Promise<void> {
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } })
  await p.connect()
  try {
    await p.send({ topic, acks: -1, messages: values.map((v) => ({ key: v, value: v })) })
  } finally {
    await p.disconnect()
  }
}

async function consumeAll(topic: string, expected: number): Promise<string[]> {
  const c = kafka.consumer({ groupId: `g-${topic}-${Date.now()}`, sessionTimeout: 6000, heartbeatInterval: 500 })
  const seen: string[] = []
  await c.connect()
  try {
    await c.subscribe({ topic, fromBeginning: true })
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) })
    await until(`${expected} records of ${topic} consumed`, () => seen.length >= expected, 30_000)
  } finally {
    await c.disconnect()
  }
  return seen
}

async function createTopic(topic: string): Promise<void> {
  // After a fault the quorum may still be electing: kafkajs' admin needs a controller.
  await until('a controller and 3 brokers', async () => {
    const md = await metadata('none')
    return md.controller > 0 && md.brokers.length === 3
  })
  // The controller may still answer REQUEST_TIMED_OUT or count a just-resumed broker as fenced: retry those, say which.
  const admin = kafka.admin()
  await admin.connect()
  try {
    await until(`${topic} created`, async () => {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true })
        return true
      } catch (err) {
        const types = ((err as { errors?: { type?: string }[] }).errors ?? [err as { type?: string }]).map((e) => e.type ?? String(e))
        if (!types.every((t) => t === 'REQUEST_TIMED_OUT' || t === 'INVALID_REPLICATION_FACTOR' || t === 'NOT_CONTROLLER')) throw err
        console.log(`creating ${topic}: ${types.join(', ')}; retrying`)
        return false
      }
    }, 30_000)
  } finally {
    await admin.disconnect()
  }
  await until(`${topic} led with an ISR of 3`, async () => (await metadata(topic)).partitions[0]?.isr.length === 3)
}

describe.skipIf(!engine.ok)(dockerTitle('a 3-broker cluster in Docker containers', engine), () => {
  beforeAll(async () => {
    ledger = Ledger.create(join(root, 'run'), { FAULTLINE_STATE_DIR: join(root, 'state') })
    cluster = await startDockerCluster({ brokers: 3, config: CONFIG, ledger, log: (l) => console.log(l) })
    kafka = new Kafka({ clientId: 'docker-test', brokers: [...cluster.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } })
  }, 180_000)

  afterAll(async () => {
    await cluster?.close()
    rmSync(root, { recursive: true, force: true })
  })

  it('serves a real client from the host at the containers\' addresses', async () => {
    expect(cluster.nodes.map((n) => n.address)).toEqual(cluster.bootstrap)
    expect((await metadata('none')).brokers).toEqual([1, 2, 3])
    await createTopic('t1')
    const values = Array.from({ length: 50 }, (_, i) => `a${i}`)
    await produce('t1', values)
    expect(new Set(await consumeAll('t1', 50))).toEqual(new Set(values))
  })

  it('fails over when the leader is killed, and the restarted broker catches up', async () => {
    await createTopic('t2')
    await produce('t2', ['before'])
    const leader = await leaderOf('t2')
    const node = cluster.nodes.find((n) => n.id === leader)!
    await node.kill()
    expect(node.running).toBe(false)
    expect((await node.container.inspect()).State.Running).toBe(false)
    const next = await until('a new leader of t2', async () => {
      const l = await leaderOf('t2')
      return l > 0 && l !== leader ? l : undefined
    })
    expect(next).not.toBe(leader)
    await produce('t2', ['during'])
    await node.start()
    await until('an ISR of 3 again', async () => (await metadata('t2')).partitions[0]?.isr.length === 3)
    expect((await consumeAll('t2', 2)).sort()).toEqual(['before', 'during'])
  })

  it('pauses a broker: it stops answering and loses its leadership, and answers again on resume', async () => {
    await createTopic('t3')
    const leader = await leaderOf('t3')
    const node = cluster.nodes.find((n) => n.id === leader)!
    await node.pause()
    expect((await node.container.inspect()).State.Paused).toBe(true)
    await until('another leader of t3', async () => {
      const l = await leaderOf('t3')
      return l > 0 && l !== leader
    })
    await expect(metadata('t3', [node])).rejects.toThrow()
    await node.resume()
    await until('the resumed broker to answer', async () => (await metadata('t3', [node])).brokers.length === 3)
    await until('an ISR of 3 again', async () => (await metadata('t3')).partitions[0]?.isr.length === 3)
  })

  it('isolates a broker from the host and its peers, and heals it', async () => {
    await createTopic('t4')
    const leader = await leaderOf('t4')
    const node = cluster.nodes.find((n) => n.id === leader)!
    await node.isolate()
    expect(await reachable(node.address)).toBe(false)
    await until('another leader of t4', async () => {
      const l = await leaderOf('t4')
      return l > 0 && l !== leader
    })
    await produce('t4', ['isolated'])
    await node.heal()
    await until('the healed broker reachable', () => reachable(node.address))
    await until('an ISR of 3 again', async () => (await metadata('t4')).partitions[0]?.isr.length === 3)
  })

  it('close() removes every container and the network, and releases them in the ledger', async () => {
    const docker = new Docker()
    const labelled = { label: [`${LEDGER_LABEL}=${ledger.path}`] }
    expect(await docker.listContainers({ all: true, filters: JSON.stringify(labelled) })).toHaveLength(3)
    expect(ledger.outstanding.map((r) => r.kind).sort()).toEqual(['docker-container', 'docker-container', 'docker-container', 'docker-network'])
    await cluster.close()
    expect(await docker.listContainers({ all: true, filters: JSON.stringify(labelled) })).toEqual([])
    expect(await docker.listNetworks({ filters: JSON.stringify(labelled) })).toEqual([])
    expect(ledger.outstanding).toEqual([])
  })
})
