// The null sink: a bench-only Kafka server that acknowledges Produce requests and stores nothing. It is the
// ceiling of the kcat runs: whatever rate kcat reaches against it is what librdkafka can push through one
// loopback connection on this machine, so the broker's rate is reported as a fraction of it.
//
// It speaks just enough for a producer to connect: ApiVersions (with the KIP-511 downgrade), Metadata (every
// named topic exists with `partitions` partitions led by the sink itself) and Produce (every partition answered
// NONE, offsets counted, records neither checked nor kept; acks=0 gets no response). The bodies use the broker's
// own message declarations, so the sink and the broker cannot disagree on the wire format. Anything else closes
// the connection.
//
// With `storeDir` it becomes the storing sink: each partition's records are appended to a file of their own with
// one writeSync per partition per request, and nothing else; the files are removed when the last connection
// closes (the end of a run). That is the least any broker that keeps the data
// must do, so it separates what the machine's file writes cost from what the broker adds on top.

import { closeSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { ErrorCode } from '../broker/protocol/errors.ts'
import { beginFrame, FrameDecoder } from '../broker/protocol/framing.ts'
import {
  API_VERSIONS_KEY,
  readRequestHeader,
  responseHeaderIsFlexible,
  skipTaggedFields,
  writeResponseHeader,
} from '../broker/protocol/header.ts'
import { ApiVersions } from '../broker/protocol/messages/api-versions.ts'
import { Metadata } from '../broker/protocol/messages/metadata.ts'
import { Produce } from '../broker/protocol/messages/produce.ts'
import { Reader } from '../broker/protocol/reader.ts'
import type { ApiDecl, In } from '../broker/protocol/schema.ts'
import { Writer } from '../broker/protocol/writer.ts'
import { join } from 'node:path'

const RECORD_COUNT_AT = 57
const BATCH_HEADER = 61
const NODE_ID = 1
/** Kafka's default socket.request.max.bytes. */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024
const TOPIC_ID_PREFIX = 'f0'
/** A store file is cut back to empty at this size, so new writes keep allocating pages as a growing log does. */
const STORE_WRAP_BYTES = 1024 * 1024 * 1024

const served = [ApiVersions, Metadata, Produce] as const satisfies readonly ApiDecl[]
const apiKeys = served.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion }))

export interface NullSinkOptions {
  host: string
  port?: number
  /** Partitions of every topic (default 1). */
  partitions?: number
  /** Append every partition's records to a file in this directory (the storing sink). */
  storeDir?: string
}

export interface NullSinkStats {
  connections: number
  produceRequests: number
  produceBytes: number
  /** Bytes the storing sink wrote to its files (0 for the null sink). */
  storedBytes: number
}

export interface NullSink {
  readonly host: string
  readonly port: number
  readonly stats: NullSinkStats
  close(): Promise<void>
}

export async function startNullSink(opts: NullSinkOptions): Promise<NullSink> {
  const partitions = opts.partitions ?? 1
  const stats: NullSinkStats = { connections: 0, produceRequests: 0, produceBytes: 0, storedBytes: 0 }
  const topics = new Map<string, string>()
  const offsets = new Map<string, number>()
  const sockets = new Set<Socket>()
  const files = new Map<string, { fd: number; size: number; path: string }>()
  let port = opts.port ?? 0

  let fileSeq = 0
  /** The run is over when its producer disconnects: its files go, as the bench deletes the broker's topic after
   *  each run (bench/kcat.ts), so every run starts from the same page-cache state. */
  const dropFiles = (): void => {
    for (const f of files.values()) {
      closeSync(f.fd)
      rmSync(f.path, { force: true })
    }
    files.clear()
  }
  const store = (key: string, records: Buffer): void => {
    let f = files.get(key)
    if (!f) {
      const path = join(opts.storeDir!, `${fileSeq++}.log`)
      f = { fd: openSync(path, 'w'), size: 0, path }
      files.set(key, f)
    }
    if (f.size + records.length > STORE_WRAP_BYTES) {
      ftruncateSync(f.fd, 0)
      f.size = 0
    }
    let done = 0
    while (done < records.length) done += writeSync(f.fd, records, done, records.length - done, f.size + done)
    f.size += records.length
    stats.storedBytes += records.length
  }

  const topicId = (name: string): string => {
    let id = topics.get(name)
    if (!id) {
      id = (TOPIC_ID_PREFIX + (topics.size + 1).toString(16)).padStart(32, '0')
      topics.set(name, id)
    }
    return id
  }

  const describe = (name: string) => ({
    errorCode: ErrorCode.NONE,
    name,
    topicId: topicId(name),
    isInternal: false,
    partitions: Array.from({ length: partitions }, (_, i) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: i,
      leaderId: NODE_ID,
      leaderEpoch: 0,
      replicaNodes: [NODE_ID],
      isrNodes: [NODE_ID],
      offlineReplicas: [],
    })),
  })

  const respond = (socket: Socket, api: ApiDecl, version: number, correlationId: number, body: unknown): void => {
    const w = new Writer(256)
    const endFrame = beginFrame(w)
    writeResponseHeader(w, correlationId, responseHeaderIsFlexible(api.key, api.isFlexible(version)))
    api.response.encode(version, body as never, w)
    endFrame()
    for (const c of w.chunksOut()) socket.write(c)
  }

  const onFrame = (socket: Socket, frame: Buffer): void => {
    const r = new Reader(frame)
    const h = readRequestHeader(r)
    if (h.apiKey === API_VERSIONS_KEY && h.apiVersion > ApiVersions.maxVersion) {
      respond(socket, ApiVersions, 0, h.correlationId, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys })
      return
    }
    const api = served.find((a) => a.key === h.apiKey)
    if (!api || !api.supports(h.apiVersion)) throw new RangeError(`null sink: unsupported API ${h.apiKey} v${h.apiVersion}`)
    if (api.isFlexible(h.apiVersion)) skipTaggedFields(r)
    const v = h.apiVersion
    if (api === Produce) {
      const req = Produce.request.decode(v, r)
      stats.produceRequests++
      stats.produceBytes += frame.length
      if (req.acks === 0) {
        if (opts.storeDir) for (const t of req.topicData) for (const p of t.partitionData) if (p.records) store(`${t.name}\u0000${p.index}`, p.records)
        return
      }
      const res: In<typeof Produce.response.fields> = {
        responses: req.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => {
            const key = `${t.name}\u0000${p.index}`
            const base = offsets.get(key) ?? 0
            const n = p.records && p.records.length >= BATCH_HEADER ? p.records.readInt32BE(RECORD_COUNT_AT) : 0
            offsets.set(key, base + n)
            if (opts.storeDir && p.records) store(key, p.records)
            return { index: p.index, errorCode: ErrorCode.NONE, baseOffset: base, logAppendTimeMs: -1, logStartOffset: 0, errorMessage: null }
          }),
        })),
        throttleTimeMs: 0,
      }
      respond(socket, Produce, v, h.correlationId, res)
    } else if (api === Metadata) {
      const req = Metadata.request.decode(v, r)
      const names = req.topics === null ? [...topics.keys()] : req.topics.flatMap((t) => (t.name ? [t.name] : []))
      respond(socket, Metadata, v, h.correlationId, {
        throttleTimeMs: 0,
        brokers: [{ nodeId: NODE_ID, host: opts.host, port, rack: null }],
        clusterId: 'faultline-null-sink',
        controllerId: NODE_ID,
        topics: names.map(describe),
      })
    } else {
      ApiVersions.request.decode(v, r)
      respond(socket, ApiVersions, v, h.correlationId, { errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0 })
    }
  }

  const server: Server = createServer({ noDelay: true }, (socket) => {
    stats.connections++
    sockets.add(socket)
    socket.setNoDelay(true)
    const frames = new FrameDecoder(MAX_REQUEST_BYTES)
    socket.on('data', (chunk: Buffer) => {
      // Responses of one read go out in one write: fewer syscalls, as the broker does with cork.
      socket.cork()
      try {
        frames.push(chunk)
        for (let f = frames.next(); f !== null; f = frames.next()) onFrame(socket, f)
      } catch (err) {
        process.stderr.write(`null sink: ${(err as Error).message}; closing the connection\n`)
        socket.destroy()
        return
      } finally {
        socket.uncork()
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      sockets.delete(socket)
      if (opts.storeDir && sockets.size === 0) dropFiles()
    })
  })
  await new Promise<void>((res, rej) => {
    server.once('error', rej)
    server.listen({ host: opts.host, port, backlog: 128 }, () => {
      server.off('error', rej)
      res()
    })
  })
  const addr = server.address()
  port = addr && typeof addr === 'object' ? addr.port : port
  return {
    host: opts.host,
    port,
    stats,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy()
        dropFiles()
        server.close(() => res())
      }),
  }
}
