import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createLogger } from '../../../broker/logger.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { AlterUserScramCredentials } from '../../../broker/protocol/messages/alter-user-scram-credentials.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { SaslAuthenticate } from '../../../broker/protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../../../broker/protocol/messages/sasl-handshake.ts'
import { ScramClient } from '../../../workloads/drivers/sasl.ts'
import { loopbackHost } from '../../helpers/broker-process.ts'
import { startInProcessBroker, WireClient, type InProcessBroker } from '../../helpers/wire.ts'

const JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
const DELAY_MS = 300
let b: InProcessBroker
let sasl: { host: string; port: number }
let plain: { host: string; port: number }
const logs: Record<string, unknown>[] = []

beforeAll(async () => {
  const host = loopbackHost()
  b = await startInProcessBroker(
    {
      listeners: `SASL_PLAINTEXT://${host}:0,PLAINTEXT://${host}:0`,
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
      'connection.failed.authentication.delay.ms': String(DELAY_MS),
    },
    { logger: createLogger({ level: 'info', write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) }) },
  )
  const l = (name: string) => b.broker.listeners.find((x) => x.name === name)!
  sasl = { host: l('SASL_PLAINTEXT').host, port: l('SASL_PLAINTEXT').port }
  plain = { host: l('PLAINTEXT').host, port: l('PLAINTEXT').port }
  const admin = await WireClient.connect(plain.host, plain.port)
  const upsertions = [
    { m: 1, hash: 'sha256', len: 32 },
    { m: 2, hash: 'sha512', len: 64 },
  ].map(({ m, hash, len }) => {
    const salt = randomBytes(16)
    return { name: 'bob', mechanism: m, iterations: 4096, salt, saltedPassword: pbkdf2Sync('bob-secret', salt, 4096, len, hash) }
  })
  const r = await admin.request(AlterUserScramCredentials, 0, { deletions: [], upsertions })
  expect(r.results).toEqual([{ user: 'bob', errorCode: 0, errorMessage: null }])
  admin.close()
})
afterAll(async () => b.stop())

async function handshake(mechanism: string): Promise<WireClient> {
  const c = await WireClient.connect(sasl.host, sasl.port)
  expect((await c.request(SaslHandshake, 1, { mechanism })).errorCode).toBe(0)
  return c
}
const metadata = (c: WireClient) => c.request(Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
const principalOf = (user: string) => logs.some((r) => r.msg === 'SASL authenticated' && r.principal === `User:${user}`)

describe('SaslAuthenticate', () => {
  test('PLAIN in v0, v1 and v2: admitted as User:alice, then any request is served', async () => {
    for (const v of [0, 1, 2]) {
      const c = await handshake('PLAIN')
      const res = await c.request(SaslAuthenticate, v, { authBytes: Buffer.from('\u0000alice\u0000alice-secret') })
      expect(res).toEqual({ errorCode: 0, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 })
      expect((await metadata(c)).brokers.length).toBe(1)
      c.close()
    }
    expect(principalOf('alice')).toBe(true)
  })

  test.each([
    ['SCRAM-SHA-256', 'sha256'],
    ['SCRAM-SHA-512', 'sha512'],
  ] as const)('%s: the full exchange with credentials from AlterUserScramCredentials', async (mechanism, hash) => {
    const c = await handshake(mechanism)
    const client = new ScramClient(hash, 'bob', 'bob-secret')
    const first = await c.request(SaslAuthenticate, 2, { authBytes: client.first() })
    expect(first.errorCode).toBe(0)
    const final = await c.request(SaslAuthenticate, 2, { authBytes: client.next(first.authBytes)! })
    expect(final.errorCode).toBe(0)
    // The client checks the server's signature: the broker knows the credential.
    expect(client.next(final.authBytes)).toBeNull()
    expect((await metadata(c)).brokers.length).toBe(1)
    expect(principalOf('bob')).toBe(true)
    c.close()
  })

  test('a wrong password: SASL_AUTHENTICATION_FAILED with a message, not before connection.failed.authentication.delay.ms, then the connection closes', async () => {
    const plainC = await handshake('PLAIN')
    let sent = performance.now()
    const p = await plainC.request(SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000alice\u0000wrong') })
    // A lower bound only: the broker holds the answer back at least this long.
    expect(performance.now() - sent).toBeGreaterThanOrEqual(DELAY_MS - 5)
    expect(p).toMatchObject({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed: Invalid username or password' })
    expect(await plainC.nextFrame()).toBeNull()

    const scram = await handshake('SCRAM-SHA-256')
    const client = new ScramClient('sha256', 'bob', 'not-bob-secret')
    const first = await scram.request(SaslAuthenticate, 1, { authBytes: client.first() })
    sent = performance.now()
    const final = await scram.request(SaslAuthenticate, 1, { authBytes: client.next(first.authBytes)! })
    expect(performance.now() - sent).toBeGreaterThanOrEqual(DELAY_MS - 5)
    expect(final).toMatchObject({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256' })
    expect(await scram.nextFrame()).toBeNull()
    expect(logs.filter((r) => r.msg === 'SASL authentication failed').length).toBeGreaterThanOrEqual(2)
  })

  test('an unknown SCRAM user gets the same answer as a wrong password', async () => {
    const c = await handshake('SCRAM-SHA-512')
    const client = new ScramClient('sha512', 'nobody', 'x')
    const first = await c.request(SaslAuthenticate, 2, { authBytes: client.first() })
    expect(first.errorCode).toBe(0)
    const final = await c.request(SaslAuthenticate, 2, { authBytes: client.next(first.authBytes)! })
    expect(final).toMatchObject({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512' })
    expect(await c.nextFrame()).toBeNull()
  })

  test('on a PLAINTEXT listener and after authentication: ILLEGAL_SASL_STATE', async () => {
    const p = await WireClient.connect(plain.host, plain.port)
    expect(await p.request(SaslAuthenticate, 2, { authBytes: Buffer.alloc(0) })).toMatchObject({ errorCode: ErrorCode.ILLEGAL_SASL_STATE })
    p.close()
    const c = await handshake('PLAIN')
    await c.request(SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000alice\u0000alice-secret') })
    expect(await c.request(SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000alice\u0000alice-secret') })).toMatchObject({
      errorCode: ErrorCode.ILLEGAL_SASL_STATE,
      errorMessage: 'SaslAuthenticate request received after successful authentication',
    })
    c.close()
  })
})
