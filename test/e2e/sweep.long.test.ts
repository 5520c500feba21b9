// `faultline sweep` as a user runs it: the built CLI, real local brokers (one per point), sweep.json on disk.
// The knee comes from the network, not from this machine's speed: a 300KB/s bandwidth cap on the broker's proxy
// holds 50 records/s of 1 KiB easily and queues anything above 300/s, so produce latency climbs past the SLO.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import type { SweepReport } from '../../reports/sweep.ts'
import { sweepCommand, type SweepFlags } from '../../scenarios/sweep.ts'
import { cli, processesUsing } from './cli.ts'

// The page's globals, as the browser sees them (this project's TypeScript has no DOM types).
declare const window: { faultlineCharts: Record<string, { data: (number | null)[][] }> }

const root = mkdtempSync(join(tmpdir(), 'faultline-sweep-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function scenario(name: string, body: string): string {
  const file = join(root, `${name}.yaml`)
  writeFileSync(file, `name: ${name}
description: A one-broker sweep fixture.
cluster: { backend: local, brokers: 1 }
topics:
  - { name: ${name}, partitions: 1 }
workload:
  driver: raw
  duration: 3s
  warmup: 1s
  producers: { rate: 100/s, messageSize: 1KiB, keys: none }
  consumers: { groups: 1 }
${body}`)
  return file
}

const read = (out: string): SweepReport => JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepReport

describe('faultline sweep', () => {
  it('refuses bad flags and a scenario without a latency SLO (exit 2, naming the flag or checks.slo), running nothing', async () => {
    const ok = scenario('sweep-flags', 'checks:\n  slo: { produce.p99: 1s }\n')
    const noSlo = scenario('sweep-no-slo', 'checks:\n  slo: { errors: 0 }\n')
    const out = join(root, 'refused')
    // Through the built CLI once, then the flags in-process (each CLI start costs seconds on a busy machine).
    const r = await cli(['sweep', noSlo, '--from', '10/s', '--to', '20/s', '--out', out])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/checks\.slo: .* no latency SLO on produce or e2e/)
    const cases: [SweepFlags, RegExp][] = [
      [{ axis: 'colour', from: '1', to: '2' }, /--axis "colour": expected one of rate, partitions, messageSize, producers, workers/],
      [{ to: '20/s' }, /--from: missing/],
      [{ from: '1KiB/s', to: '20/s' }, /--from "1KiB\/s" is a byte rate/],
      [{ from: '20/s', to: '10/s' }, /--to 10\/s: not above --from 20\/s/],
      [{ from: '10/s', to: '20/s', steps: '1' }, /--steps "1": expected a whole number from 2 to 100/],
      [{ axis: 'partitions', from: '0', to: '4' }, /--from "0" is not a whole number from 1/],
      [{ from: '10/s', to: '20/s', coresPerBroker: 'many' }, /--cores-per-broker "many"/],
      [{ from: '10/s', to: '20/s', target: '5MiB/s' }, /--target "5MiB\/s": expected a record rate/],
    ]
    for (const [flags, message] of cases) {
      let stderr = ''
      const code = await sweepCommand(ok, { ...flags, out }, { stdout: { write: () => true }, stderr: Object.assign(new PassThrough(), { write: (x: string) => ((stderr += x), true) }) })
      expect(code, `${JSON.stringify(flags)}: ${stderr}`).toBe(2)
      expect(stderr).toMatch(message)
    }
    expect(existsSync(out)).toBe(false)
  })

  it('finds the knee of a one-broker cluster behind a thin pipe, bisects it, and measures the broker', async () => {
    const file = scenario('sweep-thin', `faults:
  - { name: thin-pipe, at: 0s, bandwidth: { target: all, rate: 300KB/s }, duration: 3s }
checks:
  slo: { produce.p99: 200ms }
`)
    const out = join(root, 'knee')
    const r = await cli(['sweep', file, '--from', '50/s', '--to', '650/s', '--steps', '3', '--refine', '1', '--seed', '7', '--target', '10000/s', '--out', out])
    expect(r.code, r.stderr).toBe(0)
    const s = read(out)
    expect(s.points.map((p) => [p.value, p.refinement])).toEqual([[50, false], [200, true], [350, false], [650, false]])
    expect(s.knee.found, s.knee.message).toBe(true)
    if (!s.knee.found) return
    // 50/s holds; 350/s and 650/s queue behind the 300KB/s cap; the bisection point 200/s decides the knee.
    expect([50, 200]).toContain(s.knee.value)
    expect(s.points.find((p) => p.value === 650)!.slosHeld).toBe(false)
    expect(s.saturation).toMatchObject({ found: true })
    for (const p of s.points) {
      expect(p.verdict, p.error ?? '').not.toBe('errored')
      expect(p.resources.measured, p.label).toBe(true)
      if (p.resources.measured) {
        expect(p.resources.cpuSeconds).toBeGreaterThan(0)
        expect(p.resources.peakRssBytes).toBeGreaterThan(0)
        expect(p.resources.brokers.map((b) => b.id)).toEqual([1])
      }
      expect(existsSync(join(p.dir, 'results.json'))).toBe(true)
      expect(existsSync(join(p.dir, 'history.bin'))).toBe(false)
      expect(processesUsing(p.dir)).toEqual([])
    }
    expect(s.capacity.measured).toBe(true)
    if (s.capacity.measured) {
      expect(s.capacity.cpuSecondsPerGBIn).toBeGreaterThan(0)
      expect(s.capacity.projection.target).toMatchObject({ recordsPerSecond: 10_000 })
    }
    const kneeRow = r.stdout.split('\n').find((l) => l.startsWith('>'))
    expect(kneeRow).toMatch(new RegExp(`^> ${s.knee.label} .*<- knee`))
    expect(r.stdout).toContain(s.knee.message)
    expect(r.stdout).toContain('CPU-seconds per GB in')

    // sweep.html draws the curve from the cluster points, with no errors and no requests.
    const profile = mkdtempSync(join(tmpdir(), 'faultline-chromium-'))
    const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
    try {
      const page = await context.newPage()
      const problems: string[] = []
      const requests: string[] = []
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
      page.on('pageerror', (e) => problems.push(e.message))
      page.on('request', (q) => requests.push(q.url()))
      const url = pathToFileURL(join(out, 'sweep.html')).href
      await page.goto(url, { waitUntil: 'load' })
      const charts = await page.evaluate(() => {
        return Object.fromEntries(Object.entries(window.faultlineCharts).map(([id, u]) => [id, u.data[0]!.length]))
      })
      // The curve follows the points while achieved throughput rises (50, 200, 350/s at least); the other chart has all four.
      expect(charts.follow).toBe(4)
      expect(charts.curve).toBeGreaterThanOrEqual(3)
      expect(problems).toEqual([])
      expect(requests).toEqual([url])
    } finally {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }, 150_000)

  it('says "no knee" when the latency SLOs hold at every point, and bisects nothing', async () => {
    const file = scenario('sweep-easy', 'checks:\n  slo: { produce.p99: 10s, e2e.p99: 10s }\n')
    const out = join(root, 'easy')
    const r = await cli(['sweep', file, '--from', '50/s', '--to', '150/s', '--steps', '2', '--refine', '2', '--seed', '7', '--out', out])
    expect(r.code, r.stderr).toBe(0)
    const s = read(out)
    expect(s.points.map((p) => p.value)).toEqual([50, 150])
    expect(s.points.every((p) => p.slosHeld)).toBe(true)
    expect(s.knee).toMatchObject({ found: false, reason: 'held-everywhere' })
    expect(r.stdout).toMatch(/no knee: SLOs held up to 1\d\d\/s/)
    expect(r.stdout.split('\n').some((l) => l.startsWith('>'))).toBe(false)
  }, 120_000)
})
