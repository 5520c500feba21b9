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
