// The liveness watchdog: does a run still make progress? Delivery checks judge what was read; they cannot see
// consumers that silently stopped (a client that never recovered from a fault leaves its records "unseen",
// which no limit forbids). Once a second the runner hands the watchdog what it knows live: per consumer group
// how far it has read and how many acknowledged records wait for it, and how many sends wait for an outcome.
// The watchdog reports stalls as they happen (a line when one passes the threshold, another when it ends) and
// keeps the longest of each kind for results.json's `liveness` section; the drain's outcome there fails the
// verdict when consumers never caught up (verdictOf in results.ts).

/** The longest time consumers (of one group) read nothing while acknowledged records waited for them. */
export interface ConsumerStall {
  group: string
  /** Run times, µs. */
  fromUs: number
  toUs: number
  durationUs: number
  /** Acknowledged records unread at the stall's end (or now). */
  waitingRecords: number
}

/** The longest time producers learned no outcome while sends waited for one. */
export interface ProducerWait {
  fromUs: number
  toUs: number
  durationUs: number
  /** Sends without an outcome at the wait's end (or now). */
  pendingSends: number
}

export interface LivenessSection {
  /** A stall this long or longer is reported while the run goes on. */
  thresholdUs: number
  consumers: ConsumerStall | null
  producers: ProducerWait | null
  /** The drain phase: did every group read up to the last acknowledged offsets in time? null: no consumers. */
  drain: { state: 'caught-up' | 'behind'; behindRecords: number; waitedUs: number } | null
  /** Whether a drain left behind fails the verdict (the scenario checks delivery). */
  enforced: boolean
  /** Sends still without an outcome when the producers' grace after the schedule ended (their outcome stays
   *  indeterminate in the history). Absent: every send settled. Fails the verdict. */
  unsettled?: { sends: number; graceUs: number }
}

interface Open {
  since: number
  progress: number
  reported: boolean
  waiting: number
}

const secs = (us: number): string => `${(us / 1e6).toFixed(1)} s`

export class LivenessWatchdog {
  private readonly thresholdUs: number
  private readonly say: (line: string) => void
  private readonly groups = new Map<string, Open>()
  private producer: Open | null = null
  private lastOutcomes = -1
  consumers: ConsumerStall | null = null
  producers: ProducerWait | null = null

  constructor(opts: { thresholdMs: number; say: (line: string) => void }) {
    this.thresholdUs = opts.thresholdMs * 1000
    this.say = opts.say
  }

  /** A group at run time `nowUs`: `progress` grows whenever it reads; `waiting` acknowledged records are unread. */
  consumer(group: string, nowUs: number, progress: number, waiting: number): void {
    const o = this.groups.get(group)
    // A stall starts at the first tick on which records wait and the group read nothing since the previous one.
    if (!o || progress !== o.progress || waiting === 0 || o.waiting === 0) {
      if (o?.reported) this.say(`liveness: consumers of ${group} progress again after ${secs(nowUs - o.since)}`)
      if (o) this.keepConsumer(group, o, nowUs)
      this.groups.set(group, { since: nowUs, progress, reported: false, waiting })
      return
    }
    o.waiting = waiting
    this.keepConsumer(group, o, nowUs)
    if (!o.reported && nowUs - o.since >= this.thresholdUs) {
      o.reported = true
      this.say(`liveness: consumers of ${group} made no progress for ${secs(nowUs - o.since)} while ${waiting} acknowledged records waited`)
    }
  }

  /** Producers at `nowUs`: `outcomes` (acks + failures) grows whenever a send completes; `pending` sends wait. */
  producersAt(nowUs: number, outcomes: number, pending: number): void {
    const o = this.producer
    if (!o || outcomes !== this.lastOutcomes || pending === 0) {
      if (o?.reported) this.say(`liveness: producers learned outcomes again after ${secs(nowUs - o.since)}`)
      if (o) this.keepProducer(o, nowUs)
      this.lastOutcomes = outcomes
      this.producer = pending === 0 ? null : { since: nowUs, progress: outcomes, reported: false, waiting: pending }
      return
    }
    o.waiting = pending
    this.keepProducer(o, nowUs)
    if (!o.reported && nowUs - o.since >= this.thresholdUs) {
      o.reported = true
      this.say(`liveness: producers waited ${secs(nowUs - o.since)} for outcomes of ${pending} sends`)
    }
  }

  /** The open stalls past the threshold, for the status line; empty when everything moves. */
  stalled(nowUs: number): string[] {
    const out: string[] = []
    for (const [g, o] of this.groups) if (o.waiting > 0 && nowUs - o.since >= this.thresholdUs) out.push(`${g} stalled ${secs(nowUs - o.since)}`)
    if (this.producer && nowUs - this.producer.since >= this.thresholdUs) out.push(`producers waiting ${secs(nowUs - this.producer.since)}`)
    return out
  }

  section(drain: LivenessSection['drain'], enforced: boolean, unsettled?: LivenessSection['unsettled']): LivenessSection {
    return { thresholdUs: this.thresholdUs, consumers: this.consumers, producers: this.producers, drain, enforced, ...(unsettled ? { unsettled } : {}) }
  }

  private keepConsumer(group: string, o: Open, nowUs: number): void {
    const d = nowUs - o.since
    if (o.waiting > 0 && d > 0 && d > (this.consumers?.durationUs ?? 0)) this.consumers = { group, fromUs: o.since, toUs: nowUs, durationUs: d, waitingRecords: o.waiting }
  }

  private keepProducer(o: Open, nowUs: number): void {
    const d = nowUs - o.since
    if (d > 0 && d > (this.producers?.durationUs ?? 0)) this.producers = { fromUs: o.since, toUs: nowUs, durationUs: d, pendingSends: o.waiting }
  }
}

/** The verdict's reasons: sends that never got an outcome, and a drain that left acknowledged records unread
 *  (the latter only when the scenario checks delivery). */
export function livenessFailures(l: LivenessSection | undefined): string[] {
  const out: string[] = []
  if (!l) return out
  // The cluster (or the client) gave no answer: a finding about the system under test, not a harness error.
  if (l.unsettled) out.push(`liveness: ${l.unsettled.sends} sends had no outcome ${secs(l.unsettled.graceUs)} after the schedule ended (indeterminate: they may or may not have been written)`)
  if (l.enforced && l.drain?.state === 'behind') {
    const stall = l.consumers ? `; consumers made no progress for ${secs(l.consumers.durationUs)} while ${l.consumers.waitingRecords} acknowledged records waited (${l.consumers.group})` : ''
    out.push(`liveness: consumers did not catch up: ${l.drain.behindRecords} acknowledged records unread after ${secs(l.drain.waitedUs)} of drain${stall}`)
  }
  return out
}

/** One line per finding, for the console and markdown summaries; empty when nothing stalled. */
export function describeLiveness(l: LivenessSection): string[] {
  const out: string[] = []
  if (l.consumers) out.push(`consumers made no progress for ${secs(l.consumers.durationUs)} while ${l.consumers.waitingRecords} acknowledged records waited (${l.consumers.group}, from ${secs(l.consumers.fromUs)})`)
  if (l.producers) out.push(`producers waited ${secs(l.producers.durationUs)} for outcomes (${l.producers.pendingSends} sends pending, from ${secs(l.producers.fromUs)})`)
  if (l.unsettled) out.push(`${l.unsettled.sends} sends still had no outcome ${secs(l.unsettled.graceUs)} after the schedule ended`)
  if (l.drain) out.push(l.drain.state === 'caught-up' ? `drain: consumers caught up in ${secs(l.drain.waitedUs)}` : `drain: ${l.drain.behindRecords} acknowledged records still unread after ${secs(l.drain.waitedUs)}`)
  return out
}

/** Client errors over the whole run by role: "produce NOT_LEADER_OR_FOLLOWER 12; consume NETWORK 3", and their total. */
export function describeClientErrors(errors: { readonly produce: Readonly<Record<string, number>>; readonly consume: Readonly<Record<string, number>>; readonly client: Readonly<Record<string, number>> } | undefined): { total: number; line: string } {
  if (!errors) return { total: 0, line: '' }
  let total = 0
  const parts: string[] = []
  for (const [role, byCode] of Object.entries(errors)) {
    const entries = Object.entries(byCode).sort((a, b) => b[1] - a[1])
    if (entries.length === 0) continue
    total += entries.reduce((n, [, c]) => n + c, 0)
    parts.push(`${role} ${entries.map(([code, n]) => `${code} ${n}`).join(', ')}`)
  }
  return { total, line: parts.join('; ') }
}
