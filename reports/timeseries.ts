// Per-interval (default per-second) series of a run: sends, acks, failures and consumed records with their
// bytes, errors by code, and per-interval produce and end-to-end latency (p50, p99, max). Fed from the
// history after the run (observe) or live by the workload (send/ack/fail/recv) for the progress line.
//
// Counts land in the bucket of their own time, exactly. Latency percentiles use one rolling histogram per
// series: a sample whose bucket is already closed (events slightly out of order) joins the open bucket.

import { EventKind } from '../workloads/history/events.ts'
import type { HistoryRecord } from '../workloads/history/reader.ts'
import { LatencyHistogram } from '../workloads/history/latency.ts'

export interface TimeSeriesData {
  intervalUs: number
  /** Bucket i covers [i * intervalUs, (i + 1) * intervalUs) µs since run start. */
  sent: number[]
  acked: number[]
  failed: number[]
  consumed: number[]
  sentBytes: number[]
  ackedBytes: number[]
  consumedBytes: number[]
  /** Failures per error code, one count per bucket. */
  errors: Record<string, number[]>
  /** Produce latency (ack - send) of the acks in each bucket, µs; null for buckets without acks. */
  produceP50: (number | null)[]
  produceP99: (number | null)[]
  produceMax: (number | null)[]
  /** End-to-end latency (receive - intended send) of the records consumed in each bucket, µs. */
  e2eP50: (number | null)[]
  e2eP99: (number | null)[]
  e2eMax: (number | null)[]
  /** Samples whose time fell outside [0, maxBuckets * intervalUs), counted in the nearest bucket. */
  outOfRange: number
}

export interface BucketSnapshot {
  index: number
  startUs: number
  sent: number
  acked: number
  failed: number
  consumed: number
  sentBytes: number
  ackedBytes: number
  consumedBytes: number
  errors: Record<string, number>
  produceP99: number | null
  e2eP99: number | null
}

export interface TimeSeriesOptions {
  /** Default 1 s. */
  intervalUs?: number
  /** Buckets beyond this are folded into the last one (a guard against a bogus time). Default 8 days of seconds. */
  maxBuckets?: number
}

/** A latency series with one open bucket at a time. */
class RollingLatency {
  readonly #h = new LatencyHistogram({ highestUs: 3600 * 1_000_000 })
  readonly p50: (number | null)[] = []
  readonly p99: (number | null)[] = []
  readonly max: (number | null)[] = []
  #open = -1

  record(bucket: number, us: number): void {
    if (bucket > this.#open) {
      this.#close()
      this.#open = bucket
    }
    this.#h.record(us)
  }

  #close(): void {
    if (this.#open < 0) return
    this.#write(this.#open)
    this.#h.reset()
  }

  #write(i: number): void {
    while (this.p50.length <= i) {
      this.p50.push(null)
      this.p99.push(null)
      this.max.push(null)
    }
    this.p50[i] = this.#h.percentile(50)
    this.p99[i] = this.#h.percentile(99)
    this.max[i] = this.#h.max
  }

  /** The open bucket's figures without closing it (for live reads). */
  peek(i: number): number | null {
    return i === this.#open ? this.#h.percentile(99) : (this.p99[i] ?? null)
  }

  snapshot(length: number): { p50: (number | null)[]; p99: (number | null)[]; max: (number | null)[] } {
    if (this.#open >= 0 && this.#h.count > 0) this.#write(this.#open)
    const pad = (a: (number | null)[]): (number | null)[] => {
      const out = a.slice(0, length)
      while (out.length < length) out.push(null)
      return out
    }
    return { p50: pad(this.p50), p99: pad(this.p99), max: pad(this.max) }
  }
}

export class TimeSeries {
  readonly intervalUs: number
  readonly #maxBuckets: number
  readonly #sent: number[] = []
  readonly #acked: number[] = []
  readonly #failed: number[] = []
  readonly #consumed: number[] = []
  readonly #sentBytes: number[] = []
  readonly #ackedBytes: number[] = []
  readonly #consumedBytes: number[] = []
  readonly #errors = new Map<string, number[]>()
  readonly #produce = new RollingLatency()
  readonly #e2e = new RollingLatency()
  #outOfRange = 0

  constructor(options: TimeSeriesOptions = {}) {
    this.intervalUs = Math.max(1, options.intervalUs ?? 1_000_000)
    this.#maxBuckets = options.maxBuckets ?? 8 * 24 * 3600
  }

  get length(): number {
    return this.#sent.length
  }

  #bucket(time: number): number {
    let i = Math.floor(time / this.intervalUs)
    if (!(i >= 0)) {
      this.#outOfRange++
      i = 0
    } else if (i >= this.#maxBuckets) {
      this.#outOfRange++
      i = this.#maxBuckets - 1
    }
    while (this.#sent.length <= i) {
      this.#sent.push(0)
      this.#acked.push(0)
      this.#failed.push(0)
      this.#consumed.push(0)
      this.#sentBytes.push(0)
      this.#ackedBytes.push(0)
      this.#consumedBytes.push(0)
    }
    return i
  }

  send(time: number, size: number): void {
    const i = this.#bucket(time)
    this.#sent[i]!++
    this.#sentBytes[i]! += size
  }

  /** latencyUs: ack time - actual send time. */
  ack(time: number, size: number, latencyUs: number): void {
    const i = this.#bucket(time)
    this.#acked[i]!++
    this.#ackedBytes[i]! += size
    this.#produce.record(i, latencyUs)
  }

  fail(time: number, error: string): void {
    const i = this.#bucket(time)
    this.#failed[i]!++
    let series = this.#errors.get(error)
    if (!series) {
      series = []
      this.#errors.set(error, series)
    }
    while (series.length <= i) series.push(0)
    series[i]!++
  }

  /** e2eUs: receive time - intended send time, or null for records this run did not write. */
  recv(time: number, size: number, e2eUs: number | null): void {
    const i = this.#bucket(time)
    this.#consumed[i]!++
    this.#consumedBytes[i]! += size
    if (e2eUs !== null) this.#e2e.record(i, e2eUs)
  }

  /** Feeds one history record (the post-run path). */
  observe(rec: HistoryRecord): void {
    switch (rec.kind) {
      case EventKind.send:
        this.send(rec.time, rec.size)
        return
      case EventKind.ack:
        this.ack(rec.time, rec.size, rec.time - rec.sent)
        return
      case EventKind.fail:
        this.fail(rec.time, rec.str(rec.error))
        return
      case EventKind.recv:
        this.recv(rec.time, rec.size, rec.value >= 0 && rec.intended >= 0 ? rec.time - rec.intended : null)
        return
      default:
        return
    }
  }

  bucket(i: number): BucketSnapshot {
    const errors: Record<string, number> = {}
    for (const [code, series] of this.#errors) {
      const n = series[i] ?? 0
      if (n > 0) errors[code] = n
    }
    return {
      index: i,
      startUs: i * this.intervalUs,
      sent: this.#sent[i] ?? 0,
      acked: this.#acked[i] ?? 0,
      failed: this.#failed[i] ?? 0,
      consumed: this.#consumed[i] ?? 0,
      sentBytes: this.#sentBytes[i] ?? 0,
      ackedBytes: this.#ackedBytes[i] ?? 0,
      consumedBytes: this.#consumedBytes[i] ?? 0,
      errors,
      produceP99: this.#produce.peek(i),
      e2eP99: this.#e2e.peek(i),
    }
  }

  /** The last complete bucket before nowUs (for a live progress line), or null if none yet. */
  latest(nowUs: number): BucketSnapshot | null {
    const i = Math.floor(nowUs / this.intervalUs) - 1
    return i >= 0 ? this.bucket(Math.min(i, this.#maxBuckets - 1)) : null
  }

  toJSON(): TimeSeriesData {
    const n = this.#sent.length
    const errors: Record<string, number[]> = {}
    for (const code of [...this.#errors.keys()].sort()) {
      const series = (this.#errors.get(code) as number[]).slice()
      while (series.length < n) series.push(0)
      errors[code] = series
    }
    const produce = this.#produce.snapshot(n)
    const e2e = this.#e2e.snapshot(n)
    return {
      intervalUs: this.intervalUs,
      sent: this.#sent.slice(),
      acked: this.#acked.slice(),
      failed: this.#failed.slice(),
      consumed: this.#consumed.slice(),
      sentBytes: this.#sentBytes.slice(),
      ackedBytes: this.#ackedBytes.slice(),
      consumedBytes: this.#consumedBytes.slice(),
      errors,
      produceP50: produce.p50,
      produceP99: produce.p99,
      produceMax: produce.max,
      e2eP50: e2e.p50,
      e2eP99: e2e.p99,
      e2eMax: e2e.max,
      outOfRange: this.#outOfRange,
    }
  }
}
