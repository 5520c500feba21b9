// DescribeLogDirs (key 35): v0-4. v1 is v0 (responses before throttling); v2 is flexible; v3 adds the top-level
// errorCode; v4 each log dir's totalBytes and usableBytes (KIP-827).

import { api, f } from '../schema.ts'

export const DescribeLogDirs = api({
  key: 35,
  name: 'DescribeLogDirs',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 2,
  request: {
    // Null: every partition of every log dir.
    topics: f.array({ topic: f.string(), partitions: f.array(f.int32()) }, { nullableVersions: '0+' }),
  },
  response: {
    throttleTimeMs: f.int32(),
    errorCode: f.int16({ versions: '3+' }),
    results: f.array({
      errorCode: f.int16(),
      logDir: f.string(),
      topics: f.array({
        name: f.string(),
        partitions: f.array({
          partitionIndex: f.int32(),
          partitionSize: f.int64(),
          offsetLag: f.int64(),
          isFutureKey: f.bool(),
        }),
      }),
      totalBytes: f.int64({ versions: '4+', default: -1 }),
      usableBytes: f.int64({ versions: '4+', default: -1 }),
    }),
  },
})
