// Reader: a cursor over one Buffer with the protocol's primitive types.
// Every read is bounds-checked and throws DecodeError (never a RangeError or a silent garbage value),
// so a malformed frame becomes one clean error at the connection that sent it.

export class DecodeError extends Error {
  readonly code = 'ERR_KAFKA_DECODE'
  constructor(message: string) {
    super(message)
    this.name = 'DecodeError'
  }
}

const TWO_32 = 4294967296

export class Reader {
  readonly buf: Buffer
  offset: number
  readonly end: number

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    this.buf = buf
    this.offset = offset
    this.end = end
  }

  get remaining(): number {
    return this.end - this.offset
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.end) {
      throw new DecodeError(`truncated input: ${what} needs ${n} bytes at offset ${this.offset}, ${this.end - this.offset} left`)
    }
  }

  bool(): boolean {
    this.need(1, 'bool')
    return this.buf[this.offset++] !== 0
  }

  int8(): number {
    this.need(1, 'int8')
    return this.buf.readInt8(this.offset++)
  }

  int16(): number {
    this.need(2, 'int16')
    const v = this.buf.readInt16BE(this.offset)
    this.offset += 2
    return v
  }

  uint16(): number {
    this.need(2, 'uint16')
    const v = this.buf.readUInt16BE(this.offset)
    this.offset += 2
    return v
  }

  int32(): number {
    this.need(4, 'int32')
    const v = this.buf.readInt32BE(this.offset)
    this.offset += 4
    return v
  }

  uint32(): number {
    this.need(4, 'uint32')
    const v = this.buf.readUInt32BE(this.offset)
    this.offset += 4
    return v
  }

  /** int64 as a JS number: exact within ±2^53, which covers offsets, timestamps and producer ids in practice. */
  int64(): number {
    this.need(8, 'int64')
    const hi = this.buf.readInt32BE(this.offset)
    const lo = this.buf.readUInt32BE(this.offset + 4)
    this.offset += 8
    return hi * TWO_32 + lo
  }

  float64(): number {
    this.need(8, 'float64')
    const v = this.buf.readDoubleBE(this.offset)
    this.offset += 8
    return v
  }

  /** Unsigned varint, at most 5 bytes (32 bits). */
  uvarint(): number {
    let result = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) throw new DecodeError(`truncated input: unsigned varint at offset ${this.offset}`)
      const b = this.buf[this.offset++]!
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new DecodeError(`unsigned varint overflows 32 bits at offset ${this.offset}`)
        return result
      }
      shift += 7
    }
    throw new DecodeError(`unsigned varint longer than 5 bytes at offset ${this.offset}`)
  }

  /** Signed zig-zag varint (int32). */
  varint(): number {
    const u = this.uvarint()
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2
  }

  /** Unsigned varlong, at most 10 bytes (64 bits); exact within 2^53. */
  uvarlong(): number {
    const start = this.offset
    let result = 0
    // Seven groups carry 49 bits, which a number holds exactly; longer encodings take the BigInt path.
    for (let shift = 0; shift < 49; shift += 7) {
      if (this.offset >= this.end) throw new DecodeError(`truncated input: varlong at offset ${this.offset}`)
      const b = this.buf[this.offset++]!
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return result
    }
    this.offset = start
    return Number(this.uvarlongBig())
  }

  /** Signed zig-zag varlong (int64); exact within ±2^53. */
  varlong(): number {
    const start = this.offset
    const u = this.uvarlong()
    if (u <= Number.MAX_SAFE_INTEGER) return u % 2 === 0 ? u / 2 : -(u + 1) / 2
    // The sign is the lowest bit, which a rounded number may have lost.
    this.offset = start
    const big = this.uvarlongBig()
    return Number(big & 1n ? -(big >> 1n) - 1n : big >> 1n)
  }

  private uvarlongBig(): bigint {
    let result = 0n
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new DecodeError(`truncated input: varlong at offset ${this.offset}`)
      const b = this.buf[this.offset++]!
      result |= BigInt(b & 0x7f) << BigInt(7 * i)
      if ((b & 0x80) === 0) {
        if (result > 0xffffffffffffffffn) throw new DecodeError(`varlong overflows 64 bits at offset ${this.offset}`)
        return result
      }
    }
    throw new DecodeError(`varlong longer than 10 bytes at offset ${this.offset}`)
  }

  uuid(): string {
    this.need(16, 'uuid')
    const s = this.buf.toString('hex', this.offset, this.offset + 16)
    this.offset += 16
    return s
  }

  raw(n: number, what = 'bytes'): Buffer {
    this.need(n, what)
    const b = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return b
  }

  skip(n: number): void {
    this.need(n, 'skip')
    this.offset += n
  }

  // Classic (non-flexible) forms: int16 length for strings, int32 for bytes and arrays, -1 = null.

  nullableString(): string | null {
    const len = this.int16()
    if (len < 0) {
      if (len !== -1) throw new DecodeError(`invalid string length ${len}`)
      return null
    }
    this.need(len, 'string')
    const s = this.buf.toString('utf8', this.offset, this.offset + len)
    this.offset += len
    return s
  }

  nullableBytes(): Buffer | null {
    const len = this.int32()
    if (len < 0) {
      if (len !== -1) throw new DecodeError(`invalid bytes length ${len}`)
      return null
    }
    return this.raw(len)
  }

  /** Array count; -1 (null) comes back as -1 for the caller to decide. */
  arrayLength(): number {
    const n = this.int32()
    if (n < -1) throw new DecodeError(`invalid array length ${n}`)
    // Each element takes at least one byte: a count beyond what is left is a lie, not a big array.
    if (n > this.remaining) throw new DecodeError(`array length ${n} exceeds the ${this.remaining} bytes left`)
    return n
  }

  // Compact (flexible) forms: unsigned varint of length+1, 0 = null.

  compactNullableString(): string | null {
    const n = this.uvarint()
    if (n === 0) return null
    const len = n - 1
    this.need(len, 'compact string')
    const s = this.buf.toString('utf8', this.offset, this.offset + len)
    this.offset += len
    return s
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint()
    if (n === 0) return null
    return this.raw(n - 1, 'compact bytes')
  }

  compactArrayLength(): number {
    const n = this.uvarint()
    const len = n - 1
    if (len > this.remaining) throw new DecodeError(`array length ${len} exceeds the ${this.remaining} bytes left`)
    return len
  }
}
