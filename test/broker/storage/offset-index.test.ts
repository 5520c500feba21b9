import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SimFileSystem } from '../../../broker/storage/file-system.ts'
import { OffsetIndex } from '../../../broker/storage/offset-index.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`offset-index properties: FC_SEED=${seed}`)

function index(base = 100, maxBytes = 1024): { idx: OffsetIndex; fs: SimFileSystem } {
  const fs = new SimFileSystem()
  fs.mkdirp('/d')
  return { idx: new OffsetIndex(fs.open('/d/x.index', { create: true }), base, maxBytes), fs }
}

describe('OffsetIndex', () => {
  it('finds the largest entry at or below an offset', () => {
    const { idx } = index()
    idx.append(110, 400)
    idx.append(125, 900)
    idx.append(140, 1300)
    expect(idx.lookup(99)).toEqual({ offset: 100, position: 0 })
    expect(idx.lookup(109)).toEqual({ offset: 100, position: 0 })
    expect(idx.lookup(110)).toEqual({ offset: 110, position: 400 })
    expect(idx.lookup(124)).toEqual({ offset: 110, position: 400 })
    expect(idx.lookup(1000)).toEqual({ offset: 140, position: 1300 })
    expect([idx.lastOffset, idx.lastPosition]).toEqual([140, 1300])
  })

  it('rejects entries that do not grow', () => {
    const { idx } = index()
    idx.append(110, 400)
    expect(() => idx.append(110, 500)).toThrow(RangeError)
    expect(() => idx.append(99, 500)).toThrow(RangeError)
  })

  it('is full at segment.index.bytes / 8 entries', () => {
    const { idx } = index(0, 20)
    idx.append(1, 10)
    expect(idx.isFull).toBe(false)
    idx.append(2, 20)
    expect(idx.isFull).toBe(true)
  })

  it('writes 8-byte big-endian entries, truncates, and loads them back', async () => {
    const { idx, fs } = index()
    idx.append(110, 400)
    idx.append(125, 900)
    idx.writePending()
    expect(fs.readFile('/d/x.index')).toEqual(Buffer.from([0, 0, 0, 10, 0, 0, 1, 144, 0, 0, 0, 25, 0, 0, 3, 132]))
    idx.append(140, 1300)
    idx.truncateTo(125)
    idx.writePending()
    expect(fs.readFile('/d/x.index').length).toBe(8)
    const again = new OffsetIndex(idx.file, 100, 1024)
    expect(again.load(fs.readFile('/d/x.index'), 2000, 200)).toBeNull()
    expect(again.lookup(130)).toEqual({ offset: 110, position: 400 })
  })

  it('refuses torn or inconsistent files', () => {
    const { idx } = index()
    const entry = (rel: number, pos: number) => {
      const b = Buffer.alloc(8)
      b.writeInt32BE(rel, 0)
      b.writeInt32BE(pos, 4)
      return b
    }
    expect(idx.load(Buffer.alloc(7), 100, 1000)).toMatch(/multiple/)
    expect(idx.load(Buffer.concat([entry(5, 10), entry(5, 20)]), 100, 1000)).toMatch(/offset/)
    expect(idx.load(Buffer.concat([entry(5, 10), entry(6, 5)]), 100, 1000)).toMatch(/position/)
    expect(idx.load(entry(5, 100), 100, 1000)).toMatch(/position/)
    expect(idx.load(entry(5, 10), 100, 104)).toMatch(/segment end/)
    expect(idx.load(Buffer.alloc(16), 100, 1000)).toMatch(/offset/)
  })

  it('lookup agrees with a linear scan', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 5000 }), { maxLength: 60 }), fc.integer({ min: 0, max: 6000 }), (rels, target) => {
        const sorted = [...rels].sort((a, b) => a - b)
        const { idx } = index(1000)
        sorted.forEach((r, i) => idx.append(1000 + r, i * 10))
        const below = sorted.filter((r) => 1000 + r <= 1000 + target)
        const want = below.length === 0 ? { offset: 1000, position: 0 } : { offset: 1000 + below.at(-1)!, position: (below.length - 1) * 10 }
        expect(idx.lookup(1000 + target)).toEqual(want)
      }),
      { seed, numRuns: 200 },
    )
  })
})
