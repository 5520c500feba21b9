// Is the load generator the bottleneck? From the history (send delay: actual - intended send; the cluster's
// produce latency: ack - actual send) and the load processes' own samples (CPU, event-loop delay;
// workloads/load-monitor.ts), over the measured window.
//
// Saturated when any of:
//   - the send delay grows (its mean over the window's last quarter exceeds the first quarter's by more than
//     SEND_DELAY_GROWTH_US) while the cluster's produce latency grows by less than a quarter as much: the
//     producers fall behind their schedule on their own side, not because the cluster answers slower;
//   - the send delay grows as above while a load process's main thread was busy BUSY_BEHIND of the window or
//     more: the producers fell behind while their process wanted a core most of the time. The produce latency
//     cannot clear the cluster here: it runs from the hand-off to the client, so it holds the client's own
//     queue, which grows with the send delay when the process is the limit (a sweep point offering 80000/s
//     achieved 643/s, its broker nearly idle, send delay and produce latency both up 5 s, main thread 84%
//     busy). A cluster that is the limit leaves the load process waiting for acks, mostly idle;
//   - a load process's main thread, which runs its JavaScript, was busy (running or waiting for a core) for
//     BUSY_FULL of the window or more; where /proc cannot say, the process averaged BUSY_FULL cores of CPU.
// The event loop's delay is reported per process but decides nothing: on a machine shared with the brokers it
// also grows when the process merely waits for a core.
// The figures of such a run measure faultline; the remedy is more load processes (workload.workers) or a
// cheaper client (workload.driver: raw).

import { EventKind } from '../workloads/history/events.ts'
import type { HistoryRecord } from '../workloads/history/reader.ts'

export const SATURATED_MESSAGE = 'load generator saturated: these figures measure faultline'
const SEND_DELAY_GROWTH_US = 50_000
const BUSY_FULL = 0.85
const BUSY_BEHIND = 0.5
/** 8 days, as reports/timeseries.ts. */
const MAX_SECONDS = 8 * 24 * 3600

/** A load process's samples, their times in history µs. */
export interface ProcessLoadInput {
  readonly name: string
  readonly pid: number
  readonly samples: readonly { readonly atUs: number; readonly cpu: number; readonly busy: number | null; readonly loopP99Ms: number; readonly loopMaxMs: number }[]
}

export interface ProcessLoadSummary {
  name: string
  pid: number
  /** Over the measured window (every sample when none fell in it): cores, mean and highest second. */
  cpuMean: number
  cpuMax: number
  /** Mean share of the window its main thread ran or waited for a core; null without /proc. */
  busyMean: number | null
  /** Mean and highest per-second 99th percentile of the event loop's delay, ms. */
  loopP99MeanMs: number
  loopP99MaxMs: number
  samples: number
}

export interface LoadGeneratorSection {
  saturated: boolean
  /** "load generator saturated: these figures measure faultline" when saturated, else null. */
  message: string | null
  /** Why, one sentence each; empty when not saturated. */
  reasons: string[]
  /** What to do about it; null when not saturated. */
  remedy: string | null
  /** Mean send delay and mean produce latency (ack - send) over the window's first and last quarter, µs. */
  sendDelay: { firstUs: number | null; lastUs: number | null }
  produceLatency: { firstUs: number | null; lastUs: number | null }
  /** Every process that generated load (the harness, and each load worker). */
  processes: ProcessLoadSummary[]
  /** Worker processes the load ran in (0: the harness's own process). */
  workers: number
  /** When end-to-end latency leaves out records produced and consumed on different clocks, says so; else null. */
  clocks: string | null
}

/** Per-second sums and counts, indexed by the second (arrays: this runs once per event of the history scan). */
class PerSecond {
  readonly sum: number[] = []
  readonly count: number[] = []

  add(time: number, v: number): void {
    const s = Math.floor(time / 1_000_000)
    // A bogus time must not allocate without bound (the time series folds such samples the same way).
    if (s < 0 || s > MAX_SECONDS) return
    while (this.sum.length <= s) {
      this.sum.push(0)
      this.count.push(0)
    }
    this.sum[s]! += v
    this.count[s]!++
  }
}

/** Per-second sums of send delay and produce latency, fed from the history scan. */
export class SaturationAccumulator {
  private readonly delay = new PerSecond()
  private readonly service = new PerSecond()

  observe(rec: HistoryRecord): void {
    if (rec.kind === EventKind.send) this.delay.add(rec.time, rec.time - rec.intended)
    else if (rec.kind === EventKind.ack) this.service.add(rec.time, rec.time - rec.sent)
  }

  finish(window: { startUs: number; endUs: number }, inputs: { processes?: readonly ProcessLoadInput[]; workers?: number; clocks?: string | null }): LoadGeneratorSection {
    const span = window.endUs - window.startUs
    const q = span / 4
    const first = { from: window.startUs, to: window.startUs + q }
    const last = { from: window.endUs - q, to: window.endUs }
    const sendDelay = { firstUs: meanIn(this.delay, first), lastUs: meanIn(this.delay, last) }
    const produceLatency = { firstUs: meanIn(this.service, first), lastUs: meanIn(this.service, last) }
    const reasons: string[] = []
    const processes = (inputs.processes ?? []).map((p) => summarize(p, window))
    if (sendDelay.firstUs !== null && sendDelay.lastUs !== null) {
      const grew = sendDelay.lastUs - sendDelay.firstUs
      const clusterGrew = Math.max(0, (produceLatency.lastUs ?? 0) - (produceLatency.firstUs ?? 0))
      const busiest = processes.filter((p) => p.samples > 0 && p.busyMean !== null).sort((a, b) => b.busyMean! - a.busyMean!)[0]
      if (grew > SEND_DELAY_GROWTH_US && grew > 4 * clusterGrew) {
        reasons.push(`the send delay grew from ${ms(sendDelay.firstUs)} to ${ms(sendDelay.lastUs)} over the window while the cluster's produce latency went from ${ms(produceLatency.firstUs)} to ${ms(produceLatency.lastUs)}: the producers fell behind their schedule on their own side`)
      } else if (grew > SEND_DELAY_GROWTH_US && busiest !== undefined && busiest.busyMean! >= BUSY_BEHIND && busiest.busyMean! < BUSY_FULL) {
        reasons.push(`the send delay grew from ${ms(sendDelay.firstUs)} to ${ms(sendDelay.lastUs)} over the window while ${busiest.name}'s main thread was busy ${Math.round(busiest.busyMean! * 100)}% of the time: the producers fell behind because their process could not keep up (the produce latency, ${ms(produceLatency.firstUs)} to ${ms(produceLatency.lastUs)}, holds the client's own queue)`)
      }
    }
    for (const p of processes) {
      if (p.samples === 0) continue
      if (p.busyMean !== null ? p.busyMean >= BUSY_FULL : p.cpuMean >= BUSY_FULL) {
        reasons.push(
          p.busyMean !== null
            ? `${p.name}'s main thread, which runs its JavaScript, was busy ${Math.round(p.busyMean * 100)}% of the time (running ${p.cpuMean.toFixed(2)} cores' worth, the rest waiting for a core)`
            : `${p.name} averaged ${p.cpuMean.toFixed(2)} cores of CPU (its JavaScript runs on one)`,
        )
      }
    }
    const saturated = reasons.length > 0
    return {
      saturated,
      message: saturated ? SATURATED_MESSAGE : null,
      reasons,
      remedy: saturated ? 'spread the load over more processes (workload.workers: N, or `faultline worker` on other machines) or use a cheaper client (workload.driver: raw)' : null,
      sendDelay,
      produceLatency,
      processes,
      workers: inputs.workers ?? 0,
      clocks: inputs.clocks ?? null,
    }
  }
}

/** The mean over the seconds that overlap [from, to). */
function meanIn(m: PerSecond, r: { from: number; to: number }): number | null {
  let sum = 0
  let n = 0
  for (let s = Math.max(0, Math.floor(r.from / 1_000_000)); s * 1_000_000 < r.to && s < m.sum.length; s++) {
    sum += m.sum[s]!
    n += m.count[s]!
  }
  return n === 0 ? null : sum / n
}

function summarize(p: ProcessLoadInput, window: { startUs: number; endUs: number }): ProcessLoadSummary {
  const inWindow = p.samples.filter((s) => s.atUs > window.startUs && s.atUs <= window.endUs)
  const samples = inWindow.length > 0 ? inWindow : p.samples
  const mean = (f: (s: ProcessLoadInput['samples'][number]) => number): number => (samples.length === 0 ? 0 : samples.reduce((n, s) => n + f(s), 0) / samples.length)
  return {
    name: p.name,
    pid: p.pid,
    cpuMean: round(mean((s) => s.cpu)),
    cpuMax: round(Math.max(0, ...samples.map((s) => s.cpu))),
    busyMean: samples.length > 0 && samples.every((s) => s.busy !== null) ? round(mean((s) => s.busy!)) : null,
    loopP99MeanMs: round(mean((s) => s.loopP99Ms)),
    loopP99MaxMs: round(Math.max(0, ...samples.map((s) => s.loopP99Ms))),
    samples: samples.length,
  }
}

const round = (n: number): number => Math.round(n * 1000) / 1000
const ms = (us: number | null): string => (us === null ? '-' : `${(us / 1000).toFixed(1)} ms`)

/** The console's lines for the section (nothing when not saturated and there is nothing to note). */
export function describeLoadGenerator(s: LoadGeneratorSection | undefined): string[] {
  if (!s) return []
  const out: string[] = []
  if (s.saturated) {
    out.push(`  ${s.message}`)
    for (const r of s.reasons) out.push(`    - ${r}`)
    out.push(`    remedy: ${s.remedy}`)
  }
  if (s.clocks !== null) out.push(`  clocks: ${s.clocks}`)
  return out
}
