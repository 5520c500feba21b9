// The built CLI as a real process, as a user runs it, and what it leaves behind.

import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { CLI_PATH } from '../../chaos/cluster/broker-process.ts'

export interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the CLI; `onStderr` sees stderr as it grows and may act on the child (send it a signal). */
export function cli(args: string[], onStderr?: (soFar: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
    onStderr?.(stderr, child)
  })
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
}

/** Starts the CLI with `env`; the child stays in reach (to be SIGKILLed), `done` has its exit and all its output. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> } {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return { child, done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out }))) }
}

/** Processes whose command line mentions `path` (brokers keep their data under the run's directory). */
export function processesUsing(path: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
      if (cmd.includes(path)) found.push(`${pid}: ${cmd}`)
    } catch {
      // gone meanwhile
    }
  }
  return found
}
