import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  deriveSeed,
  keyGenerator,
  PAYLOAD_HEADER_SIZE,
  PayloadPool,
  Prng,
  readPayloadHeader,
  sizeGenerator,
  ValueIds,
  writePayloadHeader,
  ZipfSampler,
  zipfProbabilities,
  type KeySpec,
  type SizeSpec,
} from '../../workloads/generators.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`generators.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

const keySpec: fc.Arbitrary<KeySpec> = fc.oneof(
  fc.constant<KeySpec>({ kind: 'none' }),
  fc.integer({ min: 1, max: 1000 }).map((count): KeySpec => ({ kind: 'round-robin', count })),
  fc.integer({ min: 1, max: 1000 }).map((count): KeySpec => ({ kind: 'uniform', count })),
  fc.record({ count: fc.integer({ min: 1, max: 100_000 }), exponent: fc.double({ min: 0.1, max: 3, noNaN: true }) }).map((z): KeySpec => ({ kind: 'zipf', ...z })),
)

const sizeSpec: fc.Arbitrary<SizeSpec> = fc.oneof(
  fc.integer({ min: PAYLOAD_HEADER_SIZE, max: 10_000 }).map((bytes): SizeSpec => ({ kind: 'fixed', bytes })),
  fc
    .tuple(fc.integer({ min: PAYLOAD_HEADER_SIZE, max: 5000 }), fc.integer({ min: 0, max: 5000 }))
    .map(([min, extra]): SizeSpec => ({ kind: 'uniform', min, max: min + extra })),
  fc
    .record({ mean: fc.integer({ min: 20, max: 5000 }), stddev: fc.integer({ min: 0, max: 1000 }) })
    .map((n): SizeSpec => ({ kind: 'normal', ...n, min: PAYLOAD_HEADER_SIZE })),
  fc
    .array(fc.record({ bytes: fc.integer({ min: PAYLOAD_HEADER_SIZE, max: 5000 }), weight: fc.integer({ min: 1, max: 10 }) }), { minLength: 1, maxLength: 5 })
    .map((choices): SizeSpec => ({ kind: 'weighted', choices })),
)

describe('Prng', () => {
  it('reproduces its sequence from a seed, and different seeds give different sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (a, b) => {
        const x = new Prng(a)
        const y = new Prng(a)
        const seqX = Array.from({ length: 64 }, () => x.u32())
        expect(Array.from({ length: 64 }, () => y.u32())).toEqual(seqX)
        if (a !== b) {
          const z = new Prng(b)
          expect(Array.from({ length: 64 }, () => z.u32())).not.toEqual(seqX)
        }
      }),
      { seed },
    )
  })

  it('gives floats in [0, 1) with a uniform mean and ints below n', () => {
    const r = new Prng(7)
    let sum = 0
    let bad = 0
    for (let i = 0; i < 100_000; i++) {
      const f = r.float()
      if (!(f >= 0 && f < 1)) bad++
      sum += f
      const k = r.int(13)
      if (!(Number.isInteger(k) && k >= 0 && k < 13)) bad++
    }
    expect(bad).toBe(0)
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01)
  })

  it('derives distinct, stable sub-seeds', () => {
    expect(deriveSeed(1, 'p0', 'keys')).toBe(deriveSeed(1, 'p0', 'keys'))
    expect(deriveSeed(1, 'p0', 'keys')).not.toBe(deriveSeed(1, 'p0', 'sizes'))
    expect(deriveSeed(1, 'p0', 'keys')).not.toBe(deriveSeed(2, 'p0', 'keys'))
  })
})

describe('key generators', () => {
  it('reproduce their sequence from a seed and stay within [0, count)', () => {
    fc.assert(
      fc.property(keySpec, fc.integer({ min: 0, max: 2 ** 32 - 1 }), (spec, s) => {
        const a = keyGenerator(spec, s)
        const b = keyGenerator(spec, s)
        const seqA = Array.from({ length: 200 }, () => a.next())
        expect(Array.from({ length: 200 }, () => b.next())).toEqual(seqA)
        for (const k of seqA) {
          if (spec.kind === 'none') expect(k).toBeNull()
          else expect(k !== null && Number.isInteger(k) && k >= 0 && k < spec.count).toBe(true)
        }
      }),
      { seed },
    )
  })

  it('round robin cycles through every key in order', () => {
    const g = keyGenerator({ kind: 'round-robin', count: 3 }, 0)
    expect(Array.from({ length: 7 }, () => g.next())).toEqual([0, 1, 2, 0, 1, 2, 0])
  })

  it('zipf frequencies follow the law within tolerance', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 200 }), fc.double({ min: 0.3, max: 2.5, noNaN: true }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n, s, zseed) => {
        const draws = 200_000
        const sampler = new ZipfSampler(n, s, new Prng(zseed))
        const counts = new Float64Array(n)
        for (let i = 0; i < draws; i++) counts[sampler.sample() - 1]!++
        const p = zipfProbabilities(n, s)
        // Total variation distance: its expectation for a correct sampler is at most sqrt(n / (2 pi draws)).
        let tv = 0
        for (let k = 0; k < n; k++) tv += Math.abs(counts[k]! / draws - p[k]!)
        tv /= 2
        expect(tv).toBeLessThan(Math.sqrt(n / (2 * Math.PI * draws)) + 0.01)
        // The head, where a wrong exponent shows most: within 6 standard deviations.
        const sd = Math.sqrt((p[0]! * (1 - p[0]!)) / draws)
        expect(Math.abs(counts[0]! / draws - p[0]!)).toBeLessThan(6 * sd + 1e-4)
      }),
      { seed, numRuns: 25 },
    )
  })

  it('zipf with a huge key space samples in constant memory and favours small ranks', () => {
    const z = new ZipfSampler(1e9, 1.1, new Prng(3))
    let small = 0
    for (let i = 0; i < 10_000; i++) {
      const k = z.sample()
      expect(k >= 1 && k <= 1e9).toBe(true)
      if (k <= 10) small++
    }
    // P(rank <= 10) for Zipf(1e9, 1.1) is about 0.26.
    expect(small / 10_000).toBeGreaterThan(0.2)
    expect(small / 10_000).toBeLessThan(0.33)
  })

  it('rejects bad parameters with a message naming them', () => {
    expect(() => keyGenerator({ kind: 'uniform', count: 0 }, 1)).toThrow(/key count/)
    expect(() => keyGenerator({ kind: 'zipf', count: 10, exponent: 0 }, 1)).toThrow(/exponent/)
  })
})

describe('size generators', () => {
  it('reproduce from a seed and stay within their declared bounds', () => {
    fc.assert(
      fc.property(sizeSpec, fc.integer({ min: 0, max: 2 ** 32 - 1 }), (spec, s) => {
        const a = sizeGenerator(spec, s)
        const b = sizeGenerator(spec, s)
        const seq = Array.from({ length: 200 }, () => a.next())
        expect(Array.from({ length: 200 }, () => b.next())).toEqual(seq)
        for (const x of seq) {
          expect(Number.isInteger(x)).toBe(true)
          expect(x).toBeGreaterThanOrEqual(a.min)
          expect(x).toBeLessThanOrEqual(a.max)
          expect(x).toBeGreaterThanOrEqual(PAYLOAD_HEADER_SIZE)
        }
      }),
      { seed },
    )
  })

  it('weighted sizes come out in proportion to their weights', () => {
    const g = sizeGenerator({ kind: 'weighted', choices: [{ bytes: 100, weight: 1 }, { bytes: 1000, weight: 3 }] }, 11)
    let big = 0
    for (let i = 0; i < 40_000; i++) if (g.next() === 1000) big++
    expect(Math.abs(big / 40_000 - 0.75)).toBeLessThan(0.015)
    expect(g.mean).toBe(775)
  })

  it('refuses sizes smaller than the payload header', () => {
    expect(() => sizeGenerator({ kind: 'fixed', bytes: PAYLOAD_HEADER_SIZE - 1 }, 1)).toThrow(/payload header/)
  })
})

describe('payload header', () => {
  it('round trips value id and intended time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true }), fc.integer({ min: 0, max: 64 }), (id, t, at) => {
        const buf = Buffer.alloc(at + PAYLOAD_HEADER_SIZE + 5)
        writePayloadHeader(buf, id, t, at)
        const h = readPayloadHeader(buf, at)
        expect(h).not.toBeNull()
        expect(h!.valueId).toBe(id)
        expect(Object.is(h!.intendedMs, t)).toBe(true)
      }),
      { seed },
    )
  })

  it('does not claim buffers it did not write', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        const buf = Buffer.from(bytes)
        fc.pre(!(buf.length >= 3 && buf[0] === 0xfa && buf[1] === 0x17 && buf[2] === 1))
        expect(readPayloadHeader(buf)).toBeNull()
      }),
      { seed },
    )
    expect(readPayloadHeader(null)).toBeNull()
  })
})

describe('PayloadPool', () => {
  it('makes payloads of the asked size carrying their header, with the asked share of random bytes', () => {
    const pool = new PayloadPool(1000, 5, { randomBytesRatio: 0.5, poolSize: 4 })
    const p = pool.make(600, 42, 1234.5)
    expect(p.length).toBe(600)
    expect(readPayloadHeader(p)).toEqual({ valueId: 42, intendedMs: 1234.5 })
    // Bytes past the random share are zero, so the payload compresses.
    const body = pool.make(1000, 1, 0).subarray(PAYLOAD_HEADER_SIZE)
    const zeros = body.filter((b) => b === 0).length
    expect(zeros).toBeGreaterThanOrEqual(490)
    expect(zeros).toBeLessThan(520)
  })

  it('is reproducible from its seed', () => {
    const a = new PayloadPool(100, 9, { poolSize: 3 })
    const b = new PayloadPool(100, 9, { poolSize: 3 })
    for (let i = 0; i < 10; i++) expect(a.make(100, i, i)).toEqual(b.make(100, i, i))
  })

  it('hands out dense value ids', () => {
    const ids = new ValueIds()
    expect([ids.next(), ids.next(), ids.next()]).toEqual([0, 1, 2])
    expect(ids.issued).toBe(3)
  })
})
