// kafkajs 2.x behind the Driver seam.
//
// What it cannot do: manual partition assignment (kafkajs 2 consumers are always group members), and
// compression beyond gzip (snappy, lz4 and zstd need codec packages we do not ship). Its logger is silenced
// or routed to ours. Retries: kafkajs retries internally; we pass `retries` through (default 0) and an error
// is definite only when the failed attempt was the only one (retryCount 0, or retries 0).
// Faults: two kafkajs defects have workarounds here (docs/upstream/kafkajs-*.md): idempotent sends reusing a
// failed batch's sequences (one send outstanding per partition of an idempotent producer), and consumers that restart as new
// members after losing their coordinator (the abandoned member is removed at the new coordinator).

import {
  CompressionTypes,
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type KafkaConfig,
  type LogEntry,
  type Producer,
  type SASLOptions as KafkajsSasl,
} from 'kafkajs'
import {
  clientError,
  DriverFailure,
  produceErrorFromCode,
  type Capabilities,
  type ConnectOptions,
  type ConsumerOptions,
  type Driver,
  type DriverAdmin,
  type DriverConsumer,
  type DriverError,
  type DriverProducer,
  type Logger,
  type PartitionOffset,
  type ProduceBatch,
  type ProduceResult,
  type ProducerOptions,
  type StartFrom,
  type TopicMetadata,
  type TopicPartition,
  type TopicSpec,
} from '../driver.ts'
import { Accumulator } from './batching.ts'
import { leaveGroupAs } from './kafkajs-group.ts'

const DEFAULT_SESSION_TIMEOUT_MS = 30_000

export const kafkajsCapabilities: Capabilities = {
  consumerGroups: true,
  manualAssignment: false,
  idempotence: true,
  compression: ['none', 'gzip'],
  acks0: true,
  sasl: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
  tls: true,
  errorCodes: true,
  pipelining: true,
  clientRetries: true,
}

function logCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _ts, ...fields } = log
      const f = { client: 'kafkajs', namespace, ...fields }
      if (level === logLevel.ERROR) logger.error(message, f)
      else if (level === logLevel.WARN) logger.warn(message, f)
      else if (level === logLevel.INFO) logger.info(message, f)
      else logger.debug(message, f)
    }
}

function saslOf(opts: ConnectOptions): KafkajsSasl | undefined {
  const s = opts.sasl
  if (!s) return undefined
  const mechanism = s.mechanism === 'PLAIN' ? 'plain' : s.mechanism === 'SCRAM-SHA-256' ? 'scram-sha-256' : 'scram-sha-512'
  return { mechanism, username: s.username, password: s.password }
}

interface KafkajsErrorShape {
  name?: string
  message?: string
  type?: string
  code?: number
  retriable?: boolean
  retryCount?: number
  cause?: unknown
}

/** Maps a kafkajs error (often a retrier wrapper around the cause) to a DriverError. */
export function kafkajsError(e: unknown, retries: number): DriverError {
  const top = (e ?? {}) as KafkajsErrorShape
  const single = retries === 0 || top.retryCount === 0
  let cur: KafkajsErrorShape | undefined = top
  for (let depth = 0; cur && depth < 8; depth++) {
    if (cur.name === 'KafkaJSProtocolError' || (typeof cur.code === 'number' && typeof cur.type === 'string')) {
      return produceErrorFromCode(cur.code!, cur.type!, cur.retriable ?? false, single ? 'one' : 'maybe-many', top.message)
    }
    // Refused at authentication: nothing was sent. kafkajs keeps no code on it; Kafka's is 58.
    if (cur.name === 'KafkaJSSASLAuthenticationError') return produceErrorFromCode(58, 'SASL_AUTHENTICATION_FAILED', false, 'one', cur.message)
    if (cur.name === 'KafkaJSRequestTimeoutError') return clientError('TIMEOUT', cur.message ?? 'request timed out', false)
    if (cur.name === 'KafkaJSConnectionError' || cur.name === 'KafkaJSConnectionClosedError') {
      return clientError('NETWORK', cur.message ?? 'connection error', false)
    }
    cur = cur.cause && cur.cause !== cur ? (cur.cause as KafkajsErrorShape) : undefined
  }
  return clientError('CLIENT', top.message ?? String(e), false)
}

class KafkajsProducer implements DriverProducer {
  private readonly producer: Producer
  private readonly acc: Accumulator

  constructor(producer: Producer, opts: ProducerOptions, retries: number) {
    this.producer = producer
    const acks = opts.acks ?? -1
    const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None
    const timeout = opts.timeoutMs ?? 30_000
    this.acc = new Accumulator((topic, partition, records, done) => {
      this.producer
        .send({
          topic,
          acks,
          timeout,
          compression,
          messages: records.map((r) => ({
            key: r.key,
            value: r.value,
            partition,
            timestamp: r.timestamp === undefined ? undefined : String(r.timestamp),
            headers: r.headers ? Object.fromEntries(r.headers.map((h) => [h.key, h.value ?? undefined])) : undefined,
          })),
        })
        .then(
          (res) => {
            const md = res.find((m) => m.partition === partition)
            done({ ok: true, baseOffset: md ? Number(md.baseOffset) : -1 })
          },
          (err: unknown) => done({ ok: false, error: kafkajsError(err, retries) }),
        )
      // An idempotent send waits for the previous one's outcome on its partition (retries included): kafkajs
      // rolls a failed request's sequence range back (sequences are per partition), and a send already waiting
      // would take that range although the failed records may be stored (acked with their offsets, never
      // stored itself; the kafkajs producer's own maxInFlightRequests bounds requests per connection, not
      // send() calls waiting for them).
    }, opts.idempotent ? { ...opts, maxInFlight: 1 } : opts)
  }

  get pending(): number {
    return this.acc.pending
  }

  send(batch: ProduceBatch, done: (r: ProduceResult) => void): void {
    this.acc.send(batch, done)
  }

  flush(): Promise<void> {
    return this.acc.flush()
  }

  async close(): Promise<void> {
    await this.acc.close()
    await this.producer.disconnect()
  }
}

class KafkajsConsumer implements DriverConsumer {
  private readonly consumer: Consumer
  private readonly o: ConsumerOptions
  private readonly topics: readonly string[]
  private assigned: TopicPartition[] = []
  private isPaused = false
  private started = false
  private closed = false
  private readonly connect: ConnectOptions
  /** The member id of the current generation (GROUP_JOIN); null once kafkajs has crashed out of it. */
  private memberId: string | null = null
  private readonly leaving = new Set<Promise<void>>()
  /** Runs started again after kafkajs stopped the consumer for a non-retriable error. */
  restarts = 0

  constructor(consumer: Consumer, opts: ConsumerOptions, connect: ConnectOptions) {
    this.consumer = consumer
    this.o = opts
    this.connect = connect
    this.topics = opts.group!.topics
    const { GROUP_JOIN, REBALANCING, CRASH } = consumer.events
    consumer.on(GROUP_JOIN, (e) => {
      this.memberId = e.payload.memberId
      const next: TopicPartition[] = []
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) for (const partition of parts) next.push({ topic, partition })
      this.assigned = next
      this.o.onAssign?.(next)
    })
    consumer.on(REBALANCING, () => {
      // kafkajs uses the eager protocol: a rebalance revokes everything before the rejoin.
      const lost = this.assigned
      this.assigned = []
      if (lost.length > 0) this.o.onRevoke?.(lost)
    })
    consumer.on(CRASH, (e) => {
      this.o.onError?.(kafkajsError(e.payload.error, 0))
      // Either restart (kafkajs's or ours) joins as a new member: the old member id is abandoned.
      const abandoned = this.memberId
      this.memberId = null
      if (abandoned !== null) this.leaveAbandoned(abandoned)
      // kafkajs restarts itself after a retriable error only; after any other it stays stopped for good.
      if (!e.payload.restart) this.rerun()
    })
  }

  /**
   * kafkajs's own LeaveGroup for a crashed member goes to the coordinator it cached, often the dead node that
   * made it crash; the member then stays in the group until its session times out, and the group cannot form
   * a generation without it (docs/upstream/kafkajs-coordinator-failover.md). Remove it at the current coordinator.
   */
  private leaveAbandoned(memberId: string): void {
    const groupId = this.o.group!.groupId
    const sessionMs = this.o.group!.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS
    const leaving = leaveGroupAs(this.connect, groupId, memberId, {
      giveUpMs: sessionMs,
      reason: 'abandoned by a kafkajs consumer that restarted after a crash',
      stopped: () => this.closed,
    }).then((r) => {
      if (r.state === 'failed') this.o.onRecovery?.(`kafkajs restarted as a new member; its abandoned member ${memberId} could not be removed (${r.reason}); the group waits for its session to time out`)
      else this.o.onRecovery?.(`kafkajs restarted as a new member; removed its abandoned member ${memberId} at coordinator ${r.coordinator}${r.state === 'gone' ? ' (already gone)' : ''}`)
    })
    this.leaving.add(leaving)
    void leaving.finally(() => this.leaving.delete(leaving))
  }

  /** Runs the consumer again after kafkajs gave up on it (same group, from the committed offsets). */
  private rerun(): void {
    if (this.closed) return
    setTimeout(() => {
      if (this.closed) return
      this.restarts++
      this.consumer
        .connect()
        .then(() => this.run())
        .catch((e: unknown) => {
          this.o.onError?.(kafkajsError(e, 0))
          this.rerun()
        })
    }, 500)
  }

  private run(): Promise<void> {
    return this.consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        if (batch.messages.length === 0) return
        this.o.onRecords({
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: Number(batch.highWatermark),
          records: batch.messages.map((m) => ({ offset: Number(m.offset), timestamp: Number(m.timestamp), key: m.key, value: m.value })),
        })
      },
    })
  }

  get paused(): boolean {
    return this.isPaused
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.consumer.connect()
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: (this.o.from ?? 'earliest') === 'earliest' })
    await this.run()
  }

  pause(): void {
    this.isPaused = true
    this.consumer.pause(this.topics.map((topic) => ({ topic })))
  }

  resume(): void {
    this.isPaused = false
    this.consumer.resume(this.topics.map((topic) => ({ topic })))
  }

  async close(): Promise<void> {
    this.closed = true
    await this.consumer.disconnect()
    await Promise.allSettled([...this.leaving])
    if (this.assigned.length > 0) {
      const lost = this.assigned
      this.assigned = []
      this.o.onRevoke?.(lost)
    }
  }
}

class KafkajsAdmin implements DriverAdmin {
  private readonly admin: Admin

  constructor(admin: Admin) {
    this.admin = admin
  }

  async createTopics(topics: readonly TopicSpec[], opts: { ifNotExists?: boolean } = {}): Promise<void> {
    const created = await this.admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    })
    if (!created && !opts.ifNotExists) {
      throw new DriverFailure(`CreateTopics: ${topics.map((t) => t.name).join(', ')} already exist`, {
        error: produceErrorFromCode(36, 'TOPIC_ALREADY_EXISTS', false, 'one'),
      })
    }
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    await this.admin.deleteTopics({ topics: [...names] })
  }

  async listOffsets(topic: string, which: StartFrom): Promise<PartitionOffset[]> {
    const rows = await this.admin.fetchTopicOffsets(topic)
    return rows.map((r) => ({ partition: r.partition, offset: Number(which === 'earliest' ? r.low : r.high) }))
  }

  async metadata(topics: readonly string[]): Promise<TopicMetadata[]> {
    const md = await this.admin.fetchTopicMetadata({ topics: [...topics] })
    return md.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr })),
    }))
  }

  async close(): Promise<void> {
    await this.admin.disconnect()
  }
}

export function kafkajsDriver(opts: ConnectOptions): Driver {
  const config: KafkaConfig = {
    brokers: [...opts.bootstrap],
    clientId: opts.clientId ?? 'faultline',
    ssl: opts.tls === true ? true : opts.tls ? { ...opts.tls } : undefined,
    sasl: saslOf(opts),
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    connectionTimeout: opts.connectTimeoutMs ?? 10_000,
    logLevel: opts.logger ? logLevel.INFO : logLevel.NOTHING,
    logCreator: opts.logger ? logCreator(opts.logger) : undefined,
  }
  const kafka = new Kafka(config)
  const clients = new Set<{ close(): Promise<void> }>()
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    clients.add(c)
    return c
  }
  return {
    name: 'kafkajs',
    capabilities: kafkajsCapabilities,
    async producer(p: ProducerOptions = {}) {
      const idempotent = p.idempotent ?? false
      if (p.compression && !kafkajsCapabilities.compression.includes(p.compression)) {
        throw new DriverFailure(`kafkajs compresses with ${kafkajsCapabilities.compression.join(' or ')}, not ${p.compression}`, { code: 'ERR_FAULTLINE_UNSUPPORTED' })
      }
      // kafkajs refuses an idempotent producer without retries.
      const retries = idempotent ? Math.max(1, p.retries ?? Number.MAX_SAFE_INTEGER) : (p.retries ?? 0)
      // kafkajs 2.2.4 rolls a partition's sequence back whenever a produce request throws, even when the write
      // may be stored, and numbers batches in lock order rather than send order: with more than one request in
      // flight a later batch can reuse a stored batch's sequence range and be acked with its offsets (lost and
      // duplicated records across a leader kill; docs/upstream/kafkajs-idempotent-sequences.md). One in flight
      // per connection keeps idempotent sends exactly-once and in order.
      const producer = kafka.producer({
        idempotent,
        maxInFlightRequests: idempotent ? 1 : (p.maxInFlight ?? 5),
        allowAutoTopicCreation: false,
        retry: { retries },
      })
      await producer.connect()
      return track(new KafkajsProducer(producer, p, retries))
    },
    async consumer(c: ConsumerOptions) {
      if (!c.group) throw new DriverFailure('kafkajs consumers are group members: give a group (manual assignment is not supported)', { code: 'ERR_FAULTLINE_UNSUPPORTED' })
      const consumer = kafka.consumer({
        groupId: c.group.groupId,
        sessionTimeout: c.group.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
        maxWaitTimeInMs: c.maxWaitMs ?? 500,
        minBytes: c.minBytes ?? 1,
        maxBytes: c.maxBytes ?? 50 << 20,
        maxBytesPerPartition: c.maxBytesPerPartition ?? 1 << 20,
        allowAutoTopicCreation: false,
      })
      return track(new KafkajsConsumer(consumer, c, opts))
    },
    async admin() {
      const admin = kafka.admin()
      await admin.connect()
      return track(new KafkajsAdmin(admin))
    },
    async close() {
      const all = [...clients]
      clients.clear()
      await Promise.allSettled(all.map((c) => c.close()))
    },
  }
}
