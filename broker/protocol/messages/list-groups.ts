// ListGroups (key 16): v0-5. v1 adds throttleTimeMs; v2 is v1 (responses before throttling); v3 is flexible;
// v4 adds statesFilter and each group's state (KIP-518); v5 adds typesFilter and each group's type (KIP-848).

import { api, f } from '../schema.ts'

export const ListGroups = api({
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 3,
  request: {
    statesFilter: f.array(f.string(), { versions: '4+' }),
    typesFilter: f.array(f.string(), { versions: '5+' }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    errorCode: f.int16(),
    groups: f.array({
      groupId: f.string(),
      protocolType: f.string(),
      groupState: f.string({ versions: '4+' }),
      groupType: f.string({ versions: '5+' }),
    }),
  },
})
