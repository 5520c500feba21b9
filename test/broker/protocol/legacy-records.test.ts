// Message sets (magic 0/1) against kafkajs, an independent implementation: what the broker down-converts for
// Fetch v0-3 parses with kafkajs' message-set decoder (CRCs checked with kafkajs' CRC-32), and what kafkajs
// writes for Produce v0-2 reads back through readMessageSet and upConvert into the same records.
import { createRequire } from 'node:module'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { downConvert, readMessageSet, upConvert, UnsupportedCodec } from '../../../broker/protocol/legacy-records.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches, type CompressionName } from '../../../broker/protocol/record-batch.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`legacy-records.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)
const runs = { seed, numRuns: 40 }

const require = createRequire(import.meta.url)
// biome-ignore lint: kafkajs is untyped JavaScript
type Js = any
const KjsDecoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => Js
const kjsMessageSetDecoder = require('kafkajs/src/protocol/messageSet/decoder.js') as (d: Js, size: number) => Promise<Js[]>
const kjsMessageSet = require('kafkajs/src/protocol/messageSet/index.js') as (args: Js) => { buffer: Buffer }
const kjsCrc32 = require('kafkajs/src/protocol/crc32.js') as (e: { buffer: Buffer }) => number
const kjsGzip = require('kafkajs/src/protocol/message/compression/gzip.js') as { compress(e: Js): Promise<Buffer> }

const bytes = fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a))
const record = fc.record({
  key: fc.option(bytes, { nil: null }),
  value: fc.option(bytes, { nil: null }),
  timestamp: fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
})
const batchSpec = fc.record({
  records: fc.array(record, { minLength: 1, maxLength: 5 }),
  compression: fc.constantFrom<CompressionName>('none', 'gzip'),
  baseOffset: fc.nat({ max: 2 ** 40 }),
})

/** Every entry's CRC, by kafkajs' CRC-32; the inner entries of gzip wrappers too. */
async function checkCrcs(set: Buffer): Promise<boolean> {
  let pos = 0
  while (pos < set.length) {
    const size = set.readInt32BE(pos + 8)
    const msg = set.subarray(pos + 12, pos + 12 + size)
    if ((kjsCrc32({ buffer: msg.subarray(4) }) >>> 0) !== msg.readUInt32BE(0)) return false
    if ((msg.readInt8(5) & 7) === 1) {
      const valueAt = msg.readInt8(4) === 1 ? 14 : 6
      const keyLen = msg.readInt32BE(valueAt)
      const at = valueAt + 4 + Math.max(0, keyLen)
      if (!(await checkCrcs(gunzipSync(msg.subarray(at + 4, at + 4 + msg.readInt32BE(at)))))) return false
    }
    pos += 12 + size
  }
  return true
}

describe('down-conversion (Fetch v0-3) read by kafkajs', () => {
  for (const magic of [0, 1] as const) {
    it(`magic ${magic}: kafkajs reads the records back (from the fetch offset in uncompressed batches; whole first batch, then no more bytes than read), CRCs valid`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(batchSpec, { minLength: 1, maxLength: 3 }), fc.nat({ max: 4 }), async (specs, skip) => {
          let next = specs[0]!.baseOffset
          const batches = specs.map((s) => {
            const b = encodeRecordBatch(s.records, { compression: s.compression, baseOffset: next })
            next += s.records.length
            return b
          })
          const fetchOffset = specs[0]!.baseOffset + skip
          const out = Buffer.concat(downConvert([Buffer.concat(batches)], magic, fetchOffset))
          const got = out.length === 0 ? [] : await kjsMessageSetDecoder(new KjsDecoder(out), out.length)
          const perBatch = batches.map((b, i) =>
            [...iterateBatches(b)].flatMap((v) => decodeRecords(v)).filter((r) => specs[i]!.compression === 'gzip' || r.offset >= fetchOffset),
          )
          const shape = (m: Js) => [Number(m.offset), m.magicByte, m.key?.toString('hex') ?? null, m.value?.toString('hex') ?? null, m.timestamp === undefined ? null : Number(m.timestamp)]
          const wantShape = perBatch.flat().map((r) => [r.offset, magic, r.key?.toString('hex') ?? null, r.value?.toString('hex') ?? null, magic === 1 ? r.timestamp : null])
          // Message sets are larger than v2 batches: past the first converted batch, the answer stops where the
          // bytes read would have.
          expect(got.map(shape)).toEqual(wantShape.slice(0, got.length))
          expect(got.length).toBeGreaterThanOrEqual(perBatch.find((rs) => rs.length > 0)?.length ?? 0)
          const first = downConvert([batches[perBatch.findIndex((rs) => rs.length > 0)] ?? Buffer.alloc(0)], magic, fetchOffset)
          expect(out.length).toBeLessThanOrEqual(Math.max(Buffer.concat(batches).length, Buffer.concat(first).length))
          expect(await checkCrcs(out)).toBe(true)
        }),
        runs,
      )
    })
  }

  it('a gzip batch becomes one wrapper at its last offset; inner offsets relative in magic 1, absolute in magic 0, as Kafka writes them', () => {
    const gz = encodeRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { baseOffset: 10, compression: 'gzip' })
    const innerOffsets = (wrapper: Buffer) => {
      const magic = wrapper.readInt8(16)
      const keyAt = 12 + 6 + (magic === 1 ? 8 : 0)
      const valueAt = keyAt + 4
      const inner = gunzipSync(wrapper.subarray(valueAt + 4, valueAt + 4 + wrapper.readInt32BE(valueAt)))
      const offsets: number[] = []
      for (let pos = 0; pos < inner.length; pos += 12 + inner.readInt32BE(pos + 8)) offsets.push(Number(inner.readBigInt64BE(pos)))
      return offsets
    }
    for (const [magic, want] of [[1, [0, 1, 2]], [0, [10, 11, 12]]] as const) {
      const out = downConvert([gz], magic, 10)
      expect(out).toHaveLength(1)
      expect(out[0]!.readBigInt64BE(0)).toBe(12n)
      expect(innerOffsets(out[0]!)).toEqual(want)
    }
  })

  it('a batch it cannot convert throws when it comes first, and ends the answer after a converted one', () => {
    const plain = encodeRecordBatch([{ value: 'a' }], { baseOffset: 0 })
    const snappy = encodeRecordBatch([{ value: 'b' }], { baseOffset: 1 })
    snappy.writeInt16BE(2, 21)
    expect(() => downConvert([snappy], 1, 1)).toThrow(UnsupportedCodec)
    const out = downConvert([Buffer.concat([plain, snappy])], 1, 0)
    expect(out).toHaveLength(1)
    expect(out[0]!.readBigInt64BE(0)).toBe(0n)
  })
})

describe('up-conversion (Produce v0-2) of message sets kafkajs writes', () => {
  for (const magic of [0, 1] as const) {
    it(`magic ${magic}, plain and gzip: the v2 batch holds the same records (magic 0 has no timestamps)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 5 }), fc.boolean(), async (records, gzip) => {
          const entries = records.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }))
          let set = kjsMessageSet({ messageVersion: magic, entries }).buffer
          if (gzip) {
            const value = await kjsGzip.compress({ buffer: set })
            set = kjsMessageSet({ messageVersion: magic, compression: 1, entries: [{ key: null, value, timestamp: records[0]!.timestamp, compression: 1 }] }).buffer
          }
          const read = readMessageSet(set)
          if ('kind' in read) throw new Error(`${read.kind}`)
          expect(read.compression).toBe(gzip ? 'gzip' : 'none')
          const batch = [...iterateBatches(upConvert(read.messages, read.compression))]
          expect(batch).toHaveLength(1)
          const got = decodeRecords(batch[0]!).map((r) => [r.offset, r.key?.toString('hex') ?? null, r.value?.toString('hex') ?? null, r.timestamp])
          expect(got).toEqual(records.map((r, i) => [i, r.key?.toString('hex') ?? null, r.value?.toString('hex') ?? null, magic === 1 ? r.timestamp : -1]))
        }),
        runs,
      )
    })
  }

  it('a bad CRC is corrupt; a magic 2 entry inside a set is invalid; snappy cannot be converted here', () => {
    const set = Buffer.from(kjsMessageSet({ messageVersion: 1, entries: [{ key: null, value: 'x', timestamp: 1 }] }).buffer)
    set[set.length - 1] = set[set.length - 1]! ^ 1
    expect(readMessageSet(set)).toMatchObject({ kind: 'corrupt' })
    const snappy = kjsMessageSet({ messageVersion: 1, compression: 2, entries: [{ key: null, value: 'x', timestamp: 1, compression: 2 }] }).buffer
    expect(readMessageSet(snappy)).toEqual({ kind: 'unsupported-codec', codec: 2 })
    const v2 = kjsMessageSet({ messageVersion: 1, entries: [{ key: null, value: 'x', timestamp: 1 }] }).buffer
    const bad = Buffer.from(v2)
    bad.writeInt8(2, 16)
    expect(readMessageSet(bad)).toMatchObject({ kind: 'invalid' })
  })
})
