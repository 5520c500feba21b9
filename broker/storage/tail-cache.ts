// The newest appended batches, kept as the very buffers that were written (no copy), so consumers tailing the
// log are served from memory without a read on the libuv pool. Bounded by bytes; always ends at the log end
// offset and covers a contiguous offset range, or is empty. Like a read from disk, one answer never spans two
// segments.

import { LOG_OVERHEAD } from '../protocol/record-batch.ts'
import { readInt64 } from './time-index.ts'

interface Chunk {
  base: number
  next: number
  buf: Buffer
  /** Base offset of the segment the bytes went to. */
  segment: number
}

export interface CachedRead {
  records: Buffer[]
  bytes: number
}

export class TailCache {
  limit: number
  #chunks: Chunk[] = []
  #head = 0
  #bytes = 0

  constructor(limit: number) {
    this.limit = limit
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Adds the batches of one append, [base, next), written to the segment based at `segment`. */
  push(base: number, next: number, buf: Buffer, segment: number): void {
    const last = this.#chunks[this.#chunks.length - 1]
    if (buf.length > this.limit || (this.#head < this.#chunks.length && last!.next !== base)) {
      this.clear()
      if (buf.length > this.limit) return
    }
    this.#chunks.push({ base, next, buf, segment })
    this.#bytes += buf.length
    while (this.#bytes > this.limit) this.#bytes -= this.#chunks[this.#head++]!.buf.length
    if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head)
      this.#head = 0
    }
  }

  clear(): void {
    this.#chunks = []
    this.#head = 0
    this.#bytes = 0
  }

  /** Same contract as PartitionLog.read for an offset inside the cached range; null when it is not. */
  read(offset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): CachedRead | null {
    const chunks = this.#chunks
    const n = chunks.length
    if (this.#head >= n || offset < chunks[this.#head]!.base || offset >= chunks[n - 1]!.next) return null
    let lo = this.#head
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (chunks[mid]!.base <= offset) lo = mid
      else hi = mid - 1
    }
    const records: Buffer[] = []
    let bytes = 0
    let found = false
    const segment = chunks[lo]!.segment
    for (let c = lo; c < n && chunks[c]!.segment === segment; c++) {
      const buf = chunks[c]!.buf
      let pos = 0
      let runStart = -1
      while (pos < buf.length) {
        const size = LOG_OVERHEAD + buf.readInt32BE(pos + 8)
        const last = readInt64(buf, pos) + buf.readInt32BE(pos + 23)
        if (!found) {
          if (last < offset) {
            pos += size
            continue
          }
          found = true
        }
        if (last >= maxOffset || (bytes + size > maxBytes && !(bytes === 0 && minOneBatch))) {
          if (runStart >= 0) records.push(buf.subarray(runStart, pos))
          return { records, bytes }
        }
        if (runStart < 0) runStart = pos
        bytes += size
        pos += size
      }
      if (runStart >= 0) records.push(buf.subarray(runStart, pos))
    }
    return { records, bytes }
  }
}
