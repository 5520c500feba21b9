// The Docker backend: N reference brokers as containers of the broker image (docker-image.ts) on a bridge
// network the run creates for itself, each with a fixed address on it (the subnet's .11, .12, ...), which is
// also the address it advertises: on Linux the host reaches a bridge's containers directly, so the harness's
// clients connect to the brokers as they are, with no published ports. Node handles act through the Engine:
//
//   kill     docker kill (SIGKILL); start   docker start (the container's file system, so its log, survives)
//   pause    docker pause (the cgroup freezer), resume   docker unpause
//   isolate  docker network disconnect: the node loses its only interface, so it is cut off from its peers and
//            from the clients; heal connects it again with the same address
//
// Every container and the network carry a label naming the run's ledger, are recorded in it while they exist,
// and are removed by close(), by the Run's teardown stack, or by `faultline cleanup` after a SIGKILL.
//
// Network faults: partitions are iptables rules by container address on the run's bridge (partitionScope: the
// chain is jumped from FORWARD for container-to-container traffic, from OUTPUT and INPUT for the host's, and the
// harness's clients come from the bridge's gateway address). Network quality goes through proxies on the host
// (`front`): each listener's proxy listens on the gateway address, which the host and every container reach,
// and the broker advertises it (and the voters list names it), so neither clients nor replicas bypass it.

import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import Docker from 'dockerode'
import { BROKER_NODE_FLAGS } from '../../broker/node-flags.ts'
import type { Ledger } from '../ledger.ts'
import type { PartitionScope } from '../network/partition.ts'
import { LEDGER_LABEL } from './docker-ledger.ts'
import { readContainerUsage } from './docker-usage.ts'
import { APP_DIR, ensureBrokerImage } from './docker-image.ts'
import { waitForBrokers } from './local.ts'
import { ClusterError, type ClusterDescription, type ClusterTarget, type NodeHandle } from './types.ts'
import type { UsageCounters } from './usage.ts'

const CLIENT_PORT = 9092
const CONTROLLER_PORT = 9093

export interface DockerClusterOptions {
  readonly brokers: number
  /** Broker config overrides (Kafka names). */
  readonly config?: Readonly<Record<string, string>>
  /** How many brokers (the first ones) vote in the metadata quorum; default min(brokers, 3). */
  readonly voters?: number
  /** Until every broker is unfenced, image build excluded; default 60 s. */
  readonly startTimeoutMs?: number
  readonly onLog?: (nodeId: number, rec: Record<string, unknown>) => void
  /** Progress lines (image build, network, containers) for the run's log. */
  readonly log?: (line: string) => void
  readonly ledger?: Ledger
  /** Defaults to the engine of DOCKER_HOST or /var/run/docker.sock. */
  readonly docker?: Docker
  /** Proxies in front of every listener, on the host (chaos/proxy/network.ts ClusterProxies): brokers advertise them. */
  readonly front?: ContainerFront
}

/** Listens on the host in front of each container's listeners; `host` is where it listens (the bridge's gateway). */
export interface ContainerFront {
  open(nodes: readonly { id: number; host: string; upstreamHost: string; clientPort: number; controllerPort?: number }[]): Promise<Map<number, { clientPort: number; controllerPort?: number }>>
}

/** Whether a Docker engine answers; the reason names what to do when none does. */
export async function dockerEngine(docker = new Docker()): Promise<{ ok: true; docker: Docker } | { ok: false; reason: string }> {
  try {
    await docker.ping()
    return { ok: true, docker }
  } catch (err) {
    const where = process.env.DOCKER_HOST ?? '/var/run/docker.sock'
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    return { ok: false, reason: `no Docker engine answers at ${where} (${code}); start one (as root: dockerd &, or systemctl start docker) or set DOCKER_HOST` }
  }
}

/** One broker container. */
export class DockerNode implements NodeHandle {
  readonly id: number
  /** The container's address on the run's network. */
  readonly host: string
  /** Where clients reach it: its own listener, or its proxy's when there is one. */
  readonly address: string
  readonly port = CLIENT_PORT
  /** The ports it listens on at `host` (partitions cut them). */
  readonly ports: readonly number[]
  readonly container: Docker.Container
  private readonly network: Docker.Network
  private readonly onLog?: (rec: Record<string, unknown>) => void
  private readonly startTimeoutMs: number
  private up = false
  private paused = false
  private isolated = false
  private tail = ''
  /** Docker operations on this node run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(id: number, host: string, container: Docker.Container, network: Docker.Network, opts: { onLog?: (rec: Record<string, unknown>) => void; startTimeoutMs: number; ports: readonly number[]; address?: string }) {
    this.id = id
    this.host = host
    this.ports = opts.ports
    this.address = opts.address ?? `${host}:${CLIENT_PORT}`
    this.container = container
    this.network = network
    this.onLog = opts.onLog
    this.startTimeoutMs = opts.startTimeoutMs
  }

  get running(): boolean {
    return this.up
  }
  get isPaused(): boolean {
    return this.paused
  }
  get isIsolated(): boolean {
    return this.isolated
  }
  /** The container's CPU, memory and write counters from the Engine (not queued behind a kill or a pause). */
  readUsage(): Promise<UsageCounters | null> {
    return readContainerUsage(this.container)
  }
  /** The last output of the broker, for error messages. */
  get outputTail(): string {
    return this.tail.slice(-2000)
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn)
    this.queue = next.catch(() => {})
    return next
  }

  /** Starts the container and resolves once the broker listens (its "broker started" line). */
  start(): Promise<void> {
    return this.serial(async () => {
      if (this.up) return
      // Attached before the start, so the stream holds this start's output only.
      const stream = await this.container.attach({ stream: true, stdout: true, stderr: true, logs: false })
      const out = new PassThrough()
      this.container.modem.demuxStream(stream, out, out)
      let started!: () => void
      let ended!: (why: string) => void
      const ready = new Promise<void>((resolve, reject) => {
        started = resolve
        ended = (why) => reject(new ClusterError('ERR_CLUSTER_START', `broker ${this.id} (container ${this.container.id.slice(0, 12)}) ${why}; output: ${this.outputTail.trim() || '(none)'}`))
      })
      ready.catch(() => {})
      let buf = ''
      out.on('data', (d: Buffer) => {
        const text = d.toString()
        this.tail = (this.tail + text).slice(-20_000)
        buf += text
        let nl
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          let rec: Record<string, unknown>
          try {
            rec = JSON.parse(line) as Record<string, unknown>
          } catch {
            rec = { raw: line }
          }
          this.onLog?.(rec)
          if (rec.msg === 'broker started') started()
        }
      })
      stream.on('end', () => {
        this.up = false
        ended('exited before it started')
      })
      await this.container.start()
      this.up = true
      this.paused = false
      const timer = setTimeout(() => ended(`did not start within ${this.startTimeoutMs} ms`), this.startTimeoutMs)
      try {
        await ready
      } finally {
        clearTimeout(timer)
      }
    })
  }

  /** Clean stop: SIGTERM, SIGKILL after 10 s. */
  stop(): Promise<void> {
    return this.serial(async () => {
      if (!this.up) return
      if (this.paused) await this.container.unpause()
      this.paused = false
      await this.container.stop({ t: 10 }).catch(ignoreNotModified)
      this.up = false
    })
  }

  /** docker kill: SIGKILL by default (a crash); resolves once the container has stopped. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.serial(async () => {
      if (!this.up) return
      // The Engine refuses to signal a paused container; a SIGKILLed process never sees the thaw.
      if (this.paused) await this.container.unpause()
      this.paused = false
      await this.container.kill({ signal })
      await this.container.wait({ condition: 'not-running' })
      this.up = false
    })
  }

  /** docker pause: every process of the container freezes, its sockets stay open. */
  pause(): Promise<void> {
    return this.serial(async () => {
      if (!this.up || this.paused) return
      await this.container.pause()
      this.paused = true
    })
  }

  resume(): Promise<void> {
    return this.serial(async () => {
      if (!this.paused) return
      await this.container.unpause()
      this.paused = false
    })
  }

  /** Cuts the node off from its peers and from the clients. */
  isolate(): Promise<void> {
    return this.serial(async () => {
      if (this.isolated) return
      await this.network.disconnect({ Container: this.container.id, Force: true })
      this.isolated = true
    })
  }

  /** Connects an isolated node again, with its address. */
  heal(): Promise<void> {
    return this.serial(async () => {
      if (!this.isolated) return
      await this.network.connect({ Container: this.container.id, EndpointConfig: { IPAMConfig: { IPv4Address: this.host } } })
      this.isolated = false
    })
  }
}

function ignoreNotModified(err: unknown): void {
  if ((err as { statusCode?: number }).statusCode !== 304) throw err
}

export interface DockerCluster extends ClusterTarget {
  readonly nodes: readonly DockerNode[]
  /** The run's network. */
  readonly networkName: string
  readonly image: string
  /** The bridge's address on the host: where the harness's clients come from, and where proxies listen. */
  readonly gateway: string
  /** Where partitions cut this cluster's traffic (chaos/network/partition.ts). */
  readonly partitionScope: PartitionScope
}

/** The chains a bridge's traffic passes: between its containers FORWARD (in and out on the bridge), from the
 *  host OUTPUT, to the host INPUT. */
export function bridgeScope(bridge: string, gateway: string): PartitionScope {
  return {
    clientsHost: gateway,
    jumps: [
      { from: 'FORWARD', match: ['-i', bridge, '-o', bridge] },
      { from: 'OUTPUT', match: ['-o', bridge] },
      { from: 'INPUT', match: ['-i', bridge] },
    ],
  }
}

/** The address of host number `n` in an IPv4 subnet like 172.18.0.0/16. */
export function addressIn(subnet: string, n: number): string {
  const [base, bits] = subnet.split('/') as [string, string]
  const parts = base.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) || !(Number(bits) <= 30)) {
    throw new ClusterError('ERR_DOCKER_NETWORK', `the Docker network's subnet ${subnet} is not an IPv4 subnet of at least 4 addresses`)
  }
  const value = (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0) + n
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
}

export async function startDockerCluster(opts: DockerClusterOptions): Promise<DockerCluster> {
  if (!Number.isInteger(opts.brokers) || opts.brokers < 1 || opts.brokers > 200) {
    throw new ClusterError('ERR_CLUSTER_SIZE', `the docker backend needs 1 to 200 brokers (asked for ${opts.brokers})`)
  }
  const engine = await dockerEngine(opts.docker)
  if (!engine.ok) throw new ClusterError('ERR_DOCKER_ENGINE', engine.reason)
  const docker = engine.docker
  const log = opts.log ?? (() => {})
  const ledger = opts.ledger
  const labels: Record<string, string> = { 'faultline.backend': 'docker', [LEDGER_LABEL]: ledger?.path ?? '' }
  const image = await ensureBrokerImage(docker, { ledger, log })

  const name = `faultline-${randomBytes(4).toString('hex')}`
  const created: { remove: () => Promise<void> }[] = []
  const nodes: DockerNode[] = []
  let closed = false
  let gateway = ''
  let bridge = ''
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    // Containers first (in parallel), then the network they were on.
    const removals = created.splice(0)
    const network = removals.shift()
    const results = await Promise.allSettled(removals.map((r) => r.remove()))
    if (network) results.push(...(await Promise.allSettled([network.remove()])))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed.length > 0) throw new ClusterError('ERR_DOCKER_CLEANUP', `could not remove ${failed.length} Docker object(s): ${failed.map((f) => (f.reason as Error).message).join('; ')}`)
  }
  try {
    const { network, subnet } = await createNetwork(docker, name, labels, ledger)
    gateway = addressIn(subnet, 1)
    // A user-defined bridge network's interface is br-<the network id's first 12 characters>.
    bridge = `br-${network.id.slice(0, 12)}`
    const networkLedger = ledger?.acquire({ kind: 'docker-network', id: network.id, name, ledger: ledger.path, description: 'the docker cluster\'s network' })
    created.push({
      remove: async () => {
        await network.remove().catch(ignoreMissing)
        if (networkLedger !== undefined) ledger!.release(networkLedger)
      },
    })
    log(`docker: network ${name} (${subnet})`)

    const voterCount = Math.max(1, Math.min(opts.brokers, opts.voters ?? 3))
    const multi = opts.brokers > 1
    const hosts = Array.from({ length: opts.brokers }, (_, i) => addressIn(subnet, 11 + i))
    // Opened before the containers exist: their ports go into advertised.listeners and the voters list.
    const fronts = opts.front
      ? await opts.front.open(hosts.map((h, i) => ({ id: i + 1, host: gateway, upstreamHost: h, clientPort: CLIENT_PORT, ...(multi && i < voterCount ? { controllerPort: CONTROLLER_PORT } : {}) })))
      : null
    if (fronts) log(`docker: proxies on ${gateway} in front of every listener`)
    const voters = hosts
      .slice(0, voterCount)
      .map((h, i) => (fronts ? `${i + 1}@${gateway}:${fronts.get(i + 1)!.controllerPort}` : `${i + 1}@${h}:${CONTROLLER_PORT}`))
      .join(',')
    const clusterId = randomBytes(16).toString('base64url')
    for (let id = 1; id <= opts.brokers; id++) {
      const host = hosts[id - 1]!
      const listeners = [`PLAINTEXT://${host}:${CLIENT_PORT}`]
      if (multi && id <= voterCount) listeners.push(`CONTROLLER://${host}:${CONTROLLER_PORT}`)
      const overrides: Record<string, string> = multi
        ? { 'cluster.id': clusterId, 'controller.quorum.voters': voters, 'process.roles': id <= voterCount ? 'broker,controller' : 'broker', ...opts.config }
        : { ...opts.config }
      const cmd = ['/usr/bin/node', ...BROKER_NODE_FLAGS, `${APP_DIR}/dist/bin/faultline.js`, 'broker', '--node-id', String(id), '--listeners', listeners.join(','), '--data-dir', '/data/broker']
      const front = fronts?.get(id)
      if (front) cmd.push('--advertised-listeners', `PLAINTEXT://${gateway}:${front.clientPort}`)
      for (const [k, v] of Object.entries(overrides)) cmd.push('--override', `${k}=${v}`)
      const containerName = `${name}-broker-${id}`
      const container = await docker.createContainer({
        name: containerName,
        Image: image,
        Cmd: cmd,
        WorkingDir: APP_DIR,
        Env: ['PATH=/usr/bin:/bin', 'HOME=/tmp'],
        Labels: { ...labels, 'faultline.node': String(id) },
        HostConfig: { NetworkMode: name },
        NetworkingConfig: { EndpointsConfig: { [name]: { IPAMConfig: { IPv4Address: host } } } },
      })
      const containerLedger = ledger?.acquire({ kind: 'docker-container', id: container.id, name: containerName, ledger: ledger.path, description: `broker ${id}'s container` })
      created.push({
        remove: async () => {
          await container.remove({ force: true, v: true }).catch(ignoreMissing)
          if (containerLedger !== undefined) ledger!.release(containerLedger)
        },
      })
      nodes.push(
        new DockerNode(id, host, container, network, {
          onLog: opts.onLog ? (rec) => opts.onLog!(id, rec) : undefined,
          startTimeoutMs: opts.startTimeoutMs ?? 60_000,
          ports: multi && id <= voterCount ? [CLIENT_PORT, CONTROLLER_PORT] : [CLIENT_PORT],
          ...(front ? { address: `${gateway}:${front.clientPort}` } : {}),
        }),
      )
    }
    log(`docker: ${nodes.length} container(s) from ${image}`)
    // All at once: a broker's start waits for a quorum, which needs the others.
    await Promise.all(nodes.map((n) => n.start()))
    await waitForBrokers(nodes.map((n) => n.address), opts.brokers, opts.startTimeoutMs ?? 60_000)
  } catch (err) {
    await close().catch(() => {})
    if (err instanceof ClusterError) throw err
    throw new ClusterError('ERR_CLUSTER_START', `the docker cluster did not start: ${(err as Error).message}`, { cause: err })
  }
  const describe = (): ClusterDescription => ({
    backend: 'docker',
    bootstrap: nodes.map((n) => n.address),
    nodes: nodes.map((n) => ({ id: n.id, address: n.address })),
  })
  return {
    bootstrap: nodes.map((n) => n.address),
    nodes,
    networkName: name,
    image,
    gateway,
    partitionScope: bridgeScope(bridge, gateway),
    describe,
    close,
  }
}

/** A bridge network with a subnet of its own: fixed container addresses need a subnet given at creation, so the
 *  Engine first picks a free one for a throwaway network, which is then created again with that subnet. */
async function createNetwork(docker: Docker, name: string, labels: Record<string, string>, ledger: Ledger | undefined): Promise<{ network: Docker.Network; subnet: string }> {
  const probe = await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: labels })
  const probeLedger = ledger?.acquire({ kind: 'docker-network', id: probe.id, name, ledger: ledger.path, description: 'a network picking a subnet' })
  let subnet: string | undefined
  try {
    const info = (await probe.inspect()) as { IPAM?: { Config?: { Subnet?: string }[] } }
    subnet = info.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(':'))?.Subnet
  } finally {
    await probe.remove().catch(ignoreMissing)
    if (probeLedger !== undefined) ledger!.release(probeLedger)
  }
  if (!subnet) throw new ClusterError('ERR_DOCKER_NETWORK', `the Docker engine gave network ${name} no IPv4 subnet`)
  const network = await docker.createNetwork({
    Name: name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Labels: labels,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: addressIn(subnet, 1) }] },
  })
  return { network, subnet }
}

function ignoreMissing(err: unknown): void {
  if ((err as { statusCode?: number }).statusCode !== 404) throw err
}
