// Loading a partition directory at startup (Kafka's LogLoader).
//
// 1. Leftovers: *.deleted and *.cleaned files go; a *.log.swap completes its swap (the segments it covers go, it
//    is renamed, recovery restarts at it); index files without a .log go.
// 2. After a clean shutdown nothing is re-read except the tail of the active segment past its last index entry
//    (to find the log end offset). After an unclean one, the segments before the one holding the last flushed
//    offset (recovery point - 1) are trusted (a cheap check of their index tails, a rebuild only if that
//    fails), and from that segment onward every batch is re-read and checked (framing, CRC-32C, offsets
//    continuing the previous batch and segment); the log is cut at the first bad byte and the segments after it
//    are deleted.
// 3. Anything this changed on disk that a later crash could undo in a harmful order (deleted segments coming
//    back after new appends, a cut tail reappearing) is made durable before the log takes writes.

import { join } from 'node:path'
import { HEADER_SIZE } from '../protocol/record-batch.ts'
import type { LogConfig, Logger } from './config.ts'
import type { FileSystem } from './file-system.ts'
import { LeaderEpochCache, readEpochCheckpoint } from './leader-epoch-cache.ts'
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  forEachBatch,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  LogSegment,
  parseSegmentFileName,
  SEGMENT_SUFFIXES,
  segmentFileName,
  SWAP_SUFFIX,
  TIME_INDEX_SUFFIX,
} from './segment.ts'
import { readInt64 } from './time-index.ts'

export interface LoadOptions {
  /** From the recovery-point checkpoint: offsets below it were fsynced. 0 when unknown. */
  recoveryPoint: number
  /** From the log-start-offset checkpoint. 0 when unknown. */
  logStartOffset: number
  cleanShutdown: boolean
  logger: Logger
}

export interface LoadedLog {
  segments: LogSegment[]
  logStartOffset: number
  logEndOffset: number
  recoveryPoint: number
  /** Segments whose bytes or rebuilt indexes may not be durable yet. */
  dirty: LogSegment[]
  /** The partition directory itself was created (its parent needs a sync). */
  created: boolean
}

export async function loadLog(fs: FileSystem, dir: string, config: LogConfig, now: number, opts: LoadOptions): Promise<LoadedLog> {
  const { logger } = opts
  const created = !fs.exists(dir)
  if (created) fs.mkdirp(dir)
  let dirChanged = false
  let recoveryPoint = opts.recoveryPoint
  const drop = (name: string): void => {
    fs.unlink(join(dir, name))
    dirChanged = true
  }

  const bases = new Set<number>()
  const swaps: number[] = []
  const indexFiles: { name: string; baseOffset: number }[] = []
  for (const name of fs.list(dir)) {
    if (name.endsWith(DELETED_SUFFIX) || name.endsWith(CLEANED_SUFFIX)) {
      drop(name)
      continue
    }
    const parsed = parseSegmentFileName(name)
    if (!parsed) continue
    if (parsed.suffix === LOG_SUFFIX) bases.add(parsed.baseOffset)
    else if (parsed.suffix === LOG_SUFFIX + SWAP_SUFFIX) swaps.push(parsed.baseOffset)
    else if (parsed.suffix.endsWith(SWAP_SUFFIX)) drop(name)
    else if (parsed.suffix === INDEX_SUFFIX || parsed.suffix === TIME_INDEX_SUFFIX) indexFiles.push({ name, baseOffset: parsed.baseOffset })
  }

  if (swaps.length > 0) {
    // A finished swap: the .swap replaces every segment whose base offset lies in the range it covers.
    let min = Infinity
    let max = -Infinity
    for (const base of swaps) {
      const file = fs.open(join(dir, segmentFileName(base, LOG_SUFFIX + SWAP_SUFFIX)))
      let next = base
      await forEachBatch(file, 0, file.size(), (b) => {
        next = b.lastOffset + 1
        return null
      })
      await file.close()
      min = Math.min(min, base)
      max = Math.max(max, next)
    }
    for (const base of [...bases]) {
      if (base < min || base >= max) continue
      for (const suffix of SEGMENT_SUFFIXES) {
        if (fs.exists(join(dir, segmentFileName(base, suffix)))) drop(segmentFileName(base, suffix))
      }
      bases.delete(base)
    }
    for (const base of swaps) {
      logger.info('completing an interrupted segment swap', { dir, baseOffset: base })
      fs.rename(join(dir, segmentFileName(base, LOG_SUFFIX + SWAP_SUFFIX)), join(dir, segmentFileName(base, LOG_SUFFIX)))
      for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
        if (fs.exists(join(dir, segmentFileName(base, suffix)))) drop(segmentFileName(base, suffix))
      }
      bases.add(base)
      dirChanged = true
    }
    recoveryPoint = Math.min(recoveryPoint, min)
  }

  for (const { name, baseOffset } of indexFiles) {
    if (!bases.has(baseOffset) && fs.exists(join(dir, name))) {
      logger.warn('deleting an orphaned index file', { dir, file: name })
      drop(name)
    }
  }

  const sorted = [...bases].sort((a, b) => a - b)
  let segments: LogSegment[] = []
  const missing = new Set<LogSegment>()
  for (const base of sorted) {
    const { segment, missingIndex } = LogSegment.open(fs, dir, base, config, now)
    segments.push(segment)
    if (missingIndex) missing.add(segment)
  }

  const dirty = new Set<LogSegment>()
  const mustSync: Promise<void>[] = []
  const deleteFrom = async (i: number, why: string): Promise<void> => {
    const gone = segments.splice(i)
    if (gone.length === 0) return
    const bytes = gone.reduce((n, s) => n + s.log.size(), 0)
    logger.warn('deleting segments after a corrupt point', { dir, why, segments: gone.map((s) => s.baseOffset), bytes })
    for (const s of gone) {
      dirty.delete(s)
      await s.close()
      for (const suffix of SEGMENT_SUFFIXES) {
        if (fs.exists(s.path(suffix))) drop(segmentFileName(s.baseOffset, suffix))
      }
    }
  }

  if (segments.length > 0) {
    const last = segments.length - 1
    let recoverFrom: number
    if (opts.cleanShutdown) recoverFrom = last
    else {
      // From the segment holding the last flushed offset (recoveryPoint - 1), not the one holding the recovery
      // point: when that sits exactly on a segment boundary the previous segment may have been rolled after
      // the checkpoint, its final index entries not yet on disk.
      recoverFrom = 0
      for (let i = 0; i <= last; i++) if (segments[i]!.baseOffset < recoveryPoint) recoverFrom = i
    }

    // Segments below the recovery point: cheap checks in parallel, a rebuild (made durable now) if one fails.
    await Promise.all(
      segments.slice(0, recoverFrom).map(async (seg, i) => {
        const end = segments[i + 1]!.baseOffset
        const problem = missing.has(seg) ? 'index file missing' : await seg.quickCheck(end)
        if (problem === null) return
        logger.warn('rebuilding the index of a flushed segment', { segment: seg.path(LOG_SUFFIX), problem })
        const res = await seg.recover(config.indexIntervalBytes, false)
        if (res.problem) logger.error('segment below the recovery point is damaged', { segment: seg.path(LOG_SUFFIX), problem: res.problem })
        seg.size = seg.log.size()
        seg.nextOffset = end
        mustSync.push(...seg.syncs())
      }),
    )

    if (opts.cleanShutdown) {
      const active = segments[last]!
      const problem = missing.has(active) ? 'index file missing' : await loadActiveAfterCleanShutdown(active)
      if (problem !== null) {
        logger.warn('active segment needs recovery despite a clean shutdown', { segment: active.path(LOG_SUFFIX), problem })
        const res = await active.recover(config.indexIntervalBytes, true)
        dirty.add(active)
        if (res.invalidBytes > 0) {
          logger.warn('truncated an invalid log tail', { segment: active.path(LOG_SUFFIX), bytes: res.invalidBytes, problem: res.problem })
          mustSync.push(active.log.sync())
        }
      }
    } else {
      let expectedBase: number | null = null
      for (let i = recoverFrom; i < segments.length; i++) {
        const seg = segments[i]!
        if (expectedBase !== null && seg.baseOffset !== expectedBase) {
          await deleteFrom(i, `segment ${seg.baseOffset} does not continue the log at ${expectedBase}`)
          break
        }
        const res = await seg.recover(config.indexIntervalBytes, true)
        dirty.add(seg)
        if (res.invalidBytes > 0) {
          logger.warn('truncated an invalid log tail', {
            segment: seg.path(LOG_SUFFIX),
            bytes: res.invalidBytes,
            offset: seg.nextOffset,
            problem: res.problem,
          })
          mustSync.push(seg.log.sync())
          await deleteFrom(i + 1, `segment ${seg.baseOffset} was truncated`)
          break
        }
        expectedBase = seg.nextOffset
      }
    }
  }

  let logEndOffset = segments.length > 0 ? segments[segments.length - 1]!.nextOffset : opts.logStartOffset
  if (segments.length > 0 && logEndOffset < opts.logStartOffset) {
    logger.warn('log end offset is below the checkpointed log start offset; starting empty there', {
      dir,
      logEndOffset,
      logStartOffset: opts.logStartOffset,
    })
    await deleteFrom(0, 'below the log start offset')
  }
  if (segments.length === 0) {
    const seg = LogSegment.create(fs, dir, opts.logStartOffset, config, now)
    segments = [seg]
    dirty.add(seg)
    dirChanged = true
    logEndOffset = opts.logStartOffset
  }

  const active = segments[segments.length - 1]!
  if (active.size > 0) {
    const head = await active.log.read(0, HEADER_SIZE)
    const first = head.length === HEADER_SIZE ? readInt64(head, 35) : -1
    active.rollBaseTime = first >= 0 && first <= now ? first : now
  }

  if (dirChanged) mustSync.push(fs.syncDir(dir))
  await Promise.all(mustSync)

  return {
    segments,
    logStartOffset: Math.max(opts.logStartOffset, segments[0]!.baseOffset),
    logEndOffset,
    recoveryPoint: opts.cleanShutdown && dirty.size === 0 ? logEndOffset : Math.min(recoveryPoint, logEndOffset),
    dirty: [...dirty],
    created,
  }
}

/**
 * After a clean shutdown: load the active segment's indexes and scan only past its last offset-index entry to
 * find the end offset. Returns a problem (then the caller recovers the whole segment) or null.
 */
async function loadActiveAfterCleanShutdown(seg: LogSegment): Promise<string | null> {
  const oi = seg.offsetIndex.file
  const ti = seg.timeIndex.file
  const size = seg.log.size()
  const [ob, tb] = await Promise.all([oi.read(0, oi.size()), ti.read(0, ti.size())])
  const problem = seg.offsetIndex.load(ob, size, Infinity) ?? seg.timeIndex.load(tb, Infinity)
  if (problem !== null) return problem
  const last = seg.timeIndex.lastEntry()
  seg.maxTimestamp = last.timestamp
  seg.offsetOfMaxTimestamp = last.timestamp >= 0 ? last.offset : -1
  const entries = seg.offsetIndex.entries
  const start = seg.offsetIndex.lastPosition
  let expected: number | null = entries > 0 ? null : seg.baseOffset
  const res = await forEachBatch(seg.log, start, size, (b, pos) => {
    if (expected === null) {
      if (b.lastOffset !== seg.offsetIndex.lastOffset) return `index entry ${seg.offsetIndex.lastOffset} points at a batch ending at ${b.lastOffset}`
    } else if (b.baseOffset !== expected) return `batch at ${pos} starts at ${b.baseOffset}, expected ${expected}`
    if (!b.isCrcValid()) return `batch at ${pos} fails its CRC`
    if (b.maxTimestamp > seg.maxTimestamp) {
      seg.maxTimestamp = b.maxTimestamp
      seg.offsetOfMaxTimestamp = b.lastOffset
    }
    expected = b.lastOffset + 1
    return null
  })
  if (res.problem !== null) return res.problem
  if (expected === null) return 'the last index entry points past the data'
  seg.size = res.end
  seg.nextOffset = expected
  seg.bytesSinceLastIndexEntry = size - start
  seg.indexesLoaded = true
  return null
}

/**
 * The partition's leader-epoch cache after loadLog. Entries come from the checkpoint; past the recovery point
 * (after an unclean stop) they are re-derived from the batches, since a truncation or new epoch there may not
 * have been checkpointed. A missing or malformed checkpoint is rebuilt from every batch. Then entries past the
 * log end or before the log start are trimmed, and a changed cache is written before the log takes writes.
 */
export async function loadLeaderEpochCache(fs: FileSystem, dir: string, loaded: LoadedLog, opts: LoadOptions): Promise<LeaderEpochCache> {
  const read = await readEpochCheckpoint(fs, dir)
  const persist = { fs, dir }
  const { logStartOffset, logEndOffset, segments } = loaded
  let cache: LeaderEpochCache
  let scanFrom: number
  if ('problem' in read) {
    // Missing is normal before the first flush; malformed is worth a warning.
    if (read.problem !== 'missing') opts.logger.warn('rebuilding the leader-epoch cache from the log', { dir, problem: read.problem })
    else if (logEndOffset > logStartOffset) opts.logger.info('rebuilding the leader-epoch cache from the log', { dir, problem: read.problem })
    cache = new LeaderEpochCache([], persist)
    scanFrom = logStartOffset
  } else {
    cache = new LeaderEpochCache(read.entries, persist)
    scanFrom = opts.cleanShutdown ? logEndOffset : Math.max(logStartOffset, Math.min(opts.recoveryPoint, logEndOffset))
  }
  if (scanFrom < logEndOffset) {
    let first = true
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!
      if (i + 1 < segments.length && segments[i + 1]!.baseOffset <= scanFrom) continue
      await forEachBatch(seg.log, 0, seg.size, (b) => {
        if (b.lastOffset < scanFrom) return null
        if (first) {
          cache.truncateFromEnd(b.baseOffset)
          first = false
        }
        if (b.partitionLeaderEpoch >= 0) cache.assign(b.partitionLeaderEpoch, b.baseOffset)
        return null
      })
    }
  }
  cache.truncateFromEnd(logEndOffset)
  cache.truncateFromStart(logStartOffset)
  if (cache.dirty) await cache.flush()
  return cache
}
