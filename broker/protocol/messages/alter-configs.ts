// AlterConfigs (key 33): v0-2. v1 is v0 (responses before throttling); v2 is flexible. Replaces a resource's
// whole set of dynamic configs (IncrementalAlterConfigs changes single keys).

import { api, f } from '../schema.ts'

export const AlterConfigs = api({
  key: 33,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: {
    resources: f.array({
      resourceType: f.int8(),
      resourceName: f.string(),
      configs: f.array({
        name: f.string(),
        value: f.string({ nullableVersions: '0+' }),
      }),
    }),
    validateOnly: f.bool(),
  },
  response: {
    throttleTimeMs: f.int32(),
    responses: f.array({
      errorCode: f.int16(),
      errorMessage: f.string({ nullableVersions: '0+' }),
      resourceType: f.int8(),
      resourceName: f.string(),
    }),
  },
})
