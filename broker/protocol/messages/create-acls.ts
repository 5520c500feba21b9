// CreateAcls (key 30): v0-3. v1 adds the resource pattern type (KIP-290; default 3 LITERAL) and sends
// responses before throttling; v2 is flexible; v3 allows the USER resource type.

import { api, f } from '../schema.ts'

export const CreateAcls = api({
  key: 30,
  name: 'CreateAcls',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 2,
  request: {
    creations: f.array({
      resourceType: f.int8(),
      resourceName: f.string(),
      resourcePatternType: f.int8({ versions: '1+', default: 3 }),
      principal: f.string(),
      host: f.string(),
      operation: f.int8(),
      permissionType: f.int8(),
    }),
  },
  response: {
    throttleTimeMs: f.int32(),
    results: f.array({
      errorCode: f.int16(),
      errorMessage: f.string({ nullableVersions: '0+' }),
    }),
  },
})
