// Writer: builds a message as a list of chunks. Small fields go into a growing scratch buffer; large
// buffers (record batches read from the log) are appended by reference, so a Fetch response is never
// copied before it reaches the socket.

const TWO_32 = 4294967296
/** Largest magnitude whose zig-zag form (2|v| or 2|v|-1) a number still holds exactly. */
const MAX_EXACT_ZIGZAG = 2 ** 52 - 1
/** Buffers at least this large are referenced, not copied. */
const REF_THRESHOLD = 512

export class Writer {
  private chunks: Buffer[] = []
  private buf: Buffer
  private pos = 0
  private start = 0
  private flushedLength = 0

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize)
  }

  get length(): number {
    return this.flushedLength + (this.pos - this.start)
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    this.sealScratch()
    const size = Math.max(n, this.buf.length * 2, 256)
    this.buf = Buffer.allocUnsafe(size)
    this.pos = 0
    this.start = 0
  }

  private sealScratch(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos))
      this.flushedLength += this.pos - this.start
      this.start = this.pos
    }
  }

  bool(v: boolean): this {
    this.ensure(1)
    this.buf[this.pos++] = v ? 1 : 0
    return this
  }

  int8(v: number): this {
    this.ensure(1)
    this.buf.writeInt8(v, this.pos)
    this.pos += 1
    return this
  }

  int16(v: number): this {
    this.ensure(2)
    this.buf.writeInt16BE(v, this.pos)
    this.pos += 2
    return this
  }

  uint16(v: number): this {
    this.ensure(2)
    this.buf.writeUInt16BE(v, this.pos)
    this.pos += 2
    return this
  }

  int32(v: number): this {
    this.ensure(4)
    this.buf.writeInt32BE(v, this.pos)
    this.pos += 4
    return this
  }

  uint32(v: number): this {
    this.ensure(4)
    this.buf.writeUInt32BE(v, this.pos)
    this.pos += 4
    return this
  }

  int64(v: number): this {
    this.ensure(8)
    const hi = Math.floor(v / TWO_32)
    this.buf.writeInt32BE(hi, this.pos)
    this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 4)
    this.pos += 8
    return this
  }

  float64(v: number): this {
    this.ensure(8)
    this.buf.writeDoubleBE(v, this.pos)
    this.pos += 8
    return this
  }

  /** Unsigned varint (32 bits). */
  uvarint(v: number): this {
    if (!(v >= 0 && v <= 0xffffffff)) throw new RangeError(`unsigned varint out of range: ${v}`)
    this.ensure(5)
    let n = v
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.pos++] = n
    return this
  }

  /** Signed zig-zag varint (int32). */
  varint(v: number): this {
    if (!(v >= -0x80000000 && v <= 0x7fffffff)) throw new RangeError(`varint out of int32 range: ${v}`)
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  /** Signed zig-zag varlong (int64), exact for every safe integer and for -2^63. */
  varlong(v: number): this {
    if (Number.isInteger(v) && v >= -MAX_EXACT_ZIGZAG && v <= MAX_EXACT_ZIGZAG) {
      let n = v >= 0 ? v * 2 : -v * 2 - 1
      this.ensure(10)
      while (n >= 0x80) {
        this.buf[this.pos++] = (n % 128) | 0x80
        n = Math.floor(n / 128)
      }
      this.buf[this.pos++] = n
      return this
    }
    // Beyond 2^52 the doubled value would round: zig-zag in BigInt (throws RangeError for non-integers).
    const big = BigInt(v)
    if (big < -(1n << 63n) || big >= 1n << 63n) throw new RangeError(`varlong out of int64 range: ${v}`)
    let n = big >= 0n ? big << 1n : (-big << 1n) - 1n
    this.ensure(10)
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80
      n >>= 7n
    }
    this.buf[this.pos++] = Number(n)
    return this
  }

  uuid(hex: string): this {
    this.ensure(16)
    const written = this.buf.write(hex.padStart(32, '0'), this.pos, 16, 'hex')
    if (written !== 16) throw new TypeError(`uuid must be 32 hex digits, got ${JSON.stringify(hex)}`)
    this.pos += 16
    return this
  }

  /** Appends bytes: copied when small, referenced when large. The caller must not mutate a referenced buffer afterwards. */
  raw(b: Buffer): this {
    if (b.length >= REF_THRESHOLD) {
      this.sealScratch()
      this.chunks.push(b)
      this.flushedLength += b.length
    } else {
      this.ensure(b.length)
      b.copy(this.buf, this.pos)
      this.pos += b.length
    }
    return this
  }

  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1)
    const len = Buffer.byteLength(s)
    if (len > 0x7fff) throw new RangeError(`string of ${len} bytes does not fit an int16 length`)
    this.int16(len)
    this.ensure(len)
    this.pos += this.buf.write(s, this.pos, 'utf8')
    return this
  }

  nullableBytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1)
    return this.int32(b.length).raw(b)
  }

  compactNullableString(s: string | null): this {
    if (s === null) return this.uvarint(0)
    const len = Buffer.byteLength(s)
    this.uvarint(len + 1)
    this.ensure(len)
    this.pos += this.buf.write(s, this.pos, 'utf8')
    return this
  }

  compactNullableBytes(b: Buffer | null): this {
    if (b === null) return this.uvarint(0)
    return this.uvarint(b.length + 1).raw(b)
  }

  /** Overwrites an int32 written earlier at absolute position `at` (only within the current scratch buffer). */
  reserveInt32(): (v: number) => void {
    this.ensure(4)
    const buf = this.buf
    const at = this.pos
    this.pos += 4
    return (v: number) => {
      buf.writeInt32BE(v, at)
    }
  }

  /** The chunks written so far, in order. The writer must not be used afterwards. */
  chunksOut(): Buffer[] {
    this.sealScratch()
    return this.chunks
  }

  /** One contiguous buffer (copies when more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.chunksOut()
    if (chunks.length === 1) return chunks[0]!
    return Buffer.concat(chunks, this.flushedLength)
  }
}
