// OffsetCommit (key 8): v0-9. v0 stored offsets in ZooKeeper; v1 adds the member's generation and id and a
// per-partition commitTimestamp; v2 replaces the timestamps with retentionTimeMs; v3 adds throttleTimeMs; v4 is v3 (responses before throttling); v5
// drops retentionTimeMs (a broker setting since); v6 adds committedLeaderEpoch; v7 adds groupInstanceId
// (KIP-345); v8 is flexible; v9 is v8 usable by KIP-848 groups (generationIdOrMemberEpoch is then the
// member epoch; may answer STALE_MEMBER_EPOCH or GROUP_ID_NOT_FOUND).

import { api, f } from '../schema.ts'

export const OffsetCommit = api({
  key: 8,
  name: 'OffsetCommit',
  minVersion: 0,
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
        commitTimestamp: f.int64({ versions: '1', default: -1 }),
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
