// DescribeConfigs (key 32): v0-4. v1 adds includeSynonyms, and configSource and synonyms per config in place
// of v0's isDefault; v2 answers before throttling; v3 adds includeDocumentation, and configType and
// documentation per config; v4 is flexible.

import { api, f } from '../schema.ts'

export const DescribeConfigs = api({
  key: 32,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: {
    resources: f.array({
      resourceType: f.int8(),
      resourceName: f.string(),
      configurationKeys: f.array(f.string(), { nullableVersions: '0+' }),
    }),
    includeSynonyms: f.bool({ versions: '1+', default: false }),
    includeDocumentation: f.bool({ versions: '3+', default: false }),
  },
  response: {
    throttleTimeMs: f.int32(),
    results: f.array({
      errorCode: f.int16(),
      errorMessage: f.string({ nullableVersions: '0+' }),
      resourceType: f.int8(),
      resourceName: f.string(),
      configs: f.array({
        name: f.string(),
        value: f.string({ nullableVersions: '0+' }),
        readOnly: f.bool(),
        isDefault: f.bool({ versions: '0' }),
        // In v0 Kafka derives the source from the context; -1 is its placeholder.
        configSource: f.int8({ versions: '1+', default: -1 }),
        isSensitive: f.bool(),
        synonyms: f.array(
          {
            name: f.string({ versions: '1+' }),
            value: f.string({ versions: '1+', nullableVersions: '0+' }),
            source: f.int8({ versions: '1+' }),
          },
          { versions: '1+' },
        ),
        configType: f.int8({ versions: '3+', default: 0 }),
        documentation: f.string({ versions: '3+', nullableVersions: '0+' }),
      }),
    }),
  },
})
