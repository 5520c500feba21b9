import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { AlterUserScramCredentials } from '../../../broker/protocol/messages/alter-user-scram-credentials.ts'
import { credentialFromSalted } from '../../../broker/sasl/scram.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
})
afterAll(async () => b.stop())

const upsert = (name: string, mechanism = 1, iterations = 4096, password = 'pw') => {
  const salt = randomBytes(16)
  return { name, mechanism, iterations, salt, saltedPassword: pbkdf2Sync(password, salt, iterations, mechanism === 2 ? 64 : 32, mechanism === 2 ? 'sha512' : 'sha256') }
}
const alter = (deletions: { name: string; mechanism: number }[], upsertions: ReturnType<typeof upsert>[]) => c.request(AlterUserScramCredentials, 0, { deletions, upsertions })

describe('AlterUserScramCredentials', () => {
  test('upserts store salt, StoredKey, ServerKey and iterations in the metadata image, never the salted password', async () => {
    const u = upsert('alice', 2, 8192)
    expect((await alter([], [u, upsert('alice', 1)])).results).toEqual([{ user: 'alice', errorCode: 0, errorMessage: null }])
    const stored = b.broker.image.scramUsers().get('alice')!
    expect(stored.map((x) => [x.mechanism, x.iterations])).toEqual([
      [1, 4096],
      [2, 8192],
    ])
    expect(b.broker.image.scramCredential('alice', 'SCRAM-SHA-512')).toEqual(credentialFromSalted('SCRAM-SHA-512', u.saltedPassword, u.salt, 8192))
    expect(JSON.stringify(b.broker.image.toSnapshot().toString())).not.toContain(u.saltedPassword.toString('base64'))
  })

  test('deletes one mechanism; deleting what does not exist is RESOURCE_NOT_FOUND and changes nothing for that user', async () => {
    await alter([], [upsert('carol', 1), upsert('carol', 2)])
    expect((await alter([{ name: 'carol', mechanism: 1 }], [])).results).toEqual([{ user: 'carol', errorCode: 0, errorMessage: null }])
    expect(b.broker.image.scramUsers().get('carol')!.map((x) => x.mechanism)).toEqual([2])
    const r = await alter([{ name: 'carol', mechanism: 1 }], [upsert('carol', 2, 5000)])
    expect(r.results).toEqual([{ user: 'carol', errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to delete a user credential that does not exist' }])
    expect(b.broker.image.scramUsers().get('carol')!.map((x) => [x.mechanism, x.iterations])).toEqual([[2, 4096]])
    await alter([{ name: 'carol', mechanism: 2 }], [])
    expect(b.broker.image.scramUsers().has('carol')).toBe(false)
  })

  test('refusals per user, all or nothing, the others go through', async () => {
    const r = await alter(
      [{ name: 'dup', mechanism: 1 }],
      [upsert('dup', 1), upsert('few', 1, 1000), upsert('many', 1, 20000), upsert('mech', 3), upsert('', 1), upsert('fine', 2), { ...upsert('nosalt', 1), salt: Buffer.alloc(0) }],
    )
    expect(r.results).toEqual([
      { user: 'dup', errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: 'A user credential cannot be altered twice in the same request' },
      { user: 'few', errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too few iterations (at least 4096)' },
      { user: 'many', errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too many iterations (at most 16384)' },
      { user: 'mech', errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, errorMessage: 'Unknown SCRAM mechanism' },
      { user: '', errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Username must not be empty' },
      { user: 'fine', errorCode: 0, errorMessage: null },
      { user: 'nosalt', errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Salt and salted password must not be empty' },
    ])
    expect([...b.broker.image.scramUsers().keys()].sort()).toEqual(['alice', 'fine'])
  })

  test('credentials survive a restart (metadata log replay)', async () => {
    const before = b.broker.image.scramCredential('alice', 'SCRAM-SHA-512')
    const dataDir = b.dataDir
    await b.stop()
    b = await startInProcessBroker({}, { dataDir })
    c = await b.client()
    expect(b.broker.image.scramCredential('alice', 'SCRAM-SHA-512')).toEqual(before)
  })
})
