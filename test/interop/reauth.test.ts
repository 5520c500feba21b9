// KIP-368 session lifetime on a real broker process with connections.max.reauth.ms=1500: SaslAuthenticate v1+
// answers the lifetime; a connection re-authenticates in place (requests pipelined before the SaslHandshake are
// still answered); one that does not is closed at its first request after expiry; a deleted user cannot
// re-authenticate nor connect again; another principal on re-authentication closes the connection; kafkajs
// re-authenticates in place and keeps producing across lifetimes without a lost ack; kcat (librdkafka 2.0.2 in Debian 12) does not
// re-authenticate (KIP-368 landed in librdkafka 2.2.0): it is disconnected, and kcat -P gives up when its only
// broker is down.
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { BrokerProcess } from '../../chaos/cluster/broker-process.ts'
import { addUser, deleteUser, listUsers } from '../../chaos/cluster/users.ts'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { SaslAuthenticate } from '../../broker/protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../../broker/protocol/messages/sasl-handshake.ts'
import { ScramClient } from '../../broker/sasl/scram.ts'
import { createDriver } from '../../workloads/drivers/registry.ts'
import { loopbackHost, removeDir, tempDir } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'
import { WireClient } from '../helpers/wire.ts'

const LIFETIME_MS = 1500
const M = 'SCRAM-SHA-512'
const METADATA = { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }

let b: BrokerProcess
const port: Record<string, number> = {}
const address = (listener: string) => `${b.host}:${port[listener]}`
const admin = () => ({ bootstrap: address('PLAINTEXT') })

/** The SCRAM exchange over SaslHandshake v1 and SaslAuthenticate v2; the last answer. */
async function scram(c: WireClient, user: string, password: string) {
  expect(await c.request(SaslHandshake, 1, { mechanism: M })).toMatchObject({ errorCode: 0 })
  const client = new ScramClient(M, user, password)
  const first = await c.request(SaslAuthenticate, 2, { authBytes: client.first() })
  if (first.errorCode !== 0) return first
  const last = await c.request(SaslAuthenticate, 2, { authBytes: client.final(first.authBytes) })
  if (last.errorCode === 0) client.verify(last.authBytes)
  return last
}
const connect = async (user: string, password: string) => {
  const c = await WireClient.connect(b.host, port.SASL_PLAINTEXT!)
  expect(await scram(c, user, password)).toMatchObject({ errorCode: 0, sessionLifetimeMs: LIFETIME_MS })
  return c
}
/** Waits out the session that began at `since` (the condition is the time itself). */
const expire = (since: number) => until('the session lifetime has passed', () => performance.now() - since > LIFETIME_MS + 50, { timeoutMs: 10_000, intervalMs: 50 })
const connLogs = (c: string) => b.logs.filter((r) => r.conn === c)
// The broker's log reaches us through its stdout, a little after the answers on the wire.
const connOf = (user: string) => until(`the broker logged ${user}'s authentication`, () => b.logs.find((r) => r.principal === `User:${user}` && r.msg === 'SASL authenticated')?.conn as string | undefined, { timeoutMs: 5_000, intervalMs: 10 })

beforeAll(async () => {
  const host = loopbackHost()
  b = new BrokerProcess({
    nodeId: 1,
    host,
    port: 0,
    dataDir: tempDir(),
    overrides: {
      listeners: `PLAINTEXT://${host}:0,SASL_PLAINTEXT://${host}:0`,
      'sasl.enabled.mechanisms': `${M},SCRAM-SHA-256`,
      'connections.max.reauth.ms': String(LIFETIME_MS),
      'connection.failed.authentication.delay.ms': '50',
    },
  })
  await b.start()
  for (const r of b.logs) if (r.msg === 'listening') port[r.listener as string] = r.port as number
  for (const u of ['alice', 'bob', 'carol', 'dave']) expect(await addUser(admin(), u, `${u}-secret`, [M])).toMatchObject({ errorCode: 0 })
  await until('the users are in the image', async () => (await listUsers(admin())).length === 4, { timeoutMs: 10_000 })
  const d = await createDriver('raw', { bootstrap: [address('PLAINTEXT')] })
  try {
    const a = await d.admin()
    await a.createTopics(['reauth-kafkajs', 'reauth-kcat'].map((name) => ({ name, partitions: 1, replicationFactor: 1 })))
    await a.close()
  } finally {
    await d.close()
  }
}, 60_000)

afterAll(async () => {
  await b?.stop().catch(() => b.kill())
  if (b) removeDir(b.dataDir)
})

describe('raw connections', () => {
  test('re-authenticating on the same connection keeps it working past the lifetime; pipelined requests are answered', async () => {
    const c = await connect('alice', 'alice-secret')
    const since = performance.now()
    const conn = await connOf('alice')
    expect((await c.request(Metadata, 12, METADATA)).brokers).toHaveLength(1)
    // A Metadata pipelined ahead of the re-authentication's SaslHandshake is answered first.
    const md = c.send(Metadata, 12, METADATA)
    const hs = c.send(SaslHandshake, 1, { mechanism: M })
    expect((await c.receive(Metadata, 12)).correlationId).toBe(md)
    expect(await c.receive(SaslHandshake, 1)).toMatchObject({ correlationId: hs, body: { errorCode: 0 } })
    const client = new ScramClient(M, 'alice', 'alice-secret')
    const first = await c.request(SaslAuthenticate, 2, { authBytes: client.first() })
    expect(await c.request(SaslAuthenticate, 2, { authBytes: client.final(first.authBytes) })).toMatchObject({ errorCode: 0, sessionLifetimeMs: LIFETIME_MS })
    const renewed = performance.now()
    expect(renewed - since).toBeLessThan(LIFETIME_MS)
    // Then once more after the renewed session has ended: a SaslHandshake is still welcome there.
    await expire(renewed)
    expect(await scram(c, 'alice', 'alice-secret')).toMatchObject({ errorCode: 0, sessionLifetimeMs: LIFETIME_MS })
    expect((await c.request(Metadata, 12, METADATA)).brokers).toHaveLength(1)
    expect(c.closed).toBe(false)
    await until('both re-authentications are logged', () => connLogs(conn).filter((r) => r.msg === 'SASL re-authenticated').length === 2, { timeoutMs: 5_000, intervalMs: 10 })
    c.close()
  })

  test('a connection that does not re-authenticate is closed at its first request after expiry, unanswered', async () => {
    const c = await connect('bob', 'bob-secret')
    const since = performance.now()
    const conn = await connOf('bob')
    expect((await c.request(Metadata, 12, METADATA)).brokers).toHaveLength(1)
    await expire(since)
    c.send(Metadata, 12, METADATA)
    expect(await c.nextFrame()).toBeNull()
    expect(await until('the close is logged', () => connLogs(conn).find((r) => r.msg === 'closing connection')?.reason, { timeoutMs: 5_000, intervalMs: 10 })).toBe('expired SASL session (connections.max.reauth.ms) at a Metadata request')
  })

  test('a deleted user cannot re-authenticate (closed after SASL_AUTHENTICATION_FAILED) nor connect again', async () => {
    const c = await connect('carol', 'carol-secret')
    expect(await deleteUser(admin(), 'carol', [M])).toMatchObject({ errorCode: 0 })
    await until('carol is gone from the image', async () => (await listUsers(admin())).every((u) => u.user !== 'carol'), { timeoutMs: 10_000 })
    expect(await scram(c, 'carol', 'carol-secret')).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: `Authentication failed during re-authentication due to invalid credentials with SASL mechanism ${M}`,
    })
    expect(await c.nextFrame()).toBeNull()
    const again = await WireClient.connect(b.host, port.SASL_PLAINTEXT!)
    expect(await scram(again, 'carol', 'carol-secret')).toMatchObject({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED })
    expect(await again.nextFrame()).toBeNull()
  })

  test('re-authenticating with another mechanism is UNSUPPORTED_SASL_MECHANISM and closes the connection', async () => {
    const c = await connect('dave', 'dave-secret')
    expect(await c.request(SaslHandshake, 1, { mechanism: 'SCRAM-SHA-256' })).toMatchObject({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM })
    expect(await c.nextFrame()).toBeNull()
  })

  test('re-authenticating as another user fails and closes the connection', async () => {
    const c = await connect('dave', 'dave-secret')
    expect(await scram(c, 'alice', 'alice-secret')).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: 'Cannot change principals during re-authentication from User.dave: User.alice',
    })
    expect(await c.nextFrame()).toBeNull()
  })
})

describe('clients across several lifetimes', () => {
  test('kafkajs re-authenticates in place and keeps producing, every send acknowledged and every record in the log', async () => {
    const topic = 'reauth-kafkajs'
    const driver = await createDriver('kafkajs', { bootstrap: [address('SASL_PLAINTEXT')], sasl: { mechanism: M, username: 'alice', password: 'alice-secret' } })
    const acked: string[] = []
    try {
      const producer = await driver.producer({ acks: -1 })
      const start = performance.now()
      for (let i = 0; performance.now() - start < 3 * LIFETIME_MS; i++) {
        const r = await new Promise<{ ok: boolean }>((resolve) => producer.send({ topic, partition: 0, records: [{ key: null, value: Buffer.from(`v${i}`) }] }, resolve))
        expect(r).toMatchObject({ ok: true })
        acked.push(`v${i}`)
      }
      await producer.close()
    } finally {
      await driver.close()
    }
    const { stdout } = await execa('kcat', ['-b', address('PLAINTEXT'), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'])
    expect(stdout.split('\n')).toEqual(acked)
    // kafkajs 2.2.4 re-authenticates in place (SaslAuthenticate v1 sessionLifetimeMs). Its reauthenticationThreshold
    // (10 s by default) exceeds this lifetime, so it does so before nearly every request; no session expires.
    const aliceConns = new Set(b.logs.filter((r) => r.principal === 'User:alice' && r.msg === 'SASL authenticated').map((r) => r.conn))
    const reauthenticated = b.logs.filter((r) => aliceConns.has(r.conn) && r.msg === 'SASL re-authenticated')
    expect(reauthenticated.length).toBeGreaterThan(3)
    expect(b.logs.filter((r) => aliceConns.has(r.conn) && r.msg === 'closing connection' && String(r.reason).startsWith('expired'))).toEqual([])
  }, 30_000)

  test('kcat (librdkafka 2.0.2, before KIP-368) does not re-authenticate: a consumer is closed at expiry and, with one broker, exits', async () => {
    const { stdout } = await execa('kcat', ['-V'])
    expect(stdout).toContain('librdkafka 2.0.2')
    // Its fetch long polls keep the connection busy; the first one after the lifetime meets the expired session.
    const p = execa('kcat', ['-b', address('SASL_PLAINTEXT'), '-X', 'security.protocol=sasl_plaintext', '-X', `sasl.mechanism=${M}`, '-X', 'sasl.username=bob', '-X', 'sasl.password=bob-secret', '-C', '-t', 'reauth-kcat', '-p', '0', '-o', 'beginning'], { reject: false, timeout: 20_000 })
    const r = await p
    expect(r.timedOut).toBe(false)
    expect(r.exitCode).not.toBe(0)
    expect(r.stderr).toMatch(/Disconnected \(after \d+ms in state UP\)[\s\S]*All broker connections are down/)
    const expiredFetch = () => {
      const bobConns = new Set(b.logs.filter((x) => x.principal === 'User:bob' && x.msg === 'SASL authenticated').map((x) => x.conn))
      return b.logs.some((x) => bobConns.has(x.conn) && x.msg === 'closing connection' && x.reason === 'expired SASL session (connections.max.reauth.ms) at a Fetch request')
    }
    await until('the broker logged closing the expired session at a Fetch', expiredFetch, { timeoutMs: 5_000, intervalMs: 10 })
    expect(b.logs.filter((x) => x.principal === 'User:bob' && x.msg === 'SASL re-authenticated')).toEqual([])
  }, 30_000)
})
