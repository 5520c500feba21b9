// OffsetCommit (key 8): v2-9. v2 carries retentionTimeMs (v0-1, with ZooKeeper offsets and per-partition
// commit timestamps, are not served); v3 adds throttleTimeMs; v4 is v3 (responses before throttling); v5
// drops retentionTimeMs (a broker setting since); v6 adds committedLeaderEpoch; v7 adds groupInstanceId
// (KIP-345); v8 is flexible; v9 is v8 usable by KIP-848 groups (generationIdOrMemberEpoch is then the
// member epoch; may answer STALE_MEMBER_EPOCH or GROUP_ID_NOT_FOUND).

import { api, f } from '../schema.ts'

export const OffsetCommit = api({
  key: 8,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 9,
  flexibleFrom: 8,
  request: {
    groupId: f.string(),
    generationIdOrMemberEpoch: f.int32({ versions: '1+', default: -1 }),
    memberId: f.string({ versions: '1+' }),
    groupInstanceId: f.string({ versions: '7+', nullableVersions: '7+', default: null }),
    retentionTimeMs: f.int64({ versions: '2-4', default: -1 }),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        committedOffset: f.int64(),
        committedLeaderEpoch: f.int32({ versions: '6+', default: -1 }),
        committedMetadata: f.string({ nullableVersions: '0+' }),
      }),
    }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '3+' }),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        errorCode: f.int16(),
      }),
    }),
  },
})
