// What the harness can do to a cluster, whatever runs it. A local cluster hands out node handles with
// process control; an external one only has an address, so process faults are refused before a run starts.

import type { UsageCounters } from './usage.ts'

export interface NodeHandle {
  readonly id: number
  /** host:port clients use. */
  readonly address: string
  readonly host: string
  readonly port: number
  /** Every port the node listens on at `host` (clients' and CONTROLLER), where partitions cut; absent: `port`. */
  readonly ports?: readonly number[]
  readonly running: boolean
  /** The broker's process id while a local broker runs (its resource use is read from /proc); absent elsewhere. */
  readonly pid?: number
  /** Resource counters the backend reads for the node where there is no pid (docker: the Engine's stats); absent elsewhere. */
  readUsage?(): Promise<UsageCounters | null>
  start(): Promise<void>
  /** Clean stop (SIGTERM). */
  stop(): Promise<void>
  /** Crash (SIGKILL by default). */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGSTOP / SIGCONT (docker pause / unpause, a command for an external node: those return a promise). */
  pause(): void | Promise<void>
  resume(): void | Promise<void>
}

export interface ClusterDescription {
  readonly backend: 'local' | 'docker' | 'external'
  readonly bootstrap: readonly string[]
  readonly nodes: readonly { readonly id: number; readonly address: string }[]
  /** Data directory of a local cluster. */
  readonly dataDir?: string
}

export interface ClusterTarget {
  readonly bootstrap: readonly string[]
  /** Nodes under our control (empty for external clusters). */
  readonly nodes: readonly NodeHandle[]
  describe(): ClusterDescription
  /** Stops every process we started and removes what we created; safe to call twice. */
  close(): Promise<void>
}

export class ClusterError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ClusterError'
    this.code = code
  }
}
