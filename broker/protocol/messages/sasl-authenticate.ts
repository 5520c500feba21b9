// SaslAuthenticate (key 36): v0-2. v1 adds sessionLifetimeMs (KIP-368; 0 means no re-authentication);
// v2 is flexible.

import { api, f } from '../schema.ts'

export const SaslAuthenticate = api({
  key: 36,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: {
    authBytes: f.bytes(),
  },
  response: {
    errorCode: f.int16(),
    errorMessage: f.string({ nullableVersions: '0+' }),
    authBytes: f.bytes(),
    sessionLifetimeMs: f.int64({ versions: '1+', default: 0 }),
  },
})
