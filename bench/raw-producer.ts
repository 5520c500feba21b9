// Section "raw": how close the broker gets to the machine's own loopback TCP throughput when the client costs
// nearly nothing. A bench-only producer sends pre-encoded Produce requests (acks=1), pipelined, as fast as the
// socket takes them, and checks every response; its ceiling is a Node client writing the same-sized buffers to a
// Node server that discards them (loopback.ts). Goal: the broker at 50% or more of loopback. The same producer
// also feeds the storing sink (null-sink.ts with storeDir): the least a server that keeps the data must do.
//
// Each client runs in its own process (bench/worker.ts), as does each server, so the pairing is the same on both
// sides: one sending process, one receiving process, two cores. Runs are interleaved (loopback, sink 1p, broker
// 1p, sink 8p, broker 8p, loopback, ...) so drift in the machine's load hits every figure alike; medians.

import { connect, type Socket } from 'node:net'
import { ErrorCode } from '../broker/protocol/errors.ts'
import { beginFrame, FrameDecoder } from '../broker/protocol/framing.ts'
import { readResponseHeader, writeRequestHeader } from '../broker/protocol/header.ts'
import { CreateTopics } from '../broker/protocol/messages/create-topics.ts'
import { Produce } from '../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../broker/protocol/record-batch.ts'
import { Reader } from '../broker/protocol/reader.ts'
import type { ApiDecl, Fields, In, Out } from '../broker/protocol/schema.ts'
import { Writer } from '../broker/protocol/writer.ts'
import { cpuDelta, cpuTotal, deleteTopic, loopbackHost, processCpu, removeTempDir, startBroker, startWorker, stopGracefully, tempDir, type BrokerHandle, type WorkerHandle } from './lib/proc.ts'
import { deadline, pump } from './lib/pump.ts'
import { median, ratioFigure, repetitions, type BenchContext, type Figure, type Section, type SectionOutput } from './lib/report.ts'

const PRODUCE_VERSION = 9
const CREATE_TOPICS_VERSION = 7
const CLIENT_ID = 'faultline-bench-raw'
/** Distinct pre-encoded requests cycled through (distinct correlation ids, so response order is checked). */
const RING = 16

export interface RawProducerOptions {
  host: string
  port: number
  topic: string
  partitions: number
  /** Bytes of record batch per partition per request. */
  batchBytes: number
  recordBytes: number
  seconds: number
  queueBytes: number
  /** CreateTopics first (the broker); the sinks take any topic. */
  createTopic: boolean
}

export interface RawProducerResult {
  /** Bytes written to the socket (whole request frames). */
  bytes: number
  records: number
  requests: number
  requestBytes: number
  ms: number
  cpu: { user: number; system: number }
}

/** One request/response at a time, for setup. */
async function call<Req extends Fields, Res extends Fields>(
  socket: Socket,
  frames: AsyncFrames,
  api: ApiDecl<Req, Res>,
  version: number,
  body: In<Req>,
): Promise<Out<Res>> {
  const w = new Writer(256)
  const endFrame = beginFrame(w)
  writeRequestHeader(w, { apiKey: api.key, apiVersion: version, correlationId: 0, clientId: CLIENT_ID }, api.isFlexible(version))
  api.request.encode(version, body, w)
  endFrame()
  for (const c of w.chunksOut()) socket.write(c)
  const frame = await frames.next()
  const r = new Reader(frame)
  readResponseHeader(r, api.isFlexible(version))
  return api.response.decode(version, r)
}

class AsyncFrames {
  private readonly queue: Buffer[] = []
  private waiter: ((b: Buffer) => void) | null = null
  private readonly decoder = new FrameDecoder()

  push(chunk: Buffer): void {
    this.decoder.push(chunk)
    for (let f = this.decoder.next(); f !== null; f = this.decoder.next()) {
      if (this.waiter) {
        const w = this.waiter
        this.waiter = null
        w(f)
      } else this.queue.push(f)
    }
  }

  next(): Promise<Buffer> {
    const f = this.queue.shift()
    if (f) return Promise.resolve(f)
    return new Promise((res) => (this.waiter = res))
  }
}

function encodeProduceRequest(correlationId: number, topic: string, batches: Buffer[]): Buffer {
  const w = new Writer(256)
  const endFrame = beginFrame(w)
  writeRequestHeader(w, { apiKey: Produce.key, apiVersion: PRODUCE_VERSION, correlationId, clientId: CLIENT_ID }, true)
  Produce.request.encode(
    PRODUCE_VERSION,
    { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: batches.map((records, index) => ({ index, records })) }] },
    w,
  )
  endFrame()
  return w.toBuffer()
}

/** Creates the topic, then sends pre-encoded Produce requests for `seconds` and waits for every response. */
export async function rawProducer(o: RawProducerOptions): Promise<RawProducerResult> {
  const socket = await new Promise<Socket>((res, rej) => {
    const s = connect({ host: o.host, port: o.port }, () => res(s))
    s.once('error', rej)
  })
  socket.setNoDelay(true)
  if (o.createTopic) {
    const setup = new AsyncFrames()
    const onSetupData = (d: Buffer): void => setup.push(d)
    socket.on('data', onSetupData)
    const created = await call(socket, setup, CreateTopics, CREATE_TOPICS_VERSION, {
      topics: [{ name: o.topic, numPartitions: o.partitions, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 30_000,
    })
    const err = created.topics[0]?.errorCode
    if (err !== ErrorCode.NONE && err !== ErrorCode.TOPIC_ALREADY_EXISTS) throw new Error(`CreateTopics ${o.topic}: error ${err}`)
    socket.off('data', onSetupData)
  }

  const perBatch = Math.max(1, Math.floor(o.batchBytes / (o.recordBytes + 8)))
  const value = Buffer.alloc(o.recordBytes)
  for (let i = 0; i < value.length; i++) value[i] = 0x61 + (i % 26)
  const now = Date.now()
  const ring: Buffer[] = []
  for (let c = 0; c < RING; c++) {
    const batches = Array.from({ length: o.partitions }, () => encodeRecordBatch(Array.from({ length: perBatch }, () => ({ value })), { timestamp: now }))
    ring.push(encodeProduceRequest(c, o.topic, batches))
  }
  const recordsPerRequest = perBatch * o.partitions

  let sent = 0
  let acked = 0
  let failed: string | null = null
  let allAcked: () => void = () => {}
  let sending = true
  const done = new Promise<void>((res) => (allAcked = res))
  const onResponse = (frame: Buffer): void => {
    const r = new Reader(frame)
    const correlationId = readResponseHeader(r, true)
    if (correlationId !== acked % RING) failed ??= `response ${acked} has correlation id ${correlationId}, expected ${acked % RING}`
    const res = Produce.response.decode(PRODUCE_VERSION, r)
    for (const t of res.responses) {
      for (const p of t.partitionResponses) if (p.errorCode !== ErrorCode.NONE) failed ??= `partition ${p.index}: error ${p.errorCode} ${p.errorMessage ?? ''}`
    }
    acked++
    if (!sending && acked === sent) allAcked()
  }
  const responses = new FrameDecoder()
  socket.on('data', (d: Buffer) => {
    responses.push(d)
    for (let f = responses.next(); f !== null; f = responses.next()) onResponse(f)
  })
  const closed = new Promise<never>((_, rej) => socket.once('close', () => rej(new Error(`broker closed the connection after ${acked} of ${sent} responses`))))
  closed.catch(() => {})

  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const over = deadline(o.seconds)
  let bytes = 0
  await Promise.race([
    pump(
      socket,
      () => {
        if (over()) return null
        const b = ring[sent % RING]!
        sent++
        bytes += b.length
        return b
      },
      o.queueBytes,
    ),
    closed,
  ])
  sending = false
  if (acked === sent) allAcked()
  await Promise.race([done, closed])
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  socket.destroy()
  if (failed) throw new Error(`raw producer: ${failed}`)
  return {
    bytes,
    records: sent * recordsPerRequest,
    requests: sent,
    requestBytes: ring[0]!.length,
    ms,
    cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 },
  }
}

// ---- the section ----

interface Sample {
  mbps: number
  recordsPerSec: number
  clientCores: number
  serverCores: number
}

const REQUEST_BYTES = 256 * 1024
const RECORD_BYTES = 1024
const QUEUE_BYTES = 1024 * 1024
const MANY_PARTITIONS = 8

async function clientRun(role: string, args: Record<string, unknown>, serverPid: number): Promise<Sample> {
  const before = processCpu(serverPid)
  const w: WorkerHandle = startWorker(role, args)
  const res = (await w.done) as unknown as { bytes: number; records?: number; ms: number; cpu: { user: number; system: number } }
  const server = cpuDelta(before, processCpu(serverPid))
  const s = res.ms / 1000
  return {
    mbps: res.bytes / 1e6 / s,
    recordsPerSec: (res.records ?? 0) / s,
    clientCores: (res.cpu.user + res.cpu.system) / s,
    serverCores: cpuTotal(server) / s,
  }
}

const med = (xs: Sample[], f: (x: Sample) => number): number => median(xs.map(f))
const cpuPerGB = (x: Sample): number => x.serverCores / (x.mbps / 1000)
/** MB received per CPU-second of the receiving process: how much work the server does per byte. */
const mbPerCpuSecond = (x: Sample): number => x.mbps / x.serverCores

/** Ratio spread of paired runs (run i of the measurement against run i of its ceiling). */
const pairedSpread = (xs: Sample[], ceilings: Sample[]): ReturnType<typeof repetitions> => repetitions(xs.map((x, i) => x.mbps / (ceilings[i]?.mbps ?? Number.NaN)))

export const rawSection: Section = {
  name: 'raw',
  summary: 'pre-encoded Produce batches, pipelined, into the broker, beside raw loopback TCP and a storing sink',
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const seconds = ctx.quick ? 1 : 4
    const servers: WorkerHandle[] = []
    let broker: BrokerHandle | null = null
    const storeDir = tempDir('faultline-bench-store-')
    try {
      const discard = startWorker('discard', { host: loopbackHost() })
      servers.push(discard)
      const sink = startWorker('null-sink', { host: loopbackHost(), storeDir })
      servers.push(sink)
      const d = await discard.ready
      const k = await sink.ready
      broker = await startBroker({ nodeFlags: ctx.profileDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [] })
      const loop: Sample[] = []
      const runs = new Map<string, Sample[]>()
      const add = (key: string, s: Sample): void => {
        runs.set(key, [...(runs.get(key) ?? []), s])
        ctx.log(`raw: ${key} ${s.mbps.toFixed(0)} MB/s (client ${s.clientCores.toFixed(2)} cores, server ${s.serverCores.toFixed(2)})`)
      }
      const base = { seconds, queueBytes: QUEUE_BYTES, recordBytes: RECORD_BYTES }
      for (let rep = 0; rep < ctx.reps; rep++) {
        ctx.log(`raw: rep ${rep + 1}/${ctx.reps}`)
        const l = await clientRun('tcp-client', { ...base, host: d.host, port: d.port, chunkBytes: REQUEST_BYTES }, discard.pid)
        loop.push(l)
        add('loopback', l)
        for (const partitions of [1, MANY_PARTITIONS]) {
          // A fresh topic per run, deleted after it (the storing sink drops its files when the producer
          // disconnects): every run starts from the same page-cache state (see bench/kcat.ts's header).
          const topic = `raw-${partitions}p-${rep}`
          const p = { ...base, topic, partitions, batchBytes: Math.floor(REQUEST_BYTES / partitions) }
          add(`sink.${partitions}p`, await clientRun('raw-producer', { ...p, host: k.host, port: k.port, createTopic: false }, sink.pid))
          add(`broker.${partitions}p`, await clientRun('raw-producer', { ...p, host: broker.host, port: broker.port, createTopic: true }, broker.pid))
          await deleteTopic(broker.bootstrap, topic)
        }
      }
      const loopback = { label: 'loopback TCP (Node -> Node, discard)', value: med(loop, (x) => x.mbps) }
      const figures: Figure[] = []
      for (const partitions of [1, MANY_PARTITIONS]) {
        const b = runs.get(`broker.${partitions}p`)!
        const s = runs.get(`sink.${partitions}p`)!
        const what = `${partitions} partition${partitions > 1 ? 's' : ''}`
        const detail = {
          requestBytes: REQUEST_BYTES,
          runsMBps: { loopback: loop.map((x) => Math.round(x.mbps)), storingSink: s.map((x) => Math.round(x.mbps)), broker: b.map((x) => Math.round(x.mbps)) },
          producerCores: med(b, (x) => x.clientCores),
          brokerCores: med(b, (x) => x.serverCores),
          storingSinkCores: med(s, (x) => x.serverCores),
          loopbackServerCores: med(loop, (x) => x.serverCores),
          // CPU seconds the receiving process spends per GB: less sensitive to a busy machine than MB/s.
          brokerCpuSecondsPerGB: med(b, cpuPerGB),
          storingSinkCpuSecondsPerGB: med(s, cpuPerGB),
          loopbackServerCpuSecondsPerGB: med(loop, cpuPerGB),
        }
        figures.push(
          ratioFigure({
            key: `raw.${partitions}p`,
            label: `raw producer, ${what}, 1 KiB records, acks=1 -> broker`,
            unit: 'MB/s',
            value: med(b, (x) => x.mbps),
            ceiling: loopback,
            goal: 0.5,
            recordsPerSec: med(b, (x) => x.recordsPerSec),
            ...pairedSpread(b, loop),
            detail,
          }),
          ratioFigure({
            key: `raw.${partitions}p.storing-sink`,
            label: `  same -> broker, beside the storing sink`,
            unit: 'MB/s',
            value: med(b, (x) => x.mbps),
            ceiling: { label: `same producer -> storing sink, ${what}`, value: med(s, (x) => x.mbps) },
            recordsPerSec: med(b, (x) => x.recordsPerSec),
            ceilingRecordsPerSec: med(s, (x) => x.recordsPerSec),
            ...pairedSpread(b, s),
          }),
          ratioFigure({
            key: `raw.${partitions}p.cpu`,
            label: '  broker CPU efficiency, beside the storing sink',
            unit: 'MB/CPU-s',
            value: med(b, mbPerCpuSecond),
            ceiling: { label: `storing sink, ${what}`, value: med(s, mbPerCpuSecond) },
            ...repetitions(b.map((x, i) => mbPerCpuSecond(x) / mbPerCpuSecond(s[i]!))),
          }),
          ratioFigure({
            key: `raw.${partitions}p.storing-sink-vs-loopback`,
            label: `  storing sink ${what} (the machine's file-write cost)`,
            unit: 'MB/s',
            value: med(s, (x) => x.mbps),
            ceiling: loopback,
            ...pairedSpread(s, loop),
          }),
        )
      }
      const cores = (key: string): string => {
        const xs = key === 'loopback' ? loop : runs.get(key)!
        return `${key} client ${med(xs, (x) => x.clientCores).toFixed(2)} server ${med(xs, (x) => x.serverCores).toFixed(2)} (${med(xs, cpuPerGB).toFixed(2)} s/GB)`
      }
      const notes = [
        `${ctx.reps} interleaved rounds of ${seconds} s runs; medians. Requests of ${REQUEST_BYTES / 1024} KiB (one batch per partition), ` +
          `up to ${QUEUE_BYTES / 1024 / 1024} MiB queued in the client; MB/s counts whole request frames, like the loopback bytes.`,
        'storing sink: the null sink appending each partition\'s records to a file with one writeSync, nothing else (the least a storing broker does).',
        `cores busy (CPU s per s) and server CPU s per GB received: ${['loopback', ...[...runs.keys()].filter((k) => k !== 'loopback')].map(cores).join('; ')}`,
      ]
      return { figures, notes }
    } finally {
      if (broker) await stopGracefully(broker)
      for (const w of servers) await w.kill()
      removeTempDir(storeDir)
    }
  },
}
