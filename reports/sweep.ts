// sweep.json: what `faultline sweep` found (scenarios/sweep.ts runs the points and computes it; the renderers in
// reports/render-sweep.ts read only this). Units: rates per second (records unless named bytes), latencies in
// µs, sizes in bytes, CPU in seconds, GB = 10^9 bytes.

export const sweepSchemaVersion = 1

export const sweepAxes = ['rate', 'partitions', 'messageSize', 'producers', 'workers'] as const
export type SweepAxis = (typeof sweepAxes)[number]

export interface PointLatency {
  p50: number | null
  p99: number | null
  p999: number | null
}

export interface BrokerUsage {
  id: number
  /** More than one when the broker was restarted during the window. */
  pids: number[]
  cpuSeconds: number
  peakRssBytes: number | null
  writeBytes: number | null
}

/** The brokers' resource use over the point's measured window. */
export type PointResources =
  | {
      measured: true
      brokers: BrokerUsage[]
      /** Sums over the brokers; peakRssBytes is the largest broker's. */
      cpuSeconds: number
      peakRssBytes: number | null
      writeBytes: number | null
    }
  | { measured: false; reason: string }

export interface PointSlo {
  metric: string
  /** µs */
  threshold: number
  actual: number | null
  state: 'passed' | 'failed' | 'errored'
}

export interface SweepPoint {
  /** Order in which the points ran, from 1. */
  run: number
  /** The axis value: records/s for rate, bytes for messageSize, a count otherwise. */
  value: number
  /** The value as a user writes it: 5000/s, 1KiB, 12. */
  label: string
  /** Added by the bisection near the knee. */
  refinement: boolean
  dir: string
  verdict: 'passed' | 'failed' | 'errored'
  /** Why the run errored; null otherwise. */
  error: string | null
  /** The rate the scenario asked for, records/s; null when the producers discover their rate (rate: max). */
  offered: number | null
  /** Acked records per second in the measured window. */
  achieved: number
  achievedBytes: number
  consumed: number
  consumedBytes: number
  /** Payload bytes acked and consumed in the window, and its length in seconds. */
  inBytes: number
  outBytes: number
  windowSeconds: number
  produce: PointLatency
  e2e: PointLatency
  /** Failed sends in the window. */
  errors: number
  /** The scenario's latency SLOs (produce and e2e) at this point. */
  slos: PointSlo[]
  /** Every latency SLO passed. */
  slosHeld: boolean
  /** results.json loadGenerator said the load generator was the bottleneck: not the cluster's figures. */
  harnessSaturated: boolean
  harnessReasons: string[]
  resources: PointResources
}

export type Knee =
  | {
      found: true
      /** `run` of the knee point and of the first point above it whose SLOs failed. */
      run: number
      value: number
      label: string
      throughput: number
      failingRun: number
      failingLabel: string
      failingThroughput: number
      /** The SLOs that failed there. */
      failed: string[]
      message: string
    }
  | { found: false; reason: 'held-everywhere' | 'failed-at-lowest' | 'no-cluster-points'; heldUpTo: number | null; message: string }

export type Saturation =
  | { found: true; run: number; value: number; label: string; offered: number; achieved: number; message: string }
  | { found: false; reason: 'followed' | 'no-offered-rate' | 'no-cluster-points'; message: string }

export interface CapacityProjectionRow {
  brokers: number
  /** Highest produce rate the model gives N brokers at the utilization, records/s and payload bytes/s. */
  maxRecordsPerSecond: number
  maxBytesPerSecond: number
  /** Bytes each broker writes per second at that rate. */
  diskWriteBytesPerSecondPerBroker: number | null
}

export type CapacityModel =
  | { measured: false; reason: string }
  | {
      measured: true
      /** Cluster points (not errored, not harness-saturated) the model is fitted on. */
      points: number
      brokers: number
      replicationFactor: number
      /** Consumed bytes per produced byte (consumer groups reading everything). */
      fanOut: number
      bytesPerRecord: number
      /** Cluster CPU-seconds per GB produced, marginal (slope of broker cores over GB/s in), reading at fanOut included. */
      cpuSecondsPerGBIn: number
      /** The same per GB consumed, when the points vary the fan-out enough to tell reading from writing; else null. */
      cpuSecondsPerGBOut: number | null
      outNote: string
      /** Cores a broker uses with no load (the fit's intercept over the brokers; 0 when it cannot be fitted). */
      idleCoresPerBroker: number
      /** Bytes written to storage per GB produced (replication factor and log overhead included); null unmeasured. */
      diskBytesPerGBIn: number | null
      peakRssBytesPerBroker: number | null
      /** How well a line fits (broker cores vs GB/s in), 0..1; null with fewer than 3 points. */
      rSquared: number | null
      projection: {
        coresPerBroker: number
        utilization: number
        rows: CapacityProjectionRow[]
        target: { recordsPerSecond: number; brokersNeeded: number; note: string } | null
      }
      /** The model against the sweep: what it predicts this cluster takes on this host's cores, and what the sweep measured. */
      check: { predictedMaxRecordsPerSecond: number; measuredMaxRecordsPerSecond: number; note: string }
      assumptions: string[]
    }

export interface SweepReport {
  schemaVersion: typeof sweepSchemaVersion
  scenario: string
  file: string
  startedAt: string
  axis: SweepAxis
  from: string
  to: string
  steps: number
  scale: 'linear' | 'log'
  seed: number
  durationMs: number
  cluster: { backend: string; brokers: number | null; replicationFactor: number }
  /** Every latency SLO of the scenario: metric (produce.p99) and threshold in µs. */
  latencySlos: { metric: string; threshold: number }[]
  /** In axis order (refinements among them). */
  points: SweepPoint[]
  knee: Knee
  saturation: Saturation
  capacity: CapacityModel
  /** True when Ctrl-C ended the sweep early: the findings cover the points that ran. */
  interrupted: boolean
  notes: string[]
}
