import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  API_VERSIONS_KEY,
  readRequestHeader,
  readResponseHeader,
  responseHeaderIsFlexible,
  skipTaggedFields,
  writeRequestHeader,
  writeResponseHeader,
} from '../../../broker/protocol/header.ts'
import { DecodeError, Reader } from '../../../broker/protocol/reader.ts'
import { Writer } from '../../../broker/protocol/writer.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`header.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

describe('request header', () => {
  it('v1 is apiKey, apiVersion, correlationId and an int16-length clientId', () => {
    const w = new Writer()
    writeRequestHeader(w, { apiKey: 3, apiVersion: 8, correlationId: 42, clientId: 'ab' }, false)
    expect(w.toBuffer().toString('hex')).toBe('0003 0008 0000002a 0002 6162'.replace(/ /g, ''))
  })

  it('v2 adds a tag section but keeps the classic clientId', () => {
    const w = new Writer()
    writeRequestHeader(w, { apiKey: 3, apiVersion: 12, correlationId: 1, clientId: null }, true)
    expect(w.toBuffer().toString('hex')).toBe('0003 000c 00000001 ffff 00'.replace(/ /g, ''))
  })

  it('round-trips, leaving the reader at the body', () => {
    const header = fc.record({
      apiKey: fc.integer({ min: 0, max: 32767 }),
      apiVersion: fc.integer({ min: 0, max: 32767 }),
      correlationId: fc.integer(),
      clientId: fc.option(fc.string({ unit: 'binary', maxLength: 30 }), { nil: null }),
    })
    fc.assert(
      fc.property(header, fc.boolean(), (h, flexible) => {
        const w = new Writer()
        writeRequestHeader(w, h, flexible)
        w.int8(0x5a)
        const r = new Reader(w.toBuffer())
        expect(readRequestHeader(r)).toEqual(h)
        if (flexible) skipTaggedFields(r)
        expect(r.int8()).toBe(0x5a)
        expect(r.remaining).toBe(0)
      }),
      { seed },
    )
  })

  it('rejects a truncated header with DecodeError', () => {
    const w = new Writer()
    writeRequestHeader(w, { apiKey: 1, apiVersion: 12, correlationId: 7, clientId: 'client' }, true)
    const full = w.toBuffer()
    for (let cut = 0; cut < full.length - 1; cut++) {
      expect(() => readRequestHeader(new Reader(full.subarray(0, cut))), `cut at ${cut}`).toThrow(DecodeError)
    }
  })
})

describe('tagged fields in headers', () => {
  it('skips unknown tags of any size', () => {
    const r = new Reader(hex('02 00 03 aabbcc 07 00 ee'))
    skipTaggedFields(r)
    expect(r.int8()).toBe(-18)
  })

  it('rejects tags out of order and sizes past the end', () => {
    expect(() => skipTaggedFields(new Reader(hex('02 03 00 01 00')))).toThrow(/out of order/)
    expect(() => skipTaggedFields(new Reader(hex('01 00 05 aabb')))).toThrow(DecodeError)
  })
})

describe('response header', () => {
  it('v0 is the correlationId; v1 adds a tag section', () => {
    const w0 = new Writer()
    writeResponseHeader(w0, 9, false)
    expect(w0.toBuffer().toString('hex')).toBe('00000009')
    const w1 = new Writer()
    writeResponseHeader(w1, 9, true)
    expect(w1.toBuffer().toString('hex')).toBe('0000000900')
    expect(readResponseHeader(new Reader(hex('0000000900')), true)).toBe(9)
    expect(readResponseHeader(new Reader(hex('00000009')), false)).toBe(9)
  })

  it('is flexible for flexible bodies, except ApiVersions, which always answers with v0 (KIP-511)', () => {
    expect(responseHeaderIsFlexible(3, true)).toBe(true)
    expect(responseHeaderIsFlexible(3, false)).toBe(false)
    expect(responseHeaderIsFlexible(API_VERSIONS_KEY, true)).toBe(false)
    expect(API_VERSIONS_KEY).toBe(18)
  })
})
