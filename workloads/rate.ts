// Open-loop rate control.
//
// The schedule is fixed in advance: message i is due at start + i / rate (or, for byte rates, when the bytes
// before it are due), whatever happened to message i - 1. A sender that falls behind (a stalled event loop,
// a full in-flight window, a slow client) sends the overdue messages as soon as it can, and
//   latency    = ack time - intended time     (what a user waiting on that message would see), and
//   send delay = actual send - intended time  (recorded separately),
// so coordinated omission is corrected in the latency and visible in the send delay, where OMB only shows
// the delay (openmessaging/benchmark#247).
//
// Time comes from a Scheduler so tests run on simulated time (SimScheduler). The system scheduler reads
// CLOCK_MONOTONIC (process.hrtime), which every process on one host shares, so a consumer in another
// process on the same machine computes end-to-end latency from the intended time in the payload header.

// ---- time ----

// performance.now() and process.hrtime both read libuv's monotonic clock (CLOCK_MONOTONIC on Linux); the
// former is cheaper but counts from process start, so an offset measured at load puts it on the shared origin.
const HRTIME_OFFSET_MS = clockOffsetMs(() => Number(process.hrtime.bigint()) / 1e6, () => performance.now())

/**
 * shared() - local() for two readings of one clock, from the narrowest of `samples` reads of local() between
 * two reads of shared(). A single pair of reads is off by whatever ran between them: the lazy load of
 * `performance`, or a preemption on a busy machine, put a load worker's clock up to 50 ms behind its peers',
 * so records it read seemed to arrive before they were sent (and the merged history reordered its reads).
 */
export function clockOffsetMs(shared: () => number, local: () => number, samples = 100): number {
  local()
  let width = Number.POSITIVE_INFINITY
  let offset = 0
  for (let i = 0; i < samples; i++) {
    const before = shared()
    const l = local()
    const after = shared()
    if (after - before < width) {
      width = after - before
      offset = (before + after) / 2 - l
    }
  }
  return offset
}

/** Monotonic milliseconds, shared by the processes of one host (CLOCK_MONOTONIC on Linux). */
export function monotonicNow(): number {
  return performance.now() + HRTIME_OFFSET_MS
}

export interface Cancel {
  cancel(): void
}

export interface Scheduler {
  /** Monotonic milliseconds (fractional). */
  now(): number
  /** Runs fn once after ms (0: after pending I/O). */
  schedule(fn: () => void, ms: number): Cancel
}

/**
 * The real scheduler. Waits shorter than `spinBelowMs` are taken with setImmediate (which lets I/O through
 * but keeps a core busy), longer ones with a timer that wakes `spinBelowMs` early; Node timers have 1 ms
 * granularity and fire late, so without the spin sends go out in bursts up to ~1 ms late (which the send
 * delay histogram then shows). `spinBelowMs: 0` never spins: less precise, no busy core.
 */
export function systemScheduler(opts: { spinBelowMs?: number } = {}): Scheduler {
  const spin = opts.spinBelowMs ?? 1
  return {
    now: monotonicNow,
    schedule(fn, ms) {
      if (ms <= 0 || ms < spin) {
        const h = setImmediate(fn)
        return { cancel: () => clearImmediate(h) }
      }
      const t = setTimeout(fn, spin > 0 ? Math.max(0, Math.floor(ms - spin)) : Math.ceil(ms))
      return { cancel: () => clearTimeout(t) }
    },
  }
}

interface SimTimer {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/**
 * Discrete-event time for tests. `lateness()` (default 0) is added to every timer, the way a busy event loop
 * fires timers late; `spend(ms)` models CPU time spent inside a callback.
 */
export class SimScheduler implements Scheduler {
  private t: number
  private seq = 0
  private heap: SimTimer[] = []
  lateness: () => number

  constructor(start = 0, lateness: () => number = () => 0) {
    this.t = start
    this.lateness = lateness
  }

  now(): number {
    return this.t
  }

  schedule(fn: () => void, ms: number): Cancel {
    const timer: SimTimer = { at: this.t + Math.max(0, ms) + Math.max(0, this.lateness()), seq: this.seq++, fn, cancelled: false }
    this.push(timer)
    return {
      cancel: () => {
        timer.cancelled = true
      },
    }
  }

  spend(ms: number): void {
    this.t += ms
  }

  /** Fires due timers in time order until `until` (or until nothing is left), then sets the time to `until`. */
  run(until: number): void {
    for (;;) {
      const top = this.heap[0]
      if (!top || top.at > until) break
      this.pop()
      if (top.cancelled) continue
      this.t = Math.max(this.t, top.at)
      top.fn()
    }
    this.t = Math.max(this.t, until)
  }

  get pending(): number {
    return this.heap.filter((x) => !x.cancelled).length
  }

  private less(a: SimTimer, b: SimTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  private push(x: SimTimer): void {
    const h = this.heap
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  private pop(): void {
    const h = this.heap
    const last = h.pop()!
    if (h.length === 0) return
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r
      if (m === i) break
      ;[h[i], h[m]] = [h[m]!, h[i]!]
      i = m
    }
  }
}

// ---- the schedule ----

/**
 * Intended send times. With a message rate every item costs 1 unit; with a byte rate an item costs its size.
 * The intended time of the next item is anchor + (units since the anchor) / rate: computed from counts, never
 * accumulated, so there is no drift however long the run.
 */
export class Schedule {
  private anchorMs: number
  private anchorUnits = 0
  private units = 0
  private perMs: number

  constructor(startMs: number, unitsPerSecond: number) {
    checkRate(unitsPerSecond)
    this.anchorMs = startMs
    this.perMs = unitsPerSecond / 1000
  }

  get ratePerSecond(): number {
    return this.perMs * 1000
  }

  /** Units consumed so far (items for message rates, bytes for byte rates). */
  get consumed(): number {
    return this.units
  }

  nextIntended(): number {
    return this.anchorMs + (this.units - this.anchorUnits) / this.perMs
  }

  /** Units whose intended time is at or before `nowMs` (counting the ones already consumed). */
  dueBy(nowMs: number): number {
    if (nowMs < this.anchorMs) return this.anchorUnits
    return this.anchorUnits + Math.floor((nowMs - this.anchorMs) * this.perMs) + 1
  }

  advance(cost: number): void {
    this.units += cost
  }

  /**
   * Changes the rate from the next item on. With `forgiveLag` an overdue schedule restarts at `nowMs`
   * (max-rate discovery does this when it backs off: the debt belonged to a rate it has abandoned).
   */
  setRate(unitsPerSecond: number, nowMs: number, forgiveLag = false): void {
    checkRate(unitsPerSecond)
    const next = this.nextIntended()
    this.anchorMs = forgiveLag ? Math.max(nowMs, next) : next
    this.anchorUnits = this.units
    this.perMs = unitsPerSecond / 1000
  }
}

function checkRate(r: number): void {
  if (!(r > 0) || !Number.isFinite(r)) throw new RangeError(`a rate must be a positive finite number per second, got ${r}`)
}

// ---- the pacer ----

export interface PacerOptions {
  readonly scheduler: Scheduler
  readonly schedule: Schedule
  /** Sends one item due at `intendedMs` (the sender's clock reads `actualMs`); returns its cost in schedule units. */
  emit(intendedMs: number, actualMs: number): number
  /** While this returns false the pacer waits (sends fall behind schedule) until wake() is called. */
  canSend?(): boolean
  /** No item due at or after this time is sent. */
  readonly endMs?: number
  /** At most this many items. */
  readonly maxItems?: number
  /** Items sent in one turn before yielding to I/O. Default 1000. */
  readonly maxBurst?: number
  /** Called once when the pacer stops by itself (end time or item count reached). */
  onDone?(): void
  /** Called at the end of every turn that emitted something, before the pacer yields (or calls onDone): the
   *  sender can hand what it gathered in the turn to its client at once. */
  onTurnEnd?(): void
}

/** Items a burst emits on one clock reading at most: their actual send times are stale by at most this many
 *  items' cost (a few µs), finer than the loop's hand-off to the client (up to 256 records a call). */
const NOW_EVERY = 8

/** Drives an open-loop schedule: every due item is emitted, late ones immediately, in order. */
export class Pacer {
  private readonly o: PacerOptions
  private readonly maxBurst: number
  private timer: Cancel | null = null
  private running = false
  private blocked = false
  private finished = false
  emitted = 0

  constructor(opts: PacerOptions) {
    this.o = opts
    this.maxBurst = opts.maxBurst ?? 1000
  }

  get done(): boolean {
    return this.finished
  }

  /** True while the pacer waits for canSend(). */
  get isBlocked(): boolean {
    return this.blocked
  }

  start(): void {
    if (this.running || this.finished) return
    this.running = true
    this.tick()
  }

  /** Stops for good; onDone is not called. */
  stop(): void {
    this.running = false
    this.finished = true
    this.timer?.cancel()
    this.timer = null
  }

  /** Tells a blocked pacer that canSend() may have become true. */
  wake(): void {
    if (!this.blocked || !this.running) return
    this.blocked = false
    this.tick()
  }

  private arm(ms: number): void {
    this.timer = this.o.scheduler.schedule(() => {
      this.timer = null
      this.tick()
    }, ms)
  }

  private finish(): void {
    this.running = false
    this.finished = true
    this.o.onDone?.()
  }

  private tick(): void {
    const o = this.o
    let burst = 0
    let then: (() => void) | null = null
    // One clock read serves up to NOW_EVERY items already due by it (a read costs about a tenth of a record's
    // whole cost at 100 B); an item not yet due by it always reads the clock again, so nothing goes out early.
    let now = Number.NEGATIVE_INFINITY
    let sinceRead = 0
    while (this.running) {
      if (o.maxItems !== undefined && this.emitted >= o.maxItems) {
        then = () => this.finish()
        break
      }
      const intended = o.schedule.nextIntended()
      if (o.endMs !== undefined && intended >= o.endMs) {
        then = () => this.finish()
        break
      }
      if (intended > now || sinceRead >= NOW_EVERY) {
        now = o.scheduler.now()
        sinceRead = 0
      }
      if (intended > now) {
        then = () => this.arm(intended - now)
        break
      }
      if (o.canSend && !o.canSend()) {
        this.blocked = true
        break
      }
      if (burst >= this.maxBurst) {
        then = () => this.arm(0)
        break
      }
      const cost = o.emit(intended, now)
      o.schedule.advance(cost)
      this.emitted++
      burst++
      sinceRead++
    }
    if (burst > 0) o.onTurnEnd?.()
    then?.()
  }
}

// ---- max-rate discovery (`rate: max`) ----

export interface MaxRateOptions {
  /** First rate tried, per second. Default 1000. */
  readonly initialRate?: number
  /** How often the rate is re-evaluated. Default 1000 ms. */
  readonly periodMs?: number
  /** Bounds of the ramping factor (the fraction the rate grows by in a clean period). Defaults 0.01 and 1. */
  readonly minRampingFactor?: number
  readonly maxRampingFactor?: number
  /** A backlog above max(backlogMin, rate * backlogSeconds) counts as growing. Defaults 1000 and 0.1 s. */
  readonly backlogMin?: number
  readonly backlogSeconds?: number
  /** Clean periods in a row after which the ramping factor doubles again. Default 3. */
  readonly cleanPeriodsToSpeedUp?: number
  /** Never go above this rate. */
  readonly maxRate?: number
}

/** The rate a producer is asked for: a fixed open-loop rate, in messages (default) or bytes per second, or max-rate discovery. */
export type RateSpec =
  | { readonly kind: 'fixed'; readonly perSecond: number; readonly unit?: 'messages' | 'bytes' }
  | { readonly kind: 'max'; readonly options?: MaxRateOptions }

/** Totals since the start (not per period); `received` only when consumers are measured. */
export interface RateSample {
  /** Items whose intended time has passed (the schedule's demand). */
  readonly due: number
  readonly sent: number
  /** Acknowledged or failed: no longer outstanding. */
  readonly completed: number
  readonly received?: number
}

export type RateDecision =
  | { readonly kind: 'ramp-up'; readonly rate: number; readonly factor: number }
  | { readonly kind: 'back-off'; readonly rate: number; readonly factor: number; readonly cause: 'send' | 'receive'; readonly backlog: number; readonly limit: number }

/**
 * Finds the highest rate the system sustains, in the spirit of OMB's RateController: ramp the rate up while
 * the backlog stays bounded, back off when it grows.
 *
 * Every period:
 *   send backlog    = (due - sent) + (sent - completed): items the schedule wanted out that are not yet
 *                     acknowledged (behind our own schedule, or in flight);
 *   receive backlog = completed - received, when consumers are measured;
 *   limit           = max(backlogMin, rate * backlogSeconds).
 * - If a backlog exceeds the limit (receive checked first), back off to OMB's blend
 *   0.2 * achieved + 0.8 * (expected - backlog) / period, where achieved is the completion (or receive) rate
 *   of the period and expected = rate * period; halve the ramping factor (not below the minimum); the caller
 *   restarts the schedule at the new rate, forgiving the lag.
 * - Otherwise ramp up: rate *= 1 + factor. Before the first back-off the factor doubles every clean period
 *   (fast probing); after it the factor stays put and doubles only after `cleanPeriodsToSpeedUp` clean periods
 *   in a row, so the rate settles just under the knee instead of oscillating around it, yet still follows the
 *   system if it gets faster.
 * `sustainedRate` is the highest rate that ran a whole period with the backlog under the limit and not growing
 * (by more than max(backlogMin / 10, 2% of the period's expected sends)): the discovered maximum.
 */
export class MaxRateController {
  readonly periodMs: number
  private readonly minF: number
  private readonly maxF: number
  private readonly backlogMin: number
  private readonly backlogSeconds: number
  private readonly cleanToSpeedUp: number
  private readonly ceiling: number
  private factor: number
  private rateNow: number
  private backedOff = false
  private clean = 0
  private prev: RateSample = { due: 0, sent: 0, completed: 0, received: 0 }
  private prevSendBacklog = 0
  private prevReceiveBacklog = 0
  /** The highest rate that ran a period with the backlog bounded and not growing: the discovered maximum. */
  sustainedRate = 0

  constructor(opts: MaxRateOptions = {}) {
    this.periodMs = opts.periodMs ?? 1000
    this.minF = opts.minRampingFactor ?? 0.01
    this.maxF = opts.maxRampingFactor ?? 1
    this.backlogMin = opts.backlogMin ?? 1000
    this.backlogSeconds = opts.backlogSeconds ?? 0.1
    this.cleanToSpeedUp = opts.cleanPeriodsToSpeedUp ?? 3
    this.ceiling = opts.maxRate ?? Number.POSITIVE_INFINITY
    this.factor = this.maxF
    this.rateNow = Math.min(opts.initialRate ?? 1000, this.ceiling)
    checkRate(this.rateNow)
    if (!(this.minF > 0 && this.minF <= this.maxF)) throw new RangeError('ramping factors need 0 < min <= max')
  }

  get rate(): number {
    return this.rateNow
  }

  /** Call once per period with the totals so far and the period's real length; returns the decision. */
  next(s: RateSample, elapsedMs = this.periodMs): RateDecision {
    const seconds = elapsedMs / 1000
    const expected = this.rateNow * seconds
    const limit = Math.max(this.backlogMin, this.rateNow * this.backlogSeconds)
    const sendBacklog = s.due - s.completed
    const receiveBacklog = s.received === undefined ? 0 : s.completed - s.received
    const completedInPeriod = s.completed - this.prev.completed
    const receivedInPeriod = s.received === undefined ? 0 : s.received - (this.prev.received ?? 0)
    this.prev = s
    if (receiveBacklog > limit) return this.backOff(receivedInPeriod / seconds, expected, receiveBacklog, seconds, 'receive', limit)
    if (sendBacklog > limit) return this.backOff(completedInPeriod / seconds, expected, sendBacklog, seconds, 'send', limit)
    const growth = Math.max(sendBacklog - this.prevSendBacklog, receiveBacklog - this.prevReceiveBacklog)
    this.prevSendBacklog = sendBacklog
    this.prevReceiveBacklog = receiveBacklog
    if (growth <= Math.max(this.backlogMin / 10, 0.02 * expected)) this.sustainedRate = Math.max(this.sustainedRate, this.rateNow)
    if (this.backedOff) {
      this.clean++
      if (this.clean >= this.cleanToSpeedUp) {
        this.factor = Math.min(this.maxF, this.factor * 2)
        this.clean = 0
      }
    }
    this.rateNow = Math.min(this.ceiling, this.rateNow * (1 + this.factor))
    const decision: RateDecision = { kind: 'ramp-up', rate: this.rateNow, factor: this.factor }
    if (!this.backedOff) this.factor = Math.min(this.maxF, this.factor * 2)
    return decision
  }

  private backOff(achieved: number, expected: number, backlog: number, seconds: number, cause: 'send' | 'receive', limit: number): RateDecision {
    this.backedOff = true
    this.prevSendBacklog = 0
    this.prevReceiveBacklog = 0
    this.clean = 0
    this.factor = Math.max(this.minF, this.factor / 2)
    const blended = 0.2 * achieved + 0.8 * (Math.max(0, expected - backlog) / seconds)
    // Never collapse to zero: a stalled period (a fault) must not end discovery.
    this.rateNow = Math.min(this.ceiling, Math.max(blended, this.rateNow * 0.1, 1))
    return { kind: 'back-off', rate: this.rateNow, factor: this.factor, cause, backlog, limit }
  }
}
