// Load workers never outlive their runner, even when it is SIGKILLed (a long test: a whole run through the CLI).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cli, processesUsing } from '../e2e/cli.ts'
import { until } from '../helpers/until.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-workers-long-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const scenario = `
name: harness-killed
cluster: { backend: local, brokers: 1 }
topics: [ { name: t, partitions: 4 } ]
workload:
  duration: 30s
  warmup: 1s
  workers: 2
  producers: { rate: 400/s, messageSize: 200B, keys: round-robin }
  consumers: { groups: 1, membersPerGroup: 2 }
`

describe('load workers and a killed harness', () => {
  it('local workers never outlive their runner: a SIGKILLed harness takes them (and its brokers) with it', async () => {
    const out = join(tmp, 'harness-killed')
    const file = join(tmp, 'harness-killed.yaml')
    writeFileSync(file, scenario)
    let workers: string[] = []
    const run = await cli(['run', file, '--out', out, '--seed', '4'], (soFar, child) => {
      if (workers.length > 0 || !soFar.includes('\nrunning ')) return
      workers = processesUsing(join(out, 'workers'))
      child.kill('SIGKILL')
    })
    expect(run.signal).toBe('SIGKILL')
    expect(workers).toHaveLength(2)
    await until('the workers and brokers of the killed run to exit', () => processesUsing(out).length === 0, 30_000)
  }, 120_000)
})

describe('load workers on different clocks', () => {
  it('end-to-end latency counts only records consumed on the clock they were produced on, and the results say so', async () => {
    const { spawn } = await import('node:child_process')
    const { CLI_PATH } = await import('../../chaos/cluster/broker-process.ts')
    const { runScenario } = await import('../../scenarios/runner.ts')
    const { parseScenario } = await import('../../scenarios/schema.ts')
    const procs = [0, 1].map((i) =>
      spawn(process.execPath, [CLI_PATH, 'worker', '--listen', '127.0.0.1:0', '--dir', join(tmp, `clock-${i}`)], {
        stdio: ['ignore', 'pipe', 'ignore'],
        // Worker 1 plays one on another machine: another boot id, so another clock as far as the runner knows.
        env: i === 1 ? { ...process.env, FAULTLINE_BOOT_ID: 'another-machine' } : process.env,
      }),
    )
    try {
      const lines = procs.map(() => '')
      procs.forEach((p, i) => p.stdout.on('data', (d: Buffer) => (lines[i] += d.toString())))
      await until('both workers\' listening lines', () => lines.every((l) => l.includes('\n')), 30_000)
      const addresses = lines.map((l) => (JSON.parse(l) as { address: string }).address)
      const text = scenario.replace('duration: 30s', 'duration: 5s').replace('workers: 2', `workers: ${JSON.stringify(addresses)}`) + 'checks:\n  delivery: { lost: 0, duplicates: 0, inconsistentOffsets: 0 }\n'
      const r = await runScenario(parseScenario(text, 'clocks.yaml'), { outDir: join(tmp, 'clocks'), seed: 11 })
      expect(r.verdict).toEqual({ state: 'passed', reasons: [] })
      expect(r.loadGenerator?.clocks).toMatch(/^the workers run on 2 clocks \(worker 1 \(127\.0\.0\.1:\d+\) offset -?[\d.]+ ± [\d.]+ ms\); end-to-end latency counts only records consumed on the clock they were produced on$/)
      // Each worker consumes half the partitions and produces half the records: about half cross clocks.
      expect(r.metrics.e2e.count).toBeGreaterThan(0)
      expect(r.metrics.e2e.count).toBeLessThan(r.metrics.consume.records * 0.8)
    } finally {
      for (const p of procs) p.kill('SIGKILL')
    }
  }, 180_000)
})
