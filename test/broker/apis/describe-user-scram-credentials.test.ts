import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { AlterUserScramCredentials } from '../../../broker/protocol/messages/alter-user-scram-credentials.ts'
import { DescribeUserScramCredentials } from '../../../broker/protocol/messages/describe-user-scram-credentials.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  const salt = randomBytes(16)
  const up = (name: string, mechanism: number, iterations: number) => ({
    name,
    mechanism,
    iterations,
    salt,
    saltedPassword: pbkdf2Sync('pw', salt, iterations, mechanism === 2 ? 64 : 32, mechanism === 2 ? 'sha512' : 'sha256'),
  })
  await c.request(AlterUserScramCredentials, 0, { deletions: [], upsertions: [up('zed', 1, 4096), up('amy', 2, 5000), up('amy', 1, 4096)] })
})
afterAll(async () => b.stop())

describe('DescribeUserScramCredentials', () => {
  test('null or empty: every user, by name, with mechanisms and iterations only', async () => {
    for (const users of [null, []]) {
      const r = await c.request(DescribeUserScramCredentials, 0, { users })
      expect(r).toEqual({
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        results: [
          { user: 'amy', errorCode: 0, errorMessage: null, credentialInfos: [{ mechanism: 1, iterations: 4096 }, { mechanism: 2, iterations: 5000 }] },
          { user: 'zed', errorCode: 0, errorMessage: null, credentialInfos: [{ mechanism: 1, iterations: 4096 }] },
        ],
      })
    }
  })

  test('named users: unknown is RESOURCE_NOT_FOUND, named twice DUPLICATE_RESOURCE', async () => {
    const r = await c.request(DescribeUserScramCredentials, 0, { users: [{ name: 'zed' }, { name: 'nobody' }, { name: 'amy' }, { name: 'amy' }] })
    expect(r.results).toEqual([
      { user: 'zed', errorCode: 0, errorMessage: null, credentialInfos: [{ mechanism: 1, iterations: 4096 }] },
      { user: 'nobody', errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to describe a user credential that does not exist', credentialInfos: [] },
      { user: 'amy', errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request', credentialInfos: [] },
    ])
  })
})
