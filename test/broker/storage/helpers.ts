// Shared fixtures for the storage tests: batches, temp dirs, a wrapping FileSystem that counts and fails I/O,
// and a logger that records what it was told.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeRecordBatch, iterateBatches } from '../../../broker/protocol/record-batch.ts'
import type { Logger } from '../../../broker/storage/config.ts'
import { type FileHandle, type FileSystem, type OpenOptions, StorageError } from '../../../broker/storage/file-system.ts'
import type { PartitionLog } from '../../../broker/storage/log.ts'

/** One uncompressed batch of `count` records with `valueBytes`-byte values, all stamped `timestamp`. */
export function batch(count: number, opts: { valueBytes?: number; timestamp?: number; fill?: number } = {}): Buffer {
  const value = Buffer.alloc(opts.valueBytes ?? 10, opts.fill ?? 0x61)
  const timestamp = opts.timestamp ?? 1_700_000_000_000
  return encodeRecordBatch(Array.from({ length: count }, () => ({ value, timestamp })), { timestamp })
}

/** A batch whose records carry the given timestamps in order. */
export function batchWithTimestamps(timestamps: readonly number[]): Buffer {
  return encodeRecordBatch(timestamps.map((timestamp, i) => ({ value: `v${i}`, timestamp })), { timestamp: timestamps[0] })
}

export function tempDir(): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), 'faultline-storage-'))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

export interface LogLine {
  level: 'info' | 'warn' | 'error'
  msg: string
  fields?: Record<string, unknown>
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  return {
    lines,
    info: (msg, fields) => void lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => void lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => void lines.push({ level: 'error', msg, fields }),
  }
}

/** Hooks of a WrappedFileSystem; a hook that throws fails the operation. */
export interface Taps {
  write?(path: string, bytes: number): void
  read?(path: string, position: number, length: number): void
  sync?(path: string): void
  syncDir?(path: string): void
}

class WrappedHandle implements FileHandle {
  readonly path: string
  readonly #inner: FileHandle
  readonly #taps: Taps

  constructor(inner: FileHandle, taps: Taps) {
    this.#inner = inner
    this.#taps = taps
    this.path = inner.path
  }

  size(): number {
    return this.#inner.size()
  }

  write(data: Buffer | readonly Buffer[], position: number): void {
    const bytes = Buffer.isBuffer(data) ? data.length : data.reduce((n, b) => n + b.length, 0)
    this.#taps.write?.(this.path, bytes)
    this.#inner.write(data, position)
  }

  append(data: Buffer | readonly Buffer[]): void {
    this.write(data, this.#inner.size())
  }

  read(position: number, length: number): Promise<Buffer> {
    this.#taps.read?.(this.path, position, length)
    return this.#inner.read(position, length)
  }

  truncate(length: number): void {
    this.#inner.truncate(length)
  }

  sync(): Promise<void> {
    try {
      this.#taps.sync?.(this.path)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#inner.sync()
  }

  close(): Promise<void> {
    return this.#inner.close()
  }
}

/** Passes everything to `inner`, calling the taps first. */
export class WrappedFileSystem implements FileSystem {
  readonly inner: FileSystem
  taps: Taps

  constructor(inner: FileSystem, taps: Taps = {}) {
    this.inner = inner
    this.taps = taps
  }

  open(path: string, options?: OpenOptions): FileHandle {
    return new WrappedHandle(this.inner.open(path, options), this.taps)
  }
  list(dir: string): string[] {
    return this.inner.list(dir)
  }
  mkdirp(dir: string): void {
    this.inner.mkdirp(dir)
  }
  rename(from: string, to: string): void {
    this.inner.rename(from, to)
  }
  unlink(path: string): void {
    this.inner.unlink(path)
  }
  rmrf(path: string): Promise<void> {
    return this.inner.rmrf(path)
  }
  exists(path: string): boolean {
    return this.inner.exists(path)
  }
  syncDir(dir: string): Promise<void> {
    try {
      this.taps.syncDir?.(dir)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.inner.syncDir(dir)
  }
}

export const enospc = (path: string): StorageError => new StorageError('write', path, 'ENOSPC', `write ${path}: ENOSPC (injected)`)

/** Every batch of the log from its start to its end, each as its own Buffer, via read(). */
export async function readAll(log: PartitionLog): Promise<Buffer[]> {
  const out: Buffer[] = []
  let offset = log.logStartOffset
  while (offset < log.logEndOffset) {
    const r = await log.read(offset, 1 << 20, log.logEndOffset, true)
    if (r.kind !== 'ok') throw new Error(`readAll: out of range at ${offset}`)
    if (r.bytes === 0) throw new Error(`readAll: nothing at ${offset} below ${log.logEndOffset}`)
    for (const chunk of r.records) {
      for (const b of iterateBatches(chunk)) {
        out.push(Buffer.from(b.bytes()))
        offset = b.lastOffset + 1
      }
    }
  }
  return out
}

/** Lets pending promise callbacks and I/O callbacks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
