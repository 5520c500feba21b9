// Number formatting shared by the renderers and verdict reasons. Deterministic (no locale), so reports
// rendered on any machine are byte-identical.

const groupThousands = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const sign = n < 0 ? '-' : ''
  return sign + groupThousands(String(Math.round(Math.abs(n))))
}

export function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`
}

/** A number with up to `decimals` decimals, thousands grouped. */
export function formatNumber(n: number, decimals = 1): string {
  if (!Number.isFinite(n)) return String(n)
  const fixed = Math.abs(n).toFixed(decimals)
  const [int = '0', frac] = fixed.split('.')
  const trimmed = frac?.replace(/0+$/, '')
  return (n < 0 ? '-' : '') + groupThousands(int) + (trimmed ? `.${trimmed}` : '')
}

/** Microseconds as the most readable unit: 850 µs, 12.3 ms, 4.21 s, 2.5 min. */
export function formatUs(us: number | null): string {
  if (us === null) return '-'
  const a = Math.abs(us)
  if (a < 1000) return `${Math.round(us)} µs`
  if (a < 1_000_000) return `${(us / 1000).toFixed(a < 10_000 ? 2 : a < 100_000 ? 1 : 0)} ms`
  if (a < 60_000_000) return `${(us / 1_000_000).toFixed(2)} s`
  return `${(us / 60_000_000).toFixed(1)} min`
}

/** A time since run start, in seconds: 12.345 s. */
export function formatAt(us: number | null): string {
  return us === null ? '-' : `${(us / 1_000_000).toFixed(3)} s`
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`
}

export function formatRate(perSecond: number, unit = ''): string {
  return `${formatNumber(perSecond, perSecond < 100 ? 1 : 0)}${unit}/s`
}

const BARS = '▁▂▃▄▅▆▇█'

/** A one-line bar chart of a series, averaged down to at most `width` characters. */
export function sparkline(values: readonly number[], width = 60): string {
  if (values.length === 0) return ''
  const n = Math.min(width, values.length)
  const cells: number[] = []
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * values.length) / n)
    const to = Math.max(from + 1, Math.floor(((i + 1) * values.length) / n))
    let sum = 0
    for (let j = from; j < to; j++) sum += values[j] ?? 0
    cells.push(sum / (to - from))
  }
  const max = Math.max(...cells)
  if (max <= 0) return BARS[0]!.repeat(n)
  return cells.map((c) => (c <= 0 ? ' ' : BARS[Math.min(BARS.length - 1, Math.floor((c / max) * BARS.length))])).join('')
}
