// AddOffsetsToTxn (key 25): v0-3. v1 is v0 (responses before throttling); v2 may answer PRODUCER_FENCED;
// v3 is flexible.

import { api, f } from '../schema.ts'

export const AddOffsetsToTxn = api({
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  request: {
    transactionalId: f.string(),
    producerId: f.int64(),
    producerEpoch: f.int16(),
    groupId: f.string(),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
  },
})
