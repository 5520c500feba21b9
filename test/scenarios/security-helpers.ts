// Scenario text and a runner for the security tests (security.test.ts, security.long.test.ts).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
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

