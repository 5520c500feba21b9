import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { SaslAuthenticate } from '../../../broker/protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../../../broker/protocol/messages/sasl-handshake.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import { ScramClient } from '../../../workloads/drivers/sasl.ts'
import { loopbackHost } from '../../helpers/broker-process.ts'
import { startInProcessBroker, WireClient, type InProcessBroker } from '../../helpers/wire.ts'

const JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
let b: InProcessBroker
let sasl: { host: string; port: number }
let plain: { host: string; port: number }

beforeAll(async () => {
  const host = loopbackHost()
  b = await startInProcessBroker({
    listeners: `SASL_PLAINTEXT://${host}:0,PLAINTEXT://${host}:0`,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
    'connection.failed.authentication.delay.ms': '0',
  })
  const l = (name: string) => b.broker.listeners.find((x) => x.name === name)!
  sasl = { host: l('SASL_PLAINTEXT').host, port: l('SASL_PLAINTEXT').port }
  plain = { host: l('PLAINTEXT').host, port: l('PLAINTEXT').port }
})
afterAll(async () => b.stop())

const connect = (to: { host: string; port: number }) => WireClient.connect(to.host, to.port)
const plainToken = Buffer.from('\u0000alice\u0000alice-secret')

describe('SaslHandshake', () => {
  test('v0 and v1 accept an enabled mechanism and list the enabled ones, after ApiVersions or without it', async () => {
    for (const v of [0, 1]) {
      const c = await connect(sasl)
      if (v === 1) expect((await c.request(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })).errorCode).toBe(0)
      expect(await c.request(SaslHandshake, v, { mechanism: 'SCRAM-SHA-256' })).toEqual({ errorCode: 0, mechanisms: ['PLAIN', 'SCRAM-SHA-256'] })
      c.close()
    }
  })

  test('a mechanism that is not enabled is UNSUPPORTED_SASL_MECHANISM, and the connection closes', async () => {
    const c = await connect(sasl)
    expect(await c.request(SaslHandshake, 1, { mechanism: 'SCRAM-SHA-512' })).toEqual({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['PLAIN', 'SCRAM-SHA-256'] })
    expect(await c.nextFrame()).toBeNull()
  })

  test('any other request before authentication closes the connection unanswered (before and after the handshake)', async () => {
    const before = await connect(sasl)
    before.send(Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    expect(await before.nextFrame()).toBeNull()
    const during = await connect(sasl)
    await during.request(SaslHandshake, 1, { mechanism: 'PLAIN' })
    during.send(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })
    expect(await during.nextFrame()).toBeNull()
    const early = await connect(sasl)
    early.send(SaslAuthenticate, 2, { authBytes: plainToken })
    expect(await early.nextFrame()).toBeNull()
  })

  test('before authentication a frame over sasl.server.max.receive.size closes the connection at its size prefix', async () => {
    const c = await connect(sasl)
    const prefix = Buffer.alloc(4)
    prefix.writeInt32BE(524_289)
    c.writeRaw(prefix)
    expect(await c.nextFrame()).toBeNull()
  })

  test('property: random tokens to PLAIN or at either SCRAM step are refused, never admitted, and the broker keeps serving', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now())
    console.log(`sasl token fuzz seed=${seed}`)
    const token = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.string({ maxLength: 120 }).map((t) => Buffer.from(t)),
      fc.constantFrom('n,,n=alice,r=', 'n,,n=alice,r=abc,', 'c=biws,r=x,p=', 'y,,n=alice,r=x', '\u0000alice\u0000', '\u0000\u0000\u0000', 'bob\u0000alice\u0000alice-secret').map((t) => Buffer.from(t)),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('PLAIN', 'SCRAM-SHA-256'), fc.boolean(), token, async (mechanism, second, t) => {
        const c = await connect(sasl)
        await c.request(SaslHandshake, 1, { mechanism })
        const scramFinal = second && mechanism !== 'PLAIN'
        if (scramFinal) expect((await c.request(SaslAuthenticate, 2, { authBytes: new ScramClient('sha256', 'alice', 'x').first() })).errorCode).toBe(0)
        c.send(SaslAuthenticate, 2, { authBytes: t })
        // Pipelined behind the token: answered only if the token admitted us.
        c.send(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })
        const frames: Buffer[] = []
        for (let f = await c.nextFrame(); f !== null; f = await c.nextFrame()) frames.push(f)
        expect(frames.length).toBeLessThanOrEqual(1)
        if (frames.length === 1) {
          const r = new Reader(frames[0]!)
          r.int32()
          r.uvarint()
          const res = SaslAuthenticate.response.decode(2, r)
          // Either refused, or a SCRAM server-first message (the token was a valid client-first): never admitted.
          if (res.errorCode === 0) expect([mechanism, scramFinal, res.authBytes.toString().startsWith('r=')]).toEqual(['SCRAM-SHA-256', false, true])
          else expect([ErrorCode.SASL_AUTHENTICATION_FAILED]).toContain(res.errorCode)
        }
      }),
      { seed, numRuns: 60 },
    )
    const ok = await connect(sasl)
    expect((await ok.request(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })).errorCode).toBe(0)
    ok.close()
  })

  test('v0: the tokens that follow are raw int32-framed bytes; then requests are served', async () => {
    const c = await connect(sasl)
    await c.request(SaslHandshake, 0, { mechanism: 'PLAIN' })
    const frame = Buffer.alloc(4 + plainToken.length)
    frame.writeInt32BE(plainToken.length)
    plainToken.copy(frame, 4)
    c.writeRaw(frame)
    // PLAIN's answer is an empty token: a frame of size 0.
    expect(await c.nextFrame()).toEqual(Buffer.alloc(0))
    const md = await c.request(Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    expect(md.brokers.length).toBe(1)
    c.close()
  })

  test('v0 with a wrong password: the connection closes without an answer', async () => {
    const c = await connect(sasl)
    await c.request(SaslHandshake, 0, { mechanism: 'PLAIN' })
    const bad = Buffer.from('\u0000alice\u0000nope')
    const frame = Buffer.alloc(4 + bad.length)
    frame.writeInt32BE(bad.length)
    bad.copy(frame, 4)
    c.writeRaw(frame)
    expect(await c.nextFrame()).toBeNull()
  })

  test('after authentication, and on a PLAINTEXT listener: ILLEGAL_SASL_STATE, the connection stays open', async () => {
    const c = await connect(sasl)
    await c.request(SaslHandshake, 1, { mechanism: 'PLAIN' })
    expect((await c.request(SaslAuthenticate, 1, { authBytes: plainToken })).errorCode).toBe(0)
    expect(await c.request(SaslHandshake, 1, { mechanism: 'PLAIN' })).toEqual({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: ['PLAIN', 'SCRAM-SHA-256'] })
    expect((await c.request(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })).errorCode).toBe(0)
    c.close()
    const p = await connect(plain)
    expect(await p.request(SaslHandshake, 1, { mechanism: 'PLAIN' })).toEqual({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] })
    expect((await p.request(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })).errorCode).toBe(0)
    p.close()
  })
})
