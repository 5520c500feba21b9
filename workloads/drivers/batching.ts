// Linger, batch size and the in-flight window, the way Kafka's RecordAccumulator and Sender do them, shared by
// every driver so that `lingerMs: 5, batchBytes: 64KiB, maxInFlight: 5` means the same thing whichever client
// sends (kafkajs and @platformatic/kafka have no linger of their own: each send() call is one request).
//
// Each partition holds a queue of batches. A record joins the partition's last batch while that batch has
// room (a send() call is never split, so its records get consecutive offsets); a full batch closes and a new
// one opens. A partition's head batch is ready when it is closed, when its linger has expired, or during a
// flush. Ready batches go out, partition by partition in turn, while fewer than maxInFlight requests are
// outstanding for that partition; while its window is full, its open batches keep growing, which is how
// throughput adapts to a slow broker. The window is per partition because each request here carries one
// partition's batch: Kafka's max.in.flight.requests.per.connection counts requests that each carry a batch of
// every partition the broker leads, so every partition has up to that many batches in flight, and a slow
// leader holds back only its own partitions (a window per producer let one slow partition throttle them all).
// With lingerMs 0 a batch waits only for the rest of the current synchronous burst (one microtask).

import type { ProduceBatch, ProduceRecord, ProduceResult } from '../driver.ts'

/** Sends one batch for one partition and calls done exactly once. */
export type BatchSender = (topic: string, partition: number, records: ProduceRecord[], done: (r: ProduceResult) => void) => void

export interface BatchingOptions {
  readonly lingerMs?: number
  readonly batchBytes?: number
  readonly maxInFlight?: number
}

interface Call {
  readonly start: number
  readonly done: (r: ProduceResult) => void
}

interface OpenBatch {
  records: ProduceRecord[]
  calls: Call[]
  bytes: number
  closed: boolean
  readyAt: number
}

interface PartitionQueue {
  readonly topic: string
  readonly partition: number
  readonly batches: OpenBatch[]
  /** Requests outstanding for this partition. */
  inFlight: number
}

const RECORD_OVERHEAD = 20

export function recordSize(r: ProduceRecord): number {
  let n = RECORD_OVERHEAD + (r.key?.length ?? 0) + (r.value?.length ?? 0)
  if (r.headers) for (const h of r.headers) n += h.key.length + (h.value?.length ?? 0) + 4
  return n
}

export class Accumulator {
  private readonly sender: BatchSender
  private readonly lingerMs: number
  private readonly batchBytes: number
  private readonly maxInFlight: number
  /** topic -> partition -> queue; no string building per record. */
  private readonly queues = new Map<string, PartitionQueue[]>()
  /** Partitions with batches waiting, in the order they get their turn. */
  private readonly active: PartitionQueue[] = []
  private inFlight = 0
  private pendingRecords = 0
  private flushing = 0
  private microtaskQueued = false
  private timer: NodeJS.Timeout | null = null
  private timerAt = Number.POSITIVE_INFINITY
  private idleWaiters: (() => void)[] = []
  private closed = false

  constructor(sender: BatchSender, opts: BatchingOptions = {}) {
    this.sender = sender
    this.lingerMs = opts.lingerMs ?? 0
    this.batchBytes = opts.batchBytes ?? 16_384
    this.maxInFlight = opts.maxInFlight ?? 5
    if (!(this.lingerMs >= 0)) throw new RangeError(`lingerMs must be >= 0, got ${this.lingerMs}`)
    if (!(this.batchBytes >= 1)) throw new RangeError(`batchBytes must be >= 1, got ${this.batchBytes}`)
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${this.maxInFlight}`)
  }

  /** Records accepted and not yet acknowledged or failed. */
  get pending(): number {
    return this.pendingRecords
  }

  get requestsInFlight(): number {
    return this.inFlight
  }

  send(batch: ProduceBatch, done: (r: ProduceResult) => void): void {
    if (this.closed) throw new Error('send() after close()')
    if (batch.records.length === 0) {
      queueMicrotask(() => done({ ok: true, baseOffset: -1 }))
      return
    }
    let byPartition = this.queues.get(batch.topic)
    if (!byPartition) {
      byPartition = []
      this.queues.set(batch.topic, byPartition)
    }
    let q = byPartition[batch.partition]
    if (!q) {
      q = { topic: batch.topic, partition: batch.partition, batches: [], inFlight: 0 }
      byPartition[batch.partition] = q
    }
    let size = 0
    for (const r of batch.records) size += recordSize(r)
    let open = q.batches[q.batches.length - 1]
    if (open && !open.closed && open.bytes > 0 && open.bytes + size > this.batchBytes) {
      open.closed = true
      open = undefined
    }
    if (!open || open.closed) {
      open = { records: [], calls: [], bytes: 0, closed: false, readyAt: performance.now() + this.lingerMs }
      if (q.batches.length === 0) this.active.push(q)
      q.batches.push(open)
      this.armLinger(open.readyAt)
    }
    open.calls.push({ start: open.records.length, done })
    for (const r of batch.records) open.records.push(r)
    open.bytes += size
    this.pendingRecords += batch.records.length
    if (open.bytes >= this.batchBytes) open.closed = true
    this.scheduleDrain()
  }

  /** Sends everything now and resolves when nothing is outstanding. */
  async flush(): Promise<void> {
    this.flushing++
    try {
      this.drain()
      while (this.pendingRecords > 0) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
        this.drain()
      }
    } finally {
      this.flushing--
    }
  }

  /** Flushes, then refuses further sends. */
  async close(): Promise<void> {
    await this.flush()
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private scheduleDrain(): void {
    if (this.microtaskQueued) return
    this.microtaskQueued = true
    queueMicrotask(() => {
      this.microtaskQueued = false
      this.drain()
    })
  }

  private armLinger(at: number): void {
    if (this.lingerMs === 0 || at >= this.timerAt) return
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = null
      this.timerAt = Number.POSITIVE_INFINITY
      this.drain()
    }, Math.max(0, Math.ceil(at - performance.now())))
  }

  private drain(): void {
    const now = performance.now()
    let nextReady = Number.POSITIVE_INFINITY
    let i = 0
    while (i < this.active.length) {
      const q = this.active[i]!
      if (q.inFlight >= this.maxInFlight) {
        i++
        continue
      }
      const head = q.batches[0]!
      const ready = head.closed || head.readyAt <= now || this.flushing > 0 || this.lingerMs === 0
      if (!ready) {
        nextReady = Math.min(nextReady, head.readyAt)
        i++
        continue
      }
      q.batches.shift()
      // Round robin: a partition that sent goes to the back of the line.
      this.active.splice(i, 1)
      if (q.batches.length > 0) this.active.push(q)
      this.dispatch(q, head)
    }
    if (nextReady !== Number.POSITIVE_INFINITY) this.armLinger(nextReady)
  }

  private dispatch(q: PartitionQueue, b: OpenBatch): void {
    this.inFlight++
    q.inFlight++
    let finished = false
    const n = b.records.length
    const records = b.records
    // The sender keeps what it needs: the values, held here until the outcome, would outlive the young generation.
    b.records = []
    this.sender(q.topic, q.partition, records, (r) => {
      if (finished) return
      finished = true
      this.inFlight--
      q.inFlight--
      this.pendingRecords -= n
      for (const c of b.calls) {
        c.done(r.ok ? { ok: true, baseOffset: r.baseOffset < 0 ? r.baseOffset : r.baseOffset + c.start } : r)
      }
      if (this.active.length > 0) this.drain()
      if (this.pendingRecords === 0 || this.inFlight === 0) {
        const waiters = this.idleWaiters
        this.idleWaiters = []
        for (const w of waiters) w()
      }
    })
  }
}
