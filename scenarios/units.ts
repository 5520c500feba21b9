// Strict parsers for the quantities a scenario file writes as text: durations, sizes, rates, percentages.
//
// Every quantity carries its unit; a bare number is an error, because `duration: 60` could mean seconds or
// milliseconds and `messageSize: 1k` could mean 1000 or 1024. Failures say what was wrong and what is
// accepted, so the schema can quote them next to the file, line and path.
//
// Durations: one or more components in descending unit order, each unit at most once: `250ms`, `30s`,
// `1m30s`, `1h5m`, `1s500ms`. A component after the first stays below the next larger unit (`1m90s` is
// rejected: write `2m30s`). Only the last component may have decimals (`1.5s`), and the result must be a
// whole number of microseconds. Units: h, m, s, ms, us (µs is read as us). Values are milliseconds.
// Sizes: a number and one unit, SI (KB = 1000) or IEC (KiB = 1024): `100B`, `1KB`, `1KiB`, `1.5MiB`; the
// result must be whole bytes. Values are bytes.
// Rates: `5000/s`, `300/min`, `10/h` count messages; `10MiB/s` counts bytes. Values are per second.
// Percentages: `0%` to `100%`, decimals allowed (`0.1%`). Values are fractions (50% -> 0.5).

export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string; readonly expected: string }

export interface Rate {
  /** What is counted: records, or payload bytes. */
  readonly unit: 'messages' | 'bytes'
  readonly perSecond: number
}

export const EXPECTED = {
  duration: 'a duration like 250ms, 30s, 5m, 1h or 1m30s (units h, m, s, ms, us)',
  size: 'a size like 100B, 1KB (1000 bytes), 1KiB (1024 bytes), 10MiB or 1GiB',
  messageRate: 'a message rate like 5000/s, 300/min or 10/h',
  byteRate: 'a byte rate like 10MiB/s, 500KB/s or 1GiB/min',
  rate: 'a rate like 5000/s, 300/min (messages) or 10MiB/s (bytes)',
  percent: 'a percentage from 0% to 100%, like 50% or 0.1%',
} as const

// Looser than the parsers (no order or range rules); editors use them for a first hint only.
const NUM = '\\d+(?:\\.\\d+)?'
const SIZE_UNIT = '(?:B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)'
const PER = '/(?:s|min|h)'
export const PATTERNS = {
  duration: `^(?:${NUM}(?:h|m|s|ms|us|µs))+$`,
  size: `^${NUM}${SIZE_UNIT}$`,
  messageRate: `^${NUM}${PER}$`,
  byteRate: `^${NUM}${SIZE_UNIT}${PER}$`,
  rate: `^${NUM}${SIZE_UNIT}?${PER}$`,
  percent: `^${NUM}%$`,
} as const

const US_PER = { h: 3_600_000_000, m: 60_000_000, s: 1_000_000, ms: 1000, us: 1 } as const
type DurationUnit = keyof typeof US_PER
const DURATION_ORDER: readonly DurationUnit[] = ['h', 'm', 's', 'ms', 'us']
const UNIT_NAMES = { h: 'hour', m: 'minute', s: 'second', ms: 'millisecond', us: 'microsecond' } as const

const BYTES_PER = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
} as const
type SizeUnit = keyof typeof BYTES_PER
// Largest first; IEC before SI of the same magnitude so 1048576 prints as 1MiB, 1000000 as 1MB.
const SIZE_FORMAT_ORDER: readonly SizeUnit[] = ['TiB', 'TB', 'GiB', 'GB', 'MiB', 'MB', 'KiB', 'KB']

const SECONDS_PER = { s: 1, min: 60, h: 3600 } as const
type RateUnit = keyof typeof SECONDS_PER

const fail = <T>(problem: string, expected: string): ParseResult<T> => ({ ok: false, problem, expected })
const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value })

/**
 * `digits[.fraction]` times `scale`, exactly, or null when the product is not a whole number.
 * Decimal strings are split so `1.1s` is 1100000us, not 1100000.0000000002.
 */
function scaleExact(number: string, scale: number): number | null {
  const [whole = '', fraction = ''] = number.split('.')
  const wholePart = Number(whole) * scale
  if (fraction === '') return wholePart
  const denominator = 10 ** fraction.length
  const numerator = Number(fraction) * scale
  if (numerator % denominator !== 0) return null
  const value = wholePart + numerator / denominator
  return Number.isSafeInteger(value) ? value : null
}

function commonJunk(text: string, what: string, example: string): string | null {
  if (text === '') return 'is empty'
  if (/\s/.test(text)) return `has spaces; write it without, like ${example}`
  if (text.startsWith('-')) return `is negative; ${what} cannot be negative`
  if (text.startsWith('+')) return `has a sign; write it without, like ${example}`
  if (/^\d+(?:\.\d+)?$/.test(text)) return `has no unit; write it with one, like ${example}`
  if (/^\d*\.\d*$/.test(text) || /^\./.test(text)) return `is not a number; write it like ${example}`
  return null
}

const DURATION_HINTS: Readonly<Record<string, string>> = {
  sec: 's', secs: 's', second: 's', seconds: 's',
  min: 'm', mins: 'm', minute: 'm', minutes: 'm',
  hr: 'h', hrs: 'h', hour: 'h', hours: 'h',
  msec: 'ms', msecs: 'ms', millis: 'ms', millisecond: 'ms', milliseconds: 'ms',
  usec: 'us', micros: 'us', microsecond: 'us', microseconds: 'us', 'μs': 'us',
}

/** Parses a duration into milliseconds (fractions of a millisecond when microseconds are given). */
export function parseDuration(text: string): ParseResult<number> {
  const expected = EXPECTED.duration
  const junk = commonJunk(text, 'durations', '30s')
  if (junk !== null) return fail(junk, expected)
  const token = /(\d+(?:\.\d+)?)(ms|us|µs|h|m|s)/y
  let at = 0
  let totalUs = 0
  let previous = -1
  let last: { number: string; unit: DurationUnit } | null = null
  while (at < text.length) {
    token.lastIndex = at
    const m = token.exec(text)
    if (m === null) return fail(durationJunk(text), expected)
    const number = m[1]!
    const unit: DurationUnit = m[2] === 'µs' ? 'us' : (m[2] as DurationUnit)
    const rank = DURATION_ORDER.indexOf(unit)
    if (rank <= previous) {
      return fail(`has ${unit} after ${last!.unit}; write units largest first and each once, like 1m30s`, expected)
    }
    if (last !== null && last.number.includes('.')) {
      return fail(`has decimals in ${last.number}${last.unit}, which is not the last part; write 1m30s, not 1.5m0s`, expected)
    }
    if (previous >= 0) {
      const larger = DURATION_ORDER[rank - 1]!
      if (Number(number) * US_PER[unit] >= US_PER[larger]) {
        return fail(`has ${number}${unit}, which is a whole ${UNIT_NAMES[larger]} or more; carry it over, like 2m30s for 1m90s`, expected)
      }
    }
    const us = scaleExact(number, US_PER[unit])
    if (us === null) return fail('is finer than a microsecond (or too large)', expected)
    totalUs += us
    if (!Number.isSafeInteger(totalUs)) return fail('is too large', expected)
    previous = rank
    last = { number, unit }
    at = token.lastIndex
  }
  return ok(totalUs / 1000)
}

function durationJunk(text: string): string {
  if (/\d$/.test(text)) return 'ends in a number without a unit; give every part one, like 1m30s'
  const m = /^\d+(?:\.\d+)?([A-Za-zµμ]+)$/.exec(text)
  if (m !== null) {
    const unit = m[1]!
    const lower = unit.toLowerCase()
    if (lower in US_PER && unit !== lower) return `has the unit ${unit}; units are lower-case: h, m, s, ms, us`
    const hint = DURATION_HINTS[lower]
    if (hint !== undefined) return `has the unit ${unit}; write ${hint} instead`
    if (lower === 'd' || lower.startsWith('day')) return 'is in days; write hours instead, like 24h'
    if (lower === 'ns') return 'is in nanoseconds; the finest unit is us'
    return `has the unknown unit ${unit}`
  }
  return 'is not a duration'
}

/** Canonical text for a duration in milliseconds: no decimals, largest units first (`1m30s`, `1s500ms`). */
export function formatDuration(ms: number): string {
  let us = Math.round(ms * 1000)
  if (!Number.isSafeInteger(us) || us < 0) throw new RangeError(`formatDuration: ${ms} is not a duration in ms`)
  if (us === 0) return '0s'
  let out = ''
  for (const unit of DURATION_ORDER) {
    const n = Math.floor(us / US_PER[unit])
    if (n > 0) out += `${n}${unit}`
    us -= n * US_PER[unit]
  }
  return out
}

/** Parses a size into bytes. */
export function parseSize(text: string): ParseResult<number> {
  const expected = EXPECTED.size
  const junk = commonJunk(text, 'sizes', '1KiB')
  if (junk !== null) return fail(junk, expected)
  const m = /^(\d+(?:\.\d+)?)([A-Za-z]+)$/.exec(text)
  if (m === null) return fail('is not a size', expected)
  const number = m[1]!
  const unit = m[2]!
  if (!(unit in BYTES_PER)) return fail(sizeUnitHint(unit), expected)
  const bytes = scaleExact(number, BYTES_PER[unit as SizeUnit])
  if (bytes === null) return fail('is not a whole number of bytes (or too large)', expected)
  return ok(bytes)
}

function sizeUnitHint(unit: string): string {
  const known = Object.keys(BYTES_PER).find((u) => u.toLowerCase() === unit.toLowerCase())
  if (known !== undefined) return `has the unit ${unit}; units are case-sensitive (b would be bits): write ${known}`
  if (/^[kmgt]$/i.test(unit)) {
    const p = unit.toUpperCase()
    return `has the unit ${unit}; write ${p}B (powers of 1000) or ${p}iB (powers of 1024)`
  }
  if (/^bytes?$/i.test(unit)) return `has the unit ${unit}; write B`
  return `has the unknown unit ${unit}; units are B, KB, MB, GB, TB, KiB, MiB, GiB, TiB`
}

/** Canonical text for a whole number of bytes: the largest unit that divides it exactly (`1MiB`, `3KB`, `1023B`). */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`formatSize: ${bytes} is not a whole number of bytes`)
  for (const unit of SIZE_FORMAT_ORDER) {
    const per = BYTES_PER[unit]
    if (bytes >= per && bytes % per === 0) return `${bytes / per}${unit}`
  }
  return `${bytes}B`
}

/** Parses a rate: `N/s|min|h` counts messages, `<size>/s|min|h` counts bytes. Zero is not a rate. */
export function parseRate(text: string): ParseResult<Rate> {
  const expected = EXPECTED.rate
  if (text === '') return fail('is empty', expected)
  if (/\s/.test(text)) return fail('has spaces; write it without, like 5000/s', expected)
  if (text.startsWith('-')) return fail('is negative; rates cannot be negative', expected)
  const slash = text.lastIndexOf('/')
  if (slash < 0) {
    if (/^\d+(?:\.\d+)?$/.test(text)) return fail(`has no time unit; write ${text}/s`, expected)
    return fail('is not a rate', expected)
  }
  const amount = text.slice(0, slash)
  const per = text.slice(slash + 1)
  if (!(per in SECONDS_PER)) return fail(rateUnitHint(per), expected)
  const seconds = SECONDS_PER[per as RateUnit]
  if (/^\d+(?:\.\d+)?$/.test(amount)) {
    const n = Number(amount)
    if (n === 0) return fail('is zero; a rate must be above 0', expected)
    return ok({ unit: 'messages', perSecond: n / seconds })
  }
  if (/^\d+(?:\.\d+)?[kKmM]$/.test(amount)) {
    return fail(`has ${amount}; write the count in full, like ${Number(amount.slice(0, -1)) * (/k/i.test(amount.slice(-1)) ? 1e3 : 1e6)}/${per}`, expected)
  }
  if (!/^\d/.test(amount)) return fail('is not a rate', expected)
  const size = parseSize(amount)
  if (!size.ok) return fail(`has ${JSON.stringify(amount)}, which ${size.problem}`, expected)
  if (size.value === 0) return fail('is zero; a rate must be above 0', expected)
  return ok({ unit: 'bytes', perSecond: size.value / seconds })
}

function rateUnitHint(per: string): string {
  const lower = per.toLowerCase()
  if (lower in SECONDS_PER && per !== lower) return `has /${per}; units are lower-case: /s, /min, /h`
  if (['sec', 'secs', 'second', 'seconds'].includes(lower)) return `has /${per}; write /s`
  if (['m', 'mins', 'minute', 'minutes'].includes(lower)) return `has /${per}; write /min`
  if (['hr', 'hour', 'hours'].includes(lower)) return `has /${per}; write /h`
  if (lower === 'ms') return 'is per millisecond; write it per second (/s)'
  return `has the unknown time unit /${per}; write /s, /min or /h`
}

/** Canonical text for a rate: per second when whole, else per minute or hour when that is whole. */
export function formatRate(rate: Rate): string {
  const { perSecond } = rate
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`formatRate: ${perSecond} is not a rate`)
  for (const per of ['s', 'min', 'h'] as const) {
    const amount = perSecond * SECONDS_PER[per]
    const whole = Math.round(amount)
    // A few ulps of slack: 7/min is stored as 7/60, and 7/60 * 60 need not be exactly 7.
    if (whole > 0 && Math.abs(amount - whole) <= 4 * Number.EPSILON * whole) {
      return rate.unit === 'messages' ? `${whole}/${per}` : `${formatSize(whole)}/${per}`
    }
  }
  if (rate.unit === 'bytes') throw new RangeError(`formatRate: ${perSecond} bytes/s is not whole bytes per second, minute or hour`)
  return `${perSecond}/s`
}

/** Parses a percentage into a fraction (`50%` -> 0.5). */
export function parsePercent(text: string): ParseResult<number> {
  const expected = EXPECTED.percent
  if (text === '') return fail('is empty', expected)
  if (/\s/.test(text)) return fail('has spaces; write it without, like 50%', expected)
  if (text.startsWith('-')) return fail('is negative', expected)
  const m = /^(\d+(?:\.\d+)?)%$/.exec(text)
  if (m === null) {
    if (/^\d+(?:\.\d+)?$/.test(text)) {
      const asFraction = Number(text) <= 1 ? ` (or ${formatPercent(Number(text))} if it is a fraction)` : ''
      return fail(`has no %; write ${text}%${asFraction}`, expected)
    }
    return fail('is not a percentage', expected)
  }
  const n = Number(m[1])
  if (n > 100) return fail('is above 100%', expected)
  return ok(n / 100)
}

/** Canonical text for a fraction as a percentage (0.5 -> `50%`), without floating-point noise. */
export function formatPercent(fraction: number): string {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`formatPercent: ${fraction} is not a fraction from 0 to 1`)
  return `${Number((fraction * 100).toFixed(9))}%`
}
