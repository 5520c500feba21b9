// Toxics of faultline's proxy server: Toxiproxy's types with Toxiproxy's attributes and behaviour, as stages of
// one direction of one connection. A stage takes chunks (push) and an end of stream (end), and hands them to the
// next stage or the socket (its Sink), possibly later, split or not at all; some end the whole connection.
//
//   latency     latency, jitter (ms)        each chunk leaves latency +- jitter after it arrived, in order
//   bandwidth   rate (KB/s, 1 KB = 1000 B)  chunks leave at the rate, in slices of at most 100 ms worth
//   slow_close  delay (ms)                  the end of stream waits delay
//   timeout     timeout (ms)                data is dropped; the connection closes after timeout (0: never);
//                                           removing the toxic closes it too (bytes were lost mid-stream)
//   reset_peer  timeout (ms)                on the first data (or end), wait timeout, then TCP RST both sides
//   slicer      average_size, size_variation (B), delay (us)   chunks cut into slices, delay between them
//   limit_data  bytes                       the connection closes once this many bytes went through
//
// See docs/architecture.md (the proxy path).

export const TOXIC_TYPES = ['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data'] as const
export type ToxicType = (typeof TOXIC_TYPES)[number]
export type Stream = 'upstream' | 'downstream'

/** Attribute names and defaults per type (Toxiproxy decodes into a struct: missing fields are 0). */
export const TOXIC_ATTRIBUTES: Readonly<Record<ToxicType, readonly string[]>> = {
  latency: ['latency', 'jitter'],
  bandwidth: ['rate'],
  slow_close: ['delay'],
  timeout: ['timeout'],
  reset_peer: ['timeout'],
  slicer: ['average_size', 'size_variation', 'delay'],
  limit_data: ['bytes'],
}

export type Attributes = Readonly<Record<string, number>>

/** Where a stage's output goes: the next stage, or the destination socket. */
export interface Sink {
  push(chunk: Buffer): void
  end(): void
}

/** What a stage may do to the whole connection. */
export interface LinkControl {
  /** TCP RST on both sockets at once (reset_peer). */
  reset(): void
  /** A stage's backlog shrank: the source may be read again. */
  drained(): void
  readonly now: () => number
}

export interface Stage {
  readonly name: string
  next: Sink
  push(chunk: Buffer): void
  end(): void
  /** Bytes held (not yet handed on). */
  readonly queued: number
  /** Holds so much that the source should stop being read. */
  readonly full: boolean
  update(attrs: Attributes): void
  /** The toxic is removed: hand on everything held now, stop timers. */
  flush(): void
}

/** Most a stage holds before the source is paused; a bandwidth stage holds 100 ms worth. */
const HIGH_WATER = 4 * 1024 * 1024

/** A FIFO of timed items with one timer: items leave at their due time, in order. */
abstract class TimedQueue implements Stage {
  readonly name: string
  next: Sink
  protected readonly link: LinkControl
  protected items: { chunk: Buffer | null; due: number }[] = []
  protected head = 0
  protected bytes = 0
  private timer: NodeJS.Timeout | null = null
  private timerDue = 0

  constructor(name: string, next: Sink, link: LinkControl) {
    this.name = name
    this.next = next
    this.link = link
  }

  get queued(): number {
    return this.bytes
  }

  get full(): boolean {
    return this.bytes > HIGH_WATER
  }

  abstract push(chunk: Buffer): void
  abstract update(attrs: Attributes): void

  end(): void {
    this.enqueue(null, this.lastDue())
  }

  protected lastDue(): number {
    return this.items.length > this.head ? this.items[this.items.length - 1]!.due : this.link.now()
  }

  protected enqueue(chunk: Buffer | null, due: number): void {
    this.items.push({ chunk, due })
    if (chunk) this.bytes += chunk.length
    this.arm()
  }

  private arm(): void {
    if (this.head >= this.items.length) return
    const due = this.items[this.head]!.due
    if (this.timer && this.timerDue <= due) return
    if (this.timer) clearTimeout(this.timer)
    this.timerDue = due
    this.timer = setTimeout(() => this.release(), Math.max(0, due - this.link.now()))
  }

  private release(): void {
    this.timer = null
    const now = this.link.now()
    const wasFull = this.full
    // Within half a millisecond counts as due: timers fire up to a millisecond late, never early by design.
    while (this.head < this.items.length && this.items[this.head]!.due <= now + 0.5) this.emit(this.items[this.head++]!)
    this.compact()
    if (wasFull && !this.full) this.link.drained()
    this.arm()
  }

  private emit(item: { chunk: Buffer | null }): void {
    if (item.chunk === null) this.next.end()
    else {
      this.bytes -= item.chunk.length
      this.next.push(item.chunk)
    }
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    while (this.head < this.items.length) this.emit(this.items[this.head++]!)
    this.compact()
    this.link.drained()
  }
}

class Latency extends TimedQueue {
  private latency = 0
  private jitter = 0
  constructor(name: string, next: Sink, link: LinkControl, attrs: Attributes) {
    super(name, next, link)
    this.update(attrs)
  }
  update(attrs: Attributes): void {
    this.latency = attrs.latency ?? 0
    this.jitter = attrs.jitter ?? 0
  }
  push(chunk: Buffer): void {
    // As Toxiproxy: latency +- jitter from arrival, but never before the chunk ahead of it.
    const delay = this.latency + (this.jitter > 0 ? Math.floor(Math.random() * 2 * this.jitter) - this.jitter : 0)
    this.enqueue(chunk, Math.max(this.link.now() + delay, this.lastDue()))
  }
}

class Bandwidth extends TimedQueue {
  private rate = 0
  private nextFree = 0
  constructor(name: string, next: Sink, link: LinkControl, attrs: Attributes) {
    super(name, next, link)
    this.update(attrs)
  }
  update(attrs: Attributes): void {
    this.rate = attrs.rate ?? 0
  }
  override get full(): boolean {
    return this.bytes > Math.max(16 * 1024, this.rate * 100)
  }
  push(chunk: Buffer): void {
    if (this.rate <= 0) {
      this.enqueue(chunk, this.lastDue())
      return
    }
    // rate is KB/s = bytes per ms; slices of at most 100 ms worth, each leaving when the link would have sent it.
    const slice = Math.max(1, this.rate * 100)
    for (let off = 0; off < chunk.length; off += slice) {
      const part = chunk.subarray(off, Math.min(chunk.length, off + slice))
      const start = Math.max(this.link.now(), this.nextFree)
      this.nextFree = start + part.length / this.rate
      this.enqueue(part, this.nextFree)
    }
  }
}

class Slicer extends TimedQueue {
  private avg = 0
  private variation = 0
  private delayMs = 0
  constructor(name: string, next: Sink, link: LinkControl, attrs: Attributes) {
    super(name, next, link)
    this.update(attrs)
  }
  update(attrs: Attributes): void {
    this.avg = attrs.average_size ?? 0
    this.variation = attrs.size_variation ?? 0
    this.delayMs = (attrs.delay ?? 0) / 1000
  }
  /** Toxiproxy's split: halve until a piece is within variation of the average size. */
  private cuts(start: number, end: number, out: number[]): void {
    if (end - start - this.avg <= this.variation) {
      out.push(end)
      return
    }
    let mid = start + Math.floor((end - start) / 2)
    if (this.variation > 0) mid += Math.floor(Math.random() * 2 * this.variation) - this.variation
    this.cuts(start, mid, out)
    this.cuts(mid, end, out)
  }
  push(chunk: Buffer): void {
    const cuts: number[] = []
    this.cuts(0, chunk.length, cuts)
    let from = 0
    let due = this.lastDue()
    for (const to of cuts) {
      if (to > from) this.enqueue(chunk.subarray(from, to), due)
      due += this.delayMs
      from = to
    }
  }
}

/** Stages that hold nothing. */
abstract class Passing implements Stage {
  readonly name: string
  next: Sink
  protected readonly link: LinkControl
  /** This stage ended the stream (as Toxiproxy's stub.Close): what follows is dropped. */
  protected closed = false
  constructor(name: string, next: Sink, link: LinkControl) {
    this.name = name
    this.next = next
    this.link = link
  }
  get queued(): number {
    return 0
  }
  get full(): boolean {
    return false
  }
  push(chunk: Buffer): void {
    if (!this.closed) this.next.push(chunk)
  }
  end(): void {
    this.closeStream()
  }
  /** Ends the stream after what was handed on already; the connection then closes, as in Toxiproxy. */
  protected closeStream(): void {
    if (this.closed) return
    this.closed = true
    this.next.end()
  }
  abstract update(attrs: Attributes): void
  flush(): void {}
}

class SlowClose extends Passing {
  private delay = 0
  private timer: NodeJS.Timeout | null = null
  constructor(name: string, next: Sink, link: LinkControl, attrs: Attributes) {
    super(name, next, link)
    this.update(attrs)
  }
  update(attrs: Attributes): void {
    this.delay = attrs.delay ?? 0
  }
  override end(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null
      this.closeStream()
    }, this.delay)
  }
  override flush(): void {
    if (!this.timer) return
    clearTimeout(this.timer)
    this.timer = null
    this.closeStream()
  }
}

class Timeout extends Passing {
  private timer: NodeJS.Timeout | null = null
  constructor(name: string, next: Sink, link: LinkControl, attrs: Attributes) {
    super(name, next, link)
    this.update(attrs)
  }
  update(attrs: Attributes): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const ms = attrs.timeout ?? 0
    if (ms > 0) this.timer = setTimeout(() => this.closeStream(), ms)
  }
  override push(): void {}
  override flush(): void {
    if (this.timer) clearTimeout(this.timer)
    // Bytes were dropped mid-stream: the connection cannot carry on (Toxiproxy's cleanup closes it too).
    this.closeStream()
  }
}

class ResetPeer extends Passing {
  private timeout = 0
  private timer: NodeJS.Timeout | null = null
  constructor(name: string, next: Sink, link: LinkControl, attrs: Attributes) {
    super(name, next, link)
    this.update(attrs)
  }
  update(attrs: Attributes): void {
    this.timeout = attrs.timeout ?? 0
  }
  private arm(): void {
    this.timer ??= setTimeout(() => this.link.reset(), this.timeout)
  }
  override push(): void {
    this.arm()
  }
  override end(): void {
    this.arm()
  }
  override flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}

class LimitData extends Passing {
  private limit = 0
  private sent = 0
  constructor(name: string, next: Sink, link: LinkControl, attrs: Attributes) {
    super(name, next, link)
    this.update(attrs)
  }
  update(attrs: Attributes): void {
    this.limit = attrs.bytes ?? 0
  }
  override push(chunk: Buffer): void {
    if (this.closed) return
    const left = Math.max(0, this.limit - this.sent)
    const part = left < chunk.length ? chunk.subarray(0, left) : chunk
    if (part.length > 0) {
      this.sent += part.length
      this.next.push(part)
    }
    if (this.sent >= this.limit) this.closeStream()
  }
}

export function createStage(type: ToxicType, name: string, next: Sink, link: LinkControl, attrs: Attributes): Stage {
  switch (type) {
    case 'latency':
      return new Latency(name, next, link, attrs)
    case 'bandwidth':
      return new Bandwidth(name, next, link, attrs)
    case 'slow_close':
      return new SlowClose(name, next, link, attrs)
    case 'timeout':
      return new Timeout(name, next, link, attrs)
    case 'reset_peer':
      return new ResetPeer(name, next, link, attrs)
    case 'slicer':
      return new Slicer(name, next, link, attrs)
    case 'limit_data':
      return new LimitData(name, next, link, attrs)
  }
}
