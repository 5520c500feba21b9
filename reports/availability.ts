// Availability around each fault, from the history (a second scan once the fault intervals are known), in
// the spirit of Redpanda's chaos suite (steady, inject, impact, heal) and its availability assertion.
//
// A fault's impact window runs from its start to the first start of a later fault at or after its end, or to
// the end of the load (the measure-end marker, else the last send). In that window:
//   produceGapUs    the longest time without an acknowledged produce (window edges count as gap ends)
//   consumeGapUs    the same for consumed records (null when nothing was consumed in the whole run)
//   errorsByCode    failed sends reported in the window, by error code
// From the heal (the fault's end; its start when it never ended, e.g. a kill without restart):
//   firstAckAfterHealUs  time to the first acknowledged produce at or after it
//   recoveryUs           0 when the 1 s before the heal already held at least 90% of the acks of the same span
//                        before the fault (traffic moved off a killed node before its restart); else the
//                        time until a 1 s window (sliding in 100 ms steps) holds at least 90% of the acks of
//                        the same span before the fault (baselineRate: acks per second in up to 10 s before
//                        the fault, after the previous fault ended); null with `recovered: false` when no
//                        such window comes before the impact window ends ("not recovered"), or when there is
//                        no baseline (less than 1 s of load before the fault).
// Catch-up bursts above the baseline count as recovered: an open-loop producer sends what piled up.

import { EventKind } from '../workloads/history/events.ts'
import type { HistoryRecord } from '../workloads/history/reader.ts'
import type { FaultInterval } from './metrics.ts'

export interface FaultAvailability {
  windowStartUs: number
  windowEndUs: number
  produceGapUs: number
  produceGapFromUs: number
  produceGapToUs: number
  consumeGapUs: number | null
  errorsByCode: Record<string, number>
  /** Where the heal-relative figures count from: the fault's end, or its start when it never ended. */
  healUs: number
  firstAckAfterHealUs: number | null
  /** Acks per second before the fault; null without 1 s of load before it. */
  baselineRate: number | null
  recoveryUs: number | null
  recovered: boolean
  /** Why recoveryUs is null, in words. */
  note: string | null
}

export interface AvailabilityLoad {
  /** First send of the run (the load's start). */
  readonly loadStartUs: number
  /** Where the load ends: measure-end, else the last send. */
  readonly loadEndUs: number
}

const BUCKET_US = 100_000
const RECOVERY_SPAN_US = 1_000_000
const BASELINE_US = 10_000_000
const RECOVERED_SHARE = 0.9

interface Tracker {
  readonly f: FaultInterval
  readonly ws: number
  readonly we: number
  lastAck: number
  gap: number
  gapFrom: number
  gapTo: number
  lastRecv: number
  recvGap: number
  firstAck: number | null
  readonly errors: Map<string, number>
}

/** The impact windows: each fault's start to the next start at or after its end, or the load's end. */
export function impactWindows(faults: readonly FaultInterval[], loadEndUs: number): { start: number; end: number }[] {
  const starts = faults.map((f) => f.startUs).sort((a, b) => a - b)
  return faults.map((f) => {
    const end = f.endUs ?? f.startUs
    const next = starts.find((s) => s >= end && s > f.startUs)
    return { start: f.startUs, end: Math.max(end, Math.min(next ?? loadEndUs, loadEndUs)) }
  })
}

/**
 * Scans the history again (`scan` visits every record) and returns each fault with its availability.
 * `faults` are the intervals from the metrics pass.
 */
export async function withAvailability(
  faults: readonly FaultInterval[],
  load: AvailabilityLoad,
  scan: (visit: (rec: HistoryRecord) => void) => Promise<unknown>,
): Promise<FaultInterval[]> {
  if (faults.length === 0) return []
  const windows = impactWindows(faults, load.loadEndUs)
  const trackers: Tracker[] = faults.map((f, i) => ({
    f,
    ws: windows[i]!.start,
    we: windows[i]!.end,
    lastAck: windows[i]!.start,
    gap: 0,
    gapFrom: windows[i]!.start,
    gapTo: windows[i]!.start,
    lastRecv: windows[i]!.start,
    recvGap: 0,
    firstAck: null,
    errors: new Map(),
  }))
  const heal = faults.map((f) => f.endUs ?? f.startUs)
  const acksPerBucket = new Map<number, number>()
  let consumed = 0
  await scan((rec) => {
    const t = rec.time
    switch (rec.kind) {
      case EventKind.ack: {
        const b = Math.floor(t / BUCKET_US)
        acksPerBucket.set(b, (acksPerBucket.get(b) ?? 0) + 1)
        for (const [i, k] of trackers.entries()) {
          if (t >= heal[i]! && (k.firstAck === null || t < k.firstAck)) k.firstAck = t
          if (t < k.ws || t > k.we || t <= k.lastAck) continue
          if (t - k.lastAck > k.gap) {
            k.gap = t - k.lastAck
            k.gapFrom = k.lastAck
            k.gapTo = t
          }
          k.lastAck = t
        }
        return
      }
      case EventKind.recv:
        consumed++
        for (const k of trackers) {
          if (t < k.ws || t > k.we || t <= k.lastRecv) continue
          k.recvGap = Math.max(k.recvGap, t - k.lastRecv)
          k.lastRecv = t
        }
        return
      case EventKind.fail: {
        const code = rec.str(rec.error)
        for (const k of trackers) if (t >= k.ws && t <= k.we) k.errors.set(code, (k.errors.get(code) ?? 0) + 1)
        return
      }
      default:
        return
    }
  })
  const acksBetween = (from: number, to: number): number => {
    let n = 0
    for (let b = Math.floor(from / BUCKET_US); b < Math.ceil(to / BUCKET_US); b++) n += acksPerBucket.get(b) ?? 0
    return n
  }
  return trackers.map((k, i) => {
    if (k.we - k.lastAck > k.gap) {
      k.gap = k.we - k.lastAck
      k.gapFrom = k.lastAck
      k.gapTo = k.we
    }
    const healUs = heal[i]!
    const previousEnd = Math.max(load.loadStartUs, ...faults.filter((o) => o !== k.f && o.startUs < k.f.startUs).map((o) => o.endUs ?? k.f.startUs))
    const baseFrom = Math.max(k.f.startUs - BASELINE_US, previousEnd)
    // Whole buckets, so the baseline counts exactly what the recovery windows compare with.
    const baseFromBucket = Math.ceil(baseFrom / BUCKET_US) * BUCKET_US
    const baseToBucket = Math.floor(k.f.startUs / BUCKET_US) * BUCKET_US
    const baselineRate = baseToBucket - baseFromBucket >= RECOVERY_SPAN_US ? (acksBetween(baseFromBucket, baseToBucket) * 1_000_000) / (baseToBucket - baseFromBucket) : null
    let recoveryUs: number | null = null
    let note: string | null = null
    if (baselineRate === null) note = 'no baseline: less than 1 s of load before the fault'
    else {
      const wanted = (baselineRate * RECOVERY_SPAN_US * RECOVERED_SHARE) / 1_000_000
      // Already back when it healed (traffic moved off a killed leader before the restart): no wait at all.
      const before = Math.floor(healUs / BUCKET_US) * BUCKET_US
      if (before - RECOVERY_SPAN_US >= k.ws && acksBetween(before - RECOVERY_SPAN_US, before) >= wanted) recoveryUs = 0
      for (let from = Math.ceil(healUs / BUCKET_US) * BUCKET_US; recoveryUs === null && from + RECOVERY_SPAN_US <= k.we; from += BUCKET_US) {
        if (acksBetween(from, from + RECOVERY_SPAN_US) >= wanted) {
          recoveryUs = from - healUs
          break
        }
      }
      if (recoveryUs === null) note = `not recovered: throughput stayed below 90% of ${baselineRate.toFixed(0)}/s for the ${((k.we - healUs) / 1e6).toFixed(1)} s from the heal to the end of the fault's impact window`
    }
    const errorsByCode: Record<string, number> = {}
    for (const code of [...k.errors.keys()].sort()) errorsByCode[code] = k.errors.get(code)!
    const a: FaultAvailability = {
      windowStartUs: k.ws,
      windowEndUs: k.we,
      produceGapUs: k.gap,
      produceGapFromUs: k.gapFrom,
      produceGapToUs: k.gapTo,
      consumeGapUs: consumed === 0 ? null : Math.max(k.recvGap, k.we - k.lastRecv),
      errorsByCode,
      healUs,
      firstAckAfterHealUs: k.firstAck === null ? null : k.firstAck - healUs,
      baselineRate,
      recoveryUs,
      recovered: recoveryUs !== null,
      note,
    }
    return { ...k.f, availability: a }
  })
}
