// Backlog mode's outcome in results.json: per consumer group set, whether the backlog built and drained, and
// how fast the consumers read while draining (the `drainRate` SLO). Built from the workload's BacklogResult
// (milliseconds) into results.json's units (µs, bytes, per second).

import type { BacklogResult } from '../workloads/consumer.ts'
import { formatBytes, formatNumber, formatUs } from './format.ts'

/** What the runner knows of one consumer set in backlog mode; `result` is null when it had not finished. */
export interface BacklogRun {
  /** The scenario's consumer group set (workload.consumers[].name). */
  readonly consumers: string
  readonly targetBytes: number
  readonly result: BacklogResult | null
}

interface BacklogBase {
  consumers: string
  targetBytes: number
}

export type BacklogOutcome =
  | (BacklogBase & {
      state: 'drained'
      /** From the start of the run until the backlog reached its size. */
      buildUs: number
      /** From the consumers' resume until the backlog was drained. */
      drainUs: number
      peakBytes: number
      /** Payload bytes and records the consumers read while draining. */
      drainedBytes: number
      drainedRecords: number
      /** The drain rate: what the consumers read while draining, per second. */
      readBytesPerSecond: number
      readRecordsPerSecond: number
      /** How fast the backlog itself shrank: the read rate minus what the producers added meanwhile. */
      netDrainBytesPerSecond: number
    })
  | (BacklogBase & { state: 'timed-out'; phase: 'build' | 'drain'; pendingBytes: number; elapsedUs: number })
  /** Still building or draining when the run ended. */
  | (BacklogBase & { state: 'unfinished' })

export function backlogOutcome(run: BacklogRun): BacklogOutcome {
  const base = { consumers: run.consumers, targetBytes: run.targetBytes }
  const r = run.result
  if (r === null) return { ...base, state: 'unfinished' }
  const us = (ms: number): number => Math.round(ms * 1000)
  if (r.state === 'timed-out') return { ...base, state: 'timed-out', phase: r.phase, pendingBytes: r.pendingBytes, elapsedUs: us(r.elapsedMs) }
  return {
    ...base,
    state: 'drained',
    buildUs: us(r.buildMs),
    drainUs: us(r.drainMs),
    peakBytes: r.peakBytes,
    drainedBytes: r.drainedBytes,
    drainedRecords: r.drainedRecords,
    readBytesPerSecond: r.receiveBytesPerSecond,
    readRecordsPerSecond: r.receiveRecordsPerSecond,
    netDrainBytesPerSecond: r.netDrainBytesPerSecond,
  }
}

export function describeBacklog(b: BacklogOutcome): string {
  const head = `${b.consumers}: backlog of ${formatBytes(b.targetBytes)}`
  if (b.state === 'unfinished') return `${head} had not drained when the run ended`
  if (b.state === 'timed-out') {
    return `${head} timed out ${b.phase === 'build' ? 'building' : 'draining'} after ${formatUs(b.elapsedUs)} with ${formatBytes(b.pendingBytes)} unconsumed`
  }
  return (
    `${head} built to ${formatBytes(b.peakBytes)} in ${formatUs(b.buildUs)}, drained in ${formatUs(b.drainUs)}: ` +
    `read ${formatBytes(b.readBytesPerSecond)}/s (${formatNumber(b.readRecordsPerSecond, 0)} records/s), backlog shrank ${formatBytes(b.netDrainBytesPerSecond)}/s`
  )
}
