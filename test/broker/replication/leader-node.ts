// A leader for fetcher tests: a TCP server on loopback that answers Fetch v12 and OffsetForLeaderEpoch v4 from
// PartitionLogs through the real leader-side code (readForFollower, the epoch cache), with our protocol codecs.
// Fetches with no data wait (real time, test only) up to maxWaitMs for an append, as a broker's long poll does.

import { createServer, type Server, type Socket } from 'node:net'
import { systemClock } from '../../../broker/clock.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { readRequestHeader, responseHeaderIsFlexible, skipTaggedFields, writeResponseHeader } from '../../../broker/protocol/header.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { OffsetForLeaderEpoch } from '../../../broker/protocol/messages/offset-for-leader-epoch.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import { Writer } from '../../../broker/protocol/writer.ts'
import { type FollowerFetchPartition, type FollowerRead, readForFollower } from '../../../broker/replication/leader-fetch.ts'
import { LeaderState } from '../../../broker/replication/leader-state.ts'
import type { PartitionLog } from '../../../broker/storage/log.ts'

export interface LeaderPartition {
  log: PartitionLog
  leaderEpoch: number
  leader: LeaderState | null
}

/** Answers from something other than `partitions` (a ReplicaManager): the partition's log, and follower reads. */
export interface LeaderSource {
  partition(topic: string, partition: number): { log: PartitionLog; leaderEpoch: number } | undefined
  fetch(topic: string, partition: number, replicaId: number, fp: FollowerFetchPartition, maxBytes: number, minOneBatch: boolean): Promise<FollowerRead>
}

export class LeaderNode {
  readonly partitions = new Map<string, LeaderPartition>()
  readonly #source: LeaderSource

  constructor(source?: LeaderSource) {
    this.#source = source ?? {
      partition: (topic, partition) => this.partitions.get(`${topic}/${partition}`),
      fetch: (topic, partition, replicaId, fp, maxBytes, minOne) => readForFollower(this.partitions.get(`${topic}/${partition}`)!, replicaId, fp, maxBytes, minOne),
    }
  }
  readonly requests: { apiKey: number; version: number; body: unknown }[] = []
  #server: Server | null = null
  #sockets = new Set<Socket>()
  host = '127.0.0.1'
  port = 0

  /** Leads `log` at `leaderEpoch` with these replicas/ISR (node 1 is this leader); assigns the epoch at the log end. */
  lead(topic: string, partition: number, log: PartitionLog, leaderEpoch: number, opts: { replicas?: number[]; isr?: number[]; minIsr?: number } = {}): LeaderPartition {
    log.epochCache.assign(leaderEpoch, log.logEndOffset)
    const leader = new LeaderState(
      {
        clock: systemClock,
        localId: 1,
        logEndOffset: () => log.logEndOffset,
        replicaLagTimeMaxMs: 10_000,
        minInsyncReplicas: opts.minIsr ?? 1,
        onHighWatermark: (hw) => {
          log.highWatermark = hw
        },
      },
      { leaderEpoch, epochStartOffset: log.logEndOffset, replicas: opts.replicas ?? [1, 2], isr: opts.isr ?? [1], highWatermark: log.highWatermark },
    )
    const p = { log, leaderEpoch, leader }
    this.partitions.set(`${topic}/${partition}`, p)
    return p
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.#serve(socket))
    this.#server = server
    await new Promise<void>((resolve) => server.listen(0, this.host, resolve))
    const addr = server.address()
    if (addr && typeof addr === 'object') this.port = addr.port
  }

  endpoint(): { host: string; port: number } {
    return { host: this.host, port: this.port }
  }

  /** Drops every open connection (the fetcher must reconnect). */
  dropConnections(): void {
    for (const s of this.#sockets) s.destroy()
  }

  async stop(): Promise<void> {
    this.dropConnections()
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()))
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket)
    socket.on('close', () => this.#sockets.delete(socket))
    socket.on('error', () => {})
    let buf = Buffer.alloc(0)
    let chain = Promise.resolve()
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const frame = buf.subarray(4, 4 + buf.readInt32BE(0))
        buf = buf.subarray(4 + frame.length)
        chain = chain.then(async () => {
          const out = await this.#handle(frame)
          if (!socket.destroyed) socket.write(out)
        })
      }
    })
  }

  /** Answers one request frame (without its size prefix) with a response frame (with it): for in-memory channels. */
  handleFrame(frame: Buffer): Promise<Buffer> {
    return this.#handle(frame)
  }

  async #handle(frame: Buffer): Promise<Buffer> {
    const r = new Reader(frame)
    const h = readRequestHeader(r)
    const w = new Writer()
    const setSize = w.reserveInt32()
    if (h.apiKey === Fetch.key) {
      if (Fetch.isFlexible(h.apiVersion)) skipTaggedFields(r)
      const req = Fetch.request.decode(h.apiVersion, r)
      this.requests.push({ apiKey: h.apiKey, version: h.apiVersion, body: req })
      const body = await this.#fetch(req)
      writeResponseHeader(w, h.correlationId, responseHeaderIsFlexible(Fetch.key, Fetch.isFlexible(h.apiVersion)))
      Fetch.response.encode(h.apiVersion, body, w)
    } else if (h.apiKey === OffsetForLeaderEpoch.key) {
      if (OffsetForLeaderEpoch.isFlexible(h.apiVersion)) skipTaggedFields(r)
      const req = OffsetForLeaderEpoch.request.decode(h.apiVersion, r)
      this.requests.push({ apiKey: h.apiKey, version: h.apiVersion, body: req })
      const topics = req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((rp) => {
          const p = this.#source.partition(t.topic, rp.partition)
          if (!p) return { partition: rp.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
          if (rp.currentLeaderEpoch >= 0 && rp.currentLeaderEpoch !== p.leaderEpoch) {
            return { partition: rp.partition, errorCode: rp.currentLeaderEpoch < p.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH }
          }
          const e = p.log.epochCache.endOffsetFor(rp.leaderEpoch, p.log.logEndOffset)
          return { partition: rp.partition, errorCode: 0, leaderEpoch: e.epoch, endOffset: e.endOffset }
        }),
      }))
      writeResponseHeader(w, h.correlationId, responseHeaderIsFlexible(OffsetForLeaderEpoch.key, OffsetForLeaderEpoch.isFlexible(h.apiVersion)))
      OffsetForLeaderEpoch.response.encode(h.apiVersion, { throttleTimeMs: 0, topics }, w)
    } else {
      throw new Error(`LeaderNode: unexpected api ${h.apiKey}`)
    }
    setSize(w.length - 4)
    return w.toBuffer()
  }

  async #fetch(req: ReturnType<typeof Fetch.request.decode>) {
    const deadline = Date.now() + req.maxWaitMs
    for (;;) {
      let bytes = 0
      let answer = false
      const responses = []
      for (const t of req.topics) {
        const partitions = []
        for (const fp of t.partitions) {
          const p = this.#source.partition(t.topic, fp.partition)
          if (!p) {
            answer = true
            partitions.push({ partitionIndex: fp.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, records: null })
            continue
          }
          const res = await this.#source.fetch(t.topic, fp.partition, req.replicaId, fp, fp.partitionMaxBytes, bytes === 0)
          if (res.errorCode !== 0 || res.divergingEpoch.epoch >= 0) answer = true
          bytes += res.bytes
          partitions.push({ partitionIndex: fp.partition, ...res })
        }
        responses.push({ topic: t.topic, partitions })
      }
      if (answer || bytes >= req.minBytes || Date.now() >= deadline) return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses }
      // The long poll this leader plays: looks again for data until maxWaitMs (behaviour, not a test's wait).
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
}
