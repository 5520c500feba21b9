// The external backend: any Kafka-compatible cluster, reached through its bootstrap servers. We start and
// stop nothing ourselves. Process faults act through commands the scenario gives per node and action
// (`kill: "ssh {host} sudo systemctl kill -s KILL kafka"`), run by a shell with a timeout, their output going
// to the run's log; a fault with no command for its action is refused when the scenario is validated.
// After `restart` the node counts as started once it answers a Metadata request at its address.

import { execa } from 'execa'
import { RawCluster } from '../../workloads/drivers/raw.ts'
import { ClusterError, type ClusterTarget, type NodeHandle } from './types.ts'

/** What a scenario can tell faultline to do to one node of an external cluster. */
export const NODE_ACTIONS = ['kill', 'restart', 'pause', 'resume'] as const
export type NodeAction = (typeof NODE_ACTIONS)[number]

/** The placeholders a command may contain, replaced per node. */
export const COMMAND_PLACEHOLDERS = ['id', 'host', 'port', 'address'] as const

/** The actions each fault kind needs: a kill is undone by a restart, a pause by a resume. */
export const ACTIONS_FOR_FAULT: Readonly<Record<'kill' | 'pause', readonly NodeAction[]>> = { kill: ['kill', 'restart'], pause: ['pause', 'resume'] }

export interface ExternalNodeSpec {
  /** The broker's node.id. */
  readonly id: number
  /** host:port of its client listener. */
  readonly address: string
  readonly commands: Readonly<Partial<Record<NodeAction, string>>>
}

export interface ExternalClusterOptions {
  readonly nodes?: readonly ExternalNodeSpec[]
  /** Per command; default 30 s. */
  readonly commandTimeoutMs?: number
  /** Each command, its exit and its output, for the run's log. */
  readonly log?: (line: string) => void
}

/** The command with {id}, {host}, {port} and {address} replaced by the node's. */
export function expandCommand(template: string, node: { id: number; address: string }): string {
  const at = node.address.lastIndexOf(':')
  const values: Record<string, string> = { id: String(node.id), host: node.address.slice(0, at).replace(/^\[|\]$/g, ''), port: node.address.slice(at + 1), address: node.address }
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole)
}

/** A node of an external cluster, acted on through its commands. */
export class CommandNode implements NodeHandle {
  readonly id: number
  readonly address: string
  readonly host: string
  readonly port: number
  private readonly spec: ExternalNodeSpec
  private readonly timeoutMs: number
  private readonly log: (line: string) => void
  private up = true

  constructor(spec: ExternalNodeSpec, opts: { timeoutMs: number; log: (line: string) => void }) {
    this.spec = spec
    this.id = spec.id
    this.address = spec.address
    const at = spec.address.lastIndexOf(':')
    this.host = spec.address.slice(0, at)
    this.port = Number(spec.address.slice(at + 1))
    this.timeoutMs = opts.timeoutMs
    this.log = opts.log
  }

  get running(): boolean {
    return this.up
  }

  /** Runs the node's command for `action`; throws naming the node, the action and the output when it fails. */
  async run(action: NodeAction): Promise<void> {
    const template = this.spec.commands[action]
    if (template === undefined) throw new ClusterError('ERR_NODE_COMMAND', `node ${this.id} has no ${action} command; expected cluster.commands.${action} or cluster.nodes[].commands.${action}`)
    const command = expandCommand(template, this.spec)
    this.log(`node ${this.id} ${action}: $ ${command}`)
    const r = await execa(command, { shell: true, timeout: this.timeoutMs, reject: false, all: true, stdin: 'ignore' })
    for (const line of (r.all ?? '').split('\n')) if (line.trim() !== '') this.log(`node ${this.id} ${action}: ${line}`)
    if (r.timedOut) throw new ClusterError('ERR_NODE_COMMAND', `node ${this.id} ${action}: \`${command}\` did not finish within ${this.timeoutMs} ms`)
    if (r.exitCode !== 0) {
      const tail = (r.all ?? '').trim().split('\n').slice(-3).join(' | ')
      throw new ClusterError('ERR_NODE_COMMAND', `node ${this.id} ${action}: \`${command}\` exited with ${r.exitCode ?? r.signal}${tail ? `: ${tail}` : ''}`)
    }
    this.log(`node ${this.id} ${action}: exit 0`)
  }

  /** The restart command, then waits until the node answers at its address. */
  async start(): Promise<void> {
    await this.run('restart')
    const deadline = Date.now() + this.timeoutMs
    for (;;) {
      const c = new RawCluster({ bootstrap: [this.address], requestTimeoutMs: 2000, connectTimeoutMs: 2000 }, 1)
      try {
        await c.refresh()
        break
      } catch (err) {
        if (Date.now() > deadline) throw new ClusterError('ERR_NODE_COMMAND', `node ${this.id} did not answer at ${this.address} within ${this.timeoutMs} ms of its restart: ${(err as Error).message}`)
      } finally {
        c.close()
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    this.up = true
  }

  /** There is no clean-stop action: a stop is a kill. */
  async stop(): Promise<void> {
    await this.kill()
  }

  async kill(): Promise<void> {
    await this.run('kill')
    this.up = false
  }

  pause(): Promise<void> {
    return this.run('pause')
  }

  resume(): Promise<void> {
    return this.run('resume')
  }
}

export function externalCluster(bootstrap: readonly string[], opts: ExternalClusterOptions = {}): ClusterTarget {
  const nodes = (opts.nodes ?? []).map((spec) => new CommandNode(spec, { timeoutMs: opts.commandTimeoutMs ?? 30_000, log: opts.log ?? (() => {}) }))
  return {
    bootstrap,
    nodes,
    describe: () => ({ backend: 'external', bootstrap, nodes: nodes.map((n) => ({ id: n.id, address: n.address })) }),
    close: async () => {},
  }
}
