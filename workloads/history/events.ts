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
//   fault  (9)  edge u8 (0 start, 1 end), id, name#, target#, time s [, kind#+1, node count, node ids...,
//               params#+1]   (the bracketed fields are optional: written on starts, absent in older files)
//   end   (15)  events f64le, values f64le   (fixed size, so a reader can find it from the end of the file)
//
// This folder is the history format, a leaf that both workloads/ (writing) and reports/ (reading) import:
// events.ts the event types and frame codes, writer.ts the writer, reader.ts the readers, latency.ts the
// latency recorder both sides use.

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
  /** Start edges: the fault's kind (kill, pause, ...). */
  kind?: string
  /** Start edges: the node ids the target resolved to. */
  nodes?: readonly number[]
  /** Start edges: the fault's parameters as JSON text (restartAfterMs, durationMs, ...). */
  params?: string
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

/** Where events go: a HistoryWriter, or anything with its append(). */
export interface HistorySink {
  append(e: HistoryEvent): void
  /** Optional: append() of a send event without building it (HistoryWriter has it: the producer loop's
   *  per-record path at 100 B spent a tenth of its time on the two event objects a record costs). */
  appendSend?(value: number, producer: string, topic: string, key: string | null, intended: number, time: number, size: number): void
  /** Optional: append() of an ack event without building it. */
  appendAck?(value: number, topic: string, partition: number, offset: number, time: number, sent: number, intended: number, size: number): void
}

/** The history's time base: integer microseconds since the run's origin (both in monotonic ms). */
export function historyTime(ms: number, originMs: number): number {
  return Math.round((ms - originMs) * 1000)
}

/** Microseconds since the call, from the monotonic clock. Create one per run and share it. */
export function runClock(): () => number {
  const origin = performance.now()
  return () => Math.round((performance.now() - origin) * 1000)
}

// ---- framing shared by the writer and the reader ----

export const MAGIC = Buffer.from('FLHIST\n', 'latin1')
/** Payload bytes of the end frame: events f64le, values f64le. */
export const END_PAYLOAD = 16
export const HEADER_LENGTH = MAGIC.length + 1

/** A harness error with a code: the message says what to do (see docs/architecture.md). */
export class HistoryError extends Error {
  readonly code: 'HISTORY_FORMAT' | 'HISTORY_WRITE'
  constructor(code: 'HISTORY_FORMAT' | 'HISTORY_WRITE', message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'HistoryError'
    this.code = code
  }
}

