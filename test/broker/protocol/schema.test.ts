import { describe, expect, it } from 'vitest'
import { DecodeError, Reader } from '../../../broker/protocol/reader.ts'
import { api, compileStruct, defaultOf, EncodeError, f, type Fields, inRange, parseRange, ZERO_UUID } from '../../../broker/protocol/schema.ts'
import { Writer } from '../../../broker/protocol/writer.ts'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const enc = (fields: Fields, v: number, flexible: boolean, value: unknown) => {
  const w = new Writer()
  compileStruct(fields, '', v, flexible).enc(w, value)
  return w.toBuffer().toString('hex')
}
const dec = (fields: Fields, v: number, flexible: boolean, bytes: string) => {
  const r = new Reader(hex(bytes))
  const out = compileStruct(fields, '', v, flexible).dec(r)
  expect(r.remaining, 'bytes left after decoding').toBe(0)
  return out
}

describe('version ranges', () => {
  it('parses the forms Kafka uses', () => {
    expect(parseRange('3+')).toEqual({ min: 3, max: Number.POSITIVE_INFINITY })
    expect(parseRange('0-2')).toEqual({ min: 0, max: 2 })
    expect(parseRange('5')).toEqual({ min: 5, max: 5 })
    expect(inRange('none', 0)).toBe(false)
    expect(inRange(undefined, 7)).toBe(true)
    expect(inRange('2-4', 5)).toBe(false)
    expect(() => parseRange('v3')).toThrow(TypeError)
  })
})

describe('classic and flexible encodings', () => {
  const fields = {
    name: f.string(),
    note: f.string({ nullableVersions: '0+', default: null }),
    data: f.bytes({ nullableVersions: '0+' }),
    ids: f.array(f.int32(), { nullableVersions: '0+' }),
    id: f.uuid(),
  }

  it('classic: int16 string lengths, int32 bytes and array lengths, -1 for null', () => {
    const value = { name: 'ab', note: null, data: null, ids: [7], id: ZERO_UUID }
    expect(enc(fields, 0, false, value)).toBe(`0002 6162 ffff ffffffff 00000001 00000007 ${ZERO_UUID}`.replace(/ /g, ''))
    expect(dec(fields, 0, false, `0002 6162 ffff ffffffff 00000001 00000007 ${ZERO_UUID}`)).toEqual({ ...value, data: null })
  })

  it('flexible: compact lengths (n+1, 0 for null) and a tag section at the end', () => {
    const value = { name: 'ab', note: null, data: Buffer.from([9]), ids: null, id: ZERO_UUID }
    expect(enc(fields, 0, true, value)).toBe(`03 6162 00 02 09 00 ${ZERO_UUID} 00`.replace(/ /g, ''))
    const back = dec(fields, 0, true, `03 6162 00 02 09 00 ${ZERO_UUID} 00`) as Record<string, unknown>
    expect(back.ids).toBeNull()
    expect([...(back.data as Buffer)]).toEqual([9])
  })

  it('a null where the version does not allow one is an EncodeError, and a DecodeError on the way in', () => {
    const strict = { name: f.string({ nullableVersions: '2+' }) }
    expect(() => enc(strict, 1, false, { name: null })).toThrow(EncodeError)
    expect(() => enc(strict, 1, true, { name: null })).toThrow(EncodeError)
    expect(enc(strict, 2, false, { name: null })).toBe('ffff')
    expect(() => dec(strict, 1, false, 'ffff')).toThrow(DecodeError)
    expect(() => dec(strict, 1, true, '00 00')).toThrow(DecodeError)
    const arr = { xs: f.array(f.int8()) }
    expect(() => enc(arr, 0, false, { xs: null })).toThrow(EncodeError)
    expect(() => dec(arr, 0, false, 'ffffffff')).toThrow(DecodeError)
  })

  it('records are nullable in every version and may be given as a list of buffers', () => {
    const recs = { records: f.records() }
    expect(enc(recs, 0, false, { records: null })).toBe('ffffffff')
    expect(enc(recs, 0, true, { records: null })).toBe('0000')
    expect(enc(recs, 0, false, { records: [Buffer.from([1]), Buffer.from([2, 3])] })).toBe('00000003010203')
    expect(enc(recs, 0, true, { records: [Buffer.from([1]), Buffer.from([2, 3])] })).toBe('0401020300')
  })
})

describe('field presence and defaults', () => {
  const fields = {
    a: f.int32(),
    b: f.int16({ versions: '1+', default: -1 }),
    c: f.string({ versions: '0-1' }),
  }

  it('skips fields absent from a version and decodes them as their defaults', () => {
    expect(enc(fields, 0, false, { a: 1, b: 5, c: 'x' })).toBe('00000001 0001 78'.replace(/ /g, ''))
    expect(enc(fields, 2, false, { a: 1, b: 5, c: 'x' })).toBe('00000001 0005'.replace(/ /g, ''))
    expect(dec(fields, 0, false, '00000001 0001 78')).toEqual({ a: 1, b: -1, c: 'x' })
    expect(dec(fields, 2, false, '00000001 0005')).toEqual({ a: 1, b: 5, c: '' })
  })

  it('undefined given to the encoder means the default', () => {
    expect(enc(fields, 1, false, { a: 1 })).toBe('00000001 ffff 0000'.replace(/ /g, ''))
    expect(enc(fields, 1, false, undefined)).toBe('00000000 ffff 0000'.replace(/ /g, ''))
  })

  it('defaults of structs are built from their members', () => {
    const s = f.struct({ x: f.int32({ default: -1 }), y: f.array(f.int8()), z: f.bool() })
    expect(defaultOf(s)).toEqual({ x: -1, y: [], z: false })
    expect(defaultOf(f.records())).toBeNull()
  })

  it('decoded defaults are fresh objects, so callers may mutate them', () => {
    const s = { xs: f.array(f.int8(), { versions: '1+' }) }
    const one = dec(s, 0, false, '') as { xs: number[] }
    one.xs.push(1)
    expect(dec(s, 0, false, '')).toEqual({ xs: [] })
  })
})

describe('tagged fields', () => {
  const fields = {
    plain: f.int8(),
    later: f.int32({ tag: 5, taggedVersions: '0+', default: -1 }),
    early: f.string({ tag: 1, taggedVersions: '0+', nullableVersions: '0+', default: null }),
    epoch: f.struct({ e: f.int32({ default: -1 }) }, { tag: 2, taggedVersions: '0+' }),
  }

  it('are not written when they hold their defaults', () => {
    expect(enc(fields, 0, true, { plain: 1 })).toBe('0100')
    expect(enc(fields, 0, true, { plain: 1, later: -1, early: null, epoch: { e: -1 } })).toBe('0100')
  })

  it('are written in tag order, whatever the declaration order, each as tag, size, bytes', () => {
    // epoch is a struct: its value ends with its own (empty) tag section.
    expect(enc(fields, 0, true, { plain: 1, later: 7, early: 'a', epoch: { e: 3 } })).toBe('01 03 01 02 0261 02 05 0000000300 05 04 00000007'.replace(/ /g, ''))
    expect(dec(fields, 0, true, '01 03 01 02 0261 02 05 0000000300 05 04 00000007')).toEqual({ plain: 1, later: 7, early: 'a', epoch: { e: 3 } })
  })

  it('skips unknown tags', () => {
    expect(dec(fields, 0, true, '01 03 00 02 abcd 05 04 00000007 09 00')).toEqual({ plain: 1, later: 7, early: null, epoch: { e: -1 } })
  })

  it('rejects tags out of order or repeated', () => {
    expect(() => dec(fields, 0, true, '01 02 05 04 00000007 01 02 0261')).toThrow(/out of order/)
    expect(() => dec(fields, 0, true, '01 02 05 04 00000007 05 04 00000007')).toThrow(/out of order/)
  })

  it('rejects a tagged field whose size runs past the end, and a size larger than the data', () => {
    expect(() => dec(fields, 0, true, '01 01 05 04 0000')).toThrow(DecodeError)
    expect(() => dec(fields, 0, true, '01 01 05 09 00000007')).toThrow(DecodeError)
  })

  it('are plain fields in classic versions (tags only exist in flexible ones)', () => {
    const g = { t: f.int32({ tag: 0, taggedVersions: '3+', default: -1 }) }
    expect(enc(g, 2, false, { t: 9 })).toBe('00000009')
    expect(enc(g, 3, true, { t: 9 })).toBe('0100 0400000009'.replace(/ /g, ''))
  })
})

describe('structs', () => {
  it('a nullable struct carries an int8 marker: -1 null, 1 present', () => {
    const fields = { s: f.struct({ x: f.int16() }, { nullableVersions: '0+', default: null }) }
    expect(enc(fields, 0, false, { s: null })).toBe('ff')
    expect(enc(fields, 0, false, { s: { x: 2 } })).toBe('010002')
    expect(dec(fields, 0, false, 'ff')).toEqual({ s: null })
    expect(dec(fields, 0, false, '010002')).toEqual({ s: { x: 2 } })
    expect(enc(fields, 0, true, { s: { x: 2 } })).toBe('01000200 00'.replace(/ /g, ''))
  })

  it('a struct without nullableVersions has no marker, and refuses null', () => {
    const fields = { s: f.struct({ x: f.int16() }), xs: f.array({ y: f.int8() }) }
    expect(enc(fields, 0, false, { s: { x: 2 } })).toBe('0002 00000000'.replace(/ /g, ''))
    expect(() => enc(fields, 0, false, { s: null })).toThrow('s is null but not nullable in version 0')
    expect(() => enc(fields, 0, false, { xs: [null] })).toThrow(EncodeError)
    expect(enc(fields, 0, false, { s: undefined, xs: [{}] })).toBe('0000 00000001 00'.replace(/ /g, ''))
  })

  it('array elements that are structs end with their own tag section in flexible versions', () => {
    const fields = { xs: f.array({ a: f.int8() }) }
    expect(enc(fields, 0, true, { xs: [{ a: 1 }, { a: 2 }] })).toBe('03 0100 0200 00'.replace(/ /g, ''))
    expect(enc(fields, 0, false, { xs: [{ a: 1 }, { a: 2 }] })).toBe('00000002 01 02'.replace(/ /g, ''))
  })

  it('error messages name the path of the offending field', () => {
    const fields = { topics: f.array({ name: f.string() }) }
    expect(() => enc(fields, 0, false, { topics: [{ name: null }] })).toThrow('topics[].name is null but not nullable in version 0')
  })
})

describe('api declarations', () => {
  const Demo = api({
    key: 999,
    name: 'Demo',
    minVersion: 1,
    maxVersion: 4,
    flexibleFrom: 3,
    request: { a: f.string() },
    response: { b: f.int8() },
  })

  it('know their versions and where flexible versions begin', () => {
    expect([0, 1, 4, 5, 1.5].map((v) => Demo.supports(v))).toEqual([false, true, true, false, false])
    expect([1, 2, 3, 4].map((v) => Demo.isFlexible(v))).toEqual([false, false, true, true])
  })

  it('encode classic or compact by version', () => {
    expect(Demo.request.encode(2, { a: 'x' }).toBuffer().toString('hex')).toBe('000178')
    expect(Demo.request.encode(3, { a: 'x' }).toBuffer().toString('hex')).toBe('027800')
  })

  it('refuse versions outside the range: EncodeError out, DecodeError in', () => {
    expect(() => Demo.request.encode(5, { a: 'x' })).toThrow(EncodeError)
    expect(() => Demo.response.decode(0, new Reader(hex('01')))).toThrow(DecodeError)
  })

  it('an API with no flexible versions is never flexible', () => {
    const Old = api({ key: 998, name: 'Old', minVersion: 0, maxVersion: 2, flexibleFrom: null, request: {}, response: {} })
    expect(Old.isFlexible(2)).toBe(false)
    expect(Old.request.encode(2, {}).toBuffer().length).toBe(0)
  })
})
