// ACLs on a real broker process with real clients. The PLAINTEXT listener's User:ANONYMOUS is the super user
// (the admin); alice authenticates with PLAIN on SASL_PLAINTEXT. Producing without WRITE is
// TOPIC_AUTHORIZATION_FAILED (kafkajs and kcat), consuming in a group without group READ is
// GROUP_AUTHORIZATION_FAILED, Metadata hides a topic alice may not describe, and an ACL made with kafkajs'
// createAcls is in force at once on the running broker and again after a restart.
import { execa } from 'execa'
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes, type Admin } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { BrokerProcess, CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import { startLocalCluster } from '../../chaos/cluster/local.ts'
import { loopbackHost, removeDir, tempDir } from '../helpers/broker-process.ts'

const PLAIN_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
const ALICE = 'User:alice'

let b: BrokerProcess
let port: Record<string, number> = {}
let admin: Admin

const address = (listener: string) => `${b.host}:${port[listener]}`
const asAlice = () =>
  new Kafka({
    clientId: 'alice',
    brokers: [address('SASL_PLAINTEXT')],
    sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  })
const asAdmin = () => new Kafka({ clientId: 'admin', brokers: [address('PLAINTEXT')], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100 } })
const kcatAlice = ['-X', 'security.protocol=sasl_plaintext', '-X', 'sasl.mechanism=PLAIN', '-X', 'sasl.username=alice', '-X', 'sasl.password=alice-secret']
const topicAcl = (resourceName: string, operation: AclOperationTypes) => ({
  resourceType: AclResourceTypes.TOPIC,
  resourceName,
  resourcePatternType: ResourcePatternTypes.LITERAL,
  principal: ALICE,
  host: '*',
  operation,
  permissionType: AclPermissionTypes.ALLOW,
})

async function start(): Promise<void> {
  const from = b.logs.length
  await b.start()
  port = {}
  for (const r of b.logs.slice(from)) if (r.msg === 'listening') port[r.listener as string] = r.port as number
  admin = asAdmin().admin()
  await admin.connect()
}

beforeAll(async () => {
  const host = loopbackHost()
  b = new BrokerProcess({
    nodeId: 1,
    host,
    port: 0,
    dataDir: tempDir(),
    overrides: {
      listeners: `PLAINTEXT://${host}:0,SASL_PLAINTEXT://${host}:0`,
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': PLAIN_JAAS,
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  })
  await start()
  await admin.createTopics({ topics: [{ topic: 'acl-orders' }, { topic: 'acl-secret' }], waitForLeaders: true })
  // DESCRIBE on the group lets FindCoordinator through, so the refusal comes where READ is checked (JoinGroup).
  const groupDescribe = { ...topicAcl('acl-group', AclOperationTypes.DESCRIBE), resourceType: AclResourceTypes.GROUP }
  await admin.createAcls({ acl: [topicAcl('acl-orders', AclOperationTypes.DESCRIBE), topicAcl('acl-orders', AclOperationTypes.READ), groupDescribe] })
}, 60_000)

afterAll(async () => {
  await admin?.disconnect()
  await b?.stop().catch(() => b.kill())
  if (b) removeDir(b.dataDir)
})

describe('ACLs with real clients', () => {
  test('Metadata hides a topic alice may not describe and refuses it by name', async () => {
    const a = asAlice().admin()
    await a.connect()
    try {
      expect((await a.listTopics()).sort()).toEqual(['acl-orders'])
      expect(await admin.listTopics()).toEqual(expect.arrayContaining(['acl-orders', 'acl-secret']))
      await expect(a.fetchTopicMetadata({ topics: ['acl-secret'] })).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' })
    } finally {
      await a.disconnect()
    }
  })

  test('producing without WRITE: TOPIC_AUTHORIZATION_FAILED (kafkajs and kcat)', async () => {
    const p = asAlice().producer()
    await p.connect()
    try {
      await expect(p.send({ topic: 'acl-orders', messages: [{ value: 'x' }] })).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' })
    } finally {
      await p.disconnect()
    }
    const k = await execa('kcat', ['-b', address('SASL_PLAINTEXT'), ...kcatAlice, '-P', '-t', 'acl-orders', '-p', '0'], { input: 'x\n', reject: false })
    expect(`${k.stdout}\n${k.stderr}`).toMatch(/Topic authorization failed/i)
  })

  test('consuming in a group without group READ: GROUP_AUTHORIZATION_FAILED', async () => {
    const c = asAlice().consumer({ groupId: 'acl-group', retry: { retries: 0 } })
    await c.connect()
    try {
      await c.subscribe({ topics: ['acl-orders'], fromBeginning: true })
      const crashed = new Promise<unknown>((resolve) => c.on(c.events.CRASH, (e) => resolve(e.payload.error)))
      await c.run({ eachMessage: async () => {} }).catch((e: unknown) => e)
      expect(await crashed).toMatchObject({ type: 'GROUP_AUTHORIZATION_FAILED' })
    } finally {
      await c.disconnect()
    }
    const k = await execa('kcat', ['-b', address('SASL_PLAINTEXT'), ...kcatAlice, '-G', 'acl-group', 'acl-orders', '-e', '-q'], { reject: false, timeout: 20_000 })
    expect(`${k.stdout}\n${k.stderr}`).toMatch(/Group authorization failed/i)
  })

  test('an ACL created with kafkajs admin takes effect at once and survives a restart', async () => {
    await admin.createAcls({ acl: [topicAcl('acl-orders', AclOperationTypes.WRITE)] })
    const send = async (value: string) => {
      const p = asAlice().producer()
      await p.connect()
      try {
        await p.send({ topic: 'acl-orders', messages: [{ value }] })
      } finally {
        await p.disconnect()
      }
    }
    await send('before restart')
    await admin.disconnect()
    await b.stop()
    await start()
    const described = await admin.describeAcls({
      resourceType: AclResourceTypes.TOPIC,
      resourcePatternType: ResourcePatternTypes.ANY,
      principal: ALICE,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    })
    expect(described.resources.flatMap((r) => r.acls.map((a) => `${r.resourceName}:${a.operation}`)).sort()).toEqual(
      [AclOperationTypes.READ, AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE].map((op) => `acl-orders:${op}`).sort(),
    )
    await send('after restart')
    const { stdout } = await execa('kcat', ['-b', address('PLAINTEXT'), '-C', '-t', 'acl-orders', '-p', '0', '-o', 'beginning', '-e', '-q'])
    expect(stdout.split('\n')).toEqual(['before restart', 'after restart'])
  }, 60_000)
})

describe('faultline acls', () => {
  test('add, list and delete through the CLI; bad input is exit 2 naming the flag', async () => {
    const cli = (...args: string[]) => execa(process.execPath, [CLI_PATH, 'acls', ...args, '--bootstrap', address('PLAINTEXT')], { reject: false })
    const add = await cli('add', '--principal', ALICE, '--operation', 'READ,DESCRIBE', '--group', 'acl-cli', '--prefixed')
    expect([add.exitCode, add.stdout, add.stderr]).toEqual([0, 'added 2 ACL(s) for User:alice', ''])
    const list = await cli('list', '--group', 'acl-cli')
    expect(list.stdout.split('\n')).toEqual(['GROUP:PREFIXED:acl-cli\tUser:alice\t*\tREAD\tALLOW', 'GROUP:PREFIXED:acl-cli\tUser:alice\t*\tDESCRIBE\tALLOW'])
    const del = await cli('delete', '--group', 'acl-cli', '--prefixed', '--operation', 'READ')
    expect([del.exitCode, del.stdout]).toEqual([0, 'deleted GROUP:PREFIXED:acl-cli\tUser:alice\t*\tREAD\tALLOW'])
    expect((await cli('list', '--group', 'acl-cli')).stdout).toBe('GROUP:PREFIXED:acl-cli\tUser:alice\t*\tDESCRIBE\tALLOW')
    const bad = await cli('add', '--principal', ALICE, '--operation', 'FLY', '--topic', 't')
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toMatch(/--operation FLY: expected one of/)
  })
})

describe('brokers under the authorizer', () => {
  // Followers fetch with the inter-broker listener's principal (here PLAINTEXT's User:ANONYMOUS), which needs
  // CLUSTER_ACTION: as in Kafka, the brokers' principal is made a super user.
  test('a replicated topic keeps its followers in sync when the brokers\' principal is in super.users', async () => {
    const cluster = await startLocalCluster({ brokers: 2, config: { 'authorizer.class.name': 'x', 'super.users': 'User:ANONYMOUS', 'offsets.topic.num.partitions': '1' } })
    try {
      const k = new Kafka({ clientId: 'repl', brokers: [...cluster.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } })
      const a = k.admin()
      await a.connect()
      await a.createTopics({ topics: [{ topic: 'acl-repl', numPartitions: 1, replicationFactor: 2 }], waitForLeaders: true })
      const p = k.producer()
      await p.connect()
      await p.send({ topic: 'acl-repl', acks: -1, timeout: 10_000, messages: [{ value: 'replicated' }] })
      await p.disconnect()
      const md = await a.fetchTopicMetadata({ topics: ['acl-repl'] })
      expect(md.topics[0]!.partitions[0]!.isr.sort()).toEqual([1, 2])
      await a.disconnect()
    } finally {
      await cluster.close()
    }
  }, 60_000)
})
