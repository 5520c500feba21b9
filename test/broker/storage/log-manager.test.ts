import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { RecordBatchView } from '../../../broker/protocol/record-batch.ts'
import { readCheckpoint } from '../../../broker/storage/checkpoint.ts'
import { defaultLogConfig, type LogConfig } from '../../../broker/storage/config.ts'
import { NodeFileSystem } from '../../../broker/storage/file-system.ts'
import type { PartitionLog } from '../../../broker/storage/log.ts'
import {
  CLEAN_SHUTDOWN_FILE,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  LogManager,
  type LogManagerDefaults,
  parsePartitionDirName,
  RECOVERY_POINT_CHECKPOINT_FILE,
} from '../../../broker/storage/log-manager.ts'
import { until } from '../../helpers/until.ts'
import { batch, readAll, recordingLogger, settle, tempDir, WrappedFileSystem } from './helpers.ts'

const BATCH = batch(1).length

let tmp: ReturnType<typeof tempDir>
beforeEach(() => {
  tmp = tempDir()
})
afterEach(() => tmp.cleanup())

const small: LogConfig = { ...defaultLogConfig, segmentBytes: 3 * BATCH, indexIntervalBytes: 2 * BATCH, flushMs: Number.MAX_SAFE_INTEGER }

/** A manager over tmp.path/data whose .log reads are counted per file name. */
async function openManager(defaults: LogManagerDefaults = small, clock = new ManualClock()) {
  const reads = new Map<string, number>()
  const fs = new WrappedFileSystem(new NodeFileSystem(), {
    read: (path) => {
      const name = path.slice(path.lastIndexOf('/') + 1)
      if (name.endsWith('.log')) reads.set(name, (reads.get(name) ?? 0) + 1)
    },
  })
  const logger = recordingLogger()
  const mgr = await LogManager.open(fs, clock, join(tmp.path, 'data'), defaults, logger)
  return { mgr, reads, logger, clock, dataDir: join(tmp.path, 'data') }
}

function appendN(log: PartitionLog, n: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const b = batch(1, { fill: 0x30 + (i % 40) })
    log.appendAsLeader(b, 0)
    out.push(Buffer.from(b))
  }
  log.highWatermark = log.logEndOffset
  return out
}

const segName = (base: number, suffix = '.log') => String(base).padStart(20, '0') + suffix

describe('partition directory names', () => {
  it('splits at the last dash and accepts Kafka topic characters', () => {
    expect(parsePartitionDirName('my.topic_v2-with-dashes-12')).toEqual({ topic: 'my.topic_v2-with-dashes', partition: 12 })
    expect(parsePartitionDirName('orders-0')).toEqual({ topic: 'orders', partition: 0 })
    expect(parsePartitionDirName('orders-0.abc-delete')).toBeNull()
    expect(parsePartitionDirName('recovery-point-offset-checkpoint')).toBeNull()
    expect(parsePartitionDirName('-3')).toBeNull()
  })
})

describe('LogManager', () => {
  it('writes both checkpoints in Kafka format and reads them back', async () => {
    const { mgr, dataDir } = await openManager()
    const a = mgr.getOrCreate('my.topic-x', 0)
    const b = mgr.getOrCreate('my.topic-x', 1)
    appendN(a, 7)
    appendN(b, 2)
    await a.flush()
    a.deleteRecordsBefore(4)
    await mgr.checkpoint()
    const rp = await readCheckpoint(new NodeFileSystem(), join(dataDir, RECOVERY_POINT_CHECKPOINT_FILE))
    const ls = await readCheckpoint(new NodeFileSystem(), join(dataDir, LOG_START_OFFSET_CHECKPOINT_FILE))
    expect('offsets' in rp && [...rp.offsets.values()].sort()).toEqual([0, 7])
    expect('offsets' in ls && [...ls.offsets.values()].sort()).toEqual([0, 4])
    const text = readFileSync(join(dataDir, RECOVERY_POINT_CHECKPOINT_FILE), 'utf8')
    expect(text.split('\n').slice(0, 2)).toEqual(['0', '2'])
    expect(text).toContain('my.topic-x 0 7\n')
    expect(readdirSync(dataDir).filter((n) => n.endsWith('.tmp'))).toEqual([])
    await mgr.shutdown()
  })

  it('restarts after a clean shutdown reading only the active segment tail', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    const batches = appendN(log, 20)
    const segments = log.segmentBaseOffsets()
    expect(segments.length).toBeGreaterThan(5)
    await first.mgr.shutdown()
    expect(existsSync(join(first.dataDir, CLEAN_SHUTDOWN_FILE))).toBe(true)

    const second = await openManager()
    expect(existsSync(join(second.dataDir, CLEAN_SHUTDOWN_FILE))).toBe(false)
    const again = second.mgr.get('orders', 0)!
    expect([again.logEndOffset, again.recoveryPoint]).toEqual([20, 20])
    expect([...second.reads.keys()]).toEqual([segName(segments[segments.length - 1]!)])
    expect(second.logger.lines.filter((l) => l.level !== 'info')).toEqual([])
    expect(await readAll(again)).toEqual(batches)
    expect(again.appendAsLeader(batch(1), 0).firstOffset).toBe(20)
    await second.mgr.shutdown()
  })

  it('recovers after an unclean stop: a torn tail is cut, with a warning, and offsets continue', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    const batches = appendN(log, 5)
    const active = join(log.dir, segName(log.segmentBaseOffsets().at(-1)!))
    // A torn write: the first 40 bytes of a batch made it to the file.
    appendFileSync(active, batch(1).subarray(0, 40))

    const second = await openManager()
    const again = second.mgr.get('orders', 0)!
    expect(again.logEndOffset).toBe(5)
    const warning = second.logger.lines.find((l) => l.msg === 'truncated an invalid log tail')
    expect(warning?.fields?.bytes).toBe(40)
    expect(await readAll(again)).toEqual(batches)
    expect(again.appendAsLeader(batch(1), 0).firstOffset).toBe(5)
    await second.mgr.shutdown()
  })

  it('re-reads only the segments from the one holding the recovery point on', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    appendN(log, 10)
    await log.flush()
    await first.mgr.checkpointRecoveryPoints()
    const rp = log.recoveryPoint
    const flushedSegments = log.segmentBaseOffsets()
    appendN(log, 8)
    const all = log.segmentBaseOffsets()
    await settle()
    // No shutdown: the process "dies" here.

    const second = await openManager()
    // The segment holding the last flushed offset (rp - 1) and every later one.
    const holding = flushedSegments.filter((b) => b < rp).at(-1)!
    const expected = all.filter((b) => b >= holding).map((b) => segName(b))
    expect(rp).toBe(10)
    expect([...second.reads.keys()].sort()).toEqual(expected)
    for (const b of all.filter((x) => x < holding)) expect(second.reads.has(segName(b))).toBe(false)
    expect(second.mgr.get('orders', 0)!.logEndOffset).toBe(18)
    await second.mgr.shutdown()
  })

  it('also re-reads the previous segment when the recovery point is a segment boundary', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    appendN(log, 9)
    await log.flush()
    await first.mgr.checkpointRecoveryPoints()
    expect(log.segmentBaseOffsets()).toEqual([0, 3, 6])
    // Rolled after the checkpoint: segment 6 became inactive with its last index writes maybe not on disk.
    appendN(log, 1)
    await settle()

    const second = await openManager()
    expect([...second.reads.keys()].sort()).toEqual([segName(6), segName(9)])
    expect(second.mgr.get('orders', 0)!.logEndOffset).toBe(10)
    await second.mgr.shutdown()
  })

  it('recovers batches larger than one scan read', async () => {
    const first = await openManager({ ...small, segmentBytes: 64 << 20 })
    const log = first.mgr.getOrCreate('big', 0)
    const batches = [batch(1), batch(3, { valueBytes: 700_000 }), batch(1), batch(2, { valueBytes: 1_200_000 })].map((b) => {
      log.appendAsLeader(b, 0)
      return Buffer.from(b)
    })
    const second = await openManager({ ...small, segmentBytes: 64 << 20 })
    const again = second.mgr.get('big', 0)!
    expect(again.logEndOffset).toBe(7)
    // Buffer.equals: a deep toEqual walks megabytes element by element.
    const read = await readAll(again)
    expect(read.length).toBe(batches.length)
    expect(read.every((b, i) => b.equals(batches[i]!))).toBe(true)
    expect(second.logger.lines.filter((l) => l.level !== 'info')).toEqual([])
    await second.mgr.shutdown()
  })

  it('deletes segments following a corrupt one', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    const batches = appendN(log, 9)
    const [s0, s1, s2] = log.segmentBaseOffsets()
    expect([s0, s1, s2]).toEqual([0, 3, 6])
    // Corrupt one byte inside the second batch of segment 3: its CRC fails.
    const path = join(log.dir, segName(3))
    const bytes = readFileSync(path)
    bytes[BATCH + 70] = bytes[BATCH + 70]! ^ 0xff
    writeFileSync(path, bytes)

    const second = await openManager()
    const again = second.mgr.get('orders', 0)!
    expect(again.logEndOffset).toBe(4)
    expect(again.segmentBaseOffsets()).toEqual([0, 3])
    expect(existsSync(join(log.dir, segName(6)))).toBe(false)
    expect(await readAll(again)).toEqual(batches.slice(0, 4))
    expect(second.logger.lines.some((l) => l.msg === 'deleting segments after a corrupt point')).toBe(true)
    await second.mgr.shutdown()
  })

  it('cleans up leftovers of crashes during roll, deletion, cleaning and swaps', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    const batches = appendN(log, 7)
    await first.mgr.shutdown()
    const dir = log.dir
    // A crash while rolling: an empty next segment with its indexes.
    for (const s of ['.log', '.index', '.timeindex']) writeFileSync(join(dir, segName(7, s)), '')
    // A crash during deletion and cleaning, an orphaned index and a half-written checkpoint.
    writeFileSync(join(dir, segName(0, '.log.deleted')), 'x')
    writeFileSync(join(dir, segName(3, '.log.cleaned')), 'x')
    writeFileSync(join(dir, segName(99, '.index')), '')
    writeFileSync(join(dir, segName(3, '.index.swap')), '')
    writeFileSync(join(tmp.path, 'data', RECOVERY_POINT_CHECKPOINT_FILE + '.tmp'), 'garbage')
    mkdirSync(join(tmp.path, 'data', 'orders-1.xyz-delete'))
    writeFileSync(join(tmp.path, 'data', 'orders-1.xyz-delete', segName(0)), 'x')

    const second = await openManager()
    const again = second.mgr.get('orders', 0)!
    expect(again.segmentBaseOffsets()).toEqual([0, 3, 6, 7])
    expect(again.logEndOffset).toBe(7)
    // Buffer.equals: a deep toEqual walks megabytes element by element.
    const read = await readAll(again)
    expect(read.length).toBe(batches.length)
    expect(read.every((b, i) => b.equals(batches[i]!))).toBe(true)
    const names = readdirSync(dir)
    expect(names.filter((n) => /deleted|cleaned|swap/.test(n) || n === segName(99, '.index'))).toEqual([])
    expect(readdirSync(join(tmp.path, 'data')).filter((n) => n.endsWith('.tmp') || n.endsWith('-delete'))).toEqual([])
    expect(again.appendAsLeader(batch(1), 0).firstOffset).toBe(7)
    await second.mgr.shutdown()
  })

  it('completes an interrupted swap', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    const batches = appendN(log, 6)
    await first.mgr.shutdown()
    // The swap replaces segments 0 and 3 with one segment holding the same batches.
    const dir = log.dir
    writeFileSync(join(dir, segName(0, '.log.swap')), Buffer.concat([readFileSync(join(dir, segName(0))), readFileSync(join(dir, segName(3)))]))
    rmLog(dir, 0)
    const second = await openManager()
    const again = second.mgr.get('orders', 0)!
    expect(again.segmentBaseOffsets()).toEqual([0])
    expect(await readAll(again)).toEqual(batches)
    expect(readdirSync(dir).filter((n) => n.includes('swap'))).toEqual([])
    await second.mgr.shutdown()
  })

  it('runs retention and checkpoints on the clock', async () => {
    const clock = new ManualClock()
    const { mgr, dataDir } = await openManager({ ...small, retentionBytes: 3 * BATCH, retentionCheckMs: 1000, flushCheckpointMs: 500 }, clock)
    const log = mgr.getOrCreate('orders', 0)
    appendN(log, 10)
    await log.flush()
    clock.advance(500)
    await until('orders-0 at 10 in the recovery point checkpoint', () => existsSync(join(dataDir, RECOVERY_POINT_CHECKPOINT_FILE)) && readFileSync(join(dataDir, RECOVERY_POINT_CHECKPOINT_FILE), 'utf8').includes('orders 0 10'), { intervalMs: 1 })
    expect(log.logStartOffset).toBe(0)
    clock.advance(500)
    expect(log.logStartOffset).toBe(6)
    expect(log.sizeInBytes()).toBeLessThanOrEqual(4 * BATCH)
    await mgr.shutdown()
  })

  it('deletes a partition directory and forgets it', async () => {
    const { mgr, dataDir } = await openManager()
    const log = mgr.getOrCreate('orders', 0)
    mgr.getOrCreate('orders', 1)
    appendN(log, 4)
    expect(await mgr.delete('orders', 0)).toBe(true)
    expect(await mgr.delete('orders', 0)).toBe(false)
    expect(readdirSync(dataDir).filter((n) => n.startsWith('orders-0'))).toEqual([])
    expect(mgr.get('orders', 0)).toBeUndefined()
    expect(readFileSync(join(dataDir, RECOVERY_POINT_CHECKPOINT_FILE), 'utf8')).not.toContain('orders 0 ')
    expect(mgr.getOrCreate('orders', 0).logEndOffset).toBe(0)
    await mgr.shutdown()
  })

  it('applies a given config to an existing log and rejects illegal names', async () => {
    const { mgr } = await openManager()
    const log = mgr.getOrCreate('orders', 0)
    const changed = { ...small, retentionMs: 5 }
    expect(mgr.getOrCreate('orders', 0, changed)).toBe(log)
    expect(log.config).toBe(changed)
    expect(() => mgr.getOrCreate('bad/name', 0)).toThrow(RangeError)
    expect(() => mgr.getOrCreate('ok', -1)).toThrow(RangeError)
    await mgr.shutdown()
  })

  it('ignores a malformed checkpoint and recovers everything', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    const batches = appendN(log, 5)
    await first.mgr.shutdown()
    rmMarker(first.dataDir)
    writeFileSync(join(first.dataDir, RECOVERY_POINT_CHECKPOINT_FILE), '0\n5\norders 0 x\n')
    const second = await openManager()
    expect(second.logger.lines.some((l) => l.msg === 'ignoring a malformed checkpoint file')).toBe(true)
    expect(second.reads.size).toBe(log.segmentBaseOffsets().length)
    expect(await readAll(second.mgr.get('orders', 0)!)).toEqual(batches)
    await second.mgr.shutdown()
  })

  it('keeps the leader epoch stamped by appends across restarts', async () => {
    const first = await openManager()
    first.mgr.getOrCreate('orders', 0).appendAsLeader(batch(2), 9)
    await first.mgr.shutdown()
    const second = await openManager()
    const [b] = await readAll(second.mgr.get('orders', 0)!)
    expect(new RecordBatchView(b!).partitionLeaderEpoch).toBe(9)
    await settle()
    await second.mgr.shutdown()
    expect(statSync(join(second.dataDir, CLEAN_SHUTDOWN_FILE)).size).toBe(0)
  })
})

function rmLog(dir: string, base: number): void {
  for (const s of ['.log', '.index', '.timeindex']) {
    const p = join(dir, segName(base, s))
    if (existsSync(p)) new NodeFileSystem().unlink(p)
  }
}

function rmMarker(dataDir: string): void {
  new NodeFileSystem().unlink(join(dataDir, CLEAN_SHUTDOWN_FILE))
}
