// Units: canonical text round-trips through parse and format; values round-trip through format and parse;
// junk is rejected with a message saying what is accepted; the JSON Schema patterns never reject what the
// parsers accept.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  EXPECTED,
  formatDuration,
  formatPercent,
  formatRate,
  formatSize,
  type ParseResult,
  parseDuration,
  parsePercent,
  parseRate,
  parseSize,
  PATTERNS,
} from '../../scenarios/units.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`units.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

function value<T>(r: ParseResult<T>): T {
  if (!r.ok) throw new Error(`expected a value, got: ${r.problem}; expected ${r.expected}`)
  return r.value
}

const US = { h: 3_600_000_000, m: 60_000_000, s: 1_000_000, ms: 1000, us: 1 } as const
const SIZE_UNITS = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 } as const

// Canonical durations: units largest first, each below the next larger unit except the first, no zeros.
const canonicalDuration = fc
  .record({
    h: fc.integer({ min: 0, max: 2000 }),
    m: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
    ms: fc.integer({ min: 0, max: 999 }),
    us: fc.integer({ min: 0, max: 999 }),
  })
  .map((parts) => ({
    text: (Object.keys(US) as (keyof typeof US)[]).map((u) => (parts[u] > 0 ? `${parts[u]}${u}` : '')).join('') || '0s',
    us: (Object.keys(US) as (keyof typeof US)[]).reduce((n, u) => n + parts[u] * US[u], 0),
  }))

describe('durations', () => {
  it('parses the documented forms', () => {
    expect(value(parseDuration('250ms'))).toBe(250)
    expect(value(parseDuration('30s'))).toBe(30_000)
    expect(value(parseDuration('5m'))).toBe(300_000)
    expect(value(parseDuration('1h'))).toBe(3_600_000)
    expect(value(parseDuration('1m30s'))).toBe(90_000)
    expect(value(parseDuration('90s'))).toBe(90_000)
    expect(value(parseDuration('1.5s'))).toBe(1500)
    expect(value(parseDuration('500us'))).toBe(0.5)
    expect(value(parseDuration('2µs'))).toBe(0.002)
    expect(value(parseDuration('0s'))).toBe(0)
  })

  it('format(parse(text)) is text for canonical text', () => {
    fc.assert(
      fc.property(canonicalDuration, ({ text, us }) => {
        const ms = value(parseDuration(text))
        expect(ms).toBe(us / 1000)
        expect(formatDuration(ms)).toBe(text)
      }),
      { seed },
    )
  })

  it('parse(format(ms)) is ms for every whole number of microseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (us) => {
        expect(value(parseDuration(formatDuration(us / 1000)))).toBe(us / 1000)
      }),
      { seed },
    )
  })

  it('decimals in the last part are exact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 999 }), (whole, milli) => {
        const text = `${whole}.${String(milli).padStart(3, '0')}s`
        expect(value(parseDuration(text))).toBe(whole * 1000 + milli)
      }),
      { seed },
    )
  })

  it.each([
    ['', 'is empty'],
    ['60', 'has no unit'],
    ['60 seconds', 'has spaces'],
    ['-5s', 'is negative'],
    ['+5s', 'has a sign'],
    ['5S', 'units are lower-case'],
    ['5MS', 'units are lower-case'],
    ['5min', 'write m instead'],
    ['5sec', 'write s instead'],
    ['1d', 'write hours instead'],
    ['10ns', 'finest unit is us'],
    ['1m90s', 'carry it over'],
    ['1h60m', 'carry it over'],
    ['30s1m', 'largest first'],
    ['1s1s', 'largest first'],
    ['1.5m30s', 'not the last part'],
    ['1m30', 'without a unit'],
    ['0.0000001s', 'finer than a microsecond'],
    ['.5s', 'is not a number'],
    ['abc', 'is not a duration'],
    ['5x', 'unknown unit'],
  ])('rejects %j (%s)', (text, why) => {
    const r = parseDuration(text)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.problem).toContain(why)
    expect(r.expected).toBe(EXPECTED.duration)
  })

  it('a canonical duration with one character changed is rejected or still means a duration', () => {
    // Mutations may land on another valid duration (1m -> 1s); whatever parses must match the pattern.
    fc.assert(
      fc.property(canonicalDuration, fc.nat(), fc.constantFrom(' ', '-', 'x', 'S', 'M', '/', '%', ','), ({ text }, at, ch) => {
        const i = at % (text.length + 1)
        const mutated = text.slice(0, i) + ch + text.slice(i)
        const r = parseDuration(mutated)
        if (ch === ' ' || ch === '-' || ch === 'x' || ch === '/' || ch === '%' || ch === ',') expect(r.ok).toBe(false)
        if (r.ok) expect(mutated).toMatch(new RegExp(PATTERNS.duration))
      }),
      { seed },
    )
  })

  it('the JSON Schema pattern accepts everything the parser accepts', () => {
    fc.assert(
      fc.property(fc.oneof(canonicalDuration.map((d) => d.text), fc.string({ unit: fc.constantFrom(...'0123456789.hmsuµ -'), maxLength: 12 })), (text) => {
        if (parseDuration(text).ok) expect(text).toMatch(new RegExp(PATTERNS.duration))
      }),
      { seed },
    )
  })
})

describe('sizes', () => {
  it('parses SI and IEC units', () => {
    expect(value(parseSize('100B'))).toBe(100)
    expect(value(parseSize('1KB'))).toBe(1000)
    expect(value(parseSize('1KiB'))).toBe(1024)
    expect(value(parseSize('1MiB'))).toBe(1024 ** 2)
    expect(value(parseSize('1GiB'))).toBe(1024 ** 3)
    expect(value(parseSize('1.5KiB'))).toBe(1536)
    expect(value(parseSize('0B'))).toBe(0)
  })

  it('parse(`${n}${unit}`) is n times the unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(...(Object.keys(SIZE_UNITS) as (keyof typeof SIZE_UNITS)[])), (n, unit) => {
        const text = `${n}${unit}`
        expect(value(parseSize(text))).toBe(n * SIZE_UNITS[unit])
        expect(text).toMatch(new RegExp(PATTERNS.size))
      }),
      { seed },
    )
  })

  it('parse(format(bytes)) is bytes, and format picks a unit that divides exactly', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 2 ** 20 }).map((n) => n * 1024), fc.integer({ min: 0, max: 1e6 }).map((n) => n * 1000)), (bytes) => {
        const text = formatSize(bytes)
        expect(value(parseSize(text))).toBe(bytes)
        expect(text).toMatch(/^\d+(?:B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/)
      }),
      { seed },
    )
  })

  it('format(parse(text)) is text for canonical text', () => {
    for (const text of ['0B', '1023B', '1KiB', '3KB', '1MiB', '1MB', '1000KiB', '5GiB', '2TB']) expect(formatSize(value(parseSize(text)))).toBe(text)
  })

  it.each([
    ['1024', 'has no unit'],
    ['1kb', 'case-sensitive'],
    ['1Mb', 'case-sensitive'],
    ['1k', 'write KB (powers of 1000) or KiB'],
    ['10 bytes', 'has spaces'],
    ['10bytes', 'write B'],
    ['-1KiB', 'is negative'],
    ['1.3KiB', 'not a whole number of bytes'],
    ['0.5B', 'not a whole number of bytes'],
    ['1XB', 'unknown unit'],
    ['KiB', 'is not a size'],
  ])('rejects %j (%s)', (text, why) => {
    const r = parseSize(text)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem).toContain(why)
  })
})

describe('rates', () => {
  it('parses message and byte rates per second, minute and hour', () => {
    expect(value(parseRate('5000/s'))).toEqual({ unit: 'messages', perSecond: 5000 })
    expect(value(parseRate('300/min'))).toEqual({ unit: 'messages', perSecond: 5 })
    expect(value(parseRate('3600/h'))).toEqual({ unit: 'messages', perSecond: 1 })
    expect(value(parseRate('0.5/s'))).toEqual({ unit: 'messages', perSecond: 0.5 })
    expect(value(parseRate('10MiB/s'))).toEqual({ unit: 'bytes', perSecond: 10 * 1024 ** 2 })
    expect(value(parseRate('60KB/min'))).toEqual({ unit: 'bytes', perSecond: 1000 })
  })

  it('parse(format(rate)) is rate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.constantFrom('s', 'min', 'h'), fc.constantFrom('', 'B', 'KiB', 'MB'), (n, per, size) => {
        const rate = value(parseRate(`${n}${size}/${per}`))
        expect(rate.unit).toBe(size === '' ? 'messages' : 'bytes')
        const text = formatRate(rate)
        expect(value(parseRate(text))).toEqual(rate)
        expect(text).toMatch(new RegExp(PATTERNS.rate))
      }),
      { seed },
    )
  })

  it('format(parse(text)) is text for canonical text', () => {
    for (const text of ['5000/s', '7/min', '1/h', '10MiB/s', '1KiB/min']) expect(formatRate(value(parseRate(text)))).toBe(text)
    expect(formatRate(value(parseRate('300/min')))).toBe('5/s')
  })

  it.each([
    ['5000', 'write 5000/s'],
    ['-5000/s', 'is negative'],
    ['0/s', 'is zero'],
    ['0KiB/s', 'is zero'],
    ['5k/s', 'write the count in full, like 5000/s'],
    ['5000/sec', 'write /s'],
    ['5000/m', 'write /min'],
    ['5000/S', 'lower-case'],
    ['5000/ms', 'per millisecond'],
    ['5000/day', 'unknown time unit'],
    ['10mib/s', 'case-sensitive'],
    ['5000 /s', 'has spaces'],
    ['max', 'is not a rate'],
    ['abc/s', 'is not a rate'],
  ])('rejects %j (%s)', (text, why) => {
    const r = parseRate(text)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem).toContain(why)
  })
})

describe('percentages', () => {
  it('parses into fractions', () => {
    expect(value(parsePercent('50%'))).toBe(0.5)
    expect(value(parsePercent('0%'))).toBe(0)
    expect(value(parsePercent('100%'))).toBe(1)
    expect(value(parsePercent('0.1%'))).toBe(0.001)
  })

  it('format(parse(text)) is text for canonical text, and parse(format(f)) is f', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (hundredths) => {
        const n = hundredths / 10_000
        const text = `${n}%`
        const f = value(parsePercent(text))
        expect(formatPercent(f)).toBe(text)
        expect(value(parsePercent(formatPercent(f)))).toBe(f)
        expect(text).toMatch(new RegExp(PATTERNS.percent))
      }),
      { seed },
    )
  })

  it.each([
    ['50', 'has no %'],
    ['0.5', 'or 50% if it is a fraction'],
    ['150%', 'above 100%'],
    ['-1%', 'is negative'],
    ['50 %', 'has spaces'],
    ['half', 'is not a percentage'],
  ])('rejects %j (%s)', (text, why) => {
    const r = parsePercent(text)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem).toContain(why)
  })
})

describe('junk', () => {
  it('no parser accepts text without a digit, and every rejection says what is accepted', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }).filter((s) => !/\d/.test(s)), (text) => {
        for (const parse of [parseDuration, parseSize, parseRate, parsePercent]) {
          const r = parse(text)
          expect(r.ok).toBe(false)
          if (!r.ok) {
            expect(r.problem.length).toBeGreaterThan(0)
            expect(r.expected).toMatch(/^a /)
          }
        }
      }),
      { seed },
    )
  })

  it('formatters refuse values no text stands for', () => {
    expect(() => formatDuration(-1)).toThrow(RangeError)
    expect(() => formatSize(1.5)).toThrow(RangeError)
    expect(() => formatRate({ unit: 'messages', perSecond: 0 })).toThrow(RangeError)
    expect(() => formatPercent(2)).toThrow(RangeError)
  })
})
