// SASL listeners on a real broker process with real clients: kcat (librdkafka) with PLAIN, SCRAM-SHA-256 and
// SCRAM-SHA-512 over SASL_PLAINTEXT and SASL_SSL; the harness drivers (kafkajs, @platformatic/kafka, raw) with
// each mechanism; SCRAM users made with `faultline users`; a wrong password is SASL_AUTHENTICATION_FAILED and a
// closed connection after connection.failed.authentication.delay.ms; a request before authentication closes
// the connection.
import { execa } from 'execa'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { BrokerProcess, CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import { makeCerts, type CertFiles } from '../../chaos/cluster/certs.ts'
import { usersCommand } from '../../chaos/cluster/users.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { SaslAuthenticate } from '../../broker/protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../../broker/protocol/messages/sasl-handshake.ts'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import type { SaslMechanism } from '../../workloads/driver.ts'
import { createDriver, type DriverName } from '../../workloads/drivers/registry.ts'
import { loopbackHost, removeDir, tempDir } from '../helpers/broker-process.ts'
import { WireClient } from '../helpers/wire.ts'

const PLAIN_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
const MECHANISMS: SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']
const PROTOCOLS = ['SASL_PLAINTEXT', 'SASL_SSL'] as const
const DELAY_MS = 400
const USER: Record<SaslMechanism, { username: string; password: string }> = {
  PLAIN: { username: 'alice', password: 'alice-secret' },
  'SCRAM-SHA-256': { username: 'bob', password: 'bob-secret' },
  'SCRAM-SHA-512': { username: 'bob', password: 'bob-secret' },
}

let dir: string
let certs: CertFiles
let b: BrokerProcess
const port: Record<string, number> = {}

const faultline = (...args: string[]) => execa(process.execPath, [CLI_PATH, ...args], { reject: false })
const address = (listener: string) => `${b.host}:${port[listener]}`
const kcat = (protocol: (typeof PROTOCOLS)[number], m: SaslMechanism, user = USER[m]) => [
  '-b',
  address(protocol),
  '-X',
  `security.protocol=${protocol.toLowerCase()}`,
  '-X',
  `sasl.mechanism=${m}`,
  '-X',
  `sasl.username=${user.username}`,
  '-X',
  `sasl.password=${user.password}`,
  ...(protocol === 'SASL_SSL' ? ['-X', `ssl.ca.location=${certs.ca}`] : []),
]
const readAll = async (topic: string) => {
  const { stdout } = await execa('kcat', ['-b', address('PLAINTEXT'), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'])
  return stdout === '' ? [] : stdout.split('\n')
}

beforeAll(async () => {
  dir = tempDir('faultline-certs-')
  certs = makeCerts({ dir, brokers: 1 })
  const host = loopbackHost()
  b = new BrokerProcess({
    nodeId: 1,
    host,
    port: 0,
    dataDir: tempDir(),
    overrides: {
      listeners: `PLAINTEXT://${host}:0,SASL_PLAINTEXT://${host}:0,SASL_SSL://${host}:0`,
      'sasl.enabled.mechanisms': MECHANISMS.join(','),
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': PLAIN_JAAS,
      'listener.name.sasl_ssl.plain.sasl.jaas.config': PLAIN_JAAS,
      'ssl.keystore.location': certs.entries['broker-1']!.keystore,
      'connection.failed.authentication.delay.ms': String(DELAY_MS),
    },
  })
  await b.start()
  for (const r of b.logs) if (r.msg === 'listening') port[r.listener as string] = r.port as number
  const add = await faultline('users', 'add', 'bob', '--password', 'bob-secret', '--bootstrap', address('PLAINTEXT'))
  expect(add.stderr).toBe('')
  expect(add.stdout).toBe('added bob (SCRAM-SHA-256, SCRAM-SHA-512)')
}, 60_000)

afterAll(async () => {
  await b?.stop().catch(() => b.kill())
  if (b) removeDir(b.dataDir)
  removeDir(dir)
})

describe('kcat (librdkafka)', () => {
  test.each(PROTOCOLS.flatMap((p) => MECHANISMS.map((m) => [p, m] as const)))('%s with %s: produce and consume', async (protocol, m) => {
    const topic = `kcat-${protocol}-${m}`.toLowerCase()
    await execa('kcat', [...kcat(protocol, m), '-P', '-t', topic, '-p', '0', '-X', 'topic.request.required.acks=-1'], { input: 'one\ntwo\n' })
    const { stdout } = await execa('kcat', [...kcat(protocol, m), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'])
    expect(stdout.split('\n')).toEqual(['one', 'two'])
    expect(b.logs.some((r) => r.msg === 'SASL authenticated' && r.mechanism === m && r.principal === `User:${USER[m].username}`)).toBe(true)
  })

  test('a wrong password fails with the broker\'s message; the broker closes after the delay and keeps serving', async () => {
    const r = await execa('kcat', [...kcat('SASL_SSL', 'SCRAM-SHA-512', { username: 'bob', password: 'nope' }), '-L', '-m', '2'], { reject: false })
    expect(r.exitCode).not.toBe(0)
    expect(r.stderr).toContain('Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512')
    const failed = b.logs.find((x) => x.msg === 'SASL authentication failed' && x.mechanism === 'SCRAM-SHA-512')
    expect(failed).toMatchObject({ delayMs: DELAY_MS })
    expect(b.logs.some((x) => x.msg === 'closing connection' && x.conn === failed!.conn && x.reason === 'SASL authentication failed')).toBe(true)
    await execa('kcat', [...kcat('SASL_PLAINTEXT', 'PLAIN'), '-L', '-m', '5'])
  })
})

describe('harness drivers', () => {
  const cases: [DriverName, SaslMechanism, (typeof PROTOCOLS)[number]][] = [
    ...MECHANISMS.map((m) => ['kafkajs', m, 'SASL_SSL'] as [DriverName, SaslMechanism, 'SASL_SSL']),
    ['platformatic', 'SCRAM-SHA-256', 'SASL_SSL'],
    ['platformatic', 'SCRAM-SHA-512', 'SASL_PLAINTEXT'],
    ['raw', 'PLAIN', 'SASL_SSL'],
    ['raw', 'SCRAM-SHA-256', 'SASL_PLAINTEXT'],
    ['raw', 'SCRAM-SHA-512', 'SASL_SSL'],
  ]
  test.each(cases)('%s with %s over %s: admin creates a topic, a producer\'s records land', async (name, m, protocol) => {
    const topic = `${name}-${m}-${protocol}`.toLowerCase()
    const driver = await createDriver(name, {
      bootstrap: [address(protocol)],
      sasl: { mechanism: m, ...USER[m] },
      tls: protocol === 'SASL_SSL' ? { ca: readFileSync(certs.ca) } : undefined,
    })
    try {
      const admin = await driver.admin()
      await admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 1 }])
      await admin.close()
      const producer = await driver.producer({ acks: -1 })
      const result = await new Promise((resolve) => producer.send({ topic, partition: 0, records: [{ key: null, value: Buffer.from(m) }] }, resolve))
      expect(result).toMatchObject({ ok: true, baseOffset: 0 })
      await producer.close()
    } finally {
      await driver.close()
    }
    expect(await readAll(topic)).toEqual([m])
  })

  test('the raw driver with a wrong password is refused with SASL_AUTHENTICATION_FAILED', async () => {
    const driver = await createDriver('raw', { bootstrap: [address('SASL_PLAINTEXT')], sasl: { mechanism: 'SCRAM-SHA-256', username: 'bob', password: 'nope' } })
    const err = await driver.admin().then(
      async (a) => {
        await a.metadata([])
        return null
      },
      (e: Error) => e,
    )
    await driver.close()
    expect(String(err)).toMatch(/SASL_AUTHENTICATION_FAILED: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256/)
  })
})

describe('the wire, by hand', () => {
  test('a request before authentication closes the connection unanswered; SaslAuthenticate before the handshake too', async () => {
    const tls = { ca: readFileSync(certs.ca) }
    const c = await WireClient.connectTls(b.host, port.SASL_SSL!, tls)
    c.send(Metadata, 12, { topics: null, allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false })
    expect(await c.nextFrame()).toBeNull()
    const d = await WireClient.connect(b.host, port.SASL_PLAINTEXT!)
    d.send(SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000alice\u0000alice-secret') })
    expect(await d.nextFrame()).toBeNull()
    expect(b.logs.some((r) => r.level === 'warn' && String(r.msg).startsWith('Metadata request in SASL state handshake'))).toBe(true)
  })

  test('a wrong PLAIN password: SASL_AUTHENTICATION_FAILED with a message, then the connection closes', async () => {
    const c = await WireClient.connect(b.host, port.SASL_PLAINTEXT!)
    expect((await c.request(SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode).toBe(0)
    const sent = performance.now()
    const r = await c.request(SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000alice\u0000wrong') })
    // A lower bound only: the answer is held back at least the configured delay.
    expect(performance.now() - sent).toBeGreaterThanOrEqual(DELAY_MS - 5)
    expect(r).toMatchObject({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed: Invalid username or password' })
    expect(await c.nextFrame()).toBeNull()
  })
})

describe('faultline users', () => {
  // The CLI itself ran in beforeAll; the rest calls its function in process (each CLI start costs seconds here).
  const users = async (...args: string[]) => {
    const out: string[] = []
    const err: string[] = []
    const flags: Record<string, string> = {}
    const pos: string[] = []
    for (let i = 0; i < args.length; i++) {
      if (args[i]!.startsWith('--')) flags[args[i]!.slice(2)] = args[++i]!
      else pos.push(args[i]!)
    }
    const code = await usersCommand(pos, flags, (l) => out.push(l), (l) => err.push(l))
    return { code, out: out.join('\n'), err: err.join('\n') }
  }

  test('add over SASL_SSL, list, delete one mechanism, refuse what does not exist or is missing', async () => {
    const sasl = ['--security-protocol', 'SASL_SSL', '--ca', certs.ca, '--sasl-mechanism', 'PLAIN', '--sasl-username', 'alice', '--sasl-password', 'alice-secret']
    expect(await users('add', 'carol', '--password', 'c', '--mechanism', 'SCRAM-SHA-512', '--iterations', '8192', '--bootstrap', address('SASL_SSL'), ...sasl)).toEqual({ code: 0, out: 'added carol (SCRAM-SHA-512)', err: '' })
    await execa('kcat', [...kcat('SASL_PLAINTEXT', 'SCRAM-SHA-512', { username: 'carol', password: 'c' }), '-L', '-m', '5'])
    const list = await faultline('users', 'list', '--bootstrap', address('PLAINTEXT'))
    expect(list.stdout.split('\n')).toEqual(['bob\tSCRAM-SHA-256(iterations=4096) SCRAM-SHA-512(iterations=4096)', 'carol\tSCRAM-SHA-512(iterations=8192)'])
    expect((await users('delete', 'carol', '--mechanism', 'SCRAM-SHA-512', '--bootstrap', address('PLAINTEXT'))).out).toBe('deleted carol (SCRAM-SHA-512)')
    expect(await users('delete', 'carol', '--mechanism', 'SCRAM-SHA-512', '--bootstrap', address('PLAINTEXT'))).toEqual({
      code: 1,
      out: '',
      err: 'faultline users: carol: RESOURCE_NOT_FOUND: Attempt to delete a user credential that does not exist',
    })
    const bad = await users('add', 'dave', '--bootstrap', address('PLAINTEXT'))
    expect([bad.code, bad.err]).toEqual([2, expect.stringMatching(/^faultline users: add needs --password or --password-file/)])
    expect((await users('list', '--bootstrap', address('SASL_PLAINTEXT'), '--security-protocol', 'SASL_PLAINTEXT')).err).toMatch(/--sasl-mechanism "": expected one of PLAIN/)
    const gone = await createDriver('raw', { bootstrap: [address('SASL_PLAINTEXT')], sasl: { mechanism: 'SCRAM-SHA-512', username: 'carol', password: 'c' } })
    const refused = await gone.admin().then(
      async (a) => {
        await a.metadata([])
        return null
      },
      (e: Error) => e.message,
    )
    await gone.close()
    expect(refused).toMatch(/SASL_AUTHENTICATION_FAILED/)
  })
})
