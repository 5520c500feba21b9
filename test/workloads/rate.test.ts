import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clockOffsetMs, MaxRateController, Pacer, Schedule, SimScheduler, type RateSample } from '../../workloads/rate.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`rate.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

interface Sent {
  intended: number
  actual: number
}

/** Runs a pacer on simulated time; `cost` is CPU spent per send, `stalls` block the event loop. */
function simulate(opts: {
  rate: number
  untilMs: number
  lateness?: () => number
  cost?: number
  stalls?: readonly { at: number; ms: number }[]
  endMs?: number
  maxItems?: number
  canSend?: () => boolean
}): { sent: Sent[]; sched: SimScheduler; pacer: Pacer } {
  const sched = new SimScheduler(0, opts.lateness)
  const sent: Sent[] = []
  for (const s of opts.stalls ?? []) sched.schedule(() => sched.spend(s.ms), s.at)
  const pacer = new Pacer({
    scheduler: sched,
    schedule: new Schedule(0, opts.rate),
    endMs: opts.endMs,
    maxItems: opts.maxItems,
    canSend: opts.canSend,
    emit: (intended, actual) => {
      sent.push({ intended, actual })
      if (opts.cost) sched.spend(opts.cost)
      return 1
    },
  })
  pacer.start()
  sched.run(opts.untilMs)
  return { sent, sched, pacer }
}

describe('open-loop pacer', () => {
  it('keeps a 10k/s schedule within 1% over 10 s of simulated time, whatever the timer lateness, send cost and stalls', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 10_000 }), ms: fc.integer({ min: 1, max: 50 }) }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (maxLatenessMs, costMs, stalls, jitterSeed) => {
          let x = jitterSeed || 1
          // A deterministic lateness per timer in [0, maxLatenessMs].
          const lateness = () => {
            x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff
            return (x / 0x7fffffff) * maxLatenessMs
          }
          const { sent } = simulate({ rate: 10_000, untilMs: 10_000, lateness, cost: costMs, stalls })
          const byTenSeconds = sent.filter((s) => s.actual <= 10_000).length
          expect(Math.abs(byTenSeconds - 100_000)).toBeLessThanOrEqual(1000)
          // Open loop: message i is due at i / rate whatever happened before, and never goes out early.
          let bad = 0
          sent.forEach((s, i) => {
            if (Math.abs(s.intended - i * 0.1) > 1e-6 || s.actual < s.intended) bad++
          })
          expect(bad).toBe(0)
        },
      ),
      { seed, numRuns: 30 },
    )
  })

  it('sends everything that fell due during a stall at once, in order, with the stall as send delay', () => {
    const { sent } = simulate({ rate: 1000, untilMs: 2000, stalls: [{ at: 1000, ms: 500 }] })
    const late = sent.filter((s) => s.intended >= 1000 && s.intended <= 1500)
    expect(late.length).toBe(501)
    for (const s of late) expect(s.actual).toBeCloseTo(1500, 6)
    expect(late[0]!.actual - late[0]!.intended).toBeCloseTo(500, 0)
    // After the stall the schedule is back on time.
    const after = sent.filter((s) => s.intended > 1600)
    for (const s of after) expect(s.actual - s.intended).toBeLessThan(1e-6)
    expect(sent.length).toBe(2001)
  })


  it('reads the clock once per 8 overdue items at most, so an actual send time is at most 8 items stale, never before its intended time', () => {
    const sched = new SimScheduler(0)
    let reads = 0
    const counting = { now: () => (reads++, sched.now()), schedule: (fn: () => void, ms: number) => sched.schedule(fn, ms) }
    const cost = 0.001
    const sent: { intended: number; actual: number; clock: number }[] = []
    // Everything is due at once after a 100 ms stall: one burst of up to 1000 items per turn.
    sched.schedule(() => sched.spend(100), 0)
    const pacer = new Pacer({
      scheduler: counting,
      schedule: new Schedule(1, 100_000),
      maxItems: 5000,
      emit: (intended, actual) => {
        sent.push({ intended, actual, clock: sched.now() })
        sched.spend(cost)
        return 1
      },
    })
    pacer.start()
    sched.run(1000)
    expect(sent.length).toBe(5000)
    for (const s of sent) {
      expect(s.actual).toBeGreaterThanOrEqual(s.intended)
      expect(s.clock - s.actual).toBeLessThanOrEqual(8 * cost + 1e-9)
    }
    expect(reads).toBeLessThan(5000 / 8 + 50)
  })
  it('stops before the end time and after maxItems', () => {
    expect(simulate({ rate: 1000, untilMs: 5000, endMs: 1000 }).sent.length).toBe(1000)
    expect(simulate({ rate: 1000, untilMs: 5000, maxItems: 42 }).sent.length).toBe(42)
  })

  it('waits while canSend is false and catches up after wake()', () => {
    let open = false
    const r = simulate({ rate: 1000, untilMs: 100, canSend: () => open })
    expect(r.sent.length).toBe(0)
    expect(r.pacer.isBlocked).toBe(true)
    open = true
    r.pacer.wake()
    expect(r.sent.length).toBe(101)
    expect(r.sent[0]!.actual - r.sent[0]!.intended).toBeCloseTo(100, 6)
  })

  it('schedules byte rates by the bytes before each item', () => {
    const s = new Schedule(0, 1000)
    s.advance(500)
    expect(s.nextIntended()).toBeCloseTo(500, 9)
    s.advance(250)
    expect(s.nextIntended()).toBeCloseTo(750, 9)
  })

  it('re-anchors on a rate change, forgiving lag only when asked', () => {
    const s = new Schedule(0, 1000)
    for (let i = 0; i < 10; i++) s.advance(1)
    s.setRate(2000, 50)
    expect(s.nextIntended()).toBeCloseTo(10, 9)
    s.advance(1)
    expect(s.nextIntended()).toBeCloseTo(10.5, 9)
    s.setRate(100, 50, true)
    expect(s.nextIntended()).toBeCloseTo(50, 9)
    expect(s.dueBy(60)).toBe(11 + 1 + 1)
  })
})

/**
 * A fluid model of a system that completes at most `capacity` items per second, FIFO, with producers that
 * send what the controller asks. Returns the controller after `periods` periods.
 */
function discover(capacity: number, periods: number, initialRate: number) {
  const c = new MaxRateController({ initialRate, periodMs: 1000 })
  let due = 0
  let completed = 0
  const rates: number[] = []
  for (let p = 0; p < periods; p++) {
    due += c.rate
    completed = Math.min(due, completed + capacity)
    const s: RateSample = { due, sent: due, completed }
    const d = c.next(s, 1000)
    rates.push(d.rate)
    // The producer forgives the debt on a back-off: what was due is what was completed.
    if (d.kind === 'back-off') due = completed
  }
  return { c, rates }
}

describe('pacer turns', () => {
  it('calls onTurnEnd after every turn that emitted, before it yields and before onDone', () => {
    // Timers fire 3 ms late: at 1000/s each late turn finds 3-4 items overdue, and maxBurst 2 splits them.
    const sched = new SimScheduler(0, () => 3)
    const log: string[] = []
    const pacer = new Pacer({
      scheduler: sched,
      schedule: new Schedule(0, 1000),
      maxItems: 10,
      maxBurst: 2,
      emit: () => {
        log.push('e')
        return 1
      },
      onTurnEnd: () => log.push('|'),
      onDone: () => log.push('done'),
    })
    pacer.start()
    sched.run(1000)
    expect(log.filter((x) => x === 'e').length).toBe(10)
    expect(log.at(-1)).toBe('done')
    expect(log.at(-2)).toBe('|')
    // Every turn is closed, none is empty, and none holds more than maxBurst items.
    const turns = log.slice(0, -1).join('').split('|').slice(0, -1)
    expect(turns.every((t) => t.length >= 1 && t.length <= 2)).toBe(true)
    expect(turns.join('').length).toBe(10)
  })
})

describe('max-rate discovery', () => {
  it('settles near the capacity of the system and keeps the backlog bounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 2_000_000 }), fc.integer({ min: 100, max: 5000 }), (capacity, initial) => {
        const { c, rates } = discover(capacity, 80, initial)
        // Sustained: a whole period with the backlog bounded and growing by at most max(100, 2% of the period's
        // sends); the growth is (rate - capacity) a period, so rate <= max(capacity / 0.98, capacity + 100).
        expect(c.sustainedRate).toBeGreaterThan(0.7 * capacity)
        expect(c.sustainedRate).toBeLessThanOrEqual(Math.max(capacity / 0.98, capacity + 100) + 1e-6)
        // The last 20 periods saw-tooth around the knee, neither collapsing nor running away.
        const last = rates.slice(-20)
        for (const r of last) {
          expect(r).toBeGreaterThan(0.5 * capacity)
          expect(r).toBeLessThan(1.8 * capacity)
        }
        const mean = last.reduce((a, b) => a + b, 0) / last.length
        expect(mean).toBeGreaterThan(0.8 * capacity)
        expect(mean).toBeLessThan(1.25 * capacity)
      }),
      { seed },
    )
  })

  it('ramps up fast while there is no backlog', () => {
    const c = new MaxRateController({ initialRate: 1000 })
    const rates: number[] = []
    let total = 0
    for (let i = 0; i < 5; i++) {
      total += c.rate
      rates.push(c.next({ due: total, sent: total, completed: total }).rate)
    }
    expect(rates).toEqual([2000, 4000, 8000, 16000, 32000])
  })

  it('backs off toward what was achieved when sends pile up, and says why', () => {
    const c = new MaxRateController({ initialRate: 10_000 })
    const d = c.next({ due: 10_000, sent: 10_000, completed: 4000 })
    expect(d.kind).toBe('back-off')
    if (d.kind !== 'back-off') return
    expect(d.cause).toBe('send')
    expect(d.backlog).toBe(6000)
    // 0.2 * 4000/s achieved + 0.8 * (10000 - 6000)/s
    expect(d.rate).toBeCloseTo(4000, 6)
    expect(d.factor).toBe(0.5)
  })

  it('backs off when consumers fall behind', () => {
    const c = new MaxRateController({ initialRate: 10_000 })
    const d = c.next({ due: 10_000, sent: 10_000, completed: 10_000, received: 5000 })
    expect(d.kind === 'back-off' && d.cause === 'receive').toBe(true)
  })

  it('never drops to zero after a stalled period', () => {
    const c = new MaxRateController({ initialRate: 10_000 })
    const d = c.next({ due: 10_000, sent: 10_000, completed: 0 })
    expect(d.rate).toBeGreaterThanOrEqual(1000)
  })
})

describe('SimScheduler', () => {
  it('fires timers in time order, ties in creation order, late when told', () => {
    const s = new SimScheduler(0, () => 5)
    const order: string[] = []
    s.schedule(() => order.push('b'), 10)
    s.schedule(() => order.push('a'), 1)
    s.schedule(() => order.push('c'), 10)
    const t = s.schedule(() => order.push('x'), 3)
    t.cancel()
    s.run(100)
    expect(order).toEqual(['a', 'b', 'c'])
    expect(s.now()).toBe(100)
  })
})

describe('clockOffsetMs', () => {
  it('puts the local clock on the shared one to within a microsecond when reads are preempted', () => {
    // One clock read two ways: shared = true time + 1000 ms, local = true time; each read takes 1 µs, and the
    // process is descheduled for 30 ms inside the first bracket (as at a load worker's start on a busy machine).
    let t = 5
    let reads = 0
    const shared = (): number => (t += 0.001) + 1000
    const local = (): number => {
      reads++
      if (reads <= 2) t += 30
      return (t += 0.001)
    }
    expect(Math.abs(clockOffsetMs(shared, local) - 1000)).toBeLessThan(0.001)
  })
})
