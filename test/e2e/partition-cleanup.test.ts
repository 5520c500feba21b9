// A run's partition lives in iptables, outside every process: it must be gone after the run, after Ctrl-C,
// and after the harness is SIGKILLed mid-partition and `faultline cleanup` runs (the ledger holds the chain
// and the rules). Each test reads the run's chain from its ledger and asks iptables about it.

import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import { readLedger } from '../../chaos/ledger.ts'
import { chainExistsSync, chainRulesSync, removeChainSync } from '../../chaos/network/iptables.ts'
import { readResults } from '../../reports/results.ts'
import { until } from '../helpers/until.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-partition-'))
const env = { ...process.env, FAULTLINE_STATE_DIR: join(root, 'state') }
const chains: string[] = []

afterAll(() => {
  // Whatever a failing test left: never leave a rule on the machine.
  for (const c of chains) removeChainSync(c)
  rmSync(root, { recursive: true, force: true })
})

const scenario = (name: string, durationS: number, heal: string): string => `
name: ${name}
cluster: { backend: local, brokers: 2 }
topics: [ { name: t, partitions: 1, replicationFactor: 2 } ]
workload:
  duration: ${durationS}s
  warmup: 0s
  driver: raw
  producers: { rate: 50/s, messageSize: 100B }
faults:
  - { name: split, at: 1s, partition: { isolate: 2 }, heal: ${heal} }
`

function cli(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> } {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return { child, done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out }))) }
}

const outputJumps = (chain: string): boolean => execFileSync('iptables', ['-w', '-S', 'OUTPUT']).toString().includes(chain)

/** Starts a run that partitions at 1 s for a minute and waits until its rules are in; returns the run and chain. */
async function partitioned(name: string): Promise<{ out: string; chain: string; run: ReturnType<typeof cli> }> {
  const out = join(root, name)
  const file = join(root, `${name}.yaml`)
  writeFileSync(file, scenario(name, 120, '60s'))
  const run = cli(['run', file, '--out', out, '--seed', '7'])
  const chain = await until('the run to partition', () => {
    if (!existsSync(join(out, 'ledger.jsonl'))) return undefined
    const held = readLedger(join(out, 'ledger.jsonl')).outstanding.map((o) => o.resource)
    const c = held.find((r) => r.kind === 'iptables-chain')
    if (c?.kind !== 'iptables-chain') return undefined
    if (!chains.includes(c.chain)) chains.push(c.chain)
    return held.some((r) => r.kind === 'iptables-rules') && chainRulesSync(c.chain).length > 0 ? c.chain : undefined
  }, 60_000)
  expect(outputJumps(chain)).toBe(true)
  return { out, chain, run }
}

describe('no iptables rule outlives a run', () => {
  it('after a run: healed on schedule, the chain removed, the sides in results.json', async () => {
    const out = join(root, 'complete')
    const file = join(root, 'complete.yaml')
    writeFileSync(file, scenario('complete', 4, '2s'))
    const r = await cli(['run', file, '--out', out, '--seed', '7']).done
    expect(r.code, r.out).toBe(0)
    const chain = /iptables chain (faultline-[0-9a-f]+)/.exec(execFileSync('cat', [join(out, 'run.log')]).toString())?.[1]
    expect(chain).toBeDefined()
    chains.push(chain!)
    expect(chainExistsSync(chain!)).toBe(false)
    expect(outputJumps(chain!)).toBe(false)
    expect(JSON.stringify(readResults(join(out, 'results.json')))).toContain('isolate [2] | [1, clients]')
  }, 120_000)

  it('after Ctrl-C mid-partition', async () => {
    const { chain, run } = await partitioned('interrupted')
    run.child.kill('SIGINT')
    await run.done
    expect(chainExistsSync(chain)).toBe(false)
    expect(outputJumps(chain)).toBe(false)
  }, 120_000)

  it('after the harness crashes (an uncaught exception) mid-partition', async () => {
    const partition = join(CLI_PATH, '../../chaos/network/partition.js')
    const script = `
      const { IptablesPartitions } = await import(${JSON.stringify(partition)})
      const p = await IptablesPartitions.open({ nodes: () => [{ id: 1, host: '127.0.0.250', ports: [1] }] })
      await p.cut('crash', [{ from: 'clients', to: 1 }])
      console.log(p.chain)
      setTimeout(() => { throw new Error('boom') }, 10)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(1)
    const chain = out.trim()
    expect(chain).toMatch(/^faultline-[0-9a-f]{12}$/)
    chains.push(chain)
    expect(chainExistsSync(chain)).toBe(false)
    expect(outputJumps(chain)).toBe(false)
  }, 60_000)

  it('after a SIGKILL mid-partition, `faultline cleanup` removes the rules and the chain', async () => {
    const { out, chain, run } = await partitioned('killed')
    run.child.kill('SIGKILL')
    expect((await run.done).signal).toBe('SIGKILL')
    // The point of the ledger: the harness is gone and its rules are still there.
    expect(chainRulesSync(chain).length).toBeGreaterThan(0)
    const c = await cli(['cleanup', out]).done
    expect(c.code, c.out).toBe(0)
    expect(c.out).toContain('iptables rules of split')
    expect(c.out).toContain(`iptables chain ${chain}: removed`)
    expect(chainExistsSync(chain)).toBe(false)
    expect(outputJumps(chain)).toBe(false)
    expect(existsSync(join(out, 'ledger.jsonl'))).toBe(false)
  }, 120_000)
})
