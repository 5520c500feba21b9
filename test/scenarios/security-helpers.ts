// Scenario text and a runner for the security tests (security.test.ts, security.long.test.ts).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect } from 'vitest'
import type { Results } from '../../reports/results.ts'
import { runScenario } from '../../scenarios/runner.ts'
import { parseScenario } from '../../scenarios/schema.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-security-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

export const GROUP_READ = (p: string) => `{ principal: "${p}", operation: READ, group: faultline-, pattern: prefixed }`
export const TOPIC_ALL = (p: string) => `{ principal: "${p}", operation: ALL, topic: t }`
export const IDEMPOTENT = (p: string) => `{ principal: "${p}", operation: IDEMPOTENT_WRITE, cluster: true }`

export function scenario(name: string, security: string, opts: { driver?: string; duration?: string; faults?: string } = {}): string {
  return `
name: ${name}
cluster: { backend: local, brokers: 1, security: ${security} }
topics: [ { name: t, partitions: 2 } ]
workload:
  duration: ${opts.duration ?? '3s'}
  warmup: 500ms
  ${opts.driver ? `driver: ${opts.driver}` : ''}
  producers: { rate: 200/s, messageSize: 100B, acks: all, idempotent: true }
  consumers: { groups: 1, membersPerGroup: 1 }
${opts.faults ? `faults:\n${opts.faults}` : ''}
checks:
  delivery: { lost: 0, duplicates: 0, reordered: 0, inconsistentOffsets: 0 }
`
}

export const run = (text: string, name: string, seed = 7): Promise<Results> => runScenario(parseScenario(text, `${name}.yaml`), { outDir: join(tmp, name), seed })


/** The workload produces and consumes over SASL_SSL with SCRAM-SHA-512 as alice, under ACLs that let it. */
export async function expectDriverRunsSecured(driver: string): Promise<void> {
  const p = 'User:alice'
  const sec = `{ protocol: SASL_SSL, mechanism: SCRAM-SHA-512, users: [ { name: alice, password: a-secret } ], acls: [ ${TOPIC_ALL(p)}, ${GROUP_READ(p)}, ${IDEMPOTENT(p)} ] }`
  const r = await run(scenario(`sasl-${driver}`, sec, { driver }), `sasl-${driver}`)
  expect(r.verdict).toEqual({ state: 'passed', reasons: [] })
  const d = r.delivery.state === 'skipped' ? null : r.delivery.stats
  expect(d?.acks).toBeGreaterThan(0)
  expect(d?.consumedValues).toBe(d?.acks)
}
