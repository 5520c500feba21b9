import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ProduceRecord, ProduceResult } from '../../../workloads/driver.ts'
import { Accumulator, recordSize, type BatchSender } from '../../../workloads/drivers/batching.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`batching.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

interface SentBatch {
  topic: string
  partition: number
  records: ProduceRecord[]
  done: (r: ProduceResult) => void
}

/** A broker stand-in: batches wait until the test completes them; offsets are per partition, in completion order. */
function fakeBroker() {
  const sent: SentBatch[] = []
  const next = new Map<number, number>()
  const sender: BatchSender = (topic, partition, records, done) => sent.push({ topic, partition, records, done })
  const ack = (b: SentBatch) => {
    const base = next.get(b.partition) ?? 0
    next.set(b.partition, base + b.records.length)
    b.done({ ok: true, baseOffset: base })
  }
  return { sent, sender, ack }
}

const rec = (n: number, size = 10): ProduceRecord[] => Array.from({ length: n }, () => ({ key: null, value: Buffer.alloc(size) }))
const tick = () => new Promise<void>((r) => setImmediate(r))

afterEach(() => {
  vi.useRealTimers()
})

describe('Accumulator', () => {
  it('merges the sends of one burst to a partition into one batch and gives each send its own base offset', async () => {
    const b = fakeBroker()
    const acc = new Accumulator(b.sender, { maxInFlight: 1 })
    const results: ProduceResult[] = []
    acc.send({ topic: 't', partition: 0, records: rec(2) }, (r) => results.push(r))
    acc.send({ topic: 't', partition: 0, records: rec(3) }, (r) => results.push(r))
    acc.send({ topic: 't', partition: 1, records: rec(1) }, (r) => results.push(r))
    expect(acc.pending).toBe(6)
    await tick()
    expect(b.sent.map((s) => [s.partition, s.records.length])).toEqual([
      [0, 5],
      [1, 1],
    ])
    b.ack(b.sent[0]!)
    expect(results).toEqual([
      { ok: true, baseOffset: 0 },
      { ok: true, baseOffset: 2 },
    ])
    b.ack(b.sent[1]!)
    expect(acc.pending).toBe(0)
  })

  it('closes a batch at batchBytes and never splits a send', async () => {
    const b = fakeBroker()
    const size = recordSize({ key: null, value: Buffer.alloc(100) })
    const acc = new Accumulator(b.sender, { batchBytes: size * 3, maxInFlight: 10 })
    for (let i = 0; i < 4; i++) acc.send({ topic: 't', partition: 0, records: rec(2, 100) }, () => {})
    await tick()
    expect(b.sent.map((s) => s.records.length)).toEqual([2, 2, 2, 2])
    const acc2 = new Accumulator(b.sender, { batchBytes: size * 4, maxInFlight: 10 })
    b.sent.length = 0
    for (let i = 0; i < 4; i++) acc2.send({ topic: 't', partition: 0, records: rec(2, 100) }, () => {})
    await tick()
    expect(b.sent.map((s) => s.records.length)).toEqual([4, 4])
  })

  it('keeps at most maxInFlight requests outstanding per partition, lets its batches grow meanwhile, and a slow partition holds back no other', async () => {
    const b = fakeBroker()
    const acc = new Accumulator(b.sender, { maxInFlight: 2 })
    for (let i = 0; i < 3; i++) {
      acc.send({ topic: 't', partition: 0, records: rec(1) }, () => {})
      await tick()
    }
    expect(b.sent.map((s) => s.partition)).toEqual([0, 0])
    acc.send({ topic: 't', partition: 0, records: rec(4) }, () => {})
    await tick()
    expect(b.sent.length).toBe(2)
    // Partition 0's window is full (its leader is slow); partition 1 goes out at once, twice.
    acc.send({ topic: 't', partition: 1, records: rec(1) }, () => {})
    await tick()
    acc.send({ topic: 't', partition: 1, records: rec(1) }, () => {})
    await tick()
    expect(b.sent.map((s) => s.partition)).toEqual([0, 0, 1, 1])
    expect(acc.requestsInFlight).toBe(4)
    b.ack(b.sent[0]!)
    expect(b.sent.length).toBe(5)
    expect(b.sent[4]!.partition).toBe(0)
    expect(b.sent[4]!.records.length).toBe(5)
  })

  it('holds records for lingerMs unless flushed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const b = fakeBroker()
    const acc = new Accumulator(b.sender, { lingerMs: 50 })
    acc.send({ topic: 't', partition: 0, records: rec(1) }, () => {})
    await Promise.resolve()
    expect(b.sent.length).toBe(0)
    vi.advanceTimersByTime(49)
    expect(b.sent.length).toBe(0)
    vi.advanceTimersByTime(2)
    expect(b.sent.length).toBe(1)
    acc.send({ topic: 't', partition: 0, records: rec(1) }, () => {})
    const flushed = acc.flush()
    expect(b.sent.length).toBe(2)
    b.ack(b.sent[0]!)
    b.ack(b.sent[1]!)
    await flushed
    expect(acc.pending).toBe(0)
  })

  it('fails every send of a failed batch with the same error', async () => {
    const b = fakeBroker()
    const acc = new Accumulator(b.sender)
    const results: ProduceResult[] = []
    acc.send({ topic: 't', partition: 0, records: rec(1) }, (r) => results.push(r))
    acc.send({ topic: 't', partition: 0, records: rec(1) }, (r) => results.push(r))
    await tick()
    const error = { code: 6, name: 'NOT_LEADER_OR_FOLLOWER', definite: true, retriable: true, message: 'x' }
    b.sent[0]!.done({ ok: false, error })
    expect(results).toEqual([
      { ok: false, error },
      { ok: false, error },
    ])
  })

  it('gives every record of every partition exactly one offset, in send order, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ partition: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 1, max: 5 }), size: fc.integer({ min: 1, max: 3000 }) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4096 * 4 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        async (sends, batchBytes, picks) => {
          const b = fakeBroker()
          const acc = new Accumulator(b.sender, { batchBytes, maxInFlight: 1 })
          const got = new Map<number, number[]>()
          const expected = new Map<number, number>()
          let callbacks = 0
          for (const s of sends) {
            expected.set(s.partition, (expected.get(s.partition) ?? 0) + s.n)
            acc.send({ topic: 't', partition: s.partition, records: rec(s.n, s.size) }, (r) => {
              callbacks++
              if (!r.ok) throw new Error('unexpected failure')
              const list = got.get(s.partition) ?? []
              for (let i = 0; i < s.n; i++) list.push(r.baseOffset + i)
              got.set(s.partition, list)
            })
            if (picks.length > 0 && picks[callbacks % picks.length]! % 3 === 0) await Promise.resolve()
          }
          const flushed = acc.flush()
          let acked = 0
          while (acked < b.sent.length || acc.pending > 0) {
            await tick()
            while (acked < b.sent.length) b.ack(b.sent[acked++]!)
          }
          await flushed
          expect(callbacks).toBe(sends.length)
          for (const [p, n] of expected) expect(got.get(p)).toEqual(Array.from({ length: n }, (_, i) => i))
        },
      ),
      { seed, numRuns: 100 },
    )
  })
})
