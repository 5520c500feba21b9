import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecordBatchView } from '../../../broker/protocol/record-batch.ts'
import { defaultLogConfig } from '../../../broker/storage/config.ts'
import { SimFileSystem } from '../../../broker/storage/file-system.ts'
import { forEachBatch, LogSegment, parseSegmentFileName, segmentFileName } from '../../../broker/storage/segment.ts'
import { batch } from './helpers.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`segment properties: FC_SEED=${seed}`)

function withOffsets(bufs: Buffer[], base: number): Buffer {
  let next = base
  for (const b of bufs) {
    const v = new RecordBatchView(b)
    v.baseOffset = next
    next = v.lastOffset + 1
  }
  return Buffer.concat(bufs)
}

describe('segment file names', () => {
  it('are 20-digit base offsets with a suffix', () => {
    expect(segmentFileName(42, '.log')).toBe('00000000000000000042.log')
    expect(parseSegmentFileName('00000000000000000042.timeindex.deleted')).toEqual({ baseOffset: 42, suffix: '.timeindex.deleted' })
    expect(parseSegmentFileName('42.log')).toBeNull()
    expect(parseSegmentFileName('leader-epoch-checkpoint')).toBeNull()
  })
})

describe('forEachBatch', () => {
  it('visits whole batches across chunk boundaries and stops at a torn one', async () => {
    const fs = new SimFileSystem()
    fs.mkdirp('/d')
    const f = fs.open('/d/x', { create: true })
    const bytes = withOffsets([batch(1), batch(3, { valueBytes: 200 }), batch(2)], 0)
    f.write(bytes, 0)
    f.write(batch(1).subarray(0, 30), bytes.length)
    const seen: number[] = []
    const res = await forEachBatch(f, 0, f.size(), (b) => (seen.push(b.baseOffset), null), 64)
    expect(seen).toEqual([0, 1, 4])
    expect(res).toEqual({ end: bytes.length, problem: `torn batch at ${bytes.length}` })
  })

  it('stops on a garbage length without reading the rest of the file', async () => {
    const fs = new SimFileSystem()
    fs.mkdirp('/d')
    const f = fs.open('/d/x', { create: true })
    const junk = Buffer.alloc(100, 0xff)
    f.write(junk, 0)
    const res = await forEachBatch(f, 0, f.size(), () => null)
    expect(res.end).toBe(0)
    expect(res.problem).not.toBeNull()
  })
})

describe('LogSegment', () => {
  it('rebuilds exactly the indexes that the appends built', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ records: fc.integer({ min: 1, max: 5 }), valueBytes: fc.integer({ min: 0, max: 300 }), dt: fc.integer({ min: -50, max: 100 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 2000 }),
        async (specs, interval) => {
          const fs = new SimFileSystem()
          fs.mkdirp('/d')
          const config = { ...defaultLogConfig, indexIntervalBytes: interval }
          const seg = LogSegment.create(fs, '/d', 100, config, 0)
          let next = 100
          let ts = 1_700_000_000_000
          for (const s of specs) {
            ts += s.dt
            const buf = withOffsets([batch(s.records, { valueBytes: s.valueBytes, timestamp: ts })], next)
            next += s.records
            seg.log.write(buf, seg.size)
            seg.appended(buf, seg.size, next, interval, 0)
          }
          seg.seal()
          seg.writeIndexes()
          const built = [fs.readFile('/d/00000000000000000100.index'), fs.readFile('/d/00000000000000000100.timeindex')]
          const { maxTimestamp, offsetOfMaxTimestamp } = seg
          const res = await seg.recover(interval, true)
          expect(res).toEqual({ invalidBytes: 0, problem: null })
          expect([fs.readFile('/d/00000000000000000100.index'), fs.readFile('/d/00000000000000000100.timeindex')]).toEqual(built)
          expect([seg.maxTimestamp, seg.offsetOfMaxTimestamp, seg.nextOffset]).toEqual([maxTimestamp, offsetOfMaxTimestamp, next])
        },
      ),
      { seed, numRuns: 100 },
    )
  })
})
