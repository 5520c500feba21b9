// LogManager: owns <dataDir> (Kafka's LogManager for one log directory).
//
// <dataDir>/
//   <topic>-<partition>/               one PartitionLog each (the name is split at the last '-')
//   <topic>-<partition>.<id>-delete/   a deleted partition on its way out (removed at the next open)
//   recovery-point-offset-checkpoint   per partition: offsets below are fsynced (recovery starts there)
//   log-start-offset-checkpoint        per partition: the log start offset (DeleteRecords, retention)
//   replication-offset-checkpoint      per partition: the high watermark (Kafka's; restored, clamped, at open)
//   .clean-shutdown                    written last by shutdown(); removed (durably) by open()
//
// Periodic work runs on the Clock: recovery-point, log-start and high-watermark checkpoints, retention. Flushing
// by flush.ms is armed by each log itself at its first unflushed append.

import { dirname, join } from 'node:path'
import type { Clock, TimerHandle } from '../clock.ts'
import { checkpointKey, formatCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.ts'
import { defaultLogConfig, type LogConfig, type Logger } from './config.ts'
import type { FileSystem } from './file-system.ts'
import { DEFAULT_TAIL_CACHE_BYTES, PartitionLog } from './log.ts'

export const CLEAN_SHUTDOWN_FILE = '.clean-shutdown'
export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-offset-checkpoint'
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint'
export const REPLICATION_OFFSET_CHECKPOINT_FILE = 'replication-offset-checkpoint'
const DELETE_DIR_SUFFIX = '-delete'

/** Broker-level log defaults (log.* settings; missing ones take Kafka's) and the LogManager's own intervals. */
export interface LogManagerDefaults extends Partial<LogConfig> {
  /** log.flush.offset.checkpoint.interval.ms (60000): recovery-point checkpoint. */
  flushCheckpointMs?: number
  /** log.flush.start.offset.checkpoint.interval.ms (60000): log-start-offset checkpoint. */
  startOffsetCheckpointMs?: number
  /** replica.high.watermark.checkpoint.interval.ms (5000): high-watermark (replication-offset) checkpoint. */
  highWatermarkCheckpointMs?: number
  /** log.retention.check.interval.ms (300000). */
  retentionCheckMs?: number
  /** Per partition: bytes of recent appends kept in memory for tailing consumers. */
  tailCacheBytes?: number
  /** Partitions loaded at once at startup (num.recovery.threads.per.data.dir). */
  recoveryConcurrency?: number
}

export const defaultLogManagerDefaults: Readonly<Required<LogManagerDefaults>> = {
  ...defaultLogConfig,
  flushCheckpointMs: 60_000,
  startOffsetCheckpointMs: 60_000,
  highWatermarkCheckpointMs: 5_000,
  retentionCheckMs: 300_000,
  tailCacheBytes: DEFAULT_TAIL_CACHE_BYTES,
  recoveryConcurrency: 8,
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/

export function isLegalTopicName(topic: string): boolean {
  return topic.length > 0 && topic.length <= 249 && topic !== '.' && topic !== '..' && LEGAL_TOPIC.test(topic)
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

/** `<topic>-<partition>` split at the last '-'; null for anything else (checkpoints, deleted dirs, strays). */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | null {
  const dash = name.lastIndexOf('-')
  if (dash <= 0) return null
  const topic = name.slice(0, dash)
  const digits = name.slice(dash + 1)
  if (!/^\d{1,9}$/.test(digits) || !isLegalTopicName(topic)) return null
  return { topic, partition: Number(digits) }
}

const logConfigOf = (d: Required<LogManagerDefaults>): LogConfig => ({
  segmentBytes: d.segmentBytes,
  segmentMs: d.segmentMs,
  segmentIndexBytes: d.segmentIndexBytes,
  indexIntervalBytes: d.indexIntervalBytes,
  retentionMs: d.retentionMs,
  retentionBytes: d.retentionBytes,
  flushMessages: d.flushMessages,
  flushMs: d.flushMs,
  fileDeleteDelayMs: d.fileDeleteDelayMs,
})

const noop = (): void => {}

export class LogManager {
  readonly dataDir: string
  /** Topic config for logs created without one and for logs loaded at startup until the caller sets theirs. */
  readonly defaults: LogConfig
  readonly #fs: FileSystem
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #settings: Required<LogManagerDefaults>
  readonly #logs = new Map<string, PartitionLog>()
  #timers: TimerHandle[] = []
  #checkpoints: Promise<void> = Promise.resolve()
  /** Per checkpoint file written only when changed: the text of its last successful write. */
  readonly #written = new Map<string, string>()
  #stopped = false

  private constructor(fs: FileSystem, clock: Clock, dataDir: string, settings: Required<LogManagerDefaults>, logger: Logger) {
    this.#fs = fs
    this.#clock = clock
    this.dataDir = dataDir
    this.#settings = settings
    this.defaults = logConfigOf(settings)
    this.#logger = logger
  }

  /** Loads every partition under `dataDir` (recovering them after an unclean stop) and starts the periodic tasks. */
  static async open(fs: FileSystem, clock: Clock, dataDir: string, defaults: LogManagerDefaults, logger: Logger): Promise<LogManager> {
    const settings: Required<LogManagerDefaults> = { ...defaultLogManagerDefaults, ...withoutUndefined(defaults) }
    const mgr = new LogManager(fs, clock, dataDir, settings, logger)
    if (!fs.exists(dataDir)) {
      fs.mkdirp(dataDir)
      await fs.syncDir(dirname(dataDir))
    }
    const names = fs.list(dataDir)
    for (const name of names) {
      if (name.endsWith('.tmp')) fs.unlink(join(dataDir, name))
      else if (name.endsWith(DELETE_DIR_SUFFIX)) await fs.rmrf(join(dataDir, name))
    }
    const markerPath = join(dataDir, CLEAN_SHUTDOWN_FILE)
    const cleanShutdown = fs.exists(markerPath)
    const recoveryPoints = await mgr.#readCheckpoint(RECOVERY_POINT_CHECKPOINT_FILE)
    const logStarts = await mgr.#readCheckpoint(LOG_START_OFFSET_CHECKPOINT_FILE)
    // Losing it only hides committed records until the leader moves the high watermark again: never fatal.
    const highWatermarks = await mgr.#readCheckpoint(REPLICATION_OFFSET_CHECKPOINT_FILE, true)

    const todo = names.flatMap((name) => {
      // The metadata quorum's log lives beside the partitions, as in Kafka, and is not a partition of ours.
      if (name === '__cluster_metadata-0') return []
      const parsed = parsePartitionDirName(name)
      return parsed ? [{ name, ...parsed }] : []
    })
    const started = clock.monotonic()
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const { name, topic, partition } = todo[next++]!
        const key = checkpointKey(topic, partition)
        const log = await PartitionLog.open(fs, clock, join(dataDir, name), topic, partition, mgr.defaults, {
          recoveryPoint: recoveryPoints.get(key) ?? 0,
          logStartOffset: logStarts.get(key) ?? 0,
          cleanShutdown,
          logger,
          tailCacheBytes: settings.tailCacheBytes,
          checkpoint: () => mgr.checkpoint(),
        })
        // As Kafka: the checkpointed high watermark kept within the log as recovered, the log start when unknown.
        const hw = highWatermarks.get(key)
        log.highWatermark = hw === undefined ? log.logStartOffset : Math.min(Math.max(hw, log.logStartOffset), log.logEndOffset)
        mgr.#logs.set(key, log)
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.max(1, settings.recoveryConcurrency) }, worker))
    } catch (e) {
      await Promise.allSettled(mgr.all().map((l) => l.close()))
      throw e
    }
    if (cleanShutdown) {
      // Durably gone before any write, or a crash after new appends would be taken for a clean stop.
      fs.unlink(markerPath)
      await fs.syncDir(dataDir)
    }
    logger.info('loaded logs', { dataDir, partitions: todo.length, cleanShutdown, ms: Math.round(clock.monotonic() - started) })
    mgr.#startTimers()
    return mgr
  }

  /** A malformed file reads as empty, with a warning; so does an unreadable one when `tolerateErrors`. */
  async #readCheckpoint(name: string, tolerateErrors = false): Promise<Map<string, number>> {
    let res: Awaited<ReturnType<typeof readCheckpoint>>
    try {
      res = await readCheckpoint(this.#fs, join(this.dataDir, name))
    } catch (e) {
      if (!tolerateErrors) throw e
      res = { problem: `unreadable: ${String(e)}` }
    }
    if ('offsets' in res) return res.offsets
    this.#logger.warn('ignoring a malformed checkpoint file', { file: join(this.dataDir, name), problem: res.problem })
    return new Map()
  }

  #startTimers(): void {
    const s = this.#settings
    const every = (ms: number, fn: () => void): void => {
      if (ms > 0 && ms <= 0x7fffffff) this.#timers.push(this.#clock.setInterval(fn, ms))
    }
    const report = (what: string) => (e: unknown) => this.#logger.error(`${what} failed`, { dataDir: this.dataDir, error: String(e) })
    every(s.flushCheckpointMs, () => void this.checkpointRecoveryPoints().catch(report('recovery-point checkpoint')))
    every(s.startOffsetCheckpointMs, () => void this.checkpointLogStartOffsets().catch(report('log-start-offset checkpoint')))
    every(s.highWatermarkCheckpointMs, () => void this.checkpointHighWatermarks().catch(report('high-watermark checkpoint')))
    every(s.retentionCheckMs, () => this.applyRetention())
  }

  /** The partition's log, created empty when new. A given config replaces the log's current one. */
  getOrCreate(topic: string, partition: number, config?: LogConfig): PartitionLog {
    const key = checkpointKey(topic, partition)
    const existing = this.#logs.get(key)
    if (existing) {
      if (config) existing.config = config
      return existing
    }
    if (this.#stopped) throw new Error('LogManager.getOrCreate: the manager is shut down')
    if (!isLegalTopicName(topic)) throw new RangeError(`illegal topic name ${JSON.stringify(topic)}: use [a-zA-Z0-9._-], at most 249 characters`)
    if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`illegal partition ${partition}`)
    const log = PartitionLog.create(this.#fs, this.#clock, join(this.dataDir, partitionDirName(topic, partition)), topic, partition, config ?? this.defaults, {
      logger: this.#logger,
      tailCacheBytes: this.#settings.tailCacheBytes,
      checkpoint: () => this.checkpoint(),
    })
    this.#logs.set(key, log)
    return log
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.#logs.get(checkpointKey(topic, partition))
  }

  all(): PartitionLog[] {
    return [...this.#logs.values()]
  }

  /** Removes the partition and its directory; false when there was none. */
  async delete(topic: string, partition: number): Promise<boolean> {
    const key = checkpointKey(topic, partition)
    const log = this.#logs.get(key)
    if (!log) return false
    this.#logs.delete(key)
    await log.delete()
    await Promise.all([this.checkpoint(), this.checkpointHighWatermarks()])
    return true
  }

  /** Runs retention on every log now; returns the bytes freed. */
  applyRetention(): number {
    let freed = 0
    const now = this.#clock.now()
    for (const log of this.#logs.values()) {
      try {
        freed += log.applyRetention(now)
      } catch (e) {
        this.#logger.error('retention failed', { topic: log.topic, partition: log.partition, error: String(e) })
      }
    }
    return freed
  }

  checkpointRecoveryPoints(): Promise<void> {
    return this.#enqueue(RECOVERY_POINT_CHECKPOINT_FILE, (log) => log.recoveryPoint)
  }

  checkpointLogStartOffsets(): Promise<void> {
    return this.#enqueue(LOG_START_OFFSET_CHECKPOINT_FILE, (log) => log.logStartOffset)
  }

  /** The high watermarks (replication-offset-checkpoint); no write when unchanged since the last one. */
  checkpointHighWatermarks(): Promise<void> {
    return this.#enqueue(REPLICATION_OFFSET_CHECKPOINT_FILE, (log) => log.highWatermark, true)
  }

  /** The recovery-point and log-start-offset checkpoints (what truncation and log loading depend on). */
  checkpoint(): Promise<void> {
    return Promise.all([this.checkpointRecoveryPoints(), this.checkpointLogStartOffsets()]).then(noop)
  }

  // Checkpoint writes run one at a time (they share the .tmp names); each reads the offsets when it runs.
  #enqueue(file: string, offsetOf: (log: PartitionLog) => number, skipUnchanged = false): Promise<void> {
    const run = this.#checkpoints.catch(noop).then(async () => {
      const entries = this.all().map((log) => ({ topic: log.topic, partition: log.partition, offset: offsetOf(log) }))
      if (!skipUnchanged) return writeCheckpoint(this.#fs, join(this.dataDir, file), entries)
      const text = formatCheckpoint(entries)
      if (this.#written.get(file) === text) return
      // Forgotten first: after a failed write the file's content is unknown, so the next one must not be skipped.
      this.#written.delete(file)
      await writeCheckpoint(this.#fs, join(this.dataDir, file), entries)
      this.#written.set(file, text)
    })
    this.#checkpoints = run
    return run
  }

  /**
   * Clean shutdown: flush and close every log, write the checkpoints (the high watermarks as they are now, so
   * the caller stops moving them first), then the .clean-shutdown marker (only if all of that succeeded, so the
   * next start recovers whatever this one could not make durable).
   */
  async shutdown(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of this.#timers) t.cancel()
    this.#timers = []
    let clean = true
    await Promise.all(
      this.all().map(async (log) => {
        try {
          await log.close()
        } catch (e) {
          clean = false
          this.#logger.error('closing a log failed', { topic: log.topic, partition: log.partition, error: String(e) })
        }
      }),
    )
    for (const r of await Promise.allSettled([this.checkpoint(), this.checkpointHighWatermarks()])) {
      if (r.status === 'fulfilled') continue
      clean = false
      this.#logger.error('writing checkpoints at shutdown failed', { dataDir: this.dataDir, error: String(r.reason) })
    }
    if (!clean) return
    const marker = this.#fs.open(join(this.dataDir, CLEAN_SHUTDOWN_FILE), { create: true, truncate: true })
    await marker.sync()
    await marker.close()
    await this.#fs.syncDir(this.dataDir)
    this.#logger.info('clean shutdown', { dataDir: this.dataDir, partitions: this.#logs.size })
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
