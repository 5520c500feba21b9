// ListOffsets (key 2): v1-7. v1 returns one offset and its timestamp instead of v0's offset list (the v0-only
// fields are transcribed but never present); v2 adds isolationLevel and throttleTimeMs; v3 answers before
// throttling; v4 adds currentLeaderEpoch in and leaderEpoch out (KIP-320); v5 may return
// OFFSET_NOT_AVAILABLE; v6 is flexible; v7 accepts timestamp -3, the record with the largest timestamp
// (KIP-734). Fields of v8+ (timeoutMs) are transcribed and absent here.

import { api, f } from '../schema.ts'

export const ListOffsets = api({
  key: 2,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 7,
  flexibleFrom: 6,
  request: {
    replicaId: f.int32(),
    isolationLevel: f.int8({ versions: '2+' }),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        currentLeaderEpoch: f.int32({ versions: '4+', default: -1 }),
        timestamp: f.int64(),
        maxNumOffsets: f.int32({ versions: '0', default: 1 }),
      }),
    }),
    timeoutMs: f.int32({ versions: '10+' }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '2+' }),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        errorCode: f.int16(),
        oldStyleOffsets: f.array(f.int64(), { versions: '0' }),
        timestamp: f.int64({ versions: '1+', default: -1 }),
        offset: f.int64({ versions: '1+', default: -1 }),
        leaderEpoch: f.int32({ versions: '4+', default: -1 }),
      }),
    }),
  },
})
