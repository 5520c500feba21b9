// Producing: records batched per partition (batching.ts) and encoded with encodeRecordBatch, one partition per
// Produce request; pre-encoded batches (BatchTemplate) sent as they are. Only an idempotent producer retries
// (see deliver), so every other failure stays the exact outcome of one attempt.

import { errorName } from '../../../broker/protocol/errors.ts'
import { InitProducerId } from '../../../broker/protocol/messages/init-producer-id.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { decodeRecords, encodeRecordBatch, RecordBatchView, restampBatch, type BatchProducer, type CompressionName } from '../../../broker/protocol/record-batch.ts'
import type { Out } from '../../../broker/protocol/schema.ts'
import type { Writer } from '../../../broker/protocol/writer.ts'
import {
  clientError,
  DriverFailure,
  type Acks,
  type DriverProducer,
  type EncodedBatchTemplate,
  type PreEncodedSender,
  type ProduceBatch,
  type ProduceRecord,
  type ProduceResult,
  type ProducerOptions,
} from '../../driver.ts'
import { writePayloadHeader } from '../../generators.ts'
import { Accumulator } from '../batching.ts'
import type { RawCluster } from './cluster.ts'
import { asDriverError, kafkaError, produceError, rawCapabilities, STALE_METADATA } from './common.ts'
import type { RawConnection } from './connection.ts'

/** Resends of a batch refused with OUT_OF_ORDER_SEQUENCE_NUMBER before it fails and the producer id is replaced. */
const MAX_OUT_OF_ORDER_RETRIES = 3
/** retry.backoff.ms */
const RETRY_BACKOFF_MS = 100
/** A batch after one that failed: retried with it, in order. */
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45

interface ProducerIdentity {
  readonly producerId: number
  readonly producerEpoch: number
}

/** A send in the slow path (see later). */
interface SlowSend {
  /** topic NUL partition */
  readonly key: string
  /** Its place in the producer's send order. */
  readonly ticket: number
  readonly step: () => Promise<void>
}

export class RawProducer implements DriverProducer {
  private readonly cluster: RawCluster
  private readonly acks: Acks
  private readonly timeoutMs: number
  private readonly deliveryTimeoutMs: number
  private readonly compression: CompressionName
  private readonly idempotent: boolean
  private readonly acc: Accumulator
  private identity: ProducerIdentity | null = null
  private identityPromise: Promise<ProducerIdentity> | null = null
  private readonly sequences = new Map<string, number>()
  /** Sends waiting for metadata, a connection or a producer id, taken one at a time from the front (see later). */
  private readonly slowQueue: SlowSend[] = []
  /** The slow path is working: a step runs or is about to; later sends queue behind it (order). */
  private slowActive = false
  /** Numbers deliver() calls in send order. */
  private tickets = 0
  private encodedPending = 0
  private encodedWaiters: (() => void)[] = []

  constructor(cluster: RawCluster, opts: ProducerOptions) {
    this.cluster = cluster
    this.acks = opts.acks ?? -1
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 120_000
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
    this.deliver(topic, partition, batch, () => batch, (r) => {
      this.encodedPending -= recordCount
      done(r)
      if (this.encodedPending === 0) {
        const w = this.encodedWaiters
        this.encodedWaiters = []
        for (const f of w) f()
      }
    })
  }

  /** Raw ingest for the harness: BatchTemplates, each send stamped with this producer's id and sequence. */
  readonly preEncoded: PreEncodedSender = {
    template: (values) => new BatchTemplate(values),
    send: (topic, partition, template, firstValueId, intendedMs, done) => {
      if (!(template instanceof BatchTemplate)) throw new TypeError('a template of another driver')
      const id = this.identity
      const n = template.recordCount
      const stamp = id ? { producerId: id.producerId, producerEpoch: id.producerEpoch, baseSequence: this.nextSequence(topic, partition, n) } : {}
      this.sendEncoded(topic, partition, template.stamp(firstValueId, intendedMs, stamp), n, done)
    },
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
    this.deliver(topic, partition, null, () => this.encode(topic, partition, records), done)
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

  /**
   * One send, from its first attempt to its outcome within the delivery timeout. An idempotent producer retries
   * a retriable failure (through the slow path after RETRY_BACKOFF_MS, ahead of every send made after it)
   * with the same bytes: the same producer id and sequence, so the broker drops a copy that had landed. The
   * final failure is definite only if every attempt was; it ends the producer id (a sequence gap would fail
   * every later batch), and a send stamped with an older producer id is not retried under a new one.
   */
  private deliver(topic: string, partition: number, prebuilt: Buffer | null, builder: () => Buffer, done: (r: ProduceResult) => void): void {
    const deadline = performance.now() + this.deliveryTimeoutMs
    const ticket = this.tickets++
    let built = prebuilt
    // Dropped once used: it holds the records, which the encoded batch replaces.
    let build: (() => Buffer) | null = builder
    const make = (): Buffer => {
      if (built === null) {
        built = build!()
        build = null
      }
      return built
    }
    let indefinite = false
    let outOfOrder = 0
    const outcome = (r: ProduceResult): void => {
      if (r.ok || !this.idempotent) return done(r)
      if (!r.error.definite) indefinite = true
      // OUT_OF_ORDER_SEQUENCE_NUMBER is worth a retry when a batch ahead of this one failed and is being resent;
      // when it persists the leader lost what it had acknowledged (an unclean election): resending the same
      // bytes until the delivery timeout would hold every later send behind it, so give up and start over with
      // a new producer id, as the Java producer bumps its epoch.
      const retriable = r.error.retriable || (r.error.code === OUT_OF_ORDER_SEQUENCE_NUMBER && ++outOfOrder <= MAX_OUT_OF_ORDER_RETRIES)
      const sameProducer = built === null || (this.identity !== null && new RecordBatchView(built).producerId === this.identity.producerId)
      if (retriable && sameProducer && performance.now() + RETRY_BACKOFF_MS < deadline) {
        // Into the slow path now, backoff included: sends made from here on queue behind the retry.
        this.later(topic, partition, ticket, outcome, make, deadline, true)
        return
      }
      this.identity = null
      done(indefinite && r.error.definite ? { ok: false, error: { ...r.error, definite: false } } : r)
    }
    if (!this.slowActive && !this.cluster.refreshPending && (!this.idempotent || this.identity)) {
      const conn = this.cluster.readyNode(this.cluster.leaderOf(topic, partition))
      if (conn) {
        this.produceOn(conn, topic, partition, make(), outcome)
        return
      }
    }
    this.later(topic, partition, ticket, outcome, make, deadline)
  }

  /**
   * The slow path: metadata, connection, producer id; sends queue here in order until it drains. A send still
   * waiting here at its delivery timeout fails then (definite: it was never written), whatever it waits behind.
   * A retry goes back ahead of its partition's later sends, as the Java producer re-enqueues a batch in sequence
   * order: behind them it would be encoded after them (a batch not yet encoded gets its sequence numbers when
   * it goes out), so the broker would write them first; or, encoded, reach the leader after them and turn
   * each into an OUT_OF_ORDER_SEQUENCE_NUMBER.
   */
  private later(topic: string, partition: number, ticket: number, done: (r: ProduceResult) => void, build: () => Buffer, deadline: number, retry = false): void {
    let waiting = true
    const expiry = setTimeout(() => {
      if (!waiting) return
      waiting = false
      // A pre-encoded batch holds its sequence numbers already: later batches would meet a gap, so start over.
      if (this.idempotent) this.identity = null
      done({ ok: false, error: clientError('TIMEOUT', `${topic}/${partition}: not sent within the delivery timeout (${this.deliveryTimeoutMs} ms): no leader connection`, true) })
    }, Math.max(0, deadline - performance.now()))
    const settle = (r: ProduceResult): void => {
      if (!waiting) return
      waiting = false
      clearTimeout(expiry)
      done(r)
    }
    const step = async (): Promise<void> => {
      if (!waiting) return
      try {
        if (retry) await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS))
        // A failure just marked the metadata stale: route by the refreshed leader, not back to the one that failed.
        await this.cluster.settled()
        await this.cluster.ensureTopic(topic, 5000)
        if (this.idempotent) await this.ensureIdentity()
        const leader = this.cluster.leaderOf(topic, partition)
        if (leader < 0) {
          settle({ ok: false, error: { code: 3, name: 'UNKNOWN_TOPIC_OR_PARTITION', definite: true, retriable: true, message: `${topic}/${partition} has no leader` } })
          return
        }
        const conn = await this.cluster.node(leader)
        if (!waiting) return
        const batch = build()
        waiting = false
        clearTimeout(expiry)
        this.produceOn(conn, topic, partition, batch, done)
      } catch (e) {
        // A leader we cannot reach (killed, partitioned) has probably moved: look again before the next send.
        this.cluster.invalidate()
        settle({ ok: false, error: asDriverError(e, true) })
      }
    }
    const key = `${topic}\u0000${partition}`
    const entry: SlowSend = { key, ticket, step }
    // A first attempt has the newest ticket of all: its place is the back (no scan, however long the queue).
    const at = retry ? this.slowQueue.findIndex((q) => q.key === key && q.ticket > ticket) : -1
    if (at < 0) this.slowQueue.push(entry)
    else this.slowQueue.splice(at, 0, entry)
    if (this.slowActive) return
    this.slowActive = true
    void Promise.resolve().then(() => this.runSlow())
  }

  private async runSlow(): Promise<void> {
    try {
      for (let q = this.slowQueue.shift(); q; q = this.slowQueue.shift()) await q.step()
    } finally {
      this.slowActive = false
    }
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
        done({ ok: false, error: produceError(pr.errorCode, pr.errorMessage, this.acks) })
        return
      }
      done({ ok: true, baseOffset: pr.baseOffset })
    })
  }

  private afterFailure(code: number | null): void {
    // REQUEST_TIMED_OUT too: a leader that no longer hears from its followers (one resumed after a pause that
    // has not learnt of its successor) parks every acks=all write until the timeout.
    if (code === null || code === 7 || STALE_METADATA.has(code)) this.cluster.invalidate()
  }
}

/**
 * A batch encoded once and stamped per send: values keep their size and place, so stamping is a copy, a
 * header write per record and one CRC. Each record's value must be at least the payload header (20 bytes).
 */
export class BatchTemplate implements EncodedBatchTemplate {
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
  stamp(firstValueId: number, intendedMs: number, opts: BatchProducer & { timestamp?: number } = {}): Buffer {
    const b = Buffer.allocUnsafe(this.template.length)
    this.template.copy(b)
    for (let i = 0; i < this.recordCount; i++) writePayloadHeader(b, firstValueId + i, intendedMs, this.valueOffsets[i]!)
    restampBatch(b, 0, opts.timestamp ?? Date.now(), opts)
    return b
  }
}
