import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MetricsAccumulator } from '../../reports/metrics.ts'
import type { HistoryEvent } from '../../workloads/history/events.ts'
import { scanHistory } from '../../workloads/history/reader.ts'
import { HistoryWriter } from '../../workloads/history/writer.ts'
import { fixtureEvents } from './fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-metrics-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let fileNo = 0

async function metricsOf(events: HistoryEvent[]): Promise<MetricsAccumulator> {
  const path = join(dir, `h${fileNo++}.bin`)
  const w = await HistoryWriter.open(path, { flushIntervalMs: 0 })
  for (const e of events) w.append(e)
  await w.close()
  const m = new MetricsAccumulator()
  await scanHistory(path, (rec) => m.observe(rec))
  return m
}

const send = (value: number, intended: number, time: number): HistoryEvent => ({ type: 'send', value, producer: 'p', topic: 't', key: null, intended, time, size: 100 })
const ack = (value: number, intended: number, sent: number, time: number): HistoryEvent => ({ type: 'ack', value, topic: 't', partition: 0, offset: value, time, sent, intended, size: 100 })

describe('MetricsAccumulator', () => {
  it('measures produce latency from the send, send delay from the schedule, e2e from the schedule', async () => {
    const m = (
      await metricsOf([
        send(0, 1000, 1500),
        ack(0, 1000, 1500, 4500),
        { type: 'recv', value: 0, group: 'g', member: 'm', topic: 't', partition: 0, offset: 0, time: 9000, intended: 1000, size: 100 },
        { type: 'recv', value: -1, group: 'g', member: 'm', topic: 't', partition: 0, offset: 1, time: 9100, intended: -1, size: 7 },
      ])
    ).finish()
    expect(m.produce.latency).toMatchObject({ count: 1, p50: 3000, max: 3000 })
    expect(m.produce.latencyFromIntended).toMatchObject({ count: 1, max: 3500 })
    expect(m.sendDelay).toMatchObject({ count: 1, max: 500 })
    expect(m.e2e).toMatchObject({ count: 1, max: 8000 })
    expect(m.consume).toMatchObject({ records: 2, bytes: 107, foreign: 1 })
  })

  it('counts only the measurement window, resetting at warmup end', async () => {
    const m = (
      await metricsOf([
        send(0, 0, 0),
        ack(0, 0, 0, 100),
        { type: 'fail', value: 9, time: 200, error: 'WARMUP_ERROR', definite: true },
        { type: 'phase', phase: 'warmup-end', time: 1_000_000 },
        send(1, 1_000_000, 1_000_000),
        ack(1, 1_000_000, 1_000_000, 1_000_300),
        send(2, 1_500_000, 1_500_000),
        { type: 'fail', value: 2, time: 1_600_000, error: 'REQUEST_TIMED_OUT', definite: false },
        { type: 'phase', phase: 'measure-end', time: 3_000_000 },
        send(3, 3_000_000, 3_000_000),
        ack(3, 3_000_000, 3_000_000, 3_000_100),
      ])
    ).finish()
    expect(m.window).toEqual({ startUs: 1_000_000, endUs: 3_000_000, durationUs: 2_000_000, warmupEndUs: 1_000_000, measureEndUs: 3_000_000 })
    expect(m.produce).toMatchObject({ sent: 2, acked: 1, failed: 1, rate: 0.5, ackedBytes: 100, bytesRate: 50 })
    expect(m.produce.latency.count).toBe(1)
    expect(m.errors).toEqual({ total: 1, definite: 0, indeterminate: 1, byCode: { REQUEST_TIMED_OUT: 1 }, shareOfSent: 0.5 })
    expect(m.totals).toMatchObject({ sent: 4, acked: 3, failed: 2, events: 11 })
  })

  it('counts the errors of the sends made in the window, whenever reported, and their share of those sends', async () => {
    const fail = (value: number, time: number, definite = false): HistoryEvent => ({ type: 'fail', value, time, error: definite ? 'INVALID_RECORD' : 'REQUEST_TIMED_OUT', definite })
    const m = (
      await metricsOf([
        send(0, 0, 0),
        send(1, 0, 10),
        { type: 'phase', phase: 'warmup-end', time: 1000 },
        // A warmup send failing inside the window is not the window's error.
        fail(0, 1500),
        send(2, 2000, 2000),
        send(3, 2000, 2000),
        send(4, 2000, 2000),
        send(5, 2000, 2000),
        fail(2, 2500, true),
        ack(3, 2000, 2000, 2600),
        // An acked value that is later reported failed again is not an error.
        fail(3, 2700),
        send(6, 2900, 2900),
        { type: 'phase', phase: 'measure-end', time: 3000 },
        // A window send failing after the window is: the send was made in it.
        fail(4, 30_000),
        ack(1, 0, 10, 30_001),
        send(7, 30_002, 30_002),
        fail(7, 30_003),
      ])
    ).finish()
    expect(m.produce).toMatchObject({ sent: 5, failed: 2, acked: 1 })
    expect(m.errors).toEqual({ total: 2, definite: 1, indeterminate: 1, byCode: { INVALID_RECORD: 1, REQUEST_TIMED_OUT: 1 }, shareOfSent: 2 / 5 })
    expect(m.totals).toMatchObject({ sent: 8, failed: 5 })
    expect((await metricsOf([{ type: 'phase', phase: 'warmup-end', time: 0 }])).finish().errors.shareOfSent).toBeNull()
  })

  it('finds the longest time without acks while producing, including a tail of unacked sends', async () => {
    const gaps = (
      await metricsOf([send(0, 0, 0), ack(0, 0, 0, 1000), send(1, 2000, 2000), ack(1, 2000, 2000, 9000), send(2, 9500, 9500), send(3, 30_000, 30_000)])
    ).finish()
    expect(gaps.unavailability).toEqual({ longestGapUs: 21_000, fromUs: 9000, toUs: 30_000 })
    const first = (await metricsOf([send(0, 0, 0), send(1, 10, 10), ack(0, 0, 0, 5000), ack(1, 10, 10, 5100)])).finish()
    expect(first.unavailability).toEqual({ longestGapUs: 5000, fromUs: 0, toUs: 5000 })
  })

  it('pairs fault starts and ends, counting acks and the longest ack gap inside each', async () => {
    const acc = await metricsOf(fixtureEvents())
    const faults = acc.faults()
    expect(faults).toHaveLength(1)
    expect(faults[0]).toMatchObject({ id: 0, name: 'kill', target: 'leaderOf orders/0', startUs: 4_000_000, endUs: 6_000_000 })
    // Acks resume at 5.5 s: the gap from the fault's start to the first ack after it is the longest.
    expect(faults[0]!.longestAckGapUs).toBeGreaterThan(1_400_000)
    expect(faults[0]!.longestAckGapUs).toBeLessThan(1_600_000)
    expect(faults[0]!.acks).toBeGreaterThan(0)
  })

  it('reports a fault that never ended with its gap up to the last event', async () => {
    const acc = await metricsOf([
      { type: 'fault', edge: 'start', id: 3, name: 'pause', target: 'broker 2', time: 100, kind: 'pause', nodes: [2], params: '{"durationMs":5000}' },
      send(0, 0, 200),
      { type: 'phase', phase: 'measure-end', time: 5000 },
    ])
    expect(acc.faults()).toEqual([
      { id: 3, name: 'pause', target: 'broker 2', kind: 'pause', nodes: [2], params: { durationMs: 5000 }, startUs: 100, endUs: null, acks: 0, longestAckGapUs: 4900, availability: null },
    ])
  })
})
