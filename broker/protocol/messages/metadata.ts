// Metadata (key 3): v0-12. v0's topic list is never null: an empty one means all topics. v1 makes a null topic list mean "all topics" (an empty one means none) and adds
// rack, controllerId and isInternal; v2 adds clusterId; v3 adds throttleTimeMs; v4 adds
// allowAutoTopicCreation; v5 adds offlineReplicas; v7 adds leaderEpoch per partition; v8 adds authorized
// operations (requested by flags, returned as INT32_MIN bitfields when not computed); v9 is flexible; v10 adds
// topicId to both sides (a request may not yet name topics by id); v11 drops the cluster authorized
// operations (DescribeCluster has them, KIP-700); v12 lets a request name topics by id only, so topic names
// become nullable in the response.

import { api, f } from '../schema.ts'

const INT32_MIN = -2147483648

export const Metadata = api({
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  flexibleFrom: 9,
  request: {
    topics: f.array(
      {
        topicId: f.uuid({ versions: '10+' }),
        name: f.string({ nullableVersions: '10+' }),
      },
      { nullableVersions: '1+' },
    ),
    allowAutoTopicCreation: f.bool({ versions: '4+', default: true }),
    includeClusterAuthorizedOperations: f.bool({ versions: '8-10' }),
    includeTopicAuthorizedOperations: f.bool({ versions: '8+' }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '3+' }),
    brokers: f.array({
      nodeId: f.int32(),
      host: f.string(),
      port: f.int32(),
      rack: f.string({ versions: '1+', nullableVersions: '1+', default: null }),
    }),
    clusterId: f.string({ versions: '2+', nullableVersions: '2+', default: null }),
    controllerId: f.int32({ versions: '1+', default: -1 }),
    topics: f.array({
      errorCode: f.int16(),
      name: f.string({ nullableVersions: '12+' }),
      topicId: f.uuid({ versions: '10+' }),
      isInternal: f.bool({ versions: '1+', default: false }),
      partitions: f.array({
        errorCode: f.int16(),
        partitionIndex: f.int32(),
        leaderId: f.int32(),
        leaderEpoch: f.int32({ versions: '7+', default: -1 }),
        replicaNodes: f.array(f.int32()),
        isrNodes: f.array(f.int32()),
        offlineReplicas: f.array(f.int32(), { versions: '5+' }),
      }),
      topicAuthorizedOperations: f.int32({ versions: '8+', default: INT32_MIN }),
    }),
    clusterAuthorizedOperations: f.int32({ versions: '8-10', default: INT32_MIN }),
  },
})
