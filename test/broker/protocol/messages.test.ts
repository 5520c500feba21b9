// Round-trip properties for every API declared in broker/protocol/messages/. The modules are discovered at
// test time, so a declaration added by anyone is covered without touching this file; every version the broker
// advertises (broker/apis' registry) lies in its declaration's range, so every advertised version is covered.
//
// For each declared version, request and response: a random valid value generated from the field
// descriptors encodes, decodes to the expected value (fields absent in the version, or not given, hold their
// defaults), and re-encodes to the same bytes. Malformed input (random bytes, mutations, truncations) may
// only ever raise DecodeError.

import { readdirSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import '../../../broker/apis/index.ts'
import { registrations } from '../../../broker/apis/registry.ts'
import { DecodeError, Reader } from '../../../broker/protocol/reader.ts'
import {
  type AnyField,
  type ApiDecl,
  defaultOf,
  type Fields,
  type MessageCodec,
  nullableIn,
  parseRange,
  presentIn,
} from '../../../broker/protocol/schema.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`messages.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const MESSAGES_DIR = new URL('../../../broker/protocol/messages/', import.meta.url)

function isApiDecl(x: unknown): x is ApiDecl {
  if (x === null || typeof x !== 'object') return false
  const a = x as Partial<ApiDecl>
  return (
    typeof a.key === 'number' &&
    typeof a.name === 'string' &&
    typeof a.minVersion === 'number' &&
    typeof a.maxVersion === 'number' &&
    typeof a.isFlexible === 'function' &&
    typeof a.request?.encode === 'function' &&
    typeof a.response?.decode === 'function'
  )
}

interface Found {
  file: string
  exportName: string
  decl: ApiDecl
}

const files = readdirSync(MESSAGES_DIR)
  .filter((f) => f.endsWith('.ts'))
  .sort()
const found: Found[] = []
for (const file of files) {
  const mod = (await import(new URL(file, MESSAGES_DIR).href)) as Record<string, unknown>
  for (const [exportName, value] of Object.entries(mod)) {
    if (isApiDecl(value)) found.push({ file, exportName, decl: value })
  }
}

const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()

// ---- value generation from field descriptors ----

/** A member left out of the encoder's input. */
const OMIT = Symbol('omit')
/** What to hand the encoder and what the decoder must return. */
interface Pair {
  input: unknown
  expected: unknown
}

const i64 = fc.oneof(
  fc.constantFrom(0, -1, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32, -(2 ** 32), 2 ** 31, -(2 ** 31) - 1),
  fc.maxSafeInteger(),
  fc.integer(),
)
const buf = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a))
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a).toString('hex'))
// Past 512 bytes the writer references a buffer instead of copying it; cover both paths. Large buffers
// come from a pattern, because fast-check shrinks a long byte array one byte at a time.
const largeBuf = fc
  .tuple(fc.integer({ min: 512, max: 1200 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 255 }))
  .map(([n, start, step]) => Buffer.from(Array.from({ length: n }, (_, i) => (start + i * step) & 0xff)))
const records = fc.oneof({ weight: 4, arbitrary: buf(64) }, { weight: 1, arbitrary: largeBuf })

function same<T>(a: fc.Arbitrary<T>): fc.Arbitrary<Pair> {
  return a.map((x) => ({ input: x, expected: x }))
}

function scalar(field: AnyField): fc.Arbitrary<unknown> {
  switch (field.kind) {
    case 'bool':
      return fc.boolean()
    case 'int8':
      return fc.integer({ min: -128, max: 127 })
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 })
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 })
    case 'int32':
      return fc.integer()
    case 'uint32':
      return fc.integer({ min: 0, max: 0xffffffff })
    case 'int64':
      return i64
    case 'float64':
      return fc.double()
    case 'uuid':
      return uuid
    case 'string':
      return fc.string({ unit: 'binary', maxLength: 12 })
    case 'bytes':
      return buf(24)
    case 'records':
      return records
    default:
      throw new TypeError(`no scalar generator for ${field.kind}`)
  }
}

/** A value for a field present in version v (absent sub-fields get junk or nothing, and expect defaults). */
function arbField(field: AnyField, v: number, depth: number): fc.Arbitrary<Pair> {
  let base: fc.Arbitrary<Pair>
  if (field.kind === 'array') {
    const el = arbField(field.element!, v, depth + 1)
    base = fc.array(el, { maxLength: depth < 2 ? 3 : 1 }).map((xs) => ({ input: xs.map((x) => x.input), expected: xs.map((x) => x.expected) }))
  } else if (field.kind === 'struct') {
    base = arbStruct(field.fields!, v, depth + 1)
  } else {
    base = same(scalar(field))
  }
  // Records are nullable on the wire in every version.
  const nullable = field.kind === 'records' || (nullableIn(field, v) && ['string', 'bytes', 'array', 'struct'].includes(field.kind))
  return nullable ? fc.oneof({ weight: 1, arbitrary: fc.constant({ input: null, expected: null }) }, { weight: 4, arbitrary: base }) : base
}

function arbStruct(fields: Fields, v: number, depth: number): fc.Arbitrary<Pair> {
  const members: Record<string, fc.Arbitrary<Pair | typeof OMIT>> = {}
  for (const [name, sub] of Object.entries(fields)) {
    if (presentIn(sub, v)) {
      // Leaving a present field out means its default.
      members[name] = fc.oneof({ weight: 1, arbitrary: fc.constant(OMIT) }, { weight: 6, arbitrary: arbField(sub, v, depth) })
    } else {
      // An absent field is ignored by the encoder whatever it holds, and decodes as its default.
      const junk = arbField(sub, v, depth).map((p) => ({ input: p.input, expected: defaultOf(sub) }))
      members[name] = fc.oneof(fc.constant(OMIT), junk)
    }
  }
  return fc.record(members).map((got) => {
    const input: Record<string, unknown> = {}
    const expected: Record<string, unknown> = {}
    for (const [name, sub] of Object.entries(fields)) {
      const p = got[name]!
      if (p === OMIT) {
        expected[name] = defaultOf(sub)
      } else {
        input[name] = p.input
        expected[name] = p.expected
      }
    }
    return { input, expected }
  })
}

/** Buffers (and views into a frame) compare by content. */
function norm(x: unknown): unknown {
  if (Buffer.isBuffer(x)) return { hex: x.toString('hex') }
  if (Array.isArray(x)) return x.map(norm)
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, norm(y)]))
  return x
}

/** Decodes and returns the value, or the DecodeError; any other exception fails the test. */
function tryDecode(codec: MessageCodec<Fields>, v: number, bytes: Buffer): { value: unknown; rest: number } | DecodeError {
  const r = new Reader(bytes)
  try {
    const value = codec.decode(v, r)
    return { value, rest: r.remaining }
  } catch (err) {
    if (err instanceof DecodeError) return err
    throw err
  }
}

// ---- the suite ----

describe('message declarations', () => {
  it('discovers the declarations of this task among the modules', () => {
    const names = new Set(found.map((x) => x.decl.name))
    for (const n of ['Produce', 'ApiVersions', 'Metadata', 'Fetch', 'ListOffsets', 'CreateTopics', 'DeleteTopics', 'DescribeConfigs']) {
      expect(names, `${n} should be declared in broker/protocol/messages`).toContain(n)
    }
  })

  it('follow the conventions: one export named after the API, in a file named after it, keys unique', () => {
    const byKey = new Map<number, string>()
    for (const { file, exportName, decl } of found) {
      expect(exportName, file).toBe(decl.name)
      expect(file).toBe(`${kebab(decl.name)}.ts`)
      expect(byKey.get(decl.key), `key ${decl.key} declared twice`).toBeUndefined()
      byKey.set(decl.key, decl.name)
      expect(decl.minVersion).toBeLessThanOrEqual(decl.maxVersion)
    }
  })

  it('cover every version the broker advertises', () => {
    const byKey = new Map(found.map((x) => [x.decl.key, x.decl]))
    for (const r of registrations()) {
      const decl = byKey.get(r.api.key)
      expect(decl, `${r.api.name} is advertised but not declared in broker/protocol/messages`).toBeDefined()
      expect(decl!.minVersion, `${r.api.name} advertises v${r.minVersion}`).toBeLessThanOrEqual(r.minVersion)
      expect(decl!.maxVersion, `${r.api.name} advertises v${r.maxVersion}`).toBeGreaterThanOrEqual(r.maxVersion)
    }
  })

  for (const { decl } of found) {
    it(`${decl.name}: tagged fields live only in flexible versions, tags are unique per struct, ranges parse`, () => {
      const check = (fields: Fields, path: string) => {
        const tags = new Map<number, string>()
        for (const [name, field] of Object.entries(fields)) {
          parseRange(field.opts.versions)
          parseRange(field.opts.nullableVersions)
          if (field.opts.tag !== undefined) {
            const prior = tags.get(field.opts.tag)
            expect(prior, `${path}${name} reuses tag ${field.opts.tag} of ${prior}`).toBeUndefined()
            tags.set(field.opts.tag, name)
            parseRange(field.opts.taggedVersions)
            for (let v = decl.minVersion; v <= decl.maxVersion; v++) {
              if (presentIn(field, v)) expect(decl.isFlexible(v), `${path}${name} is tagged but present in classic v${v}`).toBe(true)
            }
          }
          const inner = field.kind === 'array' ? field.element! : field
          if (inner.kind === 'struct') check(inner.fields!, `${path}${name}.`)
        }
      }
      check(decl.request.fields, 'request.')
      check(decl.response.fields, 'response.')
    })
  }
})

for (const { decl } of found) {
  describe(`${decl.name} (key ${decl.key}) v${decl.minVersion}-${decl.maxVersion}`, () => {
    for (let v = decl.minVersion; v <= decl.maxVersion; v++) {
      for (const side of ['request', 'response'] as const) {
        const codec = decl[side] as MessageCodec<Fields>
        const arb = arbStruct(codec.fields, v, 0)

        // Properties return booleans rather than calling expect: a failing expect builds a diff of the whole
        // message on every shrink step, which makes shrinking a large counterexample crawl.
        it(`${side} v${v}: encode -> decode gives the value, re-encoding gives the same bytes`, () => {
          fc.assert(
            fc.property(arb, ({ input, expected }) => {
              const bytes = codec.encode(v, input as never).toBuffer()
              const r = new Reader(bytes)
              const decoded = codec.decode(v, r)
              if (r.remaining !== 0) return false
              if (!isDeepStrictEqual(norm(decoded), norm(expected))) return false
              return codec.encode(v, decoded as never).toBuffer().equals(bytes)
            }),
            { seed, numRuns: 60 },
          )
        })

        it(`${side} v${v}: every truncation fails with DecodeError`, () => {
          fc.assert(
            fc.property(arb, ({ input }) => {
              const bytes = codec.encode(v, input as never).toBuffer()
              for (let cut = 0; cut < bytes.length; cut++) {
                if (!(tryDecode(codec, v, bytes.subarray(0, cut)) instanceof DecodeError)) return false
              }
              return true
            }),
            { seed, numRuns: 15 },
          )
        })

        it(`${side} v${v}: random and mutated bytes fail only with DecodeError`, () => {
          const mutated = fc
            .tuple(arb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
            .map(([p, edits]) => {
              const bytes = Buffer.from(codec.encode(v, p.input as never).toBuffer())
              for (const [at, b] of edits) if (bytes.length > 0) bytes[at % bytes.length] = b
              return bytes
            })
          const random = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))
          fc.assert(
            fc.property(fc.oneof(mutated, random), (bytes) => {
              const res = tryDecode(codec, v, bytes)
              return res instanceof DecodeError || res.rest >= 0
            }),
            { seed, numRuns: 100 },
          )
        })
      }
    }

    it('rejects versions outside the declared range with DecodeError', () => {
      for (const v of [decl.minVersion - 1, decl.maxVersion + 1]) {
        expect(() => decl.request.decode(v, new Reader(Buffer.alloc(64)))).toThrow(DecodeError)
        expect(() => decl.response.decode(v, new Reader(Buffer.alloc(64)))).toThrow(DecodeError)
      }
    })
  })
}
