// The sparse offset index of one segment (<baseOffset>.index): 8-byte entries, relative offset int32 + position
// int32, big-endian. An entry (o, p) says the batch whose last offset is o starts at byte p of the .log file, so a
// lookup of offset x starts scanning at the largest entry <= x.
//
// Unlike Kafka we do not preallocate and mmap the file: the entries live in memory and the file only ever holds
// whole entries appended at its end (written in one go at flush, roll and close), so it needs no trimming and a
// torn tail shows as a length that is not a multiple of 8.

import type { FileHandle } from './file-system.ts'

export const OFFSET_ENTRY_SIZE = 8

export class OffsetIndex {
  readonly baseOffset: number
  readonly file: FileHandle
  /** Entries allowed before the segment must roll (segment.index.bytes / 8). */
  maxEntries: number
  /** The file changed since the last sync. */
  dirty = false
  #rel = new Int32Array(16)
  #pos = new Int32Array(16)
  #n = 0
  #persisted = 0

  constructor(file: FileHandle, baseOffset: number, maxIndexBytes: number) {
    this.file = file
    this.baseOffset = baseOffset
    this.maxEntries = Math.floor(maxIndexBytes / OFFSET_ENTRY_SIZE)
  }

  get entries(): number {
    return this.#n
  }

  get isFull(): boolean {
    return this.#n >= this.maxEntries
  }

  get lastOffset(): number {
    return this.#n === 0 ? this.baseOffset : this.baseOffset + this.#rel[this.#n - 1]!
  }

  get lastPosition(): number {
    return this.#n === 0 ? 0 : this.#pos[this.#n - 1]!
  }

  append(offset: number, position: number): void {
    const rel = offset - this.baseOffset
    if (rel < 0 || rel > 0x7fffffff || (this.#n > 0 && rel <= this.#rel[this.#n - 1]!)) {
      throw new RangeError(`offset index ${this.baseOffset}: entry ${offset} does not follow ${this.lastOffset}`)
    }
    if (this.#n === this.#rel.length) {
      const rel2 = new Int32Array(this.#n * 2)
      const pos2 = new Int32Array(this.#n * 2)
      rel2.set(this.#rel)
      pos2.set(this.#pos)
      this.#rel = rel2
      this.#pos = pos2
    }
    this.#rel[this.#n] = rel
    this.#pos[this.#n] = position
    this.#n++
  }

  /** The largest entry whose offset is <= `offset`, or (baseOffset, 0). */
  lookup(offset: number): { offset: number; position: number } {
    const rel = offset - this.baseOffset
    let lo = 0
    let hi = this.#n - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.#rel[mid]! <= rel) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (found < 0) return { offset: this.baseOffset, position: 0 }
    return { offset: this.baseOffset + this.#rel[found]!, position: this.#pos[found]! }
  }

  /** Drops the entries for offsets >= `offset` (the file follows at the next writePending). */
  truncateTo(offset: number): void {
    const rel = offset - this.baseOffset
    while (this.#n > 0 && this.#rel[this.#n - 1]! >= rel) this.#n--
  }

  clear(): void {
    this.#n = 0
  }

  /** Brings the file in line with the entries in memory: one truncate and/or one write, only if needed. */
  writePending(): void {
    if (this.#persisted > this.#n) {
      this.file.truncate(this.#n * OFFSET_ENTRY_SIZE)
      this.#persisted = this.#n
      this.dirty = true
    }
    if (this.#n === this.#persisted) return
    const buf = Buffer.allocUnsafe((this.#n - this.#persisted) * OFFSET_ENTRY_SIZE)
    for (let i = this.#persisted, at = 0; i < this.#n; i++, at += OFFSET_ENTRY_SIZE) {
      buf.writeInt32BE(this.#rel[i]!, at)
      buf.writeInt32BE(this.#pos[i]!, at + 4)
    }
    this.file.write(buf, this.#persisted * OFFSET_ENTRY_SIZE)
    this.#persisted = this.#n
    this.dirty = true
  }

  /** Replaces the whole file with the entries in memory (after a rebuild). */
  rewrite(): void {
    this.file.truncate(0)
    this.#persisted = 0
    this.dirty = true
    this.writePending()
  }

  /**
   * Loads entries from the file's bytes. Returns why they are unusable (torn tail, offsets not increasing, a
   * position past the log) or null. `endOffset` bounds the offsets when the segment's end is known.
   */
  load(bytes: Buffer, logSize: number, endOffset: number): string | null {
    this.#n = 0
    this.#persisted = 0
    if (bytes.length % OFFSET_ENTRY_SIZE !== 0) return `length ${bytes.length} is not a multiple of ${OFFSET_ENTRY_SIZE}`
    let prevRel = -1
    let prevPos = -1
    for (let at = 0; at < bytes.length; at += OFFSET_ENTRY_SIZE) {
      const rel = bytes.readInt32BE(at)
      const pos = bytes.readInt32BE(at + 4)
      if (rel <= prevRel || rel < 0) return `entry ${at / OFFSET_ENTRY_SIZE}: offset ${rel} after ${prevRel}`
      if (pos <= prevPos || pos >= logSize) return `entry ${at / OFFSET_ENTRY_SIZE}: position ${pos} (log size ${logSize})`
      if (this.baseOffset + rel >= endOffset) return `entry ${at / OFFSET_ENTRY_SIZE}: offset past the segment end ${endOffset}`
      this.append(this.baseOffset + rel, pos)
      prevRel = rel
      prevPos = pos
    }
    this.#persisted = this.#n
    return null
  }
}
