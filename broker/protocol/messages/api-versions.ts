// ApiVersions (key 18): v0-4. v1 adds throttleTimeMs; v3 is flexible and adds the client's software name
// and version, plus tagged feature lists in the response; v4 is v3 that may list a feature with minVersion 0
// (KAFKA-17011). The response header is always v0.

import { api, f } from '../schema.ts'

export const ApiVersions = api({
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: {
    clientSoftwareName: f.string({ versions: '3+' }),
    clientSoftwareVersion: f.string({ versions: '3+' }),
  },
  response: {
    errorCode: f.int16(),
    apiKeys: f.array({
      apiKey: f.int16(),
      minVersion: f.int16(),
      maxVersion: f.int16(),
    }),
    throttleTimeMs: f.int32({ versions: '1+' }),
    supportedFeatures: f.array(
      { name: f.string(), minVersion: f.int16(), maxVersion: f.int16() },
      { versions: '3+', tag: 0, taggedVersions: '3+' },
    ),
    finalizedFeaturesEpoch: f.int64({ versions: '3+', tag: 1, taggedVersions: '3+', default: -1 }),
    finalizedFeatures: f.array(
      { name: f.string(), maxVersionLevel: f.int16(), minVersionLevel: f.int16() },
      { versions: '3+', tag: 2, taggedVersions: '3+' },
    ),
    zkMigrationReady: f.bool({ versions: '3+', tag: 3, taggedVersions: '3+' }),
  },
})
