// `faultline explore` as a user runs it, on real brokers: a scenario no generated schedule can break passes
// every run with exit 0, keeping each run's record but not its heavy files; Ctrl-C ends the current run with
// its cluster torn down (no broker left) and exits 3; a drawn partition that cuts the clients off is written as
// a scenario that validates and fails again (about a minute). Finding and shrinking a real failure takes
// minutes: test/e2e/explore.long.test.ts. Both in the long suite since npm test neared its 15-minute budget
// (49 s of file time); test/scenarios/explore.test.ts keeps the search and shrink logic in npm test.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readResults } from '../../reports/results.ts'
import { parseScenario } from '../../scenarios/schema.ts'
import { cli, processesUsing } from './cli.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-explore-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

// acks=all, RF 3, min.insync.replicas 2, idempotent producers, and only pauses: no acknowledged write can be lost.
const ROBUST = `
name: explore-robust
cluster: { backend: local, brokers: 3 }
topics: [ { name: t, partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } } ]
workload:
  driver: raw
  duration: 8s
  warmup: 1s
  producers: { rate: 300/s, messageSize: 128B, acks: all, idempotent: true }
  consumers: { groups: 1 }
checks:
  delivery: { lost: 0, duplicates: 0, inconsistentOffsets: 0, failedWritesRead: 0 }
`

const CLIENTS_CUT = `
name: explore-clients-cut
cluster: { backend: local, brokers: 1 }
topics: [ { name: t, partitions: 1, replicationFactor: 1 } ]
workload:
  driver: raw
  duration: 4s
  warmup: 1s
  producers: { rate: 200/s, messageSize: 128B, acks: all }
  consumers: { groups: 1 }
checks:
  delivery: { lost: 0 }
  slo: { unavailability: 500ms }
`

describe('faultline explore', () => {
  it('passes every schedule of a scenario that cannot fail, with exit 0, and keeps the runs small', async () => {
    const file = join(root, 'robust.yaml')
    writeFileSync(file, ROBUST)
    const out = join(root, 'robust')
    const r = await cli(['explore', file, '--runs', '2', '--seed', '5', '--kinds', 'pause', '--out', out])
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toMatch(/^explore PASSED: 2 schedules, every check held\n {2}seed 5 /)
    const journal = readFileSync(join(out, 'explore.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { verdict: string; faults: Record<string, unknown>[] })
    expect(journal.map((j) => j.verdict)).toEqual(['passed', 'passed'])
    for (const j of journal) for (const f of j.faults) expect(Object.keys(f)).toEqual(['at', 'pause', 'duration'])
    for (const d of ['run-001', 'run-002']) expect(readdirSync(join(out, d)).sort()).toEqual(['results.json', 'run.log', 'scenario.yaml'])
    expect(existsSync(join(out, 'counterexample.yaml'))).toBe(false)
    expect(processesUsing(out)).toEqual([])
  }, 240_000)

  // One broker, so the only partition shape is the clients cut off: every schedule breaks a 500 ms
  // unavailability SLO, and the written scenario must be valid and fail again when run from the file.
  it('draws partitions, and writes a failing schedule as a valid scenario that fails again when run', async () => {
    const file = join(root, 'clients-cut.yaml')
    writeFileSync(file, CLIENTS_CUT)
    const out = join(root, 'clients-cut')
    const r = await cli(['explore', file, '--runs', '1', '--seed', '3', '--kinds', 'partition', '--fault-duration', '1s-1s', '--shrink-runs', '0', '--confirm', '1', '--checks', 'all', '--out', out])
    expect(r.code, r.stderr + r.stdout).toBe(1)
    expect(r.stdout).toMatch(/^explore FAILED: search run 1 of 1 broke the checks\n {2}first failing schedule {2}partition \(isolate clients\) at /)
    expect(r.stdout).toMatch(/which fails with {2}SLO unavailability: .*, wanted <= 500 ms/)
    expect(r.stdout).toMatch(/confirmed {2}the written scenario failed 1 of 1 runs/)
    const journal = readFileSync(join(out, 'explore.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { phase: string; faults: Record<string, unknown>[] })
    expect(journal.map((j) => j.phase)).toEqual(['search', 'confirm'])
    for (const f of journal[0]!.faults) expect(f).toMatchObject({ partition: { isolate: 'clients' }, heal: '1s' })
    const path = join(out, 'counterexample.yaml')
    const written = parseScenario(readFileSync(path, 'utf8'), path)
    expect(written.faults.length).toBeGreaterThanOrEqual(1)
    for (const f of written.faults) expect(f).toMatchObject({ kind: 'partition', split: { kind: 'clients' }, healAfterMs: 1000 })
    const validate = await cli(['validate', path])
    expect(validate.code, validate.stderr).toBe(0)
    expect(processesUsing(out)).toEqual([])
  }, 240_000)

  it('on Ctrl-C ends the current run, tears its cluster down and exits 3', async () => {
    const file = join(root, 'robust-int.yaml')
    writeFileSync(file, ROBUST)
    const out = join(root, 'interrupted')
    let sent = false
    const r = await cli(['explore', file, '--runs', '5', '--seed', '5', '--kinds', 'pause', '--out', out, '--verbose'], (soFar, child) => {
      if (!sent && /running 8s/.test(soFar)) {
        sent = true
        child.kill('SIGINT')
      }
    })
    expect(sent).toBe(true)
    expect(r.code, r.stderr + r.stdout).toBe(3)
    expect(r.stderr).toMatch(/interrupted: ending the current run/)
    expect(r.stdout).toMatch(/^explore INTERRUPTED after 1 run /)
    const interrupted = readResults(join(out, 'run-001', 'results.json'))
    expect(interrupted.verdict.state).toBe('errored')
    expect(interrupted.verdict.reasons.join('; ')).toMatch(/interrupted at [\d.]+ s of 8s/)
    expect(processesUsing(out)).toEqual([])
    expect(existsSync(join(out, 'run-001', 'cluster'))).toBe(false)
  }, 240_000)
})
