// DescribeAcls (key 29): v0-3. v1 adds the resource pattern type (KIP-290; default 3 LITERAL) and sends
// responses before throttling; v2 is flexible; v3 allows the USER resource type.

import { api, f } from '../schema.ts'

export const DescribeAcls = api({
  key: 29,
  name: 'DescribeAcls',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 2,
  request: {
    resourceTypeFilter: f.int8(),
    resourceNameFilter: f.string({ nullableVersions: '0+' }),
    patternTypeFilter: f.int8({ versions: '1+', default: 3 }),
    principalFilter: f.string({ nullableVersions: '0+' }),
    hostFilter: f.string({ nullableVersions: '0+' }),
    operation: f.int8(),
    permissionType: f.int8(),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
    errorMessage: f.string({ nullableVersions: '0+' }),
    resources: f.array({
      resourceType: f.int8(),
      resourceName: f.string(),
      patternType: f.int8({ versions: '1+', default: 3 }),
      acls: f.array({
        principal: f.string(),
        host: f.string(),
        operation: f.int8(),
        permissionType: f.int8(),
      }),
    }),
  },
})
