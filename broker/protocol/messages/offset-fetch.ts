// OffsetFetch (key 9): v0-9. v0 read offsets from ZooKeeper; v1 reads them from __consumer_offsets;
// v2 lets topics be null (every committed offset of the group) and adds a top-level errorCode; v3 adds
// throttleTimeMs; v4 is v3 (responses before throttling); v5 adds committedLeaderEpoch; v6 is flexible;
// v7 adds requireStable (UNSTABLE_OFFSET_COMMIT while a transaction holds pending offsets); v8 takes a batch
// of groups, moving topics and the error code under groups; v9 adds memberId and memberEpoch for KIP-848
// groups.

import { api, f } from '../schema.ts'

export const OffsetFetch = api({
  key: 9,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 6,
  request: {
    groupId: f.string({ versions: '0-7' }),
    topics: f.array(
      {
        name: f.string({ versions: '0-7' }),
        partitionIndexes: f.array(f.int32(), { versions: '0-7' }),
      },
      { versions: '0-7', nullableVersions: '2-7' },
    ),
    groups: f.array(
      {
        groupId: f.string({ versions: '8+' }),
        memberId: f.string({ versions: '9+', nullableVersions: '9+', default: null }),
        memberEpoch: f.int32({ versions: '9+', default: -1 }),
        topics: f.array(
          {
            name: f.string({ versions: '8+' }),
            partitionIndexes: f.array(f.int32(), { versions: '8+' }),
          },
          { versions: '8+', nullableVersions: '8+' },
        ),
      },
      { versions: '8+' },
    ),
    requireStable: f.bool({ versions: '7+', default: false }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '3+' }),
    topics: f.array(
      {
        name: f.string({ versions: '0-7' }),
        partitions: f.array(
          {
            partitionIndex: f.int32({ versions: '0-7' }),
            committedOffset: f.int64({ versions: '0-7' }),
            committedLeaderEpoch: f.int32({ versions: '5-7', default: -1 }),
            metadata: f.string({ versions: '0-7', nullableVersions: '0-7' }),
            errorCode: f.int16({ versions: '0-7' }),
          },
          { versions: '0-7' },
        ),
      },
      { versions: '0-7' },
    ),
    errorCode: f.int16({ versions: '2-7', default: 0 }),
    groups: f.array(
      {
        groupId: f.string({ versions: '8+' }),
        topics: f.array(
          {
            name: f.string({ versions: '8+' }),
            partitions: f.array(
              {
                partitionIndex: f.int32({ versions: '8+' }),
                committedOffset: f.int64({ versions: '8+' }),
                committedLeaderEpoch: f.int32({ versions: '8+', default: -1 }),
                metadata: f.string({ versions: '8+', nullableVersions: '8+' }),
                errorCode: f.int16({ versions: '8+' }),
              },
              { versions: '8+' },
            ),
          },
          { versions: '8+' },
        ),
        errorCode: f.int16({ versions: '8+', default: 0 }),
      },
      { versions: '8+' },
    ),
  },
})
