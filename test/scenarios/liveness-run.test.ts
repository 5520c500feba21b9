// The liveness watchdog in a real run: one reference broker, a real client, consumers paused on purpose a
// second into the load and never resumed (RunOptions.stallConsumersAfterMs). The run must say so while it
// runs and fail (exit 1) with the drain left behind, although no delivery limit forbids unseen records.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { exitCodeOf } from '../../reports/results.ts'
import { runScenario } from '../../scenarios/runner.ts'
import { parseScenario } from '../../scenarios/schema.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-liveness-run-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const scenario = parseScenario(
  `name: stalled-consumers
cluster: { backend: local, brokers: 1 }
topics: [ { name: s, partitions: 2 } ]
workload:
  duration: 4s
  producers: { rate: 200/s, messageSize: 100B }
  consumers: { groups: 1 }
checks:
  delivery: { lost: 0, duplicates: 0 }
`,
  'stalled.yaml',
)

describe('the liveness watchdog', () => {
  it('fails a run whose consumers stop while acknowledged records wait', async () => {
    const lines: string[] = []
    const progress = { info: (l: string) => lines.push(l), status() {}, done() {} }
    const r = await runScenario(scenario, { outDir: join(tmp, 'out'), seed: 7, progress, livenessMs: 1000, drainTimeoutMs: 2000, stallConsumersAfterMs: 1000 })
    expect(lines.some((l) => /^liveness: consumers of consumer-0-g0 made no progress for \d+\.\d s while \d+ acknowledged records waited$/.test(l))).toBe(true)
    expect(r.delivery.state === 'skipped' ? null : r.delivery.anomalies.unseen.count).toBeGreaterThan(0)
    expect(r.liveness?.drain?.state).toBe('behind')
    expect(r.liveness?.consumers?.group).toBe('consumer-0-g0')
    expect(r.verdict.state).toBe('failed')
    expect(r.verdict.reasons.some((x) => x.startsWith('liveness: consumers did not catch up:'))).toBe(true)
    expect(exitCodeOf(r)).toBe(1)
  }, 120_000)
})
