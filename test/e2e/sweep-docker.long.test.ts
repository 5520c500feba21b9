// `faultline sweep` on the docker backend: each point's broker container is measured over the measured window
// from the Docker Engine's stats (CPU seconds, memory without the page cache, bytes written), as local brokers
// are from /proc, so the capacity model has figures to work from; no container or network stays behind.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { SweepReport } from '../../reports/sweep.ts'
import { dockerTitle, ensureDockerEngine } from '../helpers/docker.ts'
import { cli } from './cli.ts'

const engine = await ensureDockerEngine()
if (!engine.ok) console.warn(`docker sweep test skipped: ${engine.reason}`)

const root = mkdtempSync(join(tmpdir(), 'faultline-sweep-docker-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe.skipIf(!engine.ok)(dockerTitle('faultline sweep on docker', engine), () => {
  it('measures every point\'s broker container and builds the capacity model from them', async () => {
    const file = join(root, 'dsweep.yaml')
    writeFileSync(file, `name: dsweep
cluster: { backend: docker, brokers: 1 }
topics: [ { name: t, partitions: 2 } ]
workload:
  driver: raw
  duration: 4s
  warmup: 1s
  producers: { rate: 500/s, messageSize: 1KiB, keys: none }
  consumers: { groups: 1 }
checks:
  slo: { produce.p99: 2s }
`)
    const out = join(root, 'out')
    const r = await cli(['sweep', file, '--from', '500/s', '--to', '2000/s', '--steps', '2', '--refine', '0', '--seed', '3', '--out', out])
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepReport
    expect(s.points).toHaveLength(2)
    for (const p of s.points) {
      expect(p.verdict, p.error ?? '').not.toBe('errored')
      expect(p.resources, p.label).toMatchObject({ measured: true })
      if (!p.resources.measured) continue
      expect(p.resources.brokers.map((b) => [b.id, b.pids])).toEqual([[1, []]])
      expect(p.resources.cpuSeconds).toBeGreaterThan(0)
      expect(p.resources.peakRssBytes).toBeGreaterThan(16 << 20)
      // At least the records' bytes: 1 KiB at 500/s or more over a 3 s window.
      expect(p.resources.writeBytes).toBeGreaterThan(1e6)
    }
    // On a host too busy for the load generator every point is flagged and the model has no cluster point to use.
    if (s.capacity.measured) {
      expect(s.capacity.cpuSecondsPerGBIn).toBeGreaterThan(0)
      expect(s.capacity.assumptions[0]).toContain('Docker Engine')
    } else {
      expect(s.capacity.reason).toBe('not measured: no cluster point with broker resource figures and produced bytes')
      expect(s.points.every((p) => p.harnessSaturated)).toBe(true)
    }
    const left = await (engine.ok ? engine.docker.listContainers({ all: true, filters: { label: [`faultline.ledger`] } }) : [])
    expect(left.filter((c) => (c.Labels['faultline.ledger'] ?? '').startsWith(out))).toEqual([])
  }, 300_000)
})
