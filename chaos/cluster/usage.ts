// Resource use of local broker processes, read from /proc: CPU seconds (user + system), peak resident set
// (VmHWM: the process's lifetime peak) and bytes the process caused to be written to storage (/proc/PID/io
// write_bytes, counted when pages are dirtied, so before they reach the disk). `faultline sweep` reads it per
// point over the measured window. Sampled once a second so that a broker killed or restarted during the window
// still counts what it used (each pid from its first to its last reading).

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export interface ProcessReading {
  readonly pid: number
  readonly cpuSeconds: number
  /** VmHWM; null where /proc/PID/status has none. */
  readonly peakRssBytes: number | null
  /** write_bytes; null where /proc/PID/io cannot be read (another user's process, no task I/O accounting). */
  readonly writeBytes: number | null
}

/** One node's use over the sampled interval, summed over the processes it ran as. */
export interface NodeUsage {
  readonly id: number
  readonly pids: number[]
  readonly cpuSeconds: number
  readonly peakRssBytes: number | null
  readonly writeBytes: number | null
}

let ticks: number | null = null

/** Clock ticks per second of /proc/PID/stat's times (getconf CLK_TCK; 100 on every Linux we know of). */
function clockTicks(): number {
  if (ticks !== null) return ticks
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    ticks = Number.isInteger(n) && n > 0 ? n : 100
  } catch {
    ticks = 100
  }
  return ticks
}

/** Parses /proc/PID/stat: utime and stime are fields 14 and 15, counted after the parenthesized command name. */
export function cpuSecondsFromStat(stat: string, clkTck: number): number | null {
  const close = stat.lastIndexOf(')')
  if (close < 0) return null
  const fields = stat.slice(close + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null
  return (utime + stime) / clkTck
}

/** A process's reading, or null when it is gone (or not on Linux). */
export function readProcess(pid: number): ProcessReading | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  const cpuSeconds = cpuSecondsFromStat(stat, clockTicks())
  if (cpuSeconds === null) return null
  let peakRssBytes: number | null = null
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    if (m) peakRssBytes = Number(m[1]) * 1024
  } catch {
    // gone since the stat read: keep what was read
  }
  let writeBytes: number | null = null
  try {
    const m = /^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    if (m) writeBytes = Number(m[1])
  } catch {
    // not readable: null says "not measured"
  }
  return { pid, cpuSeconds, peakRssBytes, writeBytes }
}

/** Samples a set of nodes at start() and then every intervalMs (default 1 s) until its stop(). */
abstract class PeriodicSampler<N> {
  protected readonly nodes: () => readonly N[]
  private readonly intervalMs: number
  private timer: NodeJS.Timeout | null = null

  constructor(nodes: () => readonly N[], opts: { intervalMs?: number } = {}) {
    this.nodes = nodes
    this.intervalMs = opts.intervalMs ?? 1000
  }

  start(): this {
    if (this.timer !== null) return this
    void this.sample()
    this.timer = setInterval(() => void this.sample(), this.intervalMs)
    this.timer.unref()
    return this
  }

  abstract sample(): void | Promise<void>

  /** Stops the timer; false when it was not running (nothing to read last). */
  protected stopTimer(): boolean {
    if (this.timer === null) return false
    clearInterval(this.timer)
    this.timer = null
    return true
  }
}

/** Samples the processes of a set of nodes from start() to stop(); nodes without a pid at a sample are skipped. */
export class NodeUsageSampler extends PeriodicSampler<{ readonly id: number; readonly pid?: number }> {
  /** Per node, per pid: the first and the latest reading. */
  private readonly seen = new Map<number, Map<number, { first: ProcessReading; last: ProcessReading }>>()

  sample(): void {
    for (const n of this.nodes()) {
      if (n.pid === undefined) continue
      const r = readProcess(n.pid)
      if (r === null) continue
      const pids = this.seen.get(n.id) ?? new Map<number, { first: ProcessReading; last: ProcessReading }>()
      this.seen.set(n.id, pids)
      const had = pids.get(n.pid)
      pids.set(n.pid, { first: had?.first ?? r, last: r })
    }
  }

  /** A last reading, then every node's use since start(). */
  stop(): NodeUsage[] {
    if (this.stopTimer()) this.sample()
    return [...this.seen.entries()]
      .sort(([a], [b]) => a - b)
      .map(([id, pids]) => {
        const runs = [...pids.values()]
        const rss = runs.map((r) => r.last.peakRssBytes).filter((v): v is number => v !== null)
        const written = runs.every((r) => r.first.writeBytes !== null && r.last.writeBytes !== null)
        return {
          id,
          pids: [...pids.keys()],
          cpuSeconds: runs.reduce((s, r) => s + (r.last.cpuSeconds - r.first.cpuSeconds), 0),
          peakRssBytes: rss.length === 0 ? null : Math.max(...rss),
          writeBytes: written ? runs.reduce((s, r) => s + (r.last.writeBytes! - r.first.writeBytes!), 0) : null,
        }
      })
  }
}

/** A node's resource counters read by its backend where there is no pid to read in /proc (docker: the Engine's stats). */
export interface UsageCounters {
  /** CPU seconds since the node's process (container) started. */
  readonly cpuSeconds: number
  /** Memory in use now, page cache left out; null where the backend cannot say. */
  readonly memoryBytes: number | null
  /** Bytes written to block devices since the node started; null where the backend counts none. */
  readonly writeBytes: number | null
}

/** A node whose backend reads its counters (NodeHandle.readUsage). */
export interface CountedNode {
  readonly id: number
  readonly running: boolean
  readUsage?(): Promise<UsageCounters | null>
}

interface Segment {
  first: UsageCounters
  last: UsageCounters
}

/**
 * Samples nodes' counters from start() to stop(), as NodeUsageSampler does with /proc: once a second, so a node
 * restarted during the window (its counters start again from zero) counts both runs, and the peak memory is the
 * highest reading. pids stay empty.
 */
export class CounterUsageSampler extends PeriodicSampler<CountedNode> {
  /** Per node: its runs (a counter going down starts one) and its highest memory reading. */
  private readonly seen = new Map<number, { runs: Segment[]; peak: number | null }>()
  private readonly inflight = new Map<number, Promise<void>>()

  /** Reads every running node that has no reading in flight; resolves when they are in. */
  sample(): Promise<void> {
    for (const n of this.nodes()) {
      if (!n.running || n.readUsage === undefined || this.inflight.has(n.id)) continue
      const read = n
        .readUsage()
        .then((r) => {
          if (r !== null) this.add(n.id, r)
        }, () => undefined)
        .finally(() => this.inflight.delete(n.id))
      this.inflight.set(n.id, read)
    }
    return Promise.all(this.inflight.values()).then(() => undefined)
  }

  private add(id: number, r: UsageCounters): void {
    const node = this.seen.get(id) ?? { runs: [], peak: null }
    this.seen.set(id, node)
    const run = node.runs.at(-1)
    const restarted = run !== undefined && (r.cpuSeconds < run.last.cpuSeconds || (r.writeBytes ?? 0) < (run.last.writeBytes ?? 0))
    if (run === undefined || restarted) node.runs.push({ first: r, last: r })
    else run.last = r
    if (r.memoryBytes !== null) node.peak = Math.max(node.peak ?? 0, r.memoryBytes)
  }

  /** A last reading (after those in flight), then every node's use since start(). */
  async stop(): Promise<NodeUsage[]> {
    if (this.stopTimer()) {
      await Promise.all(this.inflight.values())
      await this.sample()
    }
    return [...this.seen.entries()]
      .sort(([a], [b]) => a - b)
      .map(([id, { runs, peak }]) => ({
        id,
        pids: [],
        cpuSeconds: runs.reduce((s, r) => s + (r.last.cpuSeconds - r.first.cpuSeconds), 0),
        peakRssBytes: peak,
        writeBytes: runs.every((r) => r.first.writeBytes !== null && r.last.writeBytes !== null) ? runs.reduce((s, r) => s + (r.last.writeBytes! - r.first.writeBytes!), 0) : null,
      }))
  }
}
