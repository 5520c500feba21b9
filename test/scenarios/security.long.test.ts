// cluster.security with the library drivers (the raw driver's run is in security.test.ts): each produces and
// consumes over SASL_SSL with SCRAM-SHA-512 as the declared user, under ACLs. In the long suite for time.

import { describe, it } from 'vitest'
import { expectDriverRunsSecured } from './security-helpers.ts'

describe('a secured local cluster', () => {
  it.each(['platformatic', 'kafkajs'])('the %s driver produces and consumes over SASL_SSL with SCRAM-SHA-512 as the declared user, under ACLs', (driver) => expectDriverRunsSecured(driver), 120_000)
})
