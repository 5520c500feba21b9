// Kafka's framing: every request and response is an int32 big-endian size followed by that many bytes. One
// decoder and one writer for every reader of a Kafka-framed stream (the broker's connections, the replication
// and controller channels, the raw client, the bench), bytes in and frames out: no sockets, no state beyond
// the unread bytes.
//
// The decoder keeps incoming chunks in a list with a head index: a chunk is never copied on arrival, a frame
// that lies in one chunk is a view of it (no copy), and a frame that spans chunks is copied once, when it is
// complete. So the cost is linear in the bytes however the stream is chunked (joining on every chunk was
// quadratic in a frame's size: a multi-megabyte fetch response arrives in 64 KiB pieces).

import type { Writer } from './writer.ts'

/** A size prefix outside 0..max: the stream cannot be read further, and its owner closes the connection. */
export class FrameSizeError extends RangeError {
  readonly size: number
  readonly max: number

  constructor(size: number, max: number) {
    super(`frame size ${size} is outside 0..${max}`)
    this.name = 'FrameSizeError'
    this.size = size
    this.max = max
  }
}

/** The largest size an int32 prefix can state: no limit beyond the format's. */
export const MAX_INT32_FRAME = 0x7fffffff
const EMPTY = Buffer.alloc(0)
/** Consumed chunk slots are dropped from the list once there are this many and they are most of it. */
const COMPACT_AFTER = 1024

export class FrameDecoder {
  /** Checked as each frame's size prefix is read, so a reader may lower or raise it between frames. */
  maxFrameBytes: number
  private chunks: Buffer[] = []
  private head = 0
  private unread = 0
  /** The size of the frame being assembled, once its prefix is read; -1 before. */
  private size = -1

  constructor(maxFrameBytes: number = MAX_INT32_FRAME) {
    if (!(Number.isInteger(maxFrameBytes) && maxFrameBytes >= 0 && maxFrameBytes <= MAX_INT32_FRAME)) {
      throw new RangeError(`maxFrameBytes must be an integer in 0..${MAX_INT32_FRAME}, got ${maxFrameBytes}`)
    }
    this.maxFrameBytes = maxFrameBytes
  }

  /** Appends a chunk as it came (kept by reference: the caller must not reuse its memory). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.unread += chunk.length
  }

  /**
   * The next complete frame (without its size prefix), or null until more bytes arrive. A view of the pushed
   * chunk when the frame lies in one, else a copy. Throws FrameSizeError on a negative or oversized prefix,
   * and again on every later call: nothing after it can be framed.
   */
  next(): Buffer | null {
    if (this.size < 0) {
      if (this.unread < 4) return null
      const size = this.readSize()
      if (size < 0 || size > this.maxFrameBytes) throw new FrameSizeError(size, this.maxFrameBytes)
      this.skip(4)
      this.size = size
    }
    if (this.unread < this.size) return null
    const frame = this.take(this.size)
    this.size = -1
    if (this.head === this.chunks.length) {
      this.chunks.length = 0
      this.head = 0
    } else if (this.head >= COMPACT_AFTER && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
    return frame
  }

  /** Drops everything buffered (a connection that is closing reads no more). */
  clear(): void {
    this.chunks = []
    this.head = 0
    this.unread = 0
    this.size = -1
  }

  /** The int32 at the read position; needs 4 unread bytes. Leaves the stream where it is. */
  private readSize(): number {
    const first = this.chunks[this.head]!
    if (first.length >= 4) return first.readInt32BE(0)
    let v = 0
    for (let i = this.head, got = 0; got < 4; i++) {
      const c = this.chunks[i]!
      for (let j = 0; j < c.length && got < 4; j++, got++) v = (v << 8) | c[j]!
    }
    return v | 0
  }

  private skip(n: number): void {
    this.unread -= n
    while (n > 0) {
      const c = this.chunks[this.head]!
      if (c.length > n) {
        this.chunks[this.head] = c.subarray(n)
        return
      }
      n -= c.length
      this.chunks[this.head++] = EMPTY
    }
  }

  /** Takes n bytes off the front: a view when the head chunk holds them, otherwise one copy. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY
    this.unread -= n
    const first = this.chunks[this.head]!
    if (first.length > n) {
      this.chunks[this.head] = first.subarray(n)
      return first.subarray(0, n)
    }
    if (first.length === n) {
      this.chunks[this.head++] = EMPTY
      return first
    }
    const out = Buffer.allocUnsafe(n)
    let got = 0
    while (got < n) {
      const c = this.chunks[this.head]!
      const k = Math.min(n - got, c.length)
      c.copy(out, got, 0, k)
      got += k
      if (k === c.length) this.chunks[this.head++] = EMPTY
      else this.chunks[this.head] = c.subarray(k)
    }
    return out
  }
}

/**
 * Starts a frame at the writer's current end: reserves the size prefix and returns the function that fills it
 * in once everything after it is written.
 */
export function beginFrame(w: Writer): () => void {
  const start = w.length
  const setSize = w.reserveInt32()
  return () => setSize(w.length - start - 4)
}

/** One frame of a whole body: the prefix and the body in one buffer (a string is written as UTF-8). */
export function encodeFrame(body: Buffer | string): Buffer {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length
  if (size > MAX_INT32_FRAME) throw new FrameSizeError(size, MAX_INT32_FRAME)
  const out = Buffer.allocUnsafe(4 + size)
  out.writeInt32BE(size, 0)
  if (typeof body === 'string') out.write(body, 4, 'utf8')
  else body.copy(out, 4)
  return out
}
