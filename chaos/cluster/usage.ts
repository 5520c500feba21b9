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

/** Samples the processes of a set of nodes from start() to stop(); nodes without a pid at a sample are skipped. */
export class NodeUsageSampler {
  private readonly nodes: () => readonly { readonly id: number; readonly pid?: number }[]
  private readonly intervalMs: number
  /** Per node, per pid: the first and the latest reading. */
  private readonly seen = new Map<number, Map<number, { first: ProcessReading; last: ProcessReading }>>()
  private timer: NodeJS.Timeout | null = null

  constructor(nodes: () => readonly { readonly id: number; readonly pid?: number }[], opts: { intervalMs?: number } = {}) {
    this.nodes = nodes
    this.intervalMs = opts.intervalMs ?? 1000
  }

  start(): this {
    if (this.timer !== null) return this
    this.sample()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
    this.timer.unref()
    return this
  }

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
    if (this.timer !== null) {
      clearInterval(this.timer)
      this.timer = null
      this.sample()
    }
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
