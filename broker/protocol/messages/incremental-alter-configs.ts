// IncrementalAlterConfigs (key 44): v0-1. v1 is flexible. configOperation: 0 SET, 1 DELETE, 2 APPEND,
// 3 SUBTRACT (KIP-339).

import { api, f } from '../schema.ts'

export const IncrementalAlterConfigs = api({
  key: 44,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 1,
  request: {
    resources: f.array({
      resourceType: f.int8(),
      resourceName: f.string(),
      configs: f.array({
        name: f.string(),
        configOperation: f.int8(),
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
