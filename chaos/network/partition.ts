// Partitions on the local backend, in the kernel: a split (chaos/faults.ts) resolves into one-way cuts, each
// "connections opened by A to broker B are dropped", and each cut into iptables DROP rules by address and
// port in the run's own chain (chaos/network/iptables.ts). A two-way partition is two cuts.
//
// Why addresses and ports: every local broker has its own 127.0.0.x address and binds its connections to its
// peers to it (broker/local-address.ts); the harness's clients connect from 127.0.0.1 (the kernel's source
// address for loopback, which no local broker is given). A cut A -> B drops A's packets to B's listening
// ports and B's packets from those ports back to A, so connections A opens to B time out while those B opens
// to A work. Matching B's ports as well as its address keeps a rule to the one cluster it was made for, even
// if another cluster on this machine drew the same 127.0.0.x.
//
// On the docker backend the same rules match containers' addresses on the run's bridge, the chain is jumped to
// from that bridge's traffic and `clients` is its gateway address (PartitionScope, chaos/cluster/docker.ts).
//
// The chain and every rule set are recorded in the run's ledger before they are added and released once they
// are removed, so `faultline cleanup` (or the next run) removes them after the harness was SIGKILLed.

import { createHash, randomBytes } from 'node:crypto'
import type { Prng } from '../../workloads/generators.ts'
import type { PartitionMember, PartitionSide, PartitionSplit, Target } from '../faults.ts'
import type { Ledger } from '../ledger.ts'
import { appendRules, createChain, deleteRules, type Jump, LOOPBACK_JUMPS, removeChain, removeChainSync, type Rule } from './iptables.ts'

/** Where the harness's clients come from: the kernel's source address for loopback destinations. */
export const CLIENTS_HOST = '127.0.0.1'

/** Connections opened by `from` to node `to` are dropped. */
export interface Cut {
  readonly from: PartitionMember
  readonly to: number
}

/** A broker as partitions see it: its address and every port it listens on there. */
export interface PartitionNode {
  readonly id: number
  readonly host: string
  readonly ports: readonly number[]
}

export interface ResolvedPartition {
  readonly cuts: readonly Cut[]
  /** For the history and the log: "[1] | [2, 3, clients]", "1 -> 2, 3 (one way)". */
  readonly label: string
  readonly nodes: readonly number[]
}

export interface SplitContext {
  /** Node ids of the cluster. */
  readonly nodes: readonly number[]
  /** Resolves a target to node ids (the fault scheduler's resolver, asked at fault time). */
  resolveTarget(t: Target): Promise<readonly number[]>
  /** Seeded by the run's seed and the fault's index. */
  readonly prng: Prng
}

const show = (g: readonly PartitionMember[]): string => `[${g.join(', ')}]`
const sortMembers = (g: readonly PartitionMember[]): PartitionMember[] =>
  [...g].sort((a, b) => (a === 'clients' ? 1 : b === 'clients' ? -1 : a - b))

/** Every cut between members of different groups, both ways (clients are never dialled, so never a `to`). */
export function cutsBetween(groups: readonly (readonly PartitionMember[])[]): Cut[] {
  const cuts: Cut[] = []
  groups.forEach((g, i) =>
    groups.forEach((h, j) => {
      if (i === j) return
      for (const from of g) for (const to of h) if (to !== 'clients') cuts.push({ from, to })
    }),
  )
  return cuts
}

function shuffled(ids: readonly number[], prng: Prng): number[] {
  const a = [...ids]
  for (let i = a.length - 1; i > 0; i--) {
    const j = prng.int(i + 1)
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

function groupsResult(groups: readonly (readonly PartitionMember[])[], prefix = ''): ResolvedPartition {
  const sorted = groups.map(sortMembers)
  const nodes = [...new Set(sorted.flat().filter((m): m is number => m !== 'clients'))].sort((a, b) => a - b)
  return { cuts: cutsBetween(sorted), label: `${prefix}${sorted.map(show).join(' | ')}`, nodes }
}

async function sideMembers(side: PartitionSide, ctx: SplitContext): Promise<PartitionMember[]> {
  if (side.kind === 'clients') return ['clients']
  if (side.kind === 'nodes') return [...side.nodes]
  return [...(await ctx.resolveTarget(side))]
}

/** The cuts a split makes now: targets are resolved and random draws made when the fault fires. */
export async function resolveSplit(split: PartitionSplit, ctx: SplitContext): Promise<ResolvedPartition> {
  const all = [...ctx.nodes].sort((a, b) => a - b)
  switch (split.kind) {
    case 'isolate': {
      const cut = new Set(await ctx.resolveTarget(split.target))
      const rest = all.filter((n) => !cut.has(n))
      if (rest.length === 0) throw new Error('isolating every broker leaves no other side')
      return groupsResult([[...cut], [...rest, 'clients']], 'isolate ')
    }
    case 'groups':
      return groupsResult(split.groups)
    case 'clients':
      return groupsResult([['clients'], all], 'clients cut off: ')
    case 'halves': {
      const order = shuffled(all, ctx.prng)
      const minority: PartitionMember[] = order.slice(0, Math.floor(all.length / 2))
      const majority: PartitionMember[] = order.slice(Math.floor(all.length / 2))
      if (split.clients === 'minority') minority.push('clients')
      if (split.clients === 'majority') majority.push('clients')
      return groupsResult([minority, majority], 'minority | majority: ')
    }
    case 'bridge': {
      const bridge = (await ctx.resolveTarget(split.bridge))[0]!
      const others = shuffled(all.filter((n) => n !== bridge), ctx.prng)
      const half = Math.ceil(others.length / 2)
      const a = sortMembers(others.slice(0, half))
      const b = sortMembers(others.slice(half))
      return { cuts: cutsBetween([a, b]), label: `bridge ${bridge}: ${show(a)} | ${show(b)}, both reach ${bridge}`, nodes: all }
    }
    case 'cut': {
      const from = sortMembers(await sideMembers(split.from, ctx))
      const to = sortMembers(await sideMembers(split.to, ctx)).filter((m): m is number => m !== 'clients')
      const cuts = from.flatMap((f) => to.filter((t) => t !== f).map((t) => ({ from: f, to: t })))
      const nodes = [...new Set([...from, ...to].filter((m): m is number => m !== 'clients'))].sort((x, y) => x - y)
      return { cuts, label: `${from.join(', ')} -> ${to.join(', ')} (one way)`, nodes }
    }
  }
}

/** The DROP rules for the cuts; `comment` tags each rule (iptables -S shows it); `clientsHost` is where the
 *  harness's clients come from. */
export function rulesFor(cuts: readonly Cut[], nodes: readonly PartitionNode[], comment: string, clientsHost = CLIENTS_HOST): Rule[] {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  const hostOf = (m: PartitionMember): string => {
    if (m === 'clients') return clientsHost
    const n = byId.get(m)
    if (!n) throw new Error(`node ${m} is not a node of this cluster (nodes: ${nodes.map((x) => x.id).join(', ')})`)
    return n.host
  }
  const tag = ['-m', 'comment', '--comment', comment.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 200)]
  const rules: Rule[] = []
  for (const c of cuts) {
    const from = hostOf(c.from)
    const to = byId.get(c.to)
    if (!to) throw new Error(`node ${c.to} is not a node of this cluster (nodes: ${nodes.map((x) => x.id).join(', ')})`)
    for (const port of to.ports) {
      rules.push(['-p', 'tcp', '-s', from, '-d', to.host, '--dport', String(port), ...tag, '-j', 'DROP'])
      rules.push(['-p', 'tcp', '-s', to.host, '--sport', String(port), '-d', from, ...tag, '-j', 'DROP'])
    }
  }
  return rules
}

function removeChainSafe(chain: string): void {
  try {
    removeChainSync(chain)
  } catch {
    // The ledger still holds it: `faultline cleanup` retries.
  }
}

/** Where a cluster's traffic can be cut: the built-in chains (and matches) its packets pass, and the address the
 *  harness's clients reach it from. */
export interface PartitionScope {
  readonly jumps: readonly Jump[]
  readonly clientsHost: string
}

/** What the fault scheduler needs to cut traffic: rules in, and a heal that takes them out. */
export interface PartitionControl {
  /** Adds the cuts' rules; resolves to their heal. */
  cut(name: string, cuts: readonly Cut[]): Promise<() => Promise<void>>
}

/**
 * The run's chain: created (after its ledger record) by open(), removed by close(). Each cut() records its
 * rules in the ledger, adds them, and returns a heal that deletes them and releases the record.
 */
export class IptablesPartitions implements PartitionControl {
  readonly chain: string
  private readonly nodes: () => readonly PartitionNode[]
  private readonly ledger: Ledger | null
  private readonly clientsHost: string
  private chainRecord: number | null = null
  private readonly live = new Map<number, { rules: readonly Rule[]; record: number | null }>()
  private nextId = 1
  private onExit: () => void = () => {}

  private constructor(chain: string, nodes: () => readonly PartitionNode[], ledger: Ledger | null, clientsHost: string) {
    this.chain = chain
    this.nodes = nodes
    this.ledger = ledger
    this.clientsHost = clientsHost
  }

  /** A chain name of this run's own: faultline-<12 hex>, from the ledger's path, this process and the time. */
  static chainName(seed: string = randomBytes(8).toString('hex')): string {
    return `faultline-${createHash('sha256').update(`${seed}:${process.pid}:${Date.now()}`).digest('hex').slice(0, 12)}`
  }

  /** `scope`: where the brokers' traffic passes and where the clients come from; default loopback (the local
   *  backend), the docker backend's bridge otherwise (DockerCluster.partitionScope). */
  static async open(opts: { nodes: () => readonly PartitionNode[]; ledger?: Ledger | null; chain?: string; scope?: PartitionScope }): Promise<IptablesPartitions> {
    const ledger = opts.ledger ?? null
    const p = new IptablesPartitions(opts.chain ?? IptablesPartitions.chainName(ledger?.path), opts.nodes, ledger, opts.scope?.clientsHost ?? CLIENTS_HOST)
    p.chainRecord = ledger ? ledger.acquire({ kind: 'iptables-chain', chain: p.chain, description: `iptables chain ${p.chain}` }) : null
    // A harness that crashes (an uncaught exception) still runs 'exit' handlers: take the rules with it.
    p.onExit = () => void removeChainSafe(p.chain)
    process.once('exit', p.onExit)
    try {
      await createChain(p.chain, opts.scope?.jumps ?? LOOPBACK_JUMPS)
    } catch (err) {
      process.off('exit', p.onExit)
      await removeChain(p.chain).catch(() => {})
      if (p.chainRecord !== null) ledger!.release(p.chainRecord)
      throw err
    }
    return p
  }

  async cut(name: string, cuts: readonly Cut[]): Promise<() => Promise<void>> {
    const rules = rulesFor(cuts, this.nodes(), `faultline ${name}`, this.clientsHost)
    const id = this.nextId++
    const record = this.ledger ? this.ledger.acquire({ kind: 'iptables-rules', chain: this.chain, rules: rules.map((r) => [...r]), description: `iptables rules of ${name}` }) : null
    this.live.set(id, { rules, record })
    try {
      await appendRules(this.chain, rules)
    } catch (err) {
      await this.heal(id)
      throw err
    }
    return () => this.heal(id)
  }

  private async heal(id: number): Promise<void> {
    const l = this.live.get(id)
    if (!l) return
    this.live.delete(id)
    await deleteRules(this.chain, l.rules)
    if (l.record !== null) this.ledger!.release(l.record)
  }

  /** Heals what is still cut and removes the chain. */
  async close(): Promise<void> {
    for (const id of [...this.live.keys()]) await this.heal(id)
    await removeChain(this.chain)
    process.off('exit', this.onExit)
    if (this.chainRecord !== null) {
      this.ledger!.release(this.chainRecord)
      this.chainRecord = null
    }
  }
}
