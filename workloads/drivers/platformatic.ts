// @platformatic/kafka behind the Driver seam.
//
// Producers map one to one. Group consumers use the library's MessagesStream. Manual assignment has no
// high-level API in the library, so we run our own fetch loop on its low-level `consumer.fetch` (the
// library's connections, decoder and decompression).
// Fetch v12 shim: the library always puts topic ids in Fetch, but up to v12 that slot is the topic NAME, so
// against a broker whose Fetch stops at v12 (our reference broker; Kafka < 3.1) every fetch fails with
// UNKNOWN_TOPIC_OR_PARTITION. There we wrap that one client's `fetch` to swap ids for names on the way
// out and names for ids on the way back; brokers with Fetch v13+ get the library untouched.
// Errors: the library retries `retries` times (we default to 0) and keeps every attempt's error, so an
// error is definite only when every attempt failed definitely.

import * as zlib from 'node:zlib'
import { Admin, Consumer, Producer, type MessagesStream, type SASLOptions as PltSasl } from '@platformatic/kafka'
import type { ConnectionOptions as PltConnectionOptions } from '@platformatic/kafka'
import {
  clientError,
  DriverFailure,
  produceErrorFromCode,
  type Capabilities,
  type ConnectOptions,
  type ConsumedRecord,
  type ConsumerOptions,
  type Driver,
  type DriverAdmin,
  type DriverConsumer,
  type DriverError,
  type DriverProducer,
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

const hasZstd = typeof (zlib as Record<string, unknown>).zstdCompressSync === 'function'

export const platformaticCapabilities: Capabilities = {
  consumerGroups: true,
  manualAssignment: true,
  idempotence: true,
  compression: hasZstd ? ['none', 'gzip', 'snappy', 'lz4', 'zstd'] : ['none', 'gzip', 'snappy', 'lz4'],
  acks0: true,
  sasl: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
  tls: true,
  errorCodes: true,
  pipelining: true,
  clientRetries: true,
}

interface PltErrorShape {
  name?: string
  message?: string
  code?: string
  apiId?: string
  apiCode?: number
  canRetry?: boolean
  errors?: unknown[]
}

function leaves(e: unknown, out: PltErrorShape[] = []): PltErrorShape[] {
  const x = (e ?? {}) as PltErrorShape
  if (Array.isArray(x.errors) && x.errors.length > 0) for (const sub of x.errors) leaves(sub, out)
  else out.push(x)
  return out
}

/** Maps a library error (possibly one per attempt, each possibly one per partition) to a DriverError. */
export function platformaticError(e: unknown): DriverError {
  const all = leaves(e)
  const last = all[all.length - 1] ?? {}
  const top = (e ?? {}) as PltErrorShape
  const one = (x: PltErrorShape): DriverError => {
    if (typeof x.apiCode === 'number') return produceErrorFromCode(x.apiCode, x.apiId ?? 'UNKNOWN_SERVER_ERROR', x.canRetry ?? false, 'one', x.message)
    if (x.name === 'TimeoutError' || /timed? ?out/i.test(x.message ?? '')) return clientError('TIMEOUT', x.message ?? 'timeout', false)
    if (x.code === 'PLT_KFK_NETWORK') return clientError('NETWORK', x.message ?? 'network error', false)
    // Validation and serialization errors happen before anything is sent.
    if (x.code === 'PLT_KFK_USER') return clientError('CLIENT', x.message ?? 'client error', true)
    return clientError('CLIENT', x.message ?? String(x), false)
  }
  const lastErr = one(last)
  const definite = all.every((x) => one(x).definite)
  return { ...lastErr, definite, message: top.message && top.message !== lastErr.message ? `${top.message}: ${lastErr.message}` : lastErr.message }
}

function baseOptions(opts: ConnectOptions, clientId: string) {
  const sasl: PltSasl | undefined = opts.sasl ? { mechanism: opts.sasl.mechanism, username: opts.sasl.username, password: opts.sasl.password } : undefined
  const conn: PltConnectionOptions = {
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    tls: opts.tls === true ? {} : opts.tls ? { ...opts.tls } : undefined,
    tlsServerName: opts.tls && opts.tls !== true && opts.tls.servername ? opts.tls.servername : undefined,
    sasl,
  }
  return { clientId, bootstrapBrokers: [...opts.bootstrap], ...conn }
}

class PlatformaticProducer implements DriverProducer {
  private readonly producer: Producer
  private readonly acc: Accumulator

  constructor(producer: Producer, opts: ProducerOptions) {
    this.producer = producer
    const acks = opts.acks ?? -1
    this.acc = new Accumulator((topic, partition, records, done) => {
      this.producer
        .send({
          acks,
          messages: records.map((r) => ({
            topic,
            partition,
            key: r.key ?? undefined,
            value: r.value ?? undefined,
            timestamp: r.timestamp === undefined ? undefined : BigInt(r.timestamp),
            headers: r.headers ? new Map(r.headers.map((h) => [Buffer.from(h.key), h.value ?? Buffer.alloc(0)])) : undefined,
          })),
        })
        .then(
          (res) => {
            const o = res.offsets?.find((x) => x.topic === topic && x.partition === partition)
            done({ ok: true, baseOffset: o ? Number(o.offset) : -1 })
          },
          (err: unknown) => done({ ok: false, error: platformaticError(err) }),
        )
    }, opts)
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
    await this.producer.close()
  }
}

/** Installs the Fetch v12 shim on a consumer when its broker's Fetch stops at v12 (see the header). */
async function shimFetchV12(consumer: Consumer): Promise<void> {
  const apis = await consumer.listApis()
  // The library implements Fetch v12-17 and picks the highest the broker allows.
  if ((apis.find((a) => a.name === 'Fetch')?.maxVersion ?? 12) > 12) return
  const original = consumer.fetch.bind(consumer) as (o: FetchOptions, cb: (e: Error | null, r?: FetchResponse) => void) => void
  const patched = (options: FetchOptions, callback?: (e: Error | null, r?: FetchResponse) => void): unknown => {
    const idToName = new Map<string, string>()
    const nameToId = new Map<string, string>()
    for (const [name, t] of consumer.currentMetadata?.topics ?? []) {
      idToName.set(t.id, name)
      nameToId.set(name, t.id)
    }
    const out = { ...options, topics: options.topics.map((t) => ({ ...t, topicId: idToName.get(t.topicId) ?? t.topicId })) }
    const back = (res: FetchResponse | undefined): FetchResponse | undefined => {
      for (const r of res?.responses ?? []) r.topicId = nameToId.get(r.topicId) ?? r.topicId
      return res
    }
    if (callback) {
      original(out, (e, r) => callback(e, back(r)))
      return undefined
    }
    return new Promise<FetchResponse>((resolve, reject) => original(out, (e, r) => (e ? reject(e) : resolve(back(r)!))))
  }
  consumer.fetch = patched as typeof consumer.fetch
}

type FetchOptions = Parameters<Consumer['fetch']>[0]
type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>

class PlatformaticGroupConsumer implements DriverConsumer {
  private readonly consumer: Consumer
  private readonly o: ConsumerOptions
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null
  private assigned: TopicPartition[] = []
  private isPaused = false

  constructor(consumer: Consumer, opts: ConsumerOptions) {
    this.consumer = consumer
    this.o = opts
    consumer.on('consumer:group:join', (p) => {
      const next: TopicPartition[] = []
      for (const a of p.assignments ?? []) for (const partition of a.partitions) next.push({ topic: a.topic, partition })
      this.revokeAll()
      this.assigned = next
      if (next.length > 0) this.o.onAssign?.(next)
    })
    consumer.on('consumer:group:rebalance', () => this.revokeAll())
    consumer.on('consumer:group:leave', () => this.revokeAll())
    consumer.on('consumer:heartbeat:error', (p) => this.o.onError?.(platformaticError(p.error)))
  }

  get paused(): boolean {
    return this.isPaused
  }

  private revokeAll(): void {
    const lost = this.assigned
    this.assigned = []
    if (lost.length > 0) this.o.onRevoke?.(lost)
  }

  async start(): Promise<void> {
    if (this.stream) return
    await shimFetchV12(this.consumer)
    const from = this.o.from ?? 'earliest'
    const stream = await this.consumer.consume({
      topics: [...this.o.group!.topics],
      mode: 'committed',
      fallbackMode: from,
      autocommit: true,
      sessionTimeout: this.o.group!.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 1000,
      maxWaitTime: this.o.maxWaitMs ?? 500,
      minBytes: this.o.minBytes ?? 1,
      maxBytes: this.o.maxBytes ?? 50 << 20,
    })
    this.stream = stream
    stream.on('data', (m) => {
      this.o.onRecords({
        topic: m.topic,
        partition: m.partition,
        highWatermark: -1,
        records: [{ offset: Number(m.offset), timestamp: Number(m.timestamp), key: m.key ?? null, value: m.value ?? null }],
      })
    })
    stream.on('error', (e: unknown) => this.o.onError?.(platformaticError(e)))
  }

  pause(): void {
    this.isPaused = true
    this.stream?.pause()
  }

  resume(): void {
    this.isPaused = false
    this.stream?.resume()
  }

  async close(): Promise<void> {
    await this.stream?.close()
    await this.consumer.close(true)
    this.revokeAll()
  }
}

interface Position {
  readonly topic: string
  readonly partition: number
  offset: bigint
}

/** Manual assignment on the library's low-level fetch. */
class PlatformaticManualConsumer implements DriverConsumer {
  private readonly consumer: Consumer
  private readonly o: ConsumerOptions
  private readonly positions: Position[]
  private running = false
  private isPaused = false
  private resumeWaiters: (() => void)[] = []
  private loop: Promise<void> | null = null

  constructor(consumer: Consumer, opts: ConsumerOptions) {
    this.consumer = consumer
    this.o = opts
    this.positions = opts.assignment!.map((tp) => ({ topic: tp.topic, partition: tp.partition, offset: 0n }))
  }

  get paused(): boolean {
    return this.isPaused
  }

  async start(): Promise<void> {
    if (this.running) return
    await shimFetchV12(this.consumer)
    await this.reset(this.positions, this.o.from ?? 'earliest')
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
    await this.loop?.catch(() => {})
    await this.consumer.close(true)
    this.o.onRevoke?.(this.positions.map(({ topic, partition }) => ({ topic, partition })))
  }

  private async reset(ps: readonly Position[], from: StartFrom): Promise<void> {
    const topics = [...new Set(ps.map((p) => p.topic))]
    const offsets = await this.consumer.listOffsets({ topics, timestamp: from === 'earliest' ? -2n : -1n })
    for (const p of ps) p.offset = offsets.get(p.topic)?.[p.partition] ?? 0n
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.isPaused) {
        await new Promise<void>((r) => this.resumeWaiters.push(r))
        continue
      }
      try {
        const md = await this.consumer.metadata({ topics: [...new Set(this.positions.map((p) => p.topic))] })
        const byLeader = new Map<number, Position[]>()
        for (const p of this.positions) {
          const leader = md.topics.get(p.topic)?.partitions[p.partition]?.leader ?? -1
          const list = byLeader.get(leader) ?? []
          list.push(p)
          byLeader.set(leader, list)
        }
        await Promise.all(
          [...byLeader].map(async ([leader, ps]) => {
            if (leader < 0) throw new DriverFailure('a partition has no leader')
            await this.fetchFrom(leader, ps, md.topics)
          }),
        )
      } catch (e) {
        if (!this.running) return
        const err = e as PltErrorShape
        const outOfRange = leaves(err).some((x) => x.apiCode === 1)
        if (outOfRange) {
          await this.reset(this.positions, this.o.from ?? 'earliest').catch(() => {})
          continue
        }
        this.o.onError?.(platformaticError(e))
        this.consumer.clearMetadata()
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  private async fetchFrom(leader: number, ps: Position[], topics: Map<string, { id: string }>): Promise<void> {
    const byTopic = new Map<string, Position[]>()
    for (const p of ps) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p])
    const idToTopic = new Map<string, string>()
    const request = [...byTopic].map(([topic, list]) => {
      const topicId = topics.get(topic)?.id ?? topic
      idToTopic.set(topicId, topic)
      return {
        topicId,
        partitions: list.map((p) => ({
          partition: p.partition,
          fetchOffset: p.offset,
          partitionMaxBytes: this.o.maxBytesPerPartition ?? 1 << 20,
          currentLeaderEpoch: -1,
          lastFetchedEpoch: -1,
        })),
      }
    })
    const res = await this.consumer.fetch({
      node: leader,
      topics: request,
      maxWaitTime: this.o.maxWaitMs ?? 500,
      minBytes: this.o.minBytes ?? 1,
      maxBytes: this.o.maxBytes ?? 50 << 20,
    })
    if (!this.running || this.isPaused) return
    for (const t of res.responses) {
      const topic = idToTopic.get(t.topicId) ?? t.topicId
      const list = byTopic.get(topic) ?? []
      for (const pr of t.partitions) {
        const pos = list.find((p) => p.partition === pr.partitionIndex)
        if (!pos || !pr.records) continue
        const out: ConsumedRecord[] = []
        let next = pos.offset
        for (const b of pr.records) {
          const last = b.firstOffset + BigInt(b.lastOffsetDelta)
          if (last < pos.offset) continue
          // Control batches (transaction markers) carry no user records.
          if ((b.attributes & 0x20) === 0) {
            for (const r of b.records) {
              const offset = b.firstOffset + BigInt(r.offsetDelta)
              if (offset < pos.offset) continue
              out.push({ offset: Number(offset), timestamp: Number(b.firstTimestamp + r.timestampDelta), key: r.key, value: r.value })
            }
          }
          next = last + 1n
        }
        if (next > pos.offset) {
          pos.offset = next
          if (out.length > 0) this.o.onRecords({ topic, partition: pos.partition, records: out, highWatermark: Number(pr.highWatermark) })
        }
      }
    }
  }
}

class PlatformaticAdmin implements DriverAdmin {
  private readonly admin: Admin

  constructor(admin: Admin) {
    this.admin = admin
  }

  async createTopics(topics: readonly TopicSpec[], opts: { ifNotExists?: boolean } = {}): Promise<void> {
    // The library's CreateTopics takes one partition count and replication factor for all topics.
    for (const t of topics) {
      try {
        await this.admin.createTopics({
          topics: [t.name],
          partitions: t.partitions,
          replicas: t.replicationFactor,
          configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })
      } catch (e) {
        const err = platformaticError(e)
        if (opts.ifNotExists && err.code === 36) continue
        throw new DriverFailure(`CreateTopics ${t.name}: ${err.name}: ${err.message}`, { cause: e, error: err })
      }
    }
    await this.admin.metadata({ topics: topics.map((t) => t.name), forceUpdate: true })
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    try {
      await this.admin.deleteTopics({ topics: [...names] })
    } catch (e) {
      const err = platformaticError(e)
      throw new DriverFailure(`DeleteTopics: ${err.name}: ${err.message}`, { cause: e, error: err })
    }
  }

  async listOffsets(topic: string, which: StartFrom): Promise<PartitionOffset[]> {
    const md = await this.admin.metadata({ topics: [topic], forceUpdate: true })
    const count = md.topics.get(topic)?.partitionsCount ?? 0
    const res = await this.admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: which === 'earliest' ? -2n : -1n })) }],
    })
    return (res.find((t) => t.name === topic)?.partitions ?? []).map((p) => ({ partition: p.partitionIndex, offset: Number(p.offset) }))
  }

  async metadata(topics: readonly string[]): Promise<TopicMetadata[]> {
    const md = await this.admin.metadata({ topics: [...topics], forceUpdate: true })
    const out: TopicMetadata[] = []
    for (const name of topics) {
      const t = md.topics.get(name)
      if (!t) continue
      out.push({ name, partitions: t.partitions.map((p, partition) => ({ partition, leader: p.leader, replicas: p.replicas, isr: p.isr })) })
    }
    return out
  }

  async close(): Promise<void> {
    await this.admin.close()
  }
}

export function platformaticDriver(opts: ConnectOptions): Driver {
  const clientId = opts.clientId ?? 'faultline'
  const clients = new Set<{ close(): Promise<void> }>()
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    clients.add(c)
    return c
  }
  let groupless = 0
  return {
    name: 'platformatic',
    capabilities: platformaticCapabilities,
    async producer(p: ProducerOptions = {}) {
      const compression = p.compression ?? 'none'
      if (!platformaticCapabilities.compression.includes(compression)) {
        throw new DriverFailure(`@platformatic/kafka here compresses with ${platformaticCapabilities.compression.join(', ')}, not ${compression}`, { code: 'ERR_FAULTLINE_UNSUPPORTED' })
      }
      const idempotent = p.idempotent ?? false
      const producer = new Producer({
        ...baseOptions(opts, clientId),
        idempotent,
        acks: p.acks ?? -1,
        compression,
        timeout: p.timeoutMs ?? 30_000,
        // An idempotent producer retries until it succeeds (the library insists on more than one retry).
        retries: idempotent ? (p.retries ?? Number.MAX_SAFE_INTEGER) : (p.retries ?? 0),
        maxInflights: p.maxInFlight ?? 5,
        autocreateTopics: false,
      })
      await producer.metadata({ topics: [] })
      // The library takes a batch's first sequence when it encodes the batch but advances it only when the
      // response arrives, so two requests in flight to one partition carry the same sequence and the broker
      // rightly drops the second as a duplicate (acked, never stored). One request at a time keeps it right.
      return track(new PlatformaticProducer(producer, idempotent ? { ...p, maxInFlight: 1 } : p))
    },
    async consumer(c: ConsumerOptions) {
      const base = baseOptions(opts, clientId)
      if (c.group) {
        const consumer = new Consumer({ ...base, groupId: c.group.groupId, autocreateTopics: false, retries: 3 })
        return track(new PlatformaticGroupConsumer(consumer, c))
      }
      if (!c.assignment || c.assignment.length === 0) throw new DriverFailure('a consumer needs a group or an assignment', { code: 'ERR_FAULTLINE_BAD_INPUT' })
      // The library wants a group id even for plain fetches; it never joins this one.
      const consumer = new Consumer({ ...base, groupId: `faultline-manual-${process.pid}-${groupless++}`, autocreateTopics: false, retries: 0 })
      return track(new PlatformaticManualConsumer(consumer, c))
    },
    async admin() {
      return track(new PlatformaticAdmin(new Admin({ ...baseOptions(opts, clientId), retries: 3 })))
    },
    async close() {
      const all = [...clients]
      clients.clear()
      await Promise.allSettled(all.map((c) => c.close()))
    },
  }
}
