// What a sweep's points say (pure functions, so they are tested on synthetic points): the grid, the knee, the
// saturation point, where the bisection goes next, and the capacity model. scenarios/sweep.ts runs the points.
//
// Cluster points: a point counts as the cluster's only when its run did not error and the load generator was
// not the bottleneck (results.json loadGenerator.saturated); the others are shown and left out of every finding.
// Knee: in axis order, the first cluster point whose latency SLOs failed; the knee is the cluster point below
// it with the highest achieved throughput. Saturation point: the first cluster point whose achieved rate is
// under SATURATION_RATIO of the offered rate.

import { linearRegression, linearRegressionLine, rSquared } from 'simple-statistics'
import type { CapacityModel, CapacityProjectionRow, Knee, Saturation, SweepAxis, SweepPoint } from '../reports/sweep.ts'

export const SATURATION_RATIO = 0.9
/** The share of a broker's cores the projection plans to use, leaving headroom for bursts and recovery. */
export const PLANNED_UTILIZATION = 0.7
const GB = 1e9

export const integerAxis = (axis: SweepAxis): boolean => axis !== 'rate'

/** The grid's values from `from` to `to` in `steps` points (linear or geometric), whole numbers, no repeats. */
export function gridValues(from: number, to: number, steps: number, scale: 'linear' | 'log'): number[] {
  const out: number[] = []
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? 0 : i / (steps - 1)
    const v = scale === 'log' ? from * (to / from) ** t : from + (to - from) * t
    out.push(Math.max(1, Math.round(v)))
  }
  return [...new Set(out)]
}

export const isClusterPoint = (p: SweepPoint): boolean => p.verdict !== 'errored' && !p.harnessSaturated

const byValue = (a: SweepPoint, b: SweepPoint): number => a.value - b.value || a.run - b.run

export function findKnee(points: readonly SweepPoint[], fmtRate: (n: number) => string): Knee {
  const cluster = points.filter(isClusterPoint).sort(byValue)
  if (cluster.length === 0) return { found: false, reason: 'no-cluster-points', heldUpTo: null, message: 'no knee: no point measured the cluster (every run errored or saturated the load generator)' }
  const f = cluster.findIndex((p) => !p.slosHeld)
  if (f < 0) {
    const top = Math.max(...cluster.map((p) => p.achieved))
    return { found: false, reason: 'held-everywhere', heldUpTo: top, message: `no knee: SLOs held up to ${fmtRate(top)}` }
  }
  const failing = cluster[f]!
  const failed = failing.slos.filter((s) => s.state !== 'passed').map((s) => s.metric)
  if (f === 0) {
    return { found: false, reason: 'failed-at-lowest', heldUpTo: null, message: `no knee: SLOs failed already at the lowest point, ${failing.label} (${failed.join(', ')}); sweep from lower` }
  }
  const below = cluster.slice(0, f)
  const knee = below.reduce((a, b) => (b.achieved > a.achieved ? b : a))
  return {
    found: true,
    run: knee.run,
    value: knee.value,
    label: knee.label,
    throughput: knee.achieved,
    failingRun: failing.run,
    failingLabel: failing.label,
    failingThroughput: failing.achieved,
    failed,
    message: `knee at ${fmtRate(knee.achieved)} (${knee.label}): the latency SLOs held there and failed at ${failing.label} (${fmtRate(failing.achieved)}: ${failed.join(', ')})`,
  }
}

/** Points above the first failure whose SLOs held again: noise near the knee, worth a longer run. */
export function heldAgain(points: readonly SweepPoint[]): SweepPoint[] {
  const cluster = points.filter(isClusterPoint).sort(byValue)
  const f = cluster.findIndex((p) => !p.slosHeld)
  return f < 0 ? [] : cluster.slice(f + 1).filter((p) => p.slosHeld)
}

export function findSaturation(points: readonly SweepPoint[], fmtRate: (n: number) => string): Saturation {
  const cluster = points.filter(isClusterPoint).sort(byValue)
  if (cluster.length === 0) return { found: false, reason: 'no-cluster-points', message: 'no saturation point: no point measured the cluster' }
  const offered = cluster.filter((p) => p.offered !== null)
  if (offered.length === 0) return { found: false, reason: 'no-offered-rate', message: 'no saturation point: the producers discover their rate (rate: max), so there is no offered rate to follow' }
  const s = offered.find((p) => p.achieved < SATURATION_RATIO * p.offered!)
  if (s === undefined) {
    const top = offered.reduce((a, b) => (b.offered! > a.offered! ? b : a))
    return { found: false, reason: 'followed', message: `no saturation point: achieved throughput followed the offered rate up to ${fmtRate(top.offered!)} (achieved ${fmtRate(top.achieved)})` }
  }
  return {
    found: true,
    run: s.run,
    value: s.value,
    label: s.label,
    offered: s.offered!,
    achieved: s.achieved,
    message: `saturation at ${s.label}: achieved ${fmtRate(s.achieved)} of ${fmtRate(s.offered!)} offered (${Math.round((100 * s.achieved) / s.offered!)}%, under ${Math.round(SATURATION_RATIO * 100)}%)`,
  }
}

/**
 * The bisection's next value: halfway across the knee's bracket, from the highest cluster point below the first
 * failure (in axis value) to the next point above it that is not a held cluster point (that failure, or a point
 * that errored or saturated the load generator: what lies below it is still unknown). Null when there is no
 * cluster failure above a held point, or the bracket is already narrow (adjacent whole numbers; a rate within 2%
 * or 1/s).
 */
export function nextRefinement(points: readonly SweepPoint[], axis: SweepAxis): number | null {
  const cluster = points.filter(isClusterPoint).sort(byValue)
  const f = cluster.findIndex((p) => !p.slosHeld)
  if (f <= 0) return null
  const lo = cluster[f - 1]!.value
  const hi = Math.min(...points.filter((p) => p.value > lo && !(isClusterPoint(p) && p.slosHeld)).map((p) => p.value))
  if (integerAxis(axis)) {
    if (hi - lo <= 1) return null
    return Math.floor((lo + hi) / 2)
  }
  if (hi - lo <= Math.max(1, 0.02 * hi)) return null
  const mid = Math.round((lo + hi) / 2)
  return points.some((p) => p.value === mid) ? null : mid
}

export interface CapacityInputs {
  readonly brokers: number | null
  readonly replicationFactor: number
  readonly coresPerBroker: number
  readonly hostCores: number
  /** records/s to size the cluster for; null: none. */
  readonly targetRate: number | null
  readonly utilization?: number
  /** Where the brokers' CPU seconds come from; default /proc (local brokers). */
  readonly cpuSource?: string
}

/** Least squares y = c + a x + b z (normal equations); null when they are singular. */
function fit2(x: readonly number[], z: readonly number[], y: readonly number[]): { c: number; a: number; b: number } | null {
  const n = x.length
  const S = (f: (i: number) => number): number => Array.from({ length: n }, (_, i) => f(i)).reduce((s, v) => s + v, 0)
  const m = [
    [n, S((i) => x[i]!), S((i) => z[i]!)],
    [S((i) => x[i]!), S((i) => x[i]! * x[i]!), S((i) => x[i]! * z[i]!)],
    [S((i) => z[i]!), S((i) => x[i]! * z[i]!), S((i) => z[i]! * z[i]!)],
  ]
  const r = [S((i) => y[i]!), S((i) => x[i]! * y[i]!), S((i) => z[i]! * y[i]!)]
  const det = (a: number[][]): number =>
    a[0]![0]! * (a[1]![1]! * a[2]![2]! - a[1]![2]! * a[2]![1]!) - a[0]![1]! * (a[1]![0]! * a[2]![2]! - a[1]![2]! * a[2]![0]!) + a[0]![2]! * (a[1]![0]! * a[2]![1]! - a[1]![1]! * a[2]![0]!)
  const d = det(m)
  if (Math.abs(d) < 1e-12 * Math.max(1, Math.abs(m[1]![1]! * m[2]![2]!))) return null
  const col = (k: number): number[][] => m.map((row, i) => row.map((v, j) => (j === k ? r[i]! : v)))
  return { c: det(col(0)) / d, a: det(col(1)) / d, b: det(col(2)) / d }
}

const coefficientOfVariation = (v: readonly number[]): number => {
  const mean = v.reduce((s, x) => s + x, 0) / v.length
  if (mean === 0) return 0
  return Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length) / mean
}

export function capacityModel(points: readonly SweepPoint[], o: CapacityInputs): CapacityModel {
  if (o.brokers === null) return { measured: false, reason: 'not measured: the brokers run outside faultline (external cluster), so their CPU, memory and disk cannot be read from /proc' }
  const usable = points.filter((p) => isClusterPoint(p) && p.resources.measured && p.inBytes > 0 && p.windowSeconds > 0)
  if (usable.length === 0) return { measured: false, reason: 'not measured: no cluster point with broker resource figures and produced bytes' }
  const util = o.utilization ?? PLANNED_UTILIZATION
  const res = (p: SweepPoint) => p.resources as Extract<SweepPoint['resources'], { measured: true }>
  const x = usable.map((p) => p.inBytes / p.windowSeconds / GB)
  const z = usable.map((p) => p.outBytes / p.windowSeconds / GB)
  const y = usable.map((p) => res(p).cpuSeconds / p.windowSeconds)
  const totalIn = usable.reduce((s, p) => s + p.inBytes, 0)
  const totalOut = usable.reduce((s, p) => s + p.outBytes, 0)
  const totalCpu = usable.reduce((s, p) => s + res(p).cpuSeconds, 0)
  const records = usable.reduce((s, p) => s + p.achieved * p.windowSeconds, 0)
  const bytesPerRecord = totalIn / records
  const fanOut = totalOut / totalIn
  const assumptions: string[] = [
    `CPU-seconds are the brokers' own (${o.cpuSource ?? 'user + system from /proc/PID/stat'}) over the measured window; GB = 10^9 payload bytes (record values; keys, headers and batch overhead ride along uncounted).`,
    `The cost per GB is the slope of the brokers' CPU (cores) over the produce rate (GB/s) across the ${usable.length} cluster point${usable.length === 1 ? '' : 's'}, so it includes replication (RF ${o.replicationFactor}) and the consumers reading each byte ${fanOut.toFixed(2)} times; another replication factor or fan-out needs another sweep.`,
    'The work per GB does not depend on the number of brokers, and partitions (leaders) spread it evenly over them.',
    `The projection plans brokers at ${Math.round(util * 100)}% of their cores; the brokers' memory and disk bandwidth are reported, not modelled (CPU is assumed to be the limit).`,
  ]
  let slope: number
  let intercept: number
  let r2: number | null = null
  const distinct = new Set(x.map((v) => v.toPrecision(3))).size
  if (distinct >= 2) {
    const pairs = x.map((v, i) => [v, y[i]!])
    const line = linearRegression(pairs)
    slope = line.m
    intercept = line.b
    if (usable.length >= 3) r2 = rSquared(pairs, linearRegressionLine(line))
    if (r2 !== null && r2 < 0.5) {
      assumptions.push(`The brokers' CPU followed the produce rate poorly (r² ${r2.toFixed(2)}): per-request costs (batches and fetches per second, set by linger and fetch waits more than by the rate) or a busy host dominate, so the cost per GB is uncertain and projections far above the swept rates are optimistic.`)
    }
    if (!(slope > 0) || intercept < 0) {
      // A negative idle cost (or a flat line) is noise: fall back to the average cost per GB.
      slope = totalCpu / (totalIn / GB)
      intercept = 0
      assumptions.push('The points did not give a positive slope and idle cost, so the cost per GB is the average over them (idle cost counted in).')
    }
  } else {
    slope = totalCpu / (totalIn / GB)
    intercept = 0
    assumptions.push('One produce rate only: the cost per GB is that point\'s average (idle cost counted in), an overestimate at higher rates.')
  }
  let cpuOut: number | null = null
  let outNote: string
  if (fanOut === 0) outNote = 'nothing was consumed: no cost per GB out'
  else if (usable.length >= 3 && coefficientOfVariation(usable.map((p) => p.outBytes / p.inBytes)) > 0.2) {
    const f = fit2(x, z, y)
    if (f !== null && f.a > 0 && f.b > 0) {
      cpuOut = f.b
      outNote = `fitted together with the cost per GB in (cores = ${f.c.toFixed(3)} + ${f.a.toFixed(1)} x GB/s in + ${f.b.toFixed(1)} x GB/s out)`
    } else outNote = 'the points vary the fan-out, but no positive split of the cost between writing and reading fits them'
  } else outNote = `not separable: every point read each produced byte ${fanOut.toFixed(2)} times, so reading's cost is inside the cost per GB in`
  const idlePerBroker = intercept / o.brokers
  const writes = usable.map((p) => res(p).writeBytes)
  const diskPerGB = writes.every((w) => w !== null) ? writes.reduce((s: number, w) => s + w!, 0) / (totalIn / GB) : null
  const rssAll = usable.map((p) => res(p).peakRssBytes).filter((v): v is number => v !== null)
  const perBrokerGBps = (cores: number): number => Math.max(0, cores * util - idlePerBroker) / slope
  const row = (n: number): CapacityProjectionRow => {
    const bytes = n * perBrokerGBps(o.coresPerBroker) * GB
    return { brokers: n, maxRecordsPerSecond: bytes / bytesPerRecord, maxBytesPerSecond: bytes, diskWriteBytesPerSecondPerBroker: diskPerGB === null ? null : (bytes / GB) * diskPerGB / n }
  }
  const sizes = [...new Set([o.replicationFactor, o.brokers, 3, 6, 12, 24].filter((n) => n >= Math.max(1, o.replicationFactor)))].sort((a, b) => a - b)
  let target: { recordsPerSecond: number; brokersNeeded: number; note: string } | null = null
  if (o.targetRate !== null) {
    const per = perBrokerGBps(o.coresPerBroker) * GB / bytesPerRecord
    if (per <= 0) target = { recordsPerSecond: o.targetRate, brokersNeeded: Number.POSITIVE_INFINITY, note: `a broker's idle cost (${idlePerBroker.toFixed(2)} cores) already takes ${Math.round(util * 100)}% of ${o.coresPerBroker} cores` }
    else {
      const n = Math.max(o.replicationFactor, Math.ceil(o.targetRate / per))
      target = { recordsPerSecond: o.targetRate, brokersNeeded: n, note: `${n} broker${n === 1 ? '' : 's'} of ${o.coresPerBroker} cores at ${Math.round(util * 100)}% take ${Math.round(n * per)} records/s (each about ${Math.round(per)}/s)` }
    }
  }
  const predicted = Math.max(0, o.hostCores - intercept) / slope * GB / bytesPerRecord
  const measuredMax = Math.max(...usable.map((p) => p.achieved))
  return {
    measured: true,
    points: usable.length,
    brokers: o.brokers,
    replicationFactor: o.replicationFactor,
    fanOut,
    bytesPerRecord,
    cpuSecondsPerGBIn: slope,
    cpuSecondsPerGBOut: cpuOut,
    outNote,
    idleCoresPerBroker: idlePerBroker,
    diskBytesPerGBIn: diskPerGB,
    peakRssBytesPerBroker: rssAll.length === 0 ? null : Math.max(...rssAll),
    rSquared: r2,
    projection: { coresPerBroker: o.coresPerBroker, utilization: util, rows: sizes.map(row), target },
    check: {
      predictedMaxRecordsPerSecond: predicted,
      measuredMaxRecordsPerSecond: measuredMax,
      note: `with all ${o.hostCores} cores of this host, the model gives the ${o.brokers}-broker cluster ${Math.round(predicted)} records/s; the sweep reached ${Math.round(measuredMax)}/s (${Math.round((100 * measuredMax) / Math.max(1, predicted))}%). The load generator shared those cores, so the prediction is an upper bound; a sweep that stopped below saturation did not test it.`,
    },
    assumptions,
  }
}
