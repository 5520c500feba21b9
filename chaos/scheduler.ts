// The fault scheduler: applies a scenario's process faults at their times (relative to the run's origin) to
// the cluster's node handles, and writes each fault's start and end to the run's history.
//
//   kill   SIGKILL the target nodes; restart them after restartAfter (or when the run closes cleanly)
//   pause  SIGSTOP the target nodes; SIGCONT after duration
//   partition  cut traffic between the sides (chaos/network/partition.ts, through `partitions`); heal after heal
//
// Targets are resolved when the fault fires, not when the run starts: `leaderOf` asks the cluster's metadata
// who leads the partition now (a leader moves after an earlier fault), `controller` asks for the metadata
// quorum's leader, `coordinatorOf` asks FindCoordinator; `random`, `minority` and `majority` draw from a PRNG
// seeded by the run's seed and the fault's index, so a seed replays the same picks. `clients` names no broker.
// A node belongs to at most one process fault at a time: a kill or pause aimed at a node another one holds
// (killed and not yet restarted, or paused) leaves that node alone, and random draws only among free nodes,
// so a node is never killed twice or paused while down. A fault left with no node is skipped (logged).
// Each fault's start in the history carries its kind, the node ids it resolved to and its parameters.
// Network-quality faults (latency, bandwidth, reset, timeout, slowClose, slicer, limitData, down) go to the
// proxies in front of the target's listeners (`network`, chaos/proxy/network.ts); healing removes them.
// Partitions go to `partitions` (the run's iptables chain, local or docker); healing takes their rules out.
// Security faults (revokeUser, removeAcl) go to `security`; healing puts the user or the ACLs back.
//
// stop() heals everything: pending faults are cancelled, paused nodes resumed, killed nodes restarted when
// the run is closing cleanly (so consumers can drain), and every open interval gets its end event, so no
// broker is left stopped and no interval is left open in the history.

import { deriveSeed, Prng } from '../workloads/generators.ts'
import { historyTime, type HistorySink } from '../workloads/history/events.ts'
import type { Cancel, Scheduler } from '../workloads/rate.ts'
import type { NodeHandle } from './cluster/types.ts'
import { type Fault, faultEndMs, type FaultKind, faultParams, isProxyFault, isSecurityFault, type PartitionFault, type ProxyFault, type SecurityFault, type Target } from './faults.ts'
import { type PartitionControl, resolveSplit } from './network/partition.ts'

/** Answers target questions from the cluster's metadata at fault time. */
export interface TargetResolver {
  /** Node id leading the partition now; -1 when it has no leader. */
  leaderOf(topic: string, partition: number): Promise<number>
  /** Node id of the metadata quorum's leader now; -1 when unknown. */
  controller(): Promise<number>
  /** Node id coordinating the consumer group (as the scenario names it) now; -1 when unknown. */
  coordinatorOf(group: string): Promise<number>
}

export interface FaultSchedulerOptions {
  readonly faults: readonly Fault[]
  readonly nodes: readonly NodeHandle[]
  readonly resolver: TargetResolver
  readonly history: HistorySink
  readonly scheduler: Scheduler
  /** Monotonic ms of the run's start: fault times count from it, history times too. */
  readonly originMs: number
  readonly seed: number
  /** One line per thing done ("kill-0: killed node 1"), for the run's log. */
  onEvent?(line: string): void
  /** Applies network-quality faults (proxies in front of the listeners); without it they are refused. */
  readonly network?: NetworkFaults
  /** Cuts traffic for partition faults (the run's iptables chain, local or docker); needed when there are any. */
  readonly partitions?: PartitionControl
  /** Applies security faults (a secured local cluster); needed when there are any. */
  readonly security?: SecurityFaults
}

/** Where security faults go (the run's chaos/cluster/security.ts): each resolves to its heal and a label. */
export interface SecurityFaults {
  apply(f: SecurityFault): Promise<{ label: string; undo: () => Promise<void> }>
}

/** Where network-quality faults go (chaos/proxy/network.ts). */
export interface NetworkFaults {
  /** Applies the fault to the nodes; resolves to its heal. */
  apply(f: ProxyFault, nodeIds: readonly number[], faultId: number): Promise<() => Promise<void>>
  /** The fault's parameters in words, for the history and the log. */
  describe(f: ProxyFault): string
}

export interface ActiveFault {
  /** The fault's index in the scenario, also its id in the history. */
  readonly id: number
  readonly name: string
  readonly kind: FaultKind
  /** As written in the history: "node 1", "leader of orders/0 (node 1)". */
  readonly target: string
  readonly nodes: readonly number[]
  /** ms since the run's origin. */
  readonly sinceMs: number
  /** When it is due to end (ms since origin), or null when it lasts until the run ends. */
  readonly untilMs: number | null
}

export class FaultError extends Error {
  readonly code = 'ERR_FAULT'
  readonly fault: string
  constructor(fault: string, message: string, options?: { cause?: unknown }) {
    super(`fault ${fault}: ${message}`, options)
    this.name = 'FaultError'
    this.fault = fault
  }
}

interface Applied {
  readonly fault: ActiveFault
  readonly handles: readonly NodeHandle[]
  /** Healing has begun (a restart takes a while); the fault stays active until it ends. */
  healing: boolean
  ended: boolean
  healTimer: Cancel | null
  /** A network-quality fault's undo, once applied. */
  undo?: () => Promise<void>
}

const describeNodes = (ids: readonly number[]): string => (ids.length === 1 ? `node ${ids[0]}` : `nodes ${ids.join(', ')}`)

export class FaultScheduler {
  private readonly o: FaultSchedulerOptions
  private readonly timers: Cancel[] = []
  private readonly applied = new Map<number, Applied>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly errorList: FaultError[] = []
  /** Node id -> the process fault holding it (from its start until it has healed). */
  private readonly held = new Map<number, string>()
  private stopped = false

  constructor(opts: FaultSchedulerOptions) {
    opts.faults.forEach((f, i) => {
      if (isProxyFault(f) && !opts.network) throw new RangeError(`faults[${i}]: ${f.kind} faults need proxies in front of the brokers (FaultSchedulerOptions.network)`)
      if (f.kind === 'partition' && !opts.partitions) throw new RangeError(`faults[${i}]: partition faults need a network to cut (FaultSchedulerOptions.partitions)`)
      if (isSecurityFault(f) && !opts.security) throw new RangeError(`faults[${i}]: ${f.kind} faults need a secured cluster (FaultSchedulerOptions.security)`)
    })
    this.o = opts
  }

  /** Faults in effect now, in the order they started. */
  get active(): readonly ActiveFault[] {
    return [...this.applied.values()].filter((a) => !a.ended).map((a) => a.fault)
  }

  /** Faults that could not be applied or healed (an unresolvable target, a node that did not restart). */
  get errors(): readonly FaultError[] {
    return this.errorList
  }

  /** Arms a timer per fault. */
  start(): void {
    const s = this.o.scheduler
    this.o.faults.forEach((f, id) => {
      this.timers.push(s.schedule(() => this.track(this.apply(id, f)), this.o.originMs + f.atMs - s.now()))
    })
  }

  /**
   * Cancels faults not yet applied and ends the active ones: paused nodes are resumed; killed nodes are
   * restarted when `restart` (a clean close), left down otherwise (the cluster is about to close).
   */
  async stop(opts: { restart: boolean }): Promise<void> {
    this.stopped = true
    for (const t of this.timers) t.cancel()
    this.timers.length = 0
    // A fault half-applied (a kill waiting for the process to exit) finishes first, then is healed.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
    for (const a of this.applied.values()) {
      if (a.healing) continue
      a.healTimer?.cancel()
      await this.heal(a, opts.restart)
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p)
    void p.finally(() => this.inFlight.delete(p))
  }

  private now(): number {
    return this.o.scheduler.now()
  }

  private fail(name: string, message: string, cause?: unknown): void {
    const e = new FaultError(name, message, { cause })
    this.errorList.push(e)
    this.o.onEvent?.(e.message)
  }

  private async apply(id: number, f: Fault): Promise<void> {
    if (!this.stopped && f.kind === 'partition') return this.applyPartition(id, f)
    if (!this.stopped && isSecurityFault(f)) return this.applySecurity(id, f)
    if (this.stopped || f.kind === 'partition' || isSecurityFault(f)) return
    let resolved: { ids: number[]; label: string }
    try {
      resolved = await this.resolve(id, f.target)
    } catch (err) {
      this.fail(f.name, `could not resolve its target: ${(err as Error).message}`, err)
      return
    }
    if (this.stopped) return
    if (f.target.kind === 'clients') {
      this.fail(f.name, `clients have no broker process to ${f.kind}; expected a broker target`)
      return
    }
    const busy = resolved.ids.filter((n) => this.held.has(n))
    if (busy.length > 0) {
      this.o.onEvent?.(`${f.name}: leaves ${describeNodes(busy)} alone, already held by ${[...new Set(busy.map((n) => this.held.get(n)))].join(', ')}`)
      resolved = { ids: resolved.ids.filter((n) => !this.held.has(n)), label: resolved.label }
    }
    if (resolved.ids.length === 0) {
      this.o.onEvent?.(`${f.name}: skipped, no node of ${resolved.label} is free`)
      return
    }
    const handles: NodeHandle[] = []
    for (const nodeId of resolved.ids) {
      const h = this.o.nodes.find((n) => n.id === nodeId)
      if (!h) {
        this.fail(f.name, `${resolved.label} is not a node this run controls (nodes: ${this.o.nodes.map((n) => n.id).join(', ') || 'none'})`)
        return
      }
      handles.push(h)
    }
    const started = this.now()
    const untilMs = faultEndMs(f)
    if (isProxyFault(f)) resolved.label = `${resolved.label}: ${this.o.network!.describe(f)}`
    const fault: ActiveFault = { id, name: f.name, kind: f.kind, target: resolved.label, nodes: resolved.ids, sinceMs: started - this.o.originMs, untilMs }
    const a: Applied = { fault, handles, healing: false, ended: false, healTimer: null }
    this.applied.set(id, a)
    for (const n of resolved.ids) this.held.set(n, f.name)
    this.edge('start', fault, started, { kind: f.kind, nodes: resolved.ids, params: JSON.stringify(faultParams(f)) })
    if (f.kind === 'kill') {
      const results = await Promise.allSettled(handles.map((h) => h.kill('SIGKILL')))
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.fail(f.name, `SIGKILL of node ${handles[i]!.id} failed: ${(r.reason as Error).message}`, r.reason)
      })
      this.o.onEvent?.(`${f.name}: killed ${resolved.label}${untilMs === null ? '; it stays down until the run ends' : ''}`)
    } else if (isProxyFault(f)) {
      try {
        a.undo = await this.o.network!.apply(f, resolved.ids, id)
        this.o.onEvent?.(`${f.name}: ${resolved.label}`)
      } catch (err) {
        this.fail(f.name, `could not be applied through the proxies: ${(err as Error).message}`, err)
      }
    } else {
      // A container's pause is a request to the Docker engine: wait for it, and report it if it failed.
      const results = await Promise.allSettled(handles.map(async (h) => h.pause()))
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.fail(f.name, `pause of node ${handles[i]!.id} failed: ${(r.reason as Error).message}`, r.reason)
      })
      this.o.onEvent?.(`${f.name}: paused ${resolved.label}`)
    }
    if (untilMs !== null && !this.stopped) {
      const s = this.o.scheduler
      a.healTimer = s.schedule(() => this.track(this.heal(a, true)), this.o.originMs + untilMs - s.now())
    }
  }

  private async heal(a: Applied, restart: boolean): Promise<void> {
    if (a.healing) return
    a.healing = true
    a.healTimer = null
    const f = a.fault
    if (a.undo) {
      try {
        await a.undo()
        this.o.onEvent?.(`${f.name}: healed ${f.target}`)
      } catch (err) {
        this.fail(f.name, `could not be healed: ${(err as Error).message}`, err)
      }
    } else if (f.kind === 'pause') {
      const results = await Promise.allSettled(a.handles.map(async (h) => h.resume()))
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.fail(f.name, `resume of node ${a.handles[i]!.id} failed: ${(r.reason as Error).message}`, r.reason)
      })
      this.o.onEvent?.(`${f.name}: resumed ${f.target}`)
    } else if (restart && f.kind === 'kill') {
      const results = await Promise.allSettled(a.handles.map((h) => (h.running ? Promise.resolve() : h.start())))
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.fail(f.name, `node ${a.handles[i]!.id} did not restart: ${(r.reason as Error).message}`, r.reason)
      })
      this.o.onEvent?.(`${f.name}: restarted ${f.target}`)
    }
    a.ended = true
    for (const n of f.nodes) if (this.held.get(n) === f.name) this.held.delete(n)
    this.edge('end', f, this.now())
  }

  /** Resolves the split into cuts now (targets, random draws), adds them, and arms the heal. */
  private async applyPartition(id: number, f: PartitionFault): Promise<void> {
    let resolved: Awaited<ReturnType<typeof resolveSplit>>
    try {
      resolved = await resolveSplit(f.split, {
        nodes: this.o.nodes.map((n) => n.id),
        resolveTarget: async (t) => (await this.resolve(id, t)).ids,
        prng: new Prng(deriveSeed(this.o.seed, 'partition', id)),
      })
    } catch (err) {
      this.fail(f.name, `could not resolve its sides: ${(err as Error).message}`, err)
      return
    }
    if (this.stopped) return
    const started = this.now()
    const untilMs = faultEndMs(f)
    const fault: ActiveFault = { id, name: f.name, kind: 'partition', target: resolved.label, nodes: resolved.nodes, sinceMs: started - this.o.originMs, untilMs }
    let undo: () => Promise<void>
    try {
      undo = await this.o.partitions!.cut(f.name, resolved.cuts)
    } catch (err) {
      this.fail(f.name, `could not cut ${resolved.label}: ${(err as Error).message}`, err)
      return
    }
    const a: Applied = { fault, handles: [], healing: false, ended: false, healTimer: null, undo }
    this.applied.set(id, a)
    this.edge('start', fault, started, { kind: f.kind, nodes: resolved.nodes, params: JSON.stringify(faultParams(f)) })
    this.o.onEvent?.(`${f.name}: partitioned ${resolved.label}`)
    if (untilMs !== null && !this.stopped) {
      const s = this.o.scheduler
      a.healTimer = s.schedule(() => this.track(this.heal(a, true)), this.o.originMs + untilMs - s.now())
    }
  }

  /** Applies a security fault now and arms its heal (it acts on the cluster as a whole, on no node). */
  private async applySecurity(id: number, f: SecurityFault): Promise<void> {
    const started = this.now()
    let applied: { label: string; undo: () => Promise<void> }
    try {
      applied = await this.o.security!.apply(f)
    } catch (err) {
      this.fail(f.name, `could not be applied: ${(err as Error).message}`, err)
      return
    }
    const untilMs = faultEndMs(f)
    const fault: ActiveFault = { id, name: f.name, kind: f.kind, target: applied.label, nodes: [], sinceMs: started - this.o.originMs, untilMs }
    const a: Applied = { fault, handles: [], healing: false, ended: false, healTimer: null, undo: applied.undo }
    this.applied.set(id, a)
    this.edge('start', fault, started, { kind: f.kind, nodes: [], params: JSON.stringify(faultParams(f)) })
    this.o.onEvent?.(`${f.name}: ${applied.label}`)
    if (this.stopped) return this.heal(a, true)
    if (untilMs !== null) {
      const s = this.o.scheduler
      a.healTimer = s.schedule(() => this.track(this.heal(a, true)), this.o.originMs + untilMs - s.now())
    }
  }

  private edge(edge: 'start' | 'end', f: ActiveFault, atMs: number, detail?: { kind: string; nodes: readonly number[]; params: string }): void {
    this.o.history.append({ type: 'fault', edge, id: f.id, name: f.name, target: f.target, time: historyTime(atMs, this.o.originMs), ...detail })
  }

  /** Nodes not held by a process fault, in id order. */
  private freeNodes(): NodeHandle[] {
    return [...this.o.nodes].filter((n) => !this.held.has(n.id)).sort((a, b) => a.id - b.id)
  }

  private async resolve(index: number, t: Target): Promise<{ ids: number[]; label: string }> {
    const nodes = this.o.nodes
    switch (t.kind) {
      case 'node':
        return { ids: [t.node], label: `node ${t.node}` }
      case 'all': {
        const ids = nodes.map((n) => n.id)
        if (ids.length === 0) throw new Error('the cluster has no nodes this run controls')
        return { ids, label: `all (${describeNodes(ids)})` }
      }
      case 'random': {
        if (nodes.length === 0) throw new Error('the cluster has no nodes this run controls')
        const free = this.freeNodes()
        if (free.length === 0) return { ids: [], label: 'random' }
        const pick = free[new Prng(deriveSeed(this.o.seed, 'fault', index)).int(free.length)]!.id
        return { ids: [pick], label: `random (node ${pick})` }
      }
      case 'minority':
      case 'majority': {
        if (nodes.length === 0) throw new Error('the cluster has no nodes this run controls')
        // A seeded shuffle of every node; the minority is its head, the majority the rest, so they are complements.
        const ids = nodes.map((n) => n.id).sort((a, b) => a - b)
        const prng = new Prng(deriveSeed(this.o.seed, 'fault', index))
        for (let i = ids.length - 1; i > 0; i--) {
          const j = prng.int(i + 1)
          ;[ids[i], ids[j]] = [ids[j]!, ids[i]!]
        }
        const minority = Math.ceil(ids.length / 2) - 1
        const picked = (t.kind === 'minority' ? ids.slice(0, minority) : ids.slice(minority)).sort((a, b) => a - b)
        if (picked.length === 0) throw new Error(`${nodes.length} node${nodes.length === 1 ? ' has' : 's have'} no minority`)
        return { ids: picked, label: `${t.kind} (${describeNodes(picked)})` }
      }
      case 'coordinatorOf': {
        const coordinator = await this.o.resolver.coordinatorOf(t.group)
        if (coordinator < 0) throw new Error(`consumer group ${t.group} has no coordinator right now`)
        return { ids: [coordinator], label: `coordinator of ${t.group} (node ${coordinator})` }
      }
      case 'clients':
        return { ids: [], label: 'clients' }
      case 'leaderOf': {
        const leader = await this.o.resolver.leaderOf(t.topic, t.partition)
        if (leader < 0) throw new Error(`${t.topic}/${t.partition} has no leader right now`)
        return { ids: [leader], label: `leader of ${t.topic}/${t.partition} (node ${leader})` }
      }
      case 'controller': {
        const controller = await this.o.resolver.controller()
        if (controller < 0) throw new Error('the cluster reports no controller right now')
        return { ids: [controller], label: `controller (node ${controller})` }
      }
    }
  }
}
