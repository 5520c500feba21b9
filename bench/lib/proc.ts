// Child processes of a bench run: brokers, bench workers and kcat. Every child is tracked and SIGKILLed when the
// runner exits for any reason (an exception, a signal, a normal end), so a failed run leaves nothing behind.
// CPU time of a child is read from /proc, which needs no help from the child (the broker is not ours to edit).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { BROKER_NODE_FLAGS } from '../../broker/node-flags.ts'
import { createDriver } from '../../workloads/drivers/registry.ts'

const live = new Set<ChildProcess>()
const dirs = new Set<string>()

/** Kills every child still running and removes every temp dir; safe to call more than once. */
export function cleanupAll(): void {
  for (const p of live) {
    try {
      p.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  live.clear()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}

process.once('exit', cleanupAll)

export function track(p: ChildProcess): ChildProcess {
  live.add(p)
  p.once('exit', () => live.delete(p))
  return p
}

/** A temp dir removed at cleanup (or earlier by removeTempDir). */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(d)
  return d
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true })
  dirs.delete(d)
}

// Addresses handed out in this run; a random start keeps two concurrent runs (or test files) apart.
let nextHost = 100 + Math.floor(Math.random() * 100)
const usedHosts = new Set<number>()

/** A loopback address of its own for each server: 127.0.0.100 - 127.0.0.250. */
export function loopbackHost(): string {
  for (;;) {
    const h = nextHost
    nextHost = nextHost >= 250 ? 100 : nextHost + 1
    if (!usedHosts.has(h)) {
      usedHosts.add(h)
      return `127.0.0.${h}`
    }
  }
}

let clkTck = 0

function ticksPerSecond(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

export interface CpuTime {
  user: number
  system: number
}

/** User and system CPU seconds a live process has used so far (Linux /proc); null when unreadable. */
export function processCpu(pid: number): CpuTime | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const hz = ticksPerSecond()
    return { user: Number(fields[11]) / hz, system: Number(fields[12]) / hz }
  } catch {
    return null
  }
}

export function cpuDelta(before: CpuTime | null, after: CpuTime | null): CpuTime | null {
  if (!before || !after) return null
  return { user: after.user - before.user, system: after.system - before.system }
}

export const cpuTotal = (c: CpuTime | null): number => (c ? c.user + c.system : Number.NaN)

/** dist/bench/worker.js, next to this file's compiled form. */
const WORKER = resolve(import.meta.dirname, '../worker.js')
export const BROKER_CLI = resolve(import.meta.dirname, '../../bin/faultline.js')

export interface WorkerHandle {
  readonly proc: ChildProcess
  readonly pid: number
  /** The first JSON line the worker prints (its "ready" message). */
  readonly ready: Promise<Record<string, unknown>>
  /** The last JSON line before a clean exit; rejects on a non-zero exit. */
  readonly done: Promise<Record<string, unknown>>
  kill(): Promise<void>
}

/**
 * Runs `node dist/bench/worker.js <role> <json>`. Workers speak one JSON object per stdout line; the first is
 * the ready message, the last the result. stderr is kept for error messages.
 */
export function startWorker(role: string, args: Record<string, unknown>, nodeFlags: string[] = []): WorkerHandle {
  const proc = track(spawn(process.execPath, [...nodeFlags, WORKER, role, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] }))
  return handleJsonLines(proc, `bench worker ${role}`, (line) => line.event === 'ready')
}

export interface BrokerHandle extends WorkerHandle {
  readonly host: string
  readonly port: number
  readonly bootstrap: string
  readonly dataDir: string
  /** Every bound listener, NAME://host:port (the first is `bootstrap`). */
  readonly listeners: readonly string[]
}

/** Starts a reference broker process on its own loopback address and a fresh data dir. */
export async function startBroker(opts: { overrides?: Record<string, string | number>; nodeFlags?: string[]; listeners?: (host: string) => string } = {}): Promise<BrokerHandle> {
  const host = loopbackHost()
  const dataDir = tempDir('faultline-bench-broker-')
  const args = [...BROKER_NODE_FLAGS, ...(opts.nodeFlags ?? []), BROKER_CLI, 'broker', '--node-id', '1', '--listeners', opts.listeners?.(host) ?? `PLAINTEXT://${host}:0`, '--data-dir', dataDir]
  for (const [k, v] of Object.entries(opts.overrides ?? {})) args.push('--override', `${k}=${v}`)
  const proc = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
  const h = handleJsonLines(proc, 'broker', (line) => line.msg === 'broker started')
  const started = await h.ready
  const listener = (started.listeners as string[])[0]!
  const port = Number(listener.slice(listener.lastIndexOf(':') + 1))
  return { ...h, host, port, bootstrap: `${host}:${port}`, dataDir, listeners: started.listeners as string[] }
}

/** Deletes a topic on the broker (the raw driver's admin: DeleteTopics). */
export async function deleteTopic(bootstrap: string, topic: string): Promise<void> {
  const driver = await createDriver('raw', { bootstrap: [bootstrap], clientId: 'faultline-bench-admin' })
  try {
    const admin = await driver.admin()
    try {
      await admin.deleteTopics([topic])
    } finally {
      await admin.close()
    }
  } finally {
    await driver.close()
  }
}

function handleJsonLines(proc: ChildProcess, what: string, isReady: (line: Record<string, unknown>) => boolean): WorkerHandle {
  let stderr = ''
  let last: Record<string, unknown> | null = null
  let readyResolve: (v: Record<string, unknown>) => void = () => {}
  let readyReject: (e: Error) => void = () => {}
  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    readyResolve = res
    readyReject = rej
  })
  let buf = ''
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      let line: Record<string, unknown>
      try {
        line = JSON.parse(text) as Record<string, unknown>
      } catch {
        continue
      }
      last = line
      if (isReady(line)) readyResolve(line)
      if (line.level === 'error') stderr += `${text}\n`
    }
  })
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (stderr.length > 20_000) stderr = stderr.slice(-20_000)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once('exit', (code, signal) => res({ code, signal })),
  )
  const done = exited.then(({ code, signal }) => {
    if (code !== 0) throw new Error(`${what} exited with ${code ?? signal}: ${stderr.trim().slice(-4000)}`)
    return last ?? {}
  })
  done.catch(() => {})
  void exited.then(({ code, signal }) => readyReject(new Error(`${what} exited with ${code ?? signal} before it was ready: ${stderr.trim().slice(-4000)}`)))
  return {
    proc,
    pid: proc.pid!,
    ready,
    done,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      await exited
    },
  }
}

/** Stops a broker with SIGTERM (clean shutdown, so a --cpu-prof profile is written), SIGKILL after `graceMs`. */
export async function stopGracefully(h: WorkerHandle, graceMs = 10_000): Promise<void> {
  const { proc } = h
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const gone = new Promise<void>((res) => proc.once('exit', () => res()))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
  await gone
  clearTimeout(timer)
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
  wallMs: number
}

/** Runs a command to completion, timing it with performance.now() from spawn to exit. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const t0 = performance.now()
    const proc = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
    let stdout = ''
    let stderr = ''
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
      if (stderr.length > 100_000) stderr = stderr.slice(-100_000)
    })
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          proc.kill('SIGKILL')
        }, opts.timeoutMs)
      : null
    proc.once('error', rej)
    proc.once('exit', (code) => {
      if (timer) clearTimeout(timer)
      res({ code, stdout, stderr, wallMs: performance.now() - t0 })
    })
  })
}
