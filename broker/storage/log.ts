// PartitionLog: the durable log of one topic-partition, <dataDir>/<topic>-<partition>/ (Kafka's UnifiedLog +
// LocalLog).
//
// Append path: offsets are assigned by patching the batch headers in place (baseOffset and partitionLeaderEpoch
// sit outside the CRC), then the whole request is one synchronous write into the page cache. Index entries are
// kept in memory and reach their files at flush, roll and close; nothing per record is looked at.
//
// Durability: flush() fsyncs every file written since the previous flush (segments, indexes, the directory when
// entries changed) and then advances the recovery point. Flushes are serialized and appends that arrive while
// one runs share the next one (group commit), which is how flush.messages=1 stays fast. A roll starts a flush
// of the rolled segment at once (Kafka flushes up to the new segment's base offset).
//
// Truncation lowers the recovery point and has it checkpointed (opts.checkpoint) before any file changes, so a
// crash halfway through is repaired by recovery instead of trusting half-truncated segments.
//
// Leader epochs: epochCache maps each leader epoch in the log to its first offset (appends assign the batches'
// partitionLeaderEpoch; truncation and log-start moves trim it). It is checkpointed by every flush before the
// recovery point moves, so recovery only re-derives it for the unflushed tail.
//
// Errors: a failed write is undone (the file is cut back) and thrown as StorageError with no offsets assigned; a
// failed fsync takes the log offline (Kafka marks the log directory offline): later appends throw StorageError.

import { dirname } from 'node:path'
import { Compression, checkBatchFrame, decodeRecords, HEADER_SIZE, LOG_OVERHEAD, RecordBatchView } from '../protocol/record-batch.ts'
import type { Clock, TimerHandle } from '../clock.ts'
import type { LogConfig, Logger } from './config.ts'
import { type FileSystem, StorageError } from './file-system.ts'
import { LeaderEpochCache } from './leader-epoch-cache.ts'
import { loadLeaderEpochCache, loadLog } from './log-loader.ts'
import { forEachBatch, LOG_SUFFIX, LogSegment } from './segment.ts'
import { TailCache } from './tail-cache.ts'
import { readInt64, writeInt64 } from './time-index.ts'

export type { LogConfig, Logger } from './config.ts'
export { defaultLogConfig, silentLogger } from './config.ts'

const INT32_MAX = 0x7fffffff
/** Longest delay a timer can take (Node turns larger ones into 1 ms). */
const MAX_TIMER_MS = 0x7fffffff
const READ_WINDOW_MIN = 64 * 1024
/** Most bytes one read takes from disk (more than any fetch asks for per partition); one batch may exceed it. */
const READ_MAX_BYTES = 64 * 1024 * 1024
/** The batch a timestamp search wants sits within about index.interval.bytes of where it starts reading. */
const TIMESTAMP_SCAN_CHUNK_BYTES = 64 * 1024
// Off by default: holding produced frames for tailing readers kept them alive past the young generation, and
// the large external buffers behind them then forced a mark-compact every ~40 ms under kcat load (83 full
// GCs against 1 for 1.2 GB produced; about 12% slower). Tailing reads come from the page cache instead.
export const DEFAULT_TAIL_CACHE_BYTES = 0

const RESOLVED: Promise<void> = Promise.resolve()
const noop = (): void => {}

export interface PartitionLogOptions {
  /** From the recovery-point checkpoint; 0 when unknown (everything is re-checked). */
  recoveryPoint: number
  /** From the log-start-offset checkpoint; 0 when unknown. */
  logStartOffset: number
  cleanShutdown: boolean
  logger: Logger
  /** Bytes of recent appends kept in memory for tailing readers. */
  tailCacheBytes?: number
  /** Writes the recovery-point and log-start-offset checkpoints (the LogManager's); truncation awaits it. */
  checkpoint?: () => Promise<void>
}

export type ReadResult =
  | { kind: 'ok'; records: Buffer[]; bytes: number }
  | { kind: 'out-of-range'; logStartOffset: number; logEndOffset: number }

export interface LeaderAppendResult {
  firstOffset: number
  lastOffset: number
  maxTimestamp: number
  durable: Promise<void>
}

/**
 * appendAsFollower's answer. The errors are batches that do not continue the log (Kafka's
 * UnexpectedAppendOffset / OffsetsOutOfOrder) or that are not well-framed; nothing was written then.
 */
export type FollowerAppendResult =
  | { kind: 'ok'; lastOffset: number; durable: Promise<void> }
  | { kind: 'error'; code: 'UNEXPECTED_APPEND_OFFSET' | 'OFFSETS_OUT_OF_ORDER' | 'CORRUPT_MESSAGE'; message: string }

interface Deferred {
  promise: Promise<void>
  resolve(): void
  reject(e: unknown): void
}

function deferred(): Deferred {
  let resolve = noop
  let reject: (e: unknown) => void = noop
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // Marked handled: an append whose caller ignores `durable` must not crash the process when an fsync fails.
  promise.catch(noop)
  return { promise, resolve, reject }
}

let tombstoneSeq = 0

export class PartitionLog {
  readonly topic: string
  readonly partition: number
  readonly dir: string
  /** Topic-level settings; may be replaced at runtime (a topic config change). */
  config: LogConfig
  /**
   * Maintained by the caller (replication); starts at the log end offset, which LogManager.open replaces with
   * the checkpointed value (or the log start). Bounds retention and DeleteRecords like Kafka's.
   */
  highWatermark: number
  /** Leader epoch -> first offset, for the epochs present in the log (Kafka's LeaderEpochFileCache). */
  readonly epochCache: LeaderEpochCache

  readonly #fs: FileSystem
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #checkpoint: (() => Promise<void>) | undefined
  #segments: LogSegment[]
  #logStartOffset: number
  #logEndOffset: number
  #size: number
  #flushedOffset: number
  /** Bumped when a truncation starts and when it has changed the files; a flush spanning one does not count. */
  #truncations = 0
  #truncating = 0
  #dirty = new Set<LogSegment>()
  #dirDirty = false
  #parentDirDirty: boolean
  #flushing: Promise<void> | null = null
  #nextFlush: Deferred | null = null
  #flushRequestedAt: number
  #flushTimer: TimerHandle | null = null
  #pendingDeletes = new Map<LogSegment, TimerHandle>()
  #cache: TailCache
  #failure: StorageError | null = null
  #closed = false

  private constructor(
    fs: FileSystem,
    clock: Clock,
    dir: string,
    topic: string,
    partition: number,
    config: LogConfig,
    opts: Pick<PartitionLogOptions, 'logger' | 'tailCacheBytes' | 'checkpoint'>,
    state: { segments: LogSegment[]; logStartOffset: number; logEndOffset: number; recoveryPoint: number; dirty: LogSegment[]; created: boolean },
    epochCache: LeaderEpochCache,
  ) {
    this.#fs = fs
    this.#clock = clock
    this.dir = dir
    this.topic = topic
    this.partition = partition
    this.config = config
    this.#logger = opts.logger
    this.#checkpoint = opts.checkpoint
    this.#cache = new TailCache(opts.tailCacheBytes ?? DEFAULT_TAIL_CACHE_BYTES)
    this.#segments = state.segments
    this.#logStartOffset = state.logStartOffset
    this.#logEndOffset = state.logEndOffset
    this.#flushedOffset = state.recoveryPoint
    this.#flushRequestedAt = state.logEndOffset
    this.#size = state.segments.reduce((n, s) => n + s.size, 0)
    for (const s of state.dirty) this.#dirty.add(s)
    this.#dirDirty = state.created
    this.#parentDirDirty = state.created
    this.highWatermark = state.logEndOffset
    this.epochCache = epochCache
  }

  /** Loads (and after an unclean stop, recovers) the partition directory, creating it when missing. */
  static async open(
    fs: FileSystem,
    clock: Clock,
    dir: string,
    topic: string,
    partition: number,
    config: LogConfig,
    opts: PartitionLogOptions,
  ): Promise<PartitionLog> {
    const state = await loadLog(fs, dir, config, clock.now(), opts)
    const epochCache = await loadLeaderEpochCache(fs, dir, state, opts)
    const log = new PartitionLog(fs, clock, dir, topic, partition, config, opts, state, epochCache)
    if (state.dirty.length > 0 && config.flushMessages > 1) log.#armFlushTimer()
    return log
  }

  /** A brand-new empty log, synchronously (the directory must not hold segments yet). */
  static create(
    fs: FileSystem,
    clock: Clock,
    dir: string,
    topic: string,
    partition: number,
    config: LogConfig,
    opts: Pick<PartitionLogOptions, 'logger' | 'tailCacheBytes' | 'checkpoint'> & { startOffset?: number },
  ): PartitionLog {
    const created = !fs.exists(dir)
    if (created) fs.mkdirp(dir)
    else if (fs.list(dir).some((n) => n.endsWith(LOG_SUFFIX))) throw new Error(`PartitionLog.create: ${dir} already holds segments; open it`)
    const start = opts.startOffset ?? 0
    const seg = LogSegment.create(fs, dir, start, config, clock.now())
    const log = new PartitionLog(fs, clock, dir, topic, partition, config, opts, {
      segments: [seg],
      logStartOffset: start,
      logEndOffset: start,
      recoveryPoint: start,
      dirty: [seg],
      created: true,
    }, new LeaderEpochCache([], { fs, dir }))
    log.#parentDirDirty = created
    return log
  }

  get logStartOffset(): number {
    return this.#logStartOffset
  }

  /** The next offset to assign. */
  get logEndOffset(): number {
    return this.#logEndOffset
  }

  /** Offsets below it are fsynced. */
  get recoveryPoint(): number {
    return this.#flushedOffset
  }

  /** Whether an fsync failed; appends then throw StorageError. */
  get isOffline(): boolean {
    return this.#failure !== null
  }

  get segmentCount(): number {
    return this.#segments.length
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): number[] {
    return this.#segments.map((s) => s.baseOffset)
  }

  sizeInBytes(): number {
    return this.#size
  }

  /**
   * Assigns offsets to already-validated v2 batches (patching baseOffset and partitionLeaderEpoch in place, so
   * the CRC stays valid) and writes them with one write. The log keeps a reference to `batches` for readers of
   * the tail: the caller hands the buffer over and must not reuse it.
   */
  appendAsLeader(batches: Buffer, leaderEpoch: number): LeaderAppendResult {
    this.#checkWritable('append')
    if (batches.length === 0) throw new RangeError('appendAsLeader: no batches')
    let next = this.#logEndOffset
    let maxTimestamp = -1
    let pos = 0
    while (pos < batches.length) {
      const framed = checkBatchFrame(batches, pos)
      if ('kind' in framed) throw new RangeError(`appendAsLeader: ${framed.kind} batch at ${pos} (validate before appending)`)
      writeInt64(batches, pos, next)
      batches.writeInt32BE(leaderEpoch, pos + 12)
      next += batches.readInt32BE(pos + 23) + 1
      maxTimestamp = Math.max(maxTimestamp, readInt64(batches, pos + 35))
      pos += framed.size
    }
    const firstOffset = this.#logEndOffset
    const durable = this.#append(batches, next)
    if (leaderEpoch >= 0) this.epochCache.assign(leaderEpoch, firstOffset)
    return { firstOffset, lastOffset: next - 1, maxTimestamp, durable }
  }

  /**
   * Appends batches that already carry the leader's offsets and epochs, as they are; they must continue the log
   * exactly (no gaps, no overlap). Disk failures throw StorageError as appendAsLeader does.
   */
  appendAsFollower(batches: Buffer): FollowerAppendResult {
    this.#checkWritable('append')
    if (batches.length === 0) throw new RangeError('appendAsFollower: no batches')
    let expected = this.#logEndOffset
    let pos = 0
    const epochs: number[] = []
    while (pos < batches.length) {
      const framed = checkBatchFrame(batches, pos)
      if ('kind' in framed) return { kind: 'error', code: 'CORRUPT_MESSAGE', message: `${framed.kind} batch at ${pos}` }
      const view = new RecordBatchView(batches, pos)
      if (view.baseOffset !== expected) {
        const code = pos === 0 ? 'UNEXPECTED_APPEND_OFFSET' : 'OFFSETS_OUT_OF_ORDER'
        return { kind: 'error', code, message: `batch at ${pos} starts at offset ${view.baseOffset}, the log needs ${expected}` }
      }
      if (view.lastOffsetDelta < 0) return { kind: 'error', code: 'OFFSETS_OUT_OF_ORDER', message: `batch at ${pos} has a negative last offset delta` }
      epochs.push(view.partitionLeaderEpoch, view.baseOffset)
      expected = view.lastOffset + 1
      pos += framed.size
    }
    const durable = this.#append(batches, expected)
    // The leader's epochs as stamped, so this log's cache matches the leader's (Kafka assigns per batch).
    for (let i = 0; i < epochs.length; i += 2) if (epochs[i]! >= 0) this.epochCache.assign(epochs[i]!, epochs[i + 1]!)
    return { kind: 'ok', lastOffset: expected - 1, durable }
  }

  #append(buf: Buffer, next: number): Promise<void> {
    const seg = this.#maybeRoll(buf.length, next - 1)
    const position = seg.size
    try {
      seg.log.write(buf, position)
    } catch (e) {
      if (StorageError.is(e)) {
        try {
          seg.log.truncate(position)
        } catch (undo) {
          this.#fail(undo)
        }
      }
      throw e
    }
    seg.appended(buf, position, next, this.config.indexIntervalBytes, this.#clock.now())
    const first = this.#logEndOffset
    this.#logEndOffset = next
    this.#size += buf.length
    this.#dirty.add(seg)
    this.#cache.push(first, next, buf, seg.baseOffset)
    const { flushMessages } = this.config
    if (flushMessages <= 1 || next - this.#flushRequestedAt >= flushMessages) return this.#requestFlush()
    this.#armFlushTimer()
    return RESOLVED
  }

  get #active(): LogSegment {
    return this.#segments[this.#segments.length - 1]!
  }

  #maybeRoll(bytes: number, lastOffset: number): LogSegment {
    const seg = this.#active
    if (seg.size === 0) return seg
    const c = this.config
    const now = this.#clock.now()
    if (
      seg.size + bytes > c.segmentBytes ||
      (seg.rollBaseTime !== null && now - seg.rollBaseTime > c.segmentMs) ||
      seg.offsetIndex.isFull ||
      seg.timeIndex.isFull ||
      lastOffset - seg.baseOffset > INT32_MAX
    ) {
      return this.#roll()
    }
    return seg
  }

  /** Starts a new segment at the log end offset (no-op while the active segment is empty). */
  roll(): void {
    this.#checkWritable('roll')
    this.#roll()
  }

  #roll(): LogSegment {
    const old = this.#active
    if (old.size === 0) return old
    old.seal()
    old.writeIndexes()
    const seg = LogSegment.create(this.#fs, this.dir, this.#logEndOffset, this.config, this.#clock.now())
    this.#segments.push(seg)
    this.#dirty.add(old)
    this.#dirty.add(seg)
    this.#dirDirty = true
    this.#requestFlush().catch(noop)
    this.#logger.info('rolled a new log segment', { topic: this.topic, partition: this.partition, baseOffset: seg.baseOffset })
    return seg
  }

  #checkWritable(op: string): void {
    if (this.#closed) throw new StorageError(op, this.dir, 'CLOSED', `${op} ${this.dir}: the log is closed`)
    if (this.#failure) throw new StorageError(op, this.dir, 'OFFLINE', `${op} ${this.dir}: the log is offline after a disk error`, this.#failure)
  }

  #fail(e: unknown): void {
    if (this.#failure || this.#closed) return
    this.#failure = StorageError.is(e) ? e : new StorageError('flush', this.dir, 'EIO', String(e), e)
    this.#logger.error('log is offline after a disk error', { topic: this.topic, partition: this.partition, error: this.#failure.message })
  }

  // ---- flushing ----

  /** fsyncs everything appended so far; the recovery point then reaches the log end offset as of the call. */
  flush(): Promise<void> {
    if (this.#closed) return RESOLVED
    return this.#requestFlush()
  }

  #requestFlush(): Promise<void> {
    if (this.#failure) {
      const p = Promise.reject(this.#failure)
      p.catch(noop)
      return p
    }
    this.#flushRequestedAt = this.#logEndOffset
    if (this.#nextFlush) return this.#nextFlush.promise
    const d = deferred()
    this.#nextFlush = d
    // On a microtask, so every append of this turn of the event loop shares the fsync.
    if (!this.#flushing) queueMicrotask(() => this.#startFlush())
    return d.promise
  }

  #startFlush(): void {
    const d = this.#nextFlush
    if (!d || this.#flushing) return
    this.#nextFlush = null
    this.#flushing = this.#flushOnce()
      .then(d.resolve, (e: unknown) => {
        this.#fail(e)
        d.reject(e)
      })
      .finally(() => {
        this.#flushing = null
        if (this.#nextFlush) this.#startFlush()
      })
  }

  async #flushOnce(): Promise<void> {
    if (this.#failure) throw this.#failure
    const target = this.#logEndOffset
    const truncations = this.#truncating === 0 ? this.#truncations : -1
    const syncs: Promise<void>[] = []
    for (const seg of this.#dirty) {
      seg.writeIndexes()
      syncs.push(...seg.syncs())
    }
    this.#dirty.clear()
    if (this.#dirDirty) {
      this.#dirDirty = false
      syncs.push(this.#fs.syncDir(this.dir))
    }
    if (this.#parentDirDirty) {
      this.#parentDirDirty = false
      syncs.push(this.#fs.syncDir(dirname(this.dir)))
    }
    // Before the recovery point passes the batches, recovery will not re-derive their epochs.
    if (this.epochCache.dirty) syncs.push(this.epochCache.flush())
    await Promise.all(syncs)
    // A truncation while the fsyncs ran may have replaced the bytes below `target` with unsynced ones.
    if (this.#truncations === truncations) this.#flushedOffset = Math.max(this.#flushedOffset, target)
  }

  #armFlushTimer(): void {
    if (this.#flushTimer || this.#closed) return
    const ms = this.config.flushMs
    if (!(ms >= 0) || ms > MAX_TIMER_MS) return
    this.#flushTimer = this.#clock.setTimeout(() => {
      this.#flushTimer = null
      if (this.#closed) return
      this.#requestFlush().catch(noop)
    }, ms)
  }

  // ---- reading ----

  /**
   * Whole batches starting with the one that contains `offset`, up to `maxBytes` (but at least one batch when
   * `minOneBatch`), none whose last offset reaches `maxOffset` (exclusive: the high watermark or LSO).
   */
  async read(offset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): Promise<ReadResult> {
    const leo = this.#logEndOffset
    if (offset < this.#logStartOffset || offset > leo) {
      return { kind: 'out-of-range', logStartOffset: this.#logStartOffset, logEndOffset: leo }
    }
    const limit = Math.min(maxOffset, leo)
    if (offset >= limit) return { kind: 'ok', records: [], bytes: 0 }
    const cached = this.#cache.read(offset, maxBytes, limit, minOneBatch)
    if (cached) return { kind: 'ok', ...cached }
    let seg: LogSegment | undefined = this.#segments[Math.max(0, this.#floorIndex(offset))]
    let from = offset
    while (seg) {
      const got = await this.#readSegment(seg, from, maxBytes, limit, minOneBatch)
      if (got) return { kind: 'ok', ...got }
      // Nothing at or after `from` in this segment (it ended, or was cut meanwhile): go on with the next one.
      const i = this.#floorIndex(seg.baseOffset)
      seg = this.#segments[i]?.baseOffset === seg.baseOffset ? this.#segments[i + 1] : undefined
      if (seg) from = Math.max(from, seg.baseOffset)
    }
    return { kind: 'ok', records: [], bytes: 0 }
  }

  async #readSegment(
    seg: LogSegment,
    offset: number,
    maxBytes: number,
    limit: number,
    minOneBatch: boolean,
  ): Promise<{ records: Buffer[]; bytes: number } | null> {
    await this.#ensureIndexes(seg)
    maxBytes = Math.max(0, Math.min(maxBytes, READ_MAX_BYTES))
    const end = seg.size
    let pos = seg.offsetIndex.lookup(offset).position
    const windowBytes = Math.max(READ_WINDOW_MIN, 2 * this.config.indexIntervalBytes + maxBytes)
    let buf: Buffer = Buffer.alloc(0)
    let bufStart = pos
    let size = 0
    let last = 0
    for (;;) {
      if (pos >= end) return null
      let at = pos - bufStart
      if (buf.length - at < HEADER_SIZE) {
        buf = await seg.log.read(pos, Math.min(end - pos, windowBytes))
        bufStart = pos
        at = 0
        if (buf.length < HEADER_SIZE) return null
      }
      size = LOG_OVERHEAD + buf.readInt32BE(at + 8)
      if (size < HEADER_SIZE) return null
      last = readInt64(buf, at) + buf.readInt32BE(at + 23)
      if (last >= offset) break
      pos += size
    }
    const empty = { records: [], bytes: 0 }
    if (last >= limit) return empty
    const want = Math.min(end - pos, Math.max(maxBytes, minOneBatch ? size : 0))
    if (want < size) return empty
    if (buf.length - (pos - bufStart) < want) {
      buf = await seg.log.read(pos, want)
      bufStart = pos
    }
    const start = pos - bufStart
    const stop = Math.min(buf.length, start + want)
    let p = start
    let bytes = 0
    while (p + HEADER_SIZE <= stop) {
      const s = LOG_OVERHEAD + buf.readInt32BE(p + 8)
      if (s < HEADER_SIZE || p + s > stop) break
      if (readInt64(buf, p) + buf.readInt32BE(p + 23) >= limit) break
      if (bytes + s > maxBytes && !(bytes === 0 && minOneBatch)) break
      bytes += s
      p += s
    }
    return bytes > 0 ? { records: [buf.subarray(start, start + bytes)], bytes } : empty
  }

  async #ensureIndexes(seg: LogSegment): Promise<void> {
    const rebuilt = await seg.ensureIndexes(this.config.indexIntervalBytes, this.#logger)
    if (rebuilt && this.#segments.includes(seg)) this.#dirty.add(seg)
  }

  #floorIndex(offset: number): number {
    const segs = this.#segments
    let lo = 0
    let hi = segs.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (segs[mid]!.baseOffset <= offset) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  /**
   * ListOffsets by timestamp: the first offset (at or after the log start) whose record timestamp is >= `ts`,
   * with its batch's max timestamp; null if none. Records are looked at only in uncompressed and gzip batches;
   * for other codecs the batch's base offset is answered, which never skips a matching record.
   */
  async offsetForTimestamp(ts: number): Promise<{ offset: number; timestamp: number } | null> {
    const logStart = this.#logStartOffset
    const segments = this.#segments.slice(Math.max(0, this.#floorIndex(logStart)))
    for (const seg of segments) {
      if (seg.maxTimestamp < ts) continue
      await this.#ensureIndexes(seg)
      const startOffset = Math.max(seg.timeIndex.lookup(ts).offset, logStart)
      const position = seg.offsetIndex.lookup(startOffset).position
      let found: { offset: number; timestamp: number } | null = null
      await forEachBatch(
        seg.log,
        position,
        seg.size,
        (b) => {
          if (b.lastOffset < logStart || b.maxTimestamp < ts) return null
          found = firstRecordAtOrAfter(b, ts, logStart)
          return 'stop'
        },
        TIMESTAMP_SCAN_CHUNK_BYTES,
      )
      if (found) return found
    }
    return null
  }

  /**
   * ListOffsets v0 (Kafka's UnifiedLog.legacyFetchOffsetsBefore): up to maxNumOffsets segment start offsets,
   * newest first, from the last segment last modified at or before `ts` (-1: the log end, -2: the log start).
   * A segment's last modification is taken as its largest record timestamp (its creation time while it has
   * none), where Kafka reads the file's mtime.
   */
  legacyOffsetsBefore(ts: number, maxNumOffsets: number): number[] {
    const entries = this.#segments.map((seg) => ({ offset: Math.max(seg.baseOffset, this.#logStartOffset), time: seg.maxTimestamp >= 0 ? seg.maxTimestamp : seg.createdTime }))
    if (this.#active.size > 0) entries.push({ offset: this.#logEndOffset, time: this.#clock.now() })
    let start = entries.length - 1
    if (ts === -2) start = 0
    else if (ts !== -1) while (start >= 0 && entries[start]!.time > ts) start--
    const out: number[] = []
    for (let i = start; i >= 0 && out.length < maxNumOffsets; i--) out.push(entries[i]!.offset)
    return out.sort((a, b) => b - a)
  }

  /** The largest batch max timestamp and the last offset of the first batch carrying it; (-1, -1) when none. */
  maxTimestampAndOffset(): { timestamp: number; offset: number } {
    let timestamp = -1
    let offset = -1
    for (const seg of this.#segments) {
      if (seg.maxTimestamp > timestamp) {
        timestamp = seg.maxTimestamp
        offset = seg.offsetOfMaxTimestamp
      }
    }
    return { timestamp, offset }
  }

  // ---- truncation and deletion ----

  /**
   * Drops everything at and after `offset` (cut at the start of the batch holding it). Resolves once the result
   * is durable. Do not append until it resolves.
   */
  async truncateTo(offset: number): Promise<void> {
    this.#checkWritable('truncate')
    if (!(offset >= 0)) throw new RangeError(`truncateTo: offset ${offset}`)
    if (offset >= this.#logEndOffset) {
      // A leader that assigned its epoch's start and lost leadership before appending leaves an entry at the log
      // end; a follower keeping it would keep naming that epoch to its new leader (Kafka trims it here too).
      this.epochCache.truncateFromEnd(this.#logEndOffset)
      return
    }
    if (offset < this.#segments[0]!.baseOffset) return this.truncateFullyAndStartAt(offset)
    this.#beginTruncation(offset)
    try {
      await this.#cutTo(offset)
    } finally {
      this.#endTruncation()
    }
    await this.#requestFlush()
  }

  #beginTruncation(lowestKept: number): void {
    this.#truncating++
    this.#truncations++
    this.#flushedOffset = Math.min(this.#flushedOffset, lowestKept)
  }

  #endTruncation(): void {
    this.#truncating--
    this.#truncations++
  }

  async #cutTo(offset: number): Promise<void> {
    if (this.#checkpoint) await this.#checkpoint()
    const seg = this.#segments[Math.max(0, this.#floorIndex(offset))]!
    await this.#ensureIndexes(seg)
    const from = seg.offsetIndex.lookup(offset).position
    let cut = -1
    let newEnd = from === 0 ? seg.baseOffset : -1
    let tailMax = -1
    let tailMaxOffset = -1
    const res = await forEachBatch(seg.log, from, seg.size, (b, pos) => {
      if (b.lastOffset >= offset) {
        cut = pos
        newEnd = b.baseOffset
        return 'stop'
      }
      if (b.maxTimestamp > tailMax) {
        tailMax = b.maxTimestamp
        tailMaxOffset = b.lastOffset
      }
      newEnd = b.lastOffset + 1
      return null
    })
    if (cut < 0) cut = res.end
    if (newEnd < 0) throw new StorageError('truncate', seg.path(LOG_SUFFIX), 'CORRUPT', `truncate ${seg.path(LOG_SUFFIX)}: unreadable at ${from}`)
    this.#flushedOffset = Math.min(this.#flushedOffset, newEnd)
    // Retention may have run while we read: the segment to cut may have moved, or gone with everything before it.
    const idx = this.#segments.indexOf(seg)
    if (idx < 0) {
      this.#startOver(offset)
      return
    }

    const removed = this.#segments.splice(idx + 1)
    for (const s of removed) {
      this.#size -= s.size
      this.#deleteSegment(s)
    }
    try {
      seg.log.truncate(cut)
    } catch (e) {
      this.#fail(e)
      throw e
    }
    this.#size -= seg.size - cut
    seg.offsetIndex.truncateTo(newEnd)
    seg.timeIndex.truncateTo(newEnd)
    const lastTime = seg.timeIndex.lastEntry()
    seg.maxTimestamp = lastTime.timestamp
    seg.offsetOfMaxTimestamp = lastTime.timestamp >= 0 ? lastTime.offset : -1
    if (tailMax > seg.maxTimestamp) {
      seg.maxTimestamp = tailMax
      seg.offsetOfMaxTimestamp = tailMaxOffset
    }
    seg.bytesSinceLastIndexEntry = cut - seg.offsetIndex.lastPosition
    seg.size = cut
    seg.nextOffset = newEnd
    seg.logDirty = true
    if (cut === 0) seg.rollBaseTime = null
    this.#dirty.add(seg)
    this.#cache.clear()
    this.#logEndOffset = newEnd
    this.epochCache.truncateFromEnd(newEnd)
    this.#logStartOffset = Math.min(this.#logStartOffset, newEnd)
    this.highWatermark = Math.min(this.highWatermark, newEnd)
    this.#flushRequestedAt = Math.min(this.#flushRequestedAt, newEnd)
    this.#logger.info('truncated the log', { topic: this.topic, partition: this.partition, offset: newEnd })
  }

  /** Deletes every segment and starts empty at `offset` (log start and end). Resolves once durable. */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.#checkWritable('truncate')
    if (!(offset >= 0)) throw new RangeError(`truncateFullyAndStartAt: offset ${offset}`)
    this.#beginTruncation(Math.min(this.#segments[0]!.baseOffset, offset))
    try {
      this.#logStartOffset = Math.min(this.#logStartOffset, offset)
      if (this.#checkpoint) await this.#checkpoint()
      this.#startOver(offset)
    } finally {
      this.#endTruncation()
    }
    this.#logger.info('truncated the whole log', { topic: this.topic, partition: this.partition, offset })
    await this.#requestFlush()
    if (this.#checkpoint) await this.#checkpoint()
  }

  /** Replaces every segment with an empty one at `offset` (the synchronous part of truncateFullyAndStartAt). */
  #startOver(offset: number): void {
    for (const s of this.#segments.splice(0)) this.#deleteSegment(s)
    let seg: LogSegment
    try {
      seg = LogSegment.create(this.#fs, this.dir, offset, this.config, this.#clock.now())
    } catch (e) {
      this.#fail(e)
      throw e
    }
    this.#segments = [seg]
    this.#dirty.add(seg)
    this.#dirDirty = true
    this.#size = 0
    this.#cache.clear()
    this.epochCache.clear()
    this.#logStartOffset = offset
    this.#logEndOffset = offset
    this.#flushRequestedAt = offset
    this.#flushedOffset = Math.min(this.#flushedOffset, offset)
    this.highWatermark = offset
  }

  /** Raises the log start offset (DeleteRecords). The caller answers OFFSET_OUT_OF_RANGE past the high watermark. */
  deleteRecordsBefore(offset: number): void {
    if (offset > this.highWatermark) throw new RangeError(`deleteRecordsBefore: ${offset} is past the high watermark ${this.highWatermark}`)
    if (offset > this.#logStartOffset) {
      this.#logStartOffset = offset
      this.epochCache.truncateFromStart(offset)
    }
  }

  /**
   * Deletes whole segments expired by retention.ms, beyond retention.bytes, or wholly below the log start
   * offset, never past the high watermark; rolls first when the active segment itself goes. Returns bytes freed.
   */
  applyRetention(now: number): number {
    if (this.#closed || this.#failure) return 0
    const c = this.config
    let freed = 0
    if (c.retentionMs >= 0) {
      freed += this.#deleteOldSegments((seg) => now - seg.largestTimestamp() > c.retentionMs, 'retention.ms')
    }
    if (c.retentionBytes >= 0) {
      let excess = this.#size - c.retentionBytes
      freed += this.#deleteOldSegments((seg) => {
        if (excess - seg.size < 0) return false
        excess -= seg.size
        return true
      }, 'retention.bytes')
    }
    freed += this.#deleteOldSegments((_, next) => next !== undefined && next.baseOffset <= this.#logStartOffset, 'log start offset')
    return freed
  }

  #deleteOldSegments(predicate: (seg: LogSegment, next: LogSegment | undefined) => boolean, reason: string): number {
    const segs = this.#segments
    let count = 0
    let roll = false
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!
      const next = segs[i + 1]
      if (!next && seg.size === 0) break
      const upper = next ? next.baseOffset : this.#logEndOffset
      if (!(this.highWatermark >= upper && predicate(seg, next))) break
      count++
      if (!next) roll = true
    }
    if (count === 0) return 0
    if (roll) {
      try {
        this.#roll()
      } catch (e) {
        this.#logger.error('cannot roll the active segment for retention', { topic: this.topic, partition: this.partition, error: String(e) })
        count--
        if (count === 0) return 0
      }
    }
    const gone = this.#segments.splice(0, count)
    let freed = 0
    for (const s of gone) {
      freed += s.size
      this.#deleteSegment(s)
    }
    this.#size -= freed
    this.#logStartOffset = Math.max(this.#logStartOffset, this.#segments[0]!.baseOffset)
    this.epochCache.truncateFromStart(this.#logStartOffset)
    this.#logger.info('deleted log segments', {
      topic: this.topic,
      partition: this.partition,
      reason,
      segments: gone.map((s) => s.baseOffset),
      bytes: freed,
      logStartOffset: this.#logStartOffset,
    })
    return freed
  }

  /** Renames the segment's files to *.deleted now and removes them after file.delete.delay.ms. */
  #deleteSegment(seg: LogSegment): void {
    this.#dirty.delete(seg)
    try {
      seg.markDeleted(this.#fs)
    } catch (e) {
      this.#logger.error('cannot rename a deleted segment', { segment: seg.path(LOG_SUFFIX), error: String(e) })
    }
    this.#dirDirty = true
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, this.config.fileDeleteDelayMs))
    const timer = this.#clock.setTimeout(() => {
      this.#pendingDeletes.delete(seg)
      void this.#removeDeleted(seg)
    }, delay)
    this.#pendingDeletes.set(seg, timer)
  }

  async #removeDeleted(seg: LogSegment): Promise<void> {
    try {
      await seg.close()
      seg.unlinkDeleted(this.#fs)
    } catch (e) {
      this.#logger.warn('cannot remove a deleted segment', { segment: seg.path(LOG_SUFFIX), error: String(e) })
    }
  }

  /** Flushes (recording each index's final entries) and closes every file. Throws if the final flush failed. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#flushTimer?.cancel()
    this.#flushTimer = null
    let failure: unknown = null
    if (!this.#failure) {
      this.#active.seal()
      this.#dirty.add(this.#active)
      try {
        await this.#requestFlush()
      } catch (e) {
        failure = e
      }
    } else failure = this.#failure
    await this.#closeFiles()
    if (failure) throw failure
  }

  async #closeFiles(): Promise<void> {
    this.#closed = true
    this.#flushTimer?.cancel()
    this.#flushTimer = null
    const closing: Promise<void>[] = []
    for (const [seg, timer] of this.#pendingDeletes) {
      timer.cancel()
      closing.push(seg.close())
    }
    this.#pendingDeletes.clear()
    for (const seg of this.#segments) closing.push(seg.close())
    this.#cache.clear()
    await Promise.all(closing)
  }

  /** Removes the partition directory (topic deletion): renamed to *-delete first, so a crash cannot half-keep it. */
  async delete(): Promise<void> {
    await this.#closeFiles()
    const tomb = `${this.dir}.${this.#clock.now().toString(36)}${(tombstoneSeq++).toString(36)}-delete`
    this.#fs.rename(this.dir, tomb)
    await this.#fs.syncDir(dirname(this.dir))
    await this.#fs.rmrf(tomb)
  }
}

/** Kafka's answer to a timestamp query: the first record at or after `ts` and that record's own timestamp.
 *  Batches we cannot decompress (snappy, lz4, zstd) answer with their base offset and max timestamp, which
 *  never skips a matching record. */
function firstRecordAtOrAfter(batch: RecordBatchView, ts: number, minOffset: number): { offset: number; timestamp: number } {
  const fallback = { offset: Math.max(batch.baseOffset, minOffset), timestamp: batch.maxTimestamp }
  const codec = batch.compression
  if (batch.isLogAppendTime || (codec !== Compression.none && codec !== Compression.gzip)) return fallback
  try {
    for (const r of decodeRecords(batch)) if (r.timestamp >= ts && r.offset >= minOffset) return { offset: r.offset, timestamp: r.timestamp }
  } catch {
    return fallback
  }
  return fallback
}
