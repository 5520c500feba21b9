// TxnOffsetCommit (key 28): v0-3. v1 is v0 (responses before throttling); v2 adds committedLeaderEpoch;
// v3 is flexible and adds generationId, memberId and groupInstanceId so the coordinator can fence zombie
// group members (KIP-447).

import { api, f } from '../schema.ts'

export const TxnOffsetCommit = api({
  key: 28,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  request: {
    transactionalId: f.string(),
    groupId: f.string(),
    producerId: f.int64(),
    producerEpoch: f.int16(),
    generationId: f.int32({ versions: '3+', default: -1 }),
    memberId: f.string({ versions: '3+', default: '' }),
    groupInstanceId: f.string({ versions: '3+', nullableVersions: '3+', default: null }),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        committedOffset: f.int64(),
        committedLeaderEpoch: f.int32({ versions: '2+', default: -1 }),
        committedMetadata: f.string({ nullableVersions: '0+' }),
      }),
    }),
  },
  response: {
    throttleTimeMs: f.int32(),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        errorCode: f.int16(),
      }),
    }),
  },
})
