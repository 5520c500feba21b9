// SSL listeners on real broker processes with real clients: kcat (librdkafka) and kafkajs over TLS, client
// certificates (ssl.client.auth=required refuses a client without one; the principal is the subject's DN),
// a plaintext client and TLS garbage on a TLS port (the connection fails, the broker keeps serving), and
// listener configs that cannot be served (startup error naming the key, never plaintext).
import { execa } from 'execa'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { BrokerProcess } from '../../chaos/cluster/broker-process.ts'
import { makeCerts, type CertFiles } from '../../chaos/cluster/certs.ts'
import { ApiVersions } from '../../broker/protocol/messages/api-versions.ts'
import { loopbackHost, removeDir, tempDir } from '../helpers/broker-process.ts'
import { WireClient } from '../helpers/wire.ts'

let dir: string
let certs: CertFiles
const brokers: BrokerProcess[] = []

function sslBroker(overrides: Record<string, string>, logLevel?: 'debug'): BrokerProcess {
  const host = loopbackHost()
  const b = new BrokerProcess({
    nodeId: 1,
    host,
    port: 0,
    dataDir: tempDir(),
    logLevel,
    overrides: {
      listeners: `SSL://${host}:0`,
      'security.inter.broker.protocol': 'SSL',
      'ssl.keystore.location': certs.entries['broker-1']!.keystore,
      'ssl.truststore.location': certs.ca,
      ...overrides,
    },
  })
  brokers.push(b)
  return b
}

const kcatSsl = (b: BrokerProcess, ...extra: string[]) => ['-b', b.bootstrap, '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.ca}`, ...extra]
const withCert = (name: string) => ['-X', `ssl.certificate.location=${certs.entries[name]!.cert}`, '-X', `ssl.key.location=${certs.entries[name]!.key}`]

beforeAll(() => {
  dir = tempDir('faultline-certs-')
  certs = makeCerts({ dir, brokers: 1, clients: ['alice'] })
})
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop().catch(() => b.kill())))
  for (const b of brokers) removeDir(b.dataDir)
  removeDir(dir)
})

describe('SSL listener, no client certificates', () => {
  let b: BrokerProcess
  beforeAll(async () => {
    b = sslBroker({})
    await b.start()
  })

  test('kcat produces and consumes over TLS', async () => {
    await execa('kcat', [...kcatSsl(b), '-P', '-t', 'tls', '-p', '0', '-X', 'topic.request.required.acks=-1'], { input: 'one\ntwo\nthree\n' })
    const { stdout } = await execa('kcat', [...kcatSsl(b), '-C', '-t', 'tls', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o %s\n'])
    expect(stdout.split('\n')).toEqual(['0 one', '1 two', '2 three'])
  })

  test('kafkajs produces over TLS, with TLS 1.2 and with TLS 1.3', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const kafka = new Kafka({ clientId: 'tls', brokers: [b.bootstrap], ssl: { ca: [readFileSync(certs.ca)], minVersion: version, maxVersion: version }, logLevel: logLevel.NOTHING })
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic: 'tls-kafkajs', acks: -1, messages: [{ value: version }] })
      await producer.disconnect()
    }
    const admin = new Kafka({ clientId: 'tls', brokers: [b.bootstrap], ssl: { ca: [readFileSync(certs.ca)] }, logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    const offsets = await admin.fetchTopicOffsets('tls-kafkajs')
    await admin.disconnect()
    expect(offsets.map((o) => o.high)).toEqual(['2'])
  })

  test('a plaintext client on the TLS port fails, TLS garbage and cut handshakes never take the broker down (property)', async () => {
    const plain = await execa('kcat', ['-b', b.bootstrap, '-L', '-m', '3'], { reject: false })
    expect(plain.exitCode).not.toBe(0)
    const seed = Number(process.env.FC_SEED ?? Date.now())
    console.log(`tls garbage seed=${seed}`)
    // A ClientHello's record header followed by junk, or plain junk; the socket is cut after writing it.
    const hello = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 200 })).map(([len, body]) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, len >> 8, len & 0xff, 0x01]), Buffer.from(body)]))
    await fc.assert(
      fc.asyncProperty(fc.oneof(hello, fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a))), async (bytes) => {
        await new Promise<void>((resolve) => {
          const s = connect({ host: b.host, port: b.port }, () => s.end(bytes))
          s.on('error', () => resolve())
          s.on('close', () => resolve())
          s.resume()
        })
      }),
      { seed, numRuns: 40 },
    )
    const c = await WireClient.connectTls(b.host, b.port, { ca: readFileSync(certs.ca) })
    const res = await c.request(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })
    c.close()
    expect(res.errorCode).toBe(0)
    expect(b.running).toBe(true)
  })
})

describe('SSL listener with ssl.client.auth=required', () => {
  let b: BrokerProcess
  beforeAll(async () => {
    b = sslBroker({ 'ssl.client.auth': 'required' }, 'debug')
    await b.start()
  })

  test('kcat with a client certificate is served, with the subject DN as its principal', async () => {
    await execa('kcat', [...kcatSsl(b, ...withCert('client-alice')), '-P', '-t', 'mtls', '-p', '0'], { input: 'hello\n' })
    const { stdout } = await execa('kcat', [...kcatSsl(b, ...withCert('client-alice')), '-C', '-t', 'mtls', '-p', '0', '-o', 'beginning', '-e', '-q'])
    expect(stdout).toBe('hello')
    expect(b.logs.some((r) => r.msg === 'TLS connection' && r.principal === 'User:CN=alice,OU=clients,O=faultline')).toBe(true)
  })

  test('kcat without a client certificate is refused', async () => {
    const r = await execa('kcat', [...kcatSsl(b), '-L', '-m', '3'], { reject: false })
    expect(r.exitCode).not.toBe(0)
    expect(b.logs.some((rec) => rec.msg === 'TLS handshake failed; connection closed' && String(rec.err).includes('certificate'))).toBe(true)
    expect(b.running).toBe(true)
  })
})

describe('SSL listener with ssl.client.auth=requested', () => {
  let b: BrokerProcess
  let other: CertFiles
  beforeAll(async () => {
    other = makeCerts({ dir: join(dir, 'other-ca'), brokers: 0, clients: ['mallory'] })
    b = sslBroker({ 'ssl.client.auth': 'requested' }, 'debug')
    await b.start()
  })

  test('a client without a certificate is served as User:ANONYMOUS; one from another CA is refused', async () => {
    await execa('kcat', [...kcatSsl(b), '-L', '-m', '10'])
    expect(b.logs.some((r) => r.msg === 'TLS connection' && r.principal === 'User:ANONYMOUS')).toBe(true)
    const mallory = ['-X', `ssl.certificate.location=${other.entries['client-mallory']!.cert}`, '-X', `ssl.key.location=${other.entries['client-mallory']!.key}`]
    const r = await execa('kcat', [...kcatSsl(b, ...mallory), '-L', '-m', '3'], { reject: false })
    expect(r.exitCode).not.toBe(0)
    expect(b.logs.some((rec) => rec.msg === 'client certificate not trusted; connection closed')).toBe(true)
    expect(b.logs.some((rec) => rec.msg === 'TLS connection' && String(rec.principal).includes('mallory'))).toBe(false)
  })
})

describe('listener configs that cannot be served stop the start, naming the key', () => {
  const startError = async (overrides: Record<string, string>) => {
    const b = sslBroker(overrides)
    const err = await b.start().then(
      () => null,
      (e: Error) => e.message,
    )
    expect(err).toMatch(/exited with code 2/)
    return err!
  }

  test('an unknown protocol, a listener missing from the map, a missing key file, SASL without a mechanism', async () => {
    const errors = await Promise.all([
      startError({ 'listener.security.protocol.map': 'SSL:TLS' }),
      startError({ 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT' }),
      startError({ 'ssl.keystore.location': join(dir, 'missing.pem') }),
      startError({ 'listener.name.ssl.ssl.keystore.location': certs.ca }),
      startError({ 'listener.security.protocol.map': 'SSL:SASL_SSL' }),
    ])
    expect(errors[0]).toMatch(/listener.security.protocol.map: unknown security protocol "TLS"/)
    expect(errors[1]).toMatch(/listener SSL has no entry in listener.security.protocol.map/)
    expect(errors[2]).toMatch(/ssl.keystore.location=.*missing.pem: cannot read the file \(ENOENT\)/)
    expect(errors[3]).toMatch(/listener.name.ssl.ssl.keystore.location=.*: no PEM private key/)
    expect(errors[4]).toMatch(/GSSAPI is Kafka's default: set sasl.enabled.mechanisms/)
  })
})
