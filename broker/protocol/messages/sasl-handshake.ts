// SaslHandshake (key 17): v0-1, never flexible (bumping it breaks clients <= 2.4, KAFKA-9577). v0 is
// followed by raw SASL tokens framed by an int32 length; v1 is followed by SaslAuthenticate requests.

import { api, f } from '../schema.ts'

export const SaslHandshake = api({
  key: 17,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: null,
  request: {
    mechanism: f.string(),
  },
  response: {
    errorCode: f.int16(),
    mechanisms: f.array(f.string()),
  },
})
