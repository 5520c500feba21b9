// The time index of one segment (<baseOffset>.timeindex): 12-byte entries, timestamp int64 + relative offset
// int32, big-endian. Kafka semantics: an entry (t, o) is added at index points only when the segment's max
// timestamp grew, o being the last offset of the batch that first reached t; at roll and close one more entry
// records the segment's final max timestamp, so the last entry is the segment's largest timestamp.

import type { FileHandle } from './file-system.ts'

export const TIME_ENTRY_SIZE = 12
const TWO_32 = 4294967296

export class TimeIndex {
  readonly baseOffset: number
  readonly file: FileHandle
  maxEntries: number
  dirty = false
  #ts = new Float64Array(16)
  #rel = new Int32Array(16)
  #n = 0
  #persisted = 0

  constructor(file: FileHandle, baseOffset: number, maxIndexBytes: number) {
    this.file = file
    this.baseOffset = baseOffset
    this.maxEntries = Math.floor(maxIndexBytes / TIME_ENTRY_SIZE)
  }

  get entries(): number {
    return this.#n
  }

  get isFull(): boolean {
    return this.#n >= this.maxEntries
  }

  /** The last entry, or (-1, baseOffset) when empty. */
  lastEntry(): { timestamp: number; offset: number } {
    if (this.#n === 0) return { timestamp: -1, offset: this.baseOffset }
    return { timestamp: this.#ts[this.#n - 1]!, offset: this.baseOffset + this.#rel[this.#n - 1]! }
  }

  /** Adds (timestamp, offset) if the timestamp is larger than the last entry's. Returns whether it did. */
  maybeAppend(timestamp: number, offset: number, skipFullCheck = false): boolean {
    if (!skipFullCheck && this.isFull) return false
    if (timestamp <= this.lastEntry().timestamp) return false
    const rel = offset - this.baseOffset
    if (rel < 0 || (this.#n > 0 && rel < this.#rel[this.#n - 1]!)) {
      throw new RangeError(`time index ${this.baseOffset}: entry at offset ${offset} goes backwards`)
    }
    if (this.#n === this.#ts.length) {
      const ts2 = new Float64Array(this.#n * 2)
      const rel2 = new Int32Array(this.#n * 2)
      ts2.set(this.#ts)
      rel2.set(this.#rel)
      this.#ts = ts2
      this.#rel = rel2
    }
    this.#ts[this.#n] = timestamp
    this.#rel[this.#n] = rel
    this.#n++
    return true
  }

  /** The entry with the largest timestamp <= `timestamp`, or (-1, baseOffset). */
  lookup(timestamp: number): { timestamp: number; offset: number } {
    let lo = 0
    let hi = this.#n - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.#ts[mid]! <= timestamp) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (found < 0) return { timestamp: -1, offset: this.baseOffset }
    return { timestamp: this.#ts[found]!, offset: this.baseOffset + this.#rel[found]! }
  }

  /** Drops the entries for offsets >= `offset`. */
  truncateTo(offset: number): void {
    const rel = offset - this.baseOffset
    while (this.#n > 0 && this.#rel[this.#n - 1]! >= rel) this.#n--
  }

  clear(): void {
    this.#n = 0
  }

  writePending(): void {
    if (this.#persisted > this.#n) {
      this.file.truncate(this.#n * TIME_ENTRY_SIZE)
      this.#persisted = this.#n
      this.dirty = true
    }
    if (this.#n === this.#persisted) return
    const buf = Buffer.allocUnsafe((this.#n - this.#persisted) * TIME_ENTRY_SIZE)
    for (let i = this.#persisted, at = 0; i < this.#n; i++, at += TIME_ENTRY_SIZE) {
      writeInt64(buf, at, this.#ts[i]!)
      buf.writeInt32BE(this.#rel[i]!, at + 8)
    }
    this.file.write(buf, this.#persisted * TIME_ENTRY_SIZE)
    this.#persisted = this.#n
    this.dirty = true
  }

  rewrite(): void {
    this.file.truncate(0)
    this.#persisted = 0
    this.dirty = true
    this.writePending()
  }

  /** Loads entries from the file's bytes; returns why they are unusable, or null. */
  load(bytes: Buffer, endOffset: number): string | null {
    this.#n = 0
    this.#persisted = 0
    if (bytes.length % TIME_ENTRY_SIZE !== 0) return `length ${bytes.length} is not a multiple of ${TIME_ENTRY_SIZE}`
    for (let at = 0; at < bytes.length; at += TIME_ENTRY_SIZE) {
      const ts = readInt64(bytes, at)
      const rel = bytes.readInt32BE(at + 8)
      const i = at / TIME_ENTRY_SIZE
      if (rel < 0 || this.baseOffset + rel >= endOffset) return `entry ${i}: offset ${this.baseOffset + rel} outside the segment`
      if (this.#n > 0 && rel < this.#rel[this.#n - 1]!) return `entry ${i}: offset goes backwards`
      if (!this.maybeAppend(ts, this.baseOffset + rel, true)) return `entry ${i}: timestamp ${ts} does not grow`
    }
    this.#persisted = this.#n
    return null
  }
}

export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4)
}

export function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32)
  buf.writeInt32BE(hi, at)
  buf.writeUInt32BE(v - hi * TWO_32, at + 4)
}
