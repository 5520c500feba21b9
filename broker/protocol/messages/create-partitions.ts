// CreatePartitions (key 37): v0-3. v1 is v0 (responses before throttling); v2 is flexible; v3 is v2 but
// may answer THROTTLING_QUOTA_EXCEEDED (KIP-599).

import { api, f } from '../schema.ts'

export const CreatePartitions = api({
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 2,
  request: {
    topics: f.array({
      name: f.string(),
      count: f.int32(),
      // Null lets the controller place the new partitions.
      assignments: f.array({ brokerIds: f.array(f.int32()) }, { nullableVersions: '0+' }),
    }),
    timeoutMs: f.int32(),
    validateOnly: f.bool(),
  },
  response: {
    throttleTimeMs: f.int32(),
    results: f.array({
      name: f.string(),
      errorCode: f.int16(),
      errorMessage: f.string({ nullableVersions: '0+', default: null }),
    }),
  },
})
