// CRC-32C (Castagnoli), the checksum of RecordBatch v2.
// The broker checks it on every produced batch, so it sits on the hottest path. We use @node-rs/crc32
// (SSE4.2/ARMv8 hardware instructions via N-API, about 3 GB/s here) and keep a slicing-by-8 table
// implementation in plain TypeScript as the fallback for platforms without a prebuilt binary and as the
// reference the tests and the benchmark compare against (`npm run bench` measures both).

import { createRequire } from 'node:module'

const POLY = 0x82f63b78
const T = new Int32Array(8 * 256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
  T[n] = c
}
for (let n = 0; n < 256; n++) {
  let c = T[n]!
  for (let s = 1; s < 8; s++) {
    c = T[c & 0xff]! ^ (c >>> 8)
    T[s * 256 + n] = c
  }
}

/** Table-driven CRC-32C (slicing-by-8). `seed` continues a previous CRC. */
export function crc32cJs(buf: Uint8Array, seed = 0, start = 0, end = buf.length): number {
  let crc = ~seed | 0
  let i = start
  const stop8 = end - ((end - start) & 7)
  while (i < stop8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))
    crc =
      T[1792 + (a & 0xff)]! ^
      T[1536 + ((a >>> 8) & 0xff)]! ^
      T[1280 + ((a >>> 16) & 0xff)]! ^
      T[1024 + (a >>> 24)]! ^
      T[768 + buf[i + 4]!]! ^
      T[512 + buf[i + 5]!]! ^
      T[256 + buf[i + 6]!]! ^
      T[buf[i + 7]!]!
    i += 8
  }
  while (i < end) crc = T[(crc ^ buf[i++]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

type NativeCrc = (input: Buffer | string, initialState?: number) => number
let native: NativeCrc | null = null
try {
  native = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: NativeCrc }).crc32c
} catch {
  native = null
}

export const crc32cImplementation: 'native' | 'js' = native ? 'native' : 'js'

/** CRC-32C of buf[start, end). */
export function crc32c(buf: Buffer, start = 0, end = buf.length): number {
  if (native) return native(start === 0 && end === buf.length ? buf : buf.subarray(start, end)) >>> 0
  return crc32cJs(buf, 0, start, end)
}
