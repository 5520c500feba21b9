// The saturation verdict from a history's send delays and produce latencies and the load processes' samples.

import { describe, expect, it } from 'vitest'
import { describeLoadGenerator, type ProcessLoadInput, SATURATED_MESSAGE, SaturationAccumulator } from '../../reports/saturation.ts'
import { EventKind } from '../../workloads/history/events.ts'
import { HistoryRecord } from '../../workloads/history/reader.ts'

/** One send and its ack per 10 ms over 8 s: send delay and produce latency as functions of time (µs). */
function feed(acc: SaturationAccumulator, delayUs: (t: number) => number, latencyUs: (t: number) => number): void {
  const rec = new HistoryRecord()
  for (let t = 0; t < 8_000_000; t += 10_000) {
    rec.kind = EventKind.send
    rec.time = t + delayUs(t)
    rec.intended = t
    acc.observe(rec)
    rec.kind = EventKind.ack
    rec.sent = t + delayUs(t)
    rec.time = rec.sent + latencyUs(t)
    acc.observe(rec)
  }
}

const window = { startUs: 0, endUs: 8_000_000 }
const proc = (busy: number | null, cpu: number): ProcessLoadInput => ({
  name: 'harness',
  pid: 1,
  samples: Array.from({ length: 8 }, (_, i) => ({ atUs: (i + 1) * 1_000_000, cpu, busy, loopP99Ms: 5, loopMaxMs: 9 })),
})

describe('saturation', () => {
  it('flags a send delay that grows while the produce latency does not', () => {
    const acc = new SaturationAccumulator()
    feed(acc, (t) => t / 4, () => 3000)
    const s = acc.finish(window, { processes: [proc(0.3, 0.3)] })
    expect(s.saturated).toBe(true)
    expect(s.message).toBe(SATURATED_MESSAGE)
    expect(s.reasons).toHaveLength(1)
    expect(s.reasons[0]).toMatch(/^the send delay grew from .* while the cluster's produce latency went from 3\.0 ms to 3\.0 ms/)
    expect(s.remedy).toMatch(/workload\.workers/)
    expect(describeLoadGenerator(s)[0]).toBe(`  ${SATURATED_MESSAGE}`)
  })

  it('leaves a send delay that grows with the cluster\'s latency to the cluster', () => {
    const acc = new SaturationAccumulator()
    feed(acc, (t) => t / 4, (t) => t / 2)
    expect(acc.finish(window, { processes: [proc(0.3, 0.3)] })).toMatchObject({ saturated: false, message: null, reasons: [], remedy: null })
  })

  it('flags a send delay that grows with the produce latency while the load process wanted a core most of the time', () => {
    // A sweep point's figures (platformatic driver, 80000/s offered, 643/s achieved, the broker nearly idle): the
    // client's own queue is inside the produce latency, which grew as much as the send delay; the main thread
    // ran 0.2 cores and waited for one the rest of its 84%.
    const acc = new SaturationAccumulator()
    feed(acc, (t) => 1_500_000 + (t * 5) / 8, (t) => 2_200_000 + (t * 5) / 8)
    const s = acc.finish(window, { processes: [proc(0.836, 0.2)] })
    expect(s.saturated).toBe(true)
    expect(s.reasons).toEqual([expect.stringMatching(/^the send delay grew from .* while harness's main thread was busy 84% of the time: the producers fell behind because their process could not keep up/)])
    // The same growth with a process that mostly waited for acks is the cluster's.
    const waiting = new SaturationAccumulator()
    feed(waiting, (t) => 1_500_000 + (t * 5) / 8, (t) => 2_200_000 + (t * 5) / 8)
    expect(waiting.finish(window, { processes: [proc(0.45, 0.2)] }).saturated).toBe(false)
  })

  it('flags a load process whose main thread never idles, or (without /proc) runs a full core', () => {
    const busy = new SaturationAccumulator()
    feed(busy, () => 500, () => 3000)
    const s = busy.finish(window, { processes: [proc(0.95, 0.6)] })
    expect(s.reasons).toEqual([expect.stringMatching(/^harness's main thread, which runs its JavaScript, was busy 95% of the time/)])
    expect(s.processes[0]).toMatchObject({ cpuMean: 0.6, busyMean: 0.95, samples: 8 })
    const noProc = new SaturationAccumulator()
    feed(noProc, () => 500, () => 3000)
    expect(noProc.finish(window, { processes: [proc(null, 0.97)] }).reasons).toEqual([expect.stringMatching(/^harness averaged 0\.97 cores of CPU/)])
    const idle = new SaturationAccumulator()
    feed(idle, () => 500, () => 3000)
    expect(idle.finish(window, { processes: [proc(0.2, 0.2)] }).saturated).toBe(false)
  })
})
