// An in-memory Driver on simulated time for the loop tests: partitions are arrays, the "broker" appends at
// most `capacity` records per second (FIFO, then a fixed latency), consumers poll every `pollMs` while not
// paused. Faults are injected by `failWith`.

import type {
  Capabilities,
  ConsumerOptions,
  Driver,
  DriverAdmin,
  DriverConsumer,
  DriverError,
  DriverProducer,
  ProduceBatch,
  ProduceResult,
  ProducerOptions,
} from '../../workloads/driver.ts'
import type { SimScheduler } from '../../workloads/rate.ts'

export interface FakeOptions {
  readonly partitions: number
  /** Records appended per second; default unlimited. */
  readonly capacity?: number
  /** Time from append to ack. Default 1 ms. */
  readonly latencyMs?: number
  readonly pollMs?: number
  /** Decides the outcome of each produce call (default: success). */
  failWith?(batch: ProduceBatch, index: number): DriverError | null
}

export interface StoredRecord {
  readonly offset: number
  readonly value: Buffer | null
  readonly key: Buffer | null
}

export class FakeCluster {
  readonly sched: SimScheduler
  readonly o: FakeOptions
  readonly log = new Map<string, StoredRecord[][]>()
  private busyUntil = 0
  private calls = 0

  constructor(sched: SimScheduler, o: FakeOptions) {
    this.sched = sched
    this.o = o
  }

  partitionsOf(topic: string): StoredRecord[][] {
    let t = this.log.get(topic)
    if (!t) {
      t = Array.from({ length: this.o.partitions }, () => [])
      this.log.set(topic, t)
    }
    return t
  }

  produce(batch: ProduceBatch, done: (r: ProduceResult) => void): void {
    const index = this.calls++
    const now = this.sched.now()
    const start = Math.max(now, this.busyUntil)
    const service = this.o.capacity ? (batch.records.length * 1000) / this.o.capacity : 0
    this.busyUntil = start + service
    const at = this.busyUntil + (this.o.latencyMs ?? 1)
    this.sched.schedule(() => {
      const err = this.o.failWith?.(batch, index) ?? null
      if (err) return done({ ok: false, error: err })
      const part = this.partitionsOf(batch.topic)[batch.partition]!
      const base = part.length
      for (const r of batch.records) part.push({ offset: part.length, value: r.value, key: r.key })
      done({ ok: true, baseOffset: base })
    }, at - now)
  }
}

const caps: Capabilities = {
  consumerGroups: false,
  manualAssignment: true,
  idempotence: false,
  compression: ['none'],
  acks0: false,
  sasl: [],
  tls: false,
  errorCodes: true,
  pipelining: true,
  clientRetries: false,
}

/** Its flush() resolves when the test has run simulated time far enough for every outcome. */
class FakeProducer implements DriverProducer {
  private readonly c: FakeCluster
  private waiters: (() => void)[] = []
  pending = 0

  constructor(c: FakeCluster) {
    this.c = c
  }

  send(batch: ProduceBatch, done: (r: ProduceResult) => void): void {
    this.pending += batch.records.length
    this.c.produce(batch, (r) => {
      this.pending -= batch.records.length
      done(r)
      if (this.pending === 0) {
        const w = this.waiters
        this.waiters = []
        for (const f of w) f()
      }
    })
  }

  async flush(): Promise<void> {
    if (this.pending > 0) await new Promise<void>((r) => this.waiters.push(r))
  }

  async close(): Promise<void> {
    await this.flush()
  }
}

class FakeConsumer implements DriverConsumer {
  private readonly c: FakeCluster
  private readonly o: ConsumerOptions
  private readonly positions: { topic: string; partition: number; offset: number }[]
  private timer: { cancel(): void } | null = null
  paused = false

  constructor(c: FakeCluster, o: ConsumerOptions) {
    this.c = c
    this.o = o
    this.positions = (o.assignment ?? []).map((tp) => ({ ...tp, offset: 0 }))
  }

  async start(): Promise<void> {
    for (const p of this.positions) p.offset = this.o.from === 'latest' ? this.c.partitionsOf(p.topic)[p.partition]!.length : 0
    this.o.onAssign?.(this.positions.map(({ topic, partition }) => ({ topic, partition })))
    this.poll()
  }

  private poll(): void {
    this.timer = this.c.sched.schedule(() => {
      if (!this.paused) {
        for (const p of this.positions) {
          const part = this.c.partitionsOf(p.topic)[p.partition]!
          if (part.length > p.offset) {
            const records = part.slice(p.offset).map((r) => ({ offset: r.offset, timestamp: 0, key: r.key, value: r.value }))
            p.offset = part.length
            this.o.onRecords({ topic: p.topic, partition: p.partition, records, highWatermark: part.length })
          }
        }
      }
      this.poll()
    }, this.c.o.pollMs ?? 10)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
  }

  async close(): Promise<void> {
    this.timer?.cancel()
    this.o.onRevoke?.(this.positions.map(({ topic, partition }) => ({ topic, partition })))
  }
}

export function fakeDriver(c: FakeCluster): Driver {
  const admin: DriverAdmin = {
    async createTopics() {},
    async deleteTopics() {},
    async listOffsets(topic) {
      return c.partitionsOf(topic).map((p, partition) => ({ partition, offset: p.length }))
    },
    async metadata(topics) {
      return topics.map((name) => ({ name, partitions: c.partitionsOf(name).map((_, partition) => ({ partition, leader: 1, replicas: [1], isr: [1] })) }))
    },
    async close() {},
  }
  return {
    name: 'raw',
    capabilities: caps,
    async producer(_o?: ProducerOptions) {
      return new FakeProducer(c)
    },
    async consumer(o: ConsumerOptions) {
      return new FakeConsumer(c, o)
    },
    async admin() {
      return admin
    },
    async close() {},
  }
}
