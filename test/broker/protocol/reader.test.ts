import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DecodeError, Reader } from '../../../broker/protocol/reader.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`reader.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const reader = (s: string) => new Reader(hex(s))

/** Reference zig-zag varlong encoder in BigInt, independent of Writer. */
function zigzagVarlong(v: bigint): Buffer {
  let n = v >= 0n ? v << 1n : (-v << 1n) - 1n
  const out: number[] = []
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80)
    n >>= 7n
  }
  out.push(Number(n))
  return Buffer.from(out)
}

describe('fixed-width integers', () => {
  it('reads big-endian values of every width', () => {
    const r = reader('01 ff 8000 ffff 80000000 ffffffff 3ff8000000000000')
    expect(r.bool()).toBe(true)
    expect(r.int8()).toBe(-1)
    expect(r.int16()).toBe(-32768)
    expect(r.uint16()).toBe(65535)
    expect(r.int32()).toBe(-2147483648)
    expect(r.uint32()).toBe(4294967295)
    expect(r.float64()).toBe(1.5)
    expect(r.remaining).toBe(0)
  })

  it('reads any non-zero byte as true', () => {
    expect(reader('02').bool()).toBe(true)
    expect(reader('00').bool()).toBe(false)
  })

  it('reads int64 negatives and the safe-integer edges exactly', () => {
    const cases: [string, number][] = [
      ['ffffffffffffffff', -1],
      ['fffffffffffffffe', -2],
      ['ffffffff00000000', -(2 ** 32)],
      ['fffffffeffffffff', -(2 ** 32) - 1],
      ['00000000ffffffff', 2 ** 32 - 1],
      ['001fffffffffffff', Number.MAX_SAFE_INTEGER],
      ['ffe0000000000001', Number.MIN_SAFE_INTEGER],
      ['8000000000000000', -(2 ** 63)],
    ]
    for (const [bytes, v] of cases) expect(reader(bytes).int64(), bytes).toBe(v)
  })

  it('reads every safe int64 as Buffer.writeBigInt64BE wrote it', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        const b = Buffer.alloc(8)
        b.writeBigInt64BE(BigInt(v))
        return new Reader(b).int64() === v
      }),
      { seed },
    )
  })

  it('throws DecodeError, not RangeError, past the end', () => {
    for (const read of [(r: Reader) => r.int8(), (r: Reader) => r.int16(), (r: Reader) => r.int32(), (r: Reader) => r.int64(), (r: Reader) => r.float64(), (r: Reader) => r.uuid()]) {
      expect(() => read(reader(''))).toThrow(DecodeError)
    }
    expect(() => reader('0000').int32()).toThrow(DecodeError)
  })

  it('respects an end before the buffer end', () => {
    const r = new Reader(hex('0001 0002 0003'), 2, 4)
    expect(r.int16()).toBe(2)
    expect(() => r.int16()).toThrow(DecodeError)
  })
})

describe('unsigned varints', () => {
  it('decodes known encodings', () => {
    const cases: [string, number][] = [
      ['00', 0],
      ['01', 1],
      ['7f', 127],
      ['8001', 128],
      ['ac02', 300],
      ['ffff03', 65535],
      ['ffffffff0f', 0xffffffff],
    ]
    for (const [bytes, v] of cases) {
      const r = reader(bytes)
      expect(r.uvarint(), bytes).toBe(v)
      expect(r.remaining).toBe(0)
    }
  })

  it('accepts a non-minimal encoding within 5 bytes', () => {
    expect(reader('8080808000').uvarint()).toBe(0)
  })

  it('rejects a sixth byte and values past 32 bits', () => {
    expect(() => reader('8080808080 00').uvarint()).toThrow(/longer than 5 bytes/)
    expect(() => reader('ffffffff1f').uvarint()).toThrow(/overflows 32 bits/)
  })

  it('rejects truncation', () => {
    expect(() => reader('').uvarint()).toThrow(DecodeError)
    expect(() => reader('80').uvarint()).toThrow(DecodeError)
    expect(() => reader('ffffffff').uvarint()).toThrow(DecodeError)
  })
})

describe('zig-zag varints and varlongs', () => {
  it('decodes known varints, negatives included', () => {
    const cases: [string, number][] = [
      ['00', 0],
      ['01', -1],
      ['02', 1],
      ['03', -2],
      ['04', 2],
      ['7f', -64],
      ['8001', 64],
      ['feffffff0f', 2147483647],
      ['ffffffff0f', -2147483648],
    ]
    for (const [bytes, v] of cases) expect(reader(bytes).varint(), bytes).toBe(v)
  })

  it('decodes known varlongs up to the 10-byte limit, int64 min included', () => {
    const cases: [string, number][] = [
      ['00', 0],
      ['01', -1],
      ['feffffffffffff1f', Number.MAX_SAFE_INTEGER],
      ['fdffffffffffff1f', Number.MIN_SAFE_INTEGER],
      ['80808080808080808001', 2 ** 62],
      ['ffffffffffffffffff01', -(2 ** 63)],
    ]
    for (const [bytes, v] of cases) {
      const r = reader(bytes)
      expect(r.varlong(), bytes).toBe(v)
      expect(r.remaining).toBe(0)
    }
  })

  it('rejects an 11th byte, a 10th byte past 64 bits, and truncation', () => {
    expect(() => reader('ffffffffffffffffff8100').varlong()).toThrow(/longer than 10 bytes/)
    expect(() => reader('ffffffffffffffffff03').varlong()).toThrow(/overflows 64 bits/)
    expect(() => reader('ffffffffffffffff').varlong()).toThrow(DecodeError)
    expect(() => reader('80').varlong()).toThrow(DecodeError)
  })

  it('decodes every int32 the reference encoder writes', () => {
    fc.assert(
      fc.property(fc.integer(), (v) => {
        const r = new Reader(zigzagVarlong(BigInt(v)))
        return r.varint() === v && r.remaining === 0
      }),
      { seed },
    )
  })

  it('decodes every int64 the reference encoder writes, exactly within the safe range', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        const r = new Reader(zigzagVarlong(v))
        const got = r.varlong()
        return got === Number(v) && r.remaining === 0
      }),
      { seed },
    )
  })
})

describe('strings, bytes and arrays', () => {
  it('reads classic strings: int16 length, -1 for null, lengths in bytes', () => {
    expect(reader('ffff').nullableString()).toBeNull()
    expect(reader('0000').nullableString()).toBe('')
    expect(reader('0003 616263').nullableString()).toBe('abc')
    expect(reader('0002 c3a9').nullableString()).toBe('é')
  })

  it('reads compact strings: uvarint length + 1, 0 for null', () => {
    expect(reader('00').compactNullableString()).toBeNull()
    expect(reader('01').compactNullableString()).toBe('')
    expect(reader('04 616263').compactNullableString()).toBe('abc')
  })

  it('rejects negative lengths other than -1 and lengths past the end', () => {
    expect(() => reader('fffe').nullableString()).toThrow(/invalid string length -2/)
    expect(() => reader('0004 616263').nullableString()).toThrow(DecodeError)
    expect(() => reader('05 616263').compactNullableString()).toThrow(DecodeError)
    expect(() => reader('fffffffe').nullableBytes()).toThrow(/invalid bytes length/)
    expect(() => reader('00000004 010203').nullableBytes()).toThrow(DecodeError)
    expect(() => reader('05 010203').compactNullableBytes()).toThrow(DecodeError)
  })

  it('reads bytes as views into the frame', () => {
    const buf = hex('00000002 0a0b 03 0c0d')
    const r = new Reader(buf)
    const a = r.nullableBytes()!
    const b = r.compactNullableBytes()!
    expect([...a]).toEqual([10, 11])
    expect([...b]).toEqual([12, 13])
    buf[4] = 99
    expect(a[0]).toBe(99)
    expect(reader('ffffffff').nullableBytes()).toBeNull()
    expect(reader('00').compactNullableBytes()).toBeNull()
  })

  it('reads array lengths: classic -1 and compact 0 mean null, both as -1', () => {
    expect(reader('ffffffff').arrayLength()).toBe(-1)
    expect(reader('00').compactArrayLength()).toBe(-1)
    expect(reader('01').compactArrayLength()).toBe(0)
    expect(reader('00000002 0000').arrayLength()).toBe(2)
    expect(() => reader('fffffffe').arrayLength()).toThrow(/invalid array length/)
  })

  it('rejects an array count larger than the bytes left, before allocating', () => {
    expect(() => reader('7fffffff 00').arrayLength()).toThrow(/exceeds/)
    expect(() => reader('ffffffff0f').compactArrayLength()).toThrow(/exceeds/)
  })

  it('reads a uuid as 32 lowercase hex digits', () => {
    expect(reader('00112233445566778899AABBCCDDEEFF').uuid()).toBe('00112233445566778899aabbccddeeff')
  })

  it('raw and skip are bounded', () => {
    const r = reader('010203')
    expect(() => r.raw(4)).toThrow(DecodeError)
    expect(() => r.skip(-1)).toThrow(DecodeError)
    r.skip(2)
    expect([...r.raw(1)]).toEqual([3])
  })
})
