// Per-fault availability over constructed histories: a steady 1000 acks/s load with outages placed exactly,
// written to a real history file and read back through buildResults, as a run's would be.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { impactWindows } from '../../reports/availability.ts'
import type { FaultInterval } from '../../reports/metrics.ts'
import { renderConsole } from '../../reports/render-console.ts'
import { renderMarkdown } from '../../reports/render-markdown.ts'
import { buildResults, type Results } from '../../reports/results.ts'
import type { HistoryEvent } from '../../workloads/history/events.ts'
import { HistoryWriter } from '../../workloads/history/writer.ts'
import { fixtureInputs } from './fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-availability-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

interface Outage {
  /** Acks stop (µs). */
  readonly from: number
  /** Acks resume (µs). */
  readonly to: number
  /** Fraction of the normal rate after `to`, until `slowUntil`. */
  readonly slowShare?: number
  readonly slowUntil?: number
  /** Consumption stops for this long more than production. */
  readonly consumeExtra?: number
}

/**
 * One send per ms from 0 to `endUs`, acked 1 ms later except during outages (sends then fail with
 * NOT_LEADER_OR_FOLLOWER every 10th, the rest wait); consumed 2 ms after the ack.
 */
function history(endUs: number, outages: readonly Outage[], faults: readonly { id: number; start: number; end: number | null }[]): HistoryEvent[] {
  const events: { t: number; seq: number; e: HistoryEvent }[] = []
  let seq = 0
  const at = (t: number, e: HistoryEvent) => events.push({ t, seq: seq++, e })
  at(1_000_000, { type: 'phase', phase: 'warmup-end', time: 1_000_000 })
  at(endUs, { type: 'phase', phase: 'measure-end', time: endUs })
  for (const f of faults) {
    at(f.start, { type: 'fault', edge: 'start', id: f.id, name: `f${f.id}`, target: 'node 2', time: f.start, kind: 'kill', nodes: [2], params: '{"restartAfterMs":1000}' })
    if (f.end !== null) at(f.end, { type: 'fault', edge: 'end', id: f.id, name: `f${f.id}`, target: 'node 2', time: f.end })
  }
  let offset = 0
  for (let v = 0, t = 0; t < endUs; v++, t += 1000) {
    at(t, { type: 'send', value: v, producer: 'p', topic: 'orders', key: null, intended: t, time: t, size: 100 })
    const out = outages.find((o) => t >= o.from && t < o.to)
    if (out && v % 10 === 0) {
      at(t + 500, { type: 'fail', value: v, time: t + 500, error: 'NOT_LEADER_OR_FOLLOWER', definite: true })
      continue
    }
    const slow = outages.find((o) => o.slowShare !== undefined && t >= o.to && t < o.slowUntil!)
    if (slow && (v % 100) / 100 >= slow.slowShare!) continue
    const ack = out ? out.to + (v % 10) : t + 1000
    at(ack, { type: 'ack', value: v, topic: 'orders', partition: 0, offset, time: ack, sent: t, intended: t, size: 100 })
    const extra = outages.find((o) => o.consumeExtra !== undefined && ack >= o.from && ack < o.to + o.consumeExtra)
    const recv = extra ? extra.to + extra.consumeExtra! + (v % 10) : ack + 2000
    at(recv, { type: 'recv', value: v, group: 'g', member: 'm', topic: 'orders', partition: 0, offset, time: recv, intended: t, size: 100 })
    offset++
  }
  events.sort((a, b) => a.t - b.t || a.seq - b.seq)
  return events.map((x) => x.e)
}

async function resultsOf(events: HistoryEvent[], slo: Record<string, number> = {}): Promise<Results> {
  const path = join(dir, `h${n++}.bin`)
  const w = await HistoryWriter.open(path, { flushIntervalMs: 0 })
  for (const e of events) w.append(e)
  await w.close()
  return buildResults(path, { ...fixtureInputs, delivery: { skip: 'availability only' }, slo })
}

describe('per-fault availability', () => {
  it('measures the gaps, the errors by code, the first ack after heal and the recovery of a kill', async () => {
    // Kill at 10 s healed at 14 s; acks stop from 10 s to 12.5 s; consumption 0.5 s longer; then half the rate until 16 s.
    const r = await resultsOf(history(30_000_000, [{ from: 10_000_000, to: 12_500_000, slowShare: 0.5, slowUntil: 16_000_000, consumeExtra: 500_000 }], [{ id: 0, start: 10_000_000, end: 14_000_000 }]))
    const f = r.faults[0]!
    expect(f).toMatchObject({ name: 'f0', kind: 'kill', nodes: [2], params: { restartAfterMs: 1000 } })
    const a = f.availability!
    expect(a.windowStartUs).toBe(10_000_000)
    expect(a.windowEndUs).toBe(30_000_000)
    // The last ack before the outage is the send at 9.999 s, acked at 10.000 s; the next at 12.5 s (+1 µs: the
    // first value acked after an outage is the second of its ten, the first having failed).
    expect(a.produceGapUs).toBe(2_500_001)
    expect(a.produceGapFromUs).toBe(10_000_000)
    expect(a.produceGapToUs).toBe(12_500_001)
    expect(a.consumeGapUs).toBeGreaterThanOrEqual(2_900_000)
    expect(a.consumeGapUs).toBeLessThanOrEqual(3_010_000)
    expect(a.errorsByCode).toEqual({ NOT_LEADER_OR_FOLLOWER: 250 })
    expect(a.healUs).toBe(14_000_000)
    expect(a.firstAckAfterHealUs).toBe(1000)
    expect(a.baselineRate).toBeCloseTo(1000, 0)
    // Half the rate until 16 s: the first 1 s window with 90% of it starts about 2 s after the heal.
    expect(a.recovered).toBe(true)
    expect(a.recoveryUs).toBeGreaterThanOrEqual(1_900_000)
    expect(a.recoveryUs).toBeLessThanOrEqual(2_000_000)
    expect(a.note).toBeNull()
  })

  it('says "not recovered" when throughput never comes back, and the recovery SLO fails with it', async () => {
    // Half the rate from 11 s on; healed at 13 s, after the catch-up burst at 11 s has left the last second.
    const r = await resultsOf(history(20_000_000, [{ from: 10_000_000, to: 11_000_000, slowShare: 0.5, slowUntil: 20_000_000 }], [{ id: 0, start: 10_000_000, end: 13_000_000 }]), { recovery: 5_000_000 })
    const a = r.faults[0]!.availability!
    expect(a.recovered).toBe(false)
    expect(a.recoveryUs).toBeNull()
    expect(a.note).toMatch(/^not recovered: throughput stayed below 90% of 1000\/s for the 7\.0 s from the heal/)
    expect(r.slos).toEqual([expect.objectContaining({ metric: 'recovery', state: 'errored', reason: expect.stringMatching(/^f0: not recovered/) })])
    expect(r.verdict.state).toBe('failed')
    expect(renderConsole(r)).toMatch(/recovery not recovered/)
    expect(renderMarkdown(r)).toMatch(/\| not recovered \|/)
  })

  it('judges recovery and unavailability SLOs against the measured figures', async () => {
    const events = history(30_000_000, [{ from: 10_000_000, to: 12_000_000 }], [{ id: 0, start: 10_000_000, end: 11_000_000 }])
    const pass = await resultsOf(events, { recovery: 2_000_000, unavailability: 3_000_000 })
    expect(pass.slos.map((s) => [s.metric, s.state])).toEqual([
      ['unavailability', 'passed'],
      ['recovery', 'passed'],
    ])
    const a = pass.faults[0]!.availability!
    // Acks resume 1 s after the heal, all at once (the backlog), so the first full window is back at once.
    expect(a.firstAckAfterHealUs).toBe(1_000_001)
    expect(a.recoveryUs).toBeGreaterThan(0)
    const fail = await resultsOf(events, { recovery: a.recoveryUs! - 1, unavailability: a.produceGapUs - 1 })
    expect(fail.slos.map((s) => [s.metric, s.state])).toEqual([
      ['unavailability', 'failed'],
      ['recovery', 'failed'],
    ])
    expect(fail.verdict.reasons.some((r) => r.startsWith('SLO recovery:'))).toBe(true)
  })

  it('counts a fault whose traffic was already back when it healed as recovered at once', async () => {
    // Acks stop from 10 s to 11 s (the leader moved); the restart, the heal, comes at 15 s, half a second
    // before the load ends, too late for a whole window after it.
    const r = await resultsOf(history(15_500_000, [{ from: 10_000_000, to: 11_000_000 }], [{ id: 0, start: 10_000_000, end: 15_000_000 }]))
    expect(r.faults[0]!.availability).toMatchObject({ recoveryUs: 0, recovered: true, produceGapUs: 1_000_001 })
  })

  it('has no baseline for a fault at the start of the load, and ends a window at the next fault', async () => {
    const r = await resultsOf(history(20_000_000, [], [{ id: 0, start: 200_000, end: 500_000 }, { id: 1, start: 8_000_000, end: 9_000_000 }, { id: 2, start: 8_500_000, end: null }]))
    const [first, second, third] = r.faults.map((f) => f.availability!)
    expect(first!.baselineRate).toBeNull()
    expect(first!.note).toBe('no baseline: less than 1 s of load before the fault')
    expect(first!.windowEndUs).toBe(8_000_000)
    // The second overlaps the third (which never ends): its window runs to the end of the load.
    expect(second!.windowEndUs).toBe(20_000_000)
    expect(third!.healUs).toBe(8_500_000)
    expect(r.faults.map((f) => f.availability!.produceGapUs).every((g) => g <= 1_001_000)).toBe(true)
  })
})

describe('impactWindows', () => {
  const f = (id: number, startUs: number, endUs: number | null): FaultInterval => ({ id, name: `f${id}`, target: '', kind: null, nodes: [], params: {}, startUs, endUs, acks: 0, longestAckGapUs: 0, availability: null })
  it('runs from each start to the next start at or after its end, or the load end', () => {
    expect(impactWindows([f(0, 10, 20), f(1, 15, 30), f(2, 40, null)], 100)).toEqual([
      { start: 10, end: 40 },
      { start: 15, end: 40 },
      { start: 40, end: 100 },
    ])
  })
})
