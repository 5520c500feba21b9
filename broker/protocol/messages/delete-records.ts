// DeleteRecords (key 21): v0-2. v1 is v0 (responses before throttling); v2 is flexible.

import { api, f } from '../schema.ts'

export const DeleteRecords = api({
  key: 21,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: {
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        offset: f.int64(),
      }),
    }),
    timeoutMs: f.int32(),
  },
  response: {
    throttleTimeMs: f.int32(),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        lowWatermark: f.int64(),
        errorCode: f.int16(),
      }),
    }),
  },
})
