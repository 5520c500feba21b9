import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TimeSeries } from '../../reports/timeseries.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`timeseries.test.ts: FC_SEED=${seed}`)

type Op = { kind: 'send' | 'ack' | 'recv'; time: number; size: number; latency: number } | { kind: 'fail'; time: number; code: string }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('send' as const, 'ack' as const, 'recv' as const), time: fc.integer({ min: 0, max: 9_999_999 }), size: fc.nat(5000), latency: fc.integer({ min: 0, max: 2_000_000 }) }),
  fc.record({ kind: fc.constant('fail' as const), time: fc.integer({ min: 0, max: 9_999_999 }), code: fc.constantFrom('REQUEST_TIMED_OUT', 'NOT_LEADER_OR_FOLLOWER') }),
)

function feed(ts: TimeSeries, ops: Op[]): void {
  for (const op of ops) {
    if (op.kind === 'fail') ts.fail(op.time, op.code)
    else if (op.kind === 'send') ts.send(op.time, op.size)
    else if (op.kind === 'ack') ts.ack(op.time, op.size, op.latency)
    else ts.recv(op.time, op.size, op.latency)
  }
}

describe('TimeSeries', () => {
  it('counts every operation and byte in the bucket of its time (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const ts = new TimeSeries()
        feed(ts, ops)
        const data = ts.toJSON()
        const n = ops.length === 0 ? 0 : Math.floor(Math.max(...ops.map((o) => o.time)) / 1_000_000) + 1
        const zeros = (): number[] => Array.from({ length: n }, () => 0)
        const want = { sent: zeros(), acked: zeros(), failed: zeros(), consumed: zeros(), sentBytes: zeros(), ackedBytes: zeros(), consumedBytes: zeros() }
        const errors: Record<string, number[]> = {}
        for (const op of ops) {
          const i = Math.floor(op.time / 1_000_000)
          if (op.kind === 'fail') {
            want.failed[i]!++
            ;(errors[op.code] ??= zeros())[i]!++
          } else if (op.kind === 'send') (want.sent[i]!++, (want.sentBytes[i]! += op.size))
          else if (op.kind === 'ack') (want.acked[i]!++, (want.ackedBytes[i]! += op.size))
          else (want.consumed[i]!++, (want.consumedBytes[i]! += op.size))
        }
        expect(data).toMatchObject(want)
        expect(data.errors).toEqual(errors)
        for (const series of [data.produceP50, data.produceP99, data.produceMax, data.e2eP50, data.e2eP99, data.e2eMax]) expect(series).toHaveLength(n)
      }),
      { seed, numRuns: 200 },
    )
  })

  it('gives per-bucket latency percentiles of time-ordered samples within precision (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ time: fc.integer({ min: 0, max: 4_999_999 }), latency: fc.integer({ min: 1, max: 5_000_000 }) }), { minLength: 1, maxLength: 500 }), (samples) => {
        const sorted = [...samples].sort((a, b) => a.time - b.time)
        const ts = new TimeSeries()
        for (const s of sorted) ts.ack(s.time, 1, s.latency)
        const data = ts.toJSON()
        for (let i = 0; i < data.acked.length; i++) {
          const inBucket = sorted.filter((s) => Math.floor(s.time / 1_000_000) === i).map((s) => s.latency).sort((a, b) => a - b)
          if (inBucket.length === 0) {
            expect(data.produceP99[i]).toBeNull()
            continue
          }
          const exact = inBucket[Math.max(1, Math.ceil(0.99 * inBucket.length)) - 1]!
          const got = data.produceP99[i]!
          expect(got).toBeGreaterThanOrEqual(exact)
          expect(got - exact).toBeLessThanOrEqual(exact / 1024)
          expect(data.produceMax[i]).toBe(inBucket[inBucket.length - 1])
        }
      }),
      { seed, numRuns: 100 },
    )
  })

  it('puts a late latency sample in the open bucket but counts it in its own', () => {
    const ts = new TimeSeries()
    ts.ack(2_500_000, 1, 100)
    ts.ack(500_000, 1, 9000)
    const data = ts.toJSON()
    expect(data.acked).toEqual([1, 0, 1])
    expect(data.produceMax).toEqual([null, null, 9000])
  })

  it('folds bogus times into range and counts them', () => {
    const ts = new TimeSeries({ maxBuckets: 10 })
    ts.send(-5, 1)
    ts.send(1e15, 1)
    const data = ts.toJSON()
    expect(data.outOfRange).toBe(2)
    expect(data.sent).toHaveLength(10)
    expect(data.sent[0]).toBe(1)
    expect(data.sent[9]).toBe(1)
  })

  it('serves the last complete bucket for a live progress line', () => {
    const ts = new TimeSeries()
    expect(ts.latest(500_000)).toBeNull()
    ts.send(100, 10)
    ts.ack(200, 10, 150)
    ts.fail(300, 'REQUEST_TIMED_OUT')
    ts.send(1_100_000, 10)
    expect(ts.latest(1_200_000)).toMatchObject({ index: 0, sent: 1, acked: 1, failed: 1, sentBytes: 10, errors: { REQUEST_TIMED_OUT: 1 }, produceP99: 150 })
  })
})
