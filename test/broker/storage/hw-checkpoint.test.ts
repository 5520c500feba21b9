// The high-watermark checkpoint (Kafka's replication-offset-checkpoint) kept by the LogManager: written on the
// clock and at shutdown, restored at open within [log start, log end], the log start when unknown or unreadable.

import { readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { brokerConfigDefs, buildBrokerConfig, ConfigError } from '../../../broker/config.ts'
import { defaultLogConfig, type LogConfig } from '../../../broker/storage/config.ts'
import { NodeFileSystem } from '../../../broker/storage/file-system.ts'
import type { PartitionLog } from '../../../broker/storage/log.ts'
import {
  defaultLogManagerDefaults,
  LogManager,
  type LogManagerDefaults,
  REPLICATION_OFFSET_CHECKPOINT_FILE,
} from '../../../broker/storage/log-manager.ts'
import { until } from '../../helpers/until.ts'
import { batch, recordingLogger, settle, tempDir, type Taps, WrappedFileSystem } from './helpers.ts'

const BATCH = batch(1).length
const HW_TMP = REPLICATION_OFFSET_CHECKPOINT_FILE + '.tmp'

let tmp: ReturnType<typeof tempDir>
beforeEach(() => {
  tmp = tempDir()
})
afterEach(() => tmp.cleanup())

// One segment holds everything; nothing is flushed by time.
const config: LogConfig = { ...defaultLogConfig, segmentBytes: 1 << 20, flushMs: Number.MAX_SAFE_INTEGER }

async function openManager(opts: { defaults?: LogManagerDefaults; clock?: ManualClock; taps?: Taps } = {}) {
  const fs = new WrappedFileSystem(new NodeFileSystem(), opts.taps ?? {})
  const logger = recordingLogger()
  const clock = opts.clock ?? new ManualClock()
  const dataDir = join(tmp.path, 'data')
  const mgr = await LogManager.open(fs, clock, dataDir, { ...config, ...opts.defaults }, logger)
  return { mgr, logger, clock, dataDir, hwFile: join(dataDir, REPLICATION_OFFSET_CHECKPOINT_FILE) }
}

/** `n` one-record batches; the high watermark is left alone. */
function appendN(log: PartitionLog, n: number): void {
  for (let i = 0; i < n; i++) log.appendAsLeader(batch(1), 0)
}

const hwOf = (mgr: LogManager, topic: string, partition: number): number => mgr.get(topic, partition)!.highWatermark

const malformedWarnings = (logger: ReturnType<typeof recordingLogger>) =>
  logger.lines.filter((l) => l.level === 'warn' && String(l.fields?.file).endsWith(REPLICATION_OFFSET_CHECKPOINT_FILE))

describe('high-watermark checkpoint (replication-offset-checkpoint)', () => {
  it('is written at shutdown in Kafka format and restored at open', async () => {
    const first = await openManager()
    const a = first.mgr.getOrCreate('my.topic-x', 0)
    const b = first.mgr.getOrCreate('my.topic-x', 1)
    appendN(a, 10)
    appendN(b, 3)
    // Below the log end, as while followers lag: the restored value must be the checkpointed one, not the LEO.
    a.highWatermark = 7
    b.highWatermark = 2
    await first.mgr.shutdown()
    expect(readFileSync(first.hwFile, 'utf8')).toBe('0\n2\nmy.topic-x 0 7\nmy.topic-x 1 2\n')

    const second = await openManager()
    expect([hwOf(second.mgr, 'my.topic-x', 0), hwOf(second.mgr, 'my.topic-x', 1)]).toEqual([7, 2])
    expect(second.mgr.get('my.topic-x', 0)!.logEndOffset).toBe(10)
    expect(second.logger.lines.filter((l) => l.level !== 'info')).toEqual([])
    await second.mgr.shutdown()
  })

  it('is clamped to the log end when the tail past it was lost', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    appendN(log, 5)
    log.highWatermark = 5
    await first.mgr.checkpointHighWatermarks()
    expect(readFileSync(first.hwFile, 'utf8')).toContain('orders 0 5\n')
    // The process dies and the unflushed last two batches do not survive it.
    const segment = join(log.dir, '0'.padStart(20, '0') + '.log')
    truncateSync(segment, 3 * BATCH)

    const second = await openManager()
    const again = second.mgr.get('orders', 0)!
    expect(again.logEndOffset).toBe(3)
    expect(again.highWatermark).toBe(3)
    await second.mgr.shutdown()
    expect(readFileSync(second.hwFile, 'utf8')).toContain('orders 0 3\n')
  })

  it('is raised to the log start when below it', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    appendN(log, 8)
    log.highWatermark = 8
    log.deleteRecordsBefore(5)
    await first.mgr.shutdown()
    writeFileSync(first.hwFile, '0\n1\norders 0 2\n')

    const second = await openManager()
    expect(second.mgr.get('orders', 0)!.logStartOffset).toBe(5)
    expect(hwOf(second.mgr, 'orders', 0)).toBe(5)
    await second.mgr.shutdown()
  })

  it('starts a partition missing from the file, or with no file at all, at its log start', async () => {
    const first = await openManager()
    const a = first.mgr.getOrCreate('orders', 0)
    appendN(a, 8)
    a.highWatermark = 8
    a.deleteRecordsBefore(3)
    await Promise.all([first.mgr.checkpoint(), first.mgr.checkpointHighWatermarks()])
    // Created after the last high-watermark checkpoint; its log start made it to disk.
    const b = first.mgr.getOrCreate('orders', 1)
    appendN(b, 4)
    b.highWatermark = 4
    b.deleteRecordsBefore(2)
    await first.mgr.checkpoint()
    expect(readFileSync(first.hwFile, 'utf8')).toBe('0\n1\norders 0 8\n')
    // The process dies here.

    const second = await openManager()
    expect([hwOf(second.mgr, 'orders', 0), hwOf(second.mgr, 'orders', 1)]).toEqual([8, 2])
    expect(second.mgr.get('orders', 1)!.logEndOffset).toBe(4)
    // Missing entries are normal (new partitions), not a problem with the file.
    expect(malformedWarnings(second.logger)).toEqual([])
    second.mgr.get('orders', 0)!.highWatermark = 8
    await second.mgr.shutdown()

    new NodeFileSystem().unlink(second.hwFile)
    const third = await openManager()
    expect([hwOf(third.mgr, 'orders', 0), hwOf(third.mgr, 'orders', 1)]).toEqual([3, 2])
    expect(malformedWarnings(third.logger)).toEqual([])
    await third.mgr.shutdown()
  })

  it('ignores a malformed file with a warning: every log starts at its log start', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    appendN(log, 8)
    log.highWatermark = 8
    log.deleteRecordsBefore(3)
    await first.mgr.shutdown()

    const variants = [
      '0\n2\norders 0 6\n', // fewer entries than counted
      '0\n1\norders 0 x\n',
      '0\n1\norders 0 99999999999999999999999\n',
      '1\n1\norders 0 6\n', // unknown version
      '',
      'not a checkpoint',
      Buffer.from([0xff, 0xfe, 0x00, 0x30, 0x0a]),
    ]
    for (const content of variants) {
      writeFileSync(first.hwFile, content)
      const next = await openManager()
      expect(hwOf(next.mgr, 'orders', 0), JSON.stringify(String(content))).toBe(3)
      expect(next.mgr.get('orders', 0)!.logEndOffset).toBe(8)
      expect(malformedWarnings(next.logger).map((l) => l.msg)).toEqual(['ignoring a malformed checkpoint file'])
      next.mgr.get('orders', 0)!.highWatermark = 6
      await next.mgr.shutdown()
      // Replaced by a good one.
      expect(readFileSync(next.hwFile, 'utf8')).toBe('0\n1\norders 0 6\n')
    }
  })

  it('ignores an unreadable file with a warning instead of failing startup', async () => {
    const first = await openManager()
    const log = first.mgr.getOrCreate('orders', 0)
    appendN(log, 8)
    log.highWatermark = 8
    log.deleteRecordsBefore(3)
    await first.mgr.shutdown()

    const eio = (path: string): void => {
      if (path.endsWith(REPLICATION_OFFSET_CHECKPOINT_FILE)) throw new Error(`read ${path}: EIO (injected)`)
    }
    const second = await openManager({ taps: { read: eio } })
    expect(hwOf(second.mgr, 'orders', 0)).toBe(3)
    const warnings = malformedWarnings(second.logger)
    expect(warnings).toHaveLength(1)
    expect(String(warnings[0]!.fields?.problem)).toContain('EIO')
    await second.mgr.shutdown()
  })

  it('is written on the clock every highWatermarkCheckpointMs, and only when a high watermark changed', async () => {
    const clock = new ManualClock()
    let writes = 0
    const { mgr, hwFile } = await openManager({
      clock,
      defaults: { highWatermarkCheckpointMs: 1000 },
      taps: { write: (path) => void (path.endsWith(HW_TMP) && writes++) },
    })
    const log = mgr.getOrCreate('orders', 0)
    appendN(log, 6)
    log.highWatermark = 4
    // A later checkpoint runs after any the timer queued: a barrier.
    const drain = () => mgr.checkpointRecoveryPoints()

    clock.advance(999)
    await drain()
    expect(writes).toBe(0)
    clock.advance(1)
    await until('the first checkpoint write', () => writes === 1, { intervalMs: 1 })
    await drain()
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n1\norders 0 4\n')

    clock.advance(1000)
    await drain()
    clock.advance(1000)
    await drain()
    expect(writes).toBe(1)

    log.highWatermark = 6
    clock.advance(1000)
    await until('the second checkpoint write', () => writes === 2, { intervalMs: 1 })
    await drain()
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n1\norders 0 6\n')

    // A new partition changes the file too.
    mgr.getOrCreate('orders', 1)
    clock.advance(1000)
    await until('the third checkpoint write', () => writes === 3, { intervalMs: 1 })
    await drain()
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n2\norders 0 6\norders 1 0\n')

    // Shutdown with nothing changed since rewrites nothing (the file already says so).
    await mgr.shutdown()
    await settle()
    expect(writes).toBe(3)
    clock.advance(5000)
    await settle()
    expect(writes).toBe(3)
  })

  it('does not skip the write after a failed one, whatever the file now says', async () => {
    let failDirSync = false
    const { mgr, hwFile, dataDir } = await openManager({
      taps: {
        syncDir: (dir) => {
          if (failDirSync && dir === dataDir) throw new Error(`fsync ${dir}: EIO (injected)`)
        },
      },
    })
    const log = mgr.getOrCreate('orders', 0)
    appendN(log, 5)
    log.highWatermark = 2
    await mgr.checkpointHighWatermarks()
    // Renamed into place but not known to be durable: the file now says 5.
    log.highWatermark = 5
    failDirSync = true
    await expect(mgr.checkpointHighWatermarks()).rejects.toThrow(/EIO/)
    failDirSync = false
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n1\norders 0 5\n')
    // Back to what the last successful write held (a truncation lowers it): that must still be written.
    log.highWatermark = 2
    await mgr.checkpointHighWatermarks()
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n1\norders 0 2\n')
    await mgr.shutdown()
  })

  it('drops a deleted partition', async () => {
    const clock = new ManualClock()
    const { mgr, hwFile } = await openManager({ clock, defaults: { highWatermarkCheckpointMs: 1000 } })
    for (const p of [0, 1]) {
      const log = mgr.getOrCreate('orders', p)
      appendN(log, 3 + p)
      log.highWatermark = 3 + p
    }
    await mgr.checkpointHighWatermarks()
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n2\norders 0 3\norders 1 4\n')
    expect(await mgr.delete('orders', 1)).toBe(true)
    clock.advance(1000)
    await mgr.checkpointRecoveryPoints()
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n1\norders 0 3\n')
    await mgr.shutdown()
    expect(readFileSync(hwFile, 'utf8')).toBe('0\n1\norders 0 3\n')
    // Recreated, it starts empty: no stale high watermark.
    const again = await openManager()
    expect(again.mgr.get('orders', 1)).toBeUndefined()
    expect(again.mgr.getOrCreate('orders', 1).highWatermark).toBe(0)
    await again.mgr.shutdown()
  })
})

describe('replica.high.watermark.checkpoint.interval.ms', () => {
  it('defaults to 5000 like Kafka, and must be positive', () => {
    expect(defaultLogManagerDefaults.highWatermarkCheckpointMs).toBe(5000)
    const def = brokerConfigDefs.find((d) => d.name === 'replica.high.watermark.checkpoint.interval.ms')
    expect(def).toMatchObject({ type: 'long', default: '5000', min: 1 })
    const flags = (v?: string) => [
      { key: 'node.id', value: '1', where: '--node-id' },
      { key: 'log.dirs', value: tmp.path, where: '--data-dir' },
      ...(v === undefined ? [] : [{ key: 'replica.high.watermark.checkpoint.interval.ms', value: v, where: '--override' }]),
    ]
    expect(buildBrokerConfig({ flags: flags() }).int('replica.high.watermark.checkpoint.interval.ms')).toBe(5000)
    expect(buildBrokerConfig({ flags: flags('250') }).int('replica.high.watermark.checkpoint.interval.ms')).toBe(250)
    expect(() => buildBrokerConfig({ flags: flags('0') })).toThrow(ConfigError)
  })
})
