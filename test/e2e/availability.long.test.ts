// In the long suite (npm run test:long): a broker restart takes up to ~10 s on a busy machine, so the run is 25 s.
// A short real run with a leader kill: `faultline run` as a process, 3 brokers, the leader of orders/0
// SIGKILLed and restarted. Its results.json records the fault (kind, resolved node, parameters) with an
// availability section whose figures are plausible for the load, the console and markdown summaries show it,
// and the same history judged with SLOs just below the measured figures fails them.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildResults, readResults } from '../../reports/results.ts'
import { cli, processesUsing } from './cli.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-availability-run-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const SCENARIO = `
name: availability-leader-kill
cluster:
  backend: local
  brokers: 3
  config: { broker.session.timeout.ms: 3000, broker.heartbeat.interval.ms: 500 }
topics: [ { name: orders, partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } } ]
workload:
  driver: raw
  duration: 25s
  warmup: 2s
  producers: { rate: 500/s, messageSize: 256B, keys: round-robin, acks: all, idempotent: true }
  consumers: { groups: 1 }
faults:
  - { at: 6s, kill: { leaderOf: orders/0 }, restartAfter: 3s }
checks:
  delivery: { lost: 0, duplicates: 0 }
  slo: { unavailability: 15s, recovery: 9s }
`

describe('availability of a real run with a leader kill', () => {
  it('records the fault and its availability, renders it, and fails SLOs set below the measured figures', async () => {
    const file = join(root, 'kill.yaml')
    writeFileSync(file, SCENARIO)
    const out = join(root, 'out')
    const run = await cli(['run', file, '--out', out, '--seed', '5'])
    expect([0, 1], run.stderr).toContain(run.code)
    expect(processesUsing(out)).toEqual([])
    const r = readResults(join(out, 'results.json'))
    expect(r.faults).toHaveLength(1)
    const f = r.faults[0]!
    expect(f.kind).toBe('kill')
    expect(f.nodes).toHaveLength(1)
    expect([1, 2, 3]).toContain(f.nodes[0])
    expect(f.target).toBe(`leader of orders/0 (node ${f.nodes[0]})`)
    expect(f.params).toEqual({ restartAfterMs: 3000 })
    const a = f.availability!
    console.log(`leader kill availability: ${JSON.stringify(a)}`)
    // A third of the partitions lose their leader: acks stop for at most the kill's length plus failover.
    expect(a.produceGapUs).toBeGreaterThan(0)
    expect(a.produceGapUs).toBeLessThan(14_000_000)
    expect(a.consumeGapUs).not.toBeNull()
    expect(a.baselineRate).toBeGreaterThan(500 * 0.7)
    expect(a.baselineRate).toBeLessThan(500 * 1.3)
    expect(a.healUs).toBe(f.endUs)
    expect(a.firstAckAfterHealUs).not.toBeNull()
    expect(a.recovered).toBe(true)
    expect(a.recoveryUs).toBeLessThan(9_000_000)
    expect(r.slos.map((s) => [s.metric, s.state])).toEqual([
      ['unavailability', 'passed'],
      ['recovery', 'passed'],
    ])
    expect(run.stdout).toMatch(/unavailable [\d.]+ (s|ms) produce, [\d.]+ (s|ms) consume, errors .*, first ack [\d.]+ (s|ms|µs) after heal, recovery /)
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toMatch(/### Availability/)

    // The same history, judged below what was measured.
    const below = await buildResults(join(out, 'history.bin'), {
      scenario: r.scenario,
      run: r.run,
      delivery: { skip: 'SLOs only' },
      slo: { unavailability: r.metrics.unavailability.longestGapUs - 1, ...(a.recoveryUs! > 0 ? { recovery: a.recoveryUs! - 1 } : {}) },
    })
    expect(below.slos.every((s) => s.state === 'failed')).toBe(true)
    expect(below.verdict.state).toBe('failed')
  }, 180_000)
})
