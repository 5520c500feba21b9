// The delivery checker: a streaming, Jepsen-style analysis of a run's history.
//
// Anomalies, by the names a scenario's checks.delivery and results.json use (Jepsen's names, from
// jepsen.tests.kafka, in brackets and in jepsenNames):
//   lost                 an acked value was never consumed, although some consumer read its partition at or
//                        past the acked offset (lost-write)
//   unseen               an acked value was never consumed and nobody read that far: lost or just late
//   duplicates           one value stored at two or more offsets (duplicate)
//   inconsistentOffsets  one offset holding two different values, from acks and reads together
//                        (inconsistent-offsets)
//   reordered            within one producer and partition, a later-sent value acked at a lower offset
//                        (nonmonotonic-send; meaningful only for idempotent producers or max in-flight 1: the
//                        sendOrder option)
//   pollSkips            within one member's continuous ownership of a partition, consecutive reads jump
//                        over offsets that exist, acked or read by anyone (poll-skip)
//   pollRewinds          within one continuous ownership, a read at or below the previous read's offset
//                        (nonmonotonic-poll)
//   failedWritesRead     a value whose write definitely failed was consumed (G1a, aborted read)
//   rereads              one group consumed the same offset twice: expected on rebalance under
//                        at-least-once, so unlimited by default (consumption-duplicate)
// Indeterminate failures (timeouts) may or may not have happened; consuming one is fine, and is counted in
// stats.indeterminateLanded.
//
// Memory is bounded by typed arrays, never by per-event objects: per value id (dense, assigned by the
// harness) 13 bytes (flags, partition, offset; 4 more with sendOrder), per partition offset 4 bytes (the
// value seen there) plus 1 bit per consumer group. Offsets far apart switch a partition to a sparse map
// rather than allocate the gap (Maelstrom's checker died on large offsets). Examples are kept only for the
// first N of each kind; times for anomalies found at the end of the pass (lost, unseen, reordered,
// failedWritesRead) come from a second, cheap pass over the history that runs only when there are any.
//
// Assumptions the workloads must keep: value ids increase in send order within each producer (the checker
// counts violations in stats.sendOrderViolations); a value's send is written to the history before its ack
// or any read of it (true for one writer per run, since the record cannot exist before the send); consumers
// write assign/revoke events, or a member's reads of a partition count as one ownership for the whole run.

import { EventKind } from '../workloads/history/events.ts'
import { type HistoryRecord, readHistoryTrailer, scanHistory } from '../workloads/history/reader.ts'

/** Every anomaly kind, in report order: the one vocabulary of scenario files, results.json and reports. */
export const anomalyKinds = [
  'lost',
  'unseen',
  'duplicates',
  'inconsistentOffsets',
  'reordered',
  'pollSkips',
  'pollRewinds',
  'failedWritesRead',
  'rereads',
] as const
export type AnomalyKind = (typeof anomalyKinds)[number]

/** Each kind's name in Jepsen's Kafka checker (jepsen.tests.kafka); results.json schemaVersion 1 used these. */
export const jepsenNames: Readonly<Record<AnomalyKind, string>> = {
  lost: 'lost-write',
  unseen: 'unseen',
  duplicates: 'duplicate',
  inconsistentOffsets: 'inconsistent-offsets',
  reordered: 'nonmonotonic-send',
  pollSkips: 'poll-skip',
  pollRewinds: 'nonmonotonic-poll',
  failedWritesRead: 'G1a',
  rereads: 'consumption-duplicate',
}

/** How many of each kind a run may have and still pass; null means unlimited (counted, never failing). */
export const defaultLimits: Readonly<Record<AnomalyKind, number | null>> = {
  lost: 0,
  unseen: 0,
  duplicates: 0,
  inconsistentOffsets: 0,
  reordered: 0,
  pollSkips: 0,
  pollRewinds: 0,
  failedWritesRead: 0,
  rereads: null,
}

export interface Placement {
  topic: string
  partition: number
  offset: number
}

export interface LostExample {
  value: number
  topic: string
  partition: number
  offset: number
  /** The highest offset any consumer read on that partition. */
  maxReadOffset: number
  ackTime: number | null
}

export interface UnseenExample {
  value: number
  topic: string | null
  partition: number | null
  /** -1 when the ack carried no offset. */
  offset: number
  ackTime: number | null
}

export interface DuplicateExample {
  value: number
  first: Placement
  second: Placement
  /** When the second placement was seen. */
  time: number
}

export interface InconsistentOffsetsExample {
  topic: string
  partition: number
  offset: number
  /** The value seen first and the conflicting one; -1 is a record this run did not write. */
  values: [number, number]
  time: number
}

export interface ReorderedExample {
  producer: string
  topic: string
  partition: number
  value: number
  offset: number
  /** An earlier-sent value of the same producer acked at a higher offset. */
  previousValue: number
  previousOffset: number
  ackTime: number | null
  previousAckTime: number | null
}

export interface PollSkipExample {
  group: string
  member: string
  topic: string
  partition: number
  fromOffset: number
  toOffset: number
  /** Existing offsets jumped over, and the first of them. */
  skipped: number
  firstSkippedOffset: number
  time: number
}

export interface PollRewindExample {
  group: string
  member: string
  topic: string
  partition: number
  fromOffset: number
  toOffset: number
  time: number
}

export interface FailedWriteReadExample {
  value: number
  topic: string
  partition: number
  offset: number
  error: string | null
  failTime: number | null
  readTime: number | null
}

export interface RereadExample {
  group: string
  member: string
  topic: string
  partition: number
  offset: number
  value: number
  time: number
}

export interface AnomalyExamples {
  lost: LostExample
  unseen: UnseenExample
  duplicates: DuplicateExample
  inconsistentOffsets: InconsistentOffsetsExample
  reordered: ReorderedExample
  pollSkips: PollSkipExample
  pollRewinds: PollRewindExample
  failedWritesRead: FailedWriteReadExample
  rereads: RereadExample
}

export interface AnomalyReport<E> {
  /** False when the check did not apply (reordered without sendOrder). */
  checked: boolean
  count: number
  limit: number | null
  exceeded: boolean
  examples: E[]
}

export type Anomalies = { [K in AnomalyKind]: AnomalyReport<AnomalyExamples[K]> }

export interface DeliveryStats {
  sends: number
  /** Distinct values sent. */
  values: number
  acks: number
  failsDefinite: number
  failsIndeterminate: number
  recvs: number
  /** Distinct values consumed at least once. */
  consumedValues: number
  /** Records consumed that this run did not write (value -1). */
  foreignRecords: number
  /** Acks, failures or reads of value ids never sent (a harness bug or another run's data). */
  unknownValueEvents: number
  /** Values that failed indeterminately but were consumed: the write happened. */
  indeterminateLanded: number
  /** Values both acked and definitely failed (a driver reporting two outcomes). */
  conflictingOutcomes: number
  /** Sends whose value id was lower than the same producer's previous send. */
  sendOrderViolations: number
  partitions: number
  groups: number
  members: number
}

export interface DeliveryOptions {
  /** Check reordered (idempotent producers or max.in.flight 1). Default false. */
  sendOrder?: boolean
  /** Examples kept per kind. Default 10. */
  examples?: number
  /** Overrides of defaultLimits. */
  limits?: Partial<Record<AnomalyKind, number | null>>
  /** Value ids the history holds (readHistoryTrailer): sizes the arrays once instead of growing them. */
  expectedValues?: number
}

export interface DeliveryResult {
  state: 'passed' | 'failed'
  sendOrder: boolean
  stats: DeliveryStats
  anomalies: Anomalies
}

// Per-value flags.
const SENT = 1
const ACKED = 2
const FAIL_DEF = 4
const FAIL_INDET = 8
const CONSUMED = 16
const PLACED = 32
/** The placement came from an ack (acked offsets win over read offsets). */
const BY_ACK = 64
const DUP = 128

const MAX_VALUE = 2 ** 31 - 3
const PARTITION_LIMIT = 2 ** 24
/** Spans up to this stay dense whatever the density. */
const DENSE_MIN_SPAN = 1 << 20
/** Beyond DENSE_MIN_SPAN, a dense table may hold at most this many slots per stored offset. */
const DENSE_MAX_SLACK = 8

const alignDown = (n: number): number => n - (n % 64)

/** How an offset table stores a value id: +2, so 0 means empty and 1 a foreign record. */
const storedOf = (value: number): number => (value >= 0 && value <= MAX_VALUE ? value + 2 : 1)

/** What one partition's offsets held, and which groups consumed them. */
class PartitionState {
  readonly topic: string
  readonly partition: number
  base = 0
  /** value + 2 at offset (base + i); 0 = nothing seen; 1 = a foreign record. */
  values = new Int32Array(0)
  sparse: Map<number, number> | null = null
  /** Per group: a bitset aligned with `values`, or a set of offsets once sparse. */
  groups: (Uint8Array | Set<number> | undefined)[] = []
  entries = 0
  maxRead = -1
  reported: Set<number> | null = null

  constructor(topic: string, partition: number) {
    this.topic = topic
    this.partition = partition
  }

  get(offset: number): number {
    if (this.sparse) return this.sparse.get(offset) ?? 0
    const i = offset - this.base
    return i >= 0 && i < this.values.length ? (this.values[i] as number) : 0
  }

  /** Stores the first value seen at an offset; returns the one already there (0 if none). */
  put(offset: number, stored: number): number {
    if (this.sparse) {
      const cur = this.sparse.get(offset)
      if (cur !== undefined) return cur
      this.sparse.set(offset, stored)
      this.entries++
      return 0
    }
    const i = offset - this.base
    const values = this.values
    if (i >= 0 && i < values.length) {
      const cur = values[i] as number
      if (cur === 0) {
        values[i] = stored
        this.entries++
      }
      return cur
    }
    this.#reserve(offset)
    return this.put(offset, stored)
  }

  /** Marks an offset consumed by a group; true if that group had consumed it already. */
  consume(group: number, offset: number): boolean {
    if (!this.sparse) {
      const i = offset - this.base
      if (i < 0 || i >= this.values.length) this.#reserve(offset)
    }
    if (this.sparse) {
      let set = this.groups[group] as Set<number> | undefined
      if (!set) {
        set = new Set()
        this.groups[group] = set
      }
      if (set.has(offset)) return true
      set.add(offset)
      return false
    }
    let bits = this.groups[group] as Uint8Array | undefined
    if (!bits) {
      bits = new Uint8Array(this.values.length >>> 3)
      this.groups[group] = bits
    }
    const i = offset - this.base
    const byte = i >>> 3
    const mask = 1 << (i & 7)
    const b = bits[byte] as number
    if (b & mask) return true
    bits[byte] = b | mask
    return false
  }

  /** Existing offsets strictly between two offsets: how many, and the first. */
  existingBetween(from: number, to: number): { count: number; first: number } {
    let count = 0
    let first = -1
    if (this.sparse) {
      if (to - from < 1 << 22) {
        for (let o = from + 1; o < to; o++) {
          if (this.sparse.has(o)) {
            if (count++ === 0) first = o
          }
        }
      } else {
        for (const o of this.sparse.keys()) {
          if (o > from && o < to) {
            count++
            if (first < 0 || o < first) first = o
          }
        }
      }
      return { count, first }
    }
    const lo = Math.max(from + 1 - this.base, 0)
    const hi = Math.min(to - this.base, this.values.length)
    for (let i = lo; i < hi; i++) {
      if (this.values[i] !== 0) {
        if (count++ === 0) first = i + this.base
      }
    }
    return { count, first }
  }

  /** Makes the dense table cover an offset, or switches to sparse if that would be mostly empty. */
  #reserve(offset: number): void {
    const len = this.values.length
    if (len === 0) {
      this.base = alignDown(Math.max(0, offset - 1024))
      this.values = new Int32Array(1 << 16)
      return
    }
    let lo = this.base
    let hi = this.base + len
    if (offset < lo) lo = alignDown(Math.max(0, Math.min(offset, lo - (len >>> 1))))
    if (offset >= hi) hi = Math.max(this.base + 2 * len, alignDown(offset) + 64)
    const span = hi - lo
    if (span > DENSE_MIN_SPAN && span > DENSE_MAX_SLACK * (this.entries + 1)) {
      this.#toSparse()
      return
    }
    const shift = this.base - lo
    const values = new Int32Array(span)
    values.set(this.values, shift)
    for (let g = 0; g < this.groups.length; g++) {
      const old = this.groups[g] as Uint8Array | undefined
      if (!old) continue
      const bits = new Uint8Array(span >>> 3)
      bits.set(old, shift >>> 3)
      this.groups[g] = bits
    }
    this.values = values
    this.base = lo
  }

  #toSparse(): void {
    const sparse = new Map<number, number>()
    const values = this.values
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number
      if (v !== 0) sparse.set(this.base + i, v)
    }
    for (let g = 0; g < this.groups.length; g++) {
      const bits = this.groups[g] as Uint8Array | undefined
      if (!bits) continue
      const set = new Set<number>()
      for (let i = 0; i < bits.length * 8; i++) if ((bits[i >>> 3] as number) & (1 << (i & 7))) set.add(this.base + i)
      this.groups[g] = set
    }
    this.sparse = sparse
    this.values = new Int32Array(0)
  }
}

interface Detail {
  ackTime: number | null
  failTime: number | null
  error: string | null
  readTime: number | null
}

export type Rescan = (visit: (rec: HistoryRecord) => void) => Promise<unknown>

/** Collects anomalies of one kind: a count and the first N examples. */
class Collector<E> {
  count = 0
  readonly examples: E[] = []
  readonly #max: number
  constructor(max: number) {
    this.#max = max
  }
  /** Counts one; returns true if an example is still wanted (build it only then). */
  hit(): boolean {
    this.count++
    return this.examples.length < this.#max
  }
}

export class DeliveryChecker {
  readonly #sendOrder: boolean
  readonly #maxExamples: number
  readonly #limits: Record<AnomalyKind, number | null>
  #strings: string[] = []

  // Per value id.
  #cap = 0
  #flags = new Uint8Array(0)
  #vPart = new Int32Array(0)
  #vOff = new Float64Array(0)
  #vProd: Uint32Array | null = null
  #maxValue = -1

  readonly #parts: PartitionState[] = []
  readonly #partIndex = new Map<number, number>()
  #lastPartKey = -1
  #lastPart = -1

  readonly #groupIndex = new Map<number, number>()
  readonly #groupNames: string[] = []
  readonly #memberIndex = new Map<number, number>()
  readonly #memberNames: string[] = []
  readonly #memberGroup: number[] = []
  /** (member, partition) -> last offset read in the current ownership; -1 owned, nothing read yet. */
  readonly #own = new Map<number, number>()

  readonly #producerIndex = new Map<number, number>()
  readonly #producerNames: string[] = []
  readonly #producerLast: number[] = []

  // Poll-skip candidates, judged at the end when it is known which offsets exist.
  readonly #skipPart: number[] = []
  readonly #skipMember: number[] = []
  readonly #skipFrom: number[] = []
  readonly #skipTo: number[] = []
  readonly #skipTime: number[] = []

  readonly #duplicate: Collector<DuplicateExample>
  readonly #inconsistent: Collector<InconsistentOffsetsExample>
  readonly #pollRewind: Collector<PollRewindExample>
  readonly #reread: Collector<RereadExample>

  readonly #stats: DeliveryStats = {
    sends: 0,
    values: 0,
    acks: 0,
    failsDefinite: 0,
    failsIndeterminate: 0,
    recvs: 0,
    consumedValues: 0,
    foreignRecords: 0,
    unknownValueEvents: 0,
    indeterminateLanded: 0,
    conflictingOutcomes: 0,
    sendOrderViolations: 0,
    partitions: 0,
    groups: 0,
    members: 0,
  }

  constructor(options: DeliveryOptions = {}) {
    this.#sendOrder = options.sendOrder ?? false
    this.#maxExamples = Math.max(0, options.examples ?? 10)
    this.#limits = { ...defaultLimits, ...options.limits }
    this.#duplicate = new Collector(this.#maxExamples)
    this.#inconsistent = new Collector(this.#maxExamples)
    this.#pollRewind = new Collector(this.#maxExamples)
    this.#reread = new Collector(this.#maxExamples)
    // The hint is capped: a bogus one must not allocate gigabytes.
    this.#grow(Math.min(Math.max(options.expectedValues ?? 0, 1 << 16), 1 << 28))
  }

  observe(rec: HistoryRecord): void {
    this.#strings = rec.strings
    switch (rec.kind) {
      case EventKind.send:
        this.#send(rec)
        return
      case EventKind.ack:
        this.#ack(rec)
        return
      case EventKind.recv:
        this.#recv(rec)
        return
      case EventKind.fail:
        this.#fail(rec)
        return
      case EventKind.assign:
      case EventKind.revoke: {
        const pidx = this.#partitionOf(rec.topic, rec.partition)
        if (pidx < 0) return
        const key = this.#memberOf(rec.group, rec.member) * PARTITION_LIMIT + pidx
        if (rec.kind === EventKind.assign) this.#own.set(key, -1)
        else this.#own.delete(key)
        return
      }
      default:
        return
    }
  }

  #grow(min: number): void {
    const cap = Math.max(min, Math.ceil(this.#cap * 1.5))
    const flags = new Uint8Array(cap)
    flags.set(this.#flags)
    const part = new Int32Array(cap)
    part.set(this.#vPart)
    const off = new Float64Array(cap)
    off.set(this.#vOff)
    this.#flags = flags
    this.#vPart = part
    this.#vOff = off
    if (this.#sendOrder) {
      const prod = new Uint32Array(cap)
      if (this.#vProd) prod.set(this.#vProd)
      this.#vProd = prod
    }
    this.#cap = cap
  }

  /** A value id this run sent, or -1. */
  #known(v: number): number {
    if (v >= 0 && v < this.#cap && ((this.#flags[v] as number) & SENT) !== 0) return v
    this.#stats.unknownValueEvents++
    return -1
  }

  #send(rec: HistoryRecord): void {
    const v = rec.value
    this.#stats.sends++
    if (!(v >= 0 && v <= MAX_VALUE) || v > 8 * this.#stats.sends + (1 << 24)) {
      // Not a dense id: tracking it would allocate without bound.
      this.#stats.unknownValueEvents++
      return
    }
    if (v >= this.#cap) this.#grow(v + 1)
    if (v > this.#maxValue) this.#maxValue = v
    this.#flags[v] = (this.#flags[v] as number) | SENT
    let p = this.#producerIndex.get(rec.producer)
    if (p === undefined) {
      p = this.#producerNames.length
      this.#producerIndex.set(rec.producer, p)
      this.#producerNames.push(rec.str(rec.producer))
      this.#producerLast.push(-1)
    }
    if (v < (this.#producerLast[p] as number)) this.#stats.sendOrderViolations++
    else this.#producerLast[p] = v
    if (this.#vProd) this.#vProd[v] = p
  }

  #ack(rec: HistoryRecord): void {
    this.#stats.acks++
    const v = this.#known(rec.value)
    const pidx = this.#partitionOf(rec.topic, rec.partition)
    const off = rec.offset
    if (v >= 0) {
      const f = this.#flags[v] as number
      if (f & FAIL_DEF && !(f & ACKED)) this.#stats.conflictingOutcomes++
      this.#flags[v] = f | ACKED
      if (pidx >= 0 && off >= 0) this.#place(v, pidx, off, rec.time, true)
    }
    if (pidx >= 0 && off >= 0) this.#offsetHolds(pidx, off, storedOf(rec.value), rec.time)
  }

  #fail(rec: HistoryRecord): void {
    const definite = rec.definite
    if (definite) this.#stats.failsDefinite++
    else this.#stats.failsIndeterminate++
    const v = this.#known(rec.value)
    if (v < 0) return
    const f = this.#flags[v] as number
    if (definite && f & ACKED && !(f & FAIL_DEF)) this.#stats.conflictingOutcomes++
    this.#flags[v] = f | (definite ? FAIL_DEF : FAIL_INDET)
  }

  #recv(rec: HistoryRecord): void {
    this.#stats.recvs++
    const pidx = this.#partitionOf(rec.topic, rec.partition)
    const off = rec.offset
    let stored: number
    if (rec.value < 0) {
      this.#stats.foreignRecords++
      stored = 1
    } else {
      const v = this.#known(rec.value)
      stored = storedOf(rec.value)
      if (v >= 0) {
        this.#flags[v] = (this.#flags[v] as number) | CONSUMED
        if (pidx >= 0 && off >= 0) this.#place(v, pidx, off, rec.time, false)
      }
    }
    if (pidx < 0 || off < 0) return
    const ps = this.#parts[pidx] as PartitionState
    this.#offsetHolds(pidx, off, stored, rec.time)
    if (off > ps.maxRead) ps.maxRead = off

    const member = this.#memberOf(rec.group, rec.member)
    const group = this.#memberGroup[member] as number
    if (ps.consume(group, off) && this.#reread.hit()) {
      this.#reread.examples.push({
        group: this.#groupNames[group] as string,
        member: this.#memberNames[member] as string,
        topic: ps.topic,
        partition: ps.partition,
        offset: off,
        value: stored - 2,
        time: rec.time,
      })
    }

    const key = member * PARTITION_LIMIT + pidx
    const last = this.#own.get(key)
    if (last !== undefined && last >= 0) {
      if (off > last + 1) {
        this.#skipPart.push(pidx)
        this.#skipMember.push(member)
        this.#skipFrom.push(last)
        this.#skipTo.push(off)
        this.#skipTime.push(rec.time)
      } else if (off <= last && this.#pollRewind.hit()) {
        this.#pollRewind.examples.push({
          group: this.#groupNames[group] as string,
          member: this.#memberNames[member] as string,
          topic: ps.topic,
          partition: ps.partition,
          fromOffset: last,
          toOffset: off,
          time: rec.time,
        })
      }
    }
    // A read without an assign starts an implicit ownership.
    this.#own.set(key, off)
  }

  /** Records where a value was seen; a second, different place is a duplicate. */
  #place(v: number, pidx: number, off: number, time: number, byAck: boolean): void {
    const f = this.#flags[v] as number
    if (!(f & PLACED)) {
      this.#vPart[v] = pidx
      this.#vOff[v] = off
      this.#flags[v] = f | PLACED | (byAck ? BY_ACK : 0)
      return
    }
    const curPart = this.#vPart[v] as number
    const curOff = this.#vOff[v] as number
    if (curPart === pidx && curOff === off) {
      if (byAck) this.#flags[v] = f | BY_ACK
      return
    }
    let nf = f
    if (!(f & DUP)) {
      nf |= DUP
      if (this.#duplicate.hit()) {
        this.#duplicate.examples.push({
          value: v,
          first: this.#placement(curPart, curOff),
          second: this.#placement(pidx, off),
          time,
        })
      }
    }
    if (byAck && !(f & BY_ACK)) {
      this.#vPart[v] = pidx
      this.#vOff[v] = off
      nf |= BY_ACK
    }
    this.#flags[v] = nf
  }

  #placement(pidx: number, offset: number): Placement {
    const ps = this.#parts[pidx] as PartitionState
    return { topic: ps.topic, partition: ps.partition, offset }
  }

  #offsetHolds(pidx: number, off: number, stored: number, time: number): void {
    const ps = this.#parts[pidx] as PartitionState
    const cur = ps.put(off, stored)
    if (cur === 0 || cur === stored) return
    ps.reported ??= new Set()
    if (ps.reported.has(off)) return
    ps.reported.add(off)
    if (this.#inconsistent.hit()) {
      this.#inconsistent.examples.push({
        topic: ps.topic,
        partition: ps.partition,
        offset: off,
        values: [cur - 2, stored - 2],
        time,
      })
    }
  }

  #partitionOf(topic: number, partition: number): number {
    if (!(partition >= 0 && partition < PARTITION_LIMIT)) return -1
    const key = topic * PARTITION_LIMIT + partition
    if (key === this.#lastPartKey) return this.#lastPart
    let pidx = this.#partIndex.get(key)
    if (pidx === undefined) {
      pidx = this.#parts.length
      this.#parts.push(new PartitionState(this.#strings[topic] ?? `#${topic}`, partition))
      this.#partIndex.set(key, pidx)
    }
    this.#lastPartKey = key
    this.#lastPart = pidx
    return pidx
  }

  #memberOf(group: number, member: number): number {
    const key = group * 2 ** 26 + member
    let m = this.#memberIndex.get(key)
    if (m !== undefined) return m
    let g = this.#groupIndex.get(group)
    if (g === undefined) {
      g = this.#groupNames.length
      this.#groupIndex.set(group, g)
      this.#groupNames.push(this.#strings[group] ?? `#${group}`)
    }
    m = this.#memberNames.length
    this.#memberIndex.set(key, m)
    this.#memberNames.push(this.#strings[member] ?? `#${member}`)
    this.#memberGroup.push(g)
    return m
  }

  /**
   * Ends the analysis. rescan, if given, replays the same history once more to add times to the anomalies
   * found only at the end; it is called only when there are such anomalies.
   */
  async finish(rescan?: Rescan): Promise<DeliveryResult> {
    const max = this.#maxExamples
    const stats = this.#stats
    const lost = new Collector<number>(max)
    const unseen = new Collector<number>(max)
    const failedRead = new Collector<number>(max)
    const sendOrder = new Collector<[number, number]>(max)
    const pollSkip = new Collector<PollSkipExample>(max)

    for (let i = 0; i < this.#skipPart.length; i++) {
      const ps = this.#parts[this.#skipPart[i] as number] as PartitionState
      const from = this.#skipFrom[i] as number
      const to = this.#skipTo[i] as number
      const { count, first } = ps.existingBetween(from, to)
      if (count === 0 || !pollSkip.hit()) continue
      const member = this.#skipMember[i] as number
      pollSkip.examples.push({
        group: this.#groupNames[this.#memberGroup[member] as number] as string,
        member: this.#memberNames[member] as string,
        topic: ps.topic,
        partition: ps.partition,
        fromOffset: from,
        toOffset: to,
        skipped: count,
        firstSkippedOffset: first,
        time: this.#skipTime[i] as number,
      })
    }

    const flags = this.#flags
    const vPart = this.#vPart
    const vOff = this.#vOff
    const vProd = this.#vProd
    const nParts = this.#parts.length
    // (producer, partition) -> slot holding the highest acked offset so far and its value.
    const orderSlot = new Map<number, number>()
    const orderMax: number[] = []
    const orderValue: number[] = []
    for (let v = 0; v <= this.#maxValue; v++) {
      const f = flags[v] as number
      if (!(f & SENT)) continue
      stats.values++
      if (f & CONSUMED) stats.consumedValues++
      if (f & ACKED && !(f & CONSUMED)) {
        if (f & BY_ACK && (vOff[v] as number) <= (this.#parts[vPart[v] as number] as PartitionState).maxRead) {
          if (lost.hit()) lost.examples.push(v)
        } else if (unseen.hit()) unseen.examples.push(v)
      }
      if (f & FAIL_DEF && f & CONSUMED) {
        if (failedRead.hit()) failedRead.examples.push(v)
      } else if (f & FAIL_INDET && f & CONSUMED && !(f & ACKED)) stats.indeterminateLanded++
      if (vProd && f & BY_ACK) {
        const key = (vProd[v] as number) * nParts + (vPart[v] as number)
        const off = vOff[v] as number
        const slot = orderSlot.get(key)
        if (slot === undefined) {
          orderSlot.set(key, orderMax.length)
          orderMax.push(off)
          orderValue.push(v)
        } else if (off < (orderMax[slot] as number)) {
          if (sendOrder.hit()) sendOrder.examples.push([v, orderValue[slot] as number])
        } else {
          orderMax[slot] = off
          orderValue[slot] = v
        }
      }
    }
    stats.partitions = nParts
    stats.groups = this.#groupNames.length
    stats.members = this.#memberNames.length

    const details = new Map<number, Detail>()
    for (const v of [...lost.examples, ...unseen.examples, ...failedRead.examples, ...sendOrder.examples.flat()]) {
      details.set(v, { ackTime: null, failTime: null, error: null, readTime: null })
    }
    if (details.size > 0 && rescan) {
      await rescan((rec) => {
        if (rec.kind !== EventKind.ack && rec.kind !== EventKind.fail && rec.kind !== EventKind.recv) return
        const d = details.get(rec.value)
        if (!d) return
        if (rec.kind === EventKind.ack) d.ackTime ??= rec.time
        else if (rec.kind === EventKind.fail) {
          d.failTime ??= rec.time
          d.error ??= rec.str(rec.error)
        } else d.readTime ??= rec.time
      })
    }
    const detail = (v: number): Detail => details.get(v) as Detail
    const part = (v: number): PartitionState | null =>
      (flags[v] as number) & PLACED ? (this.#parts[vPart[v] as number] as PartitionState) : null

    const lostExamples = lost.examples.map((v): LostExample => {
      const ps = part(v) as PartitionState
      const offset = vOff[v] as number
      return { value: v, topic: ps.topic, partition: ps.partition, offset, maxReadOffset: ps.maxRead, ackTime: detail(v).ackTime }
    })
    const unseenExamples = unseen.examples.map((v): UnseenExample => {
      const ps = part(v)
      const offset = ps ? (vOff[v] as number) : -1
      return { value: v, topic: ps?.topic ?? null, partition: ps?.partition ?? null, offset, ackTime: detail(v).ackTime }
    })
    const sendOrderExamples = sendOrder.examples.map(([v, prev]): ReorderedExample => {
      const ps = part(v) as PartitionState
      return {
        producer: this.#producerNames[(vProd as Uint32Array)[v] as number] as string,
        topic: ps.topic,
        partition: ps.partition,
        value: v,
        offset: vOff[v] as number,
        previousValue: prev,
        previousOffset: vOff[prev] as number,
        ackTime: detail(v).ackTime,
        previousAckTime: detail(prev).ackTime,
      }
    })
    const failedReadExamples = failedRead.examples.map((v): FailedWriteReadExample => {
      const ps = part(v) as PartitionState
      const d = detail(v)
      const offset = vOff[v] as number
      return { value: v, topic: ps.topic, partition: ps.partition, offset, error: d.error, failTime: d.failTime, readTime: d.readTime }
    })
    const streamed = <E>(c: Collector<E>): [number, E[]] => [c.count, c.examples]
    const anomalies: Anomalies = {
      lost: this.#report('lost', true, lost.count, lostExamples),
      unseen: this.#report('unseen', true, unseen.count, unseenExamples),
      duplicates: this.#report('duplicates', true, ...streamed(this.#duplicate)),
      inconsistentOffsets: this.#report('inconsistentOffsets', true, ...streamed(this.#inconsistent)),
      reordered: this.#report('reordered', this.#sendOrder, sendOrder.count, sendOrderExamples),
      pollSkips: this.#report('pollSkips', true, ...streamed(pollSkip)),
      pollRewinds: this.#report('pollRewinds', true, ...streamed(this.#pollRewind)),
      failedWritesRead: this.#report('failedWritesRead', true, failedRead.count, failedReadExamples),
      rereads: this.#report('rereads', true, ...streamed(this.#reread)),
    }
    const failed = anomalyKinds.some((k) => anomalies[k].exceeded)
    return { state: failed ? 'failed' : 'passed', sendOrder: this.#sendOrder, stats: { ...stats }, anomalies }
  }

  #report<K extends AnomalyKind>(
    kind: K,
    checked: boolean,
    count: number,
    examples: AnomalyExamples[K][],
  ): AnomalyReport<AnomalyExamples[K]> {
    const limit = this.#limits[kind]
    return { checked, count, limit, exceeded: checked && limit !== null && count > limit, examples }
  }
}

/** Checks a history file: one streaming pass, plus a second for example times only if anomalies were found. */
export async function checkHistory(path: string, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  const trailer = await readHistoryTrailer(path)
  const checker = new DeliveryChecker({ expectedValues: trailer?.values, ...options })
  await scanHistory(path, (rec) => checker.observe(rec))
  return checker.finish((visit) => scanHistory(path, visit))
}
