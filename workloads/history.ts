// The operation history of a run: every produce attempt, every consumed record, group membership changes,
// phase markers and fault intervals, streamed to one file that reports/ reads after the run.
//
// Times: every time in a history is an integer number of MICROSECONDS since the run started, taken from one
// monotonic clock shared by producers, consumers and the fault scheduler (runClock() below). A single clock
// is what makes end-to-end latency honest without cross-host clock sync.
//
// Format: a compact binary framing, not NDJSON. A run at 100k events/s for an hour is 360M events; JSON
// costs ~1 µs per event to write and several to parse, and about 4x the bytes. Binary framing writes in
// ~0.1 µs, reads 10M events in about a second, and keeps the file small. historyToNdjson() gives humans
// and other tools the same events as JSON lines.
//
//   file   = header frame* [end frame]
//   header = "FLHIST\n" version:u8                                       (8 bytes)
//   frame  = kind:u8 length:uvarint payload[length]
//
// Integers are LEB128 varints; fields marked s are zig-zag signed (times, offsets, partitions). Strings
// that repeat (topics, producer, group and member ids, error codes, fault names) are interned: a `string`
// frame defines an id the first time a string is used, later frames carry the id. Keys are inline UTF-8.
// The length prefix lets a reader skip frame kinds (and trailing fields) it does not know, so the format
// can grow without breaking old readers, and it tells a truncated last frame (a crashed run) from a
// complete one. close() writes an `end` frame; a file without it did not finish cleanly.
//
//   string (1)  id, utf8 bytes (rest of frame)
//   send   (2)  value, producer#, topic#, intended s, time s, size, keyLength+1 (0 = null key), key
//   ack    (3)  value, topic#, partition s, offset s, time s, sent s, intended s, size
//   fail   (4)  value, time s, error#, definite u8
//   recv   (5)  value s, group#, member#, topic#, partition s, offset s, time s, intended s, size
//   assign (6)  group#, member#, topic#, partition s, time s
//   revoke (7)  group#, member#, topic#, partition s, time s
//   phase  (8)  phase code, time s
//   fault  (9)  edge u8 (0 start, 1 end), id, name#, target#, time s
//   end   (15)  events f64le, values f64le   (fixed size, so a reader can find it from the end of the file)

import { createWriteStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'

export const historyFormatVersion = 1

/** The producer sent (handed to the driver) a value. `value` is dense per run, assigned in send order per producer. */
export interface SendEvent {
  type: 'send'
  value: number
  producer: string
  topic: string
  key: string | null
  /** When the open-loop schedule wanted this send to happen. */
  intended: number
  /** When the send actually happened. */
  time: number
  size: number
}

/** The broker acknowledged a value. `sent` and `intended` repeat the send's times so metrics need no join. */
export interface AckEvent {
  type: 'ack'
  value: number
  topic: string
  partition: number
  /** -1 when the driver does not know it (acks=0). */
  offset: number
  time: number
  sent: number
  intended: number
  size: number
}

/**
 * The producer gave up on a value. `definite` means the write surely did not happen (Jepsen's :fail, e.g. a
 * non-retriable error before the request left); otherwise it may have happened (:info, timeouts, disconnects).
 */
export interface FailEvent {
  type: 'fail'
  value: number
  time: number
  /** Kafka error name (NOT_LEADER_OR_FOLLOWER) or a client-side code (REQUEST_TIMED_OUT, ECONNRESET). */
  error: string
  definite: boolean
}

/** A consumer received a record. `value` is -1 when the payload was not written by this run. */
export interface RecvEvent {
  type: 'recv'
  value: number
  group: string
  member: string
  topic: string
  partition: number
  offset: number
  time: number
  /** The producer's intended send time, carried in the payload; -1 for foreign records. */
  intended: number
  size: number
}

/** A member gained (assign) or lost (revoke) a partition; poll skips are judged within one ownership. */
export interface AssignEvent {
  type: 'assign'
  group: string
  member: string
  topic: string
  partition: number
  time: number
}

export interface RevokeEvent {
  type: 'revoke'
  group: string
  member: string
  topic: string
  partition: number
  time: number
}

export const phaseNames = ['warmup-end', 'measure-end'] as const
export type PhaseName = (typeof phaseNames)[number]

/** Measurement window markers: metrics count from warmup-end to measure-end. */
export interface PhaseEvent {
  type: 'phase'
  phase: PhaseName
  time: number
}

/** A fault started or ended. `id` pairs a start with its end (one id per fault instance in the run). */
export interface FaultEvent {
  type: 'fault'
  edge: 'start' | 'end'
  id: number
  name: string
  target: string
  time: number
}

export type HistoryEvent =
  | SendEvent
  | AckEvent
  | FailEvent
  | RecvEvent
  | AssignEvent
  | RevokeEvent
  | PhaseEvent
  | FaultEvent

export const EventKind = {
  string: 1,
  send: 2,
  ack: 3,
  fail: 4,
  recv: 5,
  assign: 6,
  revoke: 7,
  phase: 8,
  fault: 9,
  end: 15,
} as const
export type EventKindCode = (typeof EventKind)[keyof typeof EventKind]

const MAGIC = Buffer.from('FLHIST\n', 'latin1')
const END_PAYLOAD = 16
const HEADER_LENGTH = MAGIC.length + 1
/** Varint bytes for any safe integer, plus kind and length bytes: a bound for numeric frames. */
const MAX_VARINT = 8

/** A harness error with a code, per ARCHITECTURE.md: the message says what to do. */
export class HistoryError extends Error {
  readonly code: 'HISTORY_FORMAT' | 'HISTORY_WRITE'
  constructor(code: 'HISTORY_FORMAT' | 'HISTORY_WRITE', message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'HistoryError'
    this.code = code
  }
}

/** Microseconds since the call, from the monotonic clock. Create one per run and share it. */
export function runClock(): () => number {
  const origin = performance.now()
  return () => Math.round((performance.now() - origin) * 1000)
}

// ---- varints ----

function putUv(buf: Buffer, p: number, n: number): number {
  while (n > 0x7f) {
    // & keeps the low 7 bits even above 2^32: ToInt32 is a reduction modulo 2^32.
    buf[p++] = (n & 0x7f) | 0x80
    n = n > 0x7fffffff ? Math.floor(n / 128) : n >>> 7
  }
  buf[p++] = n
  return p
}

function putSv(buf: Buffer, p: number, n: number): number {
  n = Math.round(n)
  return putUv(buf, p, n >= 0 ? n * 2 : -n * 2 - 1)
}

function uvSize(n: number): number {
  let s = 1
  while (n > 0x7f) {
    n = Math.floor(n / 128)
    s++
  }
  return s
}

// ---- writer ----

export interface HistoryWriterOptions {
  /** Bytes buffered before a chunk goes to the file. Default 1 MiB. */
  chunkSize?: number
  /** A partly filled buffer is flushed at least this often, so a crash loses little. Default 1000 ms; 0 disables. */
  flushIntervalMs?: number
}

export interface HistoryWriteSummary {
  events: number
  /** Highest value id seen in send events, plus one. */
  values: number
  bytes: number
  /** Events appended after a write error; they are lost. */
  dropped: number
}

/**
 * Appends events to a history file from the hot path. append() never blocks and never throws for I/O:
 * events are encoded into a large buffer that goes to the file stream in chunks (the write happens on
 * libuv's thread pool). A write error is kept and thrown by close(); events after it are counted as dropped.
 * If the disk is slower than the run, pendingBytes grows; callers that care may await drain().
 */
export class HistoryWriter {
  readonly #out: Writable
  readonly #chunkSize: number
  #buf: Buffer
  #pos = 0
  readonly #strings = new Map<string, number>()
  #events = 0
  #values = 0
  #bytes = 0
  #dropped = 0
  #error: Error | null = null
  #closed = false
  #frameStart = 0
  readonly #timer: NodeJS.Timeout | null

  /** Open a file for writing (truncating it); rejects if the file cannot be created. */
  static async open(path: string, options: HistoryWriterOptions = {}): Promise<HistoryWriter> {
    const stream = createWriteStream(path, { flags: 'w' })
    try {
      // once() rejects if 'error' comes first.
      await once(stream, 'open')
    } catch (err) {
      throw new HistoryError('HISTORY_WRITE', `cannot create history file ${path}: ${(err as Error).message}`, { cause: err })
    }
    return new HistoryWriter(stream, options)
  }

  constructor(out: Writable, options: HistoryWriterOptions = {}) {
    this.#out = out
    this.#chunkSize = Math.max(4096, options.chunkSize ?? 1 << 20)
    this.#buf = Buffer.allocUnsafe(this.#chunkSize)
    out.on('error', (err: Error) => {
      this.#error ??= err
    })
    MAGIC.copy(this.#buf, 0)
    this.#buf[MAGIC.length] = historyFormatVersion
    this.#pos = HEADER_LENGTH
    const every = options.flushIntervalMs ?? 1000
    this.#timer = every > 0 ? setInterval(() => this.flush(), every) : null
    this.#timer?.unref()
  }

  get events(): number {
    return this.#events
  }

  /** Bytes encoded but not yet written to the file. */
  get pendingBytes(): number {
    return this.#pos + this.#out.writableLength
  }

  append(e: HistoryEvent): void {
    if (this.#closed) throw new Error('HistoryWriter: append() after close()')
    if (this.#error) {
      this.#dropped++
      return
    }
    this.#events++
    switch (e.type) {
      case 'send': {
        if (e.value >= this.#values) this.#values = e.value + 1
        const producer = this.#sid(e.producer)
        const topic = this.#sid(e.topic)
        const key = e.key
        let p = this.#begin(EventKind.send, 7 * MAX_VARINT + (key === null ? 0 : key.length * 3 + 4))
        const buf = this.#buf
        p = putUv(buf, p, e.value)
        p = putUv(buf, p, producer)
        p = putUv(buf, p, topic)
        p = putSv(buf, p, e.intended)
        p = putSv(buf, p, e.time)
        p = putUv(buf, p, e.size)
        if (key === null) buf[p++] = 0
        else if (key.length < 42) {
          // At most 126 UTF-8 bytes, so length+1 fits the one byte reserved before writing.
          const n = buf.write(key, p + 1)
          buf[p] = n + 1
          p += n + 1
        } else {
          p = putUv(buf, p, Buffer.byteLength(key) + 1)
          p += buf.write(key, p)
        }
        this.#end(p)
        return
      }
      case 'ack': {
        const topic = this.#sid(e.topic)
        let p = this.#begin(EventKind.ack, 8 * MAX_VARINT)
        const buf = this.#buf
        p = putUv(buf, p, e.value)
        p = putUv(buf, p, topic)
        p = putSv(buf, p, e.partition)
        p = putSv(buf, p, e.offset)
        p = putSv(buf, p, e.time)
        p = putSv(buf, p, e.sent)
        p = putSv(buf, p, e.intended)
        p = putUv(buf, p, e.size)
        this.#end(p)
        return
      }
      case 'fail': {
        const error = this.#sid(e.error)
        let p = this.#begin(EventKind.fail, 4 * MAX_VARINT)
        const buf = this.#buf
        p = putUv(buf, p, e.value)
        p = putSv(buf, p, e.time)
        p = putUv(buf, p, error)
        buf[p++] = e.definite ? 1 : 0
        this.#end(p)
        return
      }
      case 'recv': {
        const group = this.#sid(e.group)
        const member = this.#sid(e.member)
        const topic = this.#sid(e.topic)
        let p = this.#begin(EventKind.recv, 9 * MAX_VARINT)
        const buf = this.#buf
        p = putSv(buf, p, e.value)
        p = putUv(buf, p, group)
        p = putUv(buf, p, member)
        p = putUv(buf, p, topic)
        p = putSv(buf, p, e.partition)
        p = putSv(buf, p, e.offset)
        p = putSv(buf, p, e.time)
        p = putSv(buf, p, e.intended)
        p = putUv(buf, p, e.size)
        this.#end(p)
        return
      }
      case 'assign':
      case 'revoke': {
        const group = this.#sid(e.group)
        const member = this.#sid(e.member)
        const topic = this.#sid(e.topic)
        let p = this.#begin(e.type === 'assign' ? EventKind.assign : EventKind.revoke, 5 * MAX_VARINT)
        const buf = this.#buf
        p = putUv(buf, p, group)
        p = putUv(buf, p, member)
        p = putUv(buf, p, topic)
        p = putSv(buf, p, e.partition)
        p = putSv(buf, p, e.time)
        this.#end(p)
        return
      }
      case 'phase': {
        const code = phaseNames.indexOf(e.phase)
        if (code < 0) throw new Error(`HistoryWriter: unknown phase ${JSON.stringify(e.phase)}`)
        let p = this.#begin(EventKind.phase, 2 * MAX_VARINT)
        p = putUv(this.#buf, p, code)
        p = putSv(this.#buf, p, e.time)
        this.#end(p)
        return
      }
      case 'fault': {
        const name = this.#sid(e.name)
        const target = this.#sid(e.target)
        let p = this.#begin(EventKind.fault, 5 * MAX_VARINT)
        const buf = this.#buf
        buf[p++] = e.edge === 'start' ? 0 : 1
        p = putUv(buf, p, e.id)
        p = putUv(buf, p, name)
        p = putUv(buf, p, target)
        p = putSv(buf, p, e.time)
        this.#end(p)
        return
      }
    }
  }

  /** Hands the buffered bytes to the file stream (does not wait for the disk). */
  flush(): void {
    if (this.#pos === 0 || this.#error) return
    const n = this.#pos
    if (n >= this.#chunkSize >> 1) {
      this.#out.write(this.#buf.subarray(0, n))
      this.#buf = Buffer.allocUnsafe(this.#chunkSize)
    } else {
      // A small tail is copied so the big buffer can be reused.
      this.#out.write(Buffer.from(this.#buf.subarray(0, n)))
    }
    this.#bytes += n
    this.#pos = 0
  }

  /** Resolves when the file stream has written what it holds (for callers that want backpressure). */
  async drain(): Promise<void> {
    this.flush()
    if (this.#out.writableNeedDrain) await once(this.#out, 'drain')
  }

  /** Writes the end frame, flushes and closes the file. Rejects with the first write error, if any. */
  async close(): Promise<HistoryWriteSummary> {
    if (this.#closed) throw new Error('HistoryWriter: close() called twice')
    if (this.#timer) clearInterval(this.#timer)
    if (!this.#error) {
      let p = this.#begin(EventKind.end, END_PAYLOAD)
      p = this.#buf.writeDoubleLE(this.#events, p)
      p = this.#buf.writeDoubleLE(this.#values, p)
      this.#end(p)
      this.flush()
    }
    this.#closed = true
    this.#out.end()
    try {
      await finished(this.#out)
    } catch (err) {
      this.#error ??= err as Error
    }
    if (this.#error) {
      throw new HistoryError('HISTORY_WRITE', `history write failed: ${this.#error.message}`, { cause: this.#error })
    }
    return { events: this.#events, values: this.#values, bytes: this.#bytes, dropped: this.#dropped }
  }

  #sid(s: string): number {
    const id = this.#strings.get(s)
    if (id !== undefined) return id
    const next = this.#strings.size
    this.#strings.set(s, next)
    let p = this.#begin(EventKind.string, MAX_VARINT + s.length * 3)
    p = putUv(this.#buf, p, next)
    p += this.#buf.write(s, p)
    this.#end(p)
    return next
  }

  /** Reserves room for a frame of at most maxPayload bytes; returns where the payload starts. */
  #begin(kind: number, maxPayload: number): number {
    const need = maxPayload + 8
    if (this.#pos + need > this.#buf.length) {
      this.flush()
      if (need > this.#buf.length) this.#buf = Buffer.allocUnsafe(need)
    }
    const start = this.#pos
    this.#frameStart = start
    this.#buf[start] = kind
    return start + 2
  }

  #end(p: number): void {
    const start = this.#frameStart
    const len = p - start - 2
    if (len < 0x80) {
      this.#buf[start + 1] = len
    } else {
      // Rare (long keys or strings): move the payload to make room for a longer length varint.
      const extra = uvSize(len) - 1
      this.#buf.copyWithin(start + 2 + extra, start + 2, p)
      putUv(this.#buf, start + 1, len)
      p += extra
    }
    this.#pos = p
  }
}

// ---- reader ----

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
