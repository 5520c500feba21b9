// The disk seam of the storage layer. Log code never touches node:fs; it gets a FileSystem.
//
// Writes are synchronous (they land in the page cache, so a produce request assigns offsets and writes its bytes
// in one turn of the event loop); reads and fsyncs are asynchronous. Metadata operations (open, rename, unlink)
// are synchronous too: they are rare (segment roll, retention) and Kafka does them inline as well.
//
// NodeFileSystem is the real disk. SimFileSystem is an in-memory disk that knows what a crash keeps: each file has
// durable content (as of its last completed fsync) and a list of unsynced operations; each directory has durable
// entries (as of its last directory fsync) and a list of unsynced entry changes. crash(rng) keeps a random prefix
// of every such list, may tear the first lost write and may append garbage, which is what the recovery code has
// to survive.

import * as nodeFs from 'node:fs'
import { posix } from 'node:path'

const STORAGE_ERROR = Symbol.for('faultline.storage.StorageError')

/** A disk failure (ENOSPC, EIO, ...) or an operation on an offline log; the broker answers KAFKA_STORAGE_ERROR. */
export class StorageError extends Error {
  /** errno name from the OS (ENOSPC, EIO, ENOENT, ...) or OFFLINE / CLOSED from the log itself. */
  readonly code: string
  readonly op: string
  readonly path: string

  constructor(op: string, path: string, code: string, message?: string, cause?: unknown) {
    super(message ?? `${op} ${path}: ${code}`, cause === undefined ? undefined : { cause })
    this.name = 'StorageError'
    this.code = code
    this.op = op
    this.path = path
  }

  static is(e: unknown): e is StorageError {
    return typeof e === 'object' && e !== null && (e as { [STORAGE_ERROR]?: boolean })[STORAGE_ERROR] === true
  }
}
Object.defineProperty(StorageError.prototype, STORAGE_ERROR, { value: true })

export interface OpenOptions {
  /** Create the file when missing (otherwise a missing file is a StorageError ENOENT). */
  create?: boolean
  /** Empty the file on open. */
  truncate?: boolean
}

export interface FileHandle {
  readonly path: string
  /** Length in bytes, including writes not yet fsynced. */
  size(): number
  /** Writes every byte of `data` at `position`, synchronously. Throws StorageError. */
  write(data: Buffer | readonly Buffer[], position: number): void
  /** Writes at the current end of the file. */
  append(data: Buffer | readonly Buffer[]): void
  /** Reads up to `length` bytes at `position`; fewer only at the end of the file. The buffer is the caller's. */
  read(position: number, length: number): Promise<Buffer>
  truncate(length: number): void
  /** Makes every write and truncate issued before the call durable. */
  sync(): Promise<void>
  /** Waits for reads and syncs in flight, then releases the handle. */
  close(): Promise<void>
}

export interface FileSystem {
  open(path: string, options?: OpenOptions): FileHandle
  /** Entry names of a directory (files and subdirectories), unsorted. */
  list(dir: string): string[]
  mkdirp(dir: string): void
  /** Atomically replaces `to` if it exists. */
  rename(from: string, to: string): void
  unlink(path: string): void
  /** Removes a file or a directory tree; no error when missing. */
  rmrf(path: string): Promise<void>
  exists(path: string): boolean
  /** Makes creations, renames and unlinks of the directory's entries durable. */
  syncDir(dir: string): Promise<void>
}

function errnoCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'EIO'
}

function toStorageError(op: string, path: string, e: unknown): StorageError {
  if (StorageError.is(e)) return e
  return new StorageError(op, path, errnoCode(e), undefined, e)
}

const totalLength = (bufs: readonly Buffer[]): number => bufs.reduce((n, b) => n + b.length, 0)

// ---- node:fs ----

class NodeFileHandle implements FileHandle {
  readonly path: string
  #fd: number
  #size: number
  #inflight = 0
  #idle: (() => void) | null = null
  #closed: Promise<void> | null = null

  constructor(path: string, fd: number) {
    this.path = path
    this.#fd = fd
    this.#size = nodeFs.fstatSync(fd).size
  }

  size(): number {
    return this.#size
  }

  write(data: Buffer | readonly Buffer[], position: number): void {
    const bufs = Buffer.isBuffer(data) ? [data] : data
    const total = totalLength(bufs)
    try {
      let done = 0
      if (bufs.length > 1) done = nodeFs.writevSync(this.#fd, bufs as Buffer[], position)
      // A short write (writev, or write near a full disk) continues from where it stopped.
      let skip = done
      for (const b of bufs) {
        if (skip >= b.length) {
          skip -= b.length
          continue
        }
        let off = skip
        skip = 0
        while (off < b.length) {
          const n = nodeFs.writeSync(this.#fd, b, off, b.length - off, position + done)
          if (n <= 0) throw new StorageError('write', this.path, 'EIO', `write ${this.path}: no progress`)
          off += n
          done += n
        }
      }
    } catch (e) {
      this.refreshSize()
      throw toStorageError('write', this.path, e)
    }
    this.#size = Math.max(this.#size, position + total)
  }

  append(data: Buffer | readonly Buffer[]): void {
    this.write(data, this.#size)
  }

  private refreshSize(): void {
    try {
      this.#size = nodeFs.fstatSync(this.#fd).size
    } catch {
      // keep the last known size; the caller is about to report the original error
    }
  }

  read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(Math.max(0, length))
    return this.track(
      new Promise<Buffer>((resolve, reject) => {
        let got = 0
        const next = (): void => {
          if (got >= length) return resolve(buf)
          nodeFs.read(this.#fd, buf, got, length - got, position + got, (err, n) => {
            if (err) return reject(toStorageError('read', this.path, err))
            if (n === 0) return resolve(buf.subarray(0, got))
            got += n
            next()
          })
        }
        next()
      }),
    )
  }

  truncate(length: number): void {
    try {
      nodeFs.ftruncateSync(this.#fd, length)
    } catch (e) {
      this.refreshSize()
      throw toStorageError('truncate', this.path, e)
    }
    this.#size = length
  }

  sync(): Promise<void> {
    return this.track(
      new Promise<void>((resolve, reject) => {
        nodeFs.fsync(this.#fd, (err) => (err ? reject(toStorageError('fsync', this.path, err)) : resolve()))
      }),
    )
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#idle = resolve))
      await new Promise<void>((resolve, reject) => {
        nodeFs.close(this.#fd, (err) => (err ? reject(toStorageError('close', this.path, err)) : resolve()))
      })
    })()
    return this.#closed
  }

  // Counts operations in flight so close() never releases a descriptor that the pool is still using (a reused
  // descriptor number would make a late read return another file's bytes).
  private track<T>(p: Promise<T>): Promise<T> {
    this.#inflight++
    const done = (): void => {
      if (--this.#inflight === 0 && this.#idle) {
        const idle = this.#idle
        this.#idle = null
        idle()
      }
    }
    return p.then(
      (v) => {
        done()
        return v
      },
      (e: unknown) => {
        done()
        throw e
      },
    )
  }
}

export class NodeFileSystem implements FileSystem {
  open(path: string, options: OpenOptions = {}): FileHandle {
    const { O_RDWR, O_CREAT, O_TRUNC } = nodeFs.constants
    const flags = O_RDWR | (options.create ? O_CREAT : 0) | (options.truncate ? O_TRUNC : 0)
    try {
      return new NodeFileHandle(path, nodeFs.openSync(path, flags, 0o644))
    } catch (e) {
      throw toStorageError('open', path, e)
    }
  }

  list(dir: string): string[] {
    try {
      return nodeFs.readdirSync(dir)
    } catch (e) {
      throw toStorageError('list', dir, e)
    }
  }

  mkdirp(dir: string): void {
    try {
      nodeFs.mkdirSync(dir, { recursive: true })
    } catch (e) {
      throw toStorageError('mkdir', dir, e)
    }
  }

  rename(from: string, to: string): void {
    try {
      nodeFs.renameSync(from, to)
    } catch (e) {
      throw toStorageError('rename', from, e)
    }
  }

  unlink(path: string): void {
    try {
      nodeFs.unlinkSync(path)
    } catch (e) {
      throw toStorageError('unlink', path, e)
    }
  }

  async rmrf(path: string): Promise<void> {
    try {
      await nodeFs.promises.rm(path, { recursive: true, force: true })
    } catch (e) {
      throw toStorageError('rm', path, e)
    }
  }

  exists(path: string): boolean {
    return nodeFs.existsSync(path)
  }

  syncDir(dir: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      nodeFs.open(dir, 'r', (err, fd) => {
        if (err) return reject(toStorageError('fsync-dir', dir, err))
        nodeFs.fsync(fd, (syncErr) => {
          nodeFs.close(fd, () => {
            // Some platforms cannot fsync a directory; there is nothing more to do there.
            if (syncErr && !['EISDIR', 'EINVAL', 'EPERM', 'EBADF'].includes(errnoCode(syncErr))) {
              reject(toStorageError('fsync-dir', dir, syncErr))
            } else resolve()
          })
        })
      })
    })
  }
}

// ---- simulation ----

/** Uniform [0, 1) numbers from a seed (mulberry32): the randomness of SimFileSystem.crash in tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type FileOp = { seq: number; kind: 'write'; pos: number; data: Buffer } | { seq: number; kind: 'truncate'; length: number }

class SimInode {
  data: Buffer = Buffer.alloc(0)
  length = 0
  durable: Buffer = Buffer.alloc(0)
  ops: FileOp[] = []

  content(): Buffer {
    return this.data.subarray(0, this.length)
  }

  applyWrite(pos: number, bytes: Buffer): void {
    const end = pos + bytes.length
    if (end > this.data.length) {
      const grown = Buffer.alloc(Math.max(end, this.data.length * 2, 256))
      this.data.copy(grown, 0, 0, this.length)
      this.data = grown
    }
    if (pos > this.length) this.data.fill(0, this.length, pos)
    bytes.copy(this.data, pos)
    this.length = Math.max(this.length, end)
  }

  applyTruncate(length: number): void {
    if (length > this.data.length) this.applyWrite(this.length, Buffer.alloc(length - this.length))
    else if (length > this.length) this.data.fill(0, this.length, length)
    this.length = length
  }

  reset(content: Buffer): void {
    this.data = Buffer.from(content)
    this.length = content.length
    this.durable = Buffer.from(content)
    this.ops = []
  }
}

function replay(base: Buffer, ops: readonly FileOp[]): SimInode {
  const f = new SimInode()
  f.applyWrite(0, base)
  for (const op of ops) {
    if (op.kind === 'write') f.applyWrite(op.pos, op.data)
    else f.applyTruncate(op.length)
  }
  return f
}

type SimNode = { kind: 'file'; inode: SimInode } | { kind: 'dir'; dir: SimDir }

interface DirOp {
  seq: number
  changes: [name: string, node: SimNode | null][]
}

class SimDir {
  entries = new Map<string, SimNode>()
  durable = new Map<string, SimNode>()
  ops: DirOp[] = []
}

interface PendingSync {
  run(): void
  resolve(): void
  reject(e: unknown): void
}

/** What a fault hook may answer: an errno name to fail the operation with, or nothing to let it through. */
export type FaultHook = (op: 'write' | 'truncate' | 'sync' | 'open' | 'rename' | 'unlink', path: string) => string | undefined

class SimHandle implements FileHandle {
  readonly path: string
  readonly #fs: SimFileSystem
  readonly #inode: SimInode
  readonly #generation: number

  constructor(fs: SimFileSystem, inode: SimInode, path: string, generation: number) {
    this.#fs = fs
    this.#inode = inode
    this.path = path
    this.#generation = generation
  }

  private alive(op: string): void {
    if (this.#generation !== this.#fs.generation) {
      throw new StorageError(op, this.path, 'EBADF', `${op} ${this.path}: handle opened before a simulated crash`)
    }
  }

  size(): number {
    return this.#inode.length
  }

  write(data: Buffer | readonly Buffer[], position: number): void {
    this.alive('write')
    this.#fs.fault('write', this.path)
    const bytes = Buffer.isBuffer(data) ? Buffer.from(data) : Buffer.concat(data as Buffer[])
    this.#inode.applyWrite(position, bytes)
    this.#inode.ops.push({ seq: this.#fs.nextSeq(), kind: 'write', pos: position, data: bytes })
  }

  append(data: Buffer | readonly Buffer[]): void {
    this.write(data, this.#inode.length)
  }

  read(position: number, length: number): Promise<Buffer> {
    try {
      this.alive('read')
    } catch (e) {
      return Promise.reject(e)
    }
    const content = this.#inode.content()
    const out = Buffer.from(content.subarray(Math.min(position, content.length), Math.min(position + length, content.length)))
    return Promise.resolve(out)
  }

  truncate(length: number): void {
    this.alive('truncate')
    this.#fs.fault('truncate', this.path)
    this.#inode.applyTruncate(length)
    this.#inode.ops.push({ seq: this.#fs.nextSeq(), kind: 'truncate', length })
  }

  sync(): Promise<void> {
    try {
      this.alive('fsync')
      this.#fs.fault('sync', this.path)
    } catch (e) {
      return Promise.reject(e)
    }
    const inode = this.#inode
    const upTo = this.#fs.nextSeq()
    return this.#fs.enqueueSync(() => {
      const n = inode.ops.findIndex((op) => op.seq > upTo)
      const k = n < 0 ? inode.ops.length : n
      if (k === 0) return
      if (k === inode.ops.length) inode.durable = Buffer.from(inode.content())
      else inode.durable = Buffer.from(replay(inode.durable, inode.ops.slice(0, k)).content())
      inode.ops = inode.ops.slice(k)
    })
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * An in-memory FileSystem with crash semantics. Deterministic: fsyncs complete in call order on a microtask
 * (autoSync) or only when the test says so (completeSyncs), and crash() draws from the rng it is given.
 */
export class SimFileSystem implements FileSystem {
  /** Bumped by crash(); handles from an earlier generation fail with EBADF. */
  generation = 0
  /** When false, fsyncs wait for completeSyncs(); a crash forgets them. */
  autoSync = true
  /** Optional fault injection: return an errno name to fail an operation. */
  faults: FaultHook | null = null
  #root = new SimDir()
  #seq = 0
  #pending: PendingSync[] = []

  nextSeq(): number {
    return ++this.#seq
  }

  fault(op: Parameters<FaultHook>[0], path: string): void {
    const code = this.faults?.(op, path)
    if (code) throw new StorageError(op, path, code, `${op} ${path}: ${code} (injected)`)
  }

  enqueueSync(run: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ run, resolve, reject })
      if (this.autoSync) queueMicrotask(() => this.completeSyncs())
    })
  }

  /** fsyncs issued and not completed. */
  get pendingSyncs(): number {
    return this.#pending.length
  }

  /** Completes `count` pending fsyncs (all by default), picked at random when an rng is given, else oldest first. */
  completeSyncs(count = Infinity, rng?: () => number): number {
    let done = 0
    while (done < count && this.#pending.length > 0) {
      const i = rng ? Math.floor(rng() * this.#pending.length) : 0
      const [p] = this.#pending.splice(i, 1)
      p!.run()
      p!.resolve()
      done++
    }
    return done
  }

  private split(path: string): string[] {
    return posix.normalize(path).split('/').filter((s) => s.length > 0 && s !== '.')
  }

  private lookup(path: string): SimNode | undefined {
    let node: SimNode = { kind: 'dir', dir: this.#root }
    for (const part of this.split(path)) {
      if (node.kind !== 'dir') return undefined
      const next = node.dir.entries.get(part)
      if (!next) return undefined
      node = next
    }
    return node
  }

  private parentOf(op: string, path: string): { dir: SimDir; name: string } {
    const parts = this.split(path)
    const name = parts.pop()
    if (name === undefined) throw new StorageError(op, path, 'EINVAL')
    const parent = this.lookup(parts.join('/'))
    if (!parent) throw new StorageError(op, path, 'ENOENT')
    if (parent.kind !== 'dir') throw new StorageError(op, path, 'ENOTDIR')
    return { dir: parent.dir, name }
  }

  private change(dir: SimDir, changes: [string, SimNode | null][]): void {
    for (const [name, node] of changes) {
      if (node) dir.entries.set(name, node)
      else dir.entries.delete(name)
    }
    dir.ops.push({ seq: this.nextSeq(), changes })
  }

  open(path: string, options: OpenOptions = {}): FileHandle {
    this.fault('open', path)
    const { dir, name } = this.parentOf('open', path)
    let node = dir.entries.get(name)
    if (node && node.kind !== 'file') throw new StorageError('open', path, 'EISDIR')
    if (!node) {
      if (!options.create) throw new StorageError('open', path, 'ENOENT')
      node = { kind: 'file', inode: new SimInode() }
      this.change(dir, [[name, node]])
    }
    const handle = new SimHandle(this, node.inode, path, this.generation)
    if (options.truncate && node.inode.length > 0) handle.truncate(0)
    return handle
  }

  list(dir: string): string[] {
    const node = this.lookup(dir)
    if (!node) throw new StorageError('list', dir, 'ENOENT')
    if (node.kind !== 'dir') throw new StorageError('list', dir, 'ENOTDIR')
    return [...node.dir.entries.keys()]
  }

  mkdirp(dir: string): void {
    let cur = this.#root
    for (const part of this.split(dir)) {
      const next = cur.entries.get(part)
      if (next && next.kind !== 'dir') throw new StorageError('mkdir', dir, 'ENOTDIR')
      if (next) {
        cur = next.dir
        continue
      }
      const created: SimNode = { kind: 'dir', dir: new SimDir() }
      this.change(cur, [[part, created]])
      cur = created.dir
    }
  }

  rename(from: string, to: string): void {
    this.fault('rename', from)
    const src = this.parentOf('rename', from)
    const node = src.dir.entries.get(src.name)
    if (!node) throw new StorageError('rename', from, 'ENOENT')
    const dst = this.parentOf('rename', to)
    if (src.dir === dst.dir) {
      this.change(src.dir, [
        [src.name, null],
        [dst.name, node],
      ])
    } else {
      this.change(dst.dir, [[dst.name, node]])
      this.change(src.dir, [[src.name, null]])
    }
  }

  unlink(path: string): void {
    this.fault('unlink', path)
    const { dir, name } = this.parentOf('unlink', path)
    const node = dir.entries.get(name)
    if (!node) throw new StorageError('unlink', path, 'ENOENT')
    if (node.kind !== 'file') throw new StorageError('unlink', path, 'EISDIR')
    this.change(dir, [[name, null]])
  }

  rmrf(path: string): Promise<void> {
    const node = this.lookup(path)
    if (node) {
      const { dir, name } = this.parentOf('rm', path)
      this.change(dir, [[name, null]])
    }
    return Promise.resolve()
  }

  exists(path: string): boolean {
    return this.lookup(path) !== undefined
  }

  syncDir(path: string): Promise<void> {
    const node = this.lookup(path)
    if (!node) return Promise.reject(new StorageError('fsync-dir', path, 'ENOENT'))
    if (node.kind !== 'dir') return Promise.reject(new StorageError('fsync-dir', path, 'ENOTDIR'))
    try {
      this.fault('sync', path)
    } catch (e) {
      return Promise.reject(e)
    }
    const dir = node.dir
    const upTo = this.nextSeq()
    return this.enqueueSync(() => {
      while (dir.ops.length > 0 && dir.ops[0]!.seq <= upTo) {
        const op = dir.ops.shift()!
        for (const [name, n] of op.changes) {
          if (n) dir.durable.set(name, n)
          else dir.durable.delete(name)
        }
      }
    })
  }

  /** The whole current content of a file (test helper). */
  readFile(path: string): Buffer {
    const node = this.lookup(path)
    if (!node || node.kind !== 'file') throw new StorageError('read', path, 'ENOENT')
    return Buffer.from(node.inode.content())
  }

  /**
   * Power loss. Every file keeps its durable content plus a prefix of its unsynced writes and truncates, maybe with
   * the next write torn at a random byte and maybe with garbage after the end; every directory keeps its durable
   * entries plus a prefix of its unsynced changes, so files created or renamed without a directory fsync may
   * vanish. Pending fsyncs never complete and every open handle dies.
   */
  crash(rng: () => number, options: CrashOptions = {}): void {
    this.generation++
    this.#pending = []
    const seen = new Set<SimInode>()
    const prefix = (n: number): number => (options.keep === 'none' ? 0 : options.keep === 'all' ? n : pickPrefix(rng, n))
    const visit = (dir: SimDir): void => {
      const k = prefix(dir.ops.length)
      const entries = new Map(dir.durable)
      for (const op of dir.ops.slice(0, k)) {
        for (const [name, n] of op.changes) {
          if (n) entries.set(name, n)
          else entries.delete(name)
        }
      }
      dir.entries = entries
      dir.durable = new Map(entries)
      dir.ops = []
      for (const node of [...entries.keys()].sort().map((name) => entries.get(name)!)) {
        if (node.kind === 'dir') visit(node.dir)
        else if (!seen.has(node.inode)) {
          seen.add(node.inode)
          crashFile(node.inode, rng, prefix, options)
        }
      }
    }
    visit(this.#root)
  }
}

export interface CrashOptions {
  /** Which unsynced operations survive: none, all, or a random prefix (the default). */
  keep?: 'none' | 'all' | 'random'
  /** Whether the first lost write may be partly on disk (default true). */
  tear?: boolean
  /** Whether garbage may follow a file's end (default true). */
  garbage?: boolean
}

function pickPrefix(rng: () => number, n: number): number {
  if (n === 0) return 0
  const r = rng()
  if (r < 0.25) return 0
  if (r < 0.5) return n
  return Math.floor(rng() * (n + 1))
}

function crashFile(inode: SimInode, rng: () => number, prefix: (n: number) => number, options: CrashOptions): void {
  const n = inode.ops.length
  if (n === 0) {
    inode.reset(inode.durable)
    return
  }
  const k = prefix(n)
  const f = replay(inode.durable, inode.ops.slice(0, k))
  const lost = inode.ops[k]
  if (options.tear !== false && lost && lost.kind === 'write' && rng() < 0.35) {
    const cut = Math.floor(rng() * lost.data.length)
    f.applyWrite(lost.pos, lost.data.subarray(0, cut))
  }
  if (options.garbage !== false && rng() < 0.25) {
    const len = 1 + Math.floor(rng() * 96)
    const garbage = Buffer.alloc(len)
    if (rng() < 0.5) for (let i = 0; i < len; i++) garbage[i] = Math.floor(rng() * 256)
    f.applyWrite(f.length, garbage)
  }
  inode.reset(f.content())
}
