// RecordBatch v2 (magic 2), the only message format of Produce v3+ and Fetch v4+.
//
// Header, 61 bytes, big-endian:
//   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
//  17 crc uint32 | 21 attributes int16 | 23 lastOffsetDelta int32 | 27 baseTimestamp int64
//  35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32
//  57 recordsCount int32 | 61 records...
// batchLength counts from byte 12 to the end. The CRC-32C covers byte 21 to the end, so the broker
// rewrites baseOffset and partitionLeaderEpoch in place without recomputing it.
// Attributes: bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), bit 3 LogAppendTime,
// bit 4 transactional, bit 5 control, bit 6 delete horizon.
// Compressed batches are stored and served as they came: only their header is read here.

import { gunzipSync, gzipSync } from 'node:zlib'
import { crc32c } from './crc32c.ts'
import { Reader } from './reader.ts'
import { Writer } from './writer.ts'

export const LOG_OVERHEAD = 12 // baseOffset + batchLength
export const HEADER_SIZE = 61
export const MAGIC_V2 = 2
const CRC_START = 21
const TWO_32 = 4294967296

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
export type CompressionName = keyof typeof Compression
export const compressionNames = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const

const ATTR_COMPRESSION_MASK = 0x07
const ATTR_LOG_APPEND_TIME = 0x08
const ATTR_TRANSACTIONAL = 0x10
const ATTR_CONTROL = 0x20

export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4)
}

export function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32)
  buf.writeInt32BE(hi, at)
  buf.writeUInt32BE(v - hi * TWO_32, at + 4)
}

/** A view of one batch inside a larger buffer; reads header fields on demand, copies nothing. */
export class RecordBatchView {
  readonly buf: Buffer
  readonly pos: number

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf
    this.pos = pos
  }

  get baseOffset(): number {
    return readInt64(this.buf, this.pos)
  }
  set baseOffset(v: number) {
    writeInt64(this.buf, this.pos, v)
  }
  get batchLength(): number {
    return this.buf.readInt32BE(this.pos + 8)
  }
  /** Bytes of the whole batch including the 12-byte log overhead. */
  get sizeInBytes(): number {
    return LOG_OVERHEAD + this.batchLength
  }
  get partitionLeaderEpoch(): number {
    return this.buf.readInt32BE(this.pos + 12)
  }
  set partitionLeaderEpoch(v: number) {
    this.buf.writeInt32BE(v, this.pos + 12)
  }
  get magic(): number {
    return this.buf.readInt8(this.pos + 16)
  }
  get crc(): number {
    return this.buf.readUInt32BE(this.pos + 17)
  }
  get attributes(): number {
    return this.buf.readInt16BE(this.pos + 21)
  }
  get compression(): number {
    return this.attributes & ATTR_COMPRESSION_MASK
  }
  get isLogAppendTime(): boolean {
    return (this.attributes & ATTR_LOG_APPEND_TIME) !== 0
  }
  get isTransactional(): boolean {
    return (this.attributes & ATTR_TRANSACTIONAL) !== 0
  }
  get isControl(): boolean {
    return (this.attributes & ATTR_CONTROL) !== 0
  }
  get lastOffsetDelta(): number {
    return this.buf.readInt32BE(this.pos + 23)
  }
  get lastOffset(): number {
    return this.baseOffset + this.lastOffsetDelta
  }
  get baseTimestamp(): number {
    return readInt64(this.buf, this.pos + 27)
  }
  get maxTimestamp(): number {
    return readInt64(this.buf, this.pos + 35)
  }
  get producerId(): number {
    return readInt64(this.buf, this.pos + 43)
  }
  get producerEpoch(): number {
    return this.buf.readInt16BE(this.pos + 51)
  }
  get baseSequence(): number {
    return this.buf.readInt32BE(this.pos + 53)
  }
  get recordCount(): number {
    return this.buf.readInt32BE(this.pos + 57)
  }

  /** CRC-32C computed over the bytes (attributes to end). */
  computeCrc(): number {
    return crc32c(this.buf, this.pos + CRC_START, this.pos + this.sizeInBytes)
  }

  isCrcValid(): boolean {
    return this.computeCrc() === this.crc
  }

  /** Switches the batch to LogAppendTime `ts`; the attributes change, so the CRC is recomputed. */
  setLogAppendTime(ts: number): void {
    this.buf.writeInt16BE(this.attributes | ATTR_LOG_APPEND_TIME, this.pos + 21)
    writeInt64(this.buf, this.pos + 35, ts)
    this.buf.writeUInt32BE(this.computeCrc(), this.pos + 17)
  }

  /** The batch's bytes (a view). */
  bytes(): Buffer {
    return this.buf.subarray(this.pos, this.pos + this.sizeInBytes)
  }
}

export type BatchProblem =
  | { kind: 'truncated'; at: number } // fewer bytes than the header or the batch length says
  | { kind: 'bad-length'; at: number; length: number }
  | { kind: 'bad-magic'; at: number; magic: number }
  | { kind: 'bad-crc'; at: number }
  | { kind: 'bad-count'; at: number; count: number; lastOffsetDelta: number }

/** Checks one batch's framing at `pos` without its CRC; returns its size or a problem. */
export function checkBatchFrame(buf: Buffer, pos: number, end = buf.length): { size: number } | BatchProblem {
  if (end - pos < HEADER_SIZE) return { kind: 'truncated', at: pos }
  const length = buf.readInt32BE(pos + 8)
  if (length < HEADER_SIZE - LOG_OVERHEAD) return { kind: 'bad-length', at: pos, length }
  const size = LOG_OVERHEAD + length
  if (end - pos < size) return { kind: 'truncated', at: pos }
  const magic = buf.readInt8(pos + 16)
  if (magic !== MAGIC_V2) return { kind: 'bad-magic', at: pos, magic }
  return { size }
}

export interface ValidatedBatches {
  readonly batches: RecordBatchView[]
  /** Records in all batches. */
  readonly recordCount: number
}

/**
 * Validates a produce payload: one or more whole v2 batches, each with a valid CRC and a record count that
 * matches its offset delta. Returns the batch views or the first problem.
 */
export function validateBatches(buf: Buffer): ValidatedBatches | BatchProblem {
  const batches: RecordBatchView[] = []
  let records = 0
  let pos = 0
  while (pos < buf.length) {
    const framed = checkBatchFrame(buf, pos)
    if ('kind' in framed) return framed
    const view = new RecordBatchView(buf, pos)
    if (!view.isCrcValid()) return { kind: 'bad-crc', at: pos }
    const count = view.recordCount
    const delta = view.lastOffsetDelta
    if (count <= 0 || delta !== count - 1) return { kind: 'bad-count', at: pos, count, lastOffsetDelta: delta }
    batches.push(view)
    records += count
    pos += framed.size
  }
  if (batches.length === 0) return { kind: 'truncated', at: 0 }
  return { batches, recordCount: records }
}

/** Iterates whole batches in a buffer, stopping at the first incomplete or malformed one. */
export function* iterateBatches(buf: Buffer, start = 0, end = buf.length): Generator<RecordBatchView> {
  let pos = start
  while (pos < end) {
    const framed = checkBatchFrame(buf, pos, end)
    if ('kind' in framed) return
    yield new RecordBatchView(buf, pos)
    pos += framed.size
  }
}

// ---- records: encoding and decoding, for tests, the harness and our own driver ----

export interface RecordHeader {
  key: string
  value: Buffer | null
}

export interface Record {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

export interface RecordInput {
  key?: Buffer | string | null
  value: Buffer | string | null
  timestamp?: number
  headers?: readonly { key: string; value: Buffer | string | null }[]
}

export interface BatchOptions {
  baseOffset?: number
  partitionLeaderEpoch?: number
  compression?: CompressionName
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  transactional?: boolean
  control?: boolean
  /** baseTimestamp; record timestamps default to it. */
  timestamp?: number
}

/** Bytes of the zig-zag varint of an int32. */
function varintSize(v: number): number {
  const z = ((v << 1) ^ (v >> 31)) >>> 0
  return z < 0x80 ? 1 : z < 0x4000 ? 2 : z < 0x200000 ? 3 : z < 0x10000000 ? 4 : 5
}

function putVarint(buf: Buffer, pos: number, v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80
    z >>>= 7
  }
  buf[pos++] = z
  return pos
}

/** Bytes of the zig-zag varlong of a timestamp delta: an int32 takes the varint path, anything else the Writer's. */
function varlongSize(v: number): number {
  return (v | 0) === v ? varintSize(v) : new Writer(10).varlong(v).length
}

function putVarlong(buf: Buffer, pos: number, v: number): number {
  return (v | 0) === v ? putVarint(buf, pos, v) : pos + new Writer(10).varlong(v).toBuffer().copy(buf, pos)
}

/** Byte length of a key, value or header value; -1 for null. */
const lengthOf = (x: Buffer | string | null | undefined): number =>
  x === null || x === undefined ? -1 : typeof x === 'string' ? Buffer.byteLength(x) : x.length

function putBytes(buf: Buffer, pos: number, x: Buffer | string, len: number): number {
  if (typeof x === 'string') buf.write(x, pos, len, 'utf8')
  else buf.set(x, pos)
  return pos + len
}

/** Sizes each record's body (everything after its length varint) into `sizes`; returns the bytes of all records. */
function sizeRecords(records: readonly RecordInput[], baseTimestamp: number, sizes: Int32Array): number {
  let total = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    const kl = lengthOf(r.key)
    const vl = lengthOf(r.value)
    // attributes, timestamp delta, offset delta, key, value, header count
    let size = 1 + varlongSize((r.timestamp ?? baseTimestamp) - baseTimestamp) + varintSize(i) + varintSize(kl) + (kl > 0 ? kl : 0) + varintSize(vl) + (vl > 0 ? vl : 0)
    const headers = r.headers
    size += varintSize(headers?.length ?? 0)
    if (headers) {
      for (const h of headers) {
        const hk = Buffer.byteLength(h.key)
        const hv = lengthOf(h.value)
        size += varintSize(hk) + hk + varintSize(hv) + (hv > 0 ? hv : 0)
      }
    }
    sizes[i] = size
    total += varintSize(size) + size
  }
  return total
}

function putRecords(buf: Buffer, pos: number, records: readonly RecordInput[], baseTimestamp: number, sizes: Int32Array): number {
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    pos = putVarint(buf, pos, sizes[i]!)
    buf[pos++] = 0 // attributes
    pos = putVarlong(buf, pos, (r.timestamp ?? baseTimestamp) - baseTimestamp)
    pos = putVarint(buf, pos, i)
    const key = r.key
    const kl = lengthOf(key)
    pos = putVarint(buf, pos, kl)
    if (kl > 0) pos = putBytes(buf, pos, key!, kl)
    const value = r.value
    const vl = lengthOf(value)
    pos = putVarint(buf, pos, vl)
    if (vl > 0) pos = putBytes(buf, pos, value!, vl)
    const headers = r.headers
    if (!headers) {
      buf[pos++] = 0
      continue
    }
    pos = putVarint(buf, pos, headers.length)
    for (const h of headers) {
      const hk = Buffer.byteLength(h.key)
      pos = putVarint(buf, pos, hk)
      pos = putBytes(buf, pos, h.key, hk)
      const hv = lengthOf(h.value)
      pos = putVarint(buf, pos, hv)
      if (hv > 0) pos = putBytes(buf, pos, h.value!, hv)
    }
  }
  return pos
}

/** Producer fields of a batch; absent ones are written as -1 (no producer). */
export interface BatchProducer {
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
}

/**
 * Builds one RecordBatch v2 (uncompressed or gzip; other codecs need a library and are only passed through), in
 * one allocation when uncompressed: records are sized first, then written in place behind the header.
 */
export function encodeRecordBatch(records: readonly RecordInput[], opts: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a record batch needs at least one record')
  const compression = opts.compression ?? 'none'
  if (compression !== 'none' && compression !== 'gzip') throw new RangeError(`encodeRecordBatch supports none and gzip, not ${compression}`)
  const baseTimestamp = opts.timestamp ?? records[0]!.timestamp ?? 0
  // maxTimestamp is the largest record timestamp, which may be below an explicit base timestamp.
  let maxTimestamp = Number.NEGATIVE_INFINITY
  for (let i = 0; i < records.length; i++) maxTimestamp = Math.max(maxTimestamp, records[i]!.timestamp ?? baseTimestamp)
  const sizes = new Int32Array(records.length)
  const bodySize = sizeRecords(records, baseTimestamp, sizes)
  let buf: Buffer
  if (compression === 'none') {
    buf = Buffer.allocUnsafe(HEADER_SIZE + bodySize)
    putRecords(buf, HEADER_SIZE, records, baseTimestamp, sizes)
  } else {
    const body = Buffer.allocUnsafe(bodySize)
    putRecords(body, 0, records, baseTimestamp, sizes)
    const zipped = gzipSync(body)
    buf = Buffer.allocUnsafe(HEADER_SIZE + zipped.length)
    zipped.copy(buf, HEADER_SIZE)
  }
  let attributes: number = Compression[compression]
  if (opts.transactional) attributes |= ATTR_TRANSACTIONAL
  if (opts.control) attributes |= ATTR_CONTROL
  writeInt64(buf, 0, opts.baseOffset ?? 0)
  buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
  buf.writeInt32BE(opts.partitionLeaderEpoch ?? -1, 12)
  buf.writeInt8(MAGIC_V2, 16)
  buf.writeInt16BE(attributes, 21)
  buf.writeInt32BE(records.length - 1, 23)
  buf.writeInt32BE(records.length, 57)
  writeStamp(buf, 0, baseTimestamp, maxTimestamp, opts)
  return buf
}

/**
 * Gives the batch at `pos` new timestamps (base and max; the records' deltas are kept) and producer fields, and
 * recomputes the CRC, which then also covers record bytes changed before: how a batch encoded once is sent
 * many times (BatchTemplate). Allocates nothing.
 */
export function restampBatch(buf: Buffer, pos: number, timestamp: number, producer: BatchProducer): void {
  writeStamp(buf, pos, timestamp, timestamp, producer)
}

/** Timestamps and producer fields, then the CRC over everything from the attributes on. */
function writeStamp(buf: Buffer, pos: number, baseTimestamp: number, maxTimestamp: number, p: BatchProducer): void {
  writeInt64(buf, pos + 27, baseTimestamp)
  writeInt64(buf, pos + 35, maxTimestamp)
  writeInt64(buf, pos + 43, p.producerId ?? -1)
  buf.writeInt16BE(p.producerEpoch ?? -1, pos + 51)
  buf.writeInt32BE(p.baseSequence ?? -1, pos + 53)
  buf.writeUInt32BE(crc32c(buf, pos + CRC_START, pos + LOG_OVERHEAD + buf.readInt32BE(pos + 8)), pos + 17)
}

/** Decodes the records of a batch (uncompressed or gzip). */
export function decodeRecords(batch: RecordBatchView): Record[] {
  const codec = batch.compression
  let body = batch.buf.subarray(batch.pos + HEADER_SIZE, batch.pos + batch.sizeInBytes)
  if (codec === Compression.gzip) body = gunzipSync(body)
  else if (codec !== Compression.none) {
    throw new RangeError(`decodeRecords: codec ${compressionNames[codec] ?? codec} is not decoded here`)
  }
  const r = new Reader(body)
  const base = batch.baseOffset
  const baseTs = batch.baseTimestamp
  const logAppend = batch.isLogAppendTime ? batch.maxTimestamp : -1
  const out: Record[] = []
  for (let i = 0; i < batch.recordCount; i++) {
    const len = r.varint()
    const rec = new Reader(body, r.offset, r.offset + len)
    r.skip(len)
    rec.int8()
    const tsDelta = rec.varlong()
    const offDelta = rec.varint()
    const kl = rec.varint()
    const key = kl < 0 ? null : rec.raw(kl)
    const vl = rec.varint()
    const value = vl < 0 ? null : rec.raw(vl)
    const hn = rec.varint()
    const headers: RecordHeader[] = []
    for (let h = 0; h < hn; h++) {
      const hkl = rec.varint()
      const hk = rec.raw(hkl).toString()
      const hvl = rec.varint()
      headers.push({ key: hk, value: hvl < 0 ? null : rec.raw(hvl) })
    }
    out.push({ offset: base + offDelta, timestamp: logAppend >= 0 ? logAppend : baseTs + tsDelta, key, value, headers })
  }
  return out
}
