// The faults a run can inject, as the fault scheduler takes them: what, where (a Target resolved when the
// fault fires) and when (ms from the start of the run). scenarios/schema.ts parses them from the scenario
// file; chaos/scheduler.ts applies them. A new fault kind starts here (see docs/architecture.md).

import type { AclMatch } from './cluster/security.ts'

export const FAULT_KINDS = ['kill', 'pause', 'partition', 'latency', 'bandwidth', 'reset', 'timeout', 'slowClose', 'slicer', 'limitData', 'down', 'revokeUser', 'removeAcl'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

/** Which traffic a network fault shapes: to the target (upstream), from it (downstream) or both. */
export const DIRECTIONS = ['both', 'upstream', 'downstream'] as const
export type Direction = (typeof DIRECTIONS)[number]

export type Target =
  | { readonly kind: 'node'; readonly node: number }
  | { readonly kind: 'leaderOf'; readonly topic: string; readonly partition: number }
  | { readonly kind: 'controller' }
  | { readonly kind: 'random' }
  | { readonly kind: 'all' }
  /** The broker coordinating a consumer group now (FindCoordinator); `group` as the scenario names it. */
  | { readonly kind: 'coordinatorOf'; readonly group: string }
  /** A seeded draw of floor((n-1)/2) brokers, at least one; majority: the other ones. */
  | { readonly kind: 'minority' }
  | { readonly kind: 'majority' }
  /** The harness's own clients: a side for network faults only (no process to kill or pause). */
  | { readonly kind: 'clients' }

/** Fault kinds that act on broker processes, so they need nodes (not `clients`) as their target. */
export const PROCESS_FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause']

interface FaultBase {
  readonly name: string
  readonly atMs: number
}
/** SIGKILL; restarted after `restartAfterMs`, or left dead until the run ends when null. */
export interface KillFault extends FaultBase {
  readonly kind: 'kill'
  readonly target: Target
  readonly restartAfterMs: number | null
}
/** SIGSTOP, then SIGCONT after `durationMs`. */
export interface PauseFault extends FaultBase {
  readonly kind: 'pause'
  readonly target: Target
  readonly durationMs: number
}
/** A member of a partition's group: a broker, or the harness's clients. */
export type PartitionMember = number | 'clients'
/** One end of a one-way cut: brokers (a target or a list), or the harness's clients. */
export type PartitionSide = Target | { readonly kind: 'clients' } | { readonly kind: 'nodes'; readonly nodes: readonly number[] }
/** How a partition splits the cluster; chaos/network/partition.ts resolves it into cuts when the fault fires. */
export type PartitionSplit =
  /** The target's nodes cut off from the other brokers and the clients. */
  | { readonly kind: 'isolate'; readonly target: Target }
  /** Groups that cannot reach each other; clients reach every broker unless listed in a group. */
  | { readonly kind: 'groups'; readonly groups: readonly (readonly PartitionMember[])[] }
  /** The clients cut off from every broker. */
  | { readonly kind: 'clients' }
  /** A seeded random minority (floor(n/2) brokers) and majority; the clients on one side, or reaching both. */
  | { readonly kind: 'halves'; readonly clients: 'majority' | 'minority' | 'both' }
  /** Two halves that cannot reach each other, and a bridge node both reach (Jepsen's bridge). */
  | { readonly kind: 'bridge'; readonly bridge: Target }
  /** One way only: connections opened from `from` to `to` time out; `to` still reaches `from`. */
  | { readonly kind: 'cut'; readonly from: PartitionSide; readonly to: PartitionSide }
/** Brokers on different sides stop talking to each other (and an isolated node to clients) until healed. */
export interface PartitionFault extends FaultBase {
  readonly kind: 'partition'
  readonly split: PartitionSplit
  readonly healAfterMs: number
}
/** Added delay on traffic to (upstream) and from (downstream) the target nodes. */
export interface LatencyFault extends FaultBase {
  readonly kind: 'latency'
  readonly target: Target
  readonly delayMs: number
  readonly jitterMs: number
  readonly direction: Direction
  readonly durationMs: number
  readonly toxicity?: number
}
/** Bandwidth cap on traffic to and from the target nodes. */
export interface BandwidthFault extends FaultBase {
  readonly kind: 'bandwidth'
  readonly target: Target
  readonly bytesPerSecond: number
  readonly direction: Direction
  readonly durationMs: number
  readonly toxicity?: number
}
/** Network quality through the proxy in front of each of the target's listeners (chaos/proxy/network.ts): every
 *  connection to the target, from clients and from the other brokers, passes it. `toxicity` is the share of
 *  connections affected (Toxiproxy's, rolled per connection). */
interface ProxyFaultBase extends FaultBase {
  readonly target: Target
  readonly direction: Direction
  readonly durationMs: number
  readonly toxicity?: number
}
/** Connections are reset (TCP RST) `afterMs` after their first data. */
export interface ResetFault extends ProxyFaultBase {
  readonly kind: 'reset'
  readonly afterMs: number
}
/** Data stops getting through; connections close after `afterMs` (0: they hang until healed). */
export interface TimeoutFault extends ProxyFaultBase {
  readonly kind: 'timeout'
  readonly afterMs: number
}
/** Closing a connection takes `delayMs` longer. */
export interface SlowCloseFault extends ProxyFaultBase {
  readonly kind: 'slowClose'
  readonly delayMs: number
}
/** The byte stream is cut into pieces of about `averageBytes` (+- `variationBytes`), `delayUs` apart. */
export interface SlicerFault extends ProxyFaultBase {
  readonly kind: 'slicer'
  readonly averageBytes: number
  readonly variationBytes: number
  readonly delayUs: number
}
/** A connection closes once `bytes` have passed it. */
export interface LimitDataFault extends ProxyFaultBase {
  readonly kind: 'limitData'
  readonly bytes: number
}
/** The target's proxies stop listening and cut their connections (Toxiproxy's enabled: false). */
export interface DownFault extends ProxyFaultBase {
  readonly kind: 'down'
}
/** A SCRAM user's credential is deleted (clients authenticating as it are refused), restored after `durationMs`. */
export interface RevokeUserFault extends FaultBase {
  readonly kind: 'revokeUser'
  readonly user: string
  readonly durationMs: number
}
/** The declared ACLs that match are deleted (their operations are refused), created again after `durationMs`. */
export interface RemoveAclFault extends FaultBase {
  readonly kind: 'removeAcl'
  readonly match: AclMatch
  readonly durationMs: number
}
export type Fault = KillFault | PauseFault | PartitionFault | LatencyFault | BandwidthFault | ResetFault | TimeoutFault | SlowCloseFault | SlicerFault | LimitDataFault | DownFault | RevokeUserFault | RemoveAclFault

/** Faults applied to the cluster's security (chaos/cluster/security.ts): they have no target node. */
export type SecurityFault = RevokeUserFault | RemoveAclFault
export const SECURITY_FAULT_KINDS: readonly SecurityFault['kind'][] = ['revokeUser', 'removeAcl']
export const isSecurityFault = (f: Fault): f is SecurityFault => (SECURITY_FAULT_KINDS as readonly string[]).includes(f.kind)

/** Faults applied through the proxies in front of the brokers' listeners. */
export type ProxyFault = LatencyFault | BandwidthFault | ResetFault | TimeoutFault | SlowCloseFault | SlicerFault | LimitDataFault | DownFault
export const PROXY_FAULT_KINDS: readonly ProxyFault['kind'][] = ['latency', 'bandwidth', 'reset', 'timeout', 'slowClose', 'slicer', 'limitData', 'down']
/** Whether a fault kind (a scenario's, a nemesis's or explore's) acts in the proxies in front of the brokers. */
export const isProxyKind = (kind: string): kind is ProxyFault['kind'] => (PROXY_FAULT_KINDS as readonly string[]).includes(kind)
export const isProxyFault = (f: Fault): f is ProxyFault => isProxyKind(f.kind)

/** When a fault's effect ends (ms from the start of the run), or null when it lasts until the run ends. */
export function faultEndMs(f: Fault): number | null {
  switch (f.kind) {
    case 'kill':
      return f.restartAfterMs === null ? null : f.atMs + f.restartAfterMs
    case 'partition':
      return f.atMs + f.healAfterMs
    default:
      return f.atMs + f.durationMs
  }
}

/** What a fault does beyond its kind, name, time and target, as the history and results.json record it. */
export function faultParams(f: Fault): Record<string, unknown> {
  const { name: _name, atMs: _atMs, kind: _kind, ...rest } = f
  const params: Record<string, unknown> = { ...rest }
  delete params.target
  return params
}
