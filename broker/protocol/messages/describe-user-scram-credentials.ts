// DescribeUserScramCredentials (key 50): v0, flexible (KIP-554). users null describes every user.

import { api, f } from '../schema.ts'

export const DescribeUserScramCredentials = api({
  key: 50,
  name: 'DescribeUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: {
    users: f.array({ name: f.string() }, { nullableVersions: '0+' }),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
    errorMessage: f.string({ nullableVersions: '0+' }),
    results: f.array({
      user: f.string(),
      errorCode: f.int16(),
      errorMessage: f.string({ nullableVersions: '0+' }),
      credentialInfos: f.array({
        mechanism: f.int8(),
        iterations: f.int32(),
      }),
    }),
  },
})
