import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { NUM_BATCHES_TO_RETAIN, ProducerStateManager, lastSequenceOf, type ProducerBatch } from '../../../broker/producers/producer-state.ts'

const allocated = () => true
const batch = (over: Partial<ProducerBatch> = {}): ProducerBatch => ({ producerId: 7, producerEpoch: 0, baseSequence: 0, recordCount: 3, maxTimestamp: 1000, ...over })

function appended(m: ProducerStateManager, b: ProducerBatch, firstOffset: number): void {
  expect(m.check(b)).toEqual({ kind: 'append' })
  m.update(b, firstOffset, firstOffset + b.recordCount - 1, b.maxTimestamp)
}

describe('ProducerStateManager sequence rules', () => {
  test('non-idempotent batches always append and leave no state', () => {
    const m = new ProducerStateManager()
    const b = batch({ producerId: -1, producerEpoch: -1, baseSequence: -1 })
    expect(m.check(b)).toEqual({ kind: 'append' })
    m.update(b, 0, 2, 0)
    expect(m.size).toBe(0)
  })

  test('a producer id with no state here appends at any sequence (KIP-360; Kafka keeps no list of allocated ids)', () => {
    const m = new ProducerStateManager()
    expect(m.check(batch({ producerId: 10_000_000, baseSequence: 0 }))).toEqual({ kind: 'append' })
    expect(m.check(batch({ producerId: 10_000_001, baseSequence: 17 }))).toEqual({ kind: 'append' })
  })

  test('in-sequence batches append; a retried batch is a duplicate with its original offsets', () => {
    const m = new ProducerStateManager()
    appended(m, batch({ baseSequence: 0, recordCount: 3 }), 10)
    appended(m, batch({ baseSequence: 3, recordCount: 2 }), 13)
    expect(m.check(batch({ baseSequence: 0, recordCount: 3 }))).toEqual({ kind: 'duplicate', firstOffset: 10, lastOffset: 12 })
    expect(m.check(batch({ baseSequence: 3, recordCount: 2 }))).toEqual({ kind: 'duplicate', firstOffset: 13, lastOffset: 14 })
  })

  test('a gap in sequence is OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
    const m = new ProducerStateManager()
    appended(m, batch({ baseSequence: 0, recordCount: 3 }), 0)
    expect(m.check(batch({ baseSequence: 4 }))).toMatchObject({ kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER })
  })

  test('a sequence already passed but outside the retained window is OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
    const m = new ProducerStateManager()
    for (let i = 0; i <= NUM_BATCHES_TO_RETAIN; i++) appended(m, batch({ baseSequence: i, recordCount: 1 }), i)
    expect(m.check(batch({ baseSequence: 0, recordCount: 1 }))).toMatchObject({ kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER })
    expect(m.check(batch({ baseSequence: 1, recordCount: 1 }))).toMatchObject({ kind: 'duplicate', firstOffset: 1 })
  })

  test('a stale epoch is INVALID_PRODUCER_EPOCH', () => {
    const m = new ProducerStateManager()
    appended(m, batch({ producerEpoch: 2 }), 0)
    expect(m.check(batch({ producerEpoch: 1, baseSequence: 3 }))).toMatchObject({ kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH })
  })

  test('a new epoch must start at sequence 0', () => {
    const m = new ProducerStateManager()
    appended(m, batch({ producerEpoch: 0 }), 0)
    expect(m.check(batch({ producerEpoch: 1, baseSequence: 3 }))).toMatchObject({ kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER })
    appended(m, batch({ producerEpoch: 1, baseSequence: 0 }), 3)
    expect(m.entry(7)!.epoch).toBe(1)
    expect(m.entry(7)!.batches).toHaveLength(1)
  })

  test('a producer with no state here may start at any sequence (KIP-360)', () => {
    const m = new ProducerStateManager()
    appended(m, batch({ baseSequence: 42 }), 0)
  })

  test('sequences wrap from Int32.MAX to 0', () => {
    const m = new ProducerStateManager()
    const b = batch({ baseSequence: 2147483646, recordCount: 2 })
    expect(lastSequenceOf(b)).toBe(2147483647)
    appended(m, b, 0)
    appended(m, batch({ baseSequence: 0, recordCount: 1 }), 2)
    expect(lastSequenceOf(batch({ baseSequence: 2147483647, recordCount: 3 }))).toBe(1)
  })

  test('truncation forgets batches at or past the offset', () => {
    const m = new ProducerStateManager()
    appended(m, batch({ baseSequence: 0, recordCount: 3 }), 0)
    appended(m, batch({ baseSequence: 3, recordCount: 3 }), 3)
    m.truncateTo(3)
    expect(m.entry(7)!.batches).toHaveLength(1)
    expect(m.check(batch({ baseSequence: 3, recordCount: 3 }))).toEqual({ kind: 'append' })
    m.truncateTo(0)
    expect(m.size).toBe(0)
  })

  test('expiry drops idle producers', () => {
    const m = new ProducerStateManager()
    appended(m, batch({ producerId: 1, maxTimestamp: 100 }), 0)
    appended(m, batch({ producerId: 2, maxTimestamp: 500 }), 3)
    expect(m.expire(200)).toBe(1)
    expect(m.entry(1)).toBeUndefined()
    expect(m.entry(2)).toBeDefined()
  })

  test('snapshots round-trip (property)', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now())
    console.log(`producer-state snapshot property seed=${seed}`)
    fc.assert(
      fc.property(
        fc.array(fc.record({ producerId: fc.integer({ min: 0, max: 20 }), producerEpoch: fc.integer({ min: 0, max: 3 }), recordCount: fc.integer({ min: 1, max: 50 }), maxTimestamp: fc.integer({ min: 0, max: 2 ** 40 }) }), { maxLength: 60 }),
        (ops) => {
          const m = new ProducerStateManager()
          let offset = 0
          const seqs = new Map<string, number>()
          for (const o of ops) {
            const k = `${o.producerId}/${o.producerEpoch}`
            const b = { ...o, baseSequence: seqs.get(k) ?? 0 }
            if (m.check(b).kind !== 'append') continue
            m.update(b, offset, offset + b.recordCount - 1, o.maxTimestamp)
            seqs.set(k, b.baseSequence + b.recordCount)
            offset += b.recordCount
          }
          const copy = ProducerStateManager.deserialize(m.serialize())
          expect([...copy.entries()]).toEqual([...m.entries()])
        },
      ),
      { seed },
    )
  })
})
