// DeleteTopics (key 20): v0-6. v1 adds throttleTimeMs; v2 answers before throttling; v3 may return
// TOPIC_DELETION_DISABLED; v4 is flexible; v5 adds a per-topic errorMessage and may return
// THROTTLING_QUOTA_EXCEEDED (KIP-599); v6 replaces the name list with topics named by name or by id
// (name nullable) and returns topic ids.

import { api, f } from '../schema.ts'

export const DeleteTopics = api({
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: 4,
  request: {
    topics: f.array(
      {
        name: f.string({ versions: '6+', nullableVersions: '6+', default: null }),
        topicId: f.uuid({ versions: '6+' }),
      },
      { versions: '6+' },
    ),
    topicNames: f.array(f.string(), { versions: '0-5' }),
    timeoutMs: f.int32(),
  },
  response: {
    throttleTimeMs: f.int32({ versions: '1+' }),
    responses: f.array({
      name: f.string({ nullableVersions: '6+' }),
      topicId: f.uuid({ versions: '6+' }),
      errorCode: f.int16(),
      errorMessage: f.string({ versions: '5+', nullableVersions: '5+', default: null }),
    }),
  },
})
