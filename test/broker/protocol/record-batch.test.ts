import { createRequire } from 'node:module'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32c } from '../../../broker/protocol/crc32c.ts'
import {
  type BatchOptions,
  checkBatchFrame,
  Compression,
  decodeRecords,
  encodeRecordBatch,
  HEADER_SIZE,
  iterateBatches,
  MAGIC_V2,
  RecordBatchView,
  type RecordInput,
  validateBatches,
} from '../../../broker/protocol/record-batch.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`record-batch.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const require = createRequire(import.meta.url)

// ---- generators ----

const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))
const header = fc.record({ key: fc.string({ unit: 'binary', maxLength: 10 }), value: fc.option(bytes, { nil: null }) })
const record: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: fc.option(bytes, { nil: null }),
    value: fc.option(bytes, { nil: null }),
    timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
    headers: fc.array(header, { maxLength: 3 }),
  },
  { requiredKeys: ['value'] },
)
const options: fc.Arbitrary<BatchOptions> = fc.record(
  {
    baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
    partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    compression: fc.constantFrom('none' as const, 'gzip' as const),
    producerId: fc.integer({ min: -1, max: 2 ** 50 }),
    producerEpoch: fc.integer({ min: -1, max: 32767 }),
    baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    transactional: fc.boolean(),
    timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
  },
  { requiredKeys: [] },
)
const batch = fc.tuple(fc.array(record, { minLength: 1, maxLength: 8 }), options)

/** What decodeRecords must return for a batch built from these inputs. */
function expectedRecords(records: readonly RecordInput[], opts: BatchOptions) {
  const base = opts.timestamp ?? records[0]!.timestamp ?? 0
  const buf = (x: Buffer | string | null | undefined) => (x === null || x === undefined ? null : [...Buffer.from(x)])
  return records.map((r, i) => ({
    offset: (opts.baseOffset ?? 0) + i,
    timestamp: r.timestamp ?? base,
    key: buf(r.key),
    value: buf(r.value),
    headers: (r.headers ?? []).map((h) => ({ key: h.key, value: buf(h.value) })),
  }))
}

function plain(records: ReturnType<typeof decodeRecords>) {
  const buf = (x: Buffer | null) => (x === null ? null : [...x])
  return records.map((r) => ({ ...r, key: buf(r.key), value: buf(r.value), headers: r.headers.map((h) => ({ key: h.key, value: buf(h.value) })) }))
}

/** Rewrites the CRC after a test edits bytes inside the CRC-covered region. */
function fixCrc(buf: Buffer, pos = 0): void {
  const view = new RecordBatchView(buf, pos)
  buf.writeUInt32BE(view.computeCrc(), pos + 17)
}

const simple = (n: number, opts: BatchOptions = {}) =>
  encodeRecordBatch(
    Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: 1000 + i })),
    opts,
  )

// ---- tests ----

describe('encodeRecordBatch -> RecordBatchView -> decodeRecords', () => {
  it('the header fields read back as written and records round-trip (none and gzip, headers, null keys and values)', () => {
    fc.assert(
      fc.property(batch, ([records, opts]) => {
        const buf = encodeRecordBatch(records, opts)
        const view = new RecordBatchView(buf)
        const base = opts.timestamp ?? records[0]!.timestamp ?? 0
        expect(view.baseOffset).toBe(opts.baseOffset ?? 0)
        expect(view.sizeInBytes).toBe(buf.length)
        expect(view.batchLength).toBe(buf.length - 12)
        expect(view.partitionLeaderEpoch).toBe(opts.partitionLeaderEpoch ?? -1)
        expect(view.magic).toBe(MAGIC_V2)
        expect(view.compression).toBe(Compression[opts.compression ?? 'none'])
        expect(view.isTransactional).toBe(opts.transactional ?? false)
        expect(view.isControl).toBe(false)
        expect(view.isLogAppendTime).toBe(false)
        expect(view.lastOffsetDelta).toBe(records.length - 1)
        expect(view.lastOffset).toBe((opts.baseOffset ?? 0) + records.length - 1)
        expect(view.recordCount).toBe(records.length)
        expect(view.baseTimestamp).toBe(base)
        expect(view.maxTimestamp).toBe(Math.max(...records.map((r) => r.timestamp ?? base)))
        expect(view.producerId).toBe(opts.producerId ?? -1)
        expect(view.producerEpoch).toBe(opts.producerEpoch ?? -1)
        expect(view.baseSequence).toBe(opts.baseSequence ?? -1)
        expect(view.isCrcValid()).toBe(true)
        expect(view.bytes().equals(buf)).toBe(true)
        expect(plain(decodeRecords(view))).toEqual(expectedRecords(records, opts))
        const valid = validateBatches(buf)
        expect('kind' in valid ? valid : valid.recordCount).toBe(records.length)
      }),
      { seed, numRuns: 200 },
    )
  })

  it('maxTimestamp is the largest record timestamp even when an explicit base timestamp is larger', () => {
    const view = new RecordBatchView(encodeRecordBatch([{ value: 'a', timestamp: 5 }, { value: 'b', timestamp: 7 }], { timestamp: 100 }))
    expect(view.baseTimestamp).toBe(100)
    expect(view.maxTimestamp).toBe(7)
    expect(decodeRecords(view).map((r) => r.timestamp)).toEqual([5, 7])
  })

  it('sets the control and transactional bits', () => {
    const view = new RecordBatchView(encodeRecordBatch([{ key: Buffer.from([0, 0, 0, 1]), value: null }], { control: true, transactional: true }))
    expect(view.isControl).toBe(true)
    expect(view.isTransactional).toBe(true)
    expect(view.attributes).toBe(0x30)
  })

  it('refuses an empty batch and codecs it cannot compress', () => {
    expect(() => encodeRecordBatch([])).toThrow(RangeError)
    expect(() => encodeRecordBatch([{ value: 'x' }], { compression: 'zstd' })).toThrow(RangeError)
  })

  it('decodes gzip bodies compressed by another zlib call, and rejects codecs it does not decode', () => {
    const plainBatch = simple(3)
    const body = gzipSync(plainBatch.subarray(HEADER_SIZE))
    const gz = Buffer.concat([plainBatch.subarray(0, HEADER_SIZE), body])
    gz.writeInt32BE(gz.length - 12, 8)
    gz.writeInt16BE(Compression.gzip, 21)
    fixCrc(gz)
    expect(decodeRecords(new RecordBatchView(gz)).map((r) => r.value?.toString())).toEqual(['v0', 'v1', 'v2'])
    gz.writeInt16BE(Compression.zstd, 21)
    expect(() => decodeRecords(new RecordBatchView(gz))).toThrow(/zstd/)
  })
})

describe('patching in place', () => {
  it('rewriting baseOffset and partitionLeaderEpoch keeps the CRC valid and shifts record offsets', () => {
    fc.assert(
      fc.property(batch, fc.integer({ min: 0, max: 2 ** 52 }), fc.integer({ min: -1, max: 2 ** 31 - 1 }), ([records, opts], offset, epoch) => {
        const buf = encodeRecordBatch(records, opts)
        const crc = new RecordBatchView(buf).crc
        const view = new RecordBatchView(buf)
        view.baseOffset = offset
        view.partitionLeaderEpoch = epoch
        expect(view.baseOffset).toBe(offset)
        expect(view.partitionLeaderEpoch).toBe(epoch)
        expect(view.crc).toBe(crc)
        expect(view.isCrcValid()).toBe(true)
        expect(decodeRecords(view).map((r) => r.offset)).toEqual(records.map((_, i) => offset + i))
      }),
      { seed },
    )
  })

  it('works on a batch in the middle of a larger buffer', () => {
    const a = simple(2)
    const b = simple(3)
    const buf = Buffer.concat([a, b])
    const view = new RecordBatchView(buf, a.length)
    view.baseOffset = 40
    expect(new RecordBatchView(buf, 0).baseOffset).toBe(0)
    expect(view.isCrcValid()).toBe(true)
    expect(decodeRecords(view).map((r) => r.offset)).toEqual([40, 41, 42])
  })

  it('setLogAppendTime sets the attribute and maxTimestamp, recomputes the CRC, and records take that time', () => {
    fc.assert(
      fc.property(batch, fc.integer({ min: 0, max: 2 ** 42 }), ([records, opts], ts) => {
        const buf = encodeRecordBatch(records, opts)
        const view = new RecordBatchView(buf)
        const before = view.crc
        view.setLogAppendTime(ts)
        expect(view.isLogAppendTime).toBe(true)
        expect(view.maxTimestamp).toBe(ts)
        expect(view.compression).toBe(Compression[opts.compression ?? 'none'])
        expect(view.isCrcValid()).toBe(true)
        expect(view.crc).not.toBe(before)
        expect(decodeRecords(view).every((r) => r.timestamp === ts)).toBe(true)
      }),
      { seed },
    )
  })
})

describe('validateBatches', () => {
  it('accepts several whole batches and counts their records', () => {
    const v = validateBatches(Buffer.concat([simple(2), simple(5, { compression: 'gzip' })]))
    expect('kind' in v).toBe(false)
    if (!('kind' in v)) {
      expect(v.recordCount).toBe(7)
      expect(v.batches.map((b) => b.recordCount)).toEqual([2, 5])
    }
  })

  it('reports a bad CRC, with the position of the batch', () => {
    const a = simple(2)
    const b = simple(2)
    b[b.length - 1]! ^= 0xff
    expect(validateBatches(Buffer.concat([a, b]))).toEqual({ kind: 'bad-crc', at: a.length })
  })

  it('reports any single corrupted byte in the CRC-covered region', () => {
    const good = simple(3, { compression: 'gzip' })
    fc.assert(
      fc.property(fc.integer({ min: 21, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const buf = Buffer.from(good)
        buf[at]! ^= x
        const v = validateBatches(buf)
        return 'kind' in v && v.kind === 'bad-crc'
      }),
      { seed },
    )
  })

  it('reports a bad magic byte', () => {
    const buf = simple(1)
    buf.writeInt8(1, 16)
    expect(validateBatches(buf)).toEqual({ kind: 'bad-magic', at: 0, magic: 1 })
  })

  it('reports truncation anywhere, and an empty payload', () => {
    const good = simple(3)
    for (let cut = 0; cut < good.length; cut++) {
      expect(validateBatches(good.subarray(0, cut)), `cut at ${cut}`).toEqual({ kind: 'truncated', at: 0 })
    }
    const two = Buffer.concat([good, good])
    expect(validateBatches(two.subarray(0, two.length - 1))).toEqual({ kind: 'truncated', at: good.length })
  })

  it('reports a batch length shorter than the header', () => {
    const buf = simple(1)
    buf.writeInt32BE(10, 8)
    expect(validateBatches(buf)).toEqual({ kind: 'bad-length', at: 0, length: 10 })
  })

  it('reports a record count that disagrees with lastOffsetDelta, or is zero', () => {
    const buf = simple(3)
    buf.writeInt32BE(2, 57)
    fixCrc(buf)
    expect(validateBatches(buf)).toEqual({ kind: 'bad-count', at: 0, count: 2, lastOffsetDelta: 2 })
    const zero = simple(1)
    zero.writeInt32BE(0, 57)
    zero.writeInt32BE(-1, 23)
    fixCrc(zero)
    expect(validateBatches(zero)).toEqual({ kind: 'bad-count', at: 0, count: 0, lastOffsetDelta: -1 })
  })

  it('checkBatchFrame and iterateBatches stop at a partial batch', () => {
    const a = simple(2)
    const b = simple(3)
    const buf = Buffer.concat([a, b.subarray(0, b.length - 5)])
    expect(checkBatchFrame(buf, 0)).toEqual({ size: a.length })
    expect(checkBatchFrame(buf, a.length)).toEqual({ kind: 'truncated', at: a.length })
    expect([...iterateBatches(buf)].map((v) => v.recordCount)).toEqual([2])
  })
})

describe("kafkajs's own RecordBatch encoder", () => {
  interface KafkajsEncoder {
    buffer: Buffer
  }
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
    RecordBatch: (o: Record<string, unknown>) => Promise<KafkajsEncoder>
  }
  const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: Record<string, unknown>) => unknown
  const { Types } = require('kafkajs/src/protocol/message/compression') as { Types: { None: number; GZIP: number } }

  // kafkajs cannot encode null header values (it takes Buffer.byteLength of them) and keys headers by name.
  const kjsMessage = fc.record({
    key: fc.option(bytes, { nil: null }),
    value: fc.option(bytes, { nil: null }),
    timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
    headers: fc.uniqueArray(fc.record({ key: fc.string({ minLength: 1, maxLength: 6 }).map((k) => `h-${k}`), value: bytes }), {
      maxLength: 3,
      selector: (h) => h.key,
    }),
  })
  const kjsBatch = fc.record({
    messages: fc.array(kjsMessage, { minLength: 1, maxLength: 6 }),
    gzip: fc.boolean(),
    producerId: fc.integer({ min: -1, max: 2 ** 40 }),
    producerEpoch: fc.integer({ min: 0, max: 32767 }),
    firstSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    transactional: fc.boolean(),
  })

  type KjsBatch = typeof kjsBatch extends fc.Arbitrary<infer T> ? T : never

  async function kafkajsBatch(b: KjsBatch) {
    const first = Math.min(...b.messages.map((m) => m.timestamp))
    const max = Math.max(...b.messages.map((m) => m.timestamp))
    const records = b.messages.map((m, i) =>
      KafkajsRecord({
        offsetDelta: i,
        timestampDelta: m.timestamp - first,
        key: m.key,
        value: m.value,
        headers: Object.fromEntries(m.headers.map((h) => [h.key, h.value])),
      }),
    )
    const enc = await RecordBatch({
      compression: b.gzip ? Types.GZIP : Types.None,
      records,
      firstTimestamp: first,
      maxTimestamp: max,
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      firstSequence: b.firstSequence,
      transactional: b.transactional,
      lastOffsetDelta: records.length - 1,
    })
    return { buf: enc.buffer, first, max }
  }

  it('its batches validate, read back field by field, and decode to the same records', async () => {
    await fc.assert(
      fc.asyncProperty(kjsBatch, async (b) => {
        const { buf, first, max } = await kafkajsBatch(b)
        const v = validateBatches(buf)
        expect(v).not.toHaveProperty('kind')
        const view = new RecordBatchView(buf)
        expect(view.compression).toBe(b.gzip ? Compression.gzip : Compression.none)
        expect(view.recordCount).toBe(b.messages.length)
        expect(view.baseTimestamp).toBe(first)
        expect(view.maxTimestamp).toBe(max)
        expect(view.producerId).toBe(b.producerId)
        expect(view.producerEpoch).toBe(b.producerEpoch)
        expect(view.baseSequence).toBe(b.firstSequence)
        expect(view.isTransactional).toBe(b.transactional)
        expect(plain(decodeRecords(view))).toEqual(expectedRecords(b.messages, {}))
      }),
      { seed, numRuns: 60 },
    )
  })

  it('uncompressed, it is byte for byte what encodeRecordBatch writes for the same input', async () => {
    await fc.assert(
      fc.asyncProperty(kjsBatch, async (b) => {
        const { buf, first } = await kafkajsBatch({ ...b, gzip: false })
        const ours = encodeRecordBatch(b.messages, {
          timestamp: first,
          partitionLeaderEpoch: 0,
          producerId: b.producerId,
          producerEpoch: b.producerEpoch,
          baseSequence: b.firstSequence,
          transactional: b.transactional,
        })
        expect(ours.toString('hex')).toBe(buf.toString('hex'))
      }),
      { seed, numRuns: 60 },
    )
  })

  it('our CRC agrees with the one kafkajs computed', async () => {
    const { buf } = await kafkajsBatch({ messages: [{ key: null, value: Buffer.from('x'), timestamp: 1, headers: [] }], gzip: false, producerId: -1, producerEpoch: 0, firstSequence: 0, transactional: false })
    expect(crc32c(buf, 21)).toBe(buf.readUInt32BE(17))
  })
})
