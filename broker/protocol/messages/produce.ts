// Produce (key 0): v3-9. v3 is the first version that carries RecordBatch v2 (and transactionalId);
// v5 adds logStartOffset to the response; v8 adds per-record errors and an error message; v9 is flexible.

import { api, f } from '../schema.ts'

export const Produce = api({
  key: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 9,
  flexibleFrom: 9,
  request: {
    transactionalId: f.string({ versions: '3+', nullableVersions: '3+', default: null }),
    acks: f.int16(),
    timeoutMs: f.int32(),
    topicData: f.array({
      name: f.string(),
      partitionData: f.array({
        index: f.int32(),
        records: f.records({ nullableVersions: '0+' }),
      }),
    }),
  },
  response: {
    responses: f.array({
      name: f.string(),
      partitionResponses: f.array({
        index: f.int32(),
        errorCode: f.int16(),
        baseOffset: f.int64(),
        logAppendTimeMs: f.int64({ versions: '2+', default: -1 }),
        logStartOffset: f.int64({ versions: '5+', default: -1 }),
        recordErrors: f.array({ batchIndex: f.int32(), batchIndexErrorMessage: f.string({ nullableVersions: '8+', default: null }) }, { versions: '8+' }),
        errorMessage: f.string({ versions: '8+', nullableVersions: '8+', default: null }),
      }),
    }),
    throttleTimeMs: f.int32({ versions: '1+' }),
  },
})
