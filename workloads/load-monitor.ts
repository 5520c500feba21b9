// How hard the load generator itself works, one sample a second: a process's CPU (all its threads, in cores),
// how busy its main thread is (running, or runnable and waiting for a core: /proc/PID/task/PID/schedstat, so a
// machine whose cores are shared with the brokers does not hide a JavaScript thread that never idles), and its
// event loop's delay (perf_hooks.monitorEventLoopDelay). A load generator whose main thread never idles sends
// late: its figures then measure itself, not the cluster (reports/saturation.ts decides).

import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { monotonicNow } from './rate.ts'

export interface LoadSample {
  /** Monotonic ms of the sample's end. */
  readonly atMs: number
  /** CPU time over the interval / the interval: 1 is one core busy. */
  readonly cpu: number
  /** Share of the interval the main thread ran or waited to run (0..1); null without /proc. */
  readonly busy: number | null
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
  private lastSched = mainThreadNs()

  constructor(name: string, opts: { intervalMs?: number } = {}) {
    this.name = name
    this.intervalMs = opts.intervalMs ?? 1000
  }

  start(): this {
    if (this.timer !== null) return this
    this.loop.enable()
    this.lastCpu = process.cpuUsage()
    this.lastAt = performance.now()
    this.lastSched = mainThreadNs()
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
    const sched = mainThreadNs()
    const busy = sched !== null && this.lastSched !== null ? Math.min(1, (sched - this.lastSched) / 1e6 / wall) : null
    this.lastSched = sched
    // The histogram is in ns; an interval without a sample reads as zero delay.
    const p99 = this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0
    const max = this.loop.count > 0 ? this.loop.max / 1e6 : 0
    this.loop.reset()
    this.samples.push({ atMs: monotonicNow(), cpu: (cpu.user + cpu.system) / 1000 / wall, busy, loopP99Ms: p99, loopMaxMs: max })
  }
}

/** The main thread's time on a CPU plus its time runnable in a run queue, ns; null where /proc has no schedstat. */
function mainThreadNs(): number | null {
  try {
    const [run, wait] = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')
    return Number(run) + Number(wait)
  } catch {
    return null
  }
}
