// The leader-epoch cache of one partition (Kafka's LeaderEpochFileCache): for every leader epoch present in the
// log, the offset of its first record. Followers use it to find where their log diverges from the leader's
// (KIP-101, KIP-279): the end offset of epoch E is the start offset of the first epoch above E.
//
// Persisted as <partition dir>/leader-epoch-checkpoint in Kafka's text format:
//
//   0            version
//   2            number of entries
//   0 0          epoch startOffset
//   3 1200
//
// The file is replaced atomically (write .tmp, fsync, rename, fsync the directory). The log writes it as part of
// every flush, before the recovery point moves, so entries for data below the recovery point are always on disk;
// entries for the unflushed tail are re-derived from the batches by log recovery (see PartitionLog.open).

import { dirname, join } from 'node:path'
import type { FileSystem } from './file-system.ts'

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint'
export const LEADER_EPOCH_CHECKPOINT_VERSION = 0
export const UNDEFINED_EPOCH = -1
export const UNDEFINED_EPOCH_OFFSET = -1

export interface EpochEntry {
  readonly epoch: number
  readonly startOffset: number
}

export interface EpochEndOffset {
  epoch: number
  endOffset: number
}

export function formatEpochCheckpoint(entries: readonly EpochEntry[]): string {
  const lines = [String(LEADER_EPOCH_CHECKPOINT_VERSION), String(entries.length)]
  for (const e of entries) lines.push(`${e.epoch} ${e.startOffset}`)
  return lines.join('\n') + '\n'
}

/** Parses a checkpoint; returns why it is malformed instead of throwing. Entries must be strictly increasing. */
export function parseEpochCheckpoint(text: string): { entries: EpochEntry[] } | { problem: string } {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  if (lines[0] !== String(LEADER_EPOCH_CHECKPOINT_VERSION)) return { problem: `unsupported version line ${JSON.stringify(lines[0] ?? '')}` }
  if (lines[1] === undefined || !/^\d+$/.test(lines[1])) return { problem: `bad entry count ${JSON.stringify(lines[1] ?? '')}` }
  const count = Number(lines[1])
  if (lines.length !== count + 2) return { problem: `expected ${count} entries, found ${lines.length - 2}` }
  const entries: EpochEntry[] = []
  for (let i = 2; i < lines.length; i++) {
    const m = /^(\d+) (\d+)$/.exec(lines[i]!)
    if (!m) return { problem: `line ${i + 1} is malformed: ${JSON.stringify(lines[i])}` }
    const epoch = Number(m[1])
    const startOffset = Number(m[2])
    if (!Number.isSafeInteger(startOffset) || epoch > 0x7fffffff) return { problem: `line ${i + 1} is out of range` }
    const prev = entries[entries.length - 1]
    if (prev && (epoch <= prev.epoch || startOffset < prev.startOffset)) return { problem: `line ${i + 1} is not monotonic` }
    entries.push({ epoch, startOffset })
  }
  return { entries }
}

export class LeaderEpochCache {
  /** Ascending by epoch and by start offset (start offsets may repeat: an epoch with no records). */
  #entries: EpochEntry[]
  readonly #fs: FileSystem | null
  readonly #path: string | null
  #version = 0
  #persistedVersion = 0
  #writing: Promise<void> | null = null

  /** `dir` null keeps the cache in memory only. */
  constructor(entries: readonly EpochEntry[] = [], persist: { fs: FileSystem; dir: string } | null = null) {
    this.#entries = [...entries]
    this.#fs = persist?.fs ?? null
    this.#path = persist ? join(persist.dir, LEADER_EPOCH_CHECKPOINT) : null
  }

  entries(): readonly EpochEntry[] {
    return this.#entries
  }

  get isEmpty(): boolean {
    return this.#entries.length === 0
  }

  /** The newest epoch, or UNDEFINED_EPOCH when empty. */
  get latestEpoch(): number {
    return this.#entries[this.#entries.length - 1]?.epoch ?? UNDEFINED_EPOCH
  }

  latestEntry(): EpochEntry | undefined {
    return this.#entries[this.#entries.length - 1]
  }

  earliestEntry(): EpochEntry | undefined {
    return this.#entries[0]
  }

  /** Start offset of `epoch` if it is in the cache. */
  startOffsetOf(epoch: number): number | undefined {
    return this.#entries.find((e) => e.epoch === epoch)?.startOffset
  }

  /** Whether entries changed since the last completed flush. */
  get dirty(): boolean {
    return this.#version !== this.#persistedVersion
  }

  /**
   * Records that `epoch` starts at `startOffset`. A no-op when the latest entry already is that epoch at the same
   * or a lower offset; otherwise every entry with epoch >= `epoch` or start >= `startOffset` is dropped first, so
   * the cache stays monotonic in both (Kafka's maybeTruncateNonMonotonicEntries). Returns whether it changed.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (!(epoch >= 0 && startOffset >= 0)) throw new RangeError(`assign: epoch ${epoch} at ${startOffset}`)
    const latest = this.latestEntry()
    if (latest && latest.epoch === epoch && latest.startOffset <= startOffset) return false
    let keep = this.#entries.length
    while (keep > 0) {
      const e = this.#entries[keep - 1]!
      if (e.epoch < epoch && e.startOffset < startOffset) break
      keep--
    }
    this.#entries.length = keep
    this.#entries.push({ epoch, startOffset })
    this.#version++
    return true
  }

  /**
   * The largest epoch <= `requestedEpoch` and where it ends: the start offset of the next higher epoch, or the
   * log end offset for the latest epoch. Kafka's exact answers: UNDEFINED for UNDEFINED or for an epoch above
   * every cached one (or an empty cache); (requestedEpoch, first start offset) below the first cached epoch.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undef = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    if (requestedEpoch === UNDEFINED_EPOCH) return undef
    const latest = this.latestEntry()
    if (latest && latest.epoch === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset }
    const higher = this.#entries.findIndex((e) => e.epoch > requestedEpoch)
    if (higher < 0) return undef
    const next = this.#entries[higher]!
    if (higher === 0) return { epoch: requestedEpoch, endOffset: next.startOffset }
    return { epoch: this.#entries[higher - 1]!.epoch, endOffset: next.startOffset }
  }

  /** The epoch of the record at `offset` (the last entry starting at or before it), or UNDEFINED_EPOCH. */
  epochForOffset(offset: number): number {
    let epoch = UNDEFINED_EPOCH
    for (const e of this.#entries) {
      if (e.startOffset > offset) break
      epoch = e.epoch
    }
    return epoch
  }

  /** Drops the entries starting at or after `endOffset` (the log was truncated to end there). */
  truncateFromEnd(endOffset: number): void {
    const latest = this.latestEntry()
    if (endOffset < 0 || !latest || latest.startOffset < endOffset) return
    let keep = this.#entries.length
    while (keep > 0 && this.#entries[keep - 1]!.startOffset >= endOffset) keep--
    this.#entries.length = keep
    this.#version++
  }

  /**
   * The log now starts at `startOffset`: entries starting at or before it go, and the last of them is kept with
   * its start moved up to `startOffset` (the epoch of the first remaining record).
   */
  truncateFromStart(startOffset: number): void {
    if (startOffset < 0) return
    let removed = 0
    while (removed < this.#entries.length && this.#entries[removed]!.startOffset <= startOffset) removed++
    if (removed === 0) return
    const last = this.#entries[removed - 1]!
    if (removed === 1 && last.startOffset === startOffset) return
    this.#entries.splice(0, removed, { epoch: last.epoch, startOffset })
    this.#version++
  }

  clear(): void {
    if (this.#entries.length === 0) return
    this.#entries = []
    this.#version++
  }

  /**
   * Writes the checkpoint when entries changed since the last write, atomically and durably. Writes are
   * serialized; the one that resolves covers every change made before the call.
   */
  async flush(): Promise<void> {
    if (!this.#fs || !this.#path) return
    while (this.#writing) await this.#writing.catch(() => {})
    if (!this.dirty) return
    const version = this.#version
    const text = formatEpochCheckpoint(this.#entries)
    this.#writing = writeAtomically(this.#fs, this.#path, text)
    try {
      await this.#writing
      this.#persistedVersion = version
    } finally {
      this.#writing = null
    }
  }
}

async function writeAtomically(fs: FileSystem, path: string, text: string): Promise<void> {
  const tmp = path + '.tmp'
  const file = fs.open(tmp, { create: true, truncate: true })
  try {
    file.write(Buffer.from(text, 'utf8'), 0)
    await file.sync()
  } finally {
    await file.close()
  }
  fs.rename(tmp, path)
  await fs.syncDir(dirname(path))
}

/** Reads the partition's checkpoint: its entries, or why it cannot be used (missing, malformed); the caller rebuilds. */
export async function readEpochCheckpoint(fs: FileSystem, dir: string): Promise<{ entries: EpochEntry[] } | { problem: string }> {
  const path = join(dir, LEADER_EPOCH_CHECKPOINT)
  if (!fs.exists(path)) return { problem: 'missing' }
  const file = fs.open(path)
  try {
    return parseEpochCheckpoint((await file.read(0, file.size())).toString('utf8'))
  } finally {
    await file.close()
  }
}
