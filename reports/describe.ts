// One-line descriptions of results parts, shared by the console and markdown renderers.

import { type AnomalyExamples, type AnomalyKind, anomalyKinds, jepsenNames } from './checker.ts'
import { formatAt, formatBytes, formatCount, formatNumber, formatUs } from './format.ts'
import type { FaultInterval } from './metrics.ts'
import type { SloResult } from './slo.ts'

const meaning: Record<AnomalyKind, string> = {
  lost: 'acked, never consumed, though consumers read past its offset',
  unseen: 'acked, never consumed, nobody read that far (lost or late)',
  duplicates: 'one value at two or more offsets',
  inconsistentOffsets: 'one offset holding two different values',
  reordered: 'a later send of one producer stored before an earlier one',
  pollSkips: 'a consumer jumped over existing offsets within one ownership',
  pollRewinds: 'a consumer went back within one ownership',
  failedWritesRead: 'a definitely failed write was consumed: an aborted read',
  rereads: 'a group consumed one offset twice, expected on rebalance under at-least-once',
}

/** What each anomaly kind means, for the reports and the scenario's JSON Schema, with Jepsen's name for it. */
export const anomalyMeaning: Readonly<Record<AnomalyKind, string>> = Object.fromEntries(
  anomalyKinds.map((k) => [k, jepsenNames[k] === k ? meaning[k] : `${meaning[k]} (Jepsen's ${jepsenNames[k]})`]),
) as Record<AnomalyKind, string>

const at = (topic: string | null, partition: number | null, offset: number): string =>
  topic === null ? 'unknown partition' : `${topic}/${partition}@${offset < 0 ? '?' : offset}`

const when = (label: string, us: number | null): string => (us === null ? '' : `, ${label} ${formatAt(us)}`)

export function describeExample<K extends AnomalyKind>(kind: K, example: AnomalyExamples[K]): string {
  const e = example as AnomalyExamples[AnomalyKind]
  switch (kind) {
    case 'lost': {
      const x = e as AnomalyExamples['lost']
      return `value ${x.value} at ${at(x.topic, x.partition, x.offset)}${when('acked', x.ackTime)}; partition read up to ${x.maxReadOffset}`
    }
    case 'unseen': {
      const x = e as AnomalyExamples['unseen']
      return `value ${x.value} at ${at(x.topic, x.partition, x.offset)}${when('acked', x.ackTime)}`
    }
    case 'duplicates': {
      const x = e as AnomalyExamples['duplicates']
      return `value ${x.value} at ${at(x.first.topic, x.first.partition, x.first.offset)} and ${at(x.second.topic, x.second.partition, x.second.offset)}${when('seen again', x.time)}`
    }
    case 'inconsistentOffsets': {
      const x = e as AnomalyExamples['inconsistentOffsets']
      const v = (n: number): string => (n < 0 ? 'a foreign record' : `value ${n}`)
      return `${at(x.topic, x.partition, x.offset)} held ${v(x.values[0])} and ${v(x.values[1])}${when('at', x.time)}`
    }
    case 'reordered': {
      const x = e as AnomalyExamples['reordered']
      return `producer ${x.producer}: value ${x.value} at ${at(x.topic, x.partition, x.offset)} but earlier value ${x.previousValue} at offset ${x.previousOffset}${when('acked', x.ackTime)}`
    }
    case 'pollSkips': {
      const x = e as AnomalyExamples['pollSkips']
      return `${x.group}/${x.member} read ${x.topic}/${x.partition} ${x.fromOffset} -> ${x.toOffset}, skipping ${formatCount(x.skipped)} existing (first ${x.firstSkippedOffset})${when('at', x.time)}`
    }
    case 'pollRewinds': {
      const x = e as AnomalyExamples['pollRewinds']
      return `${x.group}/${x.member} read ${x.topic}/${x.partition} ${x.fromOffset} -> ${x.toOffset}${when('at', x.time)}`
    }
    case 'failedWritesRead': {
      const x = e as AnomalyExamples['failedWritesRead']
      return `value ${x.value} at ${at(x.topic, x.partition, x.offset)} failed${x.error ? ` with ${x.error}` : ''}${when('at', x.failTime)}${when('read', x.readTime)}`
    }
    case 'rereads': {
      const x = e as AnomalyExamples['rereads']
      return `${x.group}/${x.member} consumed ${at(x.topic, x.partition, x.offset)} again${when('at', x.time)}`
    }
  }
  return JSON.stringify(example)
}

export function describeFault(f: FaultInterval): string {
  return `${f.name}${f.kind === null ? '' : ` ${f.kind}`} ${f.target}: ${formatAt(f.startUs)} .. ${f.endUs === null ? 'never ended' : formatAt(f.endUs)}, ${formatCount(f.acks)} acks, longest ack gap ${formatUs(f.longestAckGapUs)}`
}

/** The fault's availability in one line, or null when results were written without it. */
export function describeAvailability(f: FaultInterval): string | null {
  const a = f.availability
  if (a === null) return null
  const errors = Object.entries(a.errorsByCode)
  const healed = f.endUs === null ? 'from the start (never healed)' : 'after heal'
  return [
    `unavailable ${formatUs(a.produceGapUs)} produce`,
    `${a.consumeGapUs === null ? '-' : formatUs(a.consumeGapUs)} consume`,
    `errors ${errors.length === 0 ? '0' : errors.map(([code, n]) => `${code} ${formatCount(n)}`).join(', ')}`,
    `first ack ${a.firstAckAfterHealUs === null ? 'none' : formatUs(a.firstAckAfterHealUs)} ${healed}`,
    `recovery ${a.recoveryUs !== null ? formatUs(a.recoveryUs) : a.baselineRate === null ? 'no baseline' : 'not recovered'}`,
  ].join(', ')
}

export function sloValue(unit: SloResult['unit'], v: number): string {
  if (unit === 'us') return formatUs(v)
  if (unit === 'records/s') return `${formatNumber(v, 1)}/s`
  if (unit === 'bytes/s') return `${formatBytes(v)}/s`
  // Three significant digits: 0.0123%, 1.5%; a share of sends is rarely a round number.
  if (unit === 'fraction') return `${Number((v * 100).toPrecision(3))}%`
  return formatCount(v)
}

export function describeSlo(s: SloResult): string {
  if (s.state === 'errored') return `${s.metric}: ${s.reason} (wanted ${s.comparison} ${sloValue(s.unit, s.threshold)})`
  return `${s.metric}: ${sloValue(s.unit, s.actual)} ${s.comparison} ${sloValue(s.unit, s.threshold)}`
}
