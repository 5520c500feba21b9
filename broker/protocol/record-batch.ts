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
  headers?: { key: string; value: Buffer | string | null }[]
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

const toBuf = (x: Buffer | string | null | undefined): Buffer | null =>
  x === null || x === undefined ? null : typeof x === 'string' ? Buffer.from(x) : x

function encodeRecords(records: readonly RecordInput[], baseTimestamp: number): Buffer {
  const w = new Writer(records.length * 32 + 64)
  records.forEach((r, i) => {
    const key = toBuf(r.key)
    const value = toBuf(r.value)
    const body = new Writer(64)
    body.int8(0)
    body.varlong((r.timestamp ?? baseTimestamp) - baseTimestamp)
    body.varint(i)
    if (key === null) body.varint(-1)
    else body.varint(key.length).raw(key)
    if (value === null) body.varint(-1)
    else body.varint(value.length).raw(value)
    const headers = r.headers ?? []
    body.varint(headers.length)
    for (const h of headers) {
      const hk = Buffer.from(h.key)
      body.varint(hk.length).raw(hk)
      const hv = toBuf(h.value)
      if (hv === null) body.varint(-1)
      else body.varint(hv.length).raw(hv)
    }
    const bytes = body.toBuffer()
    w.varint(bytes.length).raw(bytes)
  })
  return w.toBuffer()
}

/** Builds one RecordBatch v2 (uncompressed or gzip; other codecs need a library and are only passed through). */
export function encodeRecordBatch(records: readonly RecordInput[], opts: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a record batch needs at least one record')
  const compression = opts.compression ?? 'none'
  const baseTimestamp = opts.timestamp ?? records[0]!.timestamp ?? 0
  // maxTimestamp is the largest record timestamp, which may be below an explicit base timestamp.
  let maxTimestamp = Number.NEGATIVE_INFINITY
  for (const r of records) maxTimestamp = Math.max(maxTimestamp, r.timestamp ?? baseTimestamp)
  let body = encodeRecords(records, baseTimestamp)
  if (compression === 'gzip') body = gzipSync(body)
  else if (compression !== 'none') throw new RangeError(`encodeRecordBatch supports none and gzip, not ${compression}`)
  let attributes = Compression[compression]
  if (opts.transactional) attributes |= ATTR_TRANSACTIONAL
  if (opts.control) attributes |= ATTR_CONTROL
  const buf = Buffer.allocUnsafe(HEADER_SIZE + body.length)
  writeInt64(buf, 0, opts.baseOffset ?? 0)
  buf.writeInt32BE(HEADER_SIZE - LOG_OVERHEAD + body.length, 8)
  buf.writeInt32BE(opts.partitionLeaderEpoch ?? -1, 12)
  buf.writeInt8(MAGIC_V2, 16)
  buf.writeInt16BE(attributes, 21)
  buf.writeInt32BE(records.length - 1, 23)
  writeInt64(buf, 27, baseTimestamp)
  writeInt64(buf, 35, maxTimestamp)
  writeInt64(buf, 43, opts.producerId ?? -1)
  buf.writeInt16BE(opts.producerEpoch ?? -1, 51)
  buf.writeInt32BE(opts.baseSequence ?? -1, 53)
  buf.writeInt32BE(records.length, 57)
  body.copy(buf, HEADER_SIZE)
  buf.writeUInt32BE(crc32c(buf, CRC_START, buf.length), 17)
  return buf
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
