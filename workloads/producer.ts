// The producer loop: an open-loop schedule (rate.ts) drives a Driver producer with generated messages
// (generators.ts), and every send, ack and failure goes to the run's history with its intended and actual
// times, so reports measure latency from the intended time and show the send delay separately.
//
// Routing: keyed messages go where Kafka's default partitioner puts them (partitionForKey); keyless ones
// stick to one partition until about a batch of bytes went there, then move to another chosen at random
// (Kafka's sticky partitioner, KIP-480), or go round robin if asked.
// Back-pressure: at most `maxPending` records wait for an outcome; beyond that the schedule falls behind
// (send delay grows, latency from intended time with it) instead of memory growing without bound.
// Hand-off: the records one pacer turn emits for a partition go to the driver in one send() call, with one
// callback, instead of a call per record; every record keeps its own intended and send time. This halved the
// loop's own cost per record at 100 B (bench: drivers.harness-no-client). A driver never splits a send() call
// across batches, so a group is kept to an eighth of the producer's batch size (as the driver's batching
// counts bytes): a batch still fills to at least 7/8 of batch.size before a group no longer fits, and the
// driver's batching, not the loop, decides the requests.
// Raw ingest: with a driver that offers it (DriverProducer.preEncoded, the raw driver), `preEncoded` sends
// pre-encoded batches stamped per send, one schedule item per batch, so the client is never the bottleneck
// being measured.

import { partitionForKey, type DriverError, type DriverProducer, type EncodedBatchTemplate, type ProduceRecord, type ProduceResult } from './driver.ts'
import { recordSize } from './drivers/batching.ts'
import {
  deriveSeed,
  keyBytes,
  keyGenerator,
  PayloadPool,
  Prng,
  sizeGenerator,
  ValueIds,
  type KeySpec,
  type PayloadOptions,
  type SizeSpec,
} from './generators.ts'
import { historyTime, type HistorySink, type PhaseName } from './history/events.ts'
import { LatencyHistogram, type LatencySummary } from './history/latency.ts'
import { MaxRateController, Pacer, Schedule, systemScheduler, type RateDecision, type RateSpec, type Scheduler } from './rate.ts'

export interface ProducerLoopOptions {
  /** The producer's id in the history ("orders-0"). */
  readonly name: string
  readonly producer: DriverProducer
  readonly topic: string
  /** Partition count of the topic. */
  readonly partitions: number
  readonly rate: RateSpec
  /** Schedule length from start: nothing intended at or after start + durationMs is sent. */
  readonly durationMs?: number
  /** Or stop after this many messages (whichever comes first). */
  readonly count?: number
  /** Outcomes completing before start + warmupMs are left out of this loop's summary (the history has them). */
  readonly warmupMs?: number
  readonly keys?: KeySpec
  readonly sizes?: SizeSpec
  readonly payload?: PayloadOptions
  readonly seed?: number
  /** Shared by every producer of a run, so value ids are dense and unique in the run. */
  readonly valueIds?: ValueIds
  /** Records without an outcome before the schedule waits. Default 100 000. */
  readonly maxPending?: number
  readonly keyless?: 'sticky' | 'round-robin'
  /** Bytes a keyless partition gets before the sticky partitioner moves on. Default 16 384 (batch.size). */
  readonly stickyBytes?: number
  /** The producer's batch size (batch.size), which bounds a send() group (see the header). Default 16 384. */
  readonly batchBytes?: number
  readonly scheduler?: Scheduler
  /** Monotonic ms of the run's start (history times count from it). Default: when the loop starts. */
  readonly runOriginMs?: number
  readonly history?: HistorySink
  /** Totals received by the run's consumers, so max-rate discovery also watches the receive backlog. */
  readonly received?: () => number
  /** Called with every max-rate decision. */
  onRate?(d: RateDecision): void
  /** Raw ingest (raw driver only): items are batches of this many records built from one template. */
  readonly preEncoded?: { readonly recordsPerBatch: number; readonly templates?: number }
}

export interface ProducerSummary {
  readonly name: string
  readonly sent: number
  readonly acked: number
  readonly failed: number
  readonly failedDefinite: number
  readonly bytesAcked: number
  /** Failures by error name. */
  readonly errors: Readonly<Record<string, number>>
  /** The measured window (after warmup) and what completed in it. */
  readonly window: { readonly fromMs: number; readonly toMs: number; readonly acked: number; readonly bytes: number; readonly rate: number; readonly bytesRate: number }
  /** Ack - intended send: what a user would wait (coordinated omission corrected). */
  readonly latency: LatencySummary
  /** Ack - actual send. */
  readonly serviceLatency: LatencySummary
  /** Actual - intended send. */
  readonly sendDelay: LatencySummary
  /** Max-rate mode: the discovered sustainable rate and the decisions on the way. */
  readonly maxRate: { readonly sustained: number; readonly final: number; readonly decisions: readonly RateDecision[] } | null
}

/** Emits warmup-end and measure-end at their times; returns a canceller. */
export function schedulePhases(history: HistorySink, scheduler: Scheduler, originMs: number, warmupMs: number, durationMs: number): { cancel(): void } {
  const timers: { cancel(): void }[] = []
  const at = (phase: PhaseName, ms: number) => {
    timers.push(scheduler.schedule(() => history.append({ type: 'phase', phase, time: historyTime(scheduler.now(), originMs) }), originMs + ms - scheduler.now()))
  }
  at('warmup-end', warmupMs)
  at('measure-end', durationMs)
  return { cancel: () => timers.forEach((t) => t.cancel()) }
}

/** Records sent in one send() call: `count` consecutive value ids from `first`, one partition; per record its
 *  intended and actual send times and its value size, or one of each for a pre-encoded batch (whose latency
 *  is one sample per batch). */
interface SendGroup {
  readonly first: number
  count: number
  readonly partition: number
  /** Emptied once handed to the producer: an outcome needs only the counts and times, and values held until it
   *  would outlive the young generation (GC cost). */
  records: ProduceRecord[]
  readonly intended: number[]
  readonly actual: number[]
  readonly sizes: number[]
  /** Value bytes. */
  bytes: number
  /** Bytes as the driver's batching counts them (recordSize): what GROUP_MAX_BYTES and batchBytes bound. */
  batchSize: number
}

/** A pacer turn's records for one partition go to the producer in one send() call of at most this many records
 *  and at most min(GROUP_MAX_BYTES, batchBytes / 8) bytes as the driver's batching counts them (one record
 *  always goes, whatever its size). */
const GROUP_MAX_RECORDS = 256
const GROUP_MAX_BYTES = 16_384
const NO_RECORDS: ProduceRecord[] = []

export class ProducerLoop {
  private readonly o: ProducerLoopOptions
  private readonly sched: Scheduler
  private readonly ids: ValueIds
  private readonly maxPending: number
  private readonly pool: PayloadPool | null
  private readonly nextKey: () => number | null
  private readonly nextSize: () => number
  private readonly rng: Prng
  private readonly templates: EncodedBatchTemplate[] = []
  private templateIndex = 0
  private origin = 0
  private warmupEnd = 0
  private schedule: Schedule | null = null
  private pacer: Pacer | null = null
  private controller: MaxRateController | null = null
  private controllerTimer: { cancel(): void } | null = null
  private lastControl = 0
  private decisions: RateDecision[] = []
  private sticky = -1
  private stickyLeft = 0
  private roundRobin = 0
  private batchRoundRobin = 0
  private resolveDone: (() => void) | null = null
  private stopped = false
  private group: SendGroup | null = null
  private readonly groupMaxBytes: number
  private readonly latency = new LatencyHistogram()
  private readonly service = new LatencyHistogram()
  private readonly delay = new LatencyHistogram()
  private readonly errors: Record<string, number> = {}
  sent = 0
  acked = 0
  failed = 0
  failedDefinite = 0
  bytesSent = 0
  bytesAcked = 0
  private windowAcked = 0
  private windowBytes = 0
  private lastCompletion = 0

  constructor(opts: ProducerLoopOptions) {
    if (!(opts.partitions >= 1)) throw new RangeError(`partitions must be >= 1, got ${opts.partitions}`)
    if (opts.durationMs === undefined && opts.count === undefined) throw new RangeError('a producer loop needs a durationMs or a count')
    this.o = opts
    this.sched = opts.scheduler ?? systemScheduler()
    this.ids = opts.valueIds ?? new ValueIds()
    this.maxPending = opts.maxPending ?? 100_000
    this.groupMaxBytes = Math.min(GROUP_MAX_BYTES, Math.floor((opts.batchBytes ?? 16_384) / 8))
    const seed = opts.seed ?? 1
    const keys = keyGenerator(opts.keys ?? { kind: 'none' }, deriveSeed(seed, opts.name, 'keys'))
    const sizes = sizeGenerator(opts.sizes ?? { kind: 'fixed', bytes: 1024 }, deriveSeed(seed, opts.name, 'sizes'))
    this.nextKey = () => keys.next()
    this.nextSize = () => sizes.next()
    this.rng = new Prng(deriveSeed(seed, opts.name, 'partitions'))
    if (opts.preEncoded) {
      if ((opts.keys?.kind ?? 'none') !== 'none') throw new RangeError('pre-encoded batches carry no keys: use keys none')
      const sender = opts.producer.preEncoded
      if (!sender) throw new RangeError('pre-encoded batches need a driver that sends them (raw)')
      const n = opts.preEncoded.recordsPerBatch
      const poolSeed = deriveSeed(seed, opts.name, 'payload')
      const pool = new PayloadPool(sizes.max, poolSeed, opts.payload)
      for (let t = 0; t < (opts.preEncoded.templates ?? 8); t++) {
        const values: Buffer[] = []
        for (let i = 0; i < n; i++) values.push(pool.make(sizes.next(), 0, 0))
        this.templates.push(sender.template(values))
      }
      this.pool = null
    } else {
      this.pool = new PayloadPool(sizes.max, deriveSeed(seed, opts.name, 'payload'), opts.payload)
    }
  }

  get pending(): number {
    return this.sent - this.acked - this.failed
  }

  /** Runs the schedule to its end and waits for every outcome. */
  run(): Promise<ProducerSummary> {
    if (this.pacer) throw new Error('a ProducerLoop runs once')
    const o = this.o
    const now = this.sched.now()
    this.origin = o.runOriginMs ?? now
    this.warmupEnd = now + (o.warmupMs ?? 0)
    const rate = o.rate
    if (rate.kind === 'max') {
      this.controller = new MaxRateController(rate.options)
      this.schedule = new Schedule(now, this.controller.rate)
    } else {
      this.schedule = new Schedule(now, rate.perSecond)
    }
    const perItem = o.preEncoded?.recordsPerBatch ?? 1
    const bytesRate = rate.kind === 'fixed' && rate.unit === 'bytes'
    const done = new Promise<void>((resolve) => (this.resolveDone = resolve))
    this.pacer = new Pacer({
      scheduler: this.sched,
      schedule: this.schedule,
      endMs: o.durationMs === undefined ? undefined : now + o.durationMs,
      maxItems: o.count === undefined ? undefined : Math.ceil(o.count / perItem),
      canSend: () => this.pending < this.maxPending,
      emit: (intended, actual) => {
        const bytes = this.templates.length > 0 ? this.emitBatch(intended, actual) : this.emitOne(intended, actual)
        return bytesRate ? bytes : perItem
      },
      onDone: () => this.finish(),
      onTurnEnd: () => this.sendGroup(),
    })
    if (this.controller) {
      this.lastControl = now
      this.armController()
    }
    this.pacer.start()
    return done.then(() => this.summary())
  }

  /** Ends the schedule early; run() resolves once outstanding sends complete. */
  stop(): void {
    if (!this.pacer || this.pacer.done) return
    this.pacer.stop()
    this.finish()
  }

  private finish(): void {
    if (this.stopped) return
    this.sendGroup()
    this.stopped = true
    this.controllerTimer?.cancel()
    void this.o.producer.flush().then(() => this.resolveDone?.())
  }

  private armController(): void {
    const c = this.controller!
    this.controllerTimer = this.sched.schedule(() => {
      if (this.stopped) return
      const now = this.sched.now()
      const s = this.schedule!
      const overdue = Math.max(0, s.dueBy(now) - s.consumed)
      const d = c.next({ due: this.sent + overdue, sent: this.sent, completed: this.acked + this.failed, received: this.o.received?.() }, now - this.lastControl)
      this.lastControl = now
      s.setRate(d.rate, now, d.kind === 'back-off')
      this.decisions.push(d)
      this.o.onRate?.(d)
      this.armController()
    }, c.periodMs)
  }

  private ht(ms: number): number {
    return historyTime(ms, this.origin)
  }

  private keylessPartition(size: number): number {
    const n = this.o.partitions
    if (this.o.keyless === 'round-robin') {
      const p = this.roundRobin
      this.roundRobin = (p + 1) % n
      return p
    }
    if (this.sticky < 0 || this.stickyLeft <= 0) {
      // Move to a different partition when there is one.
      const next = n === 1 ? 0 : (this.sticky + 1 + this.rng.int(n - 1)) % n
      this.sticky = this.sticky < 0 ? this.rng.int(n) : next
      this.stickyLeft = this.o.stickyBytes ?? 16_384
    }
    this.stickyLeft -= size
    return this.sticky
  }

  private emitOne(intended: number, actual: number): number {
    const o = this.o
    const id = this.ids.next()
    const k = this.nextKey()
    const key = k === null ? null : keyBytes(k)
    const size = this.nextSize()
    const value = this.pool!.make(size, id, intended)
    const partition = key === null ? this.keylessPartition(size) : partitionForKey(key, o.partitions)
    const h = o.history
    if (h) {
      if (h.appendSend) h.appendSend(id, o.name, o.topic, k === null ? null : String(k), this.ht(intended), this.ht(actual), size)
      else h.append({ type: 'send', value: id, producer: o.name, topic: o.topic, key: k === null ? null : String(k), intended: this.ht(intended), time: this.ht(actual), size })
    }
    this.sent++
    this.bytesSent += size
    if (actual >= this.warmupEnd) this.delay.record((actual - intended) * 1000)
    let g = this.group
    const record = { key, value }
    const batchSize = recordSize(record)
    if (g && (g.partition !== partition || g.first + g.records.length !== id || g.records.length >= GROUP_MAX_RECORDS || g.batchSize + batchSize > this.groupMaxBytes)) {
      this.sendGroup()
      g = null
    }
    if (!g) {
      g = { first: id, count: 0, partition, records: [], intended: [], actual: [], sizes: [], bytes: 0, batchSize: 0 }
      this.group = g
    }
    g.records.push(record)
    g.intended.push(intended)
    g.actual.push(actual)
    g.sizes.push(size)
    g.bytes += size
    g.batchSize += batchSize
    g.count++
    return size
  }

  /** Hands the records gathered in this pacer turn to the producer: one send() call, one callback. */
  private sendGroup(): void {
    const g = this.group
    if (!g) return
    this.group = null
    const records = g.records
    g.records = NO_RECORDS
    this.o.producer.send({ topic: this.o.topic, partition: g.partition, records }, (r) => this.completed(r, g))
  }

  private emitBatch(intended: number, actual: number): number {
    const o = this.o
    const t = this.templates[this.templateIndex]!
    this.templateIndex = (this.templateIndex + 1) % this.templates.length
    const n = t.recordCount
    const first = this.ids.next()
    for (let i = 1; i < n; i++) this.ids.next()
    const partition = this.batchRoundRobin
    this.batchRoundRobin = (partition + 1) % o.partitions
    // The history has one size per value; a template's values vary, so each gets the (rounded) mean.
    const size = Math.round(t.valueBytes / n)
    if (o.history) {
      for (let i = 0; i < n; i++) o.history.append({ type: 'send', value: first + i, producer: o.name, topic: o.topic, key: null, intended: this.ht(intended), time: this.ht(actual), size })
    }
    this.sent += n
    this.bytesSent += t.valueBytes
    if (actual >= this.warmupEnd) this.delay.record((actual - intended) * 1000)
    const g: SendGroup = { first, count: n, partition, records: [], intended: [intended], actual: [actual], sizes: [size], bytes: t.valueBytes, batchSize: t.valueBytes }
    o.producer.preEncoded!.send(o.topic, partition, t, first, intended, (r) => this.completed(r, g))
    return t.valueBytes
  }

  /** Outcome of a group's records (value ids first, first + 1, ...). */
  private completed(r: ProduceResult, g: SendGroup): void {
    const o = this.o
    const now = this.sched.now()
    const measured = now >= this.warmupEnd
    const n = g.count
    this.lastCompletion = now
    if (r.ok) {
      this.acked += n
      this.bytesAcked += g.bytes
      if (measured) {
        this.windowAcked += n
        this.windowBytes += g.bytes
        for (let i = 0; i < g.intended.length; i++) {
          this.latency.record((now - g.intended[i]!) * 1000)
          this.service.record((now - g.actual[i]!) * 1000)
        }
      }
      const h = o.history
      if (h?.appendAck) {
        const time = this.ht(now)
        const perRecord = g.intended.length === n
        for (let i = 0; i < n; i++) {
          const at = perRecord ? i : 0
          h.appendAck(g.first + i, o.topic, g.partition, r.baseOffset < 0 ? -1 : r.baseOffset + i, time, this.ht(g.actual[at]!), this.ht(g.intended[at]!), g.sizes[at]!)
        }
      } else if (h) {
        const time = this.ht(now)
        const perRecord = g.intended.length === n
        for (let i = 0; i < n; i++) {
          const at = perRecord ? i : 0
          h.append({
            type: 'ack',
            value: g.first + i,
            topic: o.topic,
            partition: g.partition,
            offset: r.baseOffset < 0 ? -1 : r.baseOffset + i,
            time,
            sent: this.ht(g.actual[at]!),
            intended: this.ht(g.intended[at]!),
            size: g.sizes[at]!,
          })
        }
      }
    } else {
      this.failed += n
      if (r.error.definite) this.failedDefinite += n
      this.countError(r.error, n)
      if (o.history) {
        const time = this.ht(now)
        for (let i = 0; i < n; i++) o.history.append({ type: 'fail', value: g.first + i, time, error: r.error.name, definite: r.error.definite })
      }
    }
    if (this.pacer?.isBlocked && this.pending < this.maxPending) this.pacer.wake()
  }

  private countError(e: DriverError, n: number): void {
    this.errors[e.name] = (this.errors[e.name] ?? 0) + n
  }

  private summary(): ProducerSummary {
    const from = this.warmupEnd
    const to = Math.max(from, this.lastCompletion)
    const seconds = (to - from) / 1000
    const c = this.controller
    return {
      name: this.o.name,
      sent: this.sent,
      acked: this.acked,
      failed: this.failed,
      failedDefinite: this.failedDefinite,
      bytesAcked: this.bytesAcked,
      errors: { ...this.errors },
      window: {
        fromMs: from - this.origin,
        toMs: to - this.origin,
        acked: this.windowAcked,
        bytes: this.windowBytes,
        rate: seconds > 0 ? this.windowAcked / seconds : 0,
        bytesRate: seconds > 0 ? this.windowBytes / seconds : 0,
      },
      latency: this.latency.summary(),
      serviceLatency: this.service.summary(),
      sendDelay: this.delay.summary(),
      maxRate: c ? { sustained: c.sustainedRate, final: c.rate, decisions: this.decisions } : null,
    }
  }
}
