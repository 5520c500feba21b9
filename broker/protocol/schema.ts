// A small declaration DSL for Kafka messages. A message is an ordered object of fields; each field has a
// type, the versions it exists in, the versions it may be null in, an optional default and, for flexible
// versions, an optional tag. From one declaration we derive, per version, an encoder and a decoder for
// both the classic encoding (int16/int32 lengths) and the flexible one (compact lengths + tagged fields),
// and the TypeScript types of the decoded value (`Out`) and of what the encoder accepts (`In`).
//
// The shape follows Kafka's own message JSON (`versions`, `nullableVersions`, `default`, `tag`,
// `taggedVersions`), so field lists can be transcribed from the protocol guide one to one.
//
// Rules (as Kafka's generated code behaves):
// - a field absent from a version decodes as its default and is skipped by the encoder;
// - `undefined` given to the encoder means the default;
// - tagged fields are written only when they differ from their default; unknown tags are skipped;
// - null in a version where the field is not nullable is an encoding error.

import { DecodeError, Reader } from './reader.ts'
import { Writer } from './writer.ts'

export type Kind =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records'
  | 'array'
  | 'struct'

export interface FieldOpts {
  /** Versions the field exists in: '3+', '0-2', '5', 'none'. Default: every version. */
  readonly versions?: string
  /** Versions in which null is a legal value. */
  readonly nullableVersions?: string
  readonly default?: unknown
  /** Tag number, for a field carried in the tagged-field section in `taggedVersions`. */
  readonly tag?: number
  readonly taggedVersions?: string
  /** Free text: what the field means. */
  readonly about?: string
}

export interface Field<O = unknown, I = O> {
  readonly kind: Kind
  readonly opts: FieldOpts
  /** Element type, for arrays. */
  readonly element?: AnyField
  /** Member fields, for structs. */
  readonly fields?: Fields
  /** Phantom members that carry the decoded and encodable types; never set. */
  readonly _out?: O
  readonly _in?: I
}

// biome-ignore lint: any is how a heterogeneous field record is typed
export type AnyField = Field<any, any>
export type Fields = { readonly [name: string]: AnyField }

export type OutOf<T> = T extends Field<infer O, any> ? O : T extends Fields ? Out<T> : never
export type InOf<T> = T extends Field<any, infer I> ? I : T extends Fields ? In<T> : never
/** The decoded value of a struct: every field present (absent ones hold their defaults). */
export type Out<F extends Fields> = { -readonly [K in keyof F]: OutOf<F[K]> }
/** What the encoder accepts: every field optional, missing means default. */
export type In<F extends Fields> = { -readonly [K in keyof F]?: InOf<F[K]> }

type Nullable<O, T> = O extends { nullableVersions: string } ? T | null : T

function mk<O, I = O>(kind: Kind, opts: FieldOpts | undefined, extra?: { element?: AnyField; fields?: Fields }): Field<O, I> {
  return { kind, opts: opts ?? {}, ...extra }
}

function isField(x: AnyField | Fields): x is AnyField {
  return typeof (x as AnyField).kind === 'string' && typeof (x as AnyField).opts === 'object'
}

export const f = {
  bool: (o?: FieldOpts) => mk<boolean>('bool', o),
  int8: (o?: FieldOpts) => mk<number>('int8', o),
  int16: (o?: FieldOpts) => mk<number>('int16', o),
  uint16: (o?: FieldOpts) => mk<number>('uint16', o),
  int32: (o?: FieldOpts) => mk<number>('int32', o),
  uint32: (o?: FieldOpts) => mk<number>('uint32', o),
  /** int64 carried as a number (exact within ±2^53). */
  int64: (o?: FieldOpts) => mk<number>('int64', o),
  float64: (o?: FieldOpts) => mk<number>('float64', o),
  /** A UUID as 32 lowercase hex digits. */
  uuid: (o?: FieldOpts) => mk<string>('uuid', o),
  string: <const O extends FieldOpts = {}>(o?: O) => mk<Nullable<O, string>>('string', o),
  bytes: <const O extends FieldOpts = {}>(o?: O) => mk<Nullable<O, Buffer>>('bytes', o),
  /** A record-batch blob: decoded as a view into the frame, encoded from one buffer or a list (zero copy). */
  records: (o?: FieldOpts) => mk<Buffer | null, Buffer | readonly Buffer[] | null>('records', o),
  array: <E extends AnyField | Fields, const O extends FieldOpts = {}>(element: E, o?: O) =>
    mk<Nullable<O, OutOf<E>[]>, Nullable<O, InOf<E>[]>>('array', o, {
      element: isField(element) ? element : mk('struct', {}, { fields: element }),
    }),
  struct: <F extends Fields, const O extends FieldOpts = {}>(fields: F, o?: O) =>
    mk<Nullable<O, Out<F>>, Nullable<O, In<F>>>('struct', o, { fields }),
}

// ---- version ranges ----

export interface Range {
  readonly min: number
  readonly max: number
}
const NONE: Range = { min: 1, max: 0 }
const ALL: Range = { min: 0, max: Number.POSITIVE_INFINITY }
const rangeCache = new Map<string, Range>()

export function parseRange(s: string | undefined): Range {
  if (s === undefined) return ALL
  const hit = rangeCache.get(s)
  if (hit) return hit
  let r: Range
  let m: RegExpExecArray | null
  if (s === 'none') r = NONE
  else if ((m = /^(\d+)\+$/.exec(s))) r = { min: Number(m[1]), max: Number.POSITIVE_INFINITY }
  else if ((m = /^(\d+)-(\d+)$/.exec(s))) r = { min: Number(m[1]), max: Number(m[2]) }
  else if ((m = /^(\d+)$/.exec(s))) r = { min: Number(m[1]), max: Number(m[1]) }
  else throw new TypeError(`bad version range ${JSON.stringify(s)}: use '3+', '0-2', '5' or 'none'`)
  rangeCache.set(s, r)
  return r
}

export function inRange(s: string | undefined, v: number): boolean {
  const r = parseRange(s)
  return v >= r.min && v <= r.max
}

export const presentIn = (field: AnyField, v: number): boolean => inRange(field.opts.versions, v)
export const nullableIn = (field: AnyField, v: number): boolean =>
  field.opts.nullableVersions !== undefined && inRange(field.opts.nullableVersions, v)
export const taggedIn = (field: AnyField, v: number, flexible: boolean): boolean =>
  flexible && field.opts.tag !== undefined && inRange(field.opts.taggedVersions ?? field.opts.versions, v)

/** The value a field takes when absent or not given. */
export function defaultOf(field: AnyField): unknown {
  if ('default' in field.opts) return field.opts.default
  switch (field.kind) {
    case 'bool':
      return false
    case 'uuid':
      return ZERO_UUID
    case 'string':
      return ''
    case 'bytes':
      return EMPTY
    case 'records':
      return null
    case 'array':
      return []
    case 'struct': {
      const o: Record<string, unknown> = {}
      for (const [k, sub] of Object.entries(field.fields!)) o[k] = defaultOf(sub)
      return o
    }
    default:
      return 0
  }
}

export const ZERO_UUID = '0'.repeat(32)
const EMPTY = Buffer.alloc(0)

// ---- codecs ----

export interface Codec {
  enc(w: Writer, v: unknown): void
  dec(r: Reader): unknown
}

export class EncodeError extends Error {
  readonly code = 'ERR_KAFKA_ENCODE'
  constructor(message: string) {
    super(message)
    this.name = 'EncodeError'
  }
}

/** Whether a value equals the field's default (deeply for structs): such tagged fields are not written. */
function isDefault(field: AnyField, v: unknown): boolean {
  if (v === undefined) return true
  if (field.kind === 'struct' && v !== null && !('default' in field.opts)) {
    const obj = v as Record<string, unknown>
    return Object.entries(field.fields!).every(([k, sub]) => isDefault(sub, obj[k]))
  }
  const d = defaultOf(field)
  if (v === d) return true
  if (Array.isArray(v) && Array.isArray(d)) return v.length === 0 && d.length === 0
  if (Buffer.isBuffer(v) && Buffer.isBuffer(d)) return v.equals(d)
  return false
}

function primitive(kind: Kind): Codec | undefined {
  switch (kind) {
    case 'bool':
      return { enc: (w, v) => w.bool(v as boolean), dec: (r) => r.bool() }
    case 'int8':
      return { enc: (w, v) => w.int8(v as number), dec: (r) => r.int8() }
    case 'int16':
      return { enc: (w, v) => w.int16(v as number), dec: (r) => r.int16() }
    case 'uint16':
      return { enc: (w, v) => w.uint16(v as number), dec: (r) => r.uint16() }
    case 'int32':
      return { enc: (w, v) => w.int32(v as number), dec: (r) => r.int32() }
    case 'uint32':
      return { enc: (w, v) => w.uint32(v as number), dec: (r) => r.uint32() }
    case 'int64':
      return { enc: (w, v) => w.int64(v as number), dec: (r) => r.int64() }
    case 'float64':
      return { enc: (w, v) => w.float64(v as number), dec: (r) => r.float64() }
    case 'uuid':
      return { enc: (w, v) => w.uuid(v as string), dec: (r) => r.uuid() }
    default:
      return undefined
  }
}

/** Compiles the codec of one field's value (not its presence) for one version. */
function compileValue(field: AnyField, path: string, v: number, flexible: boolean): Codec {
  const prim = primitive(field.kind)
  if (prim) return prim
  const nullable = nullableIn(field, v)
  const nullErr = () => new EncodeError(`${path} is null but not nullable in version ${v}`)
  const nullDecErr = () => new DecodeError(`${path} is null but not nullable in version ${v}`)
  switch (field.kind) {
    case 'string':
      return flexible
        ? {
            enc: (w, x) => {
              if (x === null && !nullable) throw nullErr()
              w.compactNullableString(x as string | null)
            },
            dec: (r) => {
              const s = r.compactNullableString()
              if (s === null && !nullable) throw nullDecErr()
              return s
            },
          }
        : {
            enc: (w, x) => {
              if (x === null && !nullable) throw nullErr()
              w.nullableString(x as string | null)
            },
            dec: (r) => {
              const s = r.nullableString()
              if (s === null && !nullable) throw nullDecErr()
              return s
            },
          }
    case 'bytes':
      return {
        enc: (w, x) => {
          if (x === null && !nullable) throw nullErr()
          if (flexible) w.compactNullableBytes(x as Buffer | null)
          else w.nullableBytes(x as Buffer | null)
        },
        dec: (r) => {
          const b = flexible ? r.compactNullableBytes() : r.nullableBytes()
          if (b === null && !nullable) throw nullDecErr()
          return b
        },
      }
    case 'records':
      // Records are always nullable on the wire; a list of buffers is written back to back.
      return {
        enc: (w, x) => {
          if (x === null || x === undefined) {
            if (flexible) w.uvarint(0)
            else w.int32(-1)
            return
          }
          const parts = Buffer.isBuffer(x) ? [x] : (x as readonly Buffer[])
          let len = 0
          for (const p of parts) len += p.length
          if (flexible) w.uvarint(len + 1)
          else w.int32(len)
          for (const p of parts) w.raw(p)
        },
        dec: (r) => (flexible ? r.compactNullableBytes() : r.nullableBytes()),
      }
    case 'array': {
      const el = compileValue(field.element!, `${path}[]`, v, flexible)
      return {
        enc: (w, x) => {
          if (x === null) {
            if (!nullable) throw nullErr()
            if (flexible) w.uvarint(0)
            else w.int32(-1)
            return
          }
          const arr = x as readonly unknown[]
          if (flexible) w.uvarint(arr.length + 1)
          else w.int32(arr.length)
          for (let i = 0; i < arr.length; i++) el.enc(w, arr[i])
        },
        dec: (r) => {
          const n = flexible ? r.compactArrayLength() : r.arrayLength()
          if (n < 0) {
            if (!nullable) throw nullDecErr()
            return null
          }
          const out = new Array<unknown>(n)
          for (let i = 0; i < n; i++) out[i] = el.dec(r)
          return out
        },
      }
    }
    case 'struct': {
      const s = compileStruct(field.fields!, path, v, flexible)
      if (!nullable) {
        // compileStruct reads a missing struct as all defaults; a null here must fail like any other.
        return {
          enc: (w, x) => {
            if (x === null) throw nullErr()
            s.enc(w, x)
          },
          dec: s.dec,
        }
      }
      // A nullable struct is preceded by an int8 presence marker (-1 null, 1 present).
      return {
        enc: (w, x) => {
          if (x === null) {
            w.int8(-1)
            return
          }
          w.int8(1)
          s.enc(w, x)
        },
        dec: (r) => (r.int8() < 0 ? null : s.dec(r)),
      }
    }
    default:
      throw new TypeError(`unknown field kind ${field.kind} at ${path}`)
  }
}

interface Member {
  name: string
  field: AnyField
  codec: Codec
  def: unknown
}

/** Compiles a struct (the fields of a message body, or a nested struct) for one version. */
export function compileStruct(fields: Fields, path: string, v: number, flexible: boolean): Codec {
  const inline: Member[] = []
  const tagged: (Member & { tag: number })[] = []
  const absent: { name: string; field: AnyField }[] = []
  for (const [name, field] of Object.entries(fields)) {
    const fpath = path ? `${path}.${name}` : name
    if (!presentIn(field, v)) {
      absent.push({ name, field })
      continue
    }
    const m = { name, field, codec: compileValue(field, fpath, v, flexible), def: defaultOf(field) }
    if (taggedIn(field, v, flexible)) tagged.push({ ...m, tag: field.opts.tag! })
    else inline.push(m)
  }
  tagged.sort((a, b) => a.tag - b.tag)
  const byTag = new Map(tagged.map((t) => [t.tag, t]))
  const order = Object.keys(fields)

  const enc = (w: Writer, value: unknown): void => {
    const obj = (value ?? {}) as Record<string, unknown>
    for (let i = 0; i < inline.length; i++) {
      const m = inline[i]!
      const x = obj[m.name]
      m.codec.enc(w, x === undefined ? m.def : x)
    }
    if (!flexible) return
    let count = 0
    for (const t of tagged) if (!isDefault(t.field, obj[t.name])) count++
    w.uvarint(count)
    for (const t of tagged) {
      const x = obj[t.name]
      if (isDefault(t.field, x)) continue
      const sub = new Writer(64)
      t.codec.enc(sub, x)
      const bytes = sub.toBuffer()
      w.uvarint(t.tag).uvarint(bytes.length).raw(bytes)
    }
  }

  const dec = (r: Reader): unknown => {
    const obj: Record<string, unknown> = {}
    // Keys in declaration order, so decoded objects have one shape per version.
    for (const k of order) obj[k] = undefined
    for (let i = 0; i < inline.length; i++) {
      const m = inline[i]!
      obj[m.name] = m.codec.dec(r)
    }
    for (const a of absent) obj[a.name] = cloneDefault(defaultOf(a.field))
    for (const t of tagged) obj[t.name] = cloneDefault(t.def)
    if (flexible) {
      const n = r.uvarint()
      let lastTag = -1
      for (let i = 0; i < n; i++) {
        const tag = r.uvarint()
        if (tag <= lastTag) throw new DecodeError(`${path || 'message'}: tagged fields out of order (${tag} after ${lastTag})`)
        lastTag = tag
        const size = r.uvarint()
        const t = byTag.get(tag)
        if (!t) {
          r.skip(size)
          continue
        }
        const sub = new Reader(r.buf, r.offset, r.offset + Math.min(size, r.remaining))
        if (sub.remaining < size) throw new DecodeError(`${path || 'message'}: tagged field ${tag} truncated`)
        obj[t.name] = t.codec.dec(sub)
        r.offset += size
      }
    }
    return obj
  }
  return { enc, dec }
}

function cloneDefault(d: unknown): unknown {
  if (Array.isArray(d)) return []
  if (d !== null && typeof d === 'object' && !Buffer.isBuffer(d)) {
    return Object.fromEntries(Object.entries(d).map(([k, x]) => [k, cloneDefault(x)]))
  }
  return d
}

// ---- messages and APIs ----

export interface MessageCodec<F extends Fields> {
  readonly name: string
  readonly fields: F
  encode(version: number, value: In<F>, w?: Writer): Writer
  decode(version: number, r: Reader): Out<F>
}

export interface ApiSpec<Req extends Fields, Res extends Fields> {
  readonly key: number
  readonly name: string
  /** Versions we implement and advertise, inclusive. */
  readonly minVersion: number
  readonly maxVersion: number
  /** First flexible version, or null when no declared version is flexible. */
  readonly flexibleFrom: number | null
  readonly request: Req
  readonly response: Res
}

export interface ApiDecl<Req extends Fields = Fields, Res extends Fields = Fields> {
  readonly key: number
  readonly name: string
  readonly minVersion: number
  readonly maxVersion: number
  readonly flexibleFrom: number | null
  isFlexible(version: number): boolean
  supports(version: number): boolean
  readonly request: MessageCodec<Req>
  readonly response: MessageCodec<Res>
}

export type RequestOf<A> = A extends ApiDecl<infer Req, Fields> ? Out<Req> : never
export type ResponseOf<A> = A extends ApiDecl<Fields, infer Res> ? In<Res> : never
export type ResponseOutOf<A> = A extends ApiDecl<Fields, infer Res> ? Out<Res> : never
export type RequestInOf<A> = A extends ApiDecl<infer Req, Fields> ? In<Req> : never

function messageCodec<F extends Fields>(name: string, fields: F, api: { supports(v: number): boolean; isFlexible(v: number): boolean }): MessageCodec<F> {
  const cache = new Map<number, Codec>()
  const get = (v: number): Codec => {
    let c = cache.get(v)
    if (!c) {
      if (!api.supports(v)) throw new EncodeError(`${name} has no version ${v}`)
      c = compileStruct(fields, '', v, api.isFlexible(v))
      cache.set(v, c)
    }
    return c
  }
  return {
    name,
    fields,
    encode(version, value, w = new Writer()) {
      get(version).enc(w, value)
      return w
    },
    decode(version, r) {
      if (!api.supports(version)) throw new DecodeError(`${name} version ${version} is not supported`)
      return get(version).dec(r) as Out<F>
    },
  }
}

/** Declares one API: its key, the version range we implement, where flexible versions start, and both bodies. */
export function api<Req extends Fields, Res extends Fields>(spec: ApiSpec<Req, Res>): ApiDecl<Req, Res> {
  const base = {
    key: spec.key,
    name: spec.name,
    minVersion: spec.minVersion,
    maxVersion: spec.maxVersion,
    flexibleFrom: spec.flexibleFrom,
    isFlexible: (v: number) => spec.flexibleFrom !== null && v >= spec.flexibleFrom,
    supports: (v: number) => Number.isInteger(v) && v >= spec.minVersion && v <= spec.maxVersion,
  }
  return {
    ...base,
    request: messageCodec(`${spec.name}Request`, spec.request, base),
    response: messageCodec(`${spec.name}Response`, spec.response, base),
  }
}
