import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { beginFrame, encodeFrame, FrameDecoder, FrameSizeError, MAX_INT32_FRAME } from '../../../broker/protocol/framing.ts'
import { Writer } from '../../../broker/protocol/writer.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`framing.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const framed = (frames: readonly Buffer[]): Buffer => Buffer.concat(frames.map((f) => encodeFrame(f)))

/** Pushes each chunk and takes every frame it completes (what a socket's data handler does). */
function decodeAll(d: FrameDecoder, chunks: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = []
  const drain = (): void => {
    for (let f = d.next(); f !== null; f = d.next()) out.push(Buffer.from(f))
  }
  for (const c of chunks) {
    d.push(c)
    drain()
  }
  drain()
  return out
}

/** `bytes` cut at the given points (sorted, deduplicated, inside it). */
function cut(bytes: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const p of [...at, bytes.length]) {
    chunks.push(bytes.subarray(from, p))
    from = p
  }
  return chunks
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('FrameDecoder', () => {
  it('decodes frames split at arbitrary chunk boundaries exactly as the frames that were written (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (frames, points) => {
          const chunks = cut(framed(frames), points)
          expect(decodeAll(new FrameDecoder(1000), chunks)).toEqual(frames)
        },
      ),
      { seed, numRuns: 500 },
    )
  })

  it('returns a frame that lies in one chunk as a view of it, and copies one that spans chunks once', () => {
    const body = Buffer.alloc(50_000, 7)
    const one = encodeFrame(body)
    const d = new FrameDecoder()
    d.push(one)
    const view = d.next()!
    expect(view.buffer).toBe(one.buffer)
    expect(view.byteOffset).toBe(one.byteOffset + 4)
    expect(view.equals(body)).toBe(true)
    // Two frames in one chunk: both views, at their places in it (small buffers share a pool, so offsets tell).
    const two = framed([Buffer.from('first'), Buffer.from('second')])
    d.push(two)
    expect([d.next(), d.next()].map((f) => [f!.buffer === two.buffer, f!.byteOffset - two.byteOffset, f!.toString()])).toEqual([
      [true, 4, 'first'],
      [true, 13, 'second'],
    ])

    // A frame in 1000 pieces: one allocation for the whole frame, none per piece.
    const pieces = cut(encodeFrame(body), Array.from({ length: 999 }, (_, i) => 4 + i * 50))
    const allocs = vi.spyOn(Buffer, 'allocUnsafe')
    const concats = vi.spyOn(Buffer, 'concat')
    for (const p of pieces.slice(0, -1)) {
      d.push(p)
      expect(d.next()).toBeNull()
    }
    d.push(pieces.at(-1)!)
    const joined = d.next()!
    expect(allocs).toHaveBeenCalledTimes(1)
    expect(concats).not.toHaveBeenCalled()
    expect(joined.equals(body)).toBe(true)
  })

  it('reads a size prefix split over chunks of one byte, and keeps working over many tiny chunks', () => {
    const frames = Array.from({ length: 40 }, (_, i) => Buffer.alloc(i * 13, i))
    const bytes = framed(frames)
    const oneByteChunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))
    expect(oneByteChunks.length).toBeGreaterThan(4 * 1024)
    expect(decodeAll(new FrameDecoder(), oneByteChunks)).toEqual(frames)
    // All pushed before any is read: the consumed slots at the head of the chunk list are dropped on the way.
    const d = new FrameDecoder()
    for (const c of oneByteChunks) d.push(c)
    expect(decodeAll(d, [])).toEqual(frames)
  })

  it('refuses a size above its maximum as soon as the prefix is in, and again on every later call', () => {
    const d = new FrameDecoder(10)
    expect(decodeAll(d, [framed([Buffer.alloc(10, 1)])])).toEqual([Buffer.alloc(10, 1)])
    d.push(Buffer.from([0, 0, 0, 11]))
    let err: unknown
    try {
      d.next()
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(FrameSizeError)
    expect(err).toMatchObject({ size: 11, max: 10, message: 'frame size 11 is outside 0..10' })
    d.push(Buffer.alloc(11))
    expect(() => d.next()).toThrow(FrameSizeError)
  })

  it('refuses a negative size, also when its prefix arrives a byte at a time', () => {
    const d = new FrameDecoder()
    for (const b of [0xff, 0xff, 0xff]) {
      d.push(Buffer.from([b]))
      expect(d.next()).toBeNull()
    }
    d.push(Buffer.from([0xfe]))
    expect(() => d.next()).toThrow(expect.objectContaining({ size: -2, max: MAX_INT32_FRAME }))
  })

  it('drops a partial frame on clear() and frames what comes after', () => {
    const d = new FrameDecoder()
    d.push(encodeFrame(Buffer.from('abcdef')).subarray(0, 7))
    expect(d.next()).toBeNull()
    d.clear()
    expect(decodeAll(d, [encodeFrame(Buffer.from('xy'))])).toEqual([Buffer.from('xy')])
  })

  it('takes only a maximum the int32 prefix can state', () => {
    expect(() => new FrameDecoder(-1)).toThrow(RangeError)
    expect(() => new FrameDecoder(2 ** 31)).toThrow(RangeError)
  })
})

describe('writing frames', () => {
  it('encodeFrame prefixes the UTF-8 byte length of a string', () => {
    const f = encodeFrame('héllo')
    expect(f.readInt32BE(0)).toBe(6)
    expect(f.subarray(4).toString('utf8')).toBe('héllo')
  })

  it('beginFrame counts the bytes written after the prefix, wherever the frame starts in the writer', () => {
    const w = new Writer(8)
    w.int16(7)
    const end = beginFrame(w)
    w.raw(Buffer.alloc(1000, 3)).int8(1)
    end()
    const out = w.toBuffer()
    expect(out.readInt32BE(2)).toBe(1001)
    expect(decodeAll(new FrameDecoder(), [out.subarray(2)])).toEqual([Buffer.concat([Buffer.alloc(1000, 3), Buffer.from([1])])])
  })
})
