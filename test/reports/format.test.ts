import { describe, expect, it } from 'vitest'
import { formatAt, formatBytes, formatCount, formatNumber, formatRate, formatUs, plural, sparkline } from '../../reports/format.ts'

describe('format', () => {
  it('picks a readable unit for microseconds', () => {
    expect(formatUs(null)).toBe('-')
    expect(formatUs(850)).toBe('850 µs')
    expect(formatUs(2_700)).toBe('2.70 ms')
    expect(formatUs(12_345)).toBe('12.3 ms')
    expect(formatUs(525_000)).toBe('525 ms')
    expect(formatUs(4_210_000)).toBe('4.21 s')
    expect(formatUs(150_000_000)).toBe('2.5 min')
  })

  it('groups thousands without a locale', () => {
    expect(formatCount(1234567)).toBe('1,234,567')
    expect(formatCount(-1000)).toBe('-1,000')
    expect(formatNumber(4999.96, 1)).toBe('5,000')
    expect(formatNumber(97.25, 1)).toBe('97.3')
    expect(formatRate(97.5)).toBe('97.5/s')
    expect(formatRate(20576.4)).toBe('20,576/s')
    expect(plural(1, 'group')).toBe('1 group')
    expect(plural(2000, 'group')).toBe('2,000 groups')
  })

  it('formats bytes and times since start', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(800 * 1024)).toBe('800.0 KiB')
    expect(formatBytes(3 * 2 ** 30)).toBe('3.0 GiB')
    expect(formatAt(5_500_000)).toBe('5.500 s')
  })

  it('draws a sparkline averaged to the width, blank for zero', () => {
    expect(sparkline([])).toBe('')
    expect(sparkline([1, 2, 4, 8])).toBe('▂▃▅█')
    expect(sparkline([5, 0, 5])).toBe('█ █')
    expect(sparkline([1, 1, 3, 3], 2)).toBe('▃█')
    expect(sparkline(Array(1000).fill(1), 60)).toHaveLength(60)
  })
})
