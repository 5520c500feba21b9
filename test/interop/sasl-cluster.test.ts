// Three real broker processes that replicate over a SASL_SSL inter-broker listener (SCRAM-SHA-512, the broker's
// own credentials from its listener JAAS entry, its user added with `faultline users` through the client
// listener) with the CONTROLLER listener on mutual TLS (the quorum channel cannot carry SASL): acks=all waits
// for the whole ISR and a leader election after kill -9 keeps the records. A fourth broker with a wrong
// password is refused by the leader and never joins the ISR.
import { execa } from 'execa'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { BrokerProcess } from '../../chaos/cluster/broker-process.ts'
import { makeCerts, type CertFiles } from '../../chaos/cluster/certs.ts'
import { addUser } from '../../chaos/cluster/users.ts'
import { loopbackHost, removeDir, tempDir } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'

let dir: string
let certs: CertFiles
const nodes: BrokerProcess[] = []
let intruder: BrokerProcess | null = null
const hosts: string[] = []
const controllerBase = 20_000 + Math.floor(Math.random() * 12_000)
const clusterId = 'sasl-cluster-test-0001'
const SCRAM = 'org.apache.kafka.common.security.scram.ScramLoginModule'

function node(id: number, roles: string, password: string): BrokerProcess {
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
      'listener.security.protocol.map': 'CLIENT:PLAINTEXT,BROKER:SASL_SSL,CONTROLLER:SSL',
      'inter.broker.listener.name': 'BROKER',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      'listener.name.broker.scram-sha-512.sasl.jaas.config': `${SCRAM} required username="broker" password="${password}";`,
      'ssl.keystore.location': certs.entries[`broker-${id}`]!.keystore,
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
      'replica.fetch.backoff.ms': '200',
      'replica.lag.time.max.ms': '2000',
      'connection.failed.authentication.delay.ms': '50',
    },
  })
}

beforeAll(async () => {
  dir = tempDir('faultline-certs-')
  certs = makeCerts({ dir, brokers: 4 })
  while (hosts.length < 4) {
    const h = loopbackHost()
    if (!hosts.includes(h)) hosts.push(h)
  }
  for (const id of [1, 2, 3]) nodes.push(node(id, 'broker,controller', 'broker-secret'))
  await Promise.all(nodes.map((n) => n.start()))
  const r = await addUser({ bootstrap: nodes[0]!.bootstrap }, 'broker', 'broker-secret', ['SCRAM-SHA-512'])
  expect(r.errorCode).toBe(0)
}, 120_000)

afterAll(async () => {
  const all = [...nodes, ...(intruder ? [intruder] : [])]
  await Promise.all(all.map((n) => n.stop().catch(() => n.kill())))
  for (const n of all) removeDir(n.dataDir)
  removeDir(dir)
})

const kafka = (n: BrokerProcess) => new Kafka({ clientId: 'sasl-cluster', brokers: [n.bootstrap], logLevel: logLevel.NOTHING })

test('replicates over SASL_SSL (acks=all waits for the ISR of 3) and elects a new leader after kill -9', async () => {
  const admin = kafka(nodes[0]!).admin()
  await admin.connect()
  await until('every broker registered', async () => ((await admin.describeCluster()).brokers.length === 3 ? true : undefined))
  await admin.createTopics({ topics: [{ topic: 'sasl-replicated', numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] })
  const state = async () => (await admin.fetchTopicMetadata({ topics: ['sasl-replicated'] })).topics[0]!.partitions[0]!
  await until('a leader with a full ISR', async () => ((await state()).isr.length === 3 ? true : undefined))
  const producer = kafka(nodes[0]!).producer()
  await producer.connect()
  await producer.send({ topic: 'sasl-replicated', acks: -1, messages: ['a', 'b', 'c'].map((value) => ({ value })) })
  await producer.disconnect()
  const before = await state()
  await admin.disconnect()
  expect(nodes.some((n) => n.logs.some((r) => r.msg === 'SASL authenticated' && r.principal === 'User:broker' && r.mechanism === 'SCRAM-SHA-512'))).toBe(true)

  const leader = nodes.find((n) => n.nodeId === before.leader)!
  await leader.kill()
  const survivor = nodes.find((n) => n !== leader)!
  const admin2 = kafka(survivor).admin()
  await admin2.connect()
  await until('a new leader', async () => {
    const p = (await admin2.fetchTopicMetadata({ topics: ['sasl-replicated'] })).topics[0]!.partitions[0]!
    return p.leader >= 0 && p.leader !== before.leader ? true : undefined
  })
  await admin2.disconnect()
  const read = await until('the acknowledged records readable from the new leader', async () => {
    const { stdout } = await execa('kcat', ['-b', survivor.bootstrap, '-C', '-t', 'sasl-replicated', '-p', '0', '-o', 'beginning', '-e', '-q'])
    return stdout === '' ? undefined : stdout.split('\n')
  })
  expect(read).toEqual(['a', 'b', 'c'])
})

test('a broker with the wrong inter-broker password is refused by the leader and stays out of the ISR', async () => {
  intruder = node(4, 'broker', 'wrong-secret')
  await intruder.start()
  const live = nodes.filter((n) => n.running)
  const admin = kafka(live[0]!).admin()
  await admin.connect()
  await until('broker 4 registered', async () => ((await admin.describeCluster()).brokers.some((b) => b.nodeId === 4) ? true : undefined))
  await admin.createTopics({ topics: [{ topic: 'sasl-intruder', replicaAssignment: [{ partition: 0, replicas: [live[0]!.nodeId, 4] }] }] })
  await until('broker 4 told its fetches are refused', () =>
    intruder!.logs.some((r) => r.msg === 'cannot connect to the leader' && String(r.error).includes('SASL_AUTHENTICATION_FAILED')),
  )
  expect(live[0]!.logs.some((r) => r.msg === 'SASL authentication failed' && r.mechanism === 'SCRAM-SHA-512')).toBe(true)
  // A new partition starts with every replica in its ISR (as in Kafka); the leader drops the one that never fetches.
  const isr = await until('the ISR without broker 4', async () => {
    const p = (await admin.fetchTopicMetadata({ topics: ['sasl-intruder'] })).topics[0]!.partitions[0]!
    return p.isr.includes(4) ? undefined : p.isr
  })
  await admin.disconnect()
  expect(isr).toEqual([live[0]!.nodeId])
})
