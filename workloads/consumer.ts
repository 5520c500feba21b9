// The consumer side: `groups` independent consumer groups of `membersPerGroup` members each, every record
// received written to the history with the member that got it, and end-to-end latency measured as
// receive time - intended send time (read from the payload header) on one monotonic clock.
//
// Mode: group membership when the driver has it; otherwise (or with `mode: 'manual'`) each
// "group" splits the topics' partitions among its members statically (member j of m takes partitions
// p with p mod m = j), reported as assignments so the history looks the same.
//
// Backlog mode (runBacklog): pause every consumer until the unconsumed bytes reach the target, resume, and
// time the drain until they fall to (1 - drainFraction) of the peak, as OMB does; producers keep producing.

import type { ConsumedBatch, Driver, DriverConsumer, DriverError, StartFrom, TopicPartition } from './driver.ts'
import { readPayloadHeader } from './generators.ts'
import { historyTime, type HistorySink } from './history/events.ts'
import { LatencyHistogram, type LatencySummary } from './history/latency.ts'
import { systemScheduler, type Scheduler } from './rate.ts'

export interface ConsumerSetOptions {
  /** Name of this consumer set in the history ("audit"); groups are `${name}-g${i}`, members `${group}-m${j}`. */
  readonly name: string
  readonly driver: Driver
  readonly topics: readonly string[]
  readonly groups: number
  readonly membersPerGroup: number
  readonly from?: StartFrom
  /** Default: 'group' when the driver has consumer groups, else 'manual'. */
  readonly mode?: 'group' | 'manual'
  /** Prefix of the Kafka group ids, so reruns do not resume old offsets. Default: the set's name and the time. */
  readonly groupIdPrefix?: string
  readonly scheduler?: Scheduler
  readonly runOriginMs?: number
  /** Receives completing before this (monotonic ms) are left out of the summary's latency. */
  readonly warmupEndMs?: number
  readonly history?: HistorySink
  readonly maxWaitMs?: number
  /** The member indexes (0 .. membersPerGroup - 1) this process runs; default all. A load worker runs its
   *  share, the other workers the rest, under the same group ids. */
  readonly members?: readonly number[]
  /** Manual mode: how long start() waits for every topic to appear in the metadata; default 30 s. */
  readonly topicsWaitMs?: number
  onError?(member: string, error: DriverError): void
  onRecovery?(member: string, message: string): void
}

export interface ConsumerSummary {
  readonly name: string
  readonly records: number
  readonly bytes: number
  /** Records not written by this run (no payload header). */
  readonly foreign: number
  readonly perGroup: readonly { readonly group: string; readonly records: number; readonly bytes: number }[]
  readonly e2e: LatencySummary
  readonly errors: Readonly<Record<string, number>>
}

interface Member {
  readonly group: string
  readonly member: string
  consumer: DriverConsumer | null
}

export class ConsumerSet {
  private readonly o: ConsumerSetOptions
  private readonly sched: Scheduler
  private readonly members: Member[] = []
  private readonly groupTotals = new Map<string, { records: number; bytes: number }>()
  private readonly e2e = new LatencyHistogram()
  private readonly errors: Record<string, number> = {}
  private origin = 0
  private isPaused = false
  records = 0
  bytes = 0
  foreign = 0

  constructor(opts: ConsumerSetOptions) {
    if (!(opts.groups >= 1 && opts.membersPerGroup >= 1)) throw new RangeError('groups and membersPerGroup must be >= 1')
    this.o = opts
    this.sched = opts.scheduler ?? systemScheduler()
  }

  get mode(): 'group' | 'manual' {
    return this.o.mode ?? (this.o.driver.capabilities.consumerGroups ? 'group' : 'manual')
  }

  get paused(): boolean {
    return this.isPaused
  }

  get groupCount(): number {
    return this.o.groups
  }

  /** Creates and starts every member; resolves when all of them fetch. */
  async start(): Promise<void> {
    const o = this.o
    this.origin = o.runOriginMs ?? this.sched.now()
    const mode = this.mode
    if (mode === 'group' && !o.driver.capabilities.consumerGroups) throw new Error(`the ${o.driver.name} driver has no consumer groups: use mode manual`)
    if (mode === 'manual' && !o.driver.capabilities.manualAssignment) throw new Error(`the ${o.driver.name} driver cannot assign partitions manually: use mode group`)
    const prefix = o.groupIdPrefix ?? `${o.name}-${Date.now()}`
    const partitions = mode === 'manual' ? await this.topicPartitions() : []
    for (let g = 0; g < o.groups; g++) {
      const group = `${o.name}-g${g}`
      this.groupTotals.set(group, { records: 0, bytes: 0 })
      for (let m = 0; m < o.membersPerGroup; m++) {
        if (o.members && !o.members.includes(m)) continue
        const member: Member = { group, member: `${group}-m${m}`, consumer: null }
        const callbacks = {
          onRecords: (b: ConsumedBatch) => this.onRecords(member, b),
          onAssign: (tps: readonly TopicPartition[]) => this.membership(member, 'assign', tps),
          onRevoke: (tps: readonly TopicPartition[]) => this.membership(member, 'revoke', tps),
          onError: (e: DriverError) => {
            this.errors[e.name] = (this.errors[e.name] ?? 0) + 1
            o.onError?.(member.member, e)
          },
          onRecovery: (message: string) => o.onRecovery?.(member.member, message),
          from: o.from ?? 'earliest',
          maxWaitMs: o.maxWaitMs,
        }
        if (mode === 'group') {
          member.consumer = await o.driver.consumer({ ...callbacks, group: { groupId: `${prefix}-g${g}`, topics: o.topics } })
        } else {
          const mine = partitions.filter((p) => p.partition % o.membersPerGroup === m)
          if (mine.length === 0) continue
          member.consumer = await o.driver.consumer({ ...callbacks, assignment: mine })
        }
        this.members.push(member)
      }
    }
    await Promise.all(this.members.map((m) => m.consumer!.start()))
    if (this.isPaused) for (const m of this.members) m.consumer!.pause()
  }

  pause(): void {
    this.isPaused = true
    for (const m of this.members) m.consumer?.pause()
  }

  resume(): void {
    this.isPaused = false
    for (const m of this.members) m.consumer?.resume()
  }

  async close(): Promise<ConsumerSummary> {
    await Promise.allSettled(this.members.map((m) => m.consumer?.close()))
    return this.summary()
  }

  summary(): ConsumerSummary {
    return {
      name: this.o.name,
      records: this.records,
      bytes: this.bytes,
      foreign: this.foreign,
      perGroup: [...this.groupTotals].map(([group, t]) => ({ group, ...t })),
      e2e: this.e2e.summary(),
      errors: { ...this.errors },
    }
  }

  private membership(m: Member, type: 'assign' | 'revoke', tps: readonly TopicPartition[]): void {
    const h = this.o.history
    if (!h) return
    const time = historyTime(this.sched.now(), this.origin)
    for (const tp of tps) h.append({ type, group: m.group, member: m.member, topic: tp.topic, partition: tp.partition, time })
  }

  /**
   * Every partition of the topics. A topic created a moment ago may not be in the metadata yet of the broker
   * asked (each broker learns it from the controller in its own time), so it is asked again, up to topicsWaitMs.
   */
  private async topicPartitions(): Promise<TopicPartition[]> {
    const o = this.o
    const waitMs = o.topicsWaitMs ?? 30_000
    const deadline = this.sched.now() + waitMs
    const admin = await o.driver.admin()
    try {
      for (let pauseMs = 50; ; pauseMs = Math.min(1000, pauseMs * 2)) {
        let missing: readonly string[] = o.topics
        let lastError = ''
        const partitions: TopicPartition[] = []
        try {
          for (const md of await admin.metadata(o.topics)) for (const p of md.partitions) partitions.push({ topic: md.name, partition: p.partition })
          missing = o.topics.filter((t) => !partitions.some((p) => p.topic === t))
        } catch (e) {
          lastError = e instanceof Error ? e.message : String(e)
        }
        if (missing.length === 0) return partitions
        const left = deadline - this.sched.now()
        if (left <= 0) throw new Error(`topics not found after ${waitMs} ms: ${missing.join(', ')}${lastError ? ` (last metadata error: ${lastError})` : ''}`)
        await new Promise<void>((resolve) => this.sched.schedule(resolve, Math.min(pauseMs, left)))
      }
    } finally {
      await admin.close()
    }
  }

  private onRecords(m: Member, b: ConsumedBatch): void {
    const now = this.sched.now()
    const time = historyTime(now, this.origin)
    const measured = now >= (this.o.warmupEndMs ?? Number.NEGATIVE_INFINITY)
    const totals = this.groupTotals.get(m.group)!
    const h = this.o.history
    for (const r of b.records) {
      const size = r.value?.length ?? 0
      const header = readPayloadHeader(r.value)
      this.records++
      this.bytes += size
      totals.records++
      totals.bytes += size
      if (header === null) this.foreign++
      else if (measured) this.e2e.record((now - header.intendedMs) * 1000)
      h?.append({
        type: 'recv',
        value: header ? header.valueId : -1,
        group: m.group,
        member: m.member,
        topic: b.topic,
        partition: b.partition,
        offset: r.offset,
        time,
        intended: header ? historyTime(header.intendedMs, this.origin) : -1,
        size,
      })
    }
  }
}

// ---- backlog mode ----

export interface BacklogOptions {
  readonly consumers: ConsumerSet
  /** Bytes the producers have had acknowledged so far (a running total). */
  readonly producedBytes: () => number
  /** Unconsumed bytes to pile up before the consumers resume. */
  readonly targetBytes: number
  /** Share of the peak backlog to consume before the drain counts as done. Default 1. */
  readonly drainFraction?: number
  /** The drain is done at or below max(floorBytes, (1 - drainFraction) * peak). Default 1% of the target: under
   * steady production a few in-flight records are always unconsumed. */
  readonly floorBytes?: number
  /** Give up (the result says so) after this long in either phase. Default: never. */
  readonly timeoutMs?: number
  readonly scheduler?: Scheduler
  readonly pollMs?: number
}

export type BacklogResult =
  | {
      readonly state: 'drained'
      readonly buildMs: number
      readonly drainMs: number
      readonly peakBytes: number
      /** Bytes received while draining. */
      readonly drainedBytes: number
      readonly drainedRecords: number
      readonly receiveBytesPerSecond: number
      readonly receiveRecordsPerSecond: number
      /** How fast the backlog itself shrank (receive rate minus the produce rate meanwhile). */
      readonly netDrainBytesPerSecond: number
    }
  | { readonly state: 'timed-out'; readonly phase: 'build' | 'drain'; readonly pendingBytes: number; readonly elapsedMs: number }

/** Unconsumed bytes: every group must read everything produced. */
export function pendingBytes(consumers: ConsumerSet, producedBytes: number): number {
  return producedBytes * consumers.groupCount - consumers.bytes
}

export async function runBacklog(o: BacklogOptions): Promise<BacklogResult> {
  const sched = o.scheduler ?? systemScheduler()
  const poll = o.pollMs ?? 50
  const fraction = o.drainFraction ?? 1
  const timeout = o.timeoutMs ?? Number.POSITIVE_INFINITY
  const wait = () => new Promise<void>((r) => sched.schedule(r, poll))
  const pending = () => pendingBytes(o.consumers, o.producedBytes())
  o.consumers.pause()
  const t0 = sched.now()
  while (pending() < o.targetBytes) {
    if (sched.now() - t0 > timeout) {
      o.consumers.resume()
      return { state: 'timed-out', phase: 'build', pendingBytes: pending(), elapsedMs: sched.now() - t0 }
    }
    await wait()
  }
  const peak = pending()
  const floor = Math.max(o.floorBytes ?? o.targetBytes * 0.01, (1 - fraction) * peak)
  const t1 = sched.now()
  const received0 = o.consumers.bytes
  const records0 = o.consumers.records
  o.consumers.resume()
  while (pending() > floor) {
    if (sched.now() - t1 > timeout) return { state: 'timed-out', phase: 'drain', pendingBytes: pending(), elapsedMs: sched.now() - t1 }
    await wait()
  }
  const t2 = sched.now()
  const seconds = Math.max(1e-9, (t2 - t1) / 1000)
  const drainedBytes = o.consumers.bytes - received0
  return {
    state: 'drained',
    buildMs: t1 - t0,
    drainMs: t2 - t1,
    peakBytes: peak,
    drainedBytes,
    drainedRecords: o.consumers.records - records0,
    receiveBytesPerSecond: drainedBytes / seconds,
    receiveRecordsPerSecond: (o.consumers.records - records0) / seconds,
    netDrainBytesPerSecond: (peak - pending()) / seconds,
  }
}
