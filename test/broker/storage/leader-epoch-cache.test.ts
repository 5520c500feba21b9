import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { iterateBatches, RecordBatchView } from '../../../broker/protocol/record-batch.ts'
import { defaultLogConfig } from '../../../broker/storage/config.ts'
import { NodeFileSystem, SimFileSystem } from '../../../broker/storage/file-system.ts'
import {
  type EpochEntry,
  formatEpochCheckpoint,
  LEADER_EPOCH_CHECKPOINT,
  LeaderEpochCache,
  parseEpochCheckpoint,
  readEpochCheckpoint,
} from '../../../broker/storage/leader-epoch-cache.ts'
import { PartitionLog } from '../../../broker/storage/log.ts'
import { batch, readAll, recordingLogger, tempDir } from './helpers.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`leader-epoch-cache properties: FC_SEED=${seed}`)

const UNDEF = { epoch: -1, endOffset: -1 }

describe('LeaderEpochCache', () => {
  it('assign keeps the cache monotonic, replacing conflicting later entries', () => {
    const c = new LeaderEpochCache()
    expect(c.assign(0, 0)).toBe(true)
    expect(c.assign(0, 5)).toBe(false) // same epoch, later offset: nothing new
    expect(c.assign(2, 10)).toBe(true)
    expect(c.assign(4, 20)).toBe(true)
    expect(c.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 10 }, { epoch: 4, startOffset: 20 }])
    // Epoch 3 at 15: epoch 4 (higher epoch) goes.
    c.assign(3, 15)
    expect(c.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 10 }, { epoch: 3, startOffset: 15 }])
    // Epoch 5 at 12: epoch 3 (start 15 >= 12) goes.
    c.assign(5, 12)
    expect(c.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 10 }, { epoch: 5, startOffset: 12 }])
    // The latest epoch at an earlier offset moves its start down.
    expect(c.assign(5, 11)).toBe(true)
    expect(c.latestEntry()).toEqual({ epoch: 5, startOffset: 11 })
    expect(() => c.assign(-1, 0)).toThrow(RangeError)
  })

  it('endOffsetFor answers as Kafka does', () => {
    const c = new LeaderEpochCache([
      { epoch: 2, startOffset: 10 },
      { epoch: 4, startOffset: 20 },
      { epoch: 7, startOffset: 35 },
    ])
    expect(c.endOffsetFor(-1, 50)).toEqual(UNDEF)
    expect(c.endOffsetFor(7, 50)).toEqual({ epoch: 7, endOffset: 50 }) // the latest epoch ends at the log end
    expect(c.endOffsetFor(4, 50)).toEqual({ epoch: 4, endOffset: 35 })
    expect(c.endOffsetFor(5, 50)).toEqual({ epoch: 4, endOffset: 35 }) // largest epoch <= 5 is 4
    expect(c.endOffsetFor(2, 50)).toEqual({ epoch: 2, endOffset: 20 })
    expect(c.endOffsetFor(3, 50)).toEqual({ epoch: 2, endOffset: 20 })
    expect(c.endOffsetFor(1, 50)).toEqual({ epoch: 1, endOffset: 10 }) // below the first: the first start offset
    expect(c.endOffsetFor(8, 50)).toEqual(UNDEF) // above every epoch
    expect(new LeaderEpochCache().endOffsetFor(0, 5)).toEqual(UNDEF)
  })

  it('truncates from the end and from the start', () => {
    const entries = [
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 10 },
      { epoch: 3, startOffset: 20 },
    ]
    const c = new LeaderEpochCache(entries)
    c.truncateFromEnd(21)
    expect(c.entries()).toEqual(entries)
    c.truncateFromEnd(20)
    expect(c.entries()).toEqual(entries.slice(0, 2))
    c.truncateFromEnd(5)
    expect(c.entries()).toEqual(entries.slice(0, 1))

    const s = new LeaderEpochCache(entries)
    s.truncateFromStart(15)
    expect(s.entries()).toEqual([{ epoch: 2, startOffset: 15 }, { epoch: 3, startOffset: 20 }])
    s.truncateFromStart(20)
    expect(s.entries()).toEqual([{ epoch: 3, startOffset: 20 }])
    expect(s.dirty).toBe(true)
  })

  it('epochForOffset is the epoch of the entry covering the offset', () => {
    const c = new LeaderEpochCache([
      { epoch: 1, startOffset: 5 },
      { epoch: 3, startOffset: 9 },
    ])
    expect([4, 5, 8, 9, 100].map((o) => c.epochForOffset(o))).toEqual([-1, 1, 1, 3, 3])
  })

  it('checkpoint text round-trips in Kafka format and rejects malformed files', () => {
    const entries = [
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 1200 },
    ]
    expect(formatEpochCheckpoint(entries)).toBe('0\n2\n0 0\n3 1200\n')
    expect(parseEpochCheckpoint('0\n2\n0 0\n3 1200\n')).toEqual({ entries })
    expect(parseEpochCheckpoint('0\n0\n')).toEqual({ entries: [] })
    for (const bad of ['1\n0\n', '0\n2\n0 0\n', '0\n1\n0\n', '0\n2\n3 5\n2 6\n', '0\n2\n1 5\n2 4\n', '', '0\nx\n']) {
      expect(parseEpochCheckpoint(bad)).toHaveProperty('problem')
    }
  })

  it('flush writes the checkpoint atomically and only when changed', async () => {
    const sim = new SimFileSystem()
    sim.autoSync = true
    sim.mkdirp('/p')
    const c = new LeaderEpochCache([], { fs: sim, dir: '/p' })
    await c.flush()
    expect(sim.exists(join('/p', LEADER_EPOCH_CHECKPOINT))).toBe(false)
    c.assign(1, 0)
    c.assign(2, 7)
    const a = c.flush()
    c.assign(3, 9) // while the first write runs: a second flush must cover it
    await Promise.all([a, c.flush()])
    expect(c.dirty).toBe(false)
    expect(await readEpochCheckpoint(sim, '/p')).toEqual({ entries: c.entries() })
    expect(sim.list('/p').sort()).toEqual([LEADER_EPOCH_CHECKPOINT])
  })
})

// ---- property: the cache is what the log's batches say ----

type Op = { kind: 'append'; epochStep: number; records: number } | { kind: 'truncateEnd'; at: number } | { kind: 'truncateStart'; at: number } | { kind: 'assign'; epochStep: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), epochStep: fc.integer({ min: 0, max: 2 }), records: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncateEnd' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncateStart' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  // A leader taking over at the log end before it has records of its epoch (Partition.makeLeader).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('assign' as const), epochStep: fc.integer({ min: 1, max: 2 }) }) },
)

/** The naive model: one epoch per offset in [start, end), plus an epoch the leader started at the end. */
interface Model {
  start: number
  records: number[]
  pending: number | null
}

function modelEntries(m: Model): EpochEntry[] {
  const out: EpochEntry[] = []
  m.records.forEach((epoch, i) => {
    if (out[out.length - 1]?.epoch !== epoch) out.push({ epoch, startOffset: m.start + i })
  })
  if (m.pending !== null && out[out.length - 1]?.epoch !== m.pending) out.push({ epoch: m.pending, startOffset: m.start + m.records.length })
  return out
}

function modelEndOffsetFor(m: Model, requested: number): { epoch: number; endOffset: number } {
  const entries = modelEntries(m)
  const end = m.start + m.records.length
  if (requested < 0 || entries.length === 0) return UNDEF
  if (entries[entries.length - 1]!.epoch === requested) return { epoch: requested, endOffset: end }
  const known = entries.map((e) => e.epoch)
  const higher = entries.find((e) => e.epoch > requested)
  if (!higher) return UNDEF
  const floor = Math.max(-1, ...known.filter((e) => e <= requested))
  return { epoch: floor < 0 ? requested : floor, endOffset: higher.startOffset }
}

describe('LeaderEpochCache against a naive model of the log', () => {
  it('matches the run-length encoding of the records epochs after appends, truncations and leader changes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const cache = new LeaderEpochCache()
        const m: Model = { start: 0, records: [], pending: null }
        let epoch = 0
        for (const op of ops) {
          const end = m.start + m.records.length
          switch (op.kind) {
            case 'append': {
              epoch += op.epochStep
              cache.assign(epoch, end)
              for (let i = 0; i < op.records; i++) m.records.push(epoch)
              m.pending = null
              break
            }
            case 'assign':
              epoch += op.epochStep
              cache.assign(epoch, end)
              m.pending = epoch
              break
            case 'truncateEnd': {
              const to = m.start + Math.floor(op.at * m.records.length)
              // The log truncates only below its end (truncateTo at the end is a no-op).
              if (to < end) {
                cache.truncateFromEnd(to)
                m.records.length = to - m.start
                m.pending = null
              }
              break
            }
            case 'truncateStart': {
              const to = m.start + Math.floor(op.at * m.records.length)
              cache.truncateFromStart(to)
              m.records = m.records.slice(to - m.start)
              m.start = to
              break
            }
          }
          const want = modelEntries(m)
          // truncateFromStart keeps an epoch whose records are all gone at the new start (Kafka does too).
          const got = cache.entries()
          if (m.records.length === 0 && m.pending === null) expect(got.length).toBeLessThanOrEqual(1)
          else expect(got).toEqual(want)
          if (m.records.length > 0 || m.pending !== null) {
            const leo = m.start + m.records.length
            for (let e = -1; e <= epoch + 1; e++) expect(cache.endOffsetFor(e, leo)).toEqual(modelEndOffsetFor(m, e))
          }
        }
      }),
      { seed, numRuns: 300 },
    )
  })

  it('stays strictly monotonic under arbitrary assigns and truncations', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('a' as const), epoch: fc.integer({ min: 0, max: 12 }), offset: fc.integer({ min: 0, max: 60 }) }),
      fc.record({ kind: fc.constant('e' as const), epoch: fc.constant(0), offset: fc.integer({ min: 0, max: 60 }) }),
      fc.record({ kind: fc.constant('s' as const), epoch: fc.constant(0), offset: fc.integer({ min: 0, max: 60 }) }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const cache = new LeaderEpochCache()
        for (const s of steps) {
          if (s.kind === 'a') {
            cache.assign(s.epoch, s.offset)
            // The newest assignment is always the latest entry, unless it was a no-op repeat of the latest epoch.
            expect(cache.latestEpoch).toBe(s.epoch)
          } else if (s.kind === 'e') cache.truncateFromEnd(s.offset)
          else cache.truncateFromStart(s.offset)
          const e = cache.entries()
          for (let i = 1; i < e.length; i++) {
            expect(e[i]!.epoch).toBeGreaterThan(e[i - 1]!.epoch)
            expect(e[i]!.startOffset).toBeGreaterThanOrEqual(e[i - 1]!.startOffset)
          }
          expect(parseEpochCheckpoint(formatEpochCheckpoint(e))).toEqual({ entries: e })
        }
      }),
      { seed, numRuns: 300 },
    )
  })
})

// ---- the log owns the cache ----

let tmp: ReturnType<typeof tempDir>
beforeEach(() => {
  tmp = tempDir()
})
afterEach(() => tmp.cleanup())

async function open(dir: string, opts: { cleanShutdown?: boolean; recoveryPoint?: number } = {}) {
  const logger = recordingLogger()
  const log = await PartitionLog.open(new NodeFileSystem(), new ManualClock(), dir, 'orders', 0, { ...defaultLogConfig, segmentBytes: 400 }, {
    recoveryPoint: opts.recoveryPoint ?? 0,
    logStartOffset: 0,
    cleanShutdown: opts.cleanShutdown ?? false,
    logger,
  })
  return { log, logger }
}

describe('PartitionLog.epochCache', () => {
  it('appends assign epochs, truncateTo trims them, and a clean restart reads the checkpoint', async () => {
    const dir = join(tmp.path, 'orders-0')
    const { log } = await open(dir)
    log.appendAsLeader(batch(2), 0)
    log.appendAsLeader(batch(3), 2)
    log.appendAsLeader(batch(1), 2)
    log.appendAsLeader(batch(2), 5)
    expect(log.epochCache.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 2 }, { epoch: 5, startOffset: 6 }])
    await log.truncateTo(4)
    expect(log.logEndOffset).toBe(2) // cut at the start of the batch holding 4
    expect(log.epochCache.entries()).toEqual([{ epoch: 0, startOffset: 0 }])
    log.appendAsLeader(batch(1), 7)
    // An epoch assigned at the log end with no records (a leadership that wrote nothing) goes on truncateTo(end).
    log.epochCache.assign(8, log.logEndOffset)
    await log.truncateTo(log.logEndOffset)
    expect(log.epochCache.latestEpoch).toBe(7)
    await log.close()
    const again = await open(dir, { cleanShutdown: true, recoveryPoint: 3 })
    expect(again.log.epochCache.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 7, startOffset: 2 }])
    await again.log.close()
  })

  it('is rebuilt from the batches when the checkpoint is missing or corrupt', async () => {
    const dir = join(tmp.path, 'orders-0')
    const { log } = await open(dir)
    for (let i = 0; i < 12; i++) log.appendAsLeader(batch(2), Math.floor(i / 4) * 3)
    const want = [{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 8 }, { epoch: 6, startOffset: 16 }]
    expect(log.epochCache.entries()).toEqual(want)
    expect(log.segmentCount).toBeGreaterThan(1)
    await log.close()
    const fs = new NodeFileSystem()
    const path = join(dir, LEADER_EPOCH_CHECKPOINT)
    fs.unlink(path)
    const missing = await open(dir, { cleanShutdown: true, recoveryPoint: 24 })
    expect(missing.log.epochCache.entries()).toEqual(want)
    await missing.log.close()
    const f = fs.open(path, { truncate: true })
    f.write(Buffer.from('0\n3\n0 0\n'), 0)
    await f.close()
    const corrupt = await open(dir, { cleanShutdown: true, recoveryPoint: 24 })
    expect(corrupt.log.epochCache.entries()).toEqual(want)
    expect(corrupt.logger.lines.some((l) => l.level === 'warn' && l.msg.includes('leader-epoch'))).toBe(true)
    expect(await readEpochCheckpoint(fs, dir)).toEqual({ entries: want })
    await corrupt.log.close()
  })

  it('after an unclean stop, re-derives the tail past the recovery point over a stale checkpoint', async () => {
    const dir = join(tmp.path, 'orders-0')
    const { log } = await open(dir)
    log.appendAsLeader(batch(2), 1)
    log.appendAsLeader(batch(2), 4)
    await log.flush() // checkpoint: (1,0) (4,2)
    await log.truncateTo(2)
    log.appendAsLeader(batch(3), 3) // a follower that truncated and took the leader's epoch 3 at 2
    // No flush: the checkpoint on disk still says epoch 4 starts at 2. Reopen as after a crash.
    const again = await open(dir, { recoveryPoint: 2 })
    expect(again.log.epochCache.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 2 }])
    await again.log.close()
    await log.close().catch(() => {})
  })

  it('appendAsFollower keeps the leader epochs of each batch; retention moves the first entry', async () => {
    const dir = join(tmp.path, 'orders-0')
    const { log } = await open(dir)
    const stamped = (base: number, count: number, epoch: number) => {
      const b = batch(count)
      const v = new RecordBatchView(b)
      v.baseOffset = base
      v.partitionLeaderEpoch = epoch
      return b
    }
    log.appendAsFollower(Buffer.concat([stamped(0, 2, 1), stamped(2, 2, 1), stamped(4, 1, 3)]))
    log.appendAsFollower(stamped(5, 2, 4))
    expect(log.epochCache.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 4 }, { epoch: 4, startOffset: 5 }])
    expect((await readAll(log)).map((b) => [...iterateBatches(b)][0]!.partitionLeaderEpoch)).toEqual([1, 1, 3, 4])
    log.highWatermark = log.logEndOffset
    log.deleteRecordsBefore(3)
    expect(log.epochCache.entries()).toEqual([{ epoch: 1, startOffset: 3 }, { epoch: 3, startOffset: 4 }, { epoch: 4, startOffset: 5 }])
    await log.truncateFullyAndStartAt(10)
    expect(log.epochCache.entries()).toEqual([])
    await log.close()
  })
})
