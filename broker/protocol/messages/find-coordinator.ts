// FindCoordinator (key 10): v0-6. v1 adds keyType (0 group, 1 transaction), throttleTimeMs and errorMessage;
// v2 is v1 (responses are sent before throttling); v3 is flexible; v4 batches keys (coordinatorKeys in,
// one coordinators entry per key out) and drops the single-key fields; v5 may answer TRANSACTION_ABORTABLE
// (KIP-890); v6 adds keyType 2, share groups (KIP-932).

import { api, f } from '../schema.ts'

export const FindCoordinator = api({
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: 3,
  request: {
    key: f.string({ versions: '0-3' }),
    keyType: f.int8({ versions: '1+', default: 0 }),
    coordinatorKeys: f.array(f.string(), { versions: '4+' }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    errorCode: f.int16({ versions: '0-3' }),
    errorMessage: f.string({ versions: '1-3', nullableVersions: '1-3' }),
    nodeId: f.int32({ versions: '0-3' }),
    host: f.string({ versions: '0-3' }),
    port: f.int32({ versions: '0-3' }),
    coordinators: f.array(
      {
        key: f.string({ versions: '4+' }),
        nodeId: f.int32({ versions: '4+' }),
        host: f.string({ versions: '4+' }),
        port: f.int32({ versions: '4+' }),
        errorCode: f.int16({ versions: '4+' }),
        errorMessage: f.string({ versions: '4+', nullableVersions: '4+' }),
      },
      { versions: '4+' },
    ),
  },
})
