// A model of a run for property tests: fast-check draws a clean run (producers, partition logs, consumer
// groups with rebalances and at-least-once re-reads, foreign records, failures of both kinds), injections
// then break it in known ways, and buildHistory() emits the history events plus what a correct checker
// must report. Each injection is built so it causes exactly one anomaly of its kind and nothing else: a
// lost write gets an ownership boundary at its offset (else it would also be a poll skip), a poll skip is
// made by a second group (else the skipped value would also be lost), and so on.

import fc from 'fast-check'
import type { AnomalyKind } from '../../reports/checker.ts'
import type { HistoryEvent } from '../../workloads/history/events.ts'

export type Outcome = 'ack' | 'definite' | 'landed' | 'lost'

export interface BaseSpec {
  topics: number
  partitionsPerTopic: number
  producers: number
  values: { producer: number; partition: number; outcome: Outcome; ackDelay: number }[]
  groups: number
  members: number
  /** Per (group, partition) in order: ownership changes at log position `at` (mod length), re-reading `reread`. */
  cuts: { group: number; partition: number; at: number; reread: number; member: number }[]
  foreign: { partition: number; at: number }[]
  bases: number[]
}

export const injectKinds = [
  'lost',
  'unseen',
  'duplicates',
  'inconsistentOffsets',
  'reordered',
  'pollSkips',
  'pollRewinds',
  'failedWritesRead',
] as const
export type InjectKind = (typeof injectKinds)[number]

export interface Injection {
  kind: InjectKind
  /** Global partition index (mod the partition count). */
  partition: number
  /** Choices among the candidates; one per anomaly wanted. */
  picks: number[]
}

export interface BuiltHistory {
  events: HistoryEvent[]
  expected: Record<AnomalyKind, number>
  /** What identifies each expected anomaly: values, or "topic/partition@offset". */
  identities: Partial<Record<AnomalyKind, string[]>>
  stats: { values: number; acks: number; recvs: number; foreign: number; indeterminateLanded: number }
}

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('ack' as const) },
  { weight: 1, arbitrary: fc.constant('definite' as const) },
  { weight: 1, arbitrary: fc.constant('landed' as const) },
  { weight: 1, arbitrary: fc.constant('lost' as const) },
)

export interface SpecShape {
  minValues?: number
  maxValues?: number
  maxProducers?: number
  maxPartitionsPerTopic?: number
  /** Force this many consumer groups. */
  groups?: number
}

export const specArb = (shape: SpecShape = {}): fc.Arbitrary<BaseSpec> =>
  fc.record({
    topics: fc.integer({ min: 1, max: 2 }),
    partitionsPerTopic: fc.integer({ min: 1, max: shape.maxPartitionsPerTopic ?? 3 }),
    producers: fc.integer({ min: 1, max: shape.maxProducers ?? 3 }),
    values: fc.array(
      fc.record({ producer: fc.nat(), partition: fc.nat(), outcome: outcomeArb, ackDelay: fc.integer({ min: 1, max: 200 }) }),
      { minLength: shape.minValues ?? 0, maxLength: shape.maxValues ?? 80 },
    ),
    groups: shape.groups === undefined ? fc.integer({ min: 1, max: 2 }) : fc.constant(shape.groups),
    members: fc.integer({ min: 1, max: 3 }),
    cuts: fc.array(
      fc.record({ group: fc.nat(), partition: fc.nat(), at: fc.nat(), reread: fc.integer({ min: 0, max: 2 }), member: fc.nat() }),
      { maxLength: 8 },
    ),
    foreign: fc.array(fc.record({ partition: fc.nat(), at: fc.nat() }), { maxLength: 3 }),
    bases: fc.array(fc.constantFrom(0, 0, 7, 5000, 2 ** 33), { minLength: 6, maxLength: 6 }),
  })

export const baseSpecArb: fc.Arbitrary<BaseSpec> = specArb()

export const injectionArb = (kind: InjectKind, maxCount = 3): fc.Arbitrary<Injection> =>
  fc.record({
    kind: fc.constant(kind),
    partition: fc.nat(),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: maxCount }),
  })

interface Entry {
  /** -1: a record this run did not write. */
  value: number
}

interface Segment {
  member: number
  start: number
  end: number
}

const key = (g: number, p: number): string => `${g}:${p}`

export function buildHistory(spec: BaseSpec, injections: Injection[]): BuiltHistory {
  const nParts = spec.topics * spec.partitionsPerTopic
  const topicOf = (gp: number): string => `t${Math.floor(gp / spec.partitionsPerTopic)}`
  const partOf = (gp: number): number => gp % spec.partitionsPerTopic
  const base = (gp: number): number => spec.bases[gp % spec.bases.length] ?? 0
  const where = (gp: number, pos: number): string => `${topicOf(gp)}/${partOf(gp)}@${base(gp) + pos}`

  const values = spec.values.map((v) => ({
    producer: v.producer % spec.producers,
    gp: v.partition % nParts,
    outcome: v.outcome,
    ackDelay: v.ackDelay,
  }))
  const expected = Object.fromEntries(
    ['lost', 'unseen', 'duplicates', 'inconsistentOffsets', 'reordered', 'pollSkips', 'pollRewinds', 'failedWritesRead', 'rereads'].map(
      (k) => [k, 0],
    ),
  ) as Record<AnomalyKind, number>
  const identities: Partial<Record<AnomalyKind, string[]>> = {}
  const found = (kind: AnomalyKind, id: string): void => {
    expected[kind]++
    ;(identities[kind] ??= []).push(id)
  }
  const byKind = (kind: InjectKind): Injection[] => injections.filter((i) => i.kind === kind)

  // Partition logs: landed values in send order, foreign records sprinkled in.
  const logs: Entry[][] = Array.from({ length: nParts }, () => [])
  values.forEach((v, id) => {
    if (v.outcome === 'ack' || v.outcome === 'landed') logs[v.gp]!.push({ value: id })
  })
  for (const f of spec.foreign) {
    const log = logs[f.partition % nParts]!
    log.splice(f.at % (log.length + 1), 0, { value: -1 })
  }
  const acked = (e: Entry | undefined): boolean => e !== undefined && e.value >= 0 && values[e.value]!.outcome === 'ack'

  for (const inj of byKind('reordered')) {
    const gp = inj.partition % nParts
    const log = logs[gp]!
    const used = new Set<number>()
    for (const pick of inj.picks) {
      const candidates: number[] = []
      for (let i = 0; i + 1 < log.length; i++) {
        const a = log[i]!
        const b = log[i + 1]!
        if (used.has(i) || used.has(i + 1) || used.has(i - 1) || used.has(i + 2)) continue
        if (acked(a) && acked(b) && values[a.value]!.producer === values[b.value]!.producer) candidates.push(i)
      }
      if (candidates.length === 0) break
      const i = candidates[pick % candidates.length]!
      used.add(i)
      used.add(i + 1)
      const later = log[i + 1]!
      log[i + 1] = log[i]!
      log[i] = later
      found('reordered', String(later.value))
    }
  }
  for (const inj of byKind('duplicates')) {
    const log = logs[inj.partition % nParts]!
    const taken = new Set<number>()
    for (const pick of inj.picks) {
      const candidates = log.filter((e) => acked(e) && !taken.has(e.value))
      if (candidates.length === 0) break
      const e = candidates[pick % candidates.length]!
      taken.add(e.value)
      log.push({ value: e.value })
      found('duplicates', String(e.value))
    }
  }
  for (const inj of byKind('failedWritesRead')) {
    const gp = inj.partition % nParts
    for (const pick of inj.picks) {
      const id = values.length
      values.push({ producer: pick % spec.producers, gp, outcome: 'definite', ackDelay: 1 })
      logs[gp]!.push({ value: id })
      found('failedWritesRead', String(id))
    }
  }

  // Consumption plan: per group and partition, ownership segments over the log.
  const segments = new Map<string, Segment[]>()
  for (let g = 0; g < spec.groups; g++) {
    for (let gp = 0; gp < nParts; gp++) {
      const len = logs[gp]!.length
      const cuts = spec.cuts.filter((c) => c.group % spec.groups === g && c.partition % nParts === gp)
      const at = new Map<number, (typeof cuts)[number]>()
      for (const c of cuts) if (len > 1) at.set(1 + (c.at % (len - 1)), c)
      const points = [...at.keys()].sort((a, b) => a - b)
      const segs: Segment[] = []
      let start = 0
      let member = gp % spec.members
      let prevCut = 0
      for (const p of points) {
        segs.push({ member, start, end: p })
        const c = at.get(p)!
        start = p - Math.min(c.reread, p - prevCut)
        prevCut = p
        member = c.member % spec.members
      }
      segs.push({ member, start, end: len })
      segments.set(key(g, gp), segs)
    }
  }

  // Read-level injections.
  const lost = new Map<number, Set<number>>() // gp -> positions nobody reads, with an ownership boundary
  const limit = new Map<number, number>() // gp -> reads stop before this position
  const override = new Map<string, Map<number, number>>() // group:gp -> position -> value reported
  const skip = new Map<string, Set<number>>() // group:gp -> positions skipped within an ownership
  const reread = new Map<string, Set<number>>() // group:gp -> positions read twice in a row

  for (const inj of byKind('lost')) {
    const gp = inj.partition % nParts
    const log = logs[gp]!
    const set = lost.get(gp) ?? new Set<number>()
    for (const pick of inj.picks) {
      const candidates: number[] = []
      for (let i = 0; i + 1 < log.length; i++) if (acked(log[i]) && !set.has(i)) candidates.push(i)
      if (candidates.length === 0) break
      const i = candidates[pick % candidates.length]!
      set.add(i)
      found('lost', String(log[i]!.value))
    }
    lost.set(gp, set)
  }
  for (const inj of byKind('unseen')) {
    const gp = inj.partition % nParts
    const log = logs[gp]!
    if (log.length === 0) continue
    const tail = 1 + ((inj.picks[0] ?? 0) % Math.min(3, log.length))
    limit.set(gp, log.length - tail)
    for (let i = log.length - tail; i < log.length; i++) if (acked(log[i])) found('unseen', String(log[i]!.value))
  }
  if (spec.groups >= 2) {
    for (const inj of byKind('inconsistentOffsets')) {
      const gp = inj.partition % nParts
      const log = logs[gp]!
      const o = override.get(key(1, gp)) ?? new Map<number, number>()
      for (const pick of inj.picks) {
        const candidates: number[] = []
        for (let i = 0; i < log.length; i++) if (log[i]!.value >= 0 && !o.has(i)) candidates.push(i)
        if (candidates.length === 0) break
        const i = candidates[pick % candidates.length]!
        o.set(i, -1)
        found('inconsistentOffsets', where(gp, i))
      }
      override.set(key(1, gp), o)
    }
    for (const inj of byKind('pollSkips')) {
      const gp = inj.partition % nParts
      const segs = segments.get(key(1, gp))!
      const s = skip.get(key(1, gp)) ?? new Set<number>()
      const readCount = new Map<number, number>()
      for (const seg of segs) for (let i = seg.start; i < seg.end; i++) readCount.set(i, (readCount.get(i) ?? 0) + 1)
      for (const pick of inj.picks) {
        const candidates: number[] = []
        for (const seg of segs) {
          for (let i = seg.start + 1; i + 1 < seg.end; i++) {
            if (readCount.get(i) !== 1 || readCount.get(i - 1) !== 1 || readCount.get(i + 1) !== 1) continue
            if (s.has(i) || s.has(i - 1) || s.has(i + 1)) continue
            candidates.push(i)
          }
        }
        if (candidates.length === 0) break
        const i = candidates[pick % candidates.length]!
        s.add(i)
        found('pollSkips', where(gp, i))
      }
      skip.set(key(1, gp), s)
    }
  }
  for (const inj of byKind('pollRewinds')) {
    const gp = inj.partition % nParts
    const g = (inj.picks[0] ?? 0) % spec.groups
    const log = logs[gp]!
    const r = reread.get(key(g, gp)) ?? new Set<number>()
    for (const pick of inj.picks) {
      const candidates: number[] = []
      for (let i = 0; i < log.length; i++) if (!r.has(i)) candidates.push(i)
      if (candidates.length === 0) break
      const i = candidates[pick % candidates.length]!
      r.add(i)
    }
    reread.set(key(g, gp), r)
  }

  // Emit events with times: sends every 100 µs, each consumer stream strictly increasing.
  const timed: { time: number; seq: number; event: HistoryEvent }[] = []
  let seq = 0
  const emit = (time: number, event: HistoryEvent): void => {
    timed.push({ time, seq: seq++, event })
  }
  const sendTime = (id: number): number => id * 100
  const positions = logs.map(() => new Map<number, number>())
  logs.forEach((log, gp) => log.forEach((e, i) => e.value >= 0 && !positions[gp]!.has(e.value) && positions[gp]!.set(e.value, i)))
  values.forEach((v, id) => {
    const t = sendTime(id)
    emit(t, { type: 'send', value: id, producer: `p${v.producer}`, topic: topicOf(v.gp), key: id % 3 === 0 ? null : `k${id % 7}`, intended: t - (id % 5), time: t, size: 100 + (id % 13) })
    if (v.outcome === 'ack') {
      const pos = positions[v.gp]!.get(id)!
      emit(t + v.ackDelay, { type: 'ack', value: id, topic: topicOf(v.gp), partition: partOf(v.gp), offset: base(v.gp) + pos, time: t + v.ackDelay, sent: t, intended: t - (id % 5), size: 100 + (id % 13) })
    } else {
      emit(t + 50, { type: 'fail', value: id, time: t + 50, error: v.outcome === 'definite' ? 'INVALID_RECORD' : 'REQUEST_TIMED_OUT', definite: v.outcome === 'definite' })
    }
  })

  let recvs = 0
  let foreign = 0
  const consumed = new Set<number>()
  for (let g = 0; g < spec.groups; g++) {
    for (let gp = 0; gp < nParts; gp++) {
      const log = logs[gp]!
      const segs = segments.get(key(g, gp))!
      const lostHere = lost.get(gp) ?? new Set<number>()
      const lim = limit.get(gp) ?? Infinity
      const ov = override.get(key(g, gp))
      const sk = skip.get(key(g, gp))
      const rr = reread.get(key(g, gp))
      const seen = new Set<number>()
      let cursor = 0
      const group = `g${g}`
      const topic = topicOf(gp)
      const partition = partOf(gp)
      const own = (type: 'assign' | 'revoke', member: number): void => {
        cursor += 1
        emit(cursor, { type, group, member: `m${member}`, topic, partition, time: cursor })
      }
      const read = (member: number, i: number): void => {
        const value = ov?.get(i) ?? log[i]!.value
        cursor = Math.max(cursor + 1, value >= 0 ? sendTime(value) + 60 : 0, log[i]!.value >= 0 ? sendTime(log[i]!.value) + 60 : 0)
        emit(cursor, { type: 'recv', value, group, member: `m${member}`, topic, partition, offset: base(gp) + i, time: cursor, intended: value >= 0 ? sendTime(value) : -1, size: 100 })
        recvs++
        if (value < 0) foreign++
        else consumed.add(value)
        if (seen.has(i)) expected.rereads++
        seen.add(i)
      }
      for (const seg of segs) {
        own('assign', seg.member)
        for (let i = seg.start; i < seg.end && i < lim; i++) {
          if (lostHere.has(i)) {
            // The broker lost this record: consumers never see it; a rebalance here keeps it from being a poll skip.
            own('revoke', seg.member)
            own('assign', seg.member)
            continue
          }
          if (sk?.has(i)) continue
          read(seg.member, i)
          if (rr?.has(i)) {
            read(seg.member, i)
            found('pollRewinds', where(gp, i))
          }
        }
        own('revoke', seg.member)
      }
    }
  }
  timed.sort((a, b) => a.time - b.time || a.seq - b.seq)
  let indeterminateLanded = 0
  values.forEach((v, id) => {
    if (v.outcome === 'landed' && consumed.has(id)) indeterminateLanded++
  })
  return {
    events: timed.map((t) => t.event),
    expected,
    identities,
    stats: { values: values.length, acks: values.filter((v) => v.outcome === 'ack').length, recvs, foreign, indeterminateLanded },
  }
}
