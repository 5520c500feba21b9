// EndTxn (key 26): v0-3. v1 is v0 (responses before throttling); v2 may answer PRODUCER_FENCED; v3 is
// flexible. (v5, KIP-890 part 2, bumps the epoch per transaction; we do not advertise it.)

import { api, f } from '../schema.ts'

export const EndTxn = api({
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  request: {
    transactionalId: f.string(),
    producerId: f.int64(),
    producerEpoch: f.int16(),
    // False aborts.
    committed: f.bool(),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
  },
})
