// OffsetForLeaderEpoch (key 23): v0-4. v1 adds the leader epoch to the response; v2 adds currentLeaderEpoch
// for fencing (KIP-320) and throttleTimeMs; v3 adds replicaId (followers send their id; the default -2
// is a debug consumer that may see past the high watermark, -1 a consumer); v4 is flexible.

import { api, f } from '../schema.ts'

export const OffsetForLeaderEpoch = api({
  key: 23,
  name: 'OffsetForLeaderEpoch',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: {
    replicaId: f.int32({ versions: '3+', default: -2 }),
    topics: f.array({
      topic: f.string(),
      partitions: f.array({
        partition: f.int32(),
        currentLeaderEpoch: f.int32({ versions: '2+', default: -1 }),
        leaderEpoch: f.int32(),
      }),
    }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '2+' }),
    topics: f.array({
      topic: f.string(),
      partitions: f.array({
        errorCode: f.int16(),
        partition: f.int32(),
        leaderEpoch: f.int32({ versions: '1+', default: -1 }),
        endOffset: f.int64({ default: -1 }),
      }),
    }),
  },
})
