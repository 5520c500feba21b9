// The history writer: encodes events into the framing described in events.ts, buffered, off the hot path's
// way (append never blocks and never throws for I/O).

import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { END_PAYLOAD, EventKind, HEADER_LENGTH, HistoryError, type HistoryEvent, historyFormatVersion, MAGIC, phaseNames } from './events.ts'

/** Varint bytes for any safe integer, plus kind and length bytes: a bound for numeric frames. */
const MAX_VARINT = 8

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
  // The last producer and topic interned and their ids: a producer's events repeat one of each, and comparing
  // the same string object is cheaper than the map lookup.
  #lastProducer: string | null = null
  #lastProducerId = 0
  #lastTopic: string | null = null
  #lastTopicId = 0
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
    if (!this.#admit()) return
    switch (e.type) {
      case 'send':
        this.#send(e.value, e.producer, e.topic, e.key, e.intended, e.time, e.size)
        return
      case 'ack':
        this.#ack(e.value, e.topic, e.partition, e.offset, e.time, e.sent, e.intended, e.size)
        return
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
        const detail = e.kind !== undefined || e.nodes !== undefined || e.params !== undefined
        const kind = e.kind === undefined ? 0 : this.#sid(e.kind) + 1
        const params = e.params === undefined ? 0 : this.#sid(e.params) + 1
        const nodes = e.nodes ?? []
        let p = this.#begin(EventKind.fault, (8 + nodes.length) * MAX_VARINT)
        const buf = this.#buf
        buf[p++] = e.edge === 'start' ? 0 : 1
        p = putUv(buf, p, e.id)
        p = putUv(buf, p, name)
        p = putUv(buf, p, target)
        p = putSv(buf, p, e.time)
        if (detail) {
          p = putUv(buf, p, kind)
          p = putUv(buf, p, nodes.length)
          for (const n of nodes) p = putSv(buf, p, n)
          p = putUv(buf, p, params)
        }
        this.#end(p)
        return
      }
    }
  }

  /** append() of a send event, without the event object (the producer loop's per-record path). */
  appendSend(value: number, producer: string, topic: string, key: string | null, intended: number, time: number, size: number): void {
    if (!this.#admit()) return
    this.#send(value, producer, topic, key, intended, time, size)
  }

  /** append() of an ack event, without the event object. */
  appendAck(value: number, topic: string, partition: number, offset: number, time: number, sent: number, intended: number, size: number): void {
    if (!this.#admit()) return
    this.#ack(value, topic, partition, offset, time, sent, intended, size)
  }

  /** Counts an event about to be encoded; false when it is dropped (after a write error). */
  #admit(): boolean {
    if (this.#closed) throw new Error('HistoryWriter: append() after close()')
    if (this.#error) {
      this.#dropped++
      return false
    }
    this.#events++
    return true
  }

  #send(value: number, producerName: string, topicName: string, key: string | null, intended: number, time: number, size: number): void {
    if (value >= this.#values) this.#values = value + 1
    const producer = this.#producerId(producerName)
    const topic = this.#topicId(topicName)
    let p = this.#begin(EventKind.send, 7 * MAX_VARINT + (key === null ? 0 : key.length * 3 + 4))
    const buf = this.#buf
    p = putUv(buf, p, value)
    p = putUv(buf, p, producer)
    p = putUv(buf, p, topic)
    p = putSv(buf, p, intended)
    p = putSv(buf, p, time)
    p = putUv(buf, p, size)
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
  }

  #ack(value: number, topicName: string, partition: number, offset: number, time: number, sent: number, intended: number, size: number): void {
    const topic = this.#topicId(topicName)
    let p = this.#begin(EventKind.ack, 8 * MAX_VARINT)
    const buf = this.#buf
    p = putUv(buf, p, value)
    p = putUv(buf, p, topic)
    p = putSv(buf, p, partition)
    p = putSv(buf, p, offset)
    p = putSv(buf, p, time)
    p = putSv(buf, p, sent)
    p = putSv(buf, p, intended)
    p = putUv(buf, p, size)
    this.#end(p)
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

  #producerId(s: string): number {
    if (s !== this.#lastProducer) {
      this.#lastProducerId = this.#sid(s)
      this.#lastProducer = s
    }
    return this.#lastProducerId
  }

  #topicId(s: string): number {
    if (s !== this.#lastTopic) {
      this.#lastTopicId = this.#sid(s)
      this.#lastTopic = s
    }
    return this.#lastTopicId
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
