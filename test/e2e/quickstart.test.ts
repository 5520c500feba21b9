// `faultline run` as a user runs it: the built CLI as a real process, a real local broker, results on disk.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { anomalyKinds } from '../../reports/checker.ts'
import type { LatencySummary } from '../../workloads/history/latency.ts'
import { type Results, readResults } from '../../reports/results.ts'
import { cli, processesUsing } from './cli.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-e2e-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function expectOrdered(name: string, s: LatencySummary): void {
  expect(s.count, `${name} count`).toBeGreaterThan(0)
  const chain = [s.min, s.p50, s.p90, s.p95, s.p99, s.p999, s.p9999, s.max]
  for (const v of chain) expect(v, `${name} percentiles present`).not.toBeNull()
  for (let i = 1; i < chain.length; i++) expect(chain[i]!, `${name} percentiles ordered`).toBeGreaterThanOrEqual(chain[i - 1]!)
}

describe('faultline run', () => {
  it('runs scenarios/quickstart.yaml against a real local broker and writes results that pass', async () => {
    const out = join(root, 'quickstart')
    const run = await cli(['run', 'scenarios/quickstart.yaml', '--out', out, '--seed', '42'])
    expect(run.code, run.stderr).toBe(0)

    const r: Results = readResults(join(out, 'results.json'))
    expect(r.schemaVersion).toBe(2)
    expect(r.scenario.name).toBe('quickstart')
    expect(r.scenario.digest).toMatch(/^[0-9a-f]{64}$/)
    expect(r.run.seed).toBe(42)
    expect(r.run.cluster).toMatchObject({ backend: 'local', nodes: [{ id: '1' }] })
    expect(r.history.complete).toBe(true)

    // 1000/s for 20 s, of which 15 s are measured after the 5 s warmup.
    const m = r.metrics
    expect(m.totals.sent).toBeGreaterThanOrEqual(19_900)
    expect(m.totals.sent).toBeLessThanOrEqual(20_000)
    expect(m.totals.acked).toBe(m.totals.sent)
    expect(m.window.warmupEndUs).not.toBeNull()
    expect(m.window.durationUs).toBeGreaterThan(14_500_000)
    expect(m.produce.rate).toBeGreaterThan(900)
    expect(m.produce.rate).toBeLessThan(1100)
    expect(m.consume.rate).toBeGreaterThan(900)
    expect(m.errors.total).toBe(0)
    expectOrdered('produce', m.produce.latency)
    expectOrdered('produce from intended', m.produce.latencyFromIntended)
    expectOrdered('end-to-end', m.e2e)

    expect(r.delivery.state).toBe('passed')
    if (r.delivery.state === 'skipped') return
    for (const kind of anomalyKinds) {
      expect(r.delivery.anomalies[kind], kind).toMatchObject({ checked: true, count: 0, exceeded: false })
    }
    expect(r.delivery.sendOrder).toBe(true)
    const st = r.delivery.stats
    expect(st.values).toBe(m.totals.sent)
    expect(st.acks).toBe(st.values)
    expect(st.consumedValues).toBe(st.values)

    expect(r.slos.map((s) => [s.metric, s.state])).toEqual([
      ['produce.p99', 'passed'],
      ['e2e.p99', 'passed'],
      ['throughput', 'passed'],
      ['errors', 'passed'],
    ])
    expect(r.timeseries.acked.length).toBeGreaterThanOrEqual(20)
    expect(r.timeseries.acked.length).toBeLessThanOrEqual(24)
    expect(r.faults).toEqual([])
    expect(r.verdict).toEqual({ state: 'passed', reasons: [] })

    // The summary on stdout, progress on stderr, results.md beside results.json.
    expect(run.stdout).toMatch(/^faultline {2}quickstart {2}PASSED$/m)
    expect(run.stdout).toMatch(/^verdict {2}PASSED$/m)
    expect(run.stderr).toMatch(/^\[ ?\d+s\/20s\] \| sent [\d,]+\/s acked/m)
    const md = readFileSync(join(out, 'results.md'), 'utf8')
    expect(md).toMatch(/^# faultline: quickstart$/m)

    const report = await cli(['report', join(out, 'results.json'), '--format', 'md'])
    expect(report.code).toBe(0)
    expect(report.stdout).toBe(md)
    // report.html beside them, the page `faultline report --format html` renders (test/reports/render-html.test.ts opens it in a browser).
    expect(run.stdout).toContain(join(out, 'report.html'))
    const html = await cli(['report', join(out, 'results.json'), '--format', 'html'])
    expect(html.code).toBe(0)
    expect(html.stdout).toBe(readFileSync(join(out, 'report.html'), 'utf8'))
    expect(processesUsing(out)).toEqual([])
  }, 150_000)

  it('kills the only broker mid-run, restarts it, records the fault and checks that no acked record was lost', async () => {
    const out = join(root, 'kill')
    const scenario = join(root, 'kill.yaml')
    writeFileSync(
      scenario,
      `name: kill-single-broker
cluster: { backend: local, brokers: 1 }
topics: [ { name: events, partitions: 2 } ]
workload:
  duration: 12s
  warmup: 1s
  producers: { rate: 300/s, messageSize: 256B, keys: round-robin, acks: all, idempotent: true }
  consumers: { groups: 1 }
faults:
  - { name: crash, at: 4s, kill: 1, restartAfter: 3s }
checks:
  delivery: { lost: 0, duplicates: 0, reordered: 0, inconsistentOffsets: 0, failedWritesRead: 0 }
`,
    )
    const run = await cli(['run', scenario, '--out', out, '--seed', '5'])
    const r = readResults(join(out, 'results.json'))
    expect(r.faults).toHaveLength(1)
    const f = r.faults[0]!
    expect(f).toMatchObject({ id: 0, name: 'crash', target: 'node 1' })
    expect(f.startUs).toBeGreaterThanOrEqual(4_000_000)
    expect(f.endUs).not.toBeNull()
    expect(f.endUs! - f.startUs).toBeGreaterThanOrEqual(3_000_000)
    // Nothing can be acknowledged while the only broker is down.
    expect(r.metrics.unavailability.longestGapUs).toBeGreaterThanOrEqual(2_500_000)
    expect(r.delivery.state).not.toBe('skipped')
    if (r.delivery.state === 'skipped') return
    for (const kind of ['lost', 'duplicates', 'inconsistentOffsets', 'reordered', 'failedWritesRead'] as const) {
      expect(r.delivery.anomalies[kind], kind).toMatchObject({ checked: true, count: 0 })
    }
    expect(r.delivery.stats.acks).toBeGreaterThan(0)
    expect(r.delivery.stats.consumedValues).toBe(r.delivery.stats.acks)
    expect(run.stderr).toMatch(/crash: killed node 1/)
    expect(run.stderr).toMatch(/crash: restarted node 1/)
    expect(run.code, run.stderr).toBe(0)
    expect(processesUsing(out)).toEqual([])
  }, 150_000)

  it('stops on Ctrl-C, closes the cluster and still writes an errored results.json', async () => {
    const out = join(root, 'sigint')
    let sent = false
    const run = await cli(['run', 'scenarios/quickstart.yaml', '--out', out, '--seed', '9'], (soFar, child) => {
      if (!sent && /^\[ ?\d+s\/20s/m.test(soFar)) {
        sent = true
        child.kill('SIGINT')
      }
    })
    expect(sent).toBe(true)
    expect(run.code, run.stderr).toBe(3)
    expect(run.stderr).toMatch(/interrupted: stopping the run/)
    const r = readResults(join(out, 'results.json'))
    expect(r.verdict.state).toBe('errored')
    expect(r.verdict.reasons[0]).toMatch(/^harness: interrupted at \d+\.\d s of 20s/)
    expect(r.metrics.totals.sent).toBeGreaterThan(0)
    expect(r.metrics.totals.sent).toBeLessThan(19_000)
    expect(existsSync(join(out, 'results.md'))).toBe(true)
    expect(existsSync(join(out, 'report.html'))).toBe(true)
    expect(run.stdout).toMatch(/^verdict {2}ERRORED$/m)
    expect(processesUsing(out)).toEqual([])
  }, 90_000)
})

