import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { iterateBatches, RecordBatchView } from '../../../broker/protocol/record-batch.ts'
import { defaultLogConfig, type LogConfig } from '../../../broker/storage/config.ts'
import { NodeFileSystem, SimFileSystem, StorageError } from '../../../broker/storage/file-system.ts'
import { PartitionLog } from '../../../broker/storage/log.ts'
import { until } from '../../helpers/until.ts'
import { batch, batchWithTimestamps, enospc, readAll, recordingLogger, settle, tempDir, WrappedFileSystem } from './helpers.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`log properties: FC_SEED=${seed}`)

const T0 = 1_700_000_000_000
const BATCH_10 = batch(1).length // one 10-byte record

function config(over: Partial<LogConfig> = {}): LogConfig {
  return { ...defaultLogConfig, ...over }
}

let tmp: ReturnType<typeof tempDir>
beforeEach(() => {
  tmp = tempDir()
})
afterEach(() => tmp.cleanup())

async function openLog(
  over: Partial<LogConfig> = {},
  opts: { fs?: WrappedFileSystem | NodeFileSystem | SimFileSystem; clock?: ManualClock; tailCacheBytes?: number; dir?: string } = {},
) {
  const fs = opts.fs ?? new NodeFileSystem()
  const clock = opts.clock ?? new ManualClock()
  const logger = recordingLogger()
  const dir = opts.dir ?? join(tmp.path, 'orders-0')
  const log = await PartitionLog.open(fs, clock, dir, 'orders', 0, config(over), {
    recoveryPoint: 0,
    logStartOffset: 0,
    cleanShutdown: false,
    logger,
    tailCacheBytes: opts.tailCacheBytes,
  })
  return { log, fs, clock, logger, dir }
}

function appendN(log: PartitionLog, n: number, make: (i: number) => Buffer = () => batch(1)): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const b = make(i)
    log.appendAsLeader(b, 3)
    out.push(Buffer.from(b))
    log.highWatermark = log.logEndOffset
  }
  return out
}

describe('appendAsLeader', () => {
  it('assigns offsets in place, keeps the CRC valid and writes the bytes as given', async () => {
    const { log } = await openLog()
    const a = batch(3)
    const b = batch(2, { timestamp: T0 + 5 })
    const r1 = log.appendAsLeader(a, 7)
    const r2 = log.appendAsLeader(b, 7)
    expect(r1).toMatchObject({ firstOffset: 0, lastOffset: 2, maxTimestamp: T0 })
    expect(r2).toMatchObject({ firstOffset: 3, lastOffset: 4, maxTimestamp: T0 + 5 })
    const view = new RecordBatchView(b)
    expect(view.baseOffset).toBe(3)
    expect(view.partitionLeaderEpoch).toBe(7)
    expect(view.isCrcValid()).toBe(true)
    expect(log.logEndOffset).toBe(5)
    expect(await readAll(log)).toEqual([a, b])
    await log.close()
  })

  it('writes a request with several batches as one write', async () => {
    let writes = 0
    const fs = new WrappedFileSystem(new NodeFileSystem(), { write: (p) => void (p.endsWith('.log') && writes++) })
    const { log } = await openLog({}, { fs })
    const r = log.appendAsLeader(Buffer.concat([batch(2), batch(3), batch(1)]), 0)
    expect(r).toMatchObject({ firstOffset: 0, lastOffset: 5 })
    expect(writes).toBe(1)
    expect((await readAll(log)).map((b) => new RecordBatchView(b).baseOffset)).toEqual([0, 2, 5])
    await log.close()
  })

  it('rejects bytes that are not whole batches, assigning nothing', async () => {
    const { log } = await openLog()
    expect(() => log.appendAsLeader(batch(1).subarray(0, 30), 0)).toThrow(RangeError)
    expect(log.logEndOffset).toBe(0)
    await log.close()
  })
})

describe.each([
  ['from the tail cache', undefined],
  ['from disk', 0],
])('read %s', (_name, tailCacheBytes) => {
  it('returns whole batches, starting with the one holding the offset', async () => {
    const { log } = await openLog({}, { tailCacheBytes })
    const batches = appendN(log, 4, () => batch(3))
    const r = await log.read(4, 1 << 20, log.logEndOffset, true)
    expect(r.kind).toBe('ok')
    if (r.kind !== 'ok') return
    expect(Buffer.concat(r.records)).toEqual(Buffer.concat(batches.slice(1)))
    expect(r.bytes).toBe(3 * batches[0]!.length)
    await log.close()
  })

  it('stops at maxBytes but returns one oversized batch when minOneBatch', async () => {
    const { log } = await openLog({}, { tailCacheBytes })
    const batches = appendN(log, 3, () => batch(2, { valueBytes: 100 }))
    const size = batches[0]!.length
    const two = await log.read(0, 2 * size + 1, 100, true)
    expect(two).toMatchObject({ kind: 'ok', bytes: 2 * size })
    const one = await log.read(0, 10, 100, true)
    expect(one).toMatchObject({ kind: 'ok', bytes: size })
    const none = await log.read(0, 10, 100, false)
    expect(none).toEqual({ kind: 'ok', records: [], bytes: 0 })
    await log.close()
  })

  it('never returns a batch reaching maxOffset', async () => {
    const { log } = await openLog({}, { tailCacheBytes })
    appendN(log, 3, () => batch(2))
    const r = await log.read(0, 1 << 20, 3, true)
    expect(r.kind === 'ok' && [...iterateBatches(Buffer.concat(r.records))].map((b) => b.baseOffset)).toEqual([0])
    expect(await log.read(2, 1 << 20, 3, true)).toEqual({ kind: 'ok', records: [], bytes: 0 })
    expect(await log.read(4, 1 << 20, 4, true)).toEqual({ kind: 'ok', records: [], bytes: 0 })
    await log.close()
  })

  it('answers out-of-range below the log start and past the log end, empty at the end', async () => {
    const { log } = await openLog({}, { tailCacheBytes })
    appendN(log, 5)
    log.deleteRecordsBefore(2)
    expect(await log.read(1, 100, 5, true)).toEqual({ kind: 'out-of-range', logStartOffset: 2, logEndOffset: 5 })
    expect(await log.read(6, 100, 5, true)).toEqual({ kind: 'out-of-range', logStartOffset: 2, logEndOffset: 5 })
    expect(await log.read(5, 100, 5, true)).toEqual({ kind: 'ok', records: [], bytes: 0 })
    expect(await log.read(2, 100, 5, true)).toMatchObject({ kind: 'ok', bytes: BATCH_10 })
    await log.close()
  })

  it('reads across many segments and index entries', async () => {
    const { log } = await openLog({ segmentBytes: 2000, indexIntervalBytes: 150 }, { tailCacheBytes })
    const batches = appendN(log, 60, (i) => batch(1 + (i % 3), { valueBytes: 20 + i }))
    expect(log.segmentCount).toBeGreaterThan(3)
    expect(await readAll(log)).toEqual(batches)
    for (let o = 0; o < log.logEndOffset; o += 7) {
      const r = await log.read(o, 1, log.logEndOffset, true)
      if (r.kind !== 'ok') throw new Error('out of range')
      const [b] = [...iterateBatches(Buffer.concat(r.records))]
      expect(b!.baseOffset).toBeLessThanOrEqual(o)
      expect(b!.lastOffset).toBeGreaterThanOrEqual(o)
    }
    await log.close()
  })
})

describe('read from memory and from disk', () => {
  it('answers identically', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ records: fc.integer({ min: 1, max: 4 }), valueBytes: fc.integer({ min: 0, max: 120 }) }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), maxBytes: fc.integer({ min: 0, max: 800 }), limitBack: fc.integer({ min: 0, max: 5 }), minOne: fc.boolean() }), {
          maxLength: 20,
        }),
        fc.integer({ min: 100, max: 2000 }),
        async (appends, reads, cacheBytes) => {
          const fs = new SimFileSystem()
          const over = { segmentBytes: 700, indexIntervalBytes: 90 }
          const cached = (await openLog(over, { fs, dir: '/d/c-0', tailCacheBytes: cacheBytes })).log
          const disk = (await openLog(over, { fs, dir: '/d/d-0', tailCacheBytes: 0 })).log
          for (const a of appends) {
            const b = batch(a.records, { valueBytes: a.valueBytes })
            cached.appendAsLeader(b, 0)
            disk.appendAsLeader(Buffer.from(b), 0)
          }
          const leo = disk.logEndOffset
          for (const r of reads) {
            const offset = Math.floor(r.at * (leo + 1))
            const limit = Math.max(0, leo - r.limitBack)
            const want = await disk.read(offset, r.maxBytes, limit, r.minOne)
            const got = await cached.read(offset, r.maxBytes, limit, r.minOne)
            expect(got.kind === 'ok' ? { ...got, records: Buffer.concat(got.records) } : got).toEqual(
              want.kind === 'ok' ? { ...want, records: Buffer.concat(want.records) } : want,
            )
          }
        },
      ),
      { seed, numRuns: 100 },
    )
  })
})

describe('segment roll', () => {
  it('rolls when the next batch would overflow segment.bytes', async () => {
    const { log, dir } = await openLog({ segmentBytes: 3 * BATCH_10 })
    appendN(log, 7)
    expect(log.segmentBaseOffsets()).toEqual([0, 3, 6])
    const names = new NodeFileSystem().list(dir).sort()
    expect(names).toContain('00000000000000000003.log')
    expect(names).toContain('00000000000000000003.index')
    expect(names).toContain('00000000000000000003.timeindex')
    await log.close()
  })

  it('puts a batch larger than segment.bytes alone in a segment', async () => {
    const { log } = await openLog({ segmentBytes: 100 })
    appendN(log, 3, () => batch(1, { valueBytes: 300 }))
    expect(log.segmentBaseOffsets()).toEqual([0, 1, 2])
    await log.close()
  })

  it('rolls by segment.ms since the first append', async () => {
    const { log, clock } = await openLog({ segmentMs: 1000 })
    appendN(log, 1)
    clock.advance(600)
    appendN(log, 1)
    expect(log.segmentCount).toBe(1)
    clock.advance(401)
    appendN(log, 1)
    expect(log.segmentBaseOffsets()).toEqual([0, 2])
    clock.advance(5000)
    expect(log.segmentCount).toBe(2)
    appendN(log, 1)
    expect(log.segmentBaseOffsets()).toEqual([0, 2, 3])
    await log.close()
  })

  it('rolls when an index is full', async () => {
    // Two offset-index entries (or one time-index entry) fit; an entry every ~100 bytes.
    const { log } = await openLog({ segmentIndexBytes: 16, indexIntervalBytes: 100 })
    appendN(log, 12, (i) => batch(1, { valueBytes: 50, timestamp: T0 + i }))
    expect(log.segmentCount).toBeGreaterThan(2)
    expect(await readAll(log)).toHaveLength(12)
    await log.close()
  })

  it('fsyncs the rolled segment right away', async () => {
    const synced: string[] = []
    const fs = new WrappedFileSystem(new NodeFileSystem(), { sync: (p) => void synced.push(p) })
    const { log } = await openLog({ segmentBytes: 2 * BATCH_10 }, { fs })
    appendN(log, 2)
    await log.flush()
    synced.length = 0
    appendN(log, 1)
    expect(log.segmentBaseOffsets()).toEqual([0, 2])
    await until('the recovery point at 3', () => log.recoveryPoint === 3, { intervalMs: 1 })
    // The old segment's final time-index entry (its max timestamp) reached the disk.
    expect(synced).toContain(join(log.dir, '00000000000000000000.timeindex'))
    await log.close()
  })
})

describe('retention', () => {
  it('deletes segments older than retention.ms and moves the log start', async () => {
    const { log, clock, dir } = await openLog({ segmentBytes: 2 * BATCH_10, retentionMs: 10_000, fileDeleteDelayMs: 500 })
    const now = clock.now()
    appendN(log, 6, (i) => batch(1, { timestamp: i < 4 ? now - 20_000 : now }))
    expect(log.segmentBaseOffsets()).toEqual([0, 2, 4])
    const freed = log.applyRetention(now)
    expect(freed).toBe(4 * BATCH_10)
    expect(log.segmentBaseOffsets()).toEqual([4])
    expect(log.logStartOffset).toBe(4)
    expect(log.sizeInBytes()).toBe(2 * BATCH_10)
    const fs = new NodeFileSystem()
    expect(fs.list(dir)).toContain('00000000000000000000.log.deleted')
    clock.advance(499)
    await settle()
    expect(fs.list(dir)).toContain('00000000000000000000.log.deleted')
    clock.advance(2)
    await until('the .deleted files gone', () => fs.list(dir).every((n) => !n.endsWith('.deleted')), { intervalMs: 1 })
    expect(await log.read(0, 100, 10, true)).toMatchObject({ kind: 'out-of-range', logStartOffset: 4 })
    await log.close()
  })

  it('rolls and deletes the active segment too when it has expired', async () => {
    const { log, clock } = await openLog({ segmentBytes: 2 * BATCH_10, retentionMs: 10_000 })
    appendN(log, 3, () => batch(1, { timestamp: clock.now() - 20_000 }))
    expect(log.applyRetention(clock.now())).toBe(3 * BATCH_10)
    expect(log.segmentBaseOffsets()).toEqual([3])
    expect(log.logStartOffset).toBe(3)
    expect(log.appendAsLeader(batch(1), 0).firstOffset).toBe(3)
    await log.close()
  })

  it('deletes the oldest segments beyond retention.bytes', async () => {
    const { log, clock } = await openLog({ segmentBytes: 2 * BATCH_10, retentionBytes: 3 * BATCH_10 })
    appendN(log, 7)
    expect(log.segmentBaseOffsets()).toEqual([0, 2, 4, 6])
    expect(log.applyRetention(clock.now())).toBe(4 * BATCH_10)
    expect(log.segmentBaseOffsets()).toEqual([4, 6])
    expect(log.logStartOffset).toBe(4)
    expect(log.sizeInBytes()).toBe(3 * BATCH_10)
    await log.close()
  })

  it('never deletes at or beyond the high watermark', async () => {
    const { log, clock } = await openLog({ segmentBytes: 2 * BATCH_10, retentionBytes: 0 })
    appendN(log, 6)
    log.highWatermark = 3
    expect(log.applyRetention(clock.now())).toBe(2 * BATCH_10)
    expect(log.segmentBaseOffsets()).toEqual([2, 4])
    await log.close()
  })

  it('deletes segments wholly below a log start raised by DeleteRecords', async () => {
    const { log, clock } = await openLog({ segmentBytes: 2 * BATCH_10 })
    appendN(log, 6)
    log.deleteRecordsBefore(5)
    expect(() => log.deleteRecordsBefore(7)).toThrow(RangeError)
    expect(log.applyRetention(clock.now())).toBe(4 * BATCH_10)
    expect(log.segmentBaseOffsets()).toEqual([4])
    expect(log.logStartOffset).toBe(5)
    await log.close()
  })
})

describe('timestamps', () => {
  // Kafka answers with the first record at or after the timestamp and that record's own timestamp.
  it('finds the first offset at or after a timestamp across segments', async () => {
    const { log } = await openLog({ segmentBytes: 3 * batchWithTimestamps([1, 2, 3]).length, indexIntervalBytes: 1 })
    const t = (k: number) => T0 + k * 10
    appendN(log, 6, (i) => batchWithTimestamps([t(3 * i), t(3 * i + 1), t(3 * i + 2)]))
    expect(log.segmentCount).toBe(2)
    expect(await log.offsetForTimestamp(t(0))).toEqual({ offset: 0, timestamp: t(0) })
    expect(await log.offsetForTimestamp(t(4))).toEqual({ offset: 4, timestamp: t(4) })
    expect(await log.offsetForTimestamp(t(4) - 5)).toEqual({ offset: 4, timestamp: t(4) })
    expect(await log.offsetForTimestamp(t(13))).toEqual({ offset: 13, timestamp: t(13) })
    expect(await log.offsetForTimestamp(t(17))).toEqual({ offset: 17, timestamp: t(17) })
    expect(await log.offsetForTimestamp(t(17) + 1)).toBeNull()
    expect(await log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: t(0) })
    log.deleteRecordsBefore(7)
    expect(await log.offsetForTimestamp(0)).toEqual({ offset: 7, timestamp: t(7) })
    expect(log.maxTimestampAndOffset()).toEqual({ timestamp: t(17), offset: 17 })
    await log.close()
  })

  it('reports the first batch that reached the max timestamp', async () => {
    const { log } = await openLog()
    expect(log.maxTimestampAndOffset()).toEqual({ timestamp: -1, offset: -1 })
    appendN(log, 1, () => batchWithTimestamps([T0 + 50, T0 + 10]))
    appendN(log, 1, () => batchWithTimestamps([T0 + 50]))
    appendN(log, 1, () => batchWithTimestamps([T0 + 20]))
    expect(log.maxTimestampAndOffset()).toEqual({ timestamp: T0 + 50, offset: 1 })
    await log.close()
  })

  it('survives a reopen (time index of flushed segments)', async () => {
    const dir = join(tmp.path, 'ts-0')
    const first = await openLog({ segmentBytes: 2 * BATCH_10 }, { dir })
    appendN(first.log, 6, (i) => batch(1, { timestamp: T0 + i * 100 }))
    await first.log.close()
    const again = await PartitionLog.open(new NodeFileSystem(), new ManualClock(), dir, 'ts', 0, config({ segmentBytes: 2 * BATCH_10 }), {
      recoveryPoint: 6,
      logStartOffset: 0,
      cleanShutdown: true,
      logger: recordingLogger(),
    })
    expect(await again.offsetForTimestamp(T0 + 250)).toEqual({ offset: 3, timestamp: T0 + 300 })
    expect(again.maxTimestampAndOffset()).toEqual({ timestamp: T0 + 500, offset: 5 })
    await again.close()
  })
})

describe('truncation', () => {
  it('truncates across segment boundaries and continues at the cut', async () => {
    const { log, dir } = await openLog({ segmentBytes: 2 * batch(2).length })
    const batches = appendN(log, 6, () => batch(2))
    expect(log.segmentBaseOffsets()).toEqual([0, 4, 8])
    await log.truncateTo(5)
    expect(log.logEndOffset).toBe(4)
    expect(log.segmentBaseOffsets()).toEqual([0, 4])
    expect(log.highWatermark).toBe(4)
    expect(log.recoveryPoint).toBe(4)
    expect(await readAll(log)).toEqual(batches.slice(0, 2))
    expect(new NodeFileSystem().list(dir)).toContain('00000000000000000008.log.deleted')
    const next = batch(1)
    expect(log.appendAsLeader(next, 0).firstOffset).toBe(4)
    expect(await readAll(log)).toEqual([...batches.slice(0, 2), next])
    await log.close()
  })

  it('cuts at the start of the batch holding the offset, the recovery point following', async () => {
    const { log } = await openLog()
    const batches = appendN(log, 3, () => batch(2))
    await log.flush()
    expect(log.recoveryPoint).toBe(6)
    await log.truncateTo(3)
    expect([log.logEndOffset, log.recoveryPoint]).toEqual([2, 2])
    expect(await readAll(log)).toEqual(batches.slice(0, 1))
    await log.close()
  })

  it('truncates below the first segment by starting over', async () => {
    const { log } = await openLog({ segmentBytes: 2 * BATCH_10 })
    appendN(log, 4)
    await log.truncateFullyAndStartAt(10)
    expect([log.logStartOffset, log.logEndOffset, log.sizeInBytes()]).toEqual([10, 10, 0])
    expect(log.segmentBaseOffsets()).toEqual([10])
    expect(log.appendAsLeader(batch(1), 0).firstOffset).toBe(10)
    await log.close()
  })

  it('keeps the cut after a restart', async () => {
    const dir = join(tmp.path, 'cut-0')
    const { log } = await openLog({ segmentBytes: 2 * BATCH_10 }, { dir })
    const batches = appendN(log, 5)
    await log.truncateTo(3)
    await log.close()
    const again = await PartitionLog.open(new NodeFileSystem(), new ManualClock(), dir, 'cut', 0, config({ segmentBytes: 2 * BATCH_10 }), {
      recoveryPoint: 0,
      logStartOffset: 0,
      cleanShutdown: false,
      logger: recordingLogger(),
    })
    expect(again.logEndOffset).toBe(3)
    expect(await readAll(again)).toEqual(batches.slice(0, 3))
    await again.close()
  })
})

describe('appendAsFollower', () => {
  it('appends batches that continue the log and rejects the others', async () => {
    const { log } = await openLog()
    const a = batch(2)
    new RecordBatchView(a).baseOffset = 0
    expect(log.appendAsFollower(a)).toMatchObject({ kind: 'ok', lastOffset: 1 })
    const gap = batch(1)
    new RecordBatchView(gap).baseOffset = 5
    expect(log.appendAsFollower(gap)).toMatchObject({ kind: 'error', code: 'UNEXPECTED_APPEND_OFFSET' })
    const overlap = batch(1)
    new RecordBatchView(overlap).baseOffset = 1
    expect(log.appendAsFollower(overlap)).toMatchObject({ kind: 'error', code: 'UNEXPECTED_APPEND_OFFSET' })
    const second = batch(1)
    new RecordBatchView(second).baseOffset = 4
    const first = batch(1)
    new RecordBatchView(first).baseOffset = 2
    expect(log.appendAsFollower(Buffer.concat([first, second]))).toMatchObject({ kind: 'error', code: 'OFFSETS_OUT_OF_ORDER' })
    expect(log.appendAsFollower(Buffer.from('garbage that is not a batch at all, long enough for a header.....'))).toMatchObject({ kind: 'error', code: 'CORRUPT_MESSAGE' })
    expect(log.logEndOffset).toBe(2)
    await log.close()
  })

  it('keeps the leader offsets and epochs; truncation then a lower epoch from the new leader (KIP-279)', async () => {
    const { log, dir } = await openLog()
    const stamped = (base: number, count: number, epoch: number) => {
      const b = batch(count)
      const v = new RecordBatchView(b)
      v.baseOffset = base
      v.partitionLeaderEpoch = epoch
      return b
    }
    // Local log: epoch 1 [0,3), then epoch 2 [3,5) that the new leader never had.
    expect(log.appendAsFollower(Buffer.concat([stamped(0, 3, 1), stamped(3, 2, 2)])).kind).toBe('ok')
    await log.truncateTo(3)
    expect(log.epochCache.entries()).toEqual([{ epoch: 1, startOffset: 0 }])
    // The new leader (epoch 3) wrote its own epoch 1 records at 3 and 4, then epoch 3 from 5.
    const r = log.appendAsFollower(Buffer.concat([stamped(3, 2, 1), stamped(5, 1, 3)]))
    expect(r).toMatchObject({ kind: 'ok', lastOffset: 5 })
    expect(log.epochCache.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 5 }])
    expect((await readAll(log)).map((b) => [new RecordBatchView(b).baseOffset, new RecordBatchView(b).partitionLeaderEpoch])).toEqual([[0, 1], [3, 1], [5, 3]])
    await log.close()
    const { log: again } = await openLog({}, { dir })
    expect(again.epochCache.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 5 }])
    await again.close()
  })
})

describe('flush policy', () => {
  it('flush.messages=1: durable waits for the fsync and concurrent appends share it', async () => {
    let logSyncs = 0
    const fs = new WrappedFileSystem(new NodeFileSystem(), { sync: (p) => void (p.endsWith('.log') && logSyncs++) })
    const { log } = await openLog({ flushMessages: 1 }, { fs })
    await log.flush()
    logSyncs = 0
    const results = Array.from({ length: 20 }, () => log.appendAsLeader(batch(1), 0))
    let done = 0
    for (const r of results) void r.durable.then(() => done++)
    expect(done).toBe(0)
    await Promise.all(results.map((r) => r.durable))
    expect(logSyncs).toBe(1)
    expect(log.recoveryPoint).toBe(20)
    await log.close()
  })

  it('flush.messages=N: the append reaching N waits for a flush', async () => {
    const { log } = await openLog({ flushMessages: 5, flushMs: Number.MAX_SAFE_INTEGER }, { fs: new SimFileSystem(), dir: '/d/t-0' })
    log.appendAsLeader(batch(3), 0)
    await settle()
    expect(log.recoveryPoint).toBe(0)
    await log.appendAsLeader(batch(2), 0).durable
    expect(log.recoveryPoint).toBe(5)
    await log.close()
  })

  it('flush.ms: fsyncs once the oldest unflushed append is that old', async () => {
    const { log, clock } = await openLog({ flushMs: 1000 }, { fs: new SimFileSystem(), dir: '/d/t-0' })
    await log.appendAsLeader(batch(1), 0).durable
    clock.advance(500)
    log.appendAsLeader(batch(1), 0)
    await settle()
    expect(log.recoveryPoint).toBe(0)
    clock.advance(500)
    await settle()
    expect(log.recoveryPoint).toBe(2)
    await log.close()
  })

  it('an unbounded flush.ms arms no timer', async () => {
    const { log, clock } = await openLog({ flushMs: Number.MAX_SAFE_INTEGER })
    log.appendAsLeader(batch(1), 0)
    expect(clock.pending).toBe(0)
    await log.close()
  })
})

describe('disk errors', () => {
  it('a write failing with ENOSPC leaves the log usable and unchanged', async () => {
    let failing = false
    const fs = new WrappedFileSystem(new NodeFileSystem(), {
      write: (p) => {
        if (failing && p.endsWith('.log')) throw enospc(p)
      },
    })
    const { log } = await openLog({}, { fs })
    const before = appendN(log, 3)
    const size = log.sizeInBytes()
    failing = true
    let err: unknown
    try {
      log.appendAsLeader(batch(2), 0)
    } catch (e) {
      err = e
    }
    expect(StorageError.is(err) && err.code).toBe('ENOSPC')
    expect([log.logEndOffset, log.sizeInBytes(), log.isOffline]).toEqual([3, size, false])
    expect(await readAll(log)).toEqual(before)
    failing = false
    const next = batch(2)
    expect(log.appendAsLeader(next, 0).firstOffset).toBe(3)
    expect(await readAll(log)).toEqual([...before, next])
    await log.close()
  })

  it('ENOSPC on the simulated disk too, then a restart sees only the good batches', async () => {
    const fs = new SimFileSystem()
    const dir = '/data/t-0'
    const { log } = await openLog({}, { fs, dir })
    const before = appendN(log, 2)
    fs.faults = (op, path) => (op === 'write' && path.endsWith('.log') ? 'ENOSPC' : undefined)
    expect(() => log.appendAsLeader(batch(1), 0)).toThrow(StorageError)
    fs.faults = null
    await log.close()
    const again = await PartitionLog.open(fs, new ManualClock(), dir, 't', 0, config(), { recoveryPoint: 0, logStartOffset: 0, cleanShutdown: false, logger: recordingLogger() })
    expect(await readAll(again)).toEqual(before)
    await again.close()
  })

  it('a failed fsync rejects durable and takes the log offline', async () => {
    const fs = new WrappedFileSystem(new NodeFileSystem())
    const { log, logger } = await openLog({ flushMessages: 1 }, { fs })
    fs.taps.sync = (p) => {
      throw new StorageError('fsync', p, 'EIO')
    }
    const r = log.appendAsLeader(batch(1), 0)
    await expect(r.durable).rejects.toMatchObject({ code: 'EIO' })
    expect(log.isOffline).toBe(true)
    expect(() => log.appendAsLeader(batch(1), 0)).toThrow(expect.objectContaining({ code: 'OFFLINE' }))
    expect(logger.lines.some((l) => l.level === 'error')).toBe(true)
    await expect(log.close()).rejects.toMatchObject({ code: 'EIO' })
  })
})
