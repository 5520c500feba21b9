// The run's deadline unwinds the teardown stack like Ctrl-C does: results are written (errored), every
// step is logged in reverse order of acquisition, and no broker process or cluster data is left.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runScenario } from '../../scenarios/runner.ts'
import { parseScenario } from '../../scenarios/schema.ts'
import { processesUsing } from './cli.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-teardown-e2e-'))
const env = { ...process.env, FAULTLINE_STATE_DIR: join(root, 'state') }
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('a run past its deadline', () => {
  it('stops, writes errored results and unwinds everything it acquired', async () => {
    const s = parseScenario(
      `
name: deadline
cluster: { backend: local, brokers: 1 }
topics: [ { name: t, partitions: 1 } ]
workload:
  duration: 5m
  warmup: 0s
  driver: raw
  producers: { rate: 100/s, messageSize: 100B }
  consumers: { groups: 1 }
faults:
  - { at: 1s, pause: 1, duration: 4m }
checks:
  delivery: { lost: 0 }
`,
      'deadline.yaml',
    )
    const out = join(root, 'deadline')
    const results = await runScenario(s, { outDir: out, seed: 3, timeoutMs: 12_000, env })
    expect(results.verdict.state).toBe('errored')
    expect(JSON.stringify(results)).toContain('deadline')
    expect(processesUsing(out)).toEqual([])
    expect(existsSync(join(out, 'cluster'))).toBe(false)
    expect(existsSync(join(out, 'ledger.jsonl'))).toBe(false)
    const log = readFileSync(join(out, 'run.log'), 'utf8')
    const steps = [...log.matchAll(/teardown: ([^:]+): done/g)].map((m) => m[1])
    expect(steps.indexOf('faults')).toBeLessThan(steps.indexOf('cluster'))
    expect(steps.indexOf('cluster')).toBeLessThan(steps.indexOf('cluster data directory'))
    expect(steps.at(-1)).toBe('run deadline')
  }, 90_000)
})
