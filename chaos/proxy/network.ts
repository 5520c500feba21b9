// The harness's side of the proxy path: a proxy in front of every listener of every local broker, driven only
// through toxiproxy-node-client, whether the API is faultline's own proxy server (a child process, started
// here) or a Toxiproxy server the scenario names. Network-quality faults become toxics on the target's proxies
// (or the proxies disabled, for down); healing removes them.
//
// The proxy of node N listens on N's own 127.0.0.x address, and N advertises it (client listener) or the voters
// list names it (CONTROLLER listener), so clients, replica fetches and the metadata quorum all pass through it:
// nothing can bypass the proxy by learning the broker's real port from metadata. A docker cluster's proxies
// listen on the host at its bridge's gateway address instead, in front of each container (chaos/cluster/docker.ts).
// See docs/architecture.md.

import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client'
import { CLI_PATH } from '../cluster/broker-process.ts'
import type { ListenerFront } from '../cluster/local.ts'
import type { ProxyFault } from '../faults.ts'
import { type Ledger, type LedgerResource, processStartTime } from '../ledger.ts'
import type { Attributes, Stream, ToxicType } from './toxics.ts'

export class ProxyPathError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ProxyPathError'
    this.code = code
  }
}

export interface ProxyServerProcess {
  /** The API's URL, for toxiproxy-node-client. */
  readonly url: string
  readonly pid: number
  /** For the run's ledger: a killed harness's proxy server is stopped by `faultline cleanup` or the next run. */
  readonly resource: LedgerResource
  stop(): Promise<void>
}

/** Starts `faultline proxy` as a child process on 127.0.0.1 (an OS-chosen port); it also exits if we die. */
export async function startProxyServer(opts: { cli?: string; timeoutMs?: number } = {}): Promise<ProxyServerProcess> {
  const proc: ChildProcess = spawn(process.execPath, [opts.cli ?? CLI_PATH, 'proxy', '--listen', '127.0.0.1:0', '--exit-with-parent'], { stdio: ['pipe', 'pipe', 'pipe'] })
  proc.stdin!.on('error', () => {})
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new ProxyPathError('ERR_PROXY_START', `faultline's proxy server did not start within ${opts.timeoutMs ?? 15_000} ms: ${stderr.trim() || '(no output)'}`))
    }, opts.timeoutMs ?? 15_000)
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      try {
        resolve((JSON.parse(buf.slice(0, nl)) as { api: string }).api)
      } catch {
        reject(new ProxyPathError('ERR_PROXY_START', `faultline's proxy server said ${JSON.stringify(buf.slice(0, nl))}, expected its start line`))
      }
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new ProxyPathError('ERR_PROXY_START', `faultline's proxy server exited before it started: ${stderr.trim() || '(no output)'}`))
    })
  })
  const pid = proc.pid!
  return {
    url,
    pid,
    resource: { kind: 'process', pid, startTime: processStartTime(pid), marker: 'proxy --listen', description: 'faultline proxy server' },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    },
  }
}

/** Toxiproxy's version answer, or an error a user can act on. */
export async function checkToxiproxy(url: string): Promise<Toxiproxy> {
  const client = new Toxiproxy(url.replace(/\/$/, ''))
  try {
    await client.getVersion()
  } catch (err) {
    throw new ProxyPathError('ERR_PROXY_API', `cluster.toxiproxy: no Toxiproxy API answers at ${url} (${(err as Error).message}); start one (toxiproxy-server) or remove cluster.toxiproxy to use faultline's own`, { cause: err })
  }
  return client
}

const STREAMS: Readonly<Record<ProxyFault['direction'], readonly Stream[]>> = { both: ['upstream', 'downstream'], upstream: ['upstream'], downstream: ['downstream'] }

/** The toxic a fault becomes (null for down, which disables the proxies instead). */
export function toxicOf(f: ProxyFault): { type: ToxicType; attributes: Attributes } | null {
  switch (f.kind) {
    case 'latency':
      return { type: 'latency', attributes: { latency: Math.round(f.delayMs), jitter: Math.round(f.jitterMs) } }
    case 'bandwidth':
      // Toxiproxy's rate is KB/s (1000 bytes); at least 1.
      return { type: 'bandwidth', attributes: { rate: Math.max(1, Math.round(f.bytesPerSecond / 1000)) } }
    case 'reset':
      return { type: 'reset_peer', attributes: { timeout: Math.round(f.afterMs) } }
    case 'timeout':
      return { type: 'timeout', attributes: { timeout: Math.round(f.afterMs) } }
    case 'slowClose':
      return { type: 'slow_close', attributes: { delay: Math.round(f.delayMs) } }
    case 'slicer':
      return { type: 'slicer', attributes: { average_size: f.averageBytes, size_variation: f.variationBytes, delay: Math.round(f.delayUs) } }
    case 'limitData':
      return { type: 'limit_data', attributes: { bytes: f.bytes } }
    case 'down':
      return null
  }
}

const fmtMs = (ms: number): string => (ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

/** The fault's parameters in words, for the history and the run log: "latency 100ms +-20ms, both ways". */
export function describeProxyFault(f: ProxyFault): string {
  const dir = f.direction === 'both' ? 'both ways' : f.direction === 'upstream' ? 'to it' : 'from it'
  const share = f.toxicity === undefined || f.toxicity === 1 ? '' : `, ${Math.round(f.toxicity * 1000) / 10}% of connections`
  const what = ((): string => {
    switch (f.kind) {
      case 'latency':
        return `latency ${fmtMs(f.delayMs)}${f.jitterMs > 0 ? ` +-${fmtMs(f.jitterMs)}` : ''}`
      case 'bandwidth':
        return `bandwidth ${Math.round(f.bytesPerSecond / 1000)} KB/s`
      case 'reset':
        return `reset after ${fmtMs(f.afterMs)}`
      case 'timeout':
        return f.afterMs > 0 ? `timeout, closed after ${fmtMs(f.afterMs)}` : 'timeout, connections hang'
      case 'slowClose':
        return `slow close ${fmtMs(f.delayMs)}`
      case 'slicer':
        return `slicer ${f.averageBytes}B +-${f.variationBytes}B every ${f.delayUs}us`
      case 'limitData':
        return `limit ${f.bytes}B per connection`
      case 'down':
        return 'down'
    }
  })()
  return f.kind === 'down' ? `${what}${share}` : `${what}, ${dir}${share}`
}

interface NodeProxies {
  readonly host: string
  client: Proxy
  controller: Proxy | null
}

/**
 * The proxies of one local cluster on one Toxiproxy API. As the cluster's ListenerFront it opens them before
 * the brokers start (the ports go into advertised.listeners and controller.quorum.voters) and points each
 * client-listener proxy at its broker once the broker has its port.
 */
export class ClusterProxies implements ListenerFront {
  readonly api: Toxiproxy
  /** Unique per run, so runs sharing one Toxiproxy server do not collide. */
  readonly prefix: string
  private readonly nodes = new Map<number, NodeProxies>()
  private readonly disabled = new Map<string, Proxy>()
  private readonly ledger: Ledger | null
  private readonly ledgerIds = new Map<string, number>()

  /** `ledger`: records each proxy until deleted, for a Toxiproxy server that outlives the run (not faultline's own). */
  constructor(api: Toxiproxy, prefix = `faultline-${randomBytes(3).toString('hex')}`, ledger: Ledger | null = null) {
    this.api = api
    this.prefix = prefix
    this.ledger = ledger
  }

  private async create(name: string, listen: string, upstream: string): Promise<Proxy> {
    const p = await this.api.createProxy({ name, listen, upstream })
    if (this.ledger) this.ledgerIds.set(name, this.ledger.acquire({ kind: 'toxiproxy', api: this.api.host, proxy: name, description: 'proxy in front of a broker' }))
    return p
  }

  /** Every proxy's name, for cleanup. */
  get names(): string[] {
    return [...this.nodes.values()].flatMap((n) => [n.client.name, ...(n.controller ? [n.controller.name] : [])])
  }

  /** `host`: where the proxies listen; `upstreamHost` (default `host`): where the broker listens (a container's
   *  address); `clientPort`: the broker's client port when it is known up front (a container's). */
  async open(nodes: readonly { id: number; host: string; controllerPort?: number; upstreamHost?: string; clientPort?: number }[]): Promise<Map<number, { clientPort: number; controllerPort?: number }>> {
    const out = new Map<number, { clientPort: number; controllerPort?: number }>()
    for (const n of nodes) {
      const upstream = n.upstreamHost ?? n.host
      // A local broker's client port is not known until it binds: port 1 refuses until bind() points it there.
      const client = await this.create(`${this.prefix}-broker-${n.id}`, `${n.host}:0`, `${upstream}:${n.clientPort ?? 1}`)
      const controller = n.controllerPort === undefined ? null : await this.create(`${this.prefix}-controller-${n.id}`, `${n.host}:0`, `${upstream}:${n.controllerPort}`)
      this.nodes.set(n.id, { host: n.host, client, controller })
      out.set(n.id, { clientPort: portOf(client.listen), ...(controller ? { controllerPort: portOf(controller.listen) } : {}) })
    }
    return out
  }

  async bind(id: number, host: string, port: number): Promise<void> {
    const n = this.nodes.get(id)
    if (!n) throw new ProxyPathError('ERR_PROXY_NODE', `no proxy for node ${id}`)
    const upstream = `${host}:${port}`
    if (n.client.upstream === upstream) return
    n.client = await n.client.update({ enabled: true, listen: n.client.listen, upstream })
  }

  private proxiesOf(id: number): Proxy[] {
    const n = this.nodes.get(id)
    if (!n) throw new ProxyPathError('ERR_PROXY_NODE', `node ${id} has no proxy in front of it`)
    return n.controller ? [n.client, n.controller] : [n.client]
  }

  /** Applies a fault to the proxies of `nodeIds`; resolves to its heal. */
  async apply(f: ProxyFault, nodeIds: readonly number[], faultId: number): Promise<() => Promise<void>> {
    const proxies = nodeIds.flatMap((id) => this.proxiesOf(id))
    const toxic = toxicOf(f)
    if (toxic === null) {
      for (const p of proxies) {
        const down = await p.update({ enabled: false, listen: p.listen, upstream: p.upstream })
        this.disabled.set(p.name, down)
      }
      return async () => {
        for (const p of proxies) {
          await p.update({ enabled: true, listen: p.listen, upstream: this.current(p).upstream })
          this.disabled.delete(p.name)
        }
      }
    }
    const added: { proxy: Proxy; name: string }[] = []
    for (const p of proxies) {
      for (const stream of STREAMS[f.direction]) {
        // Named by the fault's id, so two faults of one kind on one node at once do not collide.
        const name = `f${faultId}-${f.kind}-${stream}`
        await p.addToxic({ name, type: toxic.type, stream, toxicity: f.toxicity ?? 1, attributes: toxic.attributes as never })
        added.push({ proxy: p, name })
      }
    }
    return async () => {
      for (const a of added) await this.api.getApi().delete(`${a.proxy.getPath()}/toxics/${a.name}`)
    }
  }

  private current(p: Proxy): Proxy {
    for (const n of this.nodes.values()) {
      if (n.client.name === p.name) return n.client
      if (n.controller?.name === p.name) return n.controller
    }
    return p
  }

  /** Deletes every proxy of this cluster (on faultline's own server they also die with it). */
  async close(): Promise<void> {
    const failed: string[] = []
    for (const name of this.names) {
      try {
        await this.api.getApi().delete(`${this.api.host}/proxies/${name}`)
      } catch (err) {
        // 404: already gone; anything else stays in the ledger for `faultline cleanup`.
        if (!/status code 404/.test((err as Error).message)) {
          failed.push(`${name}: ${(err as Error).message}`)
          continue
        }
      }
      const id = this.ledgerIds.get(name)
      if (id !== undefined) this.ledger!.release(id)
    }
    this.nodes.clear()
    if (failed.length > 0 && this.ledger) throw new ProxyPathError('ERR_PROXY_DELETE', `proxies not deleted: ${failed.join('; ')}`)
  }
}

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1))
}
