// OffsetDelete (key 47): v0 only, not flexible (KIP-496).

import { api, f } from '../schema.ts'

export const OffsetDelete = api({
  key: 47,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: null,
  request: {
    groupId: f.string(),
    topics: f.array({
      name: f.string(),
      partitions: f.array({ partitionIndex: f.int32() }),
    }),
  },
  response: {
    errorCode: f.int16(),
    throttleTimeMs: f.int32(),
    topics: f.array({
      name: f.string(),
      partitions: f.array({
        partitionIndex: f.int32(),
        errorCode: f.int16(),
      }),
    }),
  },
})
