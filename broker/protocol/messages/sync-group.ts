// SyncGroup (key 14): v0-5. v1 adds throttleTimeMs; v2 is v1 (responses before throttling); v3 adds
// groupInstanceId (KIP-345); v4 is flexible; v5 adds protocolType and protocolName both ways (KIP-559). Only the leader sends assignments; every member gets its own.

import { api, f } from '../schema.ts'

export const SyncGroup = api({
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 4,
  request: {
    groupId: f.string(),
    generationId: f.int32(),
    memberId: f.string(),
    groupInstanceId: f.string({ versions: '3+', nullableVersions: '3+', default: null }),
    protocolType: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
    protocolName: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
    assignments: f.array({
      memberId: f.string(),
      assignment: f.bytes(),
    }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    errorCode: f.int16(),
    protocolType: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
    protocolName: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
    assignment: f.bytes(),
  },
})
