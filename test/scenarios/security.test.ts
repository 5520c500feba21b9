// cluster.security with real brokers and clients: faultline makes the certificates and users, the workload
// connects as the scenario's user (the raw driver here; platformatic and kafkajs in security.long.test.ts), the
// workload's ACLs bind only the workload (the harness's own setup runs as a super user), a removeAcl fault shows
// up as TOPIC_AUTHORIZATION_FAILED by code and heals, a revoked user (with KIP-368 session lifetimes) as
// SASL_AUTHENTICATION_FAILED, and a workload the ACLs do not let join its group errors with a message that says
// who it is and which ACL it lacks.

import { describe, expect, it } from 'vitest'
import { expectDriverRunsSecured, GROUP_READ, IDEMPOTENT, run, scenario, TOPIC_ALL } from './security-helpers.ts'

describe('a secured local cluster', () => {
  it.each(['raw'])('the %s driver produces and consumes over SASL_SSL with SCRAM-SHA-512 as the declared user, under ACLs', (driver) => expectDriverRunsSecured(driver), 120_000)

  it('SSL: clients are known by the certificates faultline makes for them', async () => {
    const p = 'User:CN=alice,OU=clients,O=faultline'
    const sec = `{ protocol: SSL, users: [ { name: alice } ], acls: [ ${TOPIC_ALL(p)}, ${GROUP_READ(p)}, ${IDEMPOTENT(p)} ] }`
    const r = await run(scenario('ssl', sec, { driver: 'kafkajs' }), 'ssl')
    expect(r.verdict).toEqual({ state: 'passed', reasons: [] })
    expect(r.delivery.state === 'skipped' ? 0 : r.delivery.stats.consumedValues).toBeGreaterThan(0)
  }, 120_000)

  it('removeAcl takes WRITE away mid-run: sends fail with TOPIC_AUTHORIZATION_FAILED, counted by code, and resume at heal', async () => {
    const p = 'User:alice'
    const sec = `{ protocol: SASL_PLAINTEXT, mechanism: SCRAM-SHA-256, users: [ { name: alice } ], acls: [ { principal: "${p}", operation: WRITE, topic: t }, { principal: "${p}", operation: READ, topic: t }, ${GROUP_READ(p)}, ${IDEMPOTENT(p)} ] }`
    const faults = '  - { at: 1500ms, removeAcl: { principal: "User:alice", operation: WRITE }, duration: 1500ms }\n'
    const r = await run(scenario('remove-acl', sec, { duration: '5s', faults }), 'remove-acl')
    expect(r.errors?.produce.TOPIC_AUTHORIZATION_FAILED ?? 0).toBeGreaterThan(0)
    const fault = r.faults.find((f) => f.kind === 'removeAcl')
    expect(fault?.target).toBe('removed allow User:alice WRITE on topic t')
    expect(fault?.availability?.errorsByCode.TOPIC_AUTHORIZATION_FAILED ?? 0).toBeGreaterThan(0)
    // Healed: the ACL is back and acks resume.
    expect(fault?.availability?.firstAckAfterHealUs).not.toBeNull()
    expect(r.delivery.state).toBe('passed')
  }, 120_000)

  it('revokeUser with connections.max.reauth.ms: the user is refused (SASL_AUTHENTICATION_FAILED by code) until heal, and nothing is lost', async () => {
    const sec = '{ protocol: SASL_PLAINTEXT, mechanism: SCRAM-SHA-256, users: [ { name: alice } ] }'
    const faults = '  - { at: 1500ms, revokeUser: alice, duration: 3s }\n'
    const text = scenario('revoke-user', sec, { driver: 'raw', duration: '6s', faults }).replace('brokers: 1,', 'brokers: 1, config: { connections.max.reauth.ms: "1000" },')
    const r = await run(text, 'revoke-user')
    expect(r.errors?.produce.SASL_AUTHENTICATION_FAILED ?? 0).toBeGreaterThan(0)
    const fault = r.faults.find((f) => f.kind === 'revokeUser')
    expect(fault?.target).toBe('user alice revoked')
    expect(fault?.availability?.firstAckAfterHealUs).not.toBeNull()
    expect(r.delivery.state).toBe('passed')
  }, 120_000)

  it('a workload whose ACLs do not let it join its group errors, naming its principal and the ACL it lacks', async () => {
    const p = 'User:alice'
    const sec = `{ protocol: SASL_PLAINTEXT, mechanism: SCRAM-SHA-256, users: [ { name: alice } ], acls: [ ${TOPIC_ALL(p)}, ${IDEMPOTENT(p)} ] }`
    const r = await run(scenario('no-group-acl', sec, { driver: 'platformatic' }), 'no-group-acl')
    expect(r.verdict.state).toBe('errored')
    expect(r.verdict.reasons.join('\n')).toMatch(/GROUP_AUTHORIZATION_FAILED.*the workload connects as User:alice.*operation: READ, group: faultline-, pattern: prefixed/)
  }, 120_000)
})
