// DescribeGroups (key 15): v0-5. v1 adds throttleTimeMs; v2 is v1 (responses before throttling); v3 adds
// includeAuthorizedOperations and authorizedOperations; v4 adds members' groupInstanceId; v5 is flexible.

import { api, f } from '../schema.ts'

export const DescribeGroups = api({
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 5,
  request: {
    groups: f.array(f.string()),
    includeAuthorizedOperations: f.bool({ versions: '3+' }),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    groups: f.array({
      errorCode: f.int16(),
      groupId: f.string(),
      groupState: f.string(),
      protocolType: f.string(),
      // Filled in only while the group is Stable.
      protocolData: f.string(),
      // Always empty for a Dead group.
      members: f.array({
        memberId: f.string(),
        groupInstanceId: f.string({ versions: '4+', nullableVersions: '4+', default: null }),
        clientId: f.string(),
        clientHost: f.string(),
        memberMetadata: f.bytes(),
        memberAssignment: f.bytes(),
      }),
      // INT32_MIN means "not requested".
      authorizedOperations: f.int32({ versions: '3+', default: -2147483648 }),
    }),
  },
})
