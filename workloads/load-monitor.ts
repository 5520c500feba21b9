// How hard the load generator itself works: a process's CPU (all its threads, in cores) and its event loop's
// delay (perf_hooks.monitorEventLoopDelay), one sample a second. A load generator at full CPU, or whose event
// loop runs late, sends late: its figures then measure itself, not the cluster (reports/saturation.ts decides).

import { monitorEventLoopDelay } from 'node:perf_hooks'
import { monotonicNow } from './rate.ts'

export interface LoadSample {
  /** Monotonic ms of the sample's end. */
  readonly atMs: number
  /** CPU time over the interval / the interval: 1 is one core busy. */
  readonly cpu: number
  /** The event loop's delay over the interval, ms. */
  readonly loopP99Ms: number
  readonly loopMaxMs: number
}

/** One process's load over a run: its samples, for results.json (reports/saturation.ts summarizes them). */
export interface ProcessLoad {
  /** "harness", "worker 0 (127.0.0.1:40123)". */
  readonly name: string
  readonly pid: number
  readonly samples: readonly LoadSample[]
}

export class LoadMonitor {
  private readonly name: string
  private readonly intervalMs: number
  private readonly samples: LoadSample[] = []
  private readonly loop = monitorEventLoopDelay({ resolution: 10 })
  private timer: NodeJS.Timeout | null = null
  private lastCpu = process.cpuUsage()
  private lastAt = performance.now()

  constructor(name: string, opts: { intervalMs?: number } = {}) {
    this.name = name
    this.intervalMs = opts.intervalMs ?? 1000
  }

  start(): this {
    if (this.timer !== null) return this
    this.loop.enable()
    this.lastCpu = process.cpuUsage()
    this.lastAt = performance.now()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
    this.timer.unref()
    return this
  }

  stop(): ProcessLoad {
    if (this.timer !== null) {
      clearInterval(this.timer)
      this.timer = null
      this.sample()
      this.loop.disable()
    }
    return this.load()
  }

  load(): ProcessLoad {
    return { name: this.name, pid: process.pid, samples: [...this.samples] }
  }

  /** The latest sample, or null before the first. */
  latest(): LoadSample | null {
    return this.samples.at(-1) ?? null
  }

  private sample(): void {
    const now = performance.now()
    const wall = now - this.lastAt
    if (wall < this.intervalMs / 4) return
    const cpu = process.cpuUsage(this.lastCpu)
    this.lastCpu = process.cpuUsage()
    this.lastAt = now
    // The histogram is in ns; an interval without a sample reads as zero delay.
    const p99 = this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0
    const max = this.loop.count > 0 ? this.loop.max / 1e6 : 0
    this.loop.reset()
    this.samples.push({ atMs: monotonicNow(), cpu: (cpu.user + cpu.system) / 1000 / wall, loopP99Ms: p99, loopMaxMs: max })
  }
}
