// The Driver seam: how the harness reaches a Kafka-protocol cluster. One interface, three implementations
// (kafkajs, @platformatic/kafka, and our own `raw` client on broker/protocol), each honest about what its
// client cannot do through `capabilities`; the workload layer checks them before a run instead of failing
// half way.
//
// Produce contract. `send` takes records for ONE topic-partition and reports ONE outcome for all of them:
// Kafka appends a partition's batch atomically, so record i of a successful send has offset baseOffset + i.
// Keyed records are routed by the caller with `partitionForKey` (Kafka's default murmur2 partitioner,
// identical for every driver), so the key-to-partition mapping and the per-record offsets are the same
// whatever client runs. Errors carry Kafka's code and name when the client exposes them and a `definite` flag
// (Jepsen's :fail versus :info): definite means the records were certainly NOT appended.

import type { CompressionName } from '../broker/protocol/record-batch.ts'
import type { DriverName } from './drivers/registry.ts'

export type { CompressionName } from '../broker/protocol/record-batch.ts'

// ---- connection ----

export const saslMechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const
export type SaslMechanism = (typeof saslMechanisms)[number]

export interface SaslOptions {
  readonly mechanism: SaslMechanism
  readonly username: string
  readonly password: string
}

export interface TlsOptions {
  /** PEM CA bundle; default: the system store. */
  readonly ca?: string | Buffer
  /** Client certificate and key, for mutual TLS. */
  readonly cert?: string | Buffer
  readonly key?: string | Buffer
  /** SNI and certificate host name; default: the broker host. */
  readonly servername?: string
  /** Default true. */
  readonly rejectUnauthorized?: boolean
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

export interface ConnectOptions {
  /** host:port list. */
  readonly bootstrap: readonly string[]
  readonly clientId?: string
  readonly sasl?: SaslOptions
  /** true: TLS with defaults. */
  readonly tls?: TlsOptions | true
  /** Per request. Default 30 000 ms. */
  readonly requestTimeoutMs?: number
  readonly connectTimeoutMs?: number
  /** Where client log lines go; default: nowhere (the clients' own loggers are silenced). */
  readonly logger?: Logger
}

// ---- capabilities ----

export interface Capabilities {
  /** Group membership with subscribe, assignment and revocation callbacks. */
  readonly consumerGroups: boolean
  /** Consuming chosen partitions without a group. */
  readonly manualAssignment: boolean
  readonly idempotence: boolean
  readonly compression: readonly CompressionName[]
  readonly acks0: boolean
  readonly sasl: readonly SaslMechanism[]
  readonly tls: boolean
  /** Whether numeric Kafka error codes reach us (otherwise errors are classified by message). */
  readonly errorCodes: boolean
  /** Several Produce requests in flight on one connection. */
  readonly pipelining: boolean
  /** Whether the client itself retries failed produce requests (then a failure is never definite). */
  readonly clientRetries: boolean
}

/** Names a capability the scenario needs and this driver lacks; null when all are there. */
export function missingCapability(
  caps: Capabilities,
  need: { groups?: boolean; manual?: boolean; idempotence?: boolean; compression?: CompressionName; acks?: Acks; sasl?: SaslMechanism; tls?: boolean },
): string | null {
  if (need.groups && !caps.consumerGroups) return 'consumer groups'
  if (need.manual && !caps.manualAssignment) return 'manual partition assignment'
  if (need.idempotence && !caps.idempotence) return 'idempotent producers'
  if (need.compression && !caps.compression.includes(need.compression)) return `${need.compression} compression`
  if (need.acks === 0 && !caps.acks0) return 'acks=0'
  if (need.sasl && !caps.sasl.includes(need.sasl)) return `SASL ${need.sasl}`
  if (need.tls && !caps.tls) return 'TLS'
  return null
}

// ---- errors ----

export interface DriverError {
  /** Kafka's numeric error code, or null for client-side failures (timeouts, closed connections). */
  readonly code: number | null
  /** Kafka's name (NOT_LEADER_OR_FOLLOWER) or a client-side kind: TIMEOUT, NETWORK, NOT_CONNECTED, CLIENT. */
  readonly name: string
  /** True: the records were certainly not appended. False: they may have been (a timeout, a lost response). */
  readonly definite: boolean
  readonly retriable: boolean
  readonly message: string
}

/**
 * Produce error codes after which the records may nevertheless be in the log: the leader appended and then
 * timed out waiting for replicas, lost its storage, or failed in an unknown way; or the batch is a
 * duplicate of one already appended.
 */
const MAYBE_APPENDED = new Set([-1, 7, 13, 20, 46, 56])

export function produceErrorFromCode(code: number, name: string, retriable: boolean, attempts: 'one' | 'maybe-many', message?: string): DriverError {
  return {
    code,
    name,
    definite: attempts === 'one' && !MAYBE_APPENDED.has(code),
    retriable,
    message: message ?? name,
  }
}

export function clientError(name: 'TIMEOUT' | 'NETWORK' | 'NOT_CONNECTED' | 'CLIENT', message: string, definite: boolean): DriverError {
  return { code: null, name, definite, retriable: name !== 'CLIENT', message }
}

/** A harness failure with an actionable message (docs/architecture.md: Kafka errors are values, exceptions are for the harness). */
export class DriverFailure extends Error {
  readonly code: string
  readonly error: DriverError | undefined

  constructor(message: string, opts: { code?: string; cause?: unknown; error?: DriverError } = {}) {
    super(message, { cause: opts.cause })
    this.name = 'DriverFailure'
    this.code = opts.code ?? 'ERR_FAULTLINE_DRIVER'
    this.error = opts.error
  }
}

// ---- producing ----

export type Acks = 0 | 1 | -1

export interface ProducerOptions {
  /** 0, 1 or -1 (all). Default -1. */
  readonly acks?: Acks
  readonly idempotent?: boolean
  readonly compression?: CompressionName
  /** How long a partition's records wait for more before they are sent. Default 0 (send when the window allows). */
  readonly lingerMs?: number
  /** A partition's batch is sent once it holds this many bytes of values and keys. Default 16 384. */
  readonly batchBytes?: number
  /** Produce requests outstanding at once per partition (each carries one partition's batch, so this is Kafka's
   *  max.in.flight.requests.per.connection seen from a partition). Default 5. */
  readonly maxInFlight?: number
  /** Client-level retries (kafkajs, platformatic); raw retries only idempotent sends, within deliveryTimeoutMs. Default 0, so failures stay definite. */
  readonly retries?: number
  /** The broker's wait for replicas (Produce timeoutMs). Default 30 000. */
  readonly timeoutMs?: number
  /** delivery.timeout.ms: the longest a send waits for its outcome, retries included (each request has the
   *  connection's requestTimeoutMs). Default 120 000. */
  readonly deliveryTimeoutMs?: number
}

export interface ProduceRecord {
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** Create time, wall-clock ms; default: now. */
  readonly timestamp?: number
  readonly headers?: readonly { readonly key: string; readonly value: Buffer | null }[]
}

export interface ProduceBatch {
  readonly topic: string
  readonly partition: number
  readonly records: readonly ProduceRecord[]
}

export type ProduceResult =
  /** Record i has offset baseOffset + i; baseOffset is -1 with acks 0 (no response). */
  | { readonly ok: true; readonly baseOffset: number }
  | { readonly ok: false; readonly error: DriverError }

export interface DriverProducer {
  /**
   * Appends records to the partition's batch; `done` runs once when they are acknowledged or failed.
   * Calls for one partition complete in call order when maxInFlight is 1 (and usually otherwise).
   */
  send(batch: ProduceBatch, done: (result: ProduceResult) => void): void
  /** Sends what is lingering and resolves when nothing is outstanding. */
  flush(): Promise<void>
  /** Records accepted by send() whose outcome is not yet known. */
  readonly pending: number
  /** Pre-encoded batches, when the driver can send them (raw); undefined otherwise. */
  readonly preEncoded?: PreEncodedSender
  close(): Promise<void>
}

/** A batch a PreEncodedSender encoded once, to be sent many times. */
export interface EncodedBatchTemplate {
  readonly recordCount: number
  /** The records' values alone (what consumers count). */
  readonly valueBytes: number
}

/**
 * Raw ingest: a batch is encoded once and each send is a copy with fresh value ids, so a run measures the
 * cluster, not the client's cost per record. Sends are not batched further (no linger).
 */
export interface PreEncodedSender {
  /** Encodes keyless records of these values, each at least the 20-byte payload header (generators.ts). */
  template(values: readonly Buffer[]): EncodedBatchTemplate
  /** Sends a copy of one of this sender's templates whose record i carries value id firstValueId + i and intendedMs. */
  send(topic: string, partition: number, template: EncodedBatchTemplate, firstValueId: number, intendedMs: number, done: (result: ProduceResult) => void): void
}

export function sendAsync(p: DriverProducer, batch: ProduceBatch): Promise<ProduceResult> {
  return new Promise((resolve) => p.send(batch, resolve))
}

// ---- consuming ----

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

export interface ConsumedRecord {
  readonly offset: number
  /** Record timestamp (wall-clock ms, as the producer or broker set it). */
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
}

export interface ConsumedBatch {
  readonly topic: string
  readonly partition: number
  /** In offset order, without gaps the broker did not leave. */
  readonly records: readonly ConsumedRecord[]
  /** Partition high watermark when the client reports it, else -1. */
  readonly highWatermark: number
}

export type StartFrom = 'earliest' | 'latest'

export interface ConsumerOptions {
  /** Group membership: subscribe to topics, the coordinator assigns partitions. Needs capabilities.consumerGroups. */
  readonly group?: { readonly groupId: string; readonly topics: readonly string[]; readonly sessionTimeoutMs?: number }
  /** Manual assignment, no group. Needs capabilities.manualAssignment. */
  readonly assignment?: readonly TopicPartition[]
  /** Where to start without a committed offset. Default 'earliest'. */
  readonly from?: StartFrom
  readonly maxWaitMs?: number
  readonly minBytes?: number
  readonly maxBytes?: number
  readonly maxBytesPerPartition?: number
  /** Runs for every fetched batch, in order per partition. */
  onRecords(batch: ConsumedBatch): void
  /** Partitions gained (after a rebalance, or at start for manual assignment). */
  onAssign?(partitions: readonly TopicPartition[]): void
  /** Partitions lost before a rebalance (eager protocol: all of them). */
  onRevoke?(partitions: readonly TopicPartition[]): void
  /** Errors the client reports without stopping (fetch errors, rebalances that failed). */
  onError?(error: DriverError): void
  /** A step the driver took to bring the client back from a library defect (docs/upstream/); runs log it. */
  onRecovery?(message: string): void
}

export interface DriverConsumer {
  /** Joins (or assigns) and starts fetching; resolves once fetching has started. */
  start(): Promise<void>
  /** Stops fetching until resume(); records already delivered stay delivered. */
  pause(): void
  resume(): void
  readonly paused: boolean
  close(): Promise<void>
}

// ---- admin ----

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  readonly replicationFactor: number
  readonly configs?: Readonly<Record<string, string>>
}

export interface PartitionOffset {
  readonly partition: number
  readonly offset: number
}

export interface TopicMetadata {
  readonly name: string
  readonly partitions: readonly { readonly partition: number; readonly leader: number; readonly replicas: readonly number[]; readonly isr: readonly number[] }[]
}

export interface DriverAdmin {
  /** Creates topics; a topic that already exists is an error unless ifNotExists. */
  createTopics(topics: readonly TopicSpec[], opts?: { ifNotExists?: boolean }): Promise<void>
  deleteTopics(names: readonly string[]): Promise<void>
  /** Earliest (log start) or latest (high watermark) offset of every partition of a topic. */
  listOffsets(topic: string, which: StartFrom): Promise<PartitionOffset[]>
  metadata(topics: readonly string[]): Promise<TopicMetadata[]>
  close(): Promise<void>
}

// ---- the driver ----

export interface Driver {
  readonly name: DriverName
  readonly capabilities: Capabilities
  producer(opts?: ProducerOptions): Promise<DriverProducer>
  consumer(opts: ConsumerOptions): Promise<DriverConsumer>
  admin(): Promise<DriverAdmin>
  /** Closes everything this driver created. */
  close(): Promise<void>
}

/** "host:port" -> parts; IPv6 literals in brackets. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s)
  if (!m) throw new DriverFailure(`bad broker address ${JSON.stringify(s)}: expected host:port`, { code: 'ERR_FAULTLINE_BAD_INPUT' })
  const port = Number(m[2])
  if (port < 1 || port > 65535) throw new DriverFailure(`bad port in ${JSON.stringify(s)}`, { code: 'ERR_FAULTLINE_BAD_INPUT' })
  return { host: m[1]!, port }
}

// ---- partitioning ----

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed int32. */
export function murmur2(data: Buffer): number {
  const len = data.length
  const m = 0x5bd1e995
  let h = 0x9747b28c ^ len
  const len4 = len >>> 2
  for (let i = 0; i < len4; i++) {
    const i4 = i * 4
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const tail = len & ~3
  const rest = len & 3
  if (rest === 3) h ^= data[tail + 2]! << 16
  if (rest >= 2) h ^= data[tail + 1]! << 8
  if (rest >= 1) {
    h ^= data[tail]!
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition Kafka's default partitioner (and kafkajs's DefaultPartitioner) picks for a key. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}
