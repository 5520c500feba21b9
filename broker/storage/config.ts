// Topic-level log settings (Kafka's names in the comments) and the logger the storage layer reports through.

export interface LogConfig {
  /** segment.bytes: a batch that would overflow the active segment goes to a new one. */
  segmentBytes: number
  /** segment.ms: roll when the active segment's first append is older than this. */
  segmentMs: number
  /** segment.index.bytes: size limit of each index; a full index rolls the segment. */
  segmentIndexBytes: number
  /** index.interval.bytes: bytes of log between two offset-index entries. */
  indexIntervalBytes: number
  /** retention.ms: delete segments whose newest record is older than this; -1 = unlimited. */
  retentionMs: number
  /** retention.bytes: delete the oldest segments while the log is larger than this; -1 = unlimited. */
  retentionBytes: number
  /** flush.messages: fsync after this many messages; 1 = every append (group commit). */
  flushMessages: number
  /** flush.ms: fsync when the oldest unflushed append is this old. */
  flushMs: number
  /** file.delete.delay.ms: deleted segments stay as *.deleted this long before the files go. */
  fileDeleteDelayMs: number
}

const DAY_MS = 24 * 60 * 60 * 1000

export const defaultLogConfig: Readonly<LogConfig> = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  flushMessages: Number.MAX_SAFE_INTEGER,
  flushMs: 1000,
  fileDeleteDelayMs: 60_000,
}

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
}
