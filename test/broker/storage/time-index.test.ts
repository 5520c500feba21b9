import { describe, expect, it } from 'vitest'
import { SimFileSystem } from '../../../broker/storage/file-system.ts'
import { TimeIndex } from '../../../broker/storage/time-index.ts'

const T = 1_700_000_000_000

function index(base = 50, maxBytes = 1200): { idx: TimeIndex; fs: SimFileSystem } {
  const fs = new SimFileSystem()
  fs.mkdirp('/d')
  return { idx: new TimeIndex(fs.open('/d/x.timeindex', { create: true }), base, maxBytes), fs }
}

describe('TimeIndex', () => {
  it('adds an entry only when the max timestamp grows', () => {
    const { idx } = index()
    expect(idx.lastEntry()).toEqual({ timestamp: -1, offset: 50 })
    expect(idx.maybeAppend(T, 55)).toBe(true)
    expect(idx.maybeAppend(T, 60)).toBe(false)
    expect(idx.maybeAppend(T - 5, 61)).toBe(false)
    expect(idx.maybeAppend(T + 10, 70)).toBe(true)
    expect(idx.entries).toBe(2)
    expect(idx.lastEntry()).toEqual({ timestamp: T + 10, offset: 70 })
  })

  it('looks up the entry with the largest timestamp at or below a target', () => {
    const { idx } = index()
    idx.maybeAppend(T, 55)
    idx.maybeAppend(T + 10, 70)
    idx.maybeAppend(T + 20, 90)
    expect(idx.lookup(T - 1)).toEqual({ timestamp: -1, offset: 50 })
    expect(idx.lookup(T + 10)).toEqual({ timestamp: T + 10, offset: 70 })
    expect(idx.lookup(T + 15)).toEqual({ timestamp: T + 10, offset: 70 })
    expect(idx.lookup(T + 99)).toEqual({ timestamp: T + 20, offset: 90 })
  })

  it('respects the full check unless told to skip it (the final entry at roll)', () => {
    const { idx } = index(0, 12)
    expect(idx.maybeAppend(T, 1)).toBe(true)
    expect(idx.isFull).toBe(true)
    expect(idx.maybeAppend(T + 1, 2)).toBe(false)
    expect(idx.maybeAppend(T + 1, 2, true)).toBe(true)
  })

  it('round-trips 12-byte entries, truncation included, and refuses torn files', () => {
    const { idx, fs } = index()
    idx.maybeAppend(T, 55)
    idx.maybeAppend(T + 10, 70)
    idx.writePending()
    const bytes = fs.readFile('/d/x.timeindex')
    expect(bytes.length).toBe(24)
    expect(bytes.readBigInt64BE(12)).toBe(BigInt(T + 10))
    expect(bytes.readInt32BE(20)).toBe(20)
    idx.truncateTo(70)
    idx.writePending()
    const again = new TimeIndex(idx.file, 50, 1200)
    expect(again.load(fs.readFile('/d/x.timeindex'), 100)).toBeNull()
    expect(again.lastEntry()).toEqual({ timestamp: T, offset: 55 })
    expect(again.load(bytes.subarray(0, 20), 100)).toMatch(/multiple/)
    expect(again.load(Buffer.concat([bytes.subarray(12, 24), bytes.subarray(0, 12)]), 100)).toMatch(/backwards|grow/)
    expect(again.load(bytes, 60)).toMatch(/outside/)
  })
})
