// One reference broker as a child process (dist/bin/faultline.js broker), on its own loopback address.
// The harness starts, stops, kills, pauses and resumes it; the broker exits by itself if the harness dies
// (it watches a pipe from us), so an interrupted run never leaves brokers behind.

import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BROKER_NODE_FLAGS } from '../../broker/node-flags.ts'
import { type Ledger, processStartTime } from '../ledger.ts'

/** dist/bin/faultline.js: beside this file when it runs compiled (dist/chaos/cluster), or in the repository's
 *  dist/ when it runs from source (tests). */
export const CLI_PATH = fileURLToPath(
  import.meta.url.includes('/dist/chaos/') ? new URL('../../bin/faultline.js', import.meta.url) : new URL('../../dist/bin/faultline.js', import.meta.url),
)

const live = new Set<ChildProcess>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const p of live) p.kill('SIGKILL')
  })
}

export interface BrokerProcessOptions {
  readonly nodeId: number
  readonly host: string
  /** 0 lets the OS choose; restarts reuse the first port so clients' metadata stays valid. */
  readonly port: number
  /** Port of the CONTROLLER listener (metadata quorum and broker-to-controller requests) on the same host;
   *  absent: no controller listener (a single node, or a broker-only node). */
  readonly controllerPort?: number
  readonly dataDir: string
  readonly overrides?: Readonly<Record<string, string | number | boolean>>
  readonly startTimeoutMs?: number
  /** Path of dist/bin/faultline.js; defaults to this build's. */
  readonly cli?: string
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error'
  /** Every log line of the broker (parsed JSON, or { raw }). */
  readonly onLog?: (rec: Record<string, unknown>) => void
  /** Outlive this process (faultline cluster up --detach): output goes to this file, not through us, and the
   *  broker does not watch for our exit. */
  readonly detachedLogFile?: string
  /** The run's ledger: each spawned process is recorded while it lives, so a killed harness's brokers can be
   *  found and stopped later (`faultline cleanup`). */
  readonly ledger?: Ledger
  /** A proxy's port on the same host: the broker advertises it, and clients bootstrap through it. */
  readonly advertisedPort?: number
  /** The client listener's name (its protocol comes from listener.security.protocol.map); default PLAINTEXT. */
  readonly listenerName?: string
}

export class BrokerStartError extends Error {
  readonly code = 'ERR_BROKER_START'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'BrokerStartError'
  }
}

export class BrokerProcess {
  readonly nodeId: number
  readonly host: string
  readonly dataDir: string
  port: number
  private readonly opts: BrokerProcessOptions
  private proc: ChildProcess | null = null
  private exited: Promise<number | null> = Promise.resolve(null)
  private paused = false
  readonly logs: Record<string, unknown>[] = []
  private stderr = ''

  constructor(opts: BrokerProcessOptions) {
    this.opts = opts
    this.nodeId = opts.nodeId
    this.host = opts.host
    this.port = opts.port
    this.dataDir = opts.dataDir
  }

  get bootstrap(): string {
    return `${this.host}:${this.opts.advertisedPort ?? this.port}`
  }

  get controllerPort(): number | undefined {
    return this.opts.controllerPort
  }

  get pid(): number | undefined {
    return this.proc?.pid
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null
  }

  get isPaused(): boolean {
    return this.paused
  }

  /** Starts the process and resolves once it listens (its "broker started" line). */
  async start(): Promise<void> {
    if (this.running) return
    installExitHook()
    const name = this.opts.listenerName ?? 'PLAINTEXT'
    const listeners = [`${name}://${this.host}:${this.port}`]
    if (this.opts.controllerPort !== undefined) listeners.push(`CONTROLLER://${this.host}:${this.opts.controllerPort}`)
    const args = [...BROKER_NODE_FLAGS, this.opts.cli ?? CLI_PATH, 'broker', '--node-id', String(this.nodeId), '--listeners', listeners.join(','), '--data-dir', this.dataDir, '--exit-with-parent']
    if (this.opts.logLevel) args.push('--log-level', this.opts.logLevel)
    if (this.opts.advertisedPort !== undefined) args.push('--advertised-listeners', `${name}://${this.host}:${this.opts.advertisedPort}`)
    for (const [k, v] of Object.entries(this.opts.overrides ?? {})) args.push('--override', `${k}=${v}`)
    if (this.opts.detachedLogFile) return this.startDetached(args.filter((a) => a !== '--exit-with-parent'), this.opts.detachedLogFile)
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    this.proc = proc
    this.paused = false
    this.stderr = ''
    live.add(proc)
    const ledger = this.opts.ledger
    const ledgerId =
      ledger && proc.pid !== undefined
        ? ledger.acquire({ kind: 'process', pid: proc.pid, startTime: processStartTime(proc.pid), marker: this.dataDir, description: `broker ${this.nodeId}` })
        : null
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code) => {
        live.delete(proc)
        if (ledgerId !== null) ledger!.release(ledgerId)
        resolve(code)
      }),
    )
    const timeoutMs = this.opts.startTimeoutMs ?? 30_000
    this.port = await new Promise<number>((resolve, reject) => {
      let buf = ''
      const timer = setTimeout(() => {
        proc.kill('SIGKILL')
        reject(new BrokerStartError(`broker ${this.nodeId} on ${this.host} did not start within ${timeoutMs} ms; stderr: ${this.stderr.trim() || '(empty)'}`))
      }, timeoutMs)
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString()
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
          this.logs.push(rec)
          if (this.logs.length > 10_000) this.logs.splice(0, 5_000)
          this.opts.onLog?.(rec)
          if (rec.msg === 'broker started') {
            clearTimeout(timer)
            // The bound address, not the advertised one (which may be a proxy in front of us).
            const l = ((rec.bound ?? rec.listeners) as string[])[0]!
            resolve(Number(l.slice(l.lastIndexOf(':') + 1)))
          }
        }
      })
      proc.stderr!.on('data', (d: Buffer) => {
        this.stderr += d.toString()
        if (this.stderr.length > 20_000) this.stderr = this.stderr.slice(-10_000)
      })
      proc.stdin!.on('error', () => {})
      void this.exited.then((code) => {
        clearTimeout(timer)
        reject(new BrokerStartError(`broker ${this.nodeId} exited with code ${code} before it started: ${this.stderr.trim() || '(no output)'}`))
      })
    })
  }

  private async startDetached(args: string[], logFile: string): Promise<void> {
    const fd = openSync(logFile, 'a')
    // Only lines of this start count: the file may hold earlier runs.
    const from = fstatSync(fd).size
    const proc = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], detached: true })
    closeSync(fd)
    proc.unref()
    this.proc = proc
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
    let exitCode: number | null | undefined
    void this.exited.then((c) => (exitCode = c))
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 30_000)
    for (;;) {
      let text = ''
      try {
        text = readFileSync(logFile).subarray(from).toString('utf8')
      } catch {
        text = ''
      }
      for (const line of text.split('\n')) {
        if (!line.includes('"broker started"')) continue
        try {
          const rec = JSON.parse(line) as Record<string, unknown>
          if (rec.msg !== 'broker started') continue
          const l = ((rec.bound ?? rec.listeners) as string[])[0]!
          this.port = Number(l.slice(l.lastIndexOf(':') + 1))
          return
        } catch {
          continue
        }
      }
      if (exitCode !== undefined) throw new BrokerStartError(`broker ${this.nodeId} exited with code ${exitCode} before it started; see ${logFile}`)
      if (Date.now() > deadline) {
        proc.kill('SIGKILL')
        throw new BrokerStartError(`broker ${this.nodeId} on ${this.host} did not start within ${this.opts.startTimeoutMs ?? 30_000} ms; see ${logFile}`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** Sends a signal and waits for the process to end (SIGKILL by default: a crash). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return
    if (this.paused && signal !== 'SIGKILL') this.proc!.kill('SIGCONT')
    this.proc!.kill(signal)
    await this.exited
    this.paused = false
  }

  /** Clean stop (SIGTERM): flush, checkpoints, clean-shutdown marker. Resolves to the exit code. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.running) return this.proc?.exitCode ?? null
    if (this.paused) this.resume()
    this.proc!.kill('SIGTERM')
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), timeoutMs)
    const code = await this.exited
    clearTimeout(t)
    return code
  }

  /** SIGSTOP: the process freezes, its sockets stay open (a GC pause or a hung VM, as Jepsen's pause). */
  pause(): void {
    if (!this.running || this.paused) return
    this.proc!.kill('SIGSTOP')
    this.paused = true
  }

  resume(): void {
    if (!this.running || !this.paused) return
    this.proc!.kill('SIGCONT')
    this.paused = false
  }

  /** The last lines of stderr, for error messages. */
  get stderrTail(): string {
    return this.stderr.slice(-2000)
  }
}

/** A random loopback address for a broker: 127.0.0.2 - 127.0.0.254. */
export function randomLoopbackHost(): string {
  return `127.0.0.${2 + Math.floor(Math.random() * 253)}`
}
