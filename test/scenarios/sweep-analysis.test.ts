// The sweep's findings on synthetic points: knee, saturation point, bisection, grid and capacity model.

import { describe, expect, it } from 'vitest'
import type { SweepPoint } from '../../reports/sweep.ts'
import { capacityModel, findKnee, findSaturation, gridValues, nextRefinement } from '../../scenarios/sweep-analysis.ts'

const fmt = (n: number): string => `${Math.round(n)}/s`

interface Spec {
  value: number
  achieved?: number
  held?: boolean
  saturated?: boolean
  errored?: boolean
  offered?: number | null
  /** Broker CPU seconds over a 10 s window, and bytes written. */
  cpu?: number
  written?: number | null
  inBytes?: number
  outBytes?: number
}

let runs = 0
function point(s: Spec): SweepPoint {
  const achieved = s.achieved ?? s.value
  const none = { p50: null, p99: null, p999: null }
  return {
    run: ++runs,
    value: s.value,
    label: `${s.value}/s`,
    refinement: false,
    dir: `out/point-${runs}`,
    verdict: s.errored ? 'errored' : s.held === false ? 'failed' : 'passed',
    error: s.errored ? 'boom' : null,
    offered: s.offered === undefined ? s.value : s.offered,
    achieved,
    achievedBytes: achieved * 1000,
    consumed: achieved,
    consumedBytes: achieved * 1000,
    inBytes: s.inBytes ?? achieved * 1000 * 10,
    outBytes: s.outBytes ?? achieved * 1000 * 10,
    windowSeconds: 10,
    produce: none,
    e2e: none,
    errors: 0,
    slos: [{ metric: 'produce.p99', threshold: 50_000, actual: s.held === false ? 90_000 : 10_000, state: s.held === false ? 'failed' : 'passed' }],
    slosHeld: s.held !== false && !s.errored,
    harnessSaturated: s.saturated === true,
    harnessReasons: s.saturated ? ['busy'] : [],
    resources: s.cpu === undefined ? { measured: false, reason: 'not measured: test' } : { measured: true, brokers: [], cpuSeconds: s.cpu, peakRssBytes: 100e6, writeBytes: s.written === undefined ? null : s.written },
  }
}

describe('gridValues', () => {
  it('spaces points evenly (or geometrically) from --from to --to, whole and without repeats', () => {
    expect(gridValues(1000, 5000, 5, 'linear')).toEqual([1000, 2000, 3000, 4000, 5000])
    expect(gridValues(100, 10_000, 3, 'log')).toEqual([100, 1000, 10_000])
    expect(gridValues(1, 3, 5, 'linear')).toEqual([1, 2, 3])
  })
})

describe('findKnee', () => {
  it('is the highest achieved throughput below the first point whose latency SLOs failed', () => {
    const pts = [point({ value: 1000 }), point({ value: 2000, achieved: 1990 }), point({ value: 3000, held: false }), point({ value: 4000, held: false })]
    const k = findKnee(pts, fmt)
    expect(k).toMatchObject({ found: true, value: 2000, throughput: 1990, failingLabel: '3000/s', failed: ['produce.p99'] })
    expect(k.message).toBe('knee at 1990/s (2000/s): the latency SLOs held there and failed at 3000/s (3000/s: produce.p99)')
  })

  it('takes the best throughput below the failure, not the last point (achieved can fall while offered grows)', () => {
    const pts = [point({ value: 1000, achieved: 1000 }), point({ value: 2000, achieved: 1800 }), point({ value: 3000, achieved: 1500 }), point({ value: 4000, held: false })]
    expect(findKnee(pts, fmt)).toMatchObject({ found: true, value: 2000, throughput: 1800 })
  })

  it('leaves out points where the load generator saturated or the run errored', () => {
    const pts = [point({ value: 1000 }), point({ value: 2000 }), point({ value: 3000, held: false, saturated: true }), point({ value: 4000, errored: true })]
    const k = findKnee(pts, fmt)
    expect(k).toEqual({ found: false, reason: 'held-everywhere', heldUpTo: 2000, message: 'no knee: SLOs held up to 2000/s' })
  })

  it('says so when the SLOs failed at the lowest point, and when no point measured the cluster', () => {
    expect(findKnee([point({ value: 1000, held: false }), point({ value: 2000 })], fmt)).toMatchObject({ found: false, reason: 'failed-at-lowest' })
    expect(findKnee([point({ value: 1000, saturated: true })], fmt)).toMatchObject({ found: false, reason: 'no-cluster-points' })
  })
})

describe('findSaturation', () => {
  it('is the first cluster point achieving under 90% of the offered rate', () => {
    const pts = [point({ value: 1000 }), point({ value: 2000, achieved: 1850 }), point({ value: 3000, achieved: 2000 }), point({ value: 4000, achieved: 2000 })]
    expect(findSaturation(pts, fmt)).toMatchObject({ found: true, value: 3000, offered: 3000, achieved: 2000 })
  })

  it('follows when every point is within 90%, skips harness-saturated points, and needs an offered rate', () => {
    expect(findSaturation([point({ value: 1000 }), point({ value: 2000, achieved: 1900 }), point({ value: 3000, achieved: 1000, saturated: true })], fmt)).toMatchObject({ found: false, reason: 'followed' })
    expect(findSaturation([point({ value: 1000, offered: null })], fmt)).toMatchObject({ found: false, reason: 'no-offered-rate' })
  })
})

describe('nextRefinement', () => {
  it('bisects between the last held point and the first failure, in axis value', () => {
    const pts = [point({ value: 1000 }), point({ value: 5000 }), point({ value: 9000, held: false }), point({ value: 13_000, held: false })]
    expect(nextRefinement(pts, 'rate')).toBe(7000)
    pts.push(point({ value: 7000, held: false }))
    expect(nextRefinement(pts, 'rate')).toBe(6000)
  })

  it('bisects whole numbers on count axes and stops when the bracket is narrow', () => {
    expect(nextRefinement([point({ value: 2 }), point({ value: 8, held: false })], 'partitions')).toBe(5)
    expect(nextRefinement([point({ value: 4 }), point({ value: 5, held: false })], 'partitions')).toBeNull()
    expect(nextRefinement([point({ value: 1000 }), point({ value: 1010, held: false })], 'rate')).toBeNull()
  })

  it('has nothing to bisect without a held point below a failure', () => {
    expect(nextRefinement([point({ value: 1000 }), point({ value: 2000 })], 'rate')).toBeNull()
    expect(nextRefinement([point({ value: 1000, held: false }), point({ value: 2000 })], 'rate')).toBeNull()
    // A harness-saturated failure is not the cluster's: no bracket.
    expect(nextRefinement([point({ value: 1000 }), point({ value: 2000, held: false, saturated: true })], 'rate')).toBeNull()
  })

  it('stops the bracket at a point that saturated the load generator or errored below the cluster\'s failure', () => {
    const pts = [point({ value: 1000 }), point({ value: 5000, held: false, saturated: true }), point({ value: 9000, held: false })]
    expect(nextRefinement(pts, 'rate')).toBe(3000)
    expect(nextRefinement([point({ value: 1000 }), point({ value: 3000, errored: true }), point({ value: 9000, held: false })], 'rate')).toBe(2000)
  })
})

describe('capacityModel', () => {
  // 1 KB records over 10 s windows: cores = 0.2 (idle, 2 brokers) + 40 CPU-s per GB/s in; 3 bytes written per byte in.
  const synthetic = (rates: number[]): SweepPoint[] =>
    rates.map((r) => {
      const gbps = (r * 1000) / 1e9
      return point({ value: r, cpu: (0.2 + 40 * gbps) * 10, written: r * 1000 * 10 * 3 })
    })

  it('fits the brokers\' CPU over the produce rate: the cost per GB, the idle cores, disk per GB, and projects brokers', () => {
    const c = capacityModel(synthetic([10_000, 20_000, 40_000]), { brokers: 2, replicationFactor: 2, coresPerBroker: 4, hostCores: 2, targetRate: 100_000 })
    if (!c.measured) throw new Error(c.reason)
    expect(c.cpuSecondsPerGBIn).toBeCloseTo(40, 6)
    expect(c.idleCoresPerBroker).toBeCloseTo(0.1, 6)
    expect(c.diskBytesPerGBIn).toBeCloseTo(3e9, 0)
    expect(c.bytesPerRecord).toBeCloseTo(1000, 6)
    expect(c.rSquared).toBeCloseTo(1, 6)
    expect(c.cpuSecondsPerGBOut).toBeNull()
    // A broker at 70% of 4 cores: (2.8 - 0.1) / 40 GB/s = 67.5 MB/s = 67,500 records/s.
    const two = c.projection.rows.find((r) => r.brokers === 2)!
    expect(two.maxRecordsPerSecond).toBeCloseTo(135_000, 3)
    expect(two.diskWriteBytesPerSecondPerBroker).toBeCloseTo(67.5e6 * 3, 0)
    expect(c.projection.rows.every((r) => r.brokers >= 2)).toBe(true)
    expect(c.projection.target).toMatchObject({ recordsPerSecond: 100_000, brokersNeeded: 2 })
    // The check: all 2 host cores to the brokers: (2 - 0.2) / 40 GB/s = 45,000 records/s.
    expect(c.check.predictedMaxRecordsPerSecond).toBeCloseTo(45_000, 3)
    expect(c.check.measuredMaxRecordsPerSecond).toBe(40_000)
  })

  it('says when the brokers\' CPU follows the rate poorly', () => {
    const pts = [10_000, 20_000, 30_000, 40_000].map((r, i) => point({ value: r, cpu: [3, 2, 3.2, 2.6][i]! * 10 }))
    const c = capacityModel(pts, { brokers: 1, replicationFactor: 1, coresPerBroker: 2, hostCores: 2, targetRate: null })
    if (!c.measured) throw new Error(c.reason)
    expect(c.rSquared).toBeLessThan(0.5)
    expect(c.assumptions.some((a) => a.startsWith('The brokers\' CPU followed the produce rate poorly'))).toBe(true)
    const good = capacityModel(synthetic([10_000, 20_000, 40_000]), { brokers: 2, replicationFactor: 2, coresPerBroker: 4, hostCores: 2, targetRate: null })
    if (good.measured) expect(good.assumptions.some((a) => a.includes('poorly'))).toBe(false)
  })

  it('splits the cost of reading from writing only when the points vary the fan-out', () => {
    const pts = [10_000, 20_000, 30_000, 40_000].map((r, i) => {
      const inB = r * 1000 * 10
      const outB = inB * [0, 1, 2, 1][i]!
      return point({ value: r, cpu: 0.2 * 10 + (40 * inB) / 1e9 + (15 * outB) / 1e9, inBytes: inB, outBytes: outB })
    })
    const c = capacityModel(pts, { brokers: 1, replicationFactor: 1, coresPerBroker: 2, hostCores: 2, targetRate: null })
    if (!c.measured) throw new Error(c.reason)
    expect(c.cpuSecondsPerGBOut).toBeCloseTo(15, 6)
    expect(c.outNote).toMatch(/^fitted/)
  })

  it('is not measured for an external cluster or without resource figures, and leaves out harness-saturated points', () => {
    expect(capacityModel(synthetic([1000]), { brokers: null, replicationFactor: 3, coresPerBroker: 4, hostCores: 2, targetRate: null })).toMatchObject({ measured: false, reason: expect.stringMatching(/^not measured: .*external/) })
    expect(capacityModel([point({ value: 1000 })], { brokers: 1, replicationFactor: 1, coresPerBroker: 4, hostCores: 2, targetRate: null })).toMatchObject({ measured: false })
    const pts = [...synthetic([10_000, 20_000]), point({ value: 30_000, cpu: 1000, saturated: true })]
    const c = capacityModel(pts, { brokers: 2, replicationFactor: 2, coresPerBroker: 4, hostCores: 2, targetRate: null })
    expect(c).toMatchObject({ measured: true, points: 2 })
    if (c.measured) expect(c.cpuSecondsPerGBIn).toBeCloseTo(40, 6)
  })
})
