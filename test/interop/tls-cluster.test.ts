// Three real broker processes whose inter-broker (BROKER) and CONTROLLER listeners are SSL, clients on a
// PLAINTEXT listener: replication (acks=all with all 3 replicas in the ISR) and a leader election after a kill -9
// run over TLS, and a fourth node whose certificate comes from another CA is refused by the controllers and
// never joins.
import { execa } from 'execa'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { BrokerProcess } from '../../chaos/cluster/broker-process.ts'
import { makeCerts, type CertFiles } from '../../chaos/cluster/certs.ts'
import { loopbackHost, removeDir, tempDir } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'

let dir: string
let certs: CertFiles
let foreign: CertFiles
const nodes: BrokerProcess[] = []
let intruder: BrokerProcess | null = null
const hosts: string[] = []
// Below the OS's ephemeral range, random per run so parallel test files do not collide.
const controllerBase = 20_000 + Math.floor(Math.random() * 12_000)
const clusterId = 'tls-cluster-test-00001'

function node(id: number, keystore: string, roles: string): BrokerProcess {
  const host = hosts[id - 1]!
  const controller = roles.includes('controller') ? `,CONTROLLER://${host}:${controllerBase + id}` : ''
  return new BrokerProcess({
    nodeId: id,
    host,
    port: 0,
    dataDir: tempDir(),
    startTimeoutMs: 60_000,
    overrides: {
      listeners: `CLIENT://${host}:0,BROKER://${host}:0${controller}`,
      'listener.security.protocol.map': 'CLIENT:PLAINTEXT,BROKER:SSL,CONTROLLER:SSL',
      'inter.broker.listener.name': 'BROKER',
      'ssl.keystore.location': keystore,
      'ssl.truststore.location': certs.ca,
      'process.roles': roles,
      'controller.quorum.voters': [1, 2, 3].map((v) => `${v}@${hosts[v - 1]}:${controllerBase + v}`).join(','),
      'cluster.id': clusterId,
      'broker.session.timeout.ms': '4000',
      'broker.heartbeat.interval.ms': '500',
      'controller.quorum.election.timeout.ms': '500',
      'controller.quorum.fetch.timeout.ms': '1000',
      'controller.quorum.request.timeout.ms': '500',
      'replica.fetch.wait.max.ms': '200',
    },
  })
}

beforeAll(async () => {
  dir = tempDir('faultline-certs-')
  certs = makeCerts({ dir, brokers: 3 })
  foreign = makeCerts({ dir: tempDir('faultline-certs-other-'), brokers: 4 })
  while (hosts.length < 4) {
    const h = loopbackHost()
    if (!hosts.includes(h)) hosts.push(h)
  }
  for (const id of [1, 2, 3]) nodes.push(node(id, certs.entries[`broker-${id}`]!.keystore, 'broker,controller'))
  await Promise.all(nodes.map((n) => n.start()))
}, 120_000)

afterAll(async () => {
  await Promise.all([...nodes, ...(intruder ? [intruder] : [])].map((n) => n.stop().catch(() => n.kill())))
  for (const n of [...nodes, ...(intruder ? [intruder] : [])]) removeDir(n.dataDir)
  removeDir(dir)
  removeDir(foreign.ca.slice(0, foreign.ca.lastIndexOf('/')))
})

const kafka = (n: BrokerProcess) => new Kafka({ clientId: 'tls-cluster', brokers: [n.bootstrap], logLevel: logLevel.NOTHING })

test('replicates over SSL (acks=all waits for the whole ISR of 3) and elects a new leader after kill -9', async () => {
  const admin = kafka(nodes[0]!).admin()
  await admin.connect()
  await until('every broker registered and a controller known', async () => {
    const c = await admin.describeCluster()
    return c.brokers.length === 3 && c.controller !== null && c.controller >= 0 ? true : undefined
  })
  await admin.createTopics({ topics: [{ topic: 'secure', numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] })
  const state = async () => (await admin.fetchTopicMetadata({ topics: ['secure'] })).topics[0]!.partitions[0]!
  await until('a leader with a full ISR', async () => ((await state()).isr.length === 3 ? true : undefined))
  const producer = kafka(nodes[0]!).producer()
  await producer.connect()
  await producer.send({ topic: 'secure', acks: -1, messages: ['a', 'b', 'c'].map((value) => ({ value })) })
  await producer.disconnect()
  const before = await state()
  await admin.disconnect()

  const leader = nodes.find((n) => n.nodeId === before.leader)!
  await leader.kill()
  const survivor = nodes.find((n) => n !== leader)!
  const admin2 = kafka(survivor).admin()
  await admin2.connect()
  await until('a new leader', async () => {
    const p = (await admin2.fetchTopicMetadata({ topics: ['secure'] })).topics[0]!.partitions[0]!
    return p.leader >= 0 && p.leader !== before.leader ? true : undefined
  })
  await admin2.disconnect()
  // The new leader exposes the records once its high watermark has caught up (one follower fetch).
  const read = await until('the acknowledged records readable from the new leader', async () => {
    const { stdout } = await execa('kcat', ['-b', survivor.bootstrap, '-C', '-t', 'secure', '-p', '0', '-o', 'beginning', '-e', '-q'])
    return stdout === '' ? undefined : stdout.split('\n')
  })
  expect(read).toEqual(['a', 'b', 'c'])
})

test('a node whose certificate is from another CA is refused and does not join', async () => {
  intruder = node(4, foreign.entries['broker-4']!.keystore, 'broker')
  const started = intruder.start().then(
    () => 'started',
    () => 'failed',
  )
  const live = nodes.filter((n) => n.running)
  await until('a controller refused the intruder', () => live.some((n) => n.logs.some((r) => r.msg === 'controller channel: TLS handshake refused; connection closed')))
  const { stdout } = await execa('kcat', ['-b', live[0]!.bootstrap, '-L', '-J'])
  const ids = (JSON.parse(stdout) as { brokers: { id: number }[] }).brokers.map((b) => b.id)
  expect(ids).not.toContain(4)
  expect(intruder.running).toBe(true)
  await intruder.kill()
  expect(await started).toBe('failed')
})
