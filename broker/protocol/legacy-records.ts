// Message sets of magic 0 and 1 (message formats v0 and v1, Kafka before 0.11): what Produce v0-2 may carry and
// what Fetch v0-3 answers with. The log holds RecordBatch v2 only, so the broker converts both ways, as Kafka's
// LogValidator (up, on produce) and RecordsUtil.downConvert (down, on fetch) do.
//
// A message set is a sequence of entries:
//   offset int64 | size int32 | crc uint32 | magic int8 | attributes int8 | timestamp int64 (magic 1 only)
//   | key (int32 length, -1 null) | value (int32 length, -1 null)
// size counts from crc to the end; the CRC-32 (IEEE) covers magic to the end. Attributes: bits 0-2 codec,
// bit 3 LogAppendTime (magic 1). A compressed entry (a wrapper) holds, as its value, the compressed message set
// of its inner messages; in magic 1 the inner offsets are relative to the first one and the wrapper carries the
// last absolute offset (and, for LogAppendTime, the timestamp of all of them); in magic 0 they are absolute.
// Only gzip is converted here; other codecs need libraries the broker does not have (see UnsupportedCodec).

import { crc32, gunzipSync, gzipSync } from 'node:zlib'
import { Compression, compressionNames, decodeRecords, encodeRecordBatch, iterateBatches, readInt64, type RecordBatchView, writeInt64 } from './record-batch.ts'

const ENTRY_OVERHEAD = 12 // offset + size
const ATTR_CODEC = 0x07
const ATTR_LOG_APPEND_TIME = 0x08

export interface LegacyMessage {
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
}

export type LegacyProblem =
  | { kind: 'corrupt'; message: string }
  | { kind: 'invalid'; message: string }
  | { kind: 'unsupported-codec'; codec: number }

/** A codec whose records this module cannot reach (everything but none and gzip). */
export class UnsupportedCodec extends Error {
  readonly codec: number
  constructor(codec: number) {
    super(`conversion of ${compressionNames[codec] ?? `codec ${codec}`} compressed records is not supported by this broker`)
    this.codec = codec
  }
}

/** The magic of the first entry of a records field, or -1 when it is too short to say. */
export function magicOf(buf: Buffer): number {
  return buf.length > 16 ? buf.readInt8(16) : -1
}

interface Entry {
  magic: number
  attributes: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
}

function readEntries(buf: Buffer, where: string): Entry[] | LegacyProblem {
  const out: Entry[] = []
  let pos = 0
  while (pos < buf.length) {
    if (buf.length - pos < ENTRY_OVERHEAD + 14) return { kind: 'corrupt', message: `${where}: truncated message at byte ${pos}` }
    const size = buf.readInt32BE(pos + 8)
    const start = pos + ENTRY_OVERHEAD
    const end = start + size
    if (size < 14 || end > buf.length) return { kind: 'corrupt', message: `${where}: message size ${size} at byte ${pos} does not fit` }
    const magic = buf.readInt8(start + 4)
    if (magic !== 0 && magic !== 1) return { kind: 'invalid', message: `${where}: message magic ${magic} at byte ${pos}` }
    if (crc32(buf.subarray(start + 4, end)) !== buf.readUInt32BE(start)) return { kind: 'corrupt', message: `${where}: message CRC mismatch at byte ${pos}` }
    const attributes = buf.readInt8(start + 5)
    let at = start + 6
    let timestamp = -1
    if (magic === 1) {
      if (end - at < 16) return { kind: 'corrupt', message: `${where}: truncated message at byte ${pos}` }
      timestamp = readInt64(buf, at)
      at += 8
    }
    const field = (): Buffer | null | undefined => {
      if (end - at < 4) return undefined
      const n = buf.readInt32BE(at)
      at += 4
      if (n < 0) return null
      if (end - at < n) return undefined
      at += n
      return buf.subarray(at - n, at)
    }
    const key = field()
    const value = key === undefined ? undefined : field()
    if (key === undefined || value === undefined || at !== end) return { kind: 'corrupt', message: `${where}: malformed message at byte ${pos}` }
    out.push({ magic, attributes, timestamp, key, value })
    pos = end
  }
  return out
}

/**
 * Reads a Produce v0-2 message set into its messages (wrappers opened), with the codec to keep (gzip if any
 * wrapper was compressed, as Kafka recompresses with the source codec). Problems map to Kafka's errors:
 * corrupt -> CORRUPT_MESSAGE, invalid -> INVALID_RECORD, unsupported-codec -> UNSUPPORTED_COMPRESSION_TYPE.
 */
export function readMessageSet(buf: Buffer): { messages: LegacyMessage[]; compression: 'none' | 'gzip' } | LegacyProblem {
  const outer = readEntries(buf, 'message set')
  if (!Array.isArray(outer)) return outer
  if (outer.length === 0) return { kind: 'invalid', message: 'empty message set' }
  const messages: LegacyMessage[] = []
  let compression: 'none' | 'gzip' = 'none'
  for (const e of outer) {
    const codec = e.attributes & ATTR_CODEC
    if (codec === Compression.none) {
      messages.push({ timestamp: e.timestamp, key: e.key, value: e.value })
      continue
    }
    if (codec !== Compression.gzip) return { kind: 'unsupported-codec', codec }
    compression = 'gzip'
    let inner: Buffer
    try {
      inner = gunzipSync(e.value ?? Buffer.alloc(0))
    } catch {
      return { kind: 'corrupt', message: 'gzip wrapper does not decompress' }
    }
    const entries = readEntries(inner, 'compressed message set')
    if (!Array.isArray(entries)) return entries
    const wrapperTime = e.magic === 1 && (e.attributes & ATTR_LOG_APPEND_TIME) !== 0 ? e.timestamp : null
    for (const i of entries) {
      if (i.magic !== e.magic) return { kind: 'invalid', message: 'Log record magic does not match outer magic' }
      if ((i.attributes & ATTR_CODEC) !== Compression.none) return { kind: 'invalid', message: 'compressed message inside a compressed message' }
      messages.push({ timestamp: wrapperTime ?? i.timestamp, key: i.key, value: i.value })
    }
  }
  return { messages, compression }
}

/** One RecordBatch v2 holding a message set's messages (no producer id), as Kafka's up-conversion writes it. */
export function upConvert(messages: readonly LegacyMessage[], compression: 'none' | 'gzip'): Buffer {
  return encodeRecordBatch(
    messages.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })),
    { compression, timestamp: messages[0]!.timestamp },
  )
}

function entry(magic: number, offset: number, attributes: number, timestamp: number, key: Buffer | null, value: Buffer | null): Buffer {
  const size = 4 + 1 + 1 + (magic === 1 ? 8 : 0) + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0)
  const buf = Buffer.allocUnsafe(ENTRY_OVERHEAD + size)
  writeInt64(buf, 0, offset)
  buf.writeInt32BE(size, 8)
  let at = 16
  buf.writeInt8(magic, at++)
  buf.writeInt8(attributes, at++)
  if (magic === 1) {
    writeInt64(buf, at, timestamp)
    at += 8
  }
  for (const b of [key, value]) {
    buf.writeInt32BE(b === null ? -1 : b.length, at)
    at += 4
    if (b !== null) at += b.copy(buf, at)
  }
  buf.writeUInt32BE(crc32(buf.subarray(16)), 12)
  return buf
}

/**
 * Kafka's RecordsUtil.downConvert of one batch: its records as magic 0 or 1 messages, one entry per record when
 * uncompressed (records before `fetchOffset` dropped), one gzip wrapper when compressed; control batches and
 * headers have no equivalent and are dropped. Returns the entries (possibly none).
 */
function downConvertBatch(batch: RecordBatchView, toMagic: 0 | 1, fetchOffset: number): Buffer[] {
  if (batch.isControl) return []
  const codec = batch.compression
  if (codec !== Compression.none && codec !== Compression.gzip) throw new UnsupportedCodec(codec)
  const logAppendTime = toMagic === 1 && batch.isLogAppendTime
  const timeBit = logAppendTime ? ATTR_LOG_APPEND_TIME : 0
  const records = decodeRecords(batch)
  if (codec === Compression.none) {
    return records.filter((r) => r.offset >= fetchOffset).map((r) => entry(toMagic, r.offset, timeBit, r.timestamp, r.key, r.value))
  }
  if (records.length === 0) return []
  const first = records[0]!.offset
  const inner = records.map((r) => entry(toMagic, toMagic === 1 ? r.offset - first : r.offset, timeBit, r.timestamp, r.key, r.value))
  const wrapperTime = logAppendTime ? batch.maxTimestamp : Math.max(...records.map((r) => r.timestamp))
  return [entry(toMagic, records.at(-1)!.offset, Compression.gzip | timeBit, wrapperTime, null, gzipSync(Buffer.concat(inner)))]
}

/**
 * Fetch v0-3: the batches read, down-converted to `toMagic`. Like Kafka's LazyDownConversionRecords, the
 * answer holds at least the first converted batch and otherwise no more bytes than were read (whole messages
 * here, where Kafka cuts the last one short). A codec we cannot convert in the first batch throws
 * UnsupportedCodec (the partition's UNSUPPORTED_COMPRESSION_TYPE); in a later batch it ends the answer, and the
 * client's next fetch, from that batch, gets the error.
 */
export function downConvert(chunks: readonly Buffer[], toMagic: 0 | 1, fetchOffset: number): Buffer[] {
  let readBytes = 0
  for (const c of chunks) readBytes += c.length
  const out: Buffer[] = []
  let size = 0
  let limit = -1
  for (const chunk of chunks) {
    for (const batch of iterateBatches(chunk)) {
      let entries: Buffer[]
      try {
        entries = downConvertBatch(batch, toMagic, fetchOffset)
      } catch (err) {
        if (err instanceof UnsupportedCodec && limit >= 0) return out
        throw err
      }
      if (entries.length === 0) continue
      if (limit < 0) {
        let first = 0
        for (const e of entries) first += e.length
        limit = Math.max(readBytes, first)
      }
      for (const e of entries) {
        if (size + e.length > limit) return out
        out.push(e)
        size += e.length
      }
    }
  }
  return out
}
