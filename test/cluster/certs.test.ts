// `faultline certs` as a user runs it: certificates that chain to the CA with the right names and uses, a
// keystore a broker can load, a CA kept across runs, and bad flags refused with exit 2.
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { removeDir, tempDir } from '../helpers/broker-process.ts'
import { cli } from '../e2e/cli.ts'

const dir = tempDir('faultline-certs-')
afterAll(() => removeDir(dir))

test('makes a CA, broker and client certificates; a second run keeps the CA', async () => {
  const run = await cli(['certs', dir, '--brokers', '1', '--clients', 'alice'])
  expect(run.code).toBe(0)
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.pem')))
  const broker = new X509Certificate(readFileSync(join(dir, 'broker-1.crt')))
  const alice = new X509Certificate(readFileSync(join(dir, 'client-alice.crt')))
  expect(broker.verify(ca.publicKey) && alice.verify(ca.publicKey)).toBe(true)
  expect([broker.checkIP('127.0.0.1'), broker.checkIP('127.0.0.254'), broker.checkHost('localhost')]).toEqual(['127.0.0.1', '127.0.0.254', 'localhost'])
  expect(alice.subject).toBe('O=faultline\nOU=clients\nCN=alice')
  expect(readFileSync(join(dir, 'broker-1.pem'), 'utf8')).toMatch(/PRIVATE KEY[\s\S]*CERTIFICATE[\s\S]*CERTIFICATE/)

  expect((await cli(['certs', dir, '--brokers', '0', '--clients', 'bob'])).code).toBe(0)
  expect(new X509Certificate(readFileSync(join(dir, 'ca.pem'))).fingerprint256).toBe(ca.fingerprint256)
  expect(new X509Certificate(readFileSync(join(dir, 'client-bob.crt'))).verify(ca.publicKey)).toBe(true)
})

test('bad flags exit 2 naming the flag', async () => {
  const brokers = await cli(['certs', dir, '--brokers', 'three'])
  expect([brokers.code, brokers.stderr]).toEqual([2, expect.stringMatching(/--brokers three/)])
  const clients = await cli(['certs', dir, '--clients', 'a b'])
  expect([clients.code, clients.stderr]).toEqual([2, expect.stringMatching(/--clients: "a b"/)])
})
