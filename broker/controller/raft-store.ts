// The persistent state of one Raft node, in a directory of its own on the FileSystem seam:
//
//   quorum-state                          {"version":1,"epoch":E,"votedId":V,"leaderId":L} (-1 for none)
//   raft.log                              the log: frames [body length u32][crc32c(body) u32][body], in offset order
//   <endOffset:20>-<epoch:10>.checkpoint  snapshots, Kafka's naming: header, state machine bytes, crc32c
//
// quorum-state, snapshots and compacted logs are replaced atomically: <name>.tmp is written and fsynced,
// renamed over <name>, and the directory fsynced. The log is appended in place and fsynced by flush().
//
// Recovery keeps the longest prefix of whole, CRC-valid frames with contiguous offsets and epochs that never
// go back (a power loss may tear the last write or leave garbage), then reconciles the log with the newest
// snapshot: entries the snapshot covers go, and a log that disagrees with the snapshot's last entry is
// discarded whole (it can only hold entries that never committed, since the snapshot's are committed).
//
// Methods that touch files must run one at a time, each after the previous one's promise settled: the node's
// disk queue does that, so the file always reflects the operations in the order the node issued them.

import { posix } from 'node:path'
import { crc32c } from '../protocol/crc32c.ts'
import { type FileHandle, type FileSystem, StorageError } from '../storage/file-system.ts'
import type { LogEntry, SnapshotId } from './raft-types.ts'

export const QUORUM_STATE_FILE = 'quorum-state'
export const LOG_FILE = 'raft.log'
const SNAPSHOT_NAME = /^(\d{20})-(\d{10})\.checkpoint$/
const TMP_SUFFIX = '.tmp'
const FRAME_HEADER = 8
/** Frames larger than this are treated as garbage by recovery. */
const MAX_FRAME_BYTES = 256 << 20
const SNAPSHOT_MAGIC = 0x464c5253 // "FLRS"
const SNAPSHOT_VERSION = 1
const SNAPSHOT_HEADER = 4 + 1 + 8 + 4 + 4
const KIND_DATA = 0
const KIND_LEADER_CHANGE = 1

export interface QuorumStateRecord {
  readonly epoch: number
  readonly votedId: number | null
  readonly leaderId: number | null
}

export interface StoredSnapshot {
  readonly id: SnapshotId
  /** The whole snapshot file, as a leader sends it in FetchSnapshot chunks. */
  readonly bytes: Buffer
  /** The state machine's part. */
  readonly data: Buffer
}

export interface RaftDiskState {
  readonly quorum: QuorumStateRecord | null
  readonly snapshot: StoredSnapshot | null
  /** The recovered log: contiguous entries from startOffset (the snapshot's end, or 0). */
  readonly startOffset: number
  readonly startEpoch: number
  readonly entries: readonly LogEntry[]
  /** Whether raft.log holds exactly `entries` (no torn tail, nothing below the snapshot, nothing discarded). */
  readonly logClean: boolean
}

// ---- encoding ----

export function encodeEntry(e: LogEntry): Buffer {
  let bodyLength = 1 + 8 + 4
  if (e.kind === 'data') {
    bodyLength += 4
    for (const r of e.records) bodyLength += 4 + r.length
  } else bodyLength += 4
  const buf = Buffer.allocUnsafe(FRAME_HEADER + bodyLength)
  let p = FRAME_HEADER
  buf.writeUInt8(e.kind === 'data' ? KIND_DATA : KIND_LEADER_CHANGE, p)
  buf.writeBigInt64BE(BigInt(e.offset), p + 1)
  buf.writeInt32BE(e.epoch, p + 9)
  p += 13
  if (e.kind === 'data') {
    buf.writeUInt32BE(e.records.length, p)
    p += 4
    for (const r of e.records) {
      buf.writeUInt32BE(r.length, p)
      r.copy(buf, p + 4)
      p += 4 + r.length
    }
  } else {
    buf.writeInt32BE(e.leaderId, p)
  }
  buf.writeUInt32BE(bodyLength, 0)
  buf.writeUInt32BE(crc32c(buf, FRAME_HEADER), 4)
  return buf
}

function decodeBody(body: Buffer): LogEntry | null {
  if (body.length < 13) return null
  const kind = body.readUInt8(0)
  const offset = Number(body.readBigInt64BE(1))
  const epoch = body.readInt32BE(9)
  if (!Number.isSafeInteger(offset) || offset < 0 || epoch < 0) return null
  if (kind === KIND_LEADER_CHANGE) {
    if (body.length !== 17) return null
    return { offset, epoch, kind: 'leader-change', leaderId: body.readInt32BE(13) }
  }
  if (kind !== KIND_DATA || body.length < 17) return null
  const count = body.readUInt32BE(13)
  const records: Buffer[] = []
  let p = 17
  for (let i = 0; i < count; i++) {
    if (p + 4 > body.length) return null
    const len = body.readUInt32BE(p)
    if (p + 4 + len > body.length) return null
    records.push(Buffer.from(body.subarray(p + 4, p + 4 + len)))
    p += 4 + len
  }
  if (p !== body.length) return null
  return { offset, epoch, kind: 'data', records }
}

/** The longest prefix of valid frames: whole, CRC-checked, offsets contiguous, epochs never going back. */
export function decodeLog(buf: Buffer): { entries: LogEntry[]; positions: number[]; validBytes: number } {
  const entries: LogEntry[] = []
  const positions: number[] = []
  let pos = 0
  while (pos + FRAME_HEADER <= buf.length) {
    const len = buf.readUInt32BE(pos)
    if (len > MAX_FRAME_BYTES || pos + FRAME_HEADER + len > buf.length) break
    if (crc32c(buf, pos + FRAME_HEADER, pos + FRAME_HEADER + len) !== buf.readUInt32BE(pos + 4)) break
    const entry = decodeBody(buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len))
    if (!entry) break
    const prev = entries.at(-1)
    if (prev && (entry.offset !== prev.offset + 1 || entry.epoch < prev.epoch)) break
    entries.push(entry)
    positions.push(pos)
    pos += FRAME_HEADER + len
  }
  return { entries, positions, validBytes: pos }
}

export function encodeSnapshot(id: SnapshotId, data: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(SNAPSHOT_HEADER + data.length + 4)
  buf.writeUInt32BE(SNAPSHOT_MAGIC, 0)
  buf.writeUInt8(SNAPSHOT_VERSION, 4)
  buf.writeBigInt64BE(BigInt(id.endOffset), 5)
  buf.writeInt32BE(id.epoch, 13)
  buf.writeUInt32BE(data.length, 17)
  data.copy(buf, SNAPSHOT_HEADER)
  buf.writeUInt32BE(crc32c(buf, 0, SNAPSHOT_HEADER + data.length), SNAPSHOT_HEADER + data.length)
  return buf
}

/** The snapshot in a file's bytes, or null when they are not a whole, valid snapshot. */
export function decodeSnapshot(bytes: Buffer): { id: SnapshotId; data: Buffer } | null {
  if (bytes.length < SNAPSHOT_HEADER + 4) return null
  if (bytes.readUInt32BE(0) !== SNAPSHOT_MAGIC || bytes.readUInt8(4) !== SNAPSHOT_VERSION) return null
  const len = bytes.readUInt32BE(17)
  if (bytes.length !== SNAPSHOT_HEADER + len + 4) return null
  if (crc32c(bytes, 0, SNAPSHOT_HEADER + len) !== bytes.readUInt32BE(SNAPSHOT_HEADER + len)) return null
  const endOffset = Number(bytes.readBigInt64BE(5))
  const epoch = bytes.readInt32BE(13)
  if (!Number.isSafeInteger(endOffset) || endOffset < 0 || epoch < 0) return null
  return { id: { endOffset, epoch }, data: Buffer.from(bytes.subarray(SNAPSHOT_HEADER, SNAPSHOT_HEADER + len)) }
}

export function snapshotFileName(id: SnapshotId): string {
  return `${String(id.endOffset).padStart(20, '0')}-${String(id.epoch).padStart(10, '0')}.checkpoint`
}

function encodeQuorumState(q: QuorumStateRecord): Buffer {
  return Buffer.from(`${JSON.stringify({ version: 1, epoch: q.epoch, votedId: q.votedId ?? -1, leaderId: q.leaderId ?? -1 })}\n`)
}

function decodeQuorumState(path: string, text: string): QuorumStateRecord {
  let doc: { version?: unknown; epoch?: unknown; votedId?: unknown; leaderId?: unknown }
  try {
    doc = JSON.parse(text) as typeof doc
  } catch {
    throw new StorageError('read', path, 'CORRUPT', `${path} is not valid JSON`)
  }
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)
  if (doc.version !== 1 || !int(doc.epoch) || doc.epoch < 0 || !int(doc.votedId) || !int(doc.leaderId)) {
    throw new StorageError('read', path, 'CORRUPT', `${path} does not hold a quorum state: ${text.slice(0, 200)}`)
  }
  return { epoch: doc.epoch, votedId: doc.votedId < 0 ? null : doc.votedId, leaderId: doc.leaderId < 0 ? null : doc.leaderId }
}

// ---- files ----

async function readWhole(fs: FileSystem, path: string): Promise<Buffer> {
  const f = fs.open(path)
  try {
    return await f.read(0, f.size())
  } finally {
    await f.close()
  }
}

/** tmp + fsync + rename + directory fsync. */
async function replaceFile(fs: FileSystem, dir: string, name: string, data: Buffer | readonly Buffer[]): Promise<void> {
  const path = posix.join(dir, name)
  const tmp = path + TMP_SUFFIX
  const f = fs.open(tmp, { create: true, truncate: true })
  try {
    f.write(data, 0)
    await f.sync()
  } finally {
    await f.close()
  }
  fs.rename(tmp, path)
  await fs.syncDir(dir)
}

/** Reads a node's directory without changing anything: what a restart would recover. */
export async function readRaftDisk(fs: FileSystem, dir: string): Promise<RaftDiskState> {
  const empty: RaftDiskState = { quorum: null, snapshot: null, startOffset: 0, startEpoch: 0, entries: [], logClean: true }
  if (!fs.exists(dir)) return empty
  const names = fs.list(dir)

  let quorum: QuorumStateRecord | null = null
  if (names.includes(QUORUM_STATE_FILE)) {
    const path = posix.join(dir, QUORUM_STATE_FILE)
    quorum = decodeQuorumState(path, (await readWhole(fs, path)).toString('utf8'))
  }

  let snapshot: StoredSnapshot | null = null
  const snapshotNames = names
    .map((name) => ({ name, m: SNAPSHOT_NAME.exec(name) }))
    .filter((x) => x.m !== null)
    .sort((a, b) => Number(b.m![1]) - Number(a.m![1]))
  for (const { name, m } of snapshotNames) {
    const bytes = await readWhole(fs, posix.join(dir, name))
    const decoded = decodeSnapshot(bytes)
    // A snapshot file is complete before its rename, so a bad one is damage; an older one still serves.
    if (decoded && decoded.id.endOffset === Number(m![1]) && decoded.id.epoch === Number(m![2])) {
      snapshot = { id: decoded.id, bytes, data: decoded.data }
      break
    }
  }

  const startOffset = snapshot?.id.endOffset ?? 0
  const startEpoch = snapshot?.id.epoch ?? 0
  if (!names.includes(LOG_FILE)) return { ...empty, quorum, snapshot, startOffset, startEpoch }
  const buf = await readWhole(fs, posix.join(dir, LOG_FILE))
  const { entries, validBytes } = decodeLog(buf)
  const first = entries[0]?.offset ?? startOffset
  const last = first + entries.length - 1
  let kept: LogEntry[]
  if (entries.length === 0) kept = []
  else if (first > startOffset) {
    // Compaction only ever follows a durable snapshot at or beyond its start.
    throw new StorageError('recover', posix.join(dir, LOG_FILE), 'CORRUPT', `raft log starts at ${first}, after the newest snapshot's end ${startOffset}`)
  } else if (first === startOffset) kept = entries
  else if (last < startOffset - 1) kept = []
  else kept = entries[startOffset - 1 - first]!.epoch === startEpoch ? entries.slice(startOffset - first) : []
  const logClean = validBytes === buf.length && kept.length === entries.length
  return { quorum, snapshot, startOffset, startEpoch, entries: kept, logClean }
}

/** The node's files. File-changing methods run one at a time (see the header). */
export class RaftStore {
  readonly #fs: FileSystem
  readonly #dir: string
  #log: FileHandle
  /** Offset of the first entry the log file holds (or would hold). */
  #first: number
  /** Byte position of each entry in the file. */
  #positions: number[]

  private constructor(fs: FileSystem, dir: string, log: FileHandle, first: number, positions: number[]) {
    this.#fs = fs
    this.#dir = dir
    this.#log = log
    this.#first = first
    this.#positions = positions
  }

  /** Recovers the directory (creating it when new), repairs the log file to what was recovered and makes it durable. */
  static async open(fs: FileSystem, dir: string): Promise<{ store: RaftStore; state: RaftDiskState }> {
    if (!fs.exists(dir)) {
      fs.mkdirp(dir)
      // The new directory entries must survive a power loss before anything written inside them counts.
      for (let d = dir; posix.dirname(d) !== d; d = posix.dirname(d)) await fs.syncDir(posix.dirname(d))
    }
    for (const name of fs.list(dir)) if (name.endsWith(TMP_SUFFIX)) fs.unlink(posix.join(dir, name))
    const state = await readRaftDisk(fs, dir)
    const path = posix.join(dir, LOG_FILE)
    if (!state.logClean || !fs.exists(path)) await replaceFile(fs, dir, LOG_FILE, state.entries.map(encodeEntry))
    const log = fs.open(path)
    await log.sync()
    await fs.syncDir(dir)
    const { positions } = decodeLog(await log.read(0, log.size()))
    return { store: new RaftStore(fs, dir, log, state.startOffset, positions), state }
  }

  get #end(): number {
    return this.#first + this.#positions.length
  }

  /** Writes entries at the end of the file (page cache; flush() makes them durable). */
  append(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return
    const bufs: Buffer[] = []
    const positions: number[] = []
    let pos = this.#log.size()
    for (const e of entries) {
      if (e.offset !== this.#end + bufs.length) throw new Error(`raft store: append at ${e.offset}, file ends at ${this.#end + bufs.length}`)
      const buf = encodeEntry(e)
      bufs.push(buf)
      positions.push(pos)
      pos += buf.length
    }
    this.#log.append(bufs)
    this.#positions.push(...positions)
  }

  /** Removes the entries at and above `offset`. */
  truncateTo(offset: number): void {
    if (offset >= this.#end) return
    if (offset < this.#first) throw new Error(`raft store: truncate to ${offset} below the file's first offset ${this.#first}`)
    this.#log.truncate(this.#positions[offset - this.#first]!)
    this.#positions.length = offset - this.#first
  }

  flush(): Promise<void> {
    return this.#log.sync()
  }

  writeQuorumState(q: QuorumStateRecord): Promise<void> {
    return replaceFile(this.#fs, this.#dir, QUORUM_STATE_FILE, encodeQuorumState(q))
  }

  /** Stores a snapshot durably, then removes the older ones. */
  async saveSnapshot(id: SnapshotId, bytes: Buffer): Promise<void> {
    const name = snapshotFileName(id)
    await replaceFile(this.#fs, this.#dir, name, bytes)
    for (const other of this.#fs.list(this.#dir)) {
      const m = SNAPSHOT_NAME.exec(other)
      if (m && other !== name && Number(m[1]) <= id.endOffset) this.#fs.unlink(posix.join(this.#dir, other))
    }
  }

  /**
   * Rewrites the log without the entries below `startOffset` (a durable snapshot covers them); when the file
   * ends before `startOffset` the new log is empty and starts there.
   */
  async compactTo(startOffset: number): Promise<void> {
    if (startOffset <= this.#first) return
    const idx = startOffset - this.#first
    let tail: Buffer = Buffer.alloc(0)
    let positions: number[] = []
    if (idx < this.#positions.length) {
      const from = this.#positions[idx]!
      tail = await this.#log.read(from, this.#log.size() - from)
      positions = this.#positions.slice(idx).map((p) => p - from)
    }
    await this.#replaceLog(tail, startOffset, positions)
  }

  /** Empties the log durably; it restarts at `startOffset` (after a snapshot the log disagreed with). */
  resetTo(startOffset: number): Promise<void> {
    return this.#replaceLog(Buffer.alloc(0), startOffset, [])
  }

  async #replaceLog(content: Buffer, first: number, positions: number[]): Promise<void> {
    await replaceFile(this.#fs, this.#dir, LOG_FILE, content)
    const old = this.#log
    this.#log = this.#fs.open(posix.join(this.#dir, LOG_FILE))
    this.#first = first
    this.#positions = positions
    await old.close()
  }

  close(): Promise<void> {
    return this.#log.close()
  }
}
