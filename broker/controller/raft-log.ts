// The metadata log in memory: entries from startOffset (the end of the latest snapshot) to the end, with the
// epoch boundaries Kafka keeps in its leader-epoch cache, and the two questions Raft asks of a log:
// where does an epoch end (endOffsetForEpoch), and does a follower's log match ours (validateFetch).
// Persistence is raft-store.ts's job; this class only checks that it is used the way Raft allows
// (contiguous offsets, epochs never going back, no truncation below the start).

import type { LogEntry, OffsetAndEpoch } from './raft-types.ts'

export type FetchValidation =
  | { readonly kind: 'valid' }
  | { readonly kind: 'diverging'; readonly epoch: number; readonly endOffset: number }
  | { readonly kind: 'snapshot' }

interface EpochStart {
  readonly epoch: number
  readonly start: number
}

export class RaftLog {
  #entries: LogEntry[] = []
  #start: number
  #startEpoch: number
  /** Each epoch present in the entries with the offset of its first entry, ascending. */
  #epochs: EpochStart[] = []
  #version = 0

  constructor(startOffset = 0, startEpoch = 0, entries: readonly LogEntry[] = []) {
    this.#start = startOffset
    this.#startEpoch = startEpoch
    this.append(entries)
  }

  get startOffset(): number {
    return this.#start
  }

  /** Epoch of the entry at startOffset - 1 (the snapshot's), 0 for an empty history. */
  get startEpoch(): number {
    return this.#startEpoch
  }

  get endOffset(): number {
    return this.#start + this.#entries.length
  }

  get lastEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? this.#startEpoch
  }

  /** Bumped by every change; lets observers skip work when nothing moved. */
  get version(): number {
    return this.#version
  }

  entries(): readonly LogEntry[] {
    return this.#entries
  }

  entry(offset: number): LogEntry | undefined {
    return offset >= this.#start ? this.#entries[offset - this.#start] : undefined
  }

  /** Epoch of the entry at `offset`; startOffset - 1 answers the snapshot's epoch. */
  epochAt(offset: number): number | undefined {
    if (offset === this.#start - 1) return this.#startEpoch
    return this.entry(offset)?.epoch
  }

  slice(from: number, to: number): LogEntry[] {
    return this.#entries.slice(Math.max(0, from - this.#start), Math.max(0, to - this.#start))
  }

  append(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.offset !== this.endOffset) throw new Error(`raft log: append at ${e.offset}, end is ${this.endOffset}`)
      const last = this.lastEpoch
      if (e.epoch < last) throw new Error(`raft log: epoch ${e.epoch} at ${e.offset} after epoch ${last}`)
      if (this.#epochs.length === 0 || e.epoch !== this.#epochs.at(-1)!.epoch) this.#epochs.push({ epoch: e.epoch, start: e.offset })
      this.#entries.push(e)
    }
    if (entries.length > 0) this.#version++
  }

  /** Removes every entry at or above `offset`. */
  truncateTo(offset: number): void {
    if (offset < this.#start) throw new Error(`raft log: truncate to ${offset} below the log start ${this.#start}`)
    if (offset >= this.endOffset) return
    this.#entries.length = offset - this.#start
    while (this.#epochs.length > 0 && this.#epochs.at(-1)!.start >= offset) this.#epochs.pop()
    this.#version++
  }

  /** Drops the entries below `offset` (a snapshot now covers them). */
  compactTo(offset: number): void {
    if (offset <= this.#start) return
    if (offset > this.endOffset) throw new Error(`raft log: compact to ${offset} beyond the end ${this.endOffset}`)
    this.#startEpoch = this.epochAt(offset - 1)!
    this.#entries.splice(0, offset - this.#start)
    this.#start = offset
    const kept = this.#epochs.filter((_e, i) => (this.#epochs[i + 1]?.start ?? Infinity) > offset)
    this.#epochs = kept.map((e) => (e.start < offset ? { epoch: e.epoch, start: offset } : e))
    if (this.#entries.length === 0) this.#epochs = []
    this.#version++
  }

  /** Forgets every entry: the log restarts empty after a snapshot ending at `startOffset`. */
  reset(startOffset: number, startEpoch: number): void {
    this.#entries = []
    this.#epochs = []
    this.#start = startOffset
    this.#startEpoch = startEpoch
    this.#version++
  }

  /**
   * The largest epoch not above `epoch` and the offset where it ends here (Kafka's endOffsetForEpoch); null when
   * that epoch lies below the snapshot, where the boundaries are gone.
   */
  endOffsetForEpoch(epoch: number): OffsetAndEpoch | null {
    if (epoch < this.#startEpoch) return null
    let found: OffsetAndEpoch = { epoch: this.#startEpoch, offset: this.#start }
    for (let i = 0; i < this.#epochs.length; i++) {
      const e = this.#epochs[i]!
      if (e.epoch > epoch) break
      found = { epoch: e.epoch, offset: this.#epochs[i + 1]?.start ?? this.endOffset }
    }
    return found
  }

  /**
   * Whether a follower whose log ends at `fetchOffset` with `lastFetchedEpoch` holds a prefix of this log
   * (Kafka's validateOffsetAndEpoch). Entries with the same offset and epoch were written by the same leader,
   * so matching the last one proves the whole prefix matches.
   */
  validateFetch(fetchOffset: number, lastFetchedEpoch: number): FetchValidation {
    if (this.#start === 0 && fetchOffset === 0) return { kind: 'valid' }
    if (
      this.#start > 0 &&
      (fetchOffset < this.#start || (fetchOffset === this.#start && lastFetchedEpoch !== this.#startEpoch) || lastFetchedEpoch < this.#startEpoch)
    ) {
      return { kind: 'snapshot' }
    }
    const end = this.endOffsetForEpoch(lastFetchedEpoch)
    if (end === null) return { kind: 'snapshot' }
    if (end.epoch !== lastFetchedEpoch || end.offset < fetchOffset) return { kind: 'diverging', epoch: end.epoch, endOffset: end.offset }
    return { kind: 'valid' }
  }
}
