// Size-prefixed Kafka framing for the bench's own servers and clients: whole frames out of a stream of chunks,
// as views when one chunk holds the frame and one copy when it spans several (what the broker does too).
// Linear in the number of chunks however small they are (a head index, not Array.shift).

export class FrameReader {
  private chunks: Buffer[] = []
  private head = 0
  private buffered = 0
  private readonly onFrame: (frame: Buffer) => void
  private readonly maxFrame: number

  constructor(onFrame: (frame: Buffer) => void, maxFrame = 100 * 1024 * 1024) {
    this.onFrame = onFrame
    this.maxFrame = maxFrame
  }

  /** Feeds one chunk; calls onFrame for every frame it completes. Throws on an impossible size. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
    while (this.buffered >= 4) {
      const size = this.peekSize()
      if (size < 0 || size > this.maxFrame) throw new RangeError(`frame size ${size} outside 0..${this.maxFrame}`)
      if (this.buffered < 4 + size) return
      this.take(4)
      this.onFrame(this.take(size))
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }

  private peekSize(): number {
    const first = this.chunks[this.head]!
    if (first.length >= 4) return first.readInt32BE(0)
    const four = Buffer.allocUnsafe(4)
    for (let i = this.head, got = 0; got < 4; i++) got += this.chunks[i]!.copy(four, got, 0, Math.min(4 - got, this.chunks[i]!.length))
    return four.readInt32BE(0)
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0)
    this.buffered -= n
    const first = this.chunks[this.head]!
    if (first.length > n) {
      this.chunks[this.head] = first.subarray(n)
      return first.subarray(0, n)
    }
    if (first.length === n) {
      this.head++
      return first
    }
    const out = Buffer.allocUnsafe(n)
    let got = 0
    while (got < n) {
      const c = this.chunks[this.head]!
      const k = Math.min(n - got, c.length)
      c.copy(out, got, 0, k)
      got += k
      if (k === c.length) this.head++
      else this.chunks[this.head] = c.subarray(k)
    }
    return out
  }
}
