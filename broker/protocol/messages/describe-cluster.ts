// DescribeCluster (key 60): v0-1, flexible from v0. v1 adds endpointType (1 brokers, 2 controllers;
// KIP-919) and makes MISMATCHED_ENDPOINT_TYPE and UNSUPPORTED_ENDPOINT_TYPE valid top-level errors.

import { api, f } from '../schema.ts'

export const DescribeCluster = api({
  key: 60,
  name: 'DescribeCluster',
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 0,
  request: {
    includeClusterAuthorizedOperations: f.bool(),
    endpointType: f.int8({ versions: '1+', default: 1 }),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16(),
    errorMessage: f.string({ nullableVersions: '0+', default: null }),
    endpointType: f.int8({ versions: '1+', default: 1 }),
    clusterId: f.string(),
    controllerId: f.int32({ default: -1 }),
    brokers: f.array({
      brokerId: f.int32(),
      host: f.string(),
      port: f.int32(),
      rack: f.string({ nullableVersions: '0+', default: null }),
    }),
    // INT32_MIN means "not requested".
    clusterAuthorizedOperations: f.int32({ default: -2147483648 }),
  },
})
