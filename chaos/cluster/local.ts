// The local backend: N reference brokers as processes on this machine, each on its own 127.0.0.x address
// and data directory. close() stops them (SIGTERM, then SIGKILL after a grace period) and deletes the data
// unless asked to keep it; the brokers also exit by themselves if this process dies (--exit-with-parent).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
  readonly onLog?: (nodeId: number, rec: Record<string, unknown>) => void
}

class LocalNode implements NodeHandle {
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
  get running(): boolean {
    return this.proc.running
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

export async function startLocalCluster(opts: LocalClusterOptions): Promise<ClusterTarget> {
  if (opts.brokers !== 1) {
    // Independent brokers would not form one cluster; replication and the metadata quorum come later.
    throw new ClusterError('ERR_CLUSTER_SIZE', `the local backend runs 1 broker for now (asked for ${opts.brokers}); multi-broker clusters arrive with replication`)
  }
  const root = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'faultline-cluster-'))
  const hosts = new Set<string>()
  const nodes: LocalNode[] = []
  for (let id = 1; id <= opts.brokers; id++) {
    let host = randomLoopbackHost()
    while (hosts.has(host)) host = randomLoopbackHost()
    hosts.add(host)
    nodes.push(
      new LocalNode(
        new BrokerProcess({
          nodeId: id,
          host,
          port: opts.basePort ? opts.basePort + id - 1 : 0,
          dataDir: join(root, `broker-${id}`),
          overrides: opts.config,
          onLog: opts.onLog ? (rec) => opts.onLog!(id, rec) : undefined,
        }),
      ),
    )
  }
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await Promise.all(nodes.map((n) => n.proc.stop(10_000).catch(() => n.proc.kill())))
    if (!opts.keepData && !opts.dataDir) rmSync(root, { recursive: true, force: true })
  }
  try {
    await Promise.all(nodes.map((n) => n.start()))
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
