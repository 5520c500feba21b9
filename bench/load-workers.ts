// Load workers' throughput: the same producer-only scenario at rate: max against one local reference broker,
// with workers: 1 (the harness's own process) and workers: 2, interleaved (1, 2, 1, 2, ...) so a busy machine
// affects both alike; the figure is the ratio of their acked rates in each pair, and whether each run's load
// generator was saturated (reports/saturation.ts).
//
//   node dist/bench/load-workers.js [--reps N] [--duration 15s] [--driver platformatic] [--size 1KiB] [--rate max|N/s]
//
// On a 2-core machine the broker and the load processes share the cores, so workers: 2 can only help as far as
// the broker leaves a core idle; the saturation flag says which side was the limit.

import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Results } from '../reports/results.ts'
import { runScenario } from '../scenarios/runner.ts'
import { parseScenario } from '../scenarios/schema.ts'

const { values } = parseArgs({ options: { reps: { type: 'string', default: '2' }, duration: { type: 'string', default: '15s' }, driver: { type: 'string', default: 'platformatic' }, size: { type: 'string', default: '1KiB' }, rate: { type: 'string', default: 'max' } } })
const reps = Number(values.reps)
const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-workers-'))

const scenario = (workers: number) =>
  parseScenario(
    `name: bench-workers-${workers}\ncluster: { backend: local, brokers: 1 }\ntopics: [ { name: t, partitions: 8 } ]\nworkload:\n  duration: ${values.duration}\n  warmup: 3s\n  driver: ${values.driver}\n  workers: ${workers}\n  producers: { count: 2, rate: ${values.rate}, messageSize: ${values.size} }\n`,
    'bench-workers.yaml',
  )

function line(workers: number, r: Results): string {
  const lg = r.loadGenerator
  const procs = lg?.processes.map((p) => `${p.name.split(' (')[0]} busy ${p.busyMean === null ? '-' : `${Math.round(p.busyMean * 100)}%`} cpu ${p.cpuMean.toFixed(2)}`).join(', ')
  return `workers ${workers}: ${Math.round(r.metrics.produce.rate)} acked/s, ${(r.metrics.produce.bytesRate / 2 ** 20).toFixed(1)} MiB/s${lg?.saturated ? ' [load generator saturated]' : ''} (${procs})`
}

const ratios: number[] = []
try {
  for (let i = 0; i < reps; i++) {
    const one = await runScenario(scenario(1), { outDir: join(dir, `r${i}-1`), seed: i + 1 })
    console.log(line(1, one))
    const two = await runScenario(scenario(2), { outDir: join(dir, `r${i}-2`), seed: i + 1 })
    console.log(line(2, two))
    ratios.push(two.metrics.produce.rate / one.metrics.produce.rate)
  }
  const sorted = [...ratios].sort((a, b) => a - b)
  console.log(`workers 2 / workers 1 acked rate: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}x over ${reps} pairs (${ratios.map((r) => r.toFixed(2)).join(', ')}); driver ${values.driver}, ${values.size} records, rate ${values.rate}, load average ${loadavg()[0]!.toFixed(1)}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
