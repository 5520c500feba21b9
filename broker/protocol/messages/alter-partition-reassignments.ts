// AlterPartitionReassignments (key 45): v0 (KIP-455), flexible from v0.

import { api, f } from '../schema.ts'

export const AlterPartitionReassignments = api({
  key: 45,
  name: 'AlterPartitionReassignments',
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: {
    timeoutMs: f.int32({ default: 60000 }),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        // Null cancels the reassignment under way.
        replicas: f.array(f.int32(), { nullableVersions: '0+', default: null }),
      }),
    }),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
    errorMessage: f.string({ nullableVersions: '0+' }),
    responses: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        errorCode: f.int16(),
        errorMessage: f.string({ nullableVersions: '0+' }),
      }),
    }),
  },
})
