// Idempotent-producer state of one partition: per producer id, the epoch and the metadata of the last five
// batches appended (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN), so that a retried batch is
// recognized and acknowledged with its original offsets instead of being written twice.
//
// Rules (Kafka's ProducerAppendInfo):
// * a batch whose (epoch, first sequence, last sequence) matches a retained batch is a duplicate: it is not
//   appended and the response carries the original base offset;
// * an epoch below the producer's current one is refused with INVALID_PRODUCER_EPOCH;
// * a new (higher) epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
// * within an epoch the first sequence must follow the last one (Int32.MAX wraps to 0), else
//   OUT_OF_ORDER_SEQUENCE_NUMBER; a producer with no state here (new, or expired) may start anywhere, as in
//   Kafka 2.5+ (KIP-360), since its earlier records may have been deleted by retention. Like Kafka, this
//   keeps no list of allocated ids: a check against this broker's metadata refused ids that another broker
//   had just handed out (its metadata lagged), and kafkajs does not retry UNKNOWN_PRODUCER_ID.
//
// The state survives restarts through snapshots (written at segment roll and clean shutdown) plus replay
// of the batches appended after the snapshot's offset.

import { ErrorCode } from '../protocol/errors.ts'
import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'

export const NUM_BATCHES_TO_RETAIN = 5
const INT32_MAX = 2147483647

export interface BatchMeta {
  readonly firstSeq: number
  readonly lastSeq: number
  readonly firstOffset: number
  readonly lastOffset: number
  readonly timestamp: number
}

export interface ProducerEntry {
  readonly producerId: number
  epoch: number
  /** Oldest first, at most NUM_BATCHES_TO_RETAIN. */
  batches: BatchMeta[]
  /** Broker time of the last append. */
  lastTimestamp: number
}

/** The idempotence-relevant header fields of a batch. */
export interface ProducerBatch {
  readonly producerId: number
  readonly producerEpoch: number
  readonly baseSequence: number
  readonly recordCount: number
  readonly maxTimestamp: number
}

export type SequenceCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly firstOffset: number; readonly lastOffset: number }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string }

export function lastSequenceOf(b: ProducerBatch): number {
  const last = b.baseSequence + b.recordCount - 1
  return last > INT32_MAX ? last - INT32_MAX - 1 : last
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (lastSeq === INT32_MAX && nextSeq === 0)
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>()

  get size(): number {
    return this.producers.size
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId)
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values()
  }

  /**
   * Decides what to do with a batch before it is appended. Non-idempotent batches (producerId < 0) always append.
   */
  check(b: ProducerBatch): SequenceCheck {
    if (b.producerId < 0) return { kind: 'append' }
    const e = this.producers.get(b.producerId)
    if (!e) return { kind: 'append' }
    if (b.producerEpoch < e.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `Epoch ${b.producerEpoch} of producer ${b.producerId} is older than its current epoch ${e.epoch}` }
    }
    const lastSeq = lastSequenceOf(b)
    if (b.producerEpoch === e.epoch) {
      for (const m of e.batches) {
        if (m.firstSeq === b.baseSequence && m.lastSeq === lastSeq) return { kind: 'duplicate', firstOffset: m.firstOffset, lastOffset: m.lastOffset }
      }
      const last = e.batches.at(-1)
      if (last && !inSequence(last.lastSeq, b.baseSequence)) {
        return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Out of order sequence number for producer ${b.producerId}: ${b.baseSequence} (incoming seq. number), ${last.lastSeq} (current end sequence number)` }
      }
      return { kind: 'append' }
    }
    if (b.baseSequence !== 0) {
      return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Invalid sequence number for new epoch ${b.producerEpoch} of producer ${b.producerId}: ${b.baseSequence} (must be 0)` }
    }
    return { kind: 'append' }
  }

  /** Records an appended (or replayed) batch; `now` is the broker's clock, which expiry is measured against
   *  (record timestamps are the producer's and may be anything, even 0). */
  update(b: ProducerBatch, firstOffset: number, lastOffset: number, now: number): void {
    if (b.producerId < 0) return
    let e = this.producers.get(b.producerId)
    if (!e) {
      e = { producerId: b.producerId, epoch: b.producerEpoch, batches: [], lastTimestamp: now }
      this.producers.set(b.producerId, e)
    }
    if (b.producerEpoch !== e.epoch) {
      e.epoch = b.producerEpoch
      e.batches = []
    }
    e.batches.push({ firstSeq: b.baseSequence, lastSeq: lastSequenceOf(b), firstOffset, lastOffset, timestamp: b.maxTimestamp })
    if (e.batches.length > NUM_BATCHES_TO_RETAIN) e.batches.shift()
    e.lastTimestamp = Math.max(e.lastTimestamp, now)
  }

  /** Forgets batches at or beyond `offset` (log truncation); producers left with nothing are dropped. */
  truncateTo(offset: number): void {
    for (const [id, e] of this.producers) {
      e.batches = e.batches.filter((m) => m.lastOffset < offset)
      if (e.batches.length === 0) this.producers.delete(id)
    }
  }

  /** Drops producers with no append since before `cutoff` (broker clock; producer.id.expiration.ms). */
  expire(cutoff: number): number {
    let n = 0
    for (const [id, e] of this.producers) {
      if (e.lastTimestamp < cutoff) {
        this.producers.delete(id)
        n++
      }
    }
    return n
  }

  clear(): void {
    this.producers.clear()
  }

  /** Snapshot format v1: int16 version, int32 count, then per producer: int64 id, int16 epoch, int64 last
   *  timestamp, int32 batches, and per batch int32 firstSeq, int32 lastSeq, int64 firstOffset, int64 lastOffset,
   *  int64 timestamp. Integrity is checked by the caller (a CRC around the file). */
  serialize(): Buffer {
    const w = new Writer(64 + this.producers.size * 64)
    w.int16(1).int32(this.producers.size)
    for (const e of this.producers.values()) {
      w.int64(e.producerId).int16(e.epoch).int64(e.lastTimestamp).int32(e.batches.length)
      for (const m of e.batches) w.int32(m.firstSeq).int32(m.lastSeq).int64(m.firstOffset).int64(m.lastOffset).int64(m.timestamp)
    }
    return w.toBuffer()
  }

  static deserialize(buf: Buffer): ProducerStateManager {
    const r = new Reader(buf)
    const version = r.int16()
    if (version !== 1) throw new Error(`producer snapshot version ${version} is not supported`)
    const m = new ProducerStateManager()
    const n = r.int32()
    for (let i = 0; i < n; i++) {
      const producerId = r.int64()
      const epoch = r.int16()
      const lastTimestamp = r.int64()
      const count = r.int32()
      const batches: BatchMeta[] = []
      for (let j = 0; j < count; j++) {
        batches.push({ firstSeq: r.int32(), lastSeq: r.int32(), firstOffset: r.int64(), lastOffset: r.int64(), timestamp: r.int64() })
      }
      m.producers.set(producerId, { producerId, epoch, batches, lastTimestamp })
    }
    return m
  }
}
