// Live figures of a running scenario and the once-a-second status line built from them.
//
// LiveStats sits between the workload and the history file: every event goes to the file unchanged and also
// updates a live TimeSeries (rates of the last complete second), cumulative latency histograms since the end
// of warmup ("p99 so far"), the error count, partition ownership per consumer group (has every group got every
// partition?) and the highest acked and consumed offsets (have the consumers caught up?).
// These figures are for watching a run only; results.json is computed from the history file afterwards.
//
// The status line: on a terminal one line redrawn in place with a progress bar; elsewhere (CI logs) one plain
// line per update. Setup and teardown messages go through the same reporter so they never tear the line.

import type { HistoryEvent } from '../workloads/history/events.ts'
import { formatCount, formatRate, formatUs } from './format.ts'
import { LatencyHistogram, type LatencySummary } from '../workloads/history/latency.ts'
import { type BucketSnapshot, TimeSeries } from './timeseries.ts'

/** Where a run's events go: the history writer, or anything with its append(). */
export interface EventSink {
  append(e: HistoryEvent): void
}

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`

export class LiveStats implements EventSink {
  readonly series = new TimeSeries()
  private readonly out: EventSink
  private readonly produce = new LatencyHistogram({ highestUs: 3600 * 1_000_000 })
  private readonly e2e = new LatencyHistogram({ highestUs: 3600 * 1_000_000 })
  /** History time (µs) from which latencies count; warmup is left out, as in the results. */
  private measureFromUs = 0
  private readonly ackedTo = new Map<string, number>()
  /** group -> topic/partition -> highest offset read. */
  private readonly readTo = new Map<string, Map<string, number>>()
  /** group -> member -> partitions it owns. */
  private readonly owned = new Map<string, Map<string, Set<string>>>()
  sent = 0
  acked = 0
  failed = 0
  consumed = 0

  constructor(out: EventSink) {
    this.out = out
  }

  /** Latencies before this history time (µs) are not counted in the "so far" figures. */
  setMeasureFrom(us: number): void {
    this.measureFromUs = us
  }

  append(e: HistoryEvent): void {
    this.out.append(e)
    this.observe(e)
  }

  /** Writes an event already observed (one held back until its time was known). */
  write(e: HistoryEvent): void {
    this.out.append(e)
  }

  /** Updates the live figures without writing the event. */
  observe(e: HistoryEvent): void {
    switch (e.type) {
      case 'send':
        this.sent++
        this.series.send(e.time, e.size)
        return
      case 'ack': {
        this.acked++
        this.series.ack(e.time, e.size, e.time - e.sent)
        if (e.time >= this.measureFromUs) this.produce.record(e.time - e.sent)
        if (e.offset >= 0) {
          const k = tp(e.topic, e.partition)
          if (e.offset > (this.ackedTo.get(k) ?? -1)) this.ackedTo.set(k, e.offset)
        }
        return
      }
      case 'fail':
        this.failed++
        this.series.fail(e.time, e.error)
        return
      case 'recv': {
        this.consumed++
        const e2e = e.value >= 0 && e.intended >= 0 ? e.time - e.intended : null
        this.series.recv(e.time, e.size, e2e)
        if (e2e !== null && e.time >= this.measureFromUs) this.e2e.record(e2e)
        let g = this.readTo.get(e.group)
        if (!g) {
          g = new Map()
          this.readTo.set(e.group, g)
        }
        const k = tp(e.topic, e.partition)
        if (e.offset > (g.get(k) ?? -1)) g.set(k, e.offset)
        return
      }
      case 'assign':
      case 'revoke': {
        let g = this.owned.get(e.group)
        if (!g) {
          g = new Map()
          this.owned.set(e.group, g)
        }
        let m = g.get(e.member)
        if (!m) {
          m = new Set()
          g.set(e.member, m)
        }
        if (e.type === 'assign') m.add(tp(e.topic, e.partition))
        else m.delete(tp(e.topic, e.partition))
        return
      }
      default:
        return
    }
  }

  /** Grows whenever `group` reads further (the sum of its highest offsets read): the liveness watchdog's progress. */
  readProgress(group: string): number {
    let n = 0
    for (const o of this.readTo.get(group)?.values() ?? []) n += o + 1
    return n
  }

  /** Partitions of `partitions` (topic -> count) that some member of `group` owns now. */
  assignedCount(group: string, partitions: ReadonlyMap<string, number>): number {
    const owned = new Set<string>()
    for (const m of this.owned.get(group)?.values() ?? []) for (const k of m) owned.add(k)
    let n = 0
    for (const [topic, count] of partitions) for (let p = 0; p < count; p++) if (owned.has(tp(topic, p))) n++
    return n
  }

  /**
   * Records `group` still has to read to reach the highest acked offset of each partition of `topics`
   * (by offsets: what lies between its last read and the last ack); 0 when it has caught up.
   */
  behind(group: string, topics: readonly string[]): number {
    const read = this.readTo.get(group)
    let n = 0
    for (const [k, last] of this.ackedTo) {
      if (!topics.includes(k.slice(0, k.indexOf('\u0000')))) continue
      n += Math.max(0, last - (read?.get(k) ?? -1))
    }
    return n
  }

  produceP99(): number | null {
    return this.produce.percentile(99)
  }

  e2eP99(): number | null {
    return this.e2e.percentile(99)
  }

  /** This process's live figures as JSON, for a runner that merges its load workers' (MergedLiveStats). */
  snapshot(nowUs: number): LiveSnapshot {
    return {
      sent: this.sent,
      acked: this.acked,
      failed: this.failed,
      consumed: this.consumed,
      ackedTo: [...this.ackedTo],
      readTo: [...this.readTo].map(([g, m]) => [g, [...m]]),
      owned: [...this.owned].map(([g, members]) => [g, [...new Set([...members.values()].flatMap((m) => [...m]))]]),
      produce: this.produce.count > 0 ? this.produce.summary() : null,
      e2e: this.e2e.count > 0 ? this.e2e.summary() : null,
      latest: this.series.latest(nowUs),
    }
  }
}

/** A LiveStats as JSON: what a load worker reports to its runner twice a second. Keys are topic NUL partition. */
export interface LiveSnapshot {
  sent: number
  acked: number
  failed: number
  consumed: number
  ackedTo: [string, number][]
  readTo: [string, [string, number][]][]
  /** Per group, the partitions some member in that process owns. */
  owned: [string, string[]][]
  produce: LatencySummary | null
  e2e: LatencySummary | null
  latest: BucketSnapshot | null
}

/** The latest buckets of every snapshot, summed (what the status line shows). */
class MergedSeries extends TimeSeries {
  private readonly parts: () => Iterable<LiveSnapshot>
  constructor(parts: () => Iterable<LiveSnapshot>) {
    super()
    this.parts = parts
  }

  override latest(nowUs: number): BucketSnapshot | null {
    let sum: BucketSnapshot | null = null
    for (const p of this.parts()) {
      const b = p.latest
      if (!b) continue
      if (!sum) sum = { ...b, errors: { ...b.errors }, produceP99: null, e2eP99: null }
      else {
        sum.sent += b.sent
        sum.acked += b.acked
        sum.failed += b.failed
        sum.consumed += b.consumed
        sum.sentBytes += b.sentBytes
        sum.ackedBytes += b.ackedBytes
        sum.consumedBytes += b.consumedBytes
        for (const [code, n] of Object.entries(b.errors)) sum.errors[code] = (sum.errors[code] ?? 0) + n
      }
    }
    return sum ?? super.latest(nowUs)
  }
}

/**
 * The runner's live figures when the load runs in worker processes: its own events (phases, faults) as in
 * LiveStats, and the workers' figures from their latest snapshots (absorb), merged: offsets by their highest,
 * ownership by union, counts by sum, latencies by merging the HdrHistograms.
 */
export class MergedLiveStats extends LiveStats {
  private readonly parts = new Map<string, LiveSnapshot>()
  override readonly series: TimeSeries = new MergedSeries(() => this.parts.values())

  absorb(worker: string, snap: LiveSnapshot): void {
    this.parts.set(worker, snap)
    let sent = 0
    let acked = 0
    let failed = 0
    let consumed = 0
    for (const p of this.parts.values()) {
      sent += p.sent
      acked += p.acked
      failed += p.failed
      consumed += p.consumed
    }
    this.sent = sent
    this.acked = acked
    this.failed = failed
    this.consumed = consumed
  }

  private readMap(group: string): Map<string, number> {
    const out = new Map<string, number>()
    for (const p of this.parts.values()) {
      for (const [g, offsets] of p.readTo) if (g === group) for (const [k, o] of offsets) if (o > (out.get(k) ?? -1)) out.set(k, o)
    }
    return out
  }

  override readProgress(group: string): number {
    let n = 0
    for (const o of this.readMap(group).values()) n += o + 1
    return n
  }

  override assignedCount(group: string, partitions: ReadonlyMap<string, number>): number {
    const owned = new Set<string>()
    for (const p of this.parts.values()) for (const [g, keys] of p.owned) if (g === group) for (const k of keys) owned.add(k)
    let n = 0
    for (const [topic, count] of partitions) for (let i = 0; i < count; i++) if (owned.has(tp(topic, i))) n++
    return n
  }

  override behind(group: string, topics: readonly string[]): number {
    const acked = new Map<string, number>()
    for (const p of this.parts.values()) for (const [k, o] of p.ackedTo) if (o > (acked.get(k) ?? -1)) acked.set(k, o)
    const read = this.readMap(group)
    let n = 0
    for (const [k, last] of acked) {
      if (!topics.includes(k.slice(0, k.indexOf('\u0000')))) continue
      n += Math.max(0, last - (read.get(k) ?? -1))
    }
    return n
  }

  override produceP99(): number | null {
    return this.merged('produce')
  }

  override e2eP99(): number | null {
    return this.merged('e2e')
  }

  private merged(which: 'produce' | 'e2e'): number | null {
    let h: LatencyHistogram | null = null
    for (const p of this.parts.values()) {
      const s = p[which]
      if (!s) continue
      const one = LatencyHistogram.fromSummary(s)
      if (h) h.merge(one)
      else h = one
    }
    return h?.percentile(99) ?? null
  }
}

// ---- the status line ----

export interface RunStatus {
  readonly phase: 'warmup' | 'measure' | 'drain'
  /** ms since the run's start, and the planned length (warmup included). */
  readonly elapsedMs: number
  readonly totalMs: number
  /** Per second, over the last complete second. */
  readonly sentRate: number
  readonly ackedRate: number
  readonly consumedRate: number
  /** Since warmup ended, µs. */
  readonly produceP99Us: number | null
  readonly e2eP99Us: number | null
  readonly errors: number
  readonly activeFaults: readonly string[]
  /** While draining: records the consumers still have to read. */
  readonly behind?: number
  /** Stalls the liveness watchdog sees now (reports/liveness.ts). */
  readonly stalled?: readonly string[]
}

export interface ProgressReporter {
  /** A message line (setup, teardown, fault actions). */
  info(line: string): void
  /** The once-a-second status. */
  status(s: RunStatus): void
  /** No more status lines: a terminal's status line is ended with a newline. */
  done(): void
}

/** Reports nothing (`--quiet`). */
export const silentProgress: ProgressReporter = { info() {}, status() {}, done() {} }

const seconds = (ms: number): string => `${Math.floor(ms / 1000)}s`

/** The status as one line: `[ 12s/20s] sent 1,000/s acked 1,000/s consumed 1,000/s | p99 3.20 ms e2e p99 5.10 ms | errors 0 | faults -`. */
export function formatStatus(s: RunStatus, opts: { bar?: number } = {}): string {
  const width = String(Math.floor(s.totalMs / 1000)).length + 1
  let head: string
  if (s.phase === 'drain') head = `[drain ${seconds(s.elapsedMs - s.totalMs)}]`
  else head = `[${seconds(Math.min(s.elapsedMs, s.totalMs)).padStart(width)}/${seconds(s.totalMs)}${s.phase === 'warmup' ? ' warmup' : ''}]`
  if (opts.bar && opts.bar > 0) {
    const frac = Math.max(0, Math.min(1, s.elapsedMs / s.totalMs))
    const full = Math.round(frac * opts.bar)
    head += ` ${'#'.repeat(full)}${'.'.repeat(opts.bar - full)} ${String(Math.floor(frac * 100)).padStart(3)}%`
  }
  const parts = [
    head,
    `sent ${formatRate(s.sentRate)} acked ${formatRate(s.ackedRate)} consumed ${formatRate(s.consumedRate)}`,
    `p99 ${formatUs(s.produceP99Us)} e2e p99 ${formatUs(s.e2eP99Us)}`,
    `errors ${formatCount(s.errors)}`,
    `faults ${s.activeFaults.length === 0 ? '-' : s.activeFaults.join(', ')}`,
  ]
  if (s.behind !== undefined) parts.push(`behind ${formatCount(s.behind)}`)
  if (s.stalled && s.stalled.length > 0) parts.push(`STALLED ${s.stalled.join(', ')}`)
  return parts.join(' | ')
}

export interface ConsoleProgressOptions {
  /** Redraw one line in place with a bar; default: whether the stream is a terminal. */
  readonly tty?: boolean
  /** Terminal width; default the stream's columns or 100. */
  readonly columns?: number
}

/** Status lines on a stream (stderr, so stdout keeps only the summary). */
export function consoleProgress(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, opts: ConsoleProgressOptions = {}): ProgressReporter {
  const tty = opts.tty ?? stream.isTTY === true
  let open = false
  const endLine = (): void => {
    if (open) stream.write('\n')
    open = false
  }
  return {
    info(line) {
      endLine()
      stream.write(`${line}\n`)
    },
    status(s) {
      if (!tty) {
        stream.write(`${formatStatus(s)}\n`)
        return
      }
      const columns = Math.max(40, opts.columns ?? (stream.columns || 100))
      // A bar only when the line has room for it; the line never wraps (a wrapped line cannot be redrawn).
      let line = formatStatus(s, { bar: 20 })
      if (line.length > columns - 1) line = formatStatus(s)
      if (line.length > columns - 1) line = `${line.slice(0, columns - 2)}…`
      stream.write(`\r${line}\x1b[K`)
      open = true
    },
    done: endLine,
  }
}
