// ElectLeaders (key 43): v0-2. v1 adds electionType (0 preferred, 1 unclean; v0 is always preferred) and a
// top-level errorCode (KIP-460); v2 is flexible.

import { api, f } from '../schema.ts'

export const ElectLeaders = api({
  key: 43,
  name: 'ElectLeaders',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: {
    electionType: f.int8({ versions: '1+' }),
    // Null: every partition of the cluster.
    topicPartitions: f.array({ topic: f.string(), partitionId: f.array(f.int32()) }, { nullableVersions: '0+' }),
    timeoutMs: f.int32({ default: 60000 }),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16({ versions: '1+' }),
    replicaElectionResults: f.array({
      topic: f.string(),
      partitionResult: f.array({
        partitionId: f.int32(),
        errorCode: f.int16(),
        errorMessage: f.string({ nullableVersions: '0+', default: null }),
      }),
    }),
  },
})
