// InitProducerId (key 22): v0-5. v1 is v0 (responses before throttling); v2 is flexible; v3 adds
// producerId and producerEpoch so a producer can resume after INVALID_PRODUCER_EPOCH (KIP-360); v4 may
// answer PRODUCER_FENCED; v5 may answer TRANSACTION_ABORTABLE (KIP-890).

import { api, f } from '../schema.ts'

export const InitProducerId = api({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 2,
  request: {
    // Null for an idempotent producer that is not transactional.
    transactionalId: f.string({ nullableVersions: '0+' }),
    transactionTimeoutMs: f.int32(),
    producerId: f.int64({ versions: '3+', default: -1 }),
    producerEpoch: f.int16({ versions: '3+', default: -1 }),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
    producerId: f.int64({ default: -1 }),
    producerEpoch: f.int16(),
  },
})
