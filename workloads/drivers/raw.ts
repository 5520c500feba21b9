// raw: our own Kafka client on broker/protocol, the load generator for raw-ingest runs and benchmarks, so that
// the client is never what gets measured. The same message declarations the broker decodes encode our requests.
//
// - One connection per broker per client object (a producer, a consumer and an admin each have their own, as
//   Java clients do, so a consumer's long poll never sits in front of a producer's acks).
// - ApiVersions on connect picks, per API, the highest version both sides speak; SASL PLAIN/SCRAM and TLS.
// - Requests are pipelined: up to `window` in flight per connection, responses matched by correlation id in
//   order (Kafka answers a connection's requests in order); more wait in a local queue, unwritten.
// - A request older than requestTimeoutMs fails every outstanding request of its connection (TIMEOUT, not
//   definite) and closes it; the next use reconnects. Requests never written fail definitely (NOT_CONNECTED).
// - Produce: batches encoded with encodeRecordBatch, one partition per request, never retried (the outcome
//   of each attempt stays exact for the checker). BatchTemplate pre-encodes a batch once and stamps a copy
//   per send (value headers, then RecordBatchView.restamp: timestamps, producer id and sequence, CRC), for
//   raw-ingest load.
// - Fetch by partition without groups (manual assignment), ListOffsets, Metadata, CreateTopics, DeleteTopics.
// Not done: consumer groups, transactions, fetch sessions, compression other than gzip.

import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { errorInfo, errorName } from '../../broker/protocol/errors.ts'
import { beginFrame, FrameDecoder, FrameSizeError } from '../../broker/protocol/framing.ts'
import { responseHeaderIsFlexible, skipTaggedFields, writeRequestHeader } from '../../broker/protocol/header.ts'
import { ApiVersions } from '../../broker/protocol/messages/api-versions.ts'
import { CreateTopics } from '../../broker/protocol/messages/create-topics.ts'
import { DeleteTopics } from '../../broker/protocol/messages/delete-topics.ts'
import { Fetch } from '../../broker/protocol/messages/fetch.ts'
import { InitProducerId } from '../../broker/protocol/messages/init-producer-id.ts'
import { ListOffsets } from '../../broker/protocol/messages/list-offsets.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../broker/protocol/messages/produce.ts'
import { SaslAuthenticate } from '../../broker/protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../../broker/protocol/messages/sasl-handshake.ts'
import { Reader } from '../../broker/protocol/reader.ts'
import {
  decodeRecords,
  encodeRecordBatch,
  iterateBatches,
  RecordBatchView,
  type BatchStamp,
  type CompressionName,
} from '../../broker/protocol/record-batch.ts'
import type { ApiDecl, Fields, In, Out } from '../../broker/protocol/schema.ts'
import { Writer } from '../../broker/protocol/writer.ts'
import {
  clientError,
  DriverFailure,
  parseHostPort,
  produceErrorFromCode,
  silentLogger,
  type Acks,
  type Capabilities,
  type ConnectOptions,
  type ConsumedRecord,
  type ConsumerOptions,
  type Driver,
  type DriverAdmin,
  type DriverConsumer,
  type DriverError,
  type DriverProducer,
  type Logger,
  type PartitionOffset,
  type ProduceBatch,
  type ProduceRecord,
  type ProduceResult,
  type ProducerOptions,
  type StartFrom,
  type TopicMetadata,
  type TopicPartition,
  type TopicSpec,
} from '../driver.ts'
import { writePayloadHeader } from '../generators.ts'
import { Accumulator } from './batching.ts'
import { saslConversation } from './sasl.ts'

export const rawCapabilities: Capabilities = {
  consumerGroups: false,
  manualAssignment: true,
  idempotence: true,
  compression: ['none', 'gzip'],
  acks0: true,
  sasl: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
  tls: true,
  errorCodes: true,
  pipelining: true,
  clientRetries: false,
}

const CLIENT_SOFTWARE = { name: 'faultline-raw', version: '0.1.0' } as const
/** Codes after which the partition's leader is probably elsewhere: refresh metadata. */
const STALE_METADATA = new Set([3, 5, 6, 74, 75, 103])

function asDriverError(e: unknown, definite: boolean): DriverError {
  if (e instanceof DriverFailure && e.error) return e.error
  const msg = e instanceof Error ? e.message : String(e)
  return clientError('NETWORK', msg, definite)
}

function kafkaError(code: number, message?: string | null): DriverError {
  return produceErrorFromCode(code, errorName(code), errorInfo(code).retriable, 'one', message ?? undefined)
}

// ---- connection ----

type Done = (err: DriverError | null, body: Reader | null) => void

interface Outstanding {
  readonly correlationId: number
  readonly flexibleHeader: boolean
  sentAt: number
  readonly done: Done
}

interface Queued {
  readonly frame: Buffer[]
  readonly out: Outstanding | null
  readonly onWritten: ((err: DriverError | null) => void) | null
}

interface ConnectionSettings {
  readonly clientId: string
  readonly tls: ConnectOptions['tls']
  readonly sasl: ConnectOptions['sasl']
  readonly requestTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly window: number
  readonly logger: Logger
}

export class RawConnection {
  readonly host: string
  readonly port: number
  private readonly s: ConnectionSettings
  private socket: Socket | null = null
  private state: 'new' | 'connecting' | 'handshake' | 'ready' | 'closed' = 'new'
  private correlation = 0
  private readonly outstanding: Outstanding[] = []
  private head = 0
  private readonly queue: Queued[] = []
  private queueHead = 0
  private readonly frames = new FrameDecoder()
  private sweep: NodeJS.Timeout | null = null
  private readonly closeListeners: (() => void)[] = []
  readonly versions = new Map<number, { min: number; max: number }>()

  constructor(host: string, port: number, settings: ConnectionSettings) {
    this.host = host
    this.port = port
    this.s = settings
  }

  get ready(): boolean {
    return this.state === 'ready'
  }

  get inFlight(): number {
    return this.outstanding.length - this.head
  }

  onClose(fn: () => void): void {
    this.closeListeners.push(fn)
  }

  async open(): Promise<void> {
    if (this.state !== 'new') throw new Error('a RawConnection opens once')
    this.state = 'connecting'
    const tls = this.s.tls === true ? {} : this.s.tls
    const socket = tls
      ? tlsConnect({
          host: this.host,
          port: this.port,
          servername: tls.servername ?? (/^[\d.]+$|:/.test(this.host) ? undefined : this.host),
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized ?? true,
        })
      : netConnect({ host: this.host, port: this.port })
    this.socket = socket
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new DriverFailure(`connecting to ${this.host}:${this.port} timed out after ${this.s.connectTimeoutMs} ms`, { error: clientError('NOT_CONNECTED', 'connect timeout', true) }))
      }, this.s.connectTimeoutMs)
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        resolve()
      })
      const onError = (err: Error) => {
        clearTimeout(timer)
        reject(new DriverFailure(`cannot connect to ${this.host}:${this.port}: ${err.message}`, { cause: err, error: clientError('NOT_CONNECTED', err.message, true) }))
      }
      socket.once('error', onError)
    })
    socket.on('data', (d: Buffer) => this.onData(d))
    socket.on('error', (err) => this.s.logger.debug('raw connection error', { host: this.host, port: this.port, err: err.message }))
    socket.on('close', () => this.onSocketClose())
    const period = Math.max(10, Math.min(1000, this.s.requestTimeoutMs / 4))
    this.sweep = setInterval(() => this.checkTimeouts(), period)
    this.sweep.unref()
    this.state = 'handshake'
    try {
      await this.negotiateVersions()
      if (this.s.sasl) await this.authenticate()
    } catch (e) {
      this.destroy('handshake failed')
      throw e
    }
    this.state = 'ready'
  }

  /** The version to use for an API: the highest both we and the broker speak. */
  version(api: ApiDecl<Fields, Fields>): number {
    const theirs = this.versions.get(api.key)
    if (!theirs) throw new DriverFailure(`broker ${this.host}:${this.port} does not support ${api.name}`, { code: 'ERR_FAULTLINE_UNSUPPORTED' })
    const v = Math.min(api.maxVersion, theirs.max)
    if (v < Math.max(api.minVersion, theirs.min)) {
      throw new DriverFailure(`no common ${api.name} version: we speak ${api.minVersion}-${api.maxVersion}, the broker ${theirs.min}-${theirs.max}`, { code: 'ERR_FAULTLINE_UNSUPPORTED' })
    }
    return v
  }

  /** Sends a request; `done` gets a reader positioned at the response body. */
  request(apiKey: number, version: number, flexible: boolean, encodeBody: (w: Writer) => void, done: Done): void {
    if (this.state !== 'ready' && this.state !== 'handshake') {
      done(clientError('NOT_CONNECTED', `connection to ${this.host}:${this.port} is ${this.state}`, true), null)
      return
    }
    const correlationId = this.nextCorrelation()
    const frame = this.frame(apiKey, version, flexible, correlationId, encodeBody)
    const out: Outstanding = { correlationId, flexibleHeader: responseHeaderIsFlexible(apiKey, flexible), sentAt: 0, done }
    this.enqueue({ frame, out, onWritten: null })
  }

  /** A request the broker will not answer (Produce with acks 0); `written` runs once it is on the socket. */
  requestNoResponse(apiKey: number, version: number, flexible: boolean, encodeBody: (w: Writer) => void, written: (err: DriverError | null) => void): void {
    if (this.state !== 'ready') {
      written(clientError('NOT_CONNECTED', `connection to ${this.host}:${this.port} is ${this.state}`, true))
      return
    }
    const frame = this.frame(apiKey, version, flexible, this.nextCorrelation(), encodeBody)
    this.enqueue({ frame, out: null, onWritten: written })
  }

  /** Typed request: encodes `body` with the API's declaration and decodes the answer. */
  call<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, body: In<Req>, version = this.version(api)): Promise<Out<Res>> {
    return new Promise((resolve, reject) => {
      this.request(
        api.key,
        version,
        api.isFlexible(version),
        (w) => api.request.encode(version, body, w),
        (err, r) => {
          if (err) return reject(new DriverFailure(`${api.name} to ${this.host}:${this.port} failed: ${err.message}`, { error: err }))
          try {
            resolve(api.response.decode(version, r!))
          } catch (e) {
            reject(new DriverFailure(`malformed ${api.name} v${version} response from ${this.host}:${this.port}`, { cause: e }))
          }
        },
      )
    })
  }

  close(): void {
    this.destroy('closed by the client')
  }

  private nextCorrelation(): number {
    this.correlation = (this.correlation + 1) & 0x7fffffff
    return this.correlation
  }

  private frame(apiKey: number, version: number, flexible: boolean, correlationId: number, encodeBody: (w: Writer) => void): Buffer[] {
    const w = new Writer(256)
    const endFrame = beginFrame(w)
    writeRequestHeader(w, { apiKey, apiVersion: version, correlationId, clientId: this.s.clientId }, flexible)
    encodeBody(w)
    endFrame()
    return w.chunksOut()
  }

  private enqueue(q: Queued): void {
    if (this.queueHead < this.queue.length || (q.out && this.inFlight >= this.s.window)) {
      this.queue.push(q)
      return
    }
    this.write(q)
  }

  private write(q: Queued): void {
    const socket = this.socket!
    if (q.out) {
      q.out.sentAt = performance.now()
      this.outstanding.push(q.out)
    }
    const cb = q.onWritten
      ? (err?: Error | null) => q.onWritten!(err ? clientError('NETWORK', err.message, false) : null)
      : undefined
    if (q.frame.length === 1) {
      socket.write(q.frame[0]!, cb)
      return
    }
    socket.cork()
    for (let i = 0; i < q.frame.length - 1; i++) socket.write(q.frame[i]!)
    socket.write(q.frame[q.frame.length - 1]!, cb)
    socket.uncork()
  }

  private pump(): void {
    while (this.queueHead < this.queue.length && this.state !== 'closed') {
      const next = this.queue[this.queueHead]!
      if (next.out && this.inFlight >= this.s.window) break
      this.queue[this.queueHead++] = undefined as never
      this.write(next)
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead)
      this.queueHead = 0
    }
  }

  private onData(chunk: Buffer): void {
    this.frames.push(chunk)
    while (this.state !== 'closed') {
      let frame: Buffer | null
      try {
        frame = this.frames.next()
      } catch (e) {
        if (!(e instanceof FrameSizeError)) throw e
        return this.destroy(`bad response size ${e.size}`)
      }
      if (frame === null || !this.onFrame(frame)) return
    }
  }

  private onFrame(frame: Buffer): boolean {
    const o = this.outstanding[this.head]
    if (!o) {
      this.destroy('a response arrived with no request outstanding')
      return false
    }
    const r = new Reader(frame)
    let corr: number
    try {
      corr = r.int32()
      if (corr === o.correlationId && o.flexibleHeader) skipTaggedFields(r)
    } catch {
      this.destroy('truncated response header')
      return false
    }
    if (corr !== o.correlationId) {
      this.destroy(`response correlation id ${corr} does not match the oldest request's ${o.correlationId}`)
      return false
    }
    this.outstanding[this.head++] = undefined as never
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding.splice(0, this.head)
      this.head = 0
    }
    o.done(null, r)
    this.pump()
    return this.state !== 'closed'
  }

  private checkTimeouts(): void {
    const o = this.outstanding[this.head]
    if (o && performance.now() - o.sentAt > this.s.requestTimeoutMs) {
      this.failAll(clientError('TIMEOUT', `no response from ${this.host}:${this.port} within ${this.s.requestTimeoutMs} ms`, false))
      this.destroy('request timed out')
    }
  }

  private failAll(err: DriverError): void {
    const outs = this.outstanding.slice(this.head)
    this.outstanding.length = 0
    this.head = 0
    const queued = this.queue.slice(this.queueHead)
    this.queue.length = 0
    this.queueHead = 0
    for (const o of outs) o.done(err, null)
    const never = clientError('NOT_CONNECTED', `connection to ${this.host}:${this.port} closed before the request was sent`, true)
    for (const q of queued) {
      q.out?.done(never, null)
      q.onWritten?.(never)
    }
  }

  private destroy(reason: string): void {
    if (this.state === 'closed') return
    this.s.logger.debug('raw connection closing', { host: this.host, port: this.port, reason })
    this.state = 'closed'
    if (this.sweep) clearInterval(this.sweep)
    this.socket?.destroy()
    this.frames.clear()
    this.failAll(clientError('NETWORK', `connection to ${this.host}:${this.port} closed with the request in flight (${reason})`, false))
    for (const fn of this.closeListeners) fn()
  }

  private onSocketClose(): void {
    this.destroy('closed by the broker')
  }

  private async negotiateVersions(): Promise<void> {
    const ask = (version: number) =>
      new Promise<Out<(typeof ApiVersions)['response']['fields']>>((resolve, reject) => {
        this.request(
          ApiVersions.key,
          version,
          ApiVersions.isFlexible(version),
          (w) => ApiVersions.request.encode(version, { clientSoftwareName: CLIENT_SOFTWARE.name, clientSoftwareVersion: CLIENT_SOFTWARE.version }, w),
          (err, r) => {
            if (err) return reject(new DriverFailure(`ApiVersions to ${this.host}:${this.port} failed: ${err.message}`, { error: err }))
            try {
              // A broker older than our version answers UNSUPPORTED_VERSION with a v0 body (KIP-511).
              const code = r!.buf.readInt16BE(r!.offset)
              resolve(ApiVersions.response.decode(code === 35 ? 0 : version, r!))
            } catch (e) {
              reject(new DriverFailure(`malformed ApiVersions response from ${this.host}:${this.port}`, { cause: e }))
            }
          },
        )
      })
    let res = await ask(ApiVersions.maxVersion)
    if (res.errorCode === 35) {
      const theirs = res.apiKeys.find((k) => k.apiKey === ApiVersions.key)
      res = await ask(Math.min(ApiVersions.maxVersion, theirs?.maxVersion ?? 0))
    }
    if (res.errorCode !== 0) throw new DriverFailure(`ApiVersions failed: ${errorName(res.errorCode)}`)
    for (const k of res.apiKeys) this.versions.set(k.apiKey, { min: k.minVersion, max: k.maxVersion })
  }

  private async authenticate(): Promise<void> {
    const sasl = this.s.sasl!
    const hs = await this.call(SaslHandshake, { mechanism: sasl.mechanism }, Math.min(1, this.version(SaslHandshake)))
    if (hs.errorCode !== 0) {
      throw new DriverFailure(`SASL ${sasl.mechanism} refused by ${this.host}:${this.port} (${errorName(hs.errorCode)}); it offers ${hs.mechanisms.join(', ') || 'nothing'}`, { code: 'ERR_FAULTLINE_AUTH' })
    }
    const conv = saslConversation(sasl)
    let msg: Buffer | null = conv.first()
    while (msg) {
      const res = await this.call(SaslAuthenticate, { authBytes: msg })
      if (res.errorCode !== 0) {
        throw new DriverFailure(`SASL ${sasl.mechanism} authentication failed at ${this.host}:${this.port}: ${res.errorMessage ?? errorName(res.errorCode)}`, { code: 'ERR_FAULTLINE_AUTH' })
      }
      msg = conv.next(res.authBytes)
    }
  }
}

// ---- cluster view ----

interface PartitionInfo {
  readonly leader: number
  readonly leaderEpoch: number
  readonly replicas: readonly number[]
  readonly isr: readonly number[]
}

export class RawCluster {
  private readonly settings: ConnectionSettings
  private readonly bootstrap: { host: string; port: number }[]
  private bootstrapIndex = 0
  private readonly nodes = new Map<number, RawConnection>()
  private readonly connecting = new Map<number, Promise<RawConnection>>()
  private bootstrapConn: RawConnection | null = null
  private refreshing: Promise<void> | null = null
  private readonly wanted = new Set<string>()
  private closed = false
  readonly brokers = new Map<number, { host: string; port: number }>()
  readonly topics = new Map<string, PartitionInfo[]>()
  controllerId = -1

  constructor(opts: ConnectOptions, window: number) {
    this.bootstrap = opts.bootstrap.map(parseHostPort)
    this.settings = {
      clientId: opts.clientId ?? 'faultline',
      tls: opts.tls,
      sasl: opts.sasl,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      window,
      logger: opts.logger ?? silentLogger,
    }
  }

  get logger(): Logger {
    return this.settings.logger
  }

  /** A ready connection to any broker: one we have, else the bootstrap servers in turn. */
  async any(): Promise<RawConnection> {
    for (const c of this.nodes.values()) if (c.ready) return c
    if (this.bootstrapConn?.ready) return this.bootstrapConn
    const errors: string[] = []
    for (let i = 0; i < this.bootstrap.length; i++) {
      const addr = this.bootstrap[(this.bootstrapIndex + i) % this.bootstrap.length]!
      const conn = new RawConnection(addr.host, addr.port, this.settings)
      try {
        await conn.open()
        this.bootstrapIndex = (this.bootstrapIndex + i) % this.bootstrap.length
        this.bootstrapConn = conn
        return conn
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e))
        if (e instanceof DriverFailure && e.code === 'ERR_FAULTLINE_AUTH') throw e
      }
    }
    throw new DriverFailure(`no bootstrap server answered: ${errors.join('; ')}`, { code: 'ERR_FAULTLINE_CONNECT', error: clientError('NOT_CONNECTED', errors.join('; '), true) })
  }

  /** The connection to a broker if it is open right now (the hot path). */
  readyNode(nodeId: number): RawConnection | undefined {
    const c = this.nodes.get(nodeId)
    return c?.ready ? c : undefined
  }

  async node(nodeId: number): Promise<RawConnection> {
    const ready = this.readyNode(nodeId)
    if (ready) return ready
    const pending = this.connecting.get(nodeId)
    if (pending) return pending
    const addr = this.brokers.get(nodeId)
    if (!addr) throw new DriverFailure(`broker ${nodeId} is not in the metadata`, { error: clientError('NOT_CONNECTED', `unknown broker ${nodeId}`, true) })
    const conn = new RawConnection(addr.host, addr.port, this.settings)
    const p = conn.open().then(
      () => {
        this.connecting.delete(nodeId)
        if (this.closed) {
          conn.close()
          throw new DriverFailure('client closed', { error: clientError('NOT_CONNECTED', 'client closed', true) })
        }
        this.nodes.set(nodeId, conn)
        conn.onClose(() => {
          if (this.nodes.get(nodeId) === conn) this.nodes.delete(nodeId)
        })
        return conn
      },
      (e: unknown) => {
        this.connecting.delete(nodeId)
        throw e
      },
    )
    this.connecting.set(nodeId, p)
    return p
  }

  leaderOf(topic: string, partition: number): number {
    return this.topics.get(topic)?.[partition]?.leader ?? -1
  }

  /** Refreshes metadata for `topics` (and every topic asked for before); concurrent calls share one request. */
  async refresh(topics: readonly string[] = []): Promise<void> {
    for (const t of topics) this.wanted.add(t)
    if (this.refreshing) {
      await this.refreshing
      if (topics.every((t) => this.topics.has(t))) return
    }
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null
    })
    await this.refreshing
  }

  /** Marks metadata stale (a leader moved) and refreshes in the background. */
  invalidate(): void {
    if (this.refreshing || this.closed) return
    this.refreshing = this.doRefresh()
      .catch((e: unknown) => this.logger.debug('metadata refresh failed', { err: e instanceof Error ? e.message : String(e) }))
      .finally(() => {
        this.refreshing = null
      })
  }

  private async doRefresh(): Promise<void> {
    const conn = await this.any()
    const names = [...this.wanted]
    const res = await conn.call(Metadata, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: false })
    this.brokers.clear()
    for (const b of res.brokers) this.brokers.set(b.nodeId, { host: b.host, port: b.port })
    this.controllerId = res.controllerId
    for (const t of res.topics) {
      if (t.name === null) continue
      if (t.errorCode !== 0) {
        this.topics.delete(t.name)
        continue
      }
      const parts: PartitionInfo[] = []
      for (const p of t.partitions) {
        parts[p.partitionIndex] = { leader: p.errorCode === 0 ? p.leaderId : -1, leaderEpoch: p.leaderEpoch, replicas: p.replicaNodes, isr: p.isrNodes }
      }
      this.topics.set(t.name, parts)
    }
  }

  /** Metadata for a topic, waiting (up to `waitMs`) until every partition has a leader. */
  async ensureTopic(topic: string, waitMs = 0): Promise<PartitionInfo[]> {
    const deadline = performance.now() + waitMs
    for (;;) {
      const parts = this.topics.get(topic)
      if (parts && parts.length > 0 && parts.every((p) => p && p.leader >= 0)) return parts
      await this.refresh([topic])
      const again = this.topics.get(topic)
      if (again && again.length > 0 && again.every((p) => p && p.leader >= 0)) return again
      if (performance.now() >= deadline) {
        const why = again ? 'a partition has no leader' : 'it does not exist'
        throw new DriverFailure(`topic ${topic} is not usable: ${why}`, { error: { code: again ? 5 : 3, name: again ? 'LEADER_NOT_AVAILABLE' : 'UNKNOWN_TOPIC_OR_PARTITION', definite: true, retriable: true, message: why } })
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  close(): void {
    this.closed = true
    for (const c of this.nodes.values()) c.close()
    this.nodes.clear()
    this.bootstrapConn?.close()
    this.bootstrapConn = null
  }
}

// ---- producing ----

interface ProducerIdentity {
  readonly producerId: number
  readonly producerEpoch: number
}

export class RawProducer implements DriverProducer {
  private readonly cluster: RawCluster
  private readonly acks: Acks
  private readonly timeoutMs: number
  private readonly compression: CompressionName
  private readonly idempotent: boolean
  private readonly acc: Accumulator
  private identity: ProducerIdentity | null = null
  private identityPromise: Promise<ProducerIdentity> | null = null
  private readonly sequences = new Map<string, number>()
  /** Sends waiting for metadata, a connection or a producer id; later sends queue behind them (order). */
  private slow: Promise<void> | null = null
  private slowCount = 0
  private encodedPending = 0
  private encodedWaiters: (() => void)[] = []

  constructor(cluster: RawCluster, opts: ProducerOptions) {
    this.cluster = cluster
    this.acks = opts.acks ?? -1
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.compression = opts.compression ?? 'none'
    this.idempotent = opts.idempotent ?? false
    if (!rawCapabilities.compression.includes(this.compression)) {
      throw new DriverFailure(`the raw driver compresses with ${rawCapabilities.compression.join(' or ')}, not ${this.compression}`, { code: 'ERR_FAULTLINE_UNSUPPORTED' })
    }
    if (this.idempotent && this.acks !== -1) throw new DriverFailure('an idempotent producer needs acks -1 (all)', { code: 'ERR_FAULTLINE_BAD_INPUT' })
    if (this.idempotent && (opts.maxInFlight ?? 5) > 5) throw new DriverFailure('an idempotent producer allows at most 5 requests in flight', { code: 'ERR_FAULTLINE_BAD_INPUT' })
    this.acc = new Accumulator((t, p, recs, done) => this.sendBatch(t, p, recs, done), opts)
  }

  get pending(): number {
    return this.acc.pending + this.encodedPending
  }

  /** The producer id and epoch when idempotent (after the first send or init()). */
  get producerIdentity(): ProducerIdentity | null {
    return this.identity
  }

  async init(): Promise<void> {
    if (this.idempotent) await this.ensureIdentity()
  }

  send(batch: ProduceBatch, done: (r: ProduceResult) => void): void {
    this.acc.send(batch, done)
  }

  /**
   * Sends a batch encoded by the caller (BatchTemplate.stamp, or encodeRecordBatch) as is: no linger, no
   * copy. Its producer fields must match this producer when idempotent (see nextSequence).
   */
  sendEncoded(topic: string, partition: number, batch: Buffer, recordCount: number, done: (r: ProduceResult) => void): void {
    this.encodedPending += recordCount
    this.route(topic, partition, batch, (r) => {
      this.encodedPending -= recordCount
      done(r)
      if (this.encodedPending === 0) {
        const w = this.encodedWaiters
        this.encodedWaiters = []
        for (const f of w) f()
      }
    })
  }

  /** Reserves `count` sequence numbers of a partition for a batch the caller encodes itself. */
  nextSequence(topic: string, partition: number, count: number): number {
    const key = `${topic}\u0000${partition}`
    const seq = this.sequences.get(key) ?? 0
    this.sequences.set(key, (seq + count) % 2147483648)
    return seq
  }

  async flush(): Promise<void> {
    await this.acc.flush()
    while (this.encodedPending > 0) await new Promise<void>((r) => this.encodedWaiters.push(r))
  }

  async close(): Promise<void> {
    await this.flush()
    await this.acc.close()
    this.cluster.close()
  }

  private sendBatch(topic: string, partition: number, records: ProduceRecord[], done: (r: ProduceResult) => void): void {
    if (this.slow === null && (!this.idempotent || this.identity)) {
      const conn = this.cluster.readyNode(this.cluster.leaderOf(topic, partition))
      if (conn) {
        this.produceOn(conn, topic, partition, this.encode(topic, partition, records), done)
        return
      }
    }
    this.later(topic, partition, done, () => this.encode(topic, partition, records))
  }

  private encode(topic: string, partition: number, records: ProduceRecord[]): Buffer {
    const id = this.identity
    const opts = {
      timestamp: Date.now(),
      producerId: id ? id.producerId : -1,
      producerEpoch: id ? id.producerEpoch : -1,
      baseSequence: id ? this.nextSequence(topic, partition, records.length) : -1,
    }
    return encodeRecordBatch(records, { ...opts, compression: this.compression })
  }

  private route(topic: string, partition: number, batch: Buffer, done: (r: ProduceResult) => void): void {
    if (this.slow === null) {
      const conn = this.cluster.readyNode(this.cluster.leaderOf(topic, partition))
      if (conn) {
        this.produceOn(conn, topic, partition, batch, done)
        return
      }
    }
    this.later(topic, partition, done, () => batch)
  }

  /** The slow path: metadata, connection, producer id; sends queue here in order until it drains. */
  private later(topic: string, partition: number, done: (r: ProduceResult) => void, build: () => Buffer): void {
    this.slowCount++
    const prev = this.slow ?? Promise.resolve()
    this.slow = prev.then(async () => {
      try {
        await this.cluster.ensureTopic(topic, 5000)
        if (this.idempotent) await this.ensureIdentity()
        const leader = this.cluster.leaderOf(topic, partition)
        if (leader < 0) {
          done({ ok: false, error: { code: 3, name: 'UNKNOWN_TOPIC_OR_PARTITION', definite: true, retriable: true, message: `${topic}/${partition} has no leader` } })
          return
        }
        const conn = await this.cluster.node(leader)
        this.produceOn(conn, topic, partition, build(), done)
      } catch (e) {
        // A leader we cannot reach (killed, partitioned) has probably moved: look again before the next send.
        this.cluster.invalidate()
        done({ ok: false, error: asDriverError(e, true) })
      } finally {
        if (--this.slowCount === 0) this.slow = null
      }
    })
  }

  private ensureIdentity(): Promise<ProducerIdentity> {
    if (this.identity) return Promise.resolve(this.identity)
    this.identityPromise ??= (async () => {
      const conn = await this.cluster.any()
      const res = await conn.call(InitProducerId, { transactionalId: null, transactionTimeoutMs: 60_000 })
      if (res.errorCode !== 0) throw new DriverFailure(`InitProducerId failed: ${errorName(res.errorCode)}`, { error: kafkaError(res.errorCode) })
      this.sequences.clear()
      this.identity = { producerId: res.producerId, producerEpoch: res.producerEpoch }
      return this.identity
    })().finally(() => {
      this.identityPromise = null
    })
    return this.identityPromise
  }

  private produceOn(conn: RawConnection, topic: string, partition: number, batch: Buffer, done: (r: ProduceResult) => void): void {
    let version: number
    try {
      version = conn.version(Produce)
    } catch (e) {
      done({ ok: false, error: asDriverError(e, true) })
      return
    }
    const body = {
      transactionalId: null,
      acks: this.acks,
      timeoutMs: this.timeoutMs,
      topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
    }
    const encode = (w: Writer) => Produce.request.encode(version, body, w)
    if (this.acks === 0) {
      conn.requestNoResponse(Produce.key, version, Produce.isFlexible(version), encode, (err) => done(err ? { ok: false, error: err } : { ok: true, baseOffset: -1 }))
      return
    }
    conn.request(Produce.key, version, Produce.isFlexible(version), encode, (err, r) => {
      if (err) {
        this.afterFailure(null)
        done({ ok: false, error: err })
        return
      }
      let res: Out<(typeof Produce)['response']['fields']>
      try {
        res = Produce.response.decode(version, r!)
      } catch (e) {
        done({ ok: false, error: clientError('CLIENT', `malformed Produce response: ${e instanceof Error ? e.message : String(e)}`, false) })
        return
      }
      const pr = res.responses[0]?.partitionResponses[0]
      if (!pr) {
        done({ ok: false, error: clientError('CLIENT', 'Produce response without our partition', false) })
        return
      }
      if (pr.errorCode !== 0) {
        this.afterFailure(pr.errorCode)
        done({ ok: false, error: kafkaError(pr.errorCode, pr.errorMessage) })
        return
      }
      done({ ok: true, baseOffset: pr.baseOffset })
    })
  }

  private afterFailure(code: number | null): void {
    if (code === null || STALE_METADATA.has(code)) this.cluster.invalidate()
    // A sequence gap would fail every later batch: start over with a new producer id.
    if (this.idempotent) this.identity = null
  }
}

/**
 * A batch encoded once and stamped per send: values keep their size and place, so stamping is a copy, a
 * header write per record and one CRC. Each record's value must be at least the payload header (20 bytes).
 */
export class BatchTemplate {
  readonly recordCount: number
  /** The encoded batch. */
  readonly bytes: number
  /** The records' values alone (what consumers count). */
  readonly valueBytes: number
  private readonly template: Buffer
  private readonly valueOffsets: Int32Array

  constructor(values: readonly Buffer[], keys?: readonly (Buffer | null)[]) {
    if (values.length === 0) throw new RangeError('a template needs at least one record')
    this.template = encodeRecordBatch(values.map((v, i) => ({ key: keys?.[i] ?? null, value: v })), { timestamp: 0 })
    this.recordCount = values.length
    this.bytes = this.template.length
    this.valueBytes = values.reduce((n, v) => n + v.length, 0)
    this.valueOffsets = new Int32Array(values.length)
    const recs = decodeRecords(new RecordBatchView(this.template))
    recs.forEach((r, i) => {
      if (!r.value || r.value.length < 20) throw new RangeError('template values need at least 20 bytes for the payload header')
      this.valueOffsets[i] = r.value.byteOffset - this.template.byteOffset
    })
  }

  /** A copy whose record i carries value id firstValueId + i and the batch's intended time. */
  stamp(firstValueId: number, intendedMs: number, opts: Partial<BatchStamp> = {}): Buffer {
    const b = Buffer.allocUnsafe(this.template.length)
    this.template.copy(b)
    for (let i = 0; i < this.recordCount; i++) writePayloadHeader(b, firstValueId + i, intendedMs, this.valueOffsets[i]!)
    new RecordBatchView(b).restamp({ ...opts, timestamp: opts.timestamp ?? Date.now() })
    return b
  }
}

// ---- consuming (manual assignment) ----

interface Position {
  readonly topic: string
  readonly partition: number
  offset: number
}

class RawConsumer implements DriverConsumer {
  private readonly cluster: RawCluster
  private readonly o: ConsumerOptions
  private readonly positions: Position[]
  private running = false
  private isPaused = false
  private resumeWaiters: (() => void)[] = []
  private loop: Promise<void> | null = null

  constructor(cluster: RawCluster, opts: ConsumerOptions) {
    if (opts.group) throw new DriverFailure('the raw driver has no consumer groups: use manual assignment', { code: 'ERR_FAULTLINE_UNSUPPORTED' })
    if (!opts.assignment || opts.assignment.length === 0) throw new DriverFailure('a raw consumer needs an assignment (topic partitions)', { code: 'ERR_FAULTLINE_BAD_INPUT' })
    this.cluster = cluster
    this.o = opts
    this.positions = opts.assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition, offset: -1 }))
  }

  get paused(): boolean {
    return this.isPaused
  }

  async start(): Promise<void> {
    if (this.running) return
    for (const t of new Set(this.positions.map((p) => p.topic))) await this.cluster.ensureTopic(t, 10_000)
    await this.resetPositions(this.positions, this.o.from ?? 'earliest')
    this.running = true
    this.o.onAssign?.(this.positions.map(({ topic, partition }) => ({ topic, partition })))
    this.loop = this.run()
  }

  pause(): void {
    this.isPaused = true
  }

  resume(): void {
    this.isPaused = false
    const w = this.resumeWaiters
    this.resumeWaiters = []
    for (const f of w) f()
  }

  async close(): Promise<void> {
    this.running = false
    this.resume()
    this.cluster.close()
    await this.loop?.catch(() => {})
    this.o.onRevoke?.(this.positions.map(({ topic, partition }) => ({ topic, partition })))
  }

  private async resetPositions(ps: readonly Position[], from: StartFrom): Promise<void> {
    const offsets = await listOffsetsOf(this.cluster, ps, from)
    for (const p of ps) p.offset = offsets.get(`${p.topic}\u0000${p.partition}`) ?? 0
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.isPaused) {
        await new Promise<void>((r) => this.resumeWaiters.push(r))
        continue
      }
      const byLeader = new Map<number, Position[]>()
      for (const p of this.positions) {
        const leader = this.cluster.leaderOf(p.topic, p.partition)
        const list = byLeader.get(leader) ?? []
        list.push(p)
        byLeader.set(leader, list)
      }
      try {
        await Promise.all([...byLeader].map(([leader, ps]) => this.fetchFrom(leader, ps)))
      } catch (e) {
        if (!this.running) return
        this.o.onError?.(asDriverError(e, true))
        this.cluster.invalidate()
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  private async fetchFrom(leader: number, ps: Position[]): Promise<void> {
    if (leader < 0) {
      await this.cluster.refresh()
      return
    }
    const conn = await this.cluster.node(leader)
    const byTopic = new Map<string, Position[]>()
    for (const p of ps) {
      const list = byTopic.get(p.topic) ?? []
      list.push(p)
      byTopic.set(p.topic, list)
    }
    const perPartition = this.o.maxBytesPerPartition ?? 1 << 20
    // Fetch v13+ names topics by id; this client keeps names, so it stays at v12 (supported since Kafka 2.7).
    const res = await conn.call(Fetch, {
      replicaId: -1,
      maxWaitMs: this.o.maxWaitMs ?? 500,
      minBytes: this.o.minBytes ?? 1,
      maxBytes: this.o.maxBytes ?? 50 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic].map(([topic, list]) => ({
        topic,
        partitions: list.map((p) => ({ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: perPartition })),
      })),
    }, Math.min(12, conn.version(Fetch)))
    if (res.errorCode !== 0) throw new DriverFailure(`Fetch failed: ${errorName(res.errorCode)}`, { error: kafkaError(res.errorCode) })
    if (!this.running || this.isPaused) return
    const outOfRange: Position[] = []
    for (const t of res.responses) {
      const topicPositions = byTopic.get(t.topic) ?? []
      for (const pr of t.partitions) {
        const pos = topicPositions.find((p) => p.partition === pr.partitionIndex)
        if (!pos) continue
        if (pr.errorCode !== 0) {
          if (pr.errorCode === 1) outOfRange.push(pos)
          else {
            if (STALE_METADATA.has(pr.errorCode)) this.cluster.invalidate()
            this.o.onError?.(kafkaError(pr.errorCode))
          }
          continue
        }
        if (!pr.records || pr.records.length === 0) continue
        const out: ConsumedRecord[] = []
        let next = pos.offset
        for (const batch of iterateBatches(pr.records)) {
          const last = batch.lastOffset
          if (last < pos.offset) continue
          if (!batch.isControl) {
            for (const rec of decodeRecords(batch)) {
              if (rec.offset >= pos.offset) out.push({ offset: rec.offset, timestamp: rec.timestamp, key: rec.key, value: rec.value })
            }
          }
          next = last + 1
        }
        if (next > pos.offset) {
          pos.offset = next
          if (out.length > 0) this.o.onRecords({ topic: pos.topic, partition: pos.partition, records: out, highWatermark: pr.highWatermark })
        }
      }
    }
    if (outOfRange.length > 0) await this.resetPositions(outOfRange, this.o.from ?? 'earliest')
  }
}

async function listOffsetsOf(cluster: RawCluster, ps: readonly TopicPartition[], which: StartFrom): Promise<Map<string, number>> {
  const byLeader = new Map<number, TopicPartition[]>()
  for (const p of ps) {
    const leader = cluster.leaderOf(p.topic, p.partition)
    if (leader < 0) throw new DriverFailure(`${p.topic}/${p.partition} has no leader`, { error: { code: 5, name: 'LEADER_NOT_AVAILABLE', definite: true, retriable: true, message: 'no leader' } })
    const list = byLeader.get(leader) ?? []
    list.push(p)
    byLeader.set(leader, list)
  }
  const out = new Map<string, number>()
  for (const [leader, list] of byLeader) {
    const conn = await cluster.node(leader)
    const topics = new Map<string, number[]>()
    for (const p of list) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition])
    const res = await conn.call(ListOffsets, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [...topics].map(([name, parts]) => ({ name, partitions: parts.map((partitionIndex) => ({ partitionIndex, timestamp: which === 'earliest' ? -2 : -1 })) })),
    })
    for (const t of res.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) throw new DriverFailure(`ListOffsets ${t.name}/${p.partitionIndex}: ${errorName(p.errorCode)}`, { error: kafkaError(p.errorCode) })
        out.set(`${t.name}\u0000${p.partitionIndex}`, p.offset)
      }
    }
  }
  return out
}

// ---- admin ----

class RawAdmin implements DriverAdmin {
  private readonly cluster: RawCluster

  constructor(cluster: RawCluster) {
    this.cluster = cluster
  }

  private async controller(): Promise<RawConnection> {
    await this.cluster.refresh()
    const id = this.cluster.controllerId
    return id >= 0 && this.cluster.brokers.has(id) ? this.cluster.node(id) : this.cluster.any()
  }

  async createTopics(topics: readonly TopicSpec[], opts: { ifNotExists?: boolean } = {}): Promise<void> {
    const conn = await this.controller()
    const res = await conn.call(CreateTopics, {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        assignments: [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: 30_000,
    })
    const problems = res.topics.filter((t) => t.errorCode !== 0 && !(opts.ifNotExists && t.errorCode === 36))
    if (problems.length > 0) {
      const first = problems[0]!
      throw new DriverFailure(`CreateTopics: ${problems.map((t) => `${t.name}: ${errorName(t.errorCode)}${t.errorMessage ? ` (${t.errorMessage})` : ''}`).join('; ')}`, { error: kafkaError(first.errorCode, first.errorMessage) })
    }
    for (const t of topics) await this.cluster.ensureTopic(t.name, 30_000)
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const conn = await this.controller()
    const res = await conn.call(DeleteTopics, { topics: names.map((name) => ({ name })), topicNames: [...names], timeoutMs: 30_000 })
    const problems = res.responses.filter((t) => t.errorCode !== 0)
    if (problems.length > 0) {
      throw new DriverFailure(`DeleteTopics: ${problems.map((t) => `${t.name}: ${errorName(t.errorCode)}`).join('; ')}`, { error: kafkaError(problems[0]!.errorCode) })
    }
    for (const n of names) this.cluster.topics.delete(n)
  }

  async listOffsets(topic: string, which: StartFrom): Promise<PartitionOffset[]> {
    const parts = await this.cluster.ensureTopic(topic, 10_000)
    const ps = parts.map((_, partition) => ({ topic, partition }))
    const offsets = await listOffsetsOf(this.cluster, ps, which)
    return ps.map((p) => ({ partition: p.partition, offset: offsets.get(`${topic}\u0000${p.partition}`) ?? -1 }))
  }

  async metadata(topics: readonly string[]): Promise<TopicMetadata[]> {
    await this.cluster.refresh(topics)
    const out: TopicMetadata[] = []
    for (const name of topics) {
      const parts = this.cluster.topics.get(name)
      if (!parts) continue
      out.push({ name, partitions: parts.map((p, partition) => ({ partition, leader: p.leader, replicas: p.replicas, isr: p.isr })) })
    }
    return out
  }

  async close(): Promise<void> {
    this.cluster.close()
  }
}

// ---- the driver ----

export interface RawDriver extends Driver {
  producer(opts?: ProducerOptions): Promise<RawProducer>
}

export function rawDriver(opts: ConnectOptions): RawDriver {
  const clients = new Set<{ close(): Promise<void> }>()
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    clients.add(c)
    return c
  }
  return {
    name: 'raw',
    capabilities: rawCapabilities,
    async producer(p: ProducerOptions = {}) {
      const cluster = new RawCluster(opts, p.maxInFlight ?? 5)
      const producer = new RawProducer(cluster, p)
      await cluster.any()
      await producer.init()
      return track(producer)
    },
    async consumer(c: ConsumerOptions) {
      const consumer = new RawConsumer(new RawCluster(opts, 2), c)
      return track(consumer)
    },
    async admin() {
      const cluster = new RawCluster(opts, 5)
      await cluster.any()
      return track(new RawAdmin(cluster))
    },
    async close() {
      const all = [...clients]
      clients.clear()
      await Promise.allSettled(all.map((c) => c.close()))
    },
  }
}

