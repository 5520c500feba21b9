// Run metrics from the history, in one streaming pass with constant memory: produce, send delay, consume and
// end-to-end latency histograms, rates, bytes, errors by code, unavailability, phases and fault intervals.
//
// Latencies (µs), following OMB: produce = ack - actual send; send delay = actual send - intended send (it
// exposes coordinated omission); produceFromIntended = ack - intended send (produce latency corrected for
// coordinated omission); end-to-end = receive - intended send, one monotonic clock, no cross-host skew.
//
// The measurement window runs from the warmup-end marker (or the first send) to the measure-end marker (or
// the last ack or send). Reaching warmup-end resets the window's figures, as OMB's resetStats does, so
// warmup never leaks in. Each sample is placed by the time of the event that completes it, with one
// exception: errors (and produce.failed) count the sends made in the window that failed, whenever the failure
// was reported, so a send near the end of the window that times out after it still counts, and a warmup
// send that fails inside it does not. A send fails when the client reports it failed, definitely or not
// (delivery timeouts included); retries that end in an ack are not failures. errors.shareOfSent is that
// count over produce.sent: Kafka's record-error-total over record-send-total for the window's sends. Fault
// intervals and the time series cover the whole run.

import { EventKind, phaseNames } from '../workloads/history/events.ts'
import type { HistoryRecord } from '../workloads/history/reader.ts'
import { type HistogramOptions, LatencyHistogram, type LatencySummary } from '../workloads/history/latency.ts'
import type { FaultAvailability } from './availability.ts'

export interface Metrics {
  window: {
    startUs: number
    endUs: number
    durationUs: number
    warmupEndUs: number | null
    measureEndUs: number | null
  }
  produce: {
    sent: number
    acked: number
    failed: number
    sentBytes: number
    ackedBytes: number
    /** Acked records per second in the window. */
    rate: number
    /** Acked bytes per second in the window. */
    bytesRate: number
    latency: LatencySummary
    latencyFromIntended: LatencySummary
  }
  sendDelay: LatencySummary
  consume: {
    records: number
    bytes: number
    rate: number
    bytesRate: number
    /** Records this run did not write. */
    foreign: number
  }
  e2e: LatencySummary
  /** Sends made in the window that failed, whenever reported (see the header). */
  errors: {
    total: number
    definite: number
    indeterminate: number
    byCode: Record<string, number>
    /** total / produce.sent; null when nothing was sent in the window. */
    shareOfSent: number | null
  }
  /** Longest time without an ack while producing, within the window. */
  unavailability: {
    longestGapUs: number
    fromUs: number | null
    toUs: number | null
  }
  /** Whole-run totals, window or not. */
  totals: {
    events: number
    sent: number
    acked: number
    failed: number
    consumed: number
    firstEventUs: number | null
    lastEventUs: number | null
  }
}

export interface FaultInterval {
  id: number
  name: string
  /** As the scheduler described it: "leader of orders/0 (node 2)". */
  target: string
  /** kill, pause, ...; null in histories written before faults recorded it. */
  kind: string | null
  /** The node ids the target resolved to. */
  nodes: number[]
  /** The fault's parameters (restartAfterMs, durationMs, ...). */
  params: Record<string, unknown>
  startUs: number
  /** null if the fault never ended in the history. */
  endUs: number | null
  /** Acks while the fault was active. */
  acks: number
  /** Longest time without an ack while the fault was active (from its start, to its end). */
  longestAckGapUs: number
  /** Availability around the fault (reports/availability.ts); null where results were written without it. */
  availability: FaultAvailability | null
}

function parseParams(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

interface OpenFault {
  interval: FaultInterval
  lastAck: number
}

/** A set of value ids: dense from 0 per run, so one bit each. */
class ValueSet {
  #bits = new Uint32Array(1024)

  add(v: number): void {
    const word = v >>> 5
    if (word >= this.#bits.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.#bits.length * 2))
      grown.set(this.#bits)
      this.#bits = grown
    }
    this.#bits[word]! |= 1 << (v & 31)
  }

  /** Removes `v`; whether it was there. */
  take(v: number): boolean {
    const word = v >>> 5
    if (word >= this.#bits.length) return false
    const bit = 1 << (v & 31)
    if ((this.#bits[word]! & bit) === 0) return false
    this.#bits[word]! &= ~bit
    return true
  }

  clear(): void {
    this.#bits.fill(0)
  }
}

/** The window's figures, reset when warmup ends. */
class Window {
  sent = 0
  acked = 0
  failed = 0
  sentBytes = 0
  ackedBytes = 0
  records = 0
  bytes = 0
  foreign = 0
  definite = 0
  indeterminate = 0
  byCode = new Map<string, number>()
  /** Values sent in the window with no outcome yet: a later fail of one of them is the window's error. */
  readonly open = new ValueSet()
  firstSend: number | null = null
  lastSend: number | null = null
  lastAck: number | null = null
  gapFrom: number | null = null
  gapTo: number | null = null
  longestGap = 0
  /** Where the current gap started: the window start, else the latest ack. */
  gapStart: number | null = null
  readonly produce: LatencyHistogram
  readonly fromIntended: LatencyHistogram
  readonly sendDelay: LatencyHistogram
  readonly e2e: LatencyHistogram

  constructor(options: HistogramOptions) {
    this.produce = new LatencyHistogram(options)
    this.fromIntended = new LatencyHistogram(options)
    this.sendDelay = new LatencyHistogram(options)
    this.e2e = new LatencyHistogram(options)
  }

  reset(start: number): void {
    this.sent = this.acked = this.failed = this.sentBytes = this.ackedBytes = 0
    this.records = this.bytes = this.foreign = this.definite = this.indeterminate = 0
    this.byCode.clear()
    this.open.clear()
    this.firstSend = this.lastSend = this.lastAck = this.gapFrom = this.gapTo = null
    this.longestGap = 0
    this.gapStart = start
    this.produce.reset()
    this.fromIntended.reset()
    this.sendDelay.reset()
    this.e2e.reset()
  }

  gap(from: number, to: number): void {
    if (to - from > this.longestGap) {
      this.longestGap = to - from
      this.gapFrom = from
      this.gapTo = to
    }
  }
}

export class MetricsAccumulator {
  readonly #w: Window
  #warmupEnd: number | null = null
  #measureEnd: number | null = null
  readonly #faults: FaultInterval[] = []
  readonly #open = new Map<number, OpenFault>()
  readonly #totals = { events: 0, sent: 0, acked: 0, failed: 0, consumed: 0 }
  #first: number | null = null
  #last: number | null = null

  constructor(options: HistogramOptions = {}) {
    this.#w = new Window(options)
  }

  #inWindow(t: number): boolean {
    return (this.#warmupEnd === null || t >= this.#warmupEnd) && (this.#measureEnd === null || t < this.#measureEnd)
  }

  observe(rec: HistoryRecord): void {
    const t = rec.time
    this.#totals.events++
    if (this.#first === null || t < this.#first) this.#first = t
    if (this.#last === null || t > this.#last) this.#last = t
    const w = this.#w
    switch (rec.kind) {
      case EventKind.send:
        this.#totals.sent++
        if (!this.#inWindow(t)) return
        w.sent++
        w.sentBytes += rec.size
        if (rec.value >= 0) w.open.add(rec.value)
        w.sendDelay.record(t - rec.intended)
        if (w.firstSend === null) w.firstSend = t
        w.gapStart ??= t
        w.lastSend = t
        return
      case EventKind.ack: {
        this.#totals.acked++
        for (const f of this.#open.values()) {
          f.interval.acks++
          if (t > f.lastAck) {
            if (t - f.lastAck > f.interval.longestAckGapUs) f.interval.longestAckGapUs = t - f.lastAck
            f.lastAck = t
          }
        }
        w.open.take(rec.value)
        if (!this.#inWindow(t)) return
        w.acked++
        w.ackedBytes += rec.size
        w.produce.record(t - rec.sent)
        w.fromIntended.record(t - rec.intended)
        if (w.gapStart !== null && t > w.gapStart) {
          w.gap(w.gapStart, t)
          w.gapStart = t
        }
        if (w.lastAck === null || t > w.lastAck) w.lastAck = t
        return
      }
      case EventKind.fail: {
        this.#totals.failed++
        if (!w.open.take(rec.value)) return
        w.failed++
        if (rec.definite) w.definite++
        else w.indeterminate++
        const code = rec.str(rec.error)
        w.byCode.set(code, (w.byCode.get(code) ?? 0) + 1)
        return
      }
      case EventKind.recv:
        this.#totals.consumed++
        if (!this.#inWindow(t)) return
        w.records++
        w.bytes += rec.size
        if (rec.value < 0) w.foreign++
        else if (rec.intended >= 0) w.e2e.record(t - rec.intended)
        return
      case EventKind.phase:
        if (phaseNames[rec.phase] === 'warmup-end') {
          this.#warmupEnd = t
          w.reset(t)
        } else if (phaseNames[rec.phase] === 'measure-end') {
          this.#measureEnd = t
        }
        return
      case EventKind.fault: {
        const open = this.#open.get(rec.faultId)
        if (rec.edge === 0 && !open) {
          const interval: FaultInterval = {
            id: rec.faultId,
            name: rec.str(rec.faultName),
            target: rec.str(rec.faultTarget),
            kind: rec.faultKind === 0 ? null : rec.str(rec.faultKind - 1),
            nodes: [...rec.faultNodes],
            params: rec.faultParams === 0 ? {} : parseParams(rec.str(rec.faultParams - 1)),
            startUs: t,
            endUs: null,
            acks: 0,
            longestAckGapUs: 0,
            availability: null,
          }
          this.#faults.push(interval)
          this.#open.set(rec.faultId, { interval, lastAck: t })
        } else if (rec.edge === 1 && open) {
          open.interval.endUs = t
          if (t - open.lastAck > open.interval.longestAckGapUs) open.interval.longestAckGapUs = t - open.lastAck
          this.#open.delete(rec.faultId)
        }
        return
      }
      default:
        return
    }
  }

  faults(): FaultInterval[] {
    const last = this.#last ?? 0
    return this.#faults.map((f) => {
      const open = this.#open.get(f.id)
      if (open?.interval === f) {
        return { ...f, longestAckGapUs: Math.max(f.longestAckGapUs, last - open.lastAck) }
      }
      return { ...f }
    })
  }

  finish(): Metrics {
    const w = this.#w
    const start = this.#warmupEnd ?? w.firstSend ?? this.#first ?? 0
    const end = this.#measureEnd ?? Math.max(w.lastAck ?? start, w.lastSend ?? start)
    const durationUs = Math.max(0, end - start)
    const perSecond = (n: number): number => (durationUs > 0 ? (n * 1_000_000) / durationUs : 0)
    // A gap still open at the end counts while producers kept sending.
    if (w.gapStart !== null && w.lastSend !== null && w.lastSend > w.gapStart) w.gap(w.gapStart, w.lastSend)
    const byCode: Record<string, number> = {}
    for (const code of [...w.byCode.keys()].sort()) byCode[code] = w.byCode.get(code) as number
    return {
      window: { startUs: start, endUs: end, durationUs, warmupEndUs: this.#warmupEnd, measureEndUs: this.#measureEnd },
      produce: {
        sent: w.sent,
        acked: w.acked,
        failed: w.failed,
        sentBytes: w.sentBytes,
        ackedBytes: w.ackedBytes,
        rate: perSecond(w.acked),
        bytesRate: perSecond(w.ackedBytes),
        latency: w.produce.summary(),
        latencyFromIntended: w.fromIntended.summary(),
      },
      sendDelay: w.sendDelay.summary(),
      consume: {
        records: w.records,
        bytes: w.bytes,
        rate: perSecond(w.records),
        bytesRate: perSecond(w.bytes),
        foreign: w.foreign,
      },
      e2e: w.e2e.summary(),
      errors: { total: w.failed, definite: w.definite, indeterminate: w.indeterminate, byCode, shareOfSent: w.sent > 0 ? w.failed / w.sent : null },
      unavailability: { longestGapUs: w.longestGap, fromUs: w.gapFrom, toUs: w.gapTo },
      totals: { ...this.#totals, firstEventUs: this.#first, lastEventUs: this.#last },
    }
  }
}
