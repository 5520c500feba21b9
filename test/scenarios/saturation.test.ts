// The harness knows when it is the bottleneck: a run that asks for more than one process can send is flagged
// in results.json and the console summary; a run well below is not. Real broker, real client.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { renderConsole } from '../../reports/render-console.ts'
import { SATURATED_MESSAGE } from '../../reports/saturation.ts'
import { runScenario } from '../../scenarios/runner.ts'
import { parseScenario } from '../../scenarios/schema.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-saturation-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const run = (name: string, rate: string) =>
  runScenario(parseScenario(`name: ${name}\ncluster: { backend: local, brokers: 1 }\ntopics: [ { name: t, partitions: 2 } ]\nworkload:\n  duration: 3s\n  producers: { rate: ${rate}, messageSize: 100B }\n`, `${name}.yaml`), {
    outDir: join(tmp, name),
    seed: 5,
    // The overloaded run's client may still hold a backlog when the schedule ends; its outcomes are not the point.
    producerGraceMs: 3000,
  })

describe('load generator saturation', () => {
  it('a run asking a million records a second of one process is flagged, with the remedy', async () => {
    const r = await run('flooded', '1000000/s')
    expect(r.loadGenerator?.saturated).toBe(true)
    expect(r.loadGenerator?.message).toBe(SATURATED_MESSAGE)
    expect(r.loadGenerator?.reasons.length).toBeGreaterThan(0)
    expect(r.loadGenerator?.processes.map((p) => p.name)).toEqual(['harness'])
    const text = renderConsole(r)
    expect(text).toContain(SATURATED_MESSAGE)
    expect(text).toMatch(/remedy: spread the load over more processes \(workload\.workers: N/)
  })

  it('a run well below is not', async () => {
    const r = await run('easy', '50/s')
    expect(r.verdict.state).toBe('passed')
    expect(r.loadGenerator).toMatchObject({ saturated: false, message: null, reasons: [], workers: 0 })
    expect(renderConsole(r)).not.toContain('saturated')
  })
})
