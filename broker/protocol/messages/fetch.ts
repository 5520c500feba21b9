// Fetch (key 1): v0-17. v0-3 carry message sets (magic 0 for v0-1, magic 1 for v2-3); v1 adds throttleTimeMs;
// v3 adds maxBytes, a limit on the whole response. v4 is the first version that carries RecordBatch v2 and adds isolationLevel, with
// lastStableOffset and abortedTransactions in the response; v5 adds logStartOffset; v6 may return
// KAFKA_STORAGE_ERROR; v7 adds fetch sessions (sessionId, sessionEpoch, forgottenTopicsData; KIP-227) and a
// top-level errorCode; v8 answers before throttling; v9 adds currentLeaderEpoch (KIP-320); v10 allows zstd;
// v11 adds rackId and preferredReadReplica (KIP-392); v12 is flexible, adds lastFetchedEpoch and the tagged
// clusterId, divergingEpoch, currentLeader and snapshotId.
// v13 names topics by id instead of name; v14 may answer OFFSET_MOVED_TO_TIERED_STORAGE; v15 moves the
// follower's replicaId into the tagged replicaState (KIP-903); v16 adds the tagged nodeEndpoints (KIP-951);
// v17 adds the tagged replicaDirectoryId (KIP-853).

import { api, f } from '../schema.ts'

export const Fetch = api({
  key: 1,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 17,
  flexibleFrom: 12,
  request: {
    clusterId: f.string({ versions: '12+', nullableVersions: '12+', default: null, tag: 0, taggedVersions: '12+' }),
    replicaId: f.int32({ versions: '0-14', default: -1 }),
    replicaState: f.struct(
      {
        replicaId: f.int32({ versions: '15+', default: -1 }),
        replicaEpoch: f.int64({ versions: '15+', default: -1 }),
      },
      { versions: '15+', tag: 1, taggedVersions: '15+' },
    ),
    maxWaitMs: f.int32(),
    minBytes: f.int32(),
    maxBytes: f.int32({ versions: '3+', default: 0x7fffffff }),
    isolationLevel: f.int8({ versions: '4+', default: 0 }),
    sessionId: f.int32({ versions: '7+', default: 0 }),
    sessionEpoch: f.int32({ versions: '7+', default: -1 }),
    topics: f.array({
      topic: f.string({ versions: '0-12' }),
      topicId: f.uuid({ versions: '13+' }),
      partitions: f.array({
        partition: f.int32(),
        currentLeaderEpoch: f.int32({ versions: '9+', default: -1 }),
        fetchOffset: f.int64(),
        lastFetchedEpoch: f.int32({ versions: '12+', default: -1 }),
        logStartOffset: f.int64({ versions: '5+', default: -1 }),
        partitionMaxBytes: f.int32(),
        replicaDirectoryId: f.uuid({ versions: '17+', tag: 0, taggedVersions: '17+' }),
      }),
    }),
    forgottenTopicsData: f.array(
      {
        topic: f.string({ versions: '7-12' }),
        topicId: f.uuid({ versions: '13+' }),
        partitions: f.array(f.int32(), { versions: '7+' }),
      },
      { versions: '7+' },
    ),
    rackId: f.string({ versions: '11+', default: '' }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    errorCode: f.int16({ versions: '7+' }),
    sessionId: f.int32({ versions: '7+', default: 0 }),
    responses: f.array({
      topic: f.string({ versions: '0-12' }),
      topicId: f.uuid({ versions: '13+' }),
      partitions: f.array({
        partitionIndex: f.int32(),
        errorCode: f.int16(),
        highWatermark: f.int64(),
        lastStableOffset: f.int64({ versions: '4+', default: -1 }),
        logStartOffset: f.int64({ versions: '5+', default: -1 }),
        divergingEpoch: f.struct(
          {
            epoch: f.int32({ versions: '12+', default: -1 }),
            endOffset: f.int64({ versions: '12+', default: -1 }),
          },
          { versions: '12+', tag: 0, taggedVersions: '12+' },
        ),
        currentLeader: f.struct(
          {
            leaderId: f.int32({ versions: '12+', default: -1 }),
            leaderEpoch: f.int32({ versions: '12+', default: -1 }),
          },
          { versions: '12+', tag: 1, taggedVersions: '12+' },
        ),
        snapshotId: f.struct(
          {
            endOffset: f.int64({ default: -1 }),
            epoch: f.int32({ default: -1 }),
          },
          { versions: '12+', tag: 2, taggedVersions: '12+' },
        ),
        abortedTransactions: f.array(
          {
            producerId: f.int64({ versions: '4+' }),
            firstOffset: f.int64({ versions: '4+' }),
          },
          { versions: '4+', nullableVersions: '4+' },
        ),
        preferredReadReplica: f.int32({ versions: '11+', default: -1 }),
        records: f.records({ nullableVersions: '0+' }),
      }),
    }),
    nodeEndpoints: f.array(
      {
        nodeId: f.int32({ versions: '16+' }),
        host: f.string({ versions: '16+' }),
        port: f.int32({ versions: '16+' }),
        rack: f.string({ versions: '16+', nullableVersions: '16+', default: null }),
      },
      { versions: '16+', tag: 0, taggedVersions: '16+' },
    ),
  },
})
