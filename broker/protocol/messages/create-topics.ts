// CreateTopics (key 19): v0-7. v1 adds validateOnly and a per-topic errorMessage; v2 adds throttleTimeMs;
// v3 answers before throttling; v4 lets numPartitions and replicationFactor be -1 (broker defaults, KIP-464);
// v5 is flexible and returns the created topic's partitions, replication factor and configs (KIP-525), with
// a tagged topicConfigErrorCode when the configs cannot be returned; v6 may return
// THROTTLING_QUOTA_EXCEEDED (KIP-599); v7 returns the new topic's id.

import { api, f } from '../schema.ts'

export const CreateTopics = api({
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  flexibleFrom: 5,
  request: {
    topics: f.array({
      name: f.string(),
      numPartitions: f.int32(),
      replicationFactor: f.int16(),
      assignments: f.array({
        partitionIndex: f.int32(),
        brokerIds: f.array(f.int32()),
      }),
      configs: f.array({
        name: f.string(),
        value: f.string({ nullableVersions: '0+' }),
      }),
    }),
    timeoutMs: f.int32({ default: 60000 }),
    validateOnly: f.bool({ versions: '1+', default: false }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '2+' }),
    topics: f.array({
      name: f.string(),
      topicId: f.uuid({ versions: '7+' }),
      errorCode: f.int16(),
      errorMessage: f.string({ versions: '1+', nullableVersions: '0+' }),
      topicConfigErrorCode: f.int16({ versions: '5+', tag: 0, taggedVersions: '5+' }),
      numPartitions: f.int32({ versions: '5+', default: -1 }),
      replicationFactor: f.int16({ versions: '5+', default: -1 }),
      configs: f.array(
        {
          name: f.string({ versions: '5+' }),
          value: f.string({ versions: '5+', nullableVersions: '5+' }),
          readOnly: f.bool({ versions: '5+' }),
          configSource: f.int8({ versions: '5+', default: -1 }),
          isSensitive: f.bool({ versions: '5+' }),
        },
        { versions: '5+', nullableVersions: '5+' },
      ),
    }),
  },
})
