// ListPartitionReassignments (key 46): v0 (KIP-455), flexible from v0.

import { api, f } from '../schema.ts'

export const ListPartitionReassignments = api({
  key: 46,
  name: 'ListPartitionReassignments',
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: {
    timeoutMs: f.int32({ default: 60000 }),
    // Null: every partition being reassigned.
    topics: f.array({ name: f.string(), partitionIndexes: f.array(f.int32()) }, { nullableVersions: '0+', default: null }),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
    errorMessage: f.string({ nullableVersions: '0+' }),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        replicas: f.array(f.int32()),
        addingReplicas: f.array(f.int32()),
        removingReplicas: f.array(f.int32()),
      }),
    }),
  },
})
