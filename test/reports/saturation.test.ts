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
