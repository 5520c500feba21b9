// ListOffsets (key 2): v0-9. v0 asks for up to maxNumOffsets offsets and gets them newest first in
// oldStyleOffsets; v1 returns one offset and its timestamp instead; v2 adds isolationLevel and throttleTimeMs; v3 answers before
// throttling; v4 adds currentLeaderEpoch in and leaderEpoch out (KIP-320); v5 may return
// OFFSET_NOT_AVAILABLE; v6 is flexible; v7 accepts timestamp -3, the record with the largest timestamp
// (KIP-734); v8 accepts -4, the local log start (KIP-405); v9 accepts -5, the last tiered offset (KIP-1005).
// timeoutMs (v10, after Kafka 3.9) is transcribed and absent here.

import { api, f } from '../schema.ts'

export const ListOffsets = api({
  key: 2,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 9,
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
