// Load workers (workload.workers) with real broker and worker processes: two local workers deliver and pass the
// checker from one merged history; a worker killed mid-run fails the run with exit 3 and says which; remote
// workers started as their own `faultline worker` processes take part; and the plan splits the scenario's
// load so the aggregate is what it says.

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import type { Results } from '../../reports/results.ts'
import { RunError, runScenario } from '../../scenarios/runner.ts'
import { parseScenario } from '../../scenarios/schema.ts'
import { BlockValueIds } from '../../scenarios/worker.ts'
import { planWorkers } from '../../scenarios/workers.ts'
import { readHistory } from '../../workloads/history/reader.ts'
import { cli, processesUsing } from '../e2e/cli.ts'
import { until } from '../helpers/until.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-workers-test-'))
const spawned: ChildProcess[] = []
afterAll(() => {
  for (const p of spawned) p.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
})

const scenarioText = (name: string, workers: string, extra = ''): string => `
name: ${name}
cluster: { backend: local, brokers: 1 }
topics: [ { name: t, partitions: 4 } ]
workload:
  duration: 4s
  warmup: 1s
  workers: ${workers}
  producers: { rate: 400/s, messageSize: 200B, keys: round-robin${extra} }
  consumers: { groups: 1, membersPerGroup: 2 }
checks:
  delivery: { lost: 0, duplicates: 0, reordered: 0, inconsistentOffsets: 0, failedWritesRead: 0 }
`

/** Producer names and value ids of the sends in a run's (merged) history. */
async function sends(results: Results): Promise<{ producers: Set<string>; values: number[] }> {
  const producers = new Set<string>()
  const values: number[] = []
  for await (const e of readHistory(results.history.path)) {
    if (e.type === 'send') {
      producers.add(e.producer)
      values.push(e.value)
    }
  }
  return { producers, values }
}

function expectClean(results: Results): void {
  expect(results.verdict).toEqual({ state: 'passed', reasons: [] })
  expect(results.delivery.state).toBe('passed')
  if (results.delivery.state === 'skipped') return
  // The examples say which member, partition and offsets: a failure under load is otherwise hard to place.
  for (const [kind, a] of Object.entries(results.delivery.anomalies)) expect(a.count, `${kind}: ${JSON.stringify(a.examples)}`).toBe(0)
  const st = results.delivery.stats
  expect(st.acks).toBeGreaterThan(0)
  expect(st.consumedValues).toBe(st.values)
  expect(st.unknownValueEvents).toBe(0)
  expect(st.sendOrderViolations).toBe(0)
}

describe('load workers', () => {
  it('workers: 2 runs the load in two local processes; the merged history passes the checker with 0 anomalies and nothing stays behind', async () => {
    const out = join(tmp, 'two')
    const results = await runScenario(parseScenario(scenarioText('two', '2', ', count: 2'), 'two.yaml'), { outDir: out, seed: 7 })
    expectClean(results)
    const { producers, values } = await sends(results)
    // count: 2 splits the clients: one per worker, each with its own block of value ids.
    expect([...producers].sort()).toEqual(['producer-0-0', 'producer-0-1'])
    expect(values.some((v) => v < 4096)).toBe(true)
    expect(values.some((v) => v >= 4096 && v < 8192)).toBe(true)
    expect(new Set(values).size).toBe(values.length)
    expect(results.loadGenerator?.workers).toBe(2)
    expect(results.loadGenerator?.processes.map((p) => p.name.replace(/\(.*\)/, '()'))).toEqual(['harness', 'worker 0 ()', 'worker 1 ()'])
    expect(results.loadGenerator?.clocks).toBeNull()
    // The workers' parts were merged into history.bin and removed; their processes are gone.
    expect(readdirSync(join(out, 'workers')).filter((f) => f.endsWith('.bin'))).toEqual([])
    expect(processesUsing(out)).toEqual([])
  }, 120_000)

  it('a worker killed mid-run fails the run with exit 3 and a message naming it; the other worker and the brokers stop', async () => {
    const out = join(tmp, 'killed')
    const file = join(tmp, 'killed.yaml')
    writeFileSync(file, scenarioText('killed', '2').replace('duration: 4s', 'duration: 30s'))
    let killed = false
    const run = await cli(['run', file, '--out', out, '--seed', '3'], (soFar) => {
      if (killed || !soFar.includes('\nrunning ')) return
      const pid = /worker 1 \([^)]*pid (\d+)\)/.exec(soFar)?.[1]
      if (pid === undefined) return
      killed = true
      process.kill(Number(pid), 'SIGKILL')
    })
    expect(killed).toBe(true)
    expect(run.code).toBe(3)
    expect(run.stdout).toMatch(/ERR_RUN_WORKER: load worker 1 \(127\.0\.0\.1:\d+, pid \d+\) exited \(SIGKILL\) [\d.]+ s into the run; the run stopped/)
    expect(processesUsing(out)).toEqual([])
  }, 120_000)

  it('refuses, before anything starts, a scenario naming an address where no faultline worker answers', async () => {
    const out = join(tmp, 'nobody')
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as AddressInfo).port
    await new Promise((r) => probe.close(r))
    const err = await runScenario(parseScenario(scenarioText('nobody', `[ "127.0.0.1:${port}" ]`), 'nobody.yaml'), { outDir: out, seed: 1 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RunError)
    expect((err as RunError).exitCode).toBe(2)
    expect((err as RunError).message).toBe(`workload.workers[0]: no faultline worker answers at 127.0.0.1:${port} (ECONNREFUSED); expected \`faultline worker --listen 127.0.0.1:${port}\` running there`)
    expect(existsSync(out)).toBe(false)
  })

  it('a remote worker stops a run whose runner went silent, and refuses a second runner while it runs one', async () => {
    const p = spawn(process.execPath, [CLI_PATH, 'worker', '--listen', '127.0.0.1:0', '--dir', join(tmp, 'silent')], { stdio: ['ignore', 'pipe', 'pipe'] })
    spawned.push(p)
    let line = ''
    let err = ''
    p.stdout!.on('data', (d: Buffer) => (line += d.toString()))
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    await until('the worker\'s listening line', () => line.includes('\n'), 30_000)
    const url = `http://${(JSON.parse(line) as { address: string }).address}`
    const plan = { index: 0, count: 1, driver: 'raw', connect: { bootstrap: ['127.0.0.1:9'] }, durationMs: 60_000, warmupMs: 0, heartbeatMs: 300, valueBlock: 4096, sameClock: [true], consumers: [], producers: [] }
    const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) })
    expect((await post('/prepare', plan)).status).toBe(200)
    const second = await post('/prepare', plan)
    expect(second.status).toBe(409)
    expect(await second.json()).toEqual({ error: 'this worker is already part of a run; expected one runner at a time' })
    await until('the worker to give up on its runner', () => err.includes('the runner was not heard for 300 ms: run stopped, clients closed'), 10_000)
    expect(((await (await fetch(`${url}/info`)).json()) as { busy: boolean }).busy).toBe(false)
  })

  it('remote workers started as their own `faultline worker` processes take part; their records are in the merged history', async () => {
    const host = `127.0.0.${2 + Math.floor(Math.random() * 250)}`
    const addresses: string[] = []
    for (let i = 0; i < 2; i++) {
      const p = spawn(process.execPath, [CLI_PATH, 'worker', '--listen', `${host}:0`, '--dir', join(tmp, `remote-${i}`)], { stdio: ['ignore', 'pipe', 'pipe'] })
      spawned.push(p)
      let line = ''
      p.stdout!.on('data', (d: Buffer) => (line += d.toString()))
      await until('the worker\'s listening line', () => line.includes('\n'), 30_000)
      addresses.push((JSON.parse(line) as { address: string }).address)
    }
    const out = join(tmp, 'remote')
    const results = await runScenario(parseScenario(scenarioText('remote', JSON.stringify(addresses)), 'remote.yaml'), { outDir: out, seed: 9 })
    expectClean(results)
    const { producers } = await sends(results)
    // One client in the scenario, two workers: each runs it at half the rate, under its own name.
    expect([...producers].sort()).toEqual(['producer-0@w0', 'producer-0@w1'])
    expect(results.loadGenerator?.processes.map((p) => p.name)).toEqual(['harness', `worker 0 (${addresses[0]})`, `worker 1 (${addresses[1]})`])
    // A remote worker outlives the run (it serves the next one) but keeps no run's files.
    expect(spawned.every((p) => p.exitCode === null)).toBe(true)
    expect(existsSync(join(tmp, 'remote-0', 'history.bin'))).toBe(false)
  }, 120_000)
})

describe('the workers plan', () => {
  const s = parseScenario(
    `name: p\ntopics: [ { name: a, partitions: 3 }, { name: b, partitions: 2 } ]\nworkload:\n  duration: 10s\n  workers: 3\n  producers:\n    - { name: many, count: 4, rate: 1200/s, topics: [a] }\n    - { name: one, rate: 900/s, topics: [a, b] }\n  consumers: { groups: 2, membersPerGroup: 2 }\n`,
    'p.yaml',
  )
  const plans = planWorkers(s, 3, { connect: { bootstrap: ['127.0.0.1:9092'] }, seed: 1, groupPrefix: 'g', sameClock: [[true, true, true], [true, true, true], [true, true, true]] })
  const loops = plans.flatMap((p) => p.producers.flatMap((c) => c.loops))

  it('adds up to the scenario: every group\'s rate, once', () => {
    const rate = (prefix: string) => loops.filter((l) => l.name.startsWith(prefix)).reduce((n, l) => n + (l.rate.kind === 'fixed' ? l.rate.perSecond : 0), 0)
    expect(rate('many')).toBeCloseTo(1200)
    expect(rate('one')).toBeCloseTo(900)
    // Four clients over three workers: split, never copied; one client: every worker runs it at a third.
    expect(plans.map((p) => p.producers.filter((c) => c.client.startsWith('many')).length)).toEqual([2, 1, 1])
    expect(plans.map((p) => p.producers.filter((c) => c.client.startsWith('one')).length)).toEqual([1, 1, 1])
    expect(new Set(loops.map((l) => l.name)).size).toBe(loops.length)
    expect(new Set(loops.map((l) => l.seed)).size).toBe(loops.length)
  })

  it('splits each group\'s members among the workers', () => {
    expect(plans.map((p) => p.consumers[0]!.members)).toEqual([[0], [1], []])
  })

  it('hands out value ids in blocks no two workers share', () => {
    const ids = [0, 1, 2].map((k) => new BlockValueIds(k, 3, 4))
    const taken = ids.flatMap((g) => Array.from({ length: 10 }, () => g.next()))
    expect(new Set(taken).size).toBe(30)
    expect(taken.slice(0, 10)).toEqual([0, 1, 2, 3, 12, 13, 14, 15, 24, 25])
    expect(ids[0]!.issued).toBe(10)
  })
})
