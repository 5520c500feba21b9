// LeaveGroup (key 13): v0-5. v1 adds throttleTimeMs; v2 is v1 (responses before throttling); v3 batches
// leaving members (members with groupInstanceId replace memberId; per-member errors in the response);
// v4 is flexible; v5 adds each member's reason (KIP-800).

import { api, f } from '../schema.ts'

export const LeaveGroup = api({
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 4,
  request: {
    groupId: f.string(),
    memberId: f.string({ versions: '0-2' }),
    members: f.array(
      {
        memberId: f.string({ versions: '3+' }),
        groupInstanceId: f.string({ versions: '3+', nullableVersions: '3+', default: null }),
        reason: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
      },
      { versions: '3+' },
    ),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    errorCode: f.int16(),
    members: f.array(
      {
        memberId: f.string({ versions: '3+' }),
        groupInstanceId: f.string({ versions: '3+', nullableVersions: '3+' }),
        errorCode: f.int16({ versions: '3+' }),
      },
      { versions: '3+' },
    ),
  },
})
