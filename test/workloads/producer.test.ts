import { describe, expect, it } from 'vitest'
import { partitionForKey, type DriverProducer } from '../../workloads/driver.ts'
import { recordSize } from '../../workloads/drivers/batching.ts'
import { keyBytes, readPayloadHeader, ValueIds } from '../../workloads/generators.ts'
import type { AckEvent, FailEvent, HistoryEvent, HistorySink, SendEvent } from '../../workloads/history/events.ts'
import { ProducerLoop, schedulePhases, type ProducerLoopOptions } from '../../workloads/producer.ts'
import { SimScheduler } from '../../workloads/rate.ts'
import { FakeCluster, fakeDriver, type FakeOptions } from './fake-driver.ts'

const START = 5000

/** A sink with only append(), or (`fast`) also the writer's appendSend and appendAck, which build the same events. */
function sinkInto(events: HistoryEvent[], fast = false): HistorySink {
  const append = (e: HistoryEvent) => events.push(e)
  if (!fast) return { append }
  return {
    append,
    appendSend: (value, producer, topic, key, intended, time, size) => append({ type: 'send', value, producer, topic, key, intended, time, size }),
    appendAck: (value, topic, partition, offset, time, sent, intended, size) => append({ type: 'ack', value, topic, partition, offset, time, sent, intended, size }),
  }
}

async function setup(fake: FakeOptions, loop: Omit<ProducerLoopOptions, 'producer' | 'scheduler' | 'partitions' | 'topic' | 'name'> & { name?: string }, fastSink = false) {
  const sched = new SimScheduler(START)
  const cluster = new FakeCluster(sched, fake)
  const producer = await fakeDriver(cluster).producer()
  const events: HistoryEvent[] = []
  const p = new ProducerLoop({ name: 'p0', topic: 't', partitions: fake.partitions, producer, scheduler: sched, history: sinkInto(events, fastSink), ...loop })
  return { sched, cluster, events, loop: p }
}

const sends = (ev: HistoryEvent[]) => ev.filter((e): e is SendEvent => e.type === 'send')
const acks = (ev: HistoryEvent[]) => ev.filter((e): e is AckEvent => e.type === 'ack')
const fails = (ev: HistoryEvent[]) => ev.filter((e): e is FailEvent => e.type === 'fail')

describe('ProducerLoop', () => {
  it('writes the same history through a sink with appendSend and appendAck as through append()', async () => {
    const histories: HistoryEvent[][] = []
    for (const fast of [false, true]) {
      const { sched, events, loop } = await setup(
        { partitions: 4 },
        { rate: { kind: 'fixed', perSecond: 5000 }, durationMs: 1000, keys: { kind: 'uniform', count: 50 }, sizes: { kind: 'uniform', min: 20, max: 200 }, seed: 5 },
        fast,
      )
      // Late timers, so that actual send times differ from intended ones.
      sched.lateness = () => 0.3
      const done = loop.run()
      sched.run(START + 2000)
      await done
      histories.push(events)
    }
    expect(acks(histories[1]!).length).toBe(5000)
    expect(acks(histories[1]!).filter((e) => e.sent > e.intended).length).toBeGreaterThan(0)
    expect(histories[1]).toEqual(histories[0])
  })

  it('records every send with its intended time and its ack where the value really is', async () => {
    const { sched, cluster, events, loop } = await setup(
      { partitions: 4 },
      { rate: { kind: 'fixed', perSecond: 1000 }, durationMs: 2000, keys: { kind: 'uniform', count: 50 }, sizes: { kind: 'uniform', min: 20, max: 200 }, seed: 3 },
    )
    const done = loop.run()
    sched.run(START + 3000)
    const summary = await done
    const s = sends(events)
    expect(s.length).toBe(2000)
    // Open loop at 1000/s: value i is due exactly i ms after the start; history times are µs from the origin.
    s.forEach((e, i) => {
      expect(e.value).toBe(i)
      expect(e.intended).toBe(i * 1000)
      expect(e.time).toBeGreaterThanOrEqual(e.intended)
    })
    const a = acks(events)
    expect(a.length).toBe(2000)
    expect(new Set(a.map((e) => e.value)).size).toBe(2000)
    const byValue = new Map(s.map((e) => [e.value, e]))
    let misplaced = 0
    for (const e of a) {
      const send = byValue.get(e.value)!
      expect(e.intended).toBe(send.intended)
      expect(e.sent).toBe(send.time)
      const stored = cluster.partitionsOf('t')[e.partition]![e.offset]!
      const header = readPayloadHeader(stored.value)
      if (header?.valueId !== e.value || stored.key?.toString() !== send.key) misplaced++
      if (e.partition !== partitionForKey(keyBytes(Number(send.key)), 4)) misplaced++
    }
    expect(misplaced).toBe(0)
    expect(summary).toMatchObject({ sent: 2000, acked: 2000, failed: 0 })
    expect(summary.latency.count).toBe(2000)
  })

  it('keeps 10k/s over 10 s of simulated time within 1% through the whole loop', async () => {
    const { sched, loop } = await setup({ partitions: 8 }, { rate: { kind: 'fixed', perSecond: 10_000 }, durationMs: 10_000, sizes: { kind: 'fixed', bytes: 64 } })
    const done = loop.run()
    sched.run(START + 10_000)
    expect(Math.abs(loop.sent - 100_000)).toBeLessThanOrEqual(1000)
    sched.run(START + 11_000)
    const s = await done
    expect(s.acked).toBe(100_000)
  })

  it('paces byte rates by message size', async () => {
    const { sched, loop } = await setup({ partitions: 1 }, { rate: { kind: 'fixed', perSecond: 100_000, unit: 'bytes' }, durationMs: 1000, sizes: { kind: 'fixed', bytes: 100 } })
    const done = loop.run()
    sched.run(START + 2000)
    expect((await done).sent).toBe(1000)
  })

  it('leaves warmup out of its summary (the history keeps it)', async () => {
    const { sched, events, loop } = await setup({ partitions: 2, latencyMs: 5 }, { rate: { kind: 'fixed', perSecond: 1000 }, durationMs: 1000, warmupMs: 400 })
    const done = loop.run()
    sched.run(START + 2000)
    const summary = await done
    const inWindow = acks(events).filter((e) => e.time >= 400_000).length
    expect(acks(events).length).toBe(1000)
    expect(summary.window.acked).toBe(inWindow)
    expect(summary.latency.count).toBe(inWindow)
    expect(inWindow).toBeLessThan(1000)
    expect(summary.sendDelay.count).toBe(sends(events).filter((e) => e.time >= 400_000).length)
  })

  it('records failures with their definite flag and counts them by error', async () => {
    const { sched, events, loop } = await setup(
      {
        partitions: 1,
        failWith: (_b, i) =>
          i % 10 === 0
            ? { code: 6, name: 'NOT_LEADER_OR_FOLLOWER', definite: true, retriable: true, message: 'moved' }
            : i % 10 === 1
              ? { code: null, name: 'TIMEOUT', definite: false, retriable: true, message: 'slow' }
              : null,
      },
      { rate: { kind: 'fixed', perSecond: 1000 }, count: 100 },
    )
    const done = loop.run()
    sched.run(START + 1000)
    const s = await done
    const f = fails(events)
    expect(f.length).toBe(20)
    expect(f.filter((e) => e.definite).map((e) => e.error)).toEqual(Array(10).fill('NOT_LEADER_OR_FOLLOWER'))
    expect(f.filter((e) => !e.definite).map((e) => e.error)).toEqual(Array(10).fill('TIMEOUT'))
    expect(s).toMatchObject({ sent: 100, acked: 80, failed: 20, failedDefinite: 10, errors: { NOT_LEADER_OR_FOLLOWER: 10, TIMEOUT: 10 } })
  })

  it('stops sending at maxPending and lets the send delay show it (coordinated omission stays visible)', async () => {
    const { sched, events, loop } = await setup({ partitions: 1, capacity: 100 }, { rate: { kind: 'fixed', perSecond: 1000 }, durationMs: 1000, maxPending: 50 })
    const done = loop.run()
    sched.run(START + 20_000)
    const s = await done
    expect(s.sent).toBe(1000)
    let outstanding = 0
    let peak = 0
    for (const e of events) {
      if (e.type === 'send') outstanding++
      else if (e.type === 'ack' || e.type === 'fail') outstanding--
      peak = Math.max(peak, outstanding)
    }
    expect(peak).toBeLessThanOrEqual(50)
    // 1000 messages at 100/s take ~10 s: the last ones went out ~9 s after they were due.
    expect(s.sendDelay.max!).toBeGreaterThan(8_000_000)
    expect(s.latency.p50!).toBeGreaterThan(s.serviceLatency.p50!)
  })

  it('discovers the rate a saturated system sustains (rate: max)', async () => {
    const capacity = 5000
    const decisions: string[] = []
    const { sched, loop } = await setup(
      { partitions: 1, capacity },
      { rate: { kind: 'max', options: { initialRate: 500 } }, durationMs: 30_000, sizes: { kind: 'fixed', bytes: 32 }, onRate: (d) => decisions.push(d.kind) },
    )
    const done = loop.run()
    sched.run(START + 60_000)
    const s = await done
    expect(decisions.includes('back-off')).toBe(true)
    expect(s.maxRate!.sustained).toBeGreaterThan(0.7 * capacity)
    expect(s.maxRate!.sustained).toBeLessThanOrEqual(capacity * 1.02 + 100)
  })

  it('sticks keyless messages to a partition for about a batch, or goes round robin', async () => {
    const sticky = await setup({ partitions: 3 }, { rate: { kind: 'fixed', perSecond: 1000 }, count: 100, sizes: { kind: 'fixed', bytes: 100 }, stickyBytes: 1000 })
    const d1 = sticky.loop.run()
    sticky.sched.run(START + 1000)
    await d1
    const parts = acks(sticky.events)
      .sort((a, b) => a.value - b.value)
      .map((e) => e.partition)
    // Runs of 10 messages (1000 bytes) per partition, each run on a different partition than the last.
    for (let i = 0; i < 100; i += 10) {
      expect(new Set(parts.slice(i, i + 10)).size).toBe(1)
      if (i > 0) expect(parts[i]).not.toBe(parts[i - 1])
    }
    const rr = await setup({ partitions: 3 }, { rate: { kind: 'fixed', perSecond: 1000 }, count: 6, keyless: 'round-robin' })
    const d2 = rr.loop.run()
    rr.sched.run(START + 1000)
    await d2
    expect(acks(rr.events).sort((a, b) => a.value - b.value).map((e) => e.partition)).toEqual([0, 1, 2, 0, 1, 2])
  })

  it('shares dense value ids between producers', async () => {
    const ids = new ValueIds()
    const a = await setup({ partitions: 1 }, { name: 'a', rate: { kind: 'fixed', perSecond: 1000 }, count: 10, valueIds: ids })
    const b = await setup({ partitions: 1 }, { name: 'b', rate: { kind: 'fixed', perSecond: 1000 }, count: 10, valueIds: ids })
    const da = a.loop.run()
    const db = b.loop.run()
    a.sched.run(START + 1000)
    b.sched.run(START + 1000)
    await Promise.all([da, db])
    const values = [...sends(a.events), ...sends(b.events)].map((e) => e.value).sort((x, y) => x - y)
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })

  it('hands a burst to the producer in few send() calls, one partition each, in order, with per-record times', async () => {
    const cases = [
      // batch.size 16 KiB (the default): groups of at most 2 KiB as the batching counts bytes.
      { keys: { kind: 'none' as const }, batchBytes: undefined, groupBytes: 2048, maxCalls: 3000 / 10 },
      { keys: { kind: 'none' as const }, batchBytes: 1_000_000, groupBytes: 16_384, maxCalls: 3000 / 50 },
      { keys: { kind: 'uniform' as const, count: 50 }, batchBytes: 1_000_000, groupBytes: 16_384, maxCalls: 3000 },
    ]
    for (const { keys, batchBytes, groupBytes, maxCalls } of cases) {
      // Timers fire 5 ms late, as on a busy event loop: at 1e6/s (intended times 1 µs apart, as the history
      // resolves them) everything is overdue by then.
      const sched = new SimScheduler(START, () => 5)
      const cluster = new FakeCluster(sched, { partitions: 4 })
      const inner = await fakeDriver(cluster).producer()
      const calls: { partition: number; ids: number[]; bytes: number }[] = []
      const producer: DriverProducer = {
        get pending() {
          return inner.pending
        },
        send(batch, done) {
          const ids = batch.records.map((r) => readPayloadHeader(r.value)!.valueId)
          calls.push({ partition: batch.partition, ids, bytes: batch.records.reduce((n, r) => n + recordSize(r), 0) })
          inner.send(batch, done)
        },
        flush: () => inner.flush(),
        close: () => inner.close(),
      }
      const events: HistoryEvent[] = []
      // 3000 records overdue: the pacer emits them in turns of up to 1000.
      const loop = new ProducerLoop({ name: 'p0', topic: 't', partitions: 4, producer, scheduler: sched, history: { append: (e) => events.push(e) }, rate: { kind: 'fixed', perSecond: 1e6 }, count: 3000, keys, batchBytes, sizes: { kind: 'uniform', min: 20, max: 200 } })
      const done = loop.run()
      sched.run(START + 1000)
      const summary = await done
      expect(summary).toMatchObject({ sent: 3000, acked: 3000, failed: 0 })
      // Every record exactly once, in emit order, and each call to one partition within the group bounds.
      expect(calls.flatMap((c) => c.ids)).toEqual(Array.from({ length: 3000 }, (_, i) => i))
      for (const c of calls) {
        expect(c.ids.length).toBeLessThanOrEqual(256)
        expect(c.bytes).toBeLessThanOrEqual(groupBytes)
      }
      expect(calls.length).toBeLessThan(maxCalls)
      // Each ack carries its own record's times and its own offset.
      const byValue = new Map(sends(events).map((e) => [e.value, e]))
      const a = acks(events)
      expect(a.length).toBe(3000)
      for (const e of a) {
        expect(e.intended).toBe(byValue.get(e.value)!.intended)
        expect(e.sent).toBe(byValue.get(e.value)!.time)
        expect(readPayloadHeader(cluster.partitionsOf('t')[e.partition]![e.offset]!.value)!.valueId).toBe(e.value)
      }
      expect(summary.latency.count).toBe(3000)
    }
  })

  it('refuses pre-encoded batches with a driver that cannot send them', async () => {
    await expect(setup({ partitions: 1 }, { rate: { kind: 'fixed', perSecond: 10 }, count: 10, preEncoded: { recordsPerBatch: 5 } })).rejects.toThrow(
      'pre-encoded batches need a driver that sends them (raw)',
    )
  })

  it('marks warmup end and measure end in the history', () => {
    const sched = new SimScheduler(START)
    const events: HistoryEvent[] = []
    schedulePhases({ append: (e) => events.push(e) }, sched, START, 1000, 3000)
    sched.run(START + 5000)
    expect(events).toEqual([
      { type: 'phase', phase: 'warmup-end', time: 1_000_000 },
      { type: 'phase', phase: 'measure-end', time: 3_000_000 },
    ])
  })
})
