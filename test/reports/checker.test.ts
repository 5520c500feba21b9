import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type AnomalyExamples,
  type AnomalyKind,
  anomalyKinds,
  checkHistory,
  type DeliveryOptions,
  type DeliveryResult,
} from '../../reports/checker.ts'
import type { HistoryEvent } from '../../workloads/history/events.ts'
import { HistoryWriter } from '../../workloads/history/writer.ts'
import { type BaseSpec, baseSpecArb, buildHistory, type InjectKind, injectionArb, injectKinds, specArb } from './history-model.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`checker.test.ts: FC_SEED=${seed}`)

const dir = mkdtempSync(join(tmpdir(), 'faultline-checker-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let fileNo = 0

async function check(events: HistoryEvent[], options: DeliveryOptions = { sendOrder: true, examples: 1000 }): Promise<DeliveryResult> {
  const path = join(dir, `h${fileNo++}.bin`)
  const w = await HistoryWriter.open(path, { flushIntervalMs: 0 })
  for (const e of events) w.append(e)
  await w.close()
  try {
    return await checkHistory(path, options)
  } finally {
    rmSync(path)
  }
}

const counts = (r: DeliveryResult): Record<AnomalyKind, number> =>
  Object.fromEntries(anomalyKinds.map((k) => [k, r.anomalies[k].count])) as Record<AnomalyKind, number>

/** What identifies a reported example, in the model's terms. */
function identity<K extends AnomalyKind>(kind: K, example: AnomalyExamples[K]): string {
  const e = example as unknown as Record<string, unknown>
  switch (kind) {
    case 'inconsistentOffsets':
      return `${e.topic}/${e.partition}@${e.offset}`
    case 'pollSkips':
      return `${e.topic}/${e.partition}@${e.firstSkippedOffset}`
    case 'pollRewinds':
      return `${e.topic}/${e.partition}@${e.toOffset}`
    default:
      return String(e.value)
  }
}

function expectExactly(result: DeliveryResult, built: ReturnType<typeof buildHistory>): void {
  expect(counts(result)).toEqual(built.expected)
  for (const kind of anomalyKinds) {
    const want = built.identities[kind]
    if (!want) continue
    const got = result.anomalies[kind].examples.map((e) => identity(kind, e))
    expect(got.sort()).toEqual([...want].sort())
  }
}

/** Runs big enough to hold candidates for every injection; some kinds need a second group (history-model.ts). */
const specFor = (kind: InjectKind): fc.Arbitrary<BaseSpec> =>
  specArb({
    minValues: 30,
    maxValues: 120,
    groups: kind === 'inconsistentOffsets' || kind === 'pollSkips' ? 2 : undefined,
    maxProducers: kind === 'reordered' ? 2 : 3,
    maxPartitionsPerTopic: kind === 'reordered' ? 2 : 3,
  })

describe('delivery checker on model histories', () => {
  it('finds nothing in clean histories but the rebalance re-reads (property)', async () => {
    await fc.assert(
      fc.asyncProperty(baseSpecArb, async (spec) => {
        const built = buildHistory(spec, [])
        const result = await check(built.events)
        expectExactly(result, built)
        expect(result.state).toBe('passed')
        expect(result.stats).toMatchObject({
          values: built.stats.values,
          acks: built.stats.acks,
          recvs: built.stats.recvs,
          foreignRecords: built.stats.foreign,
          indeterminateLanded: built.stats.indeterminateLanded,
          unknownValueEvents: 0,
          sendOrderViolations: 0,
        })
      }),
      { seed, numRuns: 150 },
    )
  })

  for (const kind of injectKinds) {
    it(`reports exactly the injected ${kind} anomalies (property)`, async () => {
      let injected = 0
      let runs = 0
      await fc.assert(
        fc.asyncProperty(specFor(kind), injectionArb(kind), async (spec, injection) => {
          const built = buildHistory(spec, [injection])
          runs++
          if (built.expected[kind] > 0) injected++
          const result = await check(built.events)
          expectExactly(result, built)
          expect(result.state).toBe(built.expected[kind] > 0 ? 'failed' : 'passed')
        }),
        { seed, numRuns: 100 },
      )
      // Most runs must have injected something, or the property proves little.
      expect(injected).toBeGreaterThan(runs / 2)
    })
  }

  it('reports each kind exactly when several are injected on separate partitions (property)', async () => {
    const mixed = fc.record({
      spec: specArb({ minValues: 40, maxValues: 150, groups: 2 }).map((s) => ({ ...s, topics: 2, partitionsPerTopic: 3 })),
      kinds: fc.shuffledSubarray([...injectKinds], { minLength: 2, maxLength: 6 }),
      picks: fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), { minLength: 6, maxLength: 6 }),
    })
    await fc.assert(
      fc.asyncProperty(mixed, async ({ spec, kinds, picks }) => {
        const built = buildHistory(spec, kinds.map((kind, i) => ({ kind, partition: i, picks: picks[i] ?? [0] })))
        expectExactly(await check(built.events), built)
      }),
      { seed, numRuns: 100 },
    )
  })
})

describe('delivery checker details', () => {
  const send = (value: number, producer = 'p0', time = value * 10): HistoryEvent => ({
    type: 'send', value, producer, topic: 't', key: null, intended: time, time, size: 10,
  })
  const ack = (value: number, offset: number, partition = 0, time = value * 10 + 5): HistoryEvent => ({
    type: 'ack', value, topic: 't', partition, offset, time, sent: value * 10, intended: value * 10, size: 10,
  })
  const recv = (value: number, offset: number, member = 'm0', partition = 0, time = 1000 + offset, group = 'g'): HistoryEvent => ({
    type: 'recv', value, group, member, topic: 't', partition, offset, time, intended: value * 10, size: 10,
  })

  it('gives lost writes, unseen values and G1a reads their times from a second pass', async () => {
    const result = await check([
      send(0), send(1), send(2), send(3),
      ack(0, 0), ack(1, 1, 0, 77), ack(2, 2, 0, 88),
      { type: 'fail', value: 3, time: 99, error: 'INVALID_RECORD', definite: true },
      recv(0, 0), recv(3, 1, 'm0', 0, 1234),
    ], { sendOrder: false })
    expect(result.anomalies.lost.examples).toEqual([{ value: 1, topic: 't', partition: 0, offset: 1, maxReadOffset: 1, ackTime: 77 }])
    expect(result.anomalies.unseen.examples).toEqual([{ value: 2, topic: 't', partition: 0, offset: 2, ackTime: 88 }])
    // Value 3 was read at offset 1 where value 1 was acked: also an inconsistent offset.
    expect(result.anomalies.inconsistentOffsets.count).toBe(1)
    expect(result.anomalies.failedWritesRead.examples).toEqual([{ value: 3, topic: 't', partition: 0, offset: 1, error: 'INVALID_RECORD', failTime: 99, readTime: 1234 }])
    expect(result.anomalies.reordered).toMatchObject({ checked: false, count: 0, exceeded: false })
  })

  it('keeps only the first N examples but counts all', async () => {
    const events: HistoryEvent[] = []
    for (let v = 0; v < 50; v++) events.push(send(v), ack(v, v))
    const result = await check(events, { examples: 3 })
    expect(result.anomalies.unseen.count).toBe(50)
    expect(result.anomalies.unseen.examples.map((e) => e.value)).toEqual([0, 1, 2])
  })

  it('treats an ack without an offset as unseen with offset -1 when never read', async () => {
    const result = await check([send(0), ack(0, -1)])
    expect(result.anomalies.unseen.examples).toEqual([{ value: 0, topic: null, partition: null, offset: -1, ackTime: 5 }])
  })

  it('judges poll skips only within one ownership', async () => {
    const events: HistoryEvent[] = []
    for (let v = 0; v < 6; v++) events.push(send(v), ack(v, v))
    // Group h reads everything, so every offset exists and nothing is lost.
    for (let v = 0; v < 6; v++) events.push(recv(v, v, 'x', 0, 2000 + v, 'h'))
    events.push(
      { type: 'assign', group: 'g', member: 'm0', topic: 't', partition: 0, time: 900 },
      recv(0, 0), recv(1, 1),
      { type: 'revoke', group: 'g', member: 'm0', topic: 't', partition: 0, time: 1002 },
      { type: 'assign', group: 'g', member: 'm1', topic: 't', partition: 0, time: 1003 },
      recv(3, 3, 'm1'), recv(5, 5, 'm1'),
    )
    const result = await check(events)
    expect(result.anomalies.pollSkips.count).toBe(1)
    expect(result.anomalies.pollSkips.examples[0]).toMatchObject({ group: 'g', member: 'm1', fromOffset: 3, toOffset: 5, skipped: 1, firstSkippedOffset: 4 })
  })

  it('does not call a jump over offsets nobody saw a poll skip (transaction markers, compaction)', async () => {
    const result = await check([send(0), send(1), ack(0, 10), ack(1, 12), recv(0, 10), recv(1, 12)])
    expect(counts(result).pollSkips).toBe(0)
  })

  it('handles offsets far apart without allocating the gap', async () => {
    const far = 2 ** 40
    const base: HistoryEvent[] = [send(0), send(1), send(2), ack(0, 0), ack(1, 5), ack(2, far)]
    const clean = await check([...base, recv(0, 0, 'a'), recv(1, 5, 'a'), recv(2, far, 'b')])
    expect(counts(clean)).toEqual(Object.fromEntries(anomalyKinds.map((k) => [k, 0])))
    // 0 -> 2^40 within one ownership jumps over offset 5, which exists.
    const skipping = await check([...base, recv(0, 0, 'a'), recv(1, 5, 'a'), recv(2, far, 'b'), recv(0, 0, 'd'), recv(2, far, 'd')])
    expect(skipping.anomalies.pollSkips.examples).toMatchObject([{ member: 'd', fromOffset: 0, toOffset: far, skipped: 1, firstSkippedOffset: 5 }])
  })

  it('counts events of values never sent instead of tracking them', async () => {
    const result = await check([send(0), ack(0, 0), recv(0, 0), ack(7, 1), recv(2 ** 40, 2)])
    expect(result.stats.unknownValueEvents).toBe(2)
    expect(result.anomalies.lost.count).toBe(0)
  })

  it('counts sends out of value-id order per producer', async () => {
    const result = await check([send(1), send(0), send(2, 'p1')])
    expect(result.stats.sendOrderViolations).toBe(1)
  })

  it('applies limits: consumption duplicates fail only when limited', async () => {
    const events = [send(0), ack(0, 0), recv(0, 0), recv(0, 0, 'm0', 0, 2000)]
    const unlimited = await check(events)
    expect(unlimited.anomalies.rereads).toMatchObject({ count: 1, limit: null, exceeded: false })
    expect(unlimited.anomalies.pollRewinds.count).toBe(1)
    const limited = await check(events, { limits: { rereads: 0, pollRewinds: null } })
    expect(limited.state).toBe('failed')
    expect(limited.anomalies.rereads.exceeded).toBe(true)
    expect(limited.anomalies.pollRewinds.exceeded).toBe(false)
  })

  it('prefers the acked offset for a value read elsewhere (duplicate), and reports it once', async () => {
    const result = await check([send(0), send(1), recv(0, 3), ack(0, 0), ack(1, 1), recv(0, 0), recv(1, 1), recv(0, 5)])
    expect(result.anomalies.duplicates.count).toBe(1)
    expect(result.anomalies.duplicates.examples[0]).toMatchObject({ value: 0, first: { offset: 3 }, second: { offset: 0 } })
  })
})
