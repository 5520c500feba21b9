import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Reader } from '../../../broker/protocol/reader.ts'
import { Writer } from '../../../broker/protocol/writer.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`writer.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const bytesOf = (build: (w: Writer) => unknown) => {
  const w = new Writer()
  build(w)
  return w.toBuffer().toString('hex')
}

describe('fixed-width integers', () => {
  it('writes big-endian values of every width', () => {
    expect(bytesOf((w) => w.bool(true).bool(false).int8(-1).int16(-32768).uint16(65535))).toBe('0100ff8000ffff')
    expect(bytesOf((w) => w.int32(-2147483648).uint32(4294967295).float64(1.5))).toBe('80000000ffffffff3ff8000000000000')
  })

  it('writes int64 negatives and the safe-integer edges exactly', () => {
    const cases: [number, string][] = [
      [-1, 'ffffffffffffffff'],
      [-2, 'fffffffffffffffe'],
      [-(2 ** 32), 'ffffffff00000000'],
      [-(2 ** 32) - 1, 'fffffffeffffffff'],
      [Number.MAX_SAFE_INTEGER, '001fffffffffffff'],
      [Number.MIN_SAFE_INTEGER, 'ffe0000000000001'],
      [-(2 ** 63), '8000000000000000'],
    ]
    for (const [v, hex] of cases) expect(bytesOf((w) => w.int64(v)), String(v)).toBe(hex)
  })

  it('writes every safe int64 as Buffer.writeBigInt64BE does', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        const ref = Buffer.alloc(8)
        ref.writeBigInt64BE(BigInt(v))
        return new Writer(1).int64(v).toBuffer().equals(ref)
      }),
      { seed },
    )
  })
})

describe('varints', () => {
  it('writes known unsigned varints', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, '8001'],
      [300, 'ac02'],
      [0xffffffff, 'ffffffff0f'],
    ]
    for (const [v, hex] of cases) expect(bytesOf((w) => w.uvarint(v)), String(v)).toBe(hex)
  })

  it('refuses unsigned varints outside 32 bits instead of writing garbage', () => {
    expect(() => new Writer().uvarint(-1)).toThrow(RangeError)
    expect(() => new Writer().uvarint(2 ** 32)).toThrow(RangeError)
    expect(() => new Writer().uvarint(Number.NaN)).toThrow(RangeError)
  })

  it('writes zig-zag varints, negatives included, and refuses values outside int32', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [-1, '01'],
      [1, '02'],
      [-64, '7f'],
      [64, '8001'],
      [2147483647, 'feffffff0f'],
      [-2147483648, 'ffffffff0f'],
    ]
    for (const [v, hex] of cases) expect(bytesOf((w) => w.varint(v)), String(v)).toBe(hex)
    expect(() => new Writer().varint(2 ** 31)).toThrow(RangeError)
  })

  it('writes zig-zag varlongs up to 10 bytes, int64 min included', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [-1, '01'],
      [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'],
      [Number.MIN_SAFE_INTEGER, 'fdffffffffffff1f'],
      [2 ** 62, '80808080808080808001'],
      [-(2 ** 63), 'ffffffffffffffffff01'],
    ]
    for (const [v, hex] of cases) expect(bytesOf((w) => w.varlong(v)), String(v)).toBe(hex)
    expect(() => new Writer().varlong(2 ** 63)).toThrow(RangeError)
    expect(() => new Writer().varlong(0.5)).toThrow(RangeError)
  })

  it('varint and varlong round-trip through the reader', () => {
    fc.assert(
      fc.property(fc.integer(), fc.maxSafeInteger(), (a, b) => {
        const r = new Reader(new Writer(1).varint(a).varlong(b).toBuffer())
        return r.varint() === a && r.varlong() === b && r.remaining === 0
      }),
      { seed },
    )
  })
})

describe('strings, bytes and uuids', () => {
  it('writes classic and compact nulls differently', () => {
    expect(bytesOf((w) => w.nullableString(null))).toBe('ffff')
    expect(bytesOf((w) => w.nullableBytes(null))).toBe('ffffffff')
    expect(bytesOf((w) => w.compactNullableString(null))).toBe('00')
    expect(bytesOf((w) => w.compactNullableBytes(null))).toBe('00')
  })

  it('writes empty and non-empty strings with byte lengths', () => {
    expect(bytesOf((w) => w.nullableString(''))).toBe('0000')
    expect(bytesOf((w) => w.compactNullableString(''))).toBe('01')
    expect(bytesOf((w) => w.nullableString('é'))).toBe('0002c3a9')
    expect(bytesOf((w) => w.compactNullableString('abc'))).toBe('04616263')
    expect(bytesOf((w) => w.compactNullableBytes(Buffer.from([1, 2])))).toBe('030102')
  })

  it('refuses a classic string longer than an int16 length allows', () => {
    expect(() => new Writer().nullableString('x'.repeat(0x8000))).toThrow(RangeError)
    expect(new Writer().nullableString('x'.repeat(0x7fff)).length).toBe(2 + 0x7fff)
  })

  it('writes uuids from hex and refuses non-hex', () => {
    expect(bytesOf((w) => w.uuid('00112233445566778899aabbccddeeff'))).toBe('00112233445566778899aabbccddeeff')
    expect(() => new Writer().uuid('not-a-uuid')).toThrow(TypeError)
  })
})

describe('chunks', () => {
  it('references large buffers and copies small ones', () => {
    const big = Buffer.alloc(4096, 7)
    const small = Buffer.from([1, 2, 3])
    const w = new Writer(16).int32(1).raw(big).raw(small)
    const chunks = w.chunksOut()
    expect(chunks).toContain(big)
    expect(chunks).not.toContain(small)
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(4 + 4096 + 3)
  })

  it('patches a reserved int32 even after the scratch buffer was replaced', () => {
    const w = new Writer(8)
    const patch = w.reserveInt32()
    w.raw(Buffer.alloc(100, 1))
    patch(0x01020304)
    const out = w.toBuffer()
    expect(out.readInt32BE(0)).toBe(0x01020304)
    expect(out.length).toBe(104)
  })

  it('length always equals the bytes produced, across growth and referenced chunks', () => {
    const op = fc.oneof(
      fc.integer().map((v) => (w: Writer) => w.int32(v)),
      fc.maxSafeInteger().map((v) => (w: Writer) => w.varlong(v)),
      fc.string({ maxLength: 40 }).map((s) => (w: Writer) => w.compactNullableString(s)),
      fc.integer({ min: 0, max: 2000 }).map((n) => (w: Writer) => w.raw(Buffer.alloc(n, n & 0xff))),
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(op, { maxLength: 30 }), (initial, ops) => {
        const w = new Writer(initial)
        for (const o of ops) o(w)
        const n = w.length
        return w.toBuffer().length === n
      }),
      { seed },
    )
  })

  it('a random sequence of writes reads back in order', () => {
    type Step = { write: (w: Writer) => void; read: (r: Reader) => unknown; value: unknown }
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.integer({ min: -128, max: 127 }).map((v) => ({ write: (w: Writer) => w.int8(v), read: (r: Reader) => r.int8(), value: v })),
      fc.integer({ min: -32768, max: 32767 }).map((v) => ({ write: (w: Writer) => w.int16(v), read: (r: Reader) => r.int16(), value: v })),
      fc.integer().map((v) => ({ write: (w: Writer) => w.int32(v), read: (r: Reader) => r.int32(), value: v })),
      fc.maxSafeInteger().map((v) => ({ write: (w: Writer) => w.int64(v), read: (r: Reader) => r.int64(), value: v })),
      fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({ write: (w: Writer) => w.uvarint(v), read: (r: Reader) => r.uvarint(), value: v })),
      fc.integer().map((v) => ({ write: (w: Writer) => w.varint(v), read: (r: Reader) => r.varint(), value: v })),
      fc.maxSafeInteger().map((v) => ({ write: (w: Writer) => w.varlong(v), read: (r: Reader) => r.varlong(), value: v })),
      fc.double().map((v) => ({ write: (w: Writer) => w.float64(v), read: (r: Reader) => r.float64(), value: v })),
      fc.option(fc.string({ unit: 'binary', maxLength: 20 }), { nil: null }).map((v) => ({
        write: (w: Writer) => w.nullableString(v),
        read: (r: Reader) => r.nullableString(),
        value: v,
      })),
      fc.option(fc.string({ unit: 'binary', maxLength: 20 }), { nil: null }).map((v) => ({
        write: (w: Writer) => w.compactNullableString(v),
        read: (r: Reader) => r.compactNullableString(),
        value: v,
      })),
      fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }).map((v) => ({
        write: (w: Writer) => w.compactNullableBytes(v && Buffer.from(v)),
        read: (r: Reader) => {
          const b = r.compactNullableBytes()
          return b && [...b]
        },
        value: v && [...v],
      })),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const w = new Writer(4)
        for (const s of steps) s.write(w)
        const r = new Reader(w.toBuffer())
        return steps.every((s) => isDeepStrictEqual(s.read(r), s.value)) && r.remaining === 0
      }),
      { seed },
    )
  })
})
