// cluster.security with the library drivers (the raw driver's run is in security.test.ts): each produces and
// consumes over SASL_SSL with SCRAM-SHA-512 as the declared user, under ACLs. In the long suite for time.

import { describe, expect, it } from 'vitest'
import { GROUP_READ, IDEMPOTENT, run, scenario, TOPIC_ALL } from './security-helpers.ts'

describe('a secured local cluster', () => {
  it.each(['platformatic', 'kafkajs'])('the %s driver produces and consumes over SASL_SSL with SCRAM-SHA-512 as the declared user, under ACLs', async (driver) => {
    const p = 'User:alice'
    const sec = `{ protocol: SASL_SSL, mechanism: SCRAM-SHA-512, users: [ { name: alice, password: a-secret } ], acls: [ ${TOPIC_ALL(p)}, ${GROUP_READ(p)}, ${IDEMPOTENT(p)} ] }`
    const r = await run(scenario(`sasl-${driver}`, sec, { driver }), `sasl-${driver}`)
    expect(r.verdict).toEqual({ state: 'passed', reasons: [] })
    const d = r.delivery.state === 'skipped' ? null : r.delivery.stats
    expect(d?.acks).toBeGreaterThan(0)
    expect(d?.consumedValues).toBe(d?.acks)
  }, 120_000)

})
