// Produce (key 0): v0-11. v0-2 carry message sets (magic 0 or 1); v1 adds throttleTimeMs and v2 logAppendTimeMs
// to the response; v3 is the first version that carries RecordBatch v2 (and transactionalId); v5 adds
// logStartOffset to the response; v7 allows zstd; v8 adds per-record errors and an error message; v9 is
// flexible; v10 adds the tagged currentLeader and nodeEndpoints (KIP-951); v11 may answer TRANSACTION_ABORTABLE
// (KIP-890).

import { api, f } from '../schema.ts'

export const Produce = api({
  key: 0,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 11,
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
        currentLeader: f.struct(
          {
            leaderId: f.int32({ versions: '10+', default: -1 }),
            leaderEpoch: f.int32({ versions: '10+', default: -1 }),
          },
          { versions: '10+', tag: 0, taggedVersions: '10+' },
        ),
      }),
    }),
    throttleTimeMs: f.int32({ versions: '1+' }),
    nodeEndpoints: f.array(
      {
        nodeId: f.int32({ versions: '10+' }),
        host: f.string({ versions: '10+' }),
        port: f.int32({ versions: '10+' }),
        rack: f.string({ versions: '10+', nullableVersions: '10+', default: null }),
      },
      { versions: '10+', tag: 0, taggedVersions: '10+' },
    ),
  },
})
