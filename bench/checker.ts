// Benchmark of the delivery checker: generates a history of n operations (events: sends, acks and reads on
// 16 partitions by 4 producers and a 4-member group, plus a sprinkle of injected anomalies so the example
// pass runs too), then checks it in a child process, so peak RSS is the checker's own and not the
// generator's. Goal: 10M operations in under 60 s and 1 GiB.
//
//   node dist/bench/checker.js [n] [--clean] [--results]
//     --clean    no injected anomalies (skips the second pass)
//     --results  time buildResults (metrics, time series and checker in one pass) instead of the checker alone

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { checkHistory } from '../reports/checker.ts'
import { buildResults } from '../reports/results.ts'
import { HistoryWriter } from '../workloads/history/writer.ts'

export interface CheckerBenchResult {
  /** Operations (history events) checked. */
  events: number
  values: number
  historyBytes: number
  /** Generating the history through HistoryWriter. */
  writeSeconds: number
  writeEventsPerSecond: number
  /** Checking it (child process, wall clock, including the example pass when anomalies exist). */
  seconds: number
  /** CPU time (user + system) of the check: steadier than wall clock on a busy machine. */
  cpuSeconds: number
  eventsPerSecond: number
  peakRssBytes: number
  anomaliesFound: number
  mode: 'checker' | 'results'
}

interface ChildReport {
  seconds: number
  cpuSeconds: number
  peakRssBytes: number
  anomaliesFound: number
}

const PARTITIONS = 16
const PRODUCERS = 4
const MEMBERS = 4
/** Ack and read lag behind the send, in values: events interleave as in a real run. */
const ACK_LAG = 200
const READ_LAG = 500

/** Writes a history of about n events; every `anomalyEvery`-th value gets one injected anomaly (0: none). */
export async function generateHistory(path: string, n: number, anomalyEvery = 0): Promise<{ events: number; values: number }> {
  const w = await HistoryWriter.open(path)
  const values = Math.max(1, Math.floor(n / 3))
  const partitionOf = new Uint8Array(values)
  const offsetOf = new Float64Array(values)
  const next = new Float64Array(PARTITIONS)
  const producers = Array.from({ length: PRODUCERS }, (_, i) => `producer-${i}`)
  const members = Array.from({ length: MEMBERS }, (_, i) => `consumer-${i}`)
  for (let p = 0; p < PARTITIONS; p++) {
    w.append({ type: 'assign', group: 'bench', member: members[p % MEMBERS] as string, topic: 'bench', partition: p, time: 0 })
  }
  w.append({ type: 'phase', phase: 'warmup-end', time: 0 })
  // Kinds cycle: 1 lost write (never read), 2 duplicate (read again at a new offset).
  const anomaly = (v: number): number => (anomalyEvery > 0 && v % anomalyEvery === anomalyEvery - 1 ? 1 + ((v / anomalyEvery) & 1) : 0)
  for (let step = 0; step < values + READ_LAG; step++) {
    // A tight loop never lets the file stream write: yield when a few chunks are waiting.
    if (step % 65536 === 0 && w.pendingBytes > 8 << 20) await w.drain()
    if (step < values) {
      const v = step
      const p = (Math.imul(v, 2654435761) >>> 0) % PARTITIONS
      partitionOf[v] = p
      offsetOf[v] = next[p]!++
      const t = v * 10
      w.append({ type: 'send', value: v, producer: producers[v % PRODUCERS] as string, topic: 'bench', key: null, intended: t, time: t + 3, size: 100 })
    }
    const a = step - ACK_LAG
    if (a >= 0 && a < values) {
      const t = a * 10
      w.append({ type: 'ack', value: a, topic: 'bench', partition: partitionOf[a] as number, offset: offsetOf[a] as number, time: t + 2000, sent: t + 3, intended: t, size: 100 })
    }
    const r = step - READ_LAG
    if (r >= 0 && r < values) {
      const p = partitionOf[r] as number
      const kind = anomaly(r)
      const t = r * 10 + 5000
      const member = members[p % MEMBERS] as string
      if (kind !== 1) {
        w.append({ type: 'recv', value: r, group: 'bench', member, topic: 'bench', partition: p, offset: offsetOf[r] as number, time: t, intended: r * 10, size: 100 })
      }
      if (kind === 2) {
        // The broker stored the value twice: a second copy at the partition's next offset.
        const off = next[p]!++
        w.append({ type: 'recv', value: r, group: 'bench', member, topic: 'bench', partition: p, offset: off, time: t + 1, intended: r * 10, size: 100 })
      }
    }
  }
  w.append({ type: 'phase', phase: 'measure-end', time: values * 10 + 5000 })
  const summary = await w.close()
  return { events: summary.events, values }
}

async function child(path: string, mode: 'checker' | 'results'): Promise<ChildReport> {
  const start = performance.now()
  const cpu = process.cpuUsage()
  let anomaliesFound = 0
  if (mode === 'checker') {
    const result = await checkHistory(path, { sendOrder: true })
    for (const a of Object.values(result.anomalies)) anomaliesFound += a.count
  } else {
    const results = await buildResults(path, {
      scenario: { name: 'bench', digest: '-' },
      run: { startedAt: new Date().toISOString(), seed: null, faultlineVersion: 'bench', cluster: { backend: 'none', description: 'generated history', bootstrap: null, nodes: [] } },
      delivery: { sendOrder: true },
    })
    if (results.delivery.state !== 'skipped') for (const a of Object.values(results.delivery.anomalies)) anomaliesFound += a.count
  }
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, peakRssBytes: peakRss(), anomaliesFound }
}

/**
 * This process's peak RSS. Linux keeps getrusage's maxrss across fork and exec, so a child would report its
 * parent's peak; VmHWM belongs to the child's own address space.
 */
function peakRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (m) return Number(m[1]) * 1024
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024
}

export async function benchChecker(
  n = 10_000_000,
  options: { clean?: boolean; mode?: 'checker' | 'results' } = {},
): Promise<CheckerBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-'))
  const path = join(dir, 'history.bin')
  const mode = options.mode ?? 'checker'
  try {
    const t0 = performance.now()
    const { events, values } = await generateHistory(path, n, options.clean ? 0 : 50_000)
    const writeSeconds = (performance.now() - t0) / 1000
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, path], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    })
    const report = JSON.parse(out) as ChildReport
    return {
      events,
      values,
      historyBytes: statSync(path).size,
      writeSeconds,
      writeEventsPerSecond: events / writeSeconds,
      seconds: report.seconds,
      cpuSeconds: report.cpuSeconds,
      eventsPerSecond: events / report.seconds,
      peakRssBytes: report.peakRssBytes,
      anomaliesFound: report.anomaliesFound,
      mode,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  if (args[0] === '--child') {
    const report = await child(args[2] as string, args[1] === 'results' ? 'results' : 'checker')
    process.stdout.write(`${JSON.stringify(report)}\n`)
  } else {
    const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 10_000_000)
    const result = await benchChecker(n, { clean: args.includes('--clean'), mode: args.includes('--results') ? 'results' : 'checker' })
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  }
}
