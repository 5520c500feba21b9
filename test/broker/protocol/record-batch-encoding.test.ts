// encodeRecordBatch is the one RecordBatch encoder (the broker's tests, the harness, the raw client's hot path).
// Its bytes are pinned by digests recorded from the encoders it replaced (the Writer-based encoder that was in
// record-batch.ts and the raw driver's one-pass copy, which were byte-identical), and every batch it writes
// decodes back to its input.

import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type BatchOptions, decodeRecords, encodeRecordBatch, HEADER_SIZE, RecordBatchView, type RecordInput, restampBatch, validateBatches } from '../../../broker/protocol/record-batch.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`record-batch-encoding.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

/** Deterministic bytes: n bytes of a counter pattern starting at `from`. */
const pattern = (n: number, from: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (from + i * 7) & 0xff))

const T0 = 1_700_000_000_123
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a))

const cases: Record<string, { records: RecordInput[]; opts?: BatchOptions }> = {
  'one value, defaults': { records: [{ value: 'x' }] },
  'plain records at the batch time, producer fields': {
    records: Array.from({ length: 5 }, (_, i) => ({ key: i % 2 ? pattern(i * 3, i) : null, value: pattern(20 + i * 10, 100 + i) })),
    opts: { timestamp: T0, producerId: 123_456_789_012, producerEpoch: 7, baseSequence: 2_000_000_000 },
  },
  'null keys and values': { records: [{ key: null, value: null }, { value: null }, { key: Buffer.alloc(0), value: Buffer.alloc(0) }], opts: { timestamp: 5 } },
  'own timestamps around the base, one far below': {
    records: [{ value: 'a', timestamp: T0 }, { value: 'b', timestamp: T0 + 5000 }, { value: 'c', timestamp: T0 - 3 }, { value: 'd', timestamp: 12 }],
  },
  'max timestamp below an explicit base': { records: [{ value: 'a', timestamp: 10 }, { value: 'b', timestamp: 20 }], opts: { timestamp: 100 } },
  'a timestamp delta beyond 2^52': { records: [{ value: 'a', timestamp: 2 ** 53 - 2 }, { value: 'b', timestamp: 0 }], opts: { timestamp: -(2 ** 52) } },
  headers: {
    records: [
      { key: 'k', value: 'v', headers: [{ key: 'h1', value: Buffer.from([1, 2, 3]) }, { key: 'hé', value: 'ünïcode' }, { key: '', value: null }] },
      { value: 'w', headers: [] },
    ],
    opts: { timestamp: T0 },
  },
  'multi-byte UTF-8 keys and values': { records: [{ key: '鍵', value: 'värde 🎉' }], opts: { timestamp: 1 } },
  'transactional control batch at an offset and epoch': {
    records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 3]) }],
    opts: { baseOffset: 2 ** 40 + 17, partitionLeaderEpoch: 9, transactional: true, control: true, producerId: 5, producerEpoch: 0, baseSequence: -1, timestamp: T0 },
  },
  '300 records, lengths across varint sizes': {
    records: Array.from({ length: 300 }, (_, i) => ({ key: i % 3 === 0 ? null : pattern(i % 70, i), value: pattern((i * 53) % 9000, i) })),
    opts: { timestamp: T0, producerId: 1, producerEpoch: 1, baseSequence: 0 },
  },
  'one large value': { records: [{ value: pattern(200_000, 3) }], opts: { timestamp: T0 } },
}

/** sha256 and length of each case's batch, recorded from the replaced encoders. */
const expected: Record<string, string> = {
  'one value, defaults': '69 19b4cc8d618585786a5b4d6bfe1e533bd8cd2d763371f484a9458d17662bf14c',
  'plain records at the batch time, producer fields': '310 7f6f42a2e27ee08df9170829a9cb0be27bba99d77741778570965db98b9c0326',
  'null keys and values': '82 9df31692f86387702654f7cc37639ab78b4aef5e552e3ca7b90650ef57bb801b',
  'own timestamps around the base, one far below': '99 078401c5d75e7092ada8b987e2a2666579e9a21548061020883e4893441aec71',
  'max timestamp below an explicit base': '79 00ec8b85f4970fc46c969e8547b0a287ae36fdf41ef138ebb4131efc14ac7204',
  'a timestamp delta beyond 2^52': '91 35b044c9f52ede802cd963ca3a8648123ecf298e1d8e94aea3bd796f38b221d7',
  headers: '101 ae8f3cb07cf5b219e088c1983c92f60c00c3167771a601b4a1d4bd0c0ac87509',
  'multi-byte UTF-8 keys and values': '82 504eefb9365136139d20d283b2429ab517bbaee8c00c9423419217b0a5fb5023',
  'transactional control batch at an offset and epoch': '78 5755811813207642eb579a7302918d33bdc9f91f5b349b817f7a207b402f255e',
  '300 records, lengths across varint sizes': '1216636 9e7cd264f7167060960d9812771c386a9aaffc7c4d4ec5252f1ce9b14b8e54e6',
  'one large value': '200072 4227642b1cf7e7dd3466e980bf130b0eefba25d6fd405a6725186ceae23cef08',
}

const digest = (b: Buffer): string => `${b.length} ${createHash('sha256').update(b).digest('hex')}`

describe('encodeRecordBatch', () => {
  it.each(Object.keys(cases))('writes the same bytes as the encoders it replaced: %s', (name) => {
    const c = cases[name]!
    expect(digest(encodeRecordBatch(c.records, c.opts))).toBe(expected[name])
  })

  it('gzips exactly the records an uncompressed batch carries, under the same header', () => {
    for (const c of Object.values(cases)) {
      const plain = encodeRecordBatch(c.records, c.opts)
      const gz = encodeRecordBatch(c.records, { ...c.opts, compression: 'gzip' })
      expect(gunzipSync(gz.subarray(HEADER_SIZE)).equals(plain.subarray(HEADER_SIZE))).toBe(true)
      // Bytes 21-22 are the attributes (codec bits), 17-20 the CRC over them; 8-11 the length.
      expect(gz.subarray(23, HEADER_SIZE).equals(plain.subarray(23, HEADER_SIZE))).toBe(true)
      expect(new RecordBatchView(gz).compression).toBe(1)
      expect('kind' in validateBatches(gz)).toBe(false)
    }
  })

  it('restampBatch gives an encoded batch the header it would have been encoded with (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.option(bytes(20), { nil: null }), value: bytes(100) }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.option(fc.record({ producerId: fc.integer({ min: 0, max: 2 ** 50 }), producerEpoch: fc.integer({ min: 0, max: 32767 }), baseSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }) }), { nil: undefined }),
        (records, timestamp, producer) => {
          const once = encodeRecordBatch(records, { timestamp: 0, producerId: 9, producerEpoch: 9, baseSequence: 9 })
          restampBatch(once, 0, timestamp, producer ?? {})
          expect(once.equals(encodeRecordBatch(records, { timestamp, ...producer }))).toBe(true)
        },
      ),
      { seed, numRuns: 200 },
    )
  })

  const input: fc.Arbitrary<RecordInput> = fc.record(
    {
      key: fc.option(fc.oneof(bytes(100), fc.string({ maxLength: 20 })), { nil: null }),
      value: fc.option(fc.oneof(bytes(2000), fc.string({ unit: 'grapheme', maxLength: 50 })), { nil: null }),
      timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
      headers: fc.array(fc.record({ key: fc.string({ maxLength: 10 }), value: fc.option(fc.oneof(bytes(30), fc.string({ maxLength: 10 })), { nil: null }) }), { maxLength: 3 }),
    },
    { requiredKeys: ['value'] },
  )

  it('writes batches that decode back to their records (property)', () => {
    const asBuf = (x: Buffer | string | null | undefined): Buffer | null => (x === null || x === undefined ? null : Buffer.from(x))
    fc.assert(
      fc.property(
        fc.array(input, { minLength: 1, maxLength: 50 }),
        fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: undefined }),
        fc.constantFrom<'none' | 'gzip'>('none', 'gzip'),
        (records, timestamp, compression) => {
          const b = encodeRecordBatch(records, { timestamp, compression, baseOffset: 100 })
          expect('kind' in validateBatches(b)).toBe(false)
          const base = timestamp ?? records[0]!.timestamp ?? 0
          expect(decodeRecords(new RecordBatchView(b))).toEqual(
            records.map((r, i) => ({
              offset: 100 + i,
              timestamp: r.timestamp ?? base,
              key: asBuf(r.key),
              value: asBuf(r.value),
              headers: (r.headers ?? []).map((h) => ({ key: h.key, value: asBuf(h.value) })),
            })),
          )
        },
      ),
      { seed, numRuns: 300 },
    )
  })
})
