// Heartbeat (key 12): v0-4. v1 adds throttleTimeMs; v2 is v1 (responses before throttling); v3 adds
// groupInstanceId (KIP-345); v4 is flexible.

import { api, f } from '../schema.ts'

export const Heartbeat = api({
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: {
    groupId: f.string(),
    generationId: f.int32(),
    memberId: f.string(),
    groupInstanceId: f.string({ versions: '3+', nullableVersions: '3+', default: null }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    errorCode: f.int16(),
  },
})
