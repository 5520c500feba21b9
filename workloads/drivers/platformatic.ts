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
// Faults: the library does not recover from a dead leader or coordinator by itself (docs/upstream/); the
// producer and the group consumer below work around each defect (see their comments).

import * as zlib from 'node:zlib'
import { Admin, Consumer, kGetConnection, NetworkError, Producer, type MessagesStream, type SASLOptions as PltSasl } from '@platformatic/kafka'
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

/** Pause before the driver resends a produce that failed with a retriable error. */
const RETRY_BACKOFF_MS = 100
/** How long a consumer keeps trying to join its group at start, and the pause between attempts. */
const START_DEADLINE_MS = 30_000
const START_BACKOFF_MS = 500

/** Members that vanish without leaving (a killed client, a replaced consumer) hold a rebalance this long. */
const SESSION_TIMEOUT_MS = 10_000

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

/**
 * A library send that never calls back wedges the whole producer (after a leader kill we saw sends to a
 * partition's old leader wait forever while the in-flight window stayed full). Each send gets the delivery
 * timeout: past it, it fails as a TIMEOUT (indeterminate: it may still land) and the library producer is
 * replaced by a new one (a new producer id when idempotent).
 */
class PlatformaticProducer implements DriverProducer {
  private producer: Producer
  private readonly make: () => Producer
  private readonly acc: Accumulator
  /** Library producers replaced after a send outlived the delivery timeout. */
  replaced = 0
  private closing = false

  constructor(make: () => Producer, first: Producer, opts: ProducerOptions, deliveryTimeoutMs: number) {
    this.make = make
    this.producer = first
    const acks = opts.acks ?? -1
    // Without idempotence a retry may duplicate, so only the retries asked for (default none) happen.
    const retryAll = (opts.idempotent ?? false) || (opts.retries ?? 0) > 0
    this.acc = new Accumulator((topic, partition, records, done) => {
      const deadline = Date.now() + deliveryTimeoutMs
      let settled = false
      let definite = true
      const finish = (r: ProduceResult): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        done(r)
      }
      let producer = this.producer
      const timer = setTimeout(() => {
        finish({ ok: false, error: clientError('TIMEOUT', `@platformatic/kafka gave no outcome within the delivery timeout (${deliveryTimeoutMs} ms)`, false) })
        this.replace(producer)
      }, deliveryTimeoutMs)
      const messages = records.map((r) => ({
        topic,
        partition,
        key: r.key ?? undefined,
        value: r.value ?? undefined,
        timestamp: r.timestamp === undefined ? undefined : BigInt(r.timestamp),
        headers: r.headers ? new Map(r.headers.map((h) => [Buffer.from(h.key), h.value ?? Buffer.alloc(0)])) : undefined,
      }))
      const attempt = (): void => {
        producer = this.producer
        producer.send({ acks, messages }).then(
          (res) => {
            const o = res.offsets?.find((x) => x.topic === topic && x.partition === partition)
            finish({ ok: true, baseOffset: o ? Number(o.offset) : -1 })
          },
          (err: unknown) => {
            const e = platformaticError(err)
            definite &&= e.definite
            // The library retries a produce on the leader it first picked, even when that broker is dead
            // (docs/upstream/platformatic-kafka-producer.md): retry here, on fresh metadata, until the delivery
            // timeout. An idempotent producer resends with the same sequence, so the broker drops a duplicate.
            if (retryAll && !this.closing && e.retriable && Date.now() + RETRY_BACKOFF_MS < deadline && !settled) {
              producer.clearMetadata()
              setTimeout(attempt, RETRY_BACKOFF_MS)
              return
            }
            finish({ ok: false, error: { ...e, definite } })
          },
        )
      }
      attempt()
    }, opts)
  }

  private replace(wedged: Producer): void {
    if (wedged !== this.producer) return
    this.replaced++
    this.producer = this.make()
    void settles(wedged.close(), 5000)
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
    // What is still in flight gets its outcome; nothing new is retried.
    this.closing = true
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

/**
 * One library Consumer and its stream. The library cannot recover either from some faults (see the header),
 * so the driver throws them away and makes new ones on the same group.
 */
interface Incarnation {
  readonly consumer: Consumer
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null
  assigned: TopicPartition[]
  /** tpKey of each partition in `assigned`: only their records are delivered. */
  owned: Set<string>
  /** Replaced: its events no longer count. */
  dead: boolean
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`

/** Bounded wait: resolves false when `p` did not settle in time (its outcome is then ignored). */
async function settles(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

type GetConnection = (broker: unknown, cb: (e: Error | null, connection?: unknown) => void) => void

/**
 * When the group coordinator has left the cluster metadata, the library asks its pool for a connection to
 * `undefined` and throws a TypeError from a timer (docs/upstream/platformatic-kafka-coordinator.md): a
 * retriable network error instead, which the recovery below then handles.
 */
function guardMissingBroker(client: Consumer): void {
  const target = client as unknown as Record<symbol, GetConnection>
  const original = target[kGetConnection]!.bind(client)
  target[kGetConnection] = (broker, cb) => {
    if (broker === undefined || broker === null) cb(new NetworkError('the broker is not in the cluster metadata'))
    else original(broker, cb)
  }
}

/** Closes a library consumer within `ms`; when leaving the group fails (a dead coordinator) its connections are closed anyway. */
async function closeConsumer(c: Consumer, ms: number): Promise<void> {
  const leaving = new Promise<void>((resolve, reject) => c.close(true, (e) => (e ? reject(e) : resolve())))
  if ((await settles(leaving, ms)) && c.closed) return
  // close() gives up when LeaveGroup fails and keeps the client open: close the base client directly.
  const baseClose = (Object.getPrototypeOf(Consumer.prototype) as { close(this: Consumer): Promise<void> }).close
  await settles(baseClose.call(c), ms)
}

/**
 * Group membership on the library's MessagesStream, recovering as Kafka's Java client does:
 * - a fetch or metadata error destroys the library's stream: open a new one on the same membership, after a
 *   metadata refresh, from the offsets this consumer delivered (committed first);
 * - heartbeats stop for good after one failed heartbeat, and the coordinator is cached forever (NOT_COORDINATOR
 *   and a dead coordinator are retried on the same node): replace the whole consumer, which finds the
 *   coordinator again and rejoins with the same member id (a follower rejoining unchanged keeps its partitions);
 * - offsets are committed by us, only for records handed to onRecords, so a stream destroyed with records
 *   still buffered never commits past what the harness saw.
 */
class PlatformaticGroupConsumer implements DriverConsumer {
  private readonly create: () => Consumer
  private readonly o: ConsumerOptions
  private cur: Incarnation | null = null
  private isPaused = false
  private closed = false
  /** Next offset after the last record delivered, for partitions owned since the last assignment. */
  private readonly delivered = new Map<string, { topic: string; partition: number; next: bigint }>()
  private readonly committed = new Map<string, bigint>()
  private commitTimer: NodeJS.Timeout | null = null
  private committing: Promise<void> | null = null
  private recovery: Promise<void> | null = null
  private backoffMs = 0
  /** How often the stream and the whole consumer were re-created. */
  readonly restarts = { stream: 0, consumer: 0 }

  constructor(create: () => Consumer, opts: ConsumerOptions) {
    this.create = create
    this.o = opts
  }

  get paused(): boolean {
    return this.isPaused
  }

  async start(): Promise<void> {
    if (this.cur) return
    // The Java consumer keeps looking for its coordinator for as long as poll() runs; the library gives up
    // after its few retries (COORDINATOR_NOT_AVAILABLE while __consumer_offsets is still being placed on a
    // busy cluster). Keep joining until the deadline; a client-side error (bad options) fails at once.
    const deadline = Date.now() + START_DEADLINE_MS
    for (;;) {
      try {
        await this.spawn(null)
        break
      } catch (e) {
        // Refused by the authorizer: retrying will not help, and the code says why.
        if (leaves(e).some((x) => /AUTHORIZATION_FAILED$/.test(x.apiId ?? ''))) {
          const d = platformaticError(e)
          throw new Error(`joining the group: ${d.name}: ${d.message}`, { cause: e })
        }
        if (this.closed || leaves(e).some((x) => x.code === 'PLT_KFK_USER') || Date.now() + START_BACKOFF_MS > deadline) throw e
        this.report(e)
        await new Promise((r) => setTimeout(r, START_BACKOFF_MS))
      }
    }
    this.commitTimer = setInterval(() => void this.commit(), 1000)
    this.commitTimer.unref()
  }

  pause(): void {
    this.isPaused = true
    this.cur?.stream?.pause()
  }

  resume(): void {
    this.isPaused = false
    this.cur?.stream?.resume()
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.commitTimer) clearInterval(this.commitTimer)
    // Bounded so that the whole close fits the teardown step's 10 s.
    await settles(this.recovery ?? Promise.resolve(), 2000)
    const inc = this.cur
    if (!inc) return
    await settles(this.commit(), 2000)
    inc.dead = true
    if (inc.stream) await settles(inc.stream.close(), 2000)
    await closeConsumer(inc.consumer, 1500)
    this.revoke(inc)
  }

  private report(e: unknown): void {
    if (!this.closed) this.o.onError?.(platformaticError(e))
  }

  private revoke(inc: Incarnation): void {
    const lost = inc.assigned
    inc.assigned = []
    inc.owned = new Set()
    for (const tp of lost) this.delivered.delete(tpKey(tp.topic, tp.partition))
    if (lost.length > 0) this.o.onRevoke?.(lost)
  }

  /** A new library consumer on the group (the previous one's member id kept), and its stream. Throws when it cannot join. */
  private async spawn(previous: Incarnation | null): Promise<void> {
    const consumer = this.create()
    guardMissingBroker(consumer)
    const inc: Incarnation = { consumer, stream: null, assigned: [], owned: new Set(), dead: false }
    if (previous?.consumer.memberId) consumer.memberId = previous.consumer.memberId
    this.cur = inc
    const live = (): boolean => this.cur === inc && !inc.dead && !this.closed
    consumer.on('consumer:group:join', (p) => {
      if (!live()) return
      const next: TopicPartition[] = []
      for (const a of p.assignments ?? []) for (const partition of a.partitions) next.push({ topic: a.topic, partition })
      this.revoke(inc)
      inc.assigned = next
      inc.owned = new Set(next.map((tp) => tpKey(tp.topic, tp.partition)))
      if (next.length > 0) this.o.onAssign?.(next)
      this.restream(inc)
    })
    consumer.on('consumer:group:rebalance', () => {
      if (!live()) return
      void this.commit()
      this.revoke(inc)
    })
    consumer.on('consumer:group:leave', () => live() && this.revoke(inc))
    // The library stops heartbeating after any heartbeat error it does not rejoin for (see the header).
    consumer.on('consumer:heartbeat:error', (p) => {
      if (!live()) return
      this.report(p.error)
      this.replace(inc)
    })
    // A rejoin that failed after its retries.
    consumer.on('error', (e: unknown) => {
      if (!live()) return
      this.report(e)
      this.replace(inc)
    })
    try {
      await shimFetchV12(consumer)
      await this.openStream(inc)
    } catch (e) {
      inc.dead = true
      void closeConsumer(consumer, 5000)
      throw e
    }
  }

  private async openStream(inc: Incarnation): Promise<void> {
    const from = this.o.from ?? 'earliest'
    const stream = await inc.consumer.consume({
      topics: [...this.o.group!.topics],
      mode: 'committed',
      fallbackMode: from,
      autocommit: false,
      sessionTimeout: this.o.group!.sessionTimeoutMs ?? SESSION_TIMEOUT_MS,
      rebalanceTimeout: this.o.group!.sessionTimeoutMs ?? SESSION_TIMEOUT_MS,
      heartbeatInterval: 1000,
      maxWaitTime: this.o.maxWaitMs ?? 500,
      minBytes: this.o.minBytes ?? 1,
      maxBytes: this.o.maxBytes ?? 50 << 20,
    })
    if (inc.dead || this.closed) {
      void settles(stream.close(), 5000)
      return
    }
    inc.stream = stream
    if (this.isPaused) stream.pause()
    stream.on('data', (m) => {
      // Records of a replaced stream, or of partitions revoked since they were fetched (see restream).
      if (inc.dead || inc.stream !== stream || !inc.owned.has(tpKey(m.topic, m.partition))) return
      this.o.onRecords({
        topic: m.topic,
        partition: m.partition,
        highWatermark: -1,
        records: [{ offset: Number(m.offset), timestamp: Number(m.timestamp), key: m.key ?? null, value: m.value ?? null }],
      })
      // Only once onRecords returned: a callback that throws makes the library destroy the stream, and the
      // record is read again from here.
      this.delivered.set(tpKey(m.topic, m.partition), { topic: m.topic, partition: m.partition, next: m.offset + 1n })
    })
    stream.on('error', (e: unknown) => {
      if (!inc.dead) this.report(e)
    })
    stream.on('close', () => {
      if (inc.stream !== stream) return
      inc.stream = null
      if (!inc.dead && !this.closed && this.cur === inc) this.reopen(inc)
    })
  }

  /**
   * After a join, a new stream for the new assignment. The library's stream keeps fetching the old
   * assignment while the group rebalances, delivers fetches issued before the join after it, and builds a
   * fetch from the offsets it held before the join while it is still looking up the committed ones
   * (docs/upstream/platformatic-kafka-rebalance.md): read on, those records jump over or back across what
   * the partition's other owner read in between. Kafka's Java consumer drops such fetches; a new stream
   * starts from the committed offsets of this assignment, and the old one's records are ignored.
   */
  private restream(inc: Incarnation): void {
    const old = inc.stream
    // A join inside consume() comes before its stream exists, and that stream starts from the join's offsets.
    if (!old || inc.dead || this.closed) return
    inc.stream = null
    void (async () => {
      try {
        await this.openStream(inc)
      } catch (e) {
        this.report(e)
        this.replace(inc)
      }
      await settles(old.close(), 2000)
    })()
  }

  /** The stream died but the membership may be fine: refresh metadata and open a new stream from what was delivered. */
  private reopen(inc: Incarnation): void {
    this.restarts.stream++
    this.recover(async () => {
      await settles(this.commit(), 5000)
      inc.consumer.clearMetadata()
      // Closing the stream untracked its topics; tracking them again spares a rejoin while the membership holds.
      inc.consumer.topics.trackAll(...this.o.group!.topics)
      try {
        await this.openStream(inc)
      } catch (e) {
        this.report(e)
        this.replace(inc)
      }
    })
  }

  /** The membership is broken beyond the library's repair: a new consumer on the group. */
  private replace(inc: Incarnation): void {
    if (inc.dead || this.closed) return
    inc.dead = true
    this.restarts.consumer++
    this.revoke(inc)
    const old = inc.stream
    inc.stream = null
    this.recover(async () => {
      if (old) await settles(old.close(), 2000)
      await closeConsumer(inc.consumer, 2000)
      while (!this.closed) {
        try {
          await this.spawn(inc)
          return
        } catch (e) {
          this.report(e)
          await this.backoff()
        }
      }
    })
  }

  /** Runs recovery steps one at a time, with a growing pause between failures (reset once records flow). */
  private recover(step: () => Promise<void>): void {
    const prev = this.recovery ?? Promise.resolve()
    const next = prev.then(async () => {
      if (this.closed) return
      await this.backoff()
      await step()
    })
    this.recovery = next.catch((e: unknown) => this.report(e))
  }

  private async backoff(): Promise<void> {
    this.backoffMs = Math.min(2000, Math.max(100, this.backoffMs * 2))
    await new Promise((r) => setTimeout(r, this.backoffMs))
  }

  /** Commits what was delivered on the partitions owned now (one commit at a time). */
  private commit(): Promise<void> {
    if (this.committing) return this.committing
    const inc = this.cur
    if (!inc || inc.dead || !inc.consumer.memberId) return Promise.resolve()
    const offsets = [...this.delivered.entries()]
      .filter(([k, d]) => this.committed.get(k) !== d.next)
      .map(([, d]) => ({ topic: d.topic, partition: d.partition, offset: d.next, leaderEpoch: -1 }))
    if (offsets.length === 0) return Promise.resolve()
    // Records flow again: the next failure starts a fresh backoff.
    this.backoffMs = 0
    this.committing = inc.consumer
      .commit({ offsets })
      .then(
        () => {
          for (const o of offsets) this.committed.set(tpKey(o.topic, o.partition), o.offset)
        },
        (e: unknown) => this.report(e),
      )
      .finally(() => {
        this.committing = null
      })
    return this.committing
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
      const make = () =>
        new Producer({
          ...baseOptions(opts, clientId),
          idempotent,
          acks: p.acks ?? -1,
          compression,
          timeout: p.timeoutMs ?? 30_000,
          // The library insists on more than one retry when idempotent; the driver retries beyond that (see PlatformaticProducer).
          retries: idempotent ? 2 : (p.retries ?? 0),
          retryDelay: RETRY_BACKOFF_MS,
          maxInflights: p.maxInFlight ?? 5,
          autocreateTopics: false,
        })
      const producer = make()
      await producer.metadata({ topics: [] })
      // The library takes a batch's first sequence when it encodes the batch but advances it only when the
      // response arrives, so two requests in flight to one partition carry the same sequence and the broker
      // rightly drops the second as a duplicate (acked, never stored). One request at a time per partition keeps it right.
      return track(new PlatformaticProducer(make, producer, idempotent ? { ...p, maxInFlight: 1 } : p, p.deliveryTimeoutMs ?? opts.requestTimeoutMs ?? 30_000))
    },
    async consumer(c: ConsumerOptions) {
      const base = baseOptions(opts, clientId)
      if (c.group) {
        const group = c.group
        const make = () => new Consumer({ ...base, groupId: group.groupId, autocreateTopics: false, retries: 3, retryDelay: 250 })
        return track(new PlatformaticGroupConsumer(make, c))
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
