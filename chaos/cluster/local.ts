// The local backend: N reference brokers as processes on this machine, each on its own 127.0.0.x address
// and data directory, with a client port and a CONTROLLER port. The first `voters` brokers (3 by default) form
// the metadata quorum (combined mode: broker and controller in one process); the others are brokers only.
// Startup resolves once every broker is registered and unfenced (every broker's Metadata lists all N).
// close() stops them (SIGTERM, then SIGKILL after a grace period) and deletes the data unless asked to keep
// it; the brokers also exit by themselves if this process dies (--exit-with-parent).

import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConnectOptions } from '../../workloads/driver.ts'
import { RawCluster } from '../../workloads/drivers/raw.ts'
import type { Ledger } from '../ledger.ts'
import { BrokerProcess, randomLoopbackHost } from './broker-process.ts'
import { ClusterError, type ClusterDescription, type ClusterTarget, type NodeHandle } from './types.ts'

export interface LocalClusterOptions {
  readonly brokers: number
  /** Broker config overrides (Kafka names). */
  readonly config?: Readonly<Record<string, string>>
  /** Parent of the per-node data directories; a temporary directory when absent. */
  readonly dataDir?: string
  /** Keep the data directories after close(). */
  readonly keepData?: boolean
  /** First broker's port; 0 lets the OS choose (each broker has its own address, so ports may repeat). */
  readonly basePort?: number
  /** How many brokers (the first ones) vote in the metadata quorum; default min(brokers, 3). */
  readonly voters?: number
  /** How long startup may take, until every broker is unfenced; default 60 s. */
  readonly startTimeoutMs?: number
  /** Brokers outlive this process (faultline cluster up --detach); each logs to DATA_DIR/broker-N.log. */
  readonly detached?: boolean
  readonly onLog?: (nodeId: number, rec: Record<string, unknown>) => void
  /** The run's ledger, where every broker process is recorded while it lives. */
  readonly ledger?: Ledger
  /** Something in front of every listener (chaos/proxy/network.ts): brokers advertise its ports, not theirs. */
  readonly front?: ListenerFront
  /** Per-broker config overrides on top of `config` (certificates, chaos/cluster/security.ts). */
  readonly nodeConfig?: (id: number) => Readonly<Record<string, string>>
  /** The client listener's name; default PLAINTEXT. */
  readonly listenerName?: string
  /** How startup's readiness checks connect (a secured cluster's admin credentials). */
  readonly connect?: Pick<ConnectOptions, 'sasl' | 'tls'>
}

/** Listens in front of each broker's listeners on the broker's own host (proxies). */
export interface ListenerFront {
  /** Before the brokers start: opens a front per listener; the ports the cluster advertises and lists as voters. */
  open(nodes: readonly { id: number; host: string; controllerPort?: number }[]): Promise<Map<number, { clientPort: number; controllerPort?: number }>>
  /** A broker listens on `port` (its client listener): its front forwards there. */
  bind(id: number, host: string, port: number): Promise<void>
}

export class LocalNode implements NodeHandle {
  readonly id: number
  readonly proc: BrokerProcess
  constructor(proc: BrokerProcess) {
    this.id = proc.nodeId
    this.proc = proc
  }
  get address(): string {
    return this.proc.bootstrap
  }
  get host(): string {
    return this.proc.host
  }
  get port(): number {
    return this.proc.port
  }
  get ports(): readonly number[] {
    return this.proc.controllerPort === undefined ? [this.proc.port] : [this.proc.port, this.proc.controllerPort]
  }
  get running(): boolean {
    return this.proc.running
  }
  get pid(): number | undefined {
    return this.proc.pid
  }
  start(): Promise<void> {
    return this.proc.start()
  }
  async stop(): Promise<void> {
    await this.proc.stop()
  }
  kill(signal?: NodeJS.Signals): Promise<void> {
    return this.proc.kill(signal)
  }
  pause(): void {
    this.proc.pause()
  }
  resume(): void {
    this.proc.resume()
  }
}

/** Where the CONTROLLER listener goes: a fixed port per broker, since the voters must know it up front. With a
 *  base port it is base + 10000 + id - 1; without one, `randomBase` (one per cluster) + id - 1, so that clusters
 *  started side by side (parallel tests) do not take each other's port while a broker is down: each broker has
 *  its own random 127.0.0.x address, but a shared fixed port made a collision likely enough to flake. */
export function controllerPortFor(basePort: number | undefined, id: number, randomBase = 19_092): number {
  return basePort ? Math.min(65535, basePort + 10_000 + id - 1) : randomBase + id - 1
}

export interface LocalCluster extends ClusterTarget {
  readonly nodes: readonly LocalNode[]
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  if (!Number.isInteger(opts.brokers) || opts.brokers < 1) {
    throw new ClusterError('ERR_CLUSTER_SIZE', `the local backend needs at least 1 broker (asked for ${opts.brokers})`)
  }
  const root = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'faultline-cluster-'))
  mkdirSync(root, { recursive: true })
  const hosts = new Set<string>()
  // Below the OS's ephemeral range (32768+), so port-0 listeners never take it.
  const controllerBase = 20_000 + Math.floor(Math.random() * 12_000)
  const voterCount = Math.max(1, Math.min(opts.brokers, opts.voters ?? 3))
  const planned: { id: number; host: string; controllerPort: number }[] = []
  for (let id = 1; id <= opts.brokers; id++) {
    let host = randomLoopbackHost()
    while (hosts.has(host)) host = randomLoopbackHost()
    hosts.add(host)
    planned.push({ id, host, controllerPort: controllerPortFor(opts.basePort, id, controllerBase) })
  }
  const multi = opts.brokers > 1
  const fronts = opts.front ? await opts.front.open(planned.map((p) => ({ id: p.id, host: p.host, controllerPort: multi && p.id <= voterCount ? p.controllerPort : undefined }))) : null
  const voters = planned.slice(0, voterCount).map((p) => `${p.id}@${p.host}:${fronts?.get(p.id)?.controllerPort ?? p.controllerPort}`).join(',')
  const clusterId = randomBytes(16).toString('base64url')
  const nodes: LocalNode[] = planned.map(
    (p) =>
      new LocalNode(
        new BrokerProcess({
          nodeId: p.id,
          host: p.host,
          port: opts.basePort ? opts.basePort + p.id - 1 : 0,
          // A single broker keeps today's shape: a quorum of one in process, no controller listener.
          controllerPort: multi && p.id <= voterCount ? p.controllerPort : undefined,
          dataDir: join(root, `broker-${p.id}`),
          overrides: multi
            ? { 'cluster.id': clusterId, 'controller.quorum.voters': voters, 'process.roles': p.id <= voterCount ? 'broker,controller' : 'broker', ...opts.config, ...opts.nodeConfig?.(p.id) }
            : { ...opts.config, ...opts.nodeConfig?.(p.id) },
          listenerName: opts.listenerName,
          startTimeoutMs: opts.startTimeoutMs ?? 60_000,
          onLog: opts.onLog ? (rec) => opts.onLog!(p.id, rec) : undefined,
          detachedLogFile: opts.detached ? join(root, `broker-${p.id}.log`) : undefined,
          ledger: opts.ledger,
          advertisedPort: fronts?.get(p.id)?.clientPort,
        }),
      ),
  )
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await Promise.all(nodes.map((n) => n.proc.stop(10_000).catch(() => n.proc.kill())))
    if (!opts.keepData && !opts.dataDir) rmSync(root, { recursive: true, force: true })
  }
  try {
    // All at once: a broker's start waits for a quorum, which needs the others.
    await Promise.all(nodes.map((n) => n.start().then(() => opts.front?.bind(n.id, n.host, n.proc.port))))
    await waitForBrokers(nodes.map((n) => n.address), opts.brokers, opts.startTimeoutMs ?? 60_000, opts.connect)
  } catch (err) {
    await close()
    throw new ClusterError('ERR_CLUSTER_START', `the local cluster did not start: ${(err as Error).message}`, { cause: err })
  }
  const description = (): ClusterDescription => ({
    backend: 'local',
    bootstrap: nodes.map((n) => n.address),
    nodes: nodes.map((n) => ({ id: n.id, address: n.address })),
    dataDir: root,
  })
  return {
    get bootstrap() {
      return nodes.map((n) => n.address)
    },
    nodes,
    describe: description,
    close,
  }
}

/** Polls Metadata on every broker until each lists all `count` brokers. */
export async function waitForBrokers(addresses: readonly string[], count: number, timeoutMs: number, connect: Pick<ConnectOptions, 'sasl' | 'tls'> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const address of addresses) {
    for (;;) {
      const c = new RawCluster({ ...connect, bootstrap: [address], requestTimeoutMs: 5000, connectTimeoutMs: 5000 }, 1)
      let seen = 0
      try {
        await c.refresh()
        seen = c.brokers.size
      } catch {
        seen = 0
      } finally {
        c.close()
      }
      if (seen >= count) break
      if (Date.now() > deadline) throw new Error(`broker ${address} lists ${seen} of ${count} brokers after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
