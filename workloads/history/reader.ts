// The history readers: a streaming scan that reuses one record per event (checkers, metrics), event objects
// for convenience, the end frame's counts without a scan, and NDJSON for humans. The framing is in events.ts.

import { createWriteStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import {
  END_PAYLOAD,
  EventKind,
  type EventKindCode,
  HEADER_LENGTH,
  HistoryError,
  type HistoryEvent,
  historyFormatVersion,
  MAGIC,
  type PhaseName,
  phaseNames,
} from './events.ts'

/**
 * One decoded frame, reused for every event of a scan (no allocation per event). String fields hold ids
 * into `strings`; key() decodes the key on demand and is valid only during the visit callback.
 */
export class HistoryRecord {
  kind: EventKindCode = EventKind.end
  value = 0
  /** The event's own time: send time, ack time, fail time, receive time, marker time. */
  time = 0
  intended = 0
  /** ack: the value's actual send time. */
  sent = 0
  size = 0
  producer = 0
  topic = 0
  partition = 0
  offset = 0
  group = 0
  member = 0
  error = 0
  definite = false
  phase = 0
  /** fault: 0 start, 1 end. */
  edge = 0
  faultId = 0
  faultName = 0
  faultTarget = 0
  /** fault start: kind string id + 1 (0: not recorded), params string id + 1, resolved node ids. */
  faultKind = 0
  faultParams = 0
  faultNodes: number[] = []
  readonly strings: string[] = []
  buf: Buffer = Buffer.alloc(0)
  keyStart = -1
  keyEnd = -1

  str(id: number): string {
    return this.strings[id] ?? `#${id}`
  }

  key(): string | null {
    return this.keyStart < 0 ? null : this.buf.toString('utf8', this.keyStart, this.keyEnd)
  }

  toEvent(): HistoryEvent {
    const s = (id: number): string => this.str(id)
    switch (this.kind) {
      case EventKind.send:
        return {
          type: 'send',
          value: this.value,
          producer: s(this.producer),
          topic: s(this.topic),
          key: this.key(),
          intended: this.intended,
          time: this.time,
          size: this.size,
        }
      case EventKind.ack:
        return {
          type: 'ack',
          value: this.value,
          topic: s(this.topic),
          partition: this.partition,
          offset: this.offset,
          time: this.time,
          sent: this.sent,
          intended: this.intended,
          size: this.size,
        }
      case EventKind.fail:
        return { type: 'fail', value: this.value, time: this.time, error: s(this.error), definite: this.definite }
      case EventKind.recv:
        return {
          type: 'recv',
          value: this.value,
          group: s(this.group),
          member: s(this.member),
          topic: s(this.topic),
          partition: this.partition,
          offset: this.offset,
          time: this.time,
          intended: this.intended,
          size: this.size,
        }
      case EventKind.assign:
      case EventKind.revoke:
        return {
          type: this.kind === EventKind.assign ? 'assign' : 'revoke',
          group: s(this.group),
          member: s(this.member),
          topic: s(this.topic),
          partition: this.partition,
          time: this.time,
        }
      case EventKind.phase:
        return { type: 'phase', phase: phaseNames[this.phase] as PhaseName, time: this.time }
      case EventKind.fault:
        return {
          type: 'fault',
          edge: this.edge === 0 ? 'start' : 'end',
          id: this.faultId,
          name: s(this.faultName),
          target: s(this.faultTarget),
          time: this.time,
          ...(this.faultKind === 0 ? {} : { kind: s(this.faultKind - 1) }),
          ...(this.faultKind === 0 && this.faultNodes.length === 0 ? {} : { nodes: [...this.faultNodes] }),
          ...(this.faultParams === 0 ? {} : { params: s(this.faultParams - 1) }),
        }
      default:
        throw new Error(`HistoryRecord.toEvent: no event for frame kind ${this.kind}`)
    }
  }
}

export interface ScanSummary {
  /** Events visited (string and end frames are not events). */
  events: number
  /** The file ended with the writer's end frame. */
  complete: boolean
  /** From the end frame: value ids used (max + 1), or null if the file is incomplete. */
  values: number | null
  /** Bytes of a partial last frame (a run that crashed mid-write). */
  trailingBytes: number
  bytes: number
}

// Read cursor shared by the decoding helpers; module state keeps varint reads call-free of allocations.
let rp = 0

function getUv(buf: Buffer): number {
  let b = buf[rp++] as number
  if (b < 0x80) return b
  let n = b & 0x7f
  let m = 128
  for (let i = 0; i < 8; i++) {
    b = buf[rp++] as number
    n += (b & 0x7f) * m
    if (b < 0x80) return n
    m *= 128
  }
  throw new HistoryError('HISTORY_FORMAT', 'corrupt history: varint longer than 9 bytes')
}

function getSv(buf: Buffer): number {
  const z = getUv(buf)
  if (z < 0x80000000) return (z >>> 1) ^ -(z & 1)
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2
}

/** Decodes a history file chunk by chunk; each next() call visits the frames of one chunk. */
class HistoryDecoder {
  readonly rec = new HistoryRecord()
  readonly #path: string
  readonly #fh: Awaited<ReturnType<typeof open>>
  #buf: Buffer
  #filled = 0
  #offset = 0
  #headerChecked = false
  #eof = false
  events = 0
  complete = false
  values: number | null = null
  trailingBytes = 0

  static async open(path: string, chunkSize = 4 << 20): Promise<HistoryDecoder> {
    // The header is read whole from the first chunk.
    chunkSize = Math.max(chunkSize, HEADER_LENGTH)
    return new HistoryDecoder(path, await open(path, 'r'), chunkSize)
  }

  private constructor(path: string, fh: Awaited<ReturnType<typeof open>>, chunkSize: number) {
    this.#path = path
    this.#fh = fh
    this.#buf = Buffer.allocUnsafe(chunkSize)
  }

  get bytes(): number {
    return this.#offset
  }

  async close(): Promise<void> {
    await this.#fh.close()
  }

  /** Reads one chunk and visits its whole frames; false once the file is exhausted. */
  async next(visit: (rec: HistoryRecord) => void): Promise<boolean> {
    if (this.#eof) return false
    if (this.#filled === this.#buf.length) {
      // One frame larger than the buffer: grow.
      const bigger = Buffer.allocUnsafe(this.#buf.length * 2)
      this.#buf.copy(bigger, 0, 0, this.#filled)
      this.#buf = bigger
    }
    const { bytesRead } = await this.#fh.read(this.#buf, this.#filled, this.#buf.length - this.#filled, null)
    this.#offset += bytesRead
    const end = this.#filled + bytesRead
    let p = 0
    if (!this.#headerChecked) {
      if (end < HEADER_LENGTH && bytesRead > 0) {
        this.#filled = end
        return true
      }
      this.#checkHeader(end)
      p = HEADER_LENGTH
      this.#headerChecked = true
    }
    p = this.#frames(p, end, visit)
    const rest = end - p
    this.#buf.copyWithin(0, p, end)
    this.#filled = rest
    if (bytesRead === 0) {
      this.#eof = true
      this.trailingBytes = rest
      return false
    }
    return true
  }

  #checkHeader(end: number): void {
    const buf = this.#buf
    if (end < HEADER_LENGTH || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new HistoryError('HISTORY_FORMAT', `${this.#path} is not a faultline history file (bad header)`)
    }
    const version = buf[MAGIC.length] as number
    if (version > historyFormatVersion) {
      throw new HistoryError(
        'HISTORY_FORMAT',
        `${this.#path} is history format v${version}; this faultline reads up to v${historyFormatVersion}: upgrade faultline`,
      )
    }
  }

  #frames(p: number, end: number, visit: (rec: HistoryRecord) => void): number {
    const buf = this.#buf
    const rec = this.rec
    rec.buf = buf
    const strings = rec.strings
    for (;;) {
      if (p + 2 > end) return p
      const kind = buf[p] as number
      let len = buf[p + 1] as number
      let payload = p + 2
      if (len >= 0x80) {
        // Multi-byte length: decode it only if all of its bytes are in the buffer.
        let n = len & 0x7f
        let m = 128
        let q = p + 2
        for (;;) {
          if (q >= end) return p
          const b = buf[q++] as number
          n += (b & 0x7f) * m
          if (b < 0x80) break
          m *= 128
          if (q - p > 10) throw new HistoryError('HISTORY_FORMAT', `corrupt history ${this.#path}: bad frame length`)
        }
        len = n
        payload = q
      }
      const frameEnd = payload + len
      if (frameEnd > end) return p
      rp = payload
      switch (kind) {
        case EventKind.send: {
          rec.kind = EventKind.send
          rec.value = getUv(buf)
          rec.producer = getUv(buf)
          rec.topic = getUv(buf)
          rec.intended = getSv(buf)
          rec.time = getSv(buf)
          rec.size = getUv(buf)
          const k = getUv(buf)
          if (k === 0) {
            rec.keyStart = -1
          } else {
            rec.keyStart = rp
            rp += k - 1
            rec.keyEnd = rp
          }
          break
        }
        case EventKind.ack:
          rec.kind = EventKind.ack
          rec.value = getUv(buf)
          rec.topic = getUv(buf)
          rec.partition = getSv(buf)
          rec.offset = getSv(buf)
          rec.time = getSv(buf)
          rec.sent = getSv(buf)
          rec.intended = getSv(buf)
          rec.size = getUv(buf)
          break
        case EventKind.fail:
          rec.kind = EventKind.fail
          rec.value = getUv(buf)
          rec.time = getSv(buf)
          rec.error = getUv(buf)
          rec.definite = buf[rp++] === 1
          break
        case EventKind.recv:
          rec.kind = EventKind.recv
          rec.value = getSv(buf)
          rec.group = getUv(buf)
          rec.member = getUv(buf)
          rec.topic = getUv(buf)
          rec.partition = getSv(buf)
          rec.offset = getSv(buf)
          rec.time = getSv(buf)
          rec.intended = getSv(buf)
          rec.size = getUv(buf)
          break
        case EventKind.assign:
        case EventKind.revoke:
          rec.kind = kind as EventKindCode
          rec.group = getUv(buf)
          rec.member = getUv(buf)
          rec.topic = getUv(buf)
          rec.partition = getSv(buf)
          rec.time = getSv(buf)
          break
        case EventKind.phase:
          rec.kind = EventKind.phase
          rec.phase = getUv(buf)
          rec.time = getSv(buf)
          if (rec.phase >= phaseNames.length) {
            // A phase from a newer writer: skip it like an unknown frame.
            p = frameEnd
            continue
          }
          break
        case EventKind.fault:
          rec.kind = EventKind.fault
          rec.edge = buf[rp++] as number
          rec.faultId = getUv(buf)
          rec.faultName = getUv(buf)
          rec.faultTarget = getUv(buf)
          rec.time = getSv(buf)
          rec.faultKind = 0
          rec.faultParams = 0
          rec.faultNodes = []
          if (rp < frameEnd) {
            rec.faultKind = getUv(buf)
            const n = getUv(buf)
            for (let i = 0; i < n; i++) rec.faultNodes.push(getSv(buf))
            rec.faultParams = getUv(buf)
          }
          break
        case EventKind.string: {
          const id = getUv(buf)
          strings[id] = buf.toString('utf8', rp, frameEnd)
          p = frameEnd
          continue
        }
        case EventKind.end:
          this.complete = true
          this.values = len >= END_PAYLOAD ? buf.readDoubleLE(payload + 8) : null
          p = frameEnd
          continue
        default:
          // A kind from a newer writer: skip it.
          p = frameEnd
          continue
      }
      if (rp > frameEnd) {
        throw new HistoryError('HISTORY_FORMAT', `corrupt history ${this.#path}: frame of kind ${kind} overruns its length`)
      }
      this.events++
      visit(rec)
      p = frameEnd
    }
  }

  summary(): ScanSummary {
    return {
      events: this.events,
      complete: this.complete,
      values: this.values,
      trailingBytes: this.trailingBytes,
      bytes: this.bytes,
    }
  }
}

/**
 * The counts in a history's end frame, read from the last bytes of the file without scanning it (to size
 * arrays before a scan); null when the file did not end cleanly.
 */
export async function readHistoryTrailer(path: string): Promise<{ events: number; values: number } | null> {
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    const frame = 2 + END_PAYLOAD
    if (size < HEADER_LENGTH + frame) return null
    const buf = Buffer.alloc(frame)
    await fh.read(buf, 0, frame, size - frame)
    if (buf[0] !== EventKind.end || buf[1] !== END_PAYLOAD) return null
    const events = buf.readDoubleLE(2)
    const values = buf.readDoubleLE(10)
    // A cut file can end in bytes that merely look like an end frame: keep only plausible counts.
    const plausible = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= size
    return plausible(events) && plausible(values) ? { events, values } : null
  } finally {
    await fh.close()
  }
}

export interface ReadOptions {
  /** Bytes read at a time (the memory a scan holds). Default 4 MiB; a frame larger than this grows it. */
  chunkSize?: number
}

/**
 * Streams a history file through visit() with bounded memory and no allocation per event: the fast path
 * for checkers and metrics. The record passed to visit is reused; copy what you keep.
 */
export async function scanHistory(
  path: string,
  visit: (rec: HistoryRecord) => void,
  options: ReadOptions = {},
): Promise<ScanSummary> {
  const dec = await HistoryDecoder.open(path, options.chunkSize)
  try {
    while (await dec.next(visit)) {
      // each call visits one chunk
    }
    return dec.summary()
  } finally {
    await dec.close()
  }
}

/** Streams a history file as event objects (convenient, slower than scanHistory). */
export async function* readHistory(
  path: string,
  options: ReadOptions = {},
): AsyncGenerator<HistoryEvent, ScanSummary, undefined> {
  const dec = await HistoryDecoder.open(path, options.chunkSize)
  const batch: HistoryEvent[] = []
  const collect = (rec: HistoryRecord): void => {
    batch.push(rec.toEvent())
  }
  try {
    for (;;) {
      const more = await dec.next(collect)
      yield* batch
      batch.length = 0
      if (!more) return dec.summary()
    }
  } finally {
    await dec.close()
  }
}

/** Converts a history file to NDJSON (one event object per line) for humans and other tools. */
export async function historyToNdjson(historyPath: string, out: string | Writable): Promise<ScanSummary> {
  const stream = typeof out === 'string' ? createWriteStream(out) : out
  const dec = await HistoryDecoder.open(historyPath)
  let lines: string[] = []
  const collect = (rec: HistoryRecord): void => {
    lines.push(JSON.stringify(rec.toEvent()))
  }
  try {
    for (;;) {
      const more = await dec.next(collect)
      if (lines.length > 0 && !stream.write(`${lines.join('\n')}\n`)) await once(stream, 'drain')
      lines = []
      if (!more) break
    }
  } finally {
    await dec.close()
    if (typeof out === 'string') {
      stream.end()
      await finished(stream)
    }
  }
  return dec.summary()
}
