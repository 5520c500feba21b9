import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32c, crc32cImplementation, crc32cJs } from '../../../broker/protocol/crc32c.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`crc32c.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const native = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: (b: Buffer, seed?: number) => number }).crc32c

// Known answers: the CRC catalogue's check value and RFC 3720 (iSCSI) appendix B.4.
const vectors: [string, Buffer, number][] = [
  ['"123456789"', Buffer.from('123456789'), 0xe3069283],
  ['empty', Buffer.alloc(0), 0],
  ['32 zero bytes', Buffer.alloc(32, 0), 0x8a9136aa],
  ['32 0xff bytes', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['32 ascending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['32 descending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
]

describe('CRC-32C', () => {
  it('the native binding is in use on this platform', () => {
    expect(crc32cImplementation).toBe('native')
  })

  for (const [name, buf, want] of vectors) {
    it(`known vector: ${name}`, () => {
      expect(crc32cJs(buf)).toBe(want)
      expect(crc32c(buf)).toBe(want)
    })
  }

  it('JS and native agree on random buffers and sub-ranges', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        fc.nat(),
        (bytes, a, b) => {
          const buf = Buffer.from(bytes)
          const start = buf.length === 0 ? 0 : a % (buf.length + 1)
          const end = start + (buf.length === 0 ? 0 : b % (buf.length - start + 1))
          const js = crc32cJs(buf, 0, start, end)
          return js === native(buf.subarray(start, end)) >>> 0 && js === crc32c(buf, start, end)
        },
      ),
      { seed },
    )
  })

  it('a seed continues a CRC across pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (x, y) => {
        const whole = crc32cJs(Buffer.concat([x, y]))
        return crc32cJs(y, crc32cJs(x)) === whole && crc32cJs(y, crc32cJs(x)) === native(Buffer.from(y), native(Buffer.from(x))) >>> 0
      }),
      { seed },
    )
  })

  it('results are unsigned 32-bit integers', () => {
    // 0xe3069283 has the top bit set: a signed result would be negative.
    for (const v of [crc32c(Buffer.from('123456789')), crc32cJs(Buffer.from('123456789'))]) {
      expect(v).toBeGreaterThan(0x7fffffff)
      expect(Number.isInteger(v)).toBe(true)
    }
  })
})
