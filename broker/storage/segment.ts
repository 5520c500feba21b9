// One log segment: <20-digit baseOffset>.log with its .index and .timeindex.
//
// The append path and recovery share indexBatch(), so an index rebuilt from the .log is the one the appends
// built (Kafka's rule: an offset entry for a batch once more than index.interval.bytes were appended since the
// previous entry; a time entry at the same points when the max timestamp grew).

import { join } from 'node:path'
import { checkBatchFrame, HEADER_SIZE, LOG_OVERHEAD, RecordBatchView } from '../protocol/record-batch.ts'
import type { LogConfig, Logger } from './config.ts'
import type { FileHandle, FileSystem } from './file-system.ts'
import { OFFSET_ENTRY_SIZE, OffsetIndex } from './offset-index.ts'
import { readInt64, TIME_ENTRY_SIZE, TimeIndex } from './time-index.ts'

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'
export const DELETED_SUFFIX = '.deleted'
export const CLEANED_SUFFIX = '.cleaned'
export const SWAP_SUFFIX = '.swap'
export const SEGMENT_SUFFIXES = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] as const

/** Bytes read per I/O when scanning a segment (recovery, index rebuilds, timestamp search). */
export const SCAN_CHUNK_BYTES = 1024 * 1024

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix
}

/** Parses `<20 digits><suffix>`; null for any other name. */
export function parseSegmentFileName(name: string): { baseOffset: number; suffix: string } | null {
  const m = /^(\d{20})(\.[a-z]+(?:\.[a-z]+)?)$/.exec(name)
  if (!m) return null
  const baseOffset = Number(m[1])
  if (!Number.isSafeInteger(baseOffset)) return null
  return { baseOffset, suffix: m[2]! }
}

export interface ScanResult {
  /** Position after the last batch accepted. */
  end: number
  /** Why scanning stopped before `end` of the range, or null. */
  problem: string | null
}

/**
 * Calls `visit` for each whole batch in [start, end) of a file, reading in chunks; stops at the first batch with
 * bad framing (or a torn tail), or when `visit` returns a problem or 'stop'. The view is only valid during the call.
 */
export async function forEachBatch(
  file: FileHandle,
  start: number,
  end: number,
  visit: (batch: RecordBatchView, position: number) => string | null | 'stop',
  chunkBytes = SCAN_CHUNK_BYTES,
): Promise<ScanResult> {
  let buf: Buffer = Buffer.alloc(0)
  let bufStart = start
  let pos = start
  const needAt = (b: Buffer, at: number): number => {
    if (b.length - at < LOG_OVERHEAD) return HEADER_SIZE
    return Math.max(HEADER_SIZE, LOG_OVERHEAD + b.readInt32BE(at + 8))
  }
  while (pos < end) {
    let at = pos - bufStart
    let need = needAt(buf, at)
    if (buf.length - at < need) {
      // A length field past the end of the range is a torn or garbage header: do not read the rest for it.
      if (need > end - pos) return { end: pos, problem: `torn batch at ${pos}` }
      buf = await file.read(pos, Math.min(end - pos, Math.max(chunkBytes, need)))
      bufStart = pos
      at = 0
      need = needAt(buf, 0)
      // The header was all we had: now the batch's length is known.
      if (buf.length < need && need <= end - pos) buf = await file.read(pos, need)
      if (buf.length < need) return { end: pos, problem: `torn batch at ${pos}` }
    }
    const framed = checkBatchFrame(buf, at, buf.length)
    if ('kind' in framed) return { end: pos, problem: `${framed.kind} batch at ${pos}` }
    const verdict = visit(new RecordBatchView(buf, at), pos)
    if (verdict === 'stop') return { end: pos, problem: null }
    if (verdict !== null) return { end: pos, problem: verdict }
    pos += framed.size
  }
  return { end: pos, problem: null }
}

export class LogSegment {
  readonly baseOffset: number
  readonly dir: string
  readonly log: FileHandle
  readonly offsetIndex: OffsetIndex
  readonly timeIndex: TimeIndex
  /** Valid bytes in the .log file. */
  size: number
  /** Offset after the last batch. Exact for the active segment; for the others, the next segment's base offset. */
  nextOffset: number
  maxTimestamp = -1
  /** Last offset of the first batch that reached maxTimestamp (Kafka's shallow offset of the max timestamp). */
  offsetOfMaxTimestamp = -1
  bytesSinceLastIndexEntry = 0
  /** Wall time of the first append (segment.ms); null while empty. */
  rollBaseTime: number | null = null
  /** Wall time the segment was created or loaded: the retention fallback when no batch has a timestamp. */
  readonly createdTime: number
  /** The .log changed since its last sync. */
  logDirty = false
  /** Whether the index entries are in memory (segments below the recovery point load theirs on first use). */
  indexesLoaded: boolean
  #loading: Promise<boolean> | null = null

  private constructor(
    dir: string,
    baseOffset: number,
    files: { log: FileHandle; index: FileHandle; timeIndex: FileHandle },
    maxIndexBytes: number,
    now: number,
    loaded: boolean,
  ) {
    this.dir = dir
    this.baseOffset = baseOffset
    this.log = files.log
    this.offsetIndex = new OffsetIndex(files.index, baseOffset, maxIndexBytes)
    this.timeIndex = new TimeIndex(files.timeIndex, baseOffset, maxIndexBytes)
    this.size = files.log.size()
    this.nextOffset = baseOffset
    this.createdTime = now
    this.indexesLoaded = loaded
  }

  path(suffix: string): string {
    return join(this.dir, segmentFileName(this.baseOffset, suffix))
  }

  private static openFiles(fs: FileSystem, dir: string, baseOffset: number, fresh: boolean) {
    const opened: FileHandle[] = []
    try {
      for (const suffix of SEGMENT_SUFFIXES) {
        opened.push(fs.open(join(dir, segmentFileName(baseOffset, suffix)), { create: true, truncate: fresh }))
      }
    } catch (e) {
      for (const h of opened) void h.close().catch(() => {})
      throw e
    }
    return { log: opened[0]!, index: opened[1]!, timeIndex: opened[2]! }
  }

  /** A new empty segment (files created or emptied). */
  static create(fs: FileSystem, dir: string, baseOffset: number, config: LogConfig, now: number): LogSegment {
    const seg = new LogSegment(dir, baseOffset, LogSegment.openFiles(fs, dir, baseOffset, true), config.segmentIndexBytes, now, true)
    seg.logDirty = true
    seg.offsetIndex.dirty = true
    seg.timeIndex.dirty = true
    return seg
  }

  /** An existing segment; index files that are missing are created empty and reported. */
  static open(fs: FileSystem, dir: string, baseOffset: number, config: LogConfig, now: number): { segment: LogSegment; missingIndex: boolean } {
    const missingIndex =
      !fs.exists(join(dir, segmentFileName(baseOffset, INDEX_SUFFIX))) ||
      !fs.exists(join(dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX)))
    const files = LogSegment.openFiles(fs, dir, baseOffset, false)
    return { segment: new LogSegment(dir, baseOffset, files, config.segmentIndexBytes, now, false), missingIndex }
  }

  /** Index bookkeeping for one batch at `position` (append path and rebuilds alike). */
  indexBatch(batch: RecordBatchView, position: number, indexIntervalBytes: number): void {
    const maxTs = batch.maxTimestamp
    const last = batch.lastOffset
    if (maxTs > this.maxTimestamp) {
      this.maxTimestamp = maxTs
      this.offsetOfMaxTimestamp = last
    }
    if (this.bytesSinceLastIndexEntry > indexIntervalBytes) {
      if (!this.offsetIndex.isFull) this.offsetIndex.append(last, position)
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
      this.bytesSinceLastIndexEntry = 0
    }
    this.bytesSinceLastIndexEntry += batch.sizeInBytes
  }

  /** Bookkeeping after `buf` (whole batches) was written at `position`. */
  appended(buf: Buffer, position: number, nextOffset: number, indexIntervalBytes: number, now: number): void {
    let at = 0
    while (at < buf.length) {
      const view = new RecordBatchView(buf, at)
      this.indexBatch(view, position + at, indexIntervalBytes)
      at += view.sizeInBytes
    }
    this.size = position + buf.length
    this.nextOffset = nextOffset
    this.rollBaseTime ??= now
    this.logDirty = true
  }

  /** The segment stops taking writes: record its final max timestamp in the time index (Kafka's onBecomeInactiveSegment). */
  seal(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true)
  }

  writeIndexes(): void {
    if (!this.indexesLoaded) return
    this.offsetIndex.writePending()
    this.timeIndex.writePending()
  }

  /** fsyncs of whatever changed since the last call. */
  syncs(): Promise<void>[] {
    const out: Promise<void>[] = []
    if (this.logDirty) {
      this.logDirty = false
      out.push(this.log.sync())
    }
    if (this.offsetIndex.dirty) {
      this.offsetIndex.dirty = false
      out.push(this.offsetIndex.file.sync())
    }
    if (this.timeIndex.dirty) {
      this.timeIndex.dirty = false
      out.push(this.timeIndex.file.sync())
    }
    return out
  }

  get isDirty(): boolean {
    return this.logDirty || this.offsetIndex.dirty || this.timeIndex.dirty
  }

  /** The segment's newest timestamp for retention.ms (Kafka falls back to the file's mtime). */
  largestTimestamp(): number {
    return this.maxTimestamp >= 0 ? this.maxTimestamp : this.createdTime
  }

  /**
   * Re-reads the whole .log, checking framing, CRC-32C and offset continuity from `baseOffset`, rebuilds both
   * indexes and (when `truncate`) cuts the file at the first bad batch. Returns the bytes past the valid prefix.
   */
  async recover(indexIntervalBytes: number, truncate: boolean): Promise<{ invalidBytes: number; problem: string | null }> {
    this.offsetIndex.clear()
    this.timeIndex.clear()
    this.maxTimestamp = -1
    this.offsetOfMaxTimestamp = -1
    this.bytesSinceLastIndexEntry = 0
    let expected = this.baseOffset
    const fileSize = this.log.size()
    const res = await forEachBatch(this.log, 0, fileSize, (b, pos) => {
      if (b.baseOffset !== expected) return `batch at ${pos} starts at offset ${b.baseOffset}, expected ${expected}`
      if (b.lastOffsetDelta < 0) return `batch at ${pos} has last offset delta ${b.lastOffsetDelta}`
      if (!b.isCrcValid()) return `batch at ${pos} fails its CRC`
      this.indexBatch(b, pos, indexIntervalBytes)
      expected = b.lastOffset + 1
      return null
    })
    const invalidBytes = fileSize - res.end
    if (invalidBytes > 0 && truncate) {
      this.log.truncate(res.end)
      this.logDirty = true
    }
    this.size = res.end
    this.nextOffset = expected
    this.indexesLoaded = true
    // Kafka too: the rebuilt time index ends with the segment's max timestamp, which a rolled segment needs.
    this.seal()
    this.offsetIndex.rewrite()
    this.timeIndex.rewrite()
    return { invalidBytes, problem: res.problem ?? (invalidBytes > 0 ? `bytes past ${res.end}` : null) }
  }

  /**
   * Cheap sanity check of a segment below the recovery point without reading its .log: whole entries only, and
   * the last two entries of each index in order and inside the segment. Sets the max timestamp from the time
   * index's last entry. Returns a problem or null.
   */
  async quickCheck(endOffset: number): Promise<string | null> {
    this.size = this.log.size()
    this.nextOffset = endOffset
    const oi = this.offsetIndex.file
    const ti = this.timeIndex.file
    if (oi.size() % OFFSET_ENTRY_SIZE !== 0) return `offset index length ${oi.size()}`
    if (ti.size() % TIME_ENTRY_SIZE !== 0) return `time index length ${ti.size()}`
    const oTail = Math.min(oi.size(), 2 * OFFSET_ENTRY_SIZE)
    const tTail = Math.min(ti.size(), 2 * TIME_ENTRY_SIZE)
    const [ob, tb] = await Promise.all([oi.read(oi.size() - oTail, oTail), ti.read(ti.size() - tTail, tTail)])
    const probe = new OffsetIndex(oi, this.baseOffset, Infinity)
    const oProblem = probe.load(ob, this.size, endOffset)
    if (oProblem) return `offset index: ${oProblem}`
    const tProbe = new TimeIndex(ti, this.baseOffset, Infinity)
    const tProblem = tProbe.load(tb, endOffset)
    if (tProblem) return `time index: ${tProblem}`
    if (tb.length > 0) {
      this.maxTimestamp = readInt64(tb, tb.length - TIME_ENTRY_SIZE)
      this.offsetOfMaxTimestamp = this.baseOffset + tb.readInt32BE(tb.length - 4)
    }
    return null
  }

  /**
   * Loads the index entries of a segment opened without them; rebuilds them from the .log when the files do not
   * pass the full check. Returns true when the files were rewritten (they need a sync).
   */
  ensureIndexes(indexIntervalBytes: number, logger: Logger): Promise<boolean> {
    if (this.indexesLoaded) return Promise.resolve(false)
    this.#loading ??= this.loadIndexes(indexIntervalBytes, logger).catch((e: unknown) => {
      this.#loading = null
      throw e
    })
    return this.#loading
  }

  private async loadIndexes(indexIntervalBytes: number, logger: Logger): Promise<boolean> {
    const oi = this.offsetIndex.file
    const ti = this.timeIndex.file
    const [ob, tb] = await Promise.all([oi.read(0, oi.size()), ti.read(0, ti.size())])
    const problem = this.offsetIndex.load(ob, this.size, this.nextOffset) ?? this.timeIndex.load(tb, this.nextOffset)
    if (problem === null) {
      this.indexesLoaded = true
      return false
    }
    logger.warn('rebuilding a corrupt index', { segment: this.path(LOG_SUFFIX), problem })
    const { size, nextOffset } = this
    const res = await this.recover(indexIntervalBytes, false)
    if (res.problem) logger.error('segment below the recovery point is damaged', { segment: this.path(LOG_SUFFIX), problem: res.problem })
    this.size = size
    this.nextOffset = nextOffset
    return true
  }

  /** Renames the three files to *.deleted (Kafka's asynchronous delete: readers in flight keep their handles). */
  markDeleted(fs: FileSystem): void {
    for (const suffix of SEGMENT_SUFFIXES) {
      const p = this.path(suffix)
      fs.rename(p, p + DELETED_SUFFIX)
    }
  }

  /** Removes the *.deleted files. */
  unlinkDeleted(fs: FileSystem): void {
    for (const suffix of SEGMENT_SUFFIXES) {
      const p = this.path(suffix) + DELETED_SUFFIX
      if (fs.exists(p)) fs.unlink(p)
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.log.close(), this.offsetIndex.file.close(), this.timeIndex.file.close()])
  }
}
