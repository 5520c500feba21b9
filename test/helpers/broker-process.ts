// Starts reference brokers as real processes (dist/bin/faultline.js) on their own loopback address, with a
// port chosen by the OS, and stops them whatever happens to the test.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const CLI = resolve(import.meta.dirname, '../../dist/bin/faultline.js')
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL')
})

export interface BrokerProcess {
  readonly host: string
  readonly port: number
  readonly bootstrap: string
  readonly dataDir: string
  readonly nodeId: number
  readonly proc: ChildProcess
  /** Every log line so far (JSON objects). */
  readonly logs: Record<string, unknown>[]
  /** SIGKILL (default) or another signal; resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>
}

export interface StartOptions {
  host?: string
  /** Port to bind; 0 (default) lets the OS choose. Restarts should pass the previous port. */
  port?: number
  nodeId?: number
  dataDir?: string
  overrides?: Record<string, string | number | boolean>
  timeoutMs?: number
}

/** A loopback address of our own for this test file: 127.0.0.2 - 127.0.0.254. */
export function loopbackHost(): string {
  return `127.0.0.${2 + Math.floor(Math.random() * 253)}`
}

export function tempDir(prefix = 'faultline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export async function startBroker(opts: StartOptions = {}): Promise<BrokerProcess> {
  const host = opts.host ?? loopbackHost()
  const nodeId = opts.nodeId ?? 1
  const dataDir = opts.dataDir ?? tempDir()
  const args = [CLI, 'broker', '--node-id', String(nodeId), '--listeners', `PLAINTEXT://${host}:${opts.port ?? 0}`, '--data-dir', dataDir]
  for (const [k, v] of Object.entries(opts.overrides ?? {})) args.push('--override', `${k}=${v}`)
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(proc)
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => {
    live.delete(proc)
    res(code)
  }))
  const port = await new Promise<number>((res, rej) => {
    let buf = ''
    const timer = setTimeout(() => rej(new Error(`broker did not start within ${opts.timeoutMs ?? 20000} ms; stderr: ${stderr}`)), opts.timeoutMs ?? 20000)
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        try {
          const rec = JSON.parse(line) as Record<string, unknown>
          logs.push(rec)
          if (rec.msg === 'broker started') {
            clearTimeout(timer)
            const l = (rec.listeners as string[])[0]!
            res(Number(l.slice(l.lastIndexOf(':') + 1)))
          }
        } catch {
          logs.push({ raw: line })
        }
      }
    })
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    void exited.then((code) => {
      clearTimeout(timer)
      rej(new Error(`broker exited with code ${code} before starting; stderr: ${stderr}`))
    })
  })
  return {
    host,
    port,
    bootstrap: `${host}:${port}`,
    dataDir,
    nodeId,
    proc,
    logs,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      await exited
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      return await exited
    },
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
