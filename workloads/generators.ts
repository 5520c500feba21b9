// What each message looks like: keys, sizes and payloads, all from a seeded PRNG so that a seed reproduces a
// run's exact sequence (Math.random is never used).
//
// Every payload starts with a 20-byte header so that consumers compute end-to-end latency on one monotonic
// clock and the delivery checker identifies each value:
//   0 magic uint16 0xFA17 | 2 version uint8 (1) | 3 flags uint8 (0)
//   4 valueId uint64 (dense, unique in the run) | 12 intended send time float64 (monotonic ms)
// The bytes after the header come from a pool of pre-generated payloads (a fraction random, the rest zeros,
// as OMB's randomBytesRatio), so generation never becomes the bottleneck.

// ---- PRNG ----

/** xoshiro128** seeded through splitmix32: fast 32-bit operations only, period 2^128 - 1. */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    let s = seed >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    // An all-zero state would be a fixed point.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** A uniform uint32. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return r
  }

  /** A uniform double in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.u32() / 4294967296
  }

  /** A uniform integer in [0, n), n <= 2^32. */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** A standard normal variate (Box-Muller; the second variate is discarded to keep the state simple). */
  normal(): number {
    let u = 0
    while (u === 0) u = this.float()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float())
  }

  fill(buf: Buffer, start = 0, end = buf.length): void {
    let i = start
    for (; i + 4 <= end; i += 4) buf.writeUInt32LE(this.u32(), i)
    if (i < end) {
      const last = this.u32()
      for (let k = 0; i < end; i++, k++) buf[i] = (last >>> (8 * k)) & 0xff
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** Derives an independent seed for a sub-stream (producer 3's keys, say) from the run's seed. */
export function deriveSeed(seed: number, ...path: (string | number)[]): number {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (const part of path) {
    const s = String(part)
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
    h = Math.imul(h ^ 0x2f, 0x01000193)
  }
  return h >>> 0
}

// ---- keys ----

export type KeySpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'round-robin'; readonly count: number }
  | { readonly kind: 'uniform'; readonly count: number }
  | { readonly kind: 'zipf'; readonly count: number; readonly exponent: number }

/** Picks key indexes in [0, count); `null` means the message has no key. */
export interface KeyGenerator {
  readonly spec: KeySpec
  next(): number | null
}

export function keyGenerator(spec: KeySpec, seed: number): KeyGenerator {
  switch (spec.kind) {
    case 'none':
      return { spec, next: () => null }
    case 'round-robin': {
      checkCount(spec.count)
      let i = 0
      return {
        spec,
        next: () => {
          const k = i
          i = i + 1 === spec.count ? 0 : i + 1
          return k
        },
      }
    }
    case 'uniform': {
      checkCount(spec.count)
      const rng = new Prng(seed)
      return { spec, next: () => rng.int(spec.count) }
    }
    case 'zipf': {
      const z = new ZipfSampler(spec.count, spec.exponent, new Prng(seed))
      return { spec, next: () => z.sample() - 1 }
    }
  }
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`key count must be an integer in 1..2^32, got ${n}`)
}

const keyCache = new Map<number, Buffer>()
const KEY_CACHE_MAX = 1 << 16

/** The key bytes of key index k: its decimal digits (short, readable in kcat output, stable across runs). */
export function keyBytes(k: number): Buffer {
  if (k < KEY_CACHE_MAX) {
    let b = keyCache.get(k)
    if (!b) {
      b = Buffer.from(String(k))
      keyCache.set(k, b)
    }
    return b
  }
  return Buffer.from(String(k))
}

/**
 * Zipf over ranks 1..n with P(k) proportional to 1/k^s, by rejection-inversion (W. Hörmann and G. Derflinger,
 * "Rejection-inversion to generate variates from monotone discrete distributions", 1996): O(1) time and
 * memory per sample for any n and any s > 0, including s = 1.
 */
export class ZipfSampler {
  private readonly n: number
  private readonly s: number
  private readonly rng: Prng
  private readonly hX1: number
  private readonly hN: number
  private readonly sDiv: number

  constructor(n: number, exponent: number, rng: Prng) {
    checkCount(n)
    if (!(exponent > 0) || !Number.isFinite(exponent)) throw new RangeError(`zipf exponent must be a positive number, got ${exponent}`)
    this.n = n
    this.s = exponent
    this.rng = rng
    this.hX1 = this.hIntegral(1.5) - 1
    this.hN = this.hIntegral(n + 0.5)
    this.sDiv = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2))
  }

  /** A rank in 1..n. */
  sample(): number {
    for (;;) {
      const u = this.hN + this.rng.float() * (this.hX1 - this.hN)
      const x = this.hIntegralInverse(u)
      let k = Math.floor(x + 0.5)
      if (k < 1) k = 1
      else if (k > this.n) k = this.n
      if (k - x <= this.sDiv || u >= this.hIntegral(k + 0.5) - this.h(k)) return k
    }
  }

  private h(x: number): number {
    return Math.exp(-this.s * Math.log(x))
  }

  /** The integral of h from 1 to x: (x^(1-s) - 1) / (1 - s), or log x when s = 1, computed stably. */
  private hIntegral(x: number): number {
    const logX = Math.log(x)
    return helper2((1 - this.s) * logX) * logX
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.s)
    if (t < -1) t = -1
    return Math.exp(helper1(t) * x)
  }
}

/** log(1 + x) / x, with its series near 0. */
function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x))
}

/** (exp(x) - 1) / x, with its series near 0. */
function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x))
}

/** P(rank k) of Zipf(n, s), for tests and reports. */
export function zipfProbabilities(n: number, s: number): Float64Array {
  const p = new Float64Array(n)
  let sum = 0
  for (let k = 1; k <= n; k++) {
    p[k - 1] = 1 / k ** s
    sum += p[k - 1]!
  }
  for (let i = 0; i < n; i++) p[i]! /= sum
  return p
}

// ---- sizes ----

export type SizeSpec =
  | { readonly kind: 'fixed'; readonly bytes: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly stddev: number; readonly min?: number; readonly max?: number }
  | { readonly kind: 'weighted'; readonly choices: readonly { readonly bytes: number; readonly weight: number }[] }

export interface SizeGenerator {
  readonly spec: SizeSpec
  /** Smallest and largest size this generator can return. */
  readonly min: number
  readonly max: number
  /** Expected size, for converting byte rates to message rates. */
  readonly mean: number
  next(): number
}

/** Smallest, largest and expected size of a spec, without checking it (sizeGenerator does). */
export function sizeBounds(spec: SizeSpec): { readonly min: number; readonly max: number; readonly mean: number } {
  switch (spec.kind) {
    case 'fixed':
      return { min: spec.bytes, max: spec.bytes, mean: spec.bytes }
    case 'uniform':
      return { min: spec.min, max: spec.max, mean: (spec.min + spec.max) / 2 }
    case 'normal': {
      const min = spec.min ?? PAYLOAD_HEADER_SIZE
      const max = spec.max ?? Math.ceil(spec.mean + 6 * spec.stddev)
      return { min, max, mean: Math.min(max, Math.max(min, spec.mean)) }
    }
    case 'weighted': {
      const total = spec.choices.reduce((n, c) => n + c.weight, 0)
      const sizes = spec.choices.map((c) => c.bytes)
      return { min: Math.min(...sizes), max: Math.max(...sizes), mean: spec.choices.reduce((n, c) => n + (c.weight / total) * c.bytes, 0) }
    }
  }
}

export function sizeGenerator(spec: SizeSpec, seed: number): SizeGenerator {
  const rng = new Prng(seed)
  const checkSize = (n: number, what: string): void => {
    if (!Number.isInteger(n) || n < PAYLOAD_HEADER_SIZE) {
      throw new RangeError(`${what} must be an integer of at least ${PAYLOAD_HEADER_SIZE} bytes (the payload header), got ${n}`)
    }
  }
  const bounds = sizeBounds(spec)
  switch (spec.kind) {
    case 'fixed':
      checkSize(spec.bytes, 'message size')
      return { spec, ...bounds, next: () => spec.bytes }
    case 'uniform': {
      checkSize(spec.min, 'minimum message size')
      checkSize(spec.max, 'maximum message size')
      if (spec.max < spec.min) throw new RangeError(`maximum message size ${spec.max} is below the minimum ${spec.min}`)
      const span = spec.max - spec.min + 1
      return { spec, ...bounds, next: () => spec.min + rng.int(span) }
    }
    case 'normal': {
      const { min: lo, max: hi } = bounds
      checkSize(lo, 'minimum message size')
      checkSize(hi, 'maximum message size')
      if (!(spec.stddev >= 0)) throw new RangeError(`stddev must be >= 0, got ${spec.stddev}`)
      if (hi < lo) throw new RangeError(`maximum message size ${hi} is below the minimum ${lo}`)
      return { spec, ...bounds, next: () => Math.min(hi, Math.max(lo, Math.round(spec.mean + spec.stddev * rng.normal()))) }
    }
    case 'weighted': {
      if (spec.choices.length === 0) throw new RangeError('a weighted size list needs at least one entry')
      let total = 0
      for (const c of spec.choices) {
        checkSize(c.bytes, 'message size')
        if (!(c.weight > 0) || !Number.isFinite(c.weight)) throw new RangeError(`weights must be positive numbers, got ${c.weight}`)
        total += c.weight
      }
      const cumulative = new Float64Array(spec.choices.length)
      let acc = 0
      spec.choices.forEach((c, i) => {
        acc += c.weight / total
        cumulative[i] = acc
      })
      cumulative[cumulative.length - 1] = 1
      const sizes = spec.choices.map((c) => c.bytes)
      return {
        spec,
        ...bounds,
        next: () => {
          const u = rng.float()
          let i = 0
          while (cumulative[i]! <= u) i++
          return sizes[i]!
        },
      }
    }
  }
}

// ---- payload header ----

export const PAYLOAD_HEADER_SIZE = 20
export const PAYLOAD_MAGIC = 0xfa17
const PAYLOAD_VERSION = 1
const TWO_32 = 4294967296

export interface PayloadHeader {
  /** Dense integer, unique in the run. */
  readonly valueId: number
  /** Intended send time, monotonic milliseconds (see rate.ts: monotonicNow). */
  readonly intendedMs: number
}

export function writePayloadHeader(buf: Buffer, valueId: number, intendedMs: number, at = 0): void {
  buf.writeUInt16BE(PAYLOAD_MAGIC, at)
  buf[at + 2] = PAYLOAD_VERSION
  buf[at + 3] = 0
  const hi = Math.floor(valueId / TWO_32)
  buf.writeUInt32BE(hi, at + 4)
  buf.writeUInt32BE(valueId - hi * TWO_32, at + 8)
  buf.writeDoubleBE(intendedMs, at + 12)
}

/** The header of a value we produced, or null for anything else (a foreign record, a truncated value). */
export function readPayloadHeader(buf: Buffer | null, at = 0): PayloadHeader | null {
  if (buf === null || buf.length - at < PAYLOAD_HEADER_SIZE) return null
  if (buf.readUInt16BE(at) !== PAYLOAD_MAGIC || buf[at + 2] !== PAYLOAD_VERSION) return null
  return { valueId: buf.readUInt32BE(at + 4) * TWO_32 + buf.readUInt32BE(at + 8), intendedMs: buf.readDoubleBE(at + 12) }
}

// ---- payloads ----

export interface PayloadOptions {
  /** Fraction of each payload's body that is random bytes; the rest is zeros (compressible). Default 1. */
  readonly randomBytesRatio?: number
  /** How many distinct bodies to pre-generate and rotate through. Default 1000. */
  readonly poolSize?: number
}

/** Pre-generated payload bodies; `make` copies one and stamps the header, so each message costs one memcpy. */
export class PayloadPool {
  private readonly bodies: Buffer[]
  private readonly rng: Prng
  readonly maxSize: number

  constructor(maxSize: number, seed: number, opts: PayloadOptions = {}) {
    const ratio = opts.randomBytesRatio ?? 1
    const poolSize = opts.poolSize ?? 1000
    if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`randomBytesRatio must be within 0..1, got ${ratio}`)
    if (!Number.isInteger(poolSize) || poolSize < 1) throw new RangeError(`payload pool size must be a positive integer, got ${poolSize}`)
    if (!Number.isInteger(maxSize) || maxSize < PAYLOAD_HEADER_SIZE) throw new RangeError(`payload size must be at least ${PAYLOAD_HEADER_SIZE}`)
    this.maxSize = maxSize
    this.rng = new Prng(seed)
    const randomBytes = Math.round((maxSize - PAYLOAD_HEADER_SIZE) * ratio)
    this.bodies = []
    for (let i = 0; i < poolSize; i++) {
      const b = Buffer.alloc(maxSize)
      this.rng.fill(b, PAYLOAD_HEADER_SIZE, PAYLOAD_HEADER_SIZE + randomBytes)
      this.bodies.push(b)
    }
  }

  /** A fresh payload of `size` bytes carrying the header. */
  make(size: number, valueId: number, intendedMs: number): Buffer {
    if (size > this.maxSize || size < PAYLOAD_HEADER_SIZE) throw new RangeError(`payload size ${size} is outside ${PAYLOAD_HEADER_SIZE}..${this.maxSize}`)
    const body = this.bodies[this.rng.int(this.bodies.length)]!
    const out = Buffer.allocUnsafe(size)
    body.copy(out, 0, 0, size)
    writePayloadHeader(out, valueId, intendedMs)
    return out
  }
}

/** Hands out value ids: dense and unique across every producer that shares one source. */
export class ValueIds {
  private nextId: number

  constructor(start = 0) {
    this.nextId = start
  }

  next(): number {
    return this.nextId++
  }

  /** How many ids were handed out (the next id, when starting at 0). */
  get issued(): number {
    return this.nextId
  }
}
