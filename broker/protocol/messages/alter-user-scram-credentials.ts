// AlterUserScramCredentials (key 51): v0, flexible (KIP-554). The client sends the salted password
// (Hi(password, salt, iterations)); the broker derives StoredKey and ServerKey from it. Mechanism 1 is
// SCRAM-SHA-256, 2 SCRAM-SHA-512.

import { api, f } from '../schema.ts'

export const AlterUserScramCredentials = api({
  key: 51,
  name: 'AlterUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: {
    deletions: f.array({ name: f.string(), mechanism: f.int8() }),
    upsertions: f.array({
      name: f.string(),
      mechanism: f.int8(),
      iterations: f.int32(),
      salt: f.bytes(),
      saltedPassword: f.bytes(),
    }),
  },
  response: {
    throttleTimeMs: f.int32(),
    results: f.array({
      user: f.string(),
      errorCode: f.int16(),
      errorMessage: f.string({ nullableVersions: '0+' }),
    }),
  },
})
