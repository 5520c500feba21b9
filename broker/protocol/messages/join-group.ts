// JoinGroup (key 11): v0-9. v1 adds rebalanceTimeoutMs; v2 adds throttleTimeMs to the response; v3 is v2
// (responses before throttling); v4 makes a new member rejoin with the member id handed back in a
// MEMBER_ID_REQUIRED error; v5 adds groupInstanceId (static membership, KIP-345); v6 is flexible; v7
// returns protocolType and makes protocolName nullable (KIP-559); v8 adds the member's reason (KIP-800); v9
// adds skipAssignment to the response (KIP-848: always false for a classic group).

import { api, f } from '../schema.ts'

export const JoinGroup = api({
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 6,
  request: {
    groupId: f.string(),
    sessionTimeoutMs: f.int32(),
    // Absent in v0: the coordinator uses sessionTimeoutMs instead.
    rebalanceTimeoutMs: f.int32({ versions: '1+', default: -1 }),
    memberId: f.string(),
    groupInstanceId: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
    protocolType: f.string(),
    protocols: f.array({
      name: f.string(),
      metadata: f.bytes(),
    }),
    reason: f.string({ versions: '8+', nullableVersions: '8+', default: null }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '2+' }),
    errorCode: f.int16(),
    generationId: f.int32({ default: -1 }),
    protocolType: f.string({ versions: '7+', nullableVersions: '7+', default: null }),
    protocolName: f.string({ nullableVersions: '7+' }),
    leader: f.string(),
    skipAssignment: f.bool({ versions: '9+', default: false }),
    memberId: f.string(),
    members: f.array({
      memberId: f.string(),
      groupInstanceId: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
      metadata: f.bytes(),
    }),
  },
})
