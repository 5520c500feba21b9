// A harness killed with SIGKILL while a broker is paused (SIGSTOP) cannot undo anything itself, and the
// paused broker cannot notice that its parent died: without the ledger it stays behind forever. These tests
// kill `faultline run` at that moment and check that `faultline cleanup` (with the run's directory, or with
// none) and the next `faultline run` leave no process and no data behind.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import { readLedger } from '../../chaos/ledger.ts'
import { until } from '../helpers/until.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-kill-'))
const stateDir = join(root, 'state')
const env = { ...process.env, FAULTLINE_STATE_DIR: stateDir }
const started: number[] = []

afterAll(() => {
  // Whatever a failing test left: never leave a stopped broker on the machine.
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  rmSync(root, { recursive: true, force: true })
})

const scenario = (name: string, durationS: number, faults: string): string => `
name: ${name}
cluster: { backend: local, brokers: 1 }
topics: [ { name: t, partitions: 1 } ]
workload:
  duration: ${durationS}s
  warmup: 0s
  driver: raw
  producers: { rate: 100/s, messageSize: 100B }
  consumers: { groups: 1 }
${faults}
checks:
  delivery: { lost: 0 }
`

function cli(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> } {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return { child, done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out }))) }
}

/** 'R', 'S', 'T' (stopped), 'Z' (zombie), or null when the process is gone. */
function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null
  } catch {
    return null
  }
}

const gone = (pid: number): boolean => {
  const s = processState(pid)
  return s === null || s === 'Z' || s === 'X'
}

/** Starts a run that pauses its only broker 1 s in for a minute, waits until the broker is stopped, and SIGKILLs
 *  the harness. Returns the run's directory and the orphaned broker's pid. */
async function killWhilePaused(name: string): Promise<{ out: string; pid: number }> {
  const out = join(root, name)
  const file = join(root, `${name}.yaml`)
  writeFileSync(file, scenario(name, 120, 'faults:\n  - { name: freeze, at: 1s, pause: 1, duration: 60s }'))
  const run = cli(['run', file, '--out', out, '--seed', '7'])
  const pid = await until('the broker to be paused by the run', async () => {
    if (!existsSync(join(out, 'ledger.jsonl'))) return undefined
    const procs = readLedger(join(out, 'ledger.jsonl')).outstanding.flatMap((o) => (o.resource.kind === 'process' ? [o.resource.pid] : []))
    for (const p of procs) if (!started.includes(p)) started.push(p)
    return procs.find((p) => processState(p) === 'T')
  }, 60_000)
  run.child.kill('SIGKILL')
  const ended = await run.done
  expect(ended.signal).toBe('SIGKILL')
  // The point of the ledger: the harness is gone and its paused broker is still there.
  expect(processState(pid)).toBe('T')
  return { out, pid }
}

describe('a harness killed while a broker is paused', () => {
  it('`faultline cleanup RUN_DIR` kills the orphaned broker and removes the cluster data', async () => {
    const { out, pid } = await killWhilePaused('paused-cleanup-dir')
    expect(existsSync(join(out, 'cluster'))).toBe(true)
    const c = cli(['cleanup', out])
    const r = await c.done
    expect(r.out).toContain(`broker 1 (pid ${pid}): killed`)
    expect(r.code).toBe(0)
    await until(`broker pid ${pid} to be gone`, async () => gone(pid), 10_000)
    expect(existsSync(join(out, 'cluster'))).toBe(false)
    expect(existsSync(join(out, 'ledger.jsonl'))).toBe(false)
    // Nothing left to do: a second cleanup says so.
    const again = await cli(['cleanup', out]).done
    expect(again.code).toBe(0)
    expect(again.out).toContain('nothing to clean up')
  }, 120_000)

  it('the next `faultline run` undoes what the killed run left, before it starts', async () => {
    const { out, pid } = await killWhilePaused('paused-next-run')
    const file = join(root, 'next.yaml')
    writeFileSync(file, scenario('next', 2, ''))
    const next = await cli(['run', file, '--out', join(root, 'next-out'), '--seed', '8']).done
    expect(next.out).toContain(`a killed run in ${out} left broker 1 (pid ${pid}): killed`)
    expect(next.code).toBe(0)
    expect(gone(pid)).toBe(true)
    expect(existsSync(join(out, 'cluster'))).toBe(false)
    expect(existsSync(join(out, 'ledger.jsonl'))).toBe(false)
  }, 120_000)

  it('a bare `faultline cleanup` finds the killed run through the state directory', async () => {
    const { pid } = await killWhilePaused('paused-cleanup-bare')
    const r = await cli(['cleanup']).done
    expect(r.out).toContain(`broker 1 (pid ${pid}): killed`)
    expect(r.code).toBe(0)
    await until(`broker pid ${pid} to be gone`, async () => gone(pid), 10_000)
  }, 120_000)
})
