// Network faults on the Docker backend outlive a SIGKILLed harness: a partition's chain (jumped from FORWARD,
// OUTPUT and INPUT on the run's bridge) and its rules, or the proxy server in front of the containers. After
// `faultline cleanup RUN_DIR` no chain, jump, rule, container, network or proxy server of the run is left.

import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LEDGER_LABEL } from '../../chaos/cluster/docker-ledger.ts'
import { type LedgerResource, readLedger } from '../../chaos/ledger.ts'
import { chainExistsSync, chainRulesSync, removeChainSync } from '../../chaos/network/iptables.ts'
import { dockerTitle, ensureDockerEngine } from '../helpers/docker.ts'
import { until } from '../helpers/until.ts'
import { startCli } from './cli.ts'

const engine = await ensureDockerEngine()
if (!engine.ok) console.warn(`docker network harness-kill tests skipped: ${engine.reason}`)

const root = mkdtempSync(join(tmpdir(), 'faultline-kill-docker-net-'))
const env = { ...process.env, FAULTLINE_STATE_DIR: join(root, 'state') }
const chains: string[] = []

const cli = (args: string[]): ReturnType<typeof startCli> => startCli(args, env)

async function labelled(ledger: string): Promise<{ containers: string[]; networks: string[] }> {
  if (!engine.ok) return { containers: [], networks: [] }
  const filters = JSON.stringify({ label: [`${LEDGER_LABEL}=${ledger}`] })
  return {
    containers: (await engine.docker.listContainers({ all: true, filters })).map((c) => c.Id),
    networks: (await engine.docker.listNetworks({ filters })).map((n) => n.Id),
  }
}

const jumpsTo = (chain: string): string[] =>
  execFileSync('iptables', ['-w', '-S'])
    .toString()
    .split('\n')
    .filter((l) => l.endsWith(`-j ${chain}`))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A two-broker docker run of 2 minutes with one fault from 1 s for a minute. */
function writeScenario(name: string, fault: string): string {
  const file = join(root, `${name}.yaml`)
  writeFileSync(
    file,
    `
name: docker-${name}
cluster: { backend: docker, brokers: 2 }
topics: [ { name: t, partitions: 1, replicationFactor: 2 } ]
workload:
  duration: 120s
  warmup: 0s
  driver: raw
  producers: { rate: 50/s, messageSize: 100B }
faults:
  - ${fault}
`,
  )
  return file
}

/** Runs the scenario until `ready` holds of the ledger's outstanding resources, then SIGKILLs the harness. */
async function killedWhen(name: string, fault: string, ready: (held: LedgerResource[]) => boolean): Promise<{ out: string; ledger: string; held: LedgerResource[] }> {
  const out = join(root, name)
  const ledger = join(out, 'ledger.jsonl')
  const run = cli(['run', writeScenario(name, fault), '--out', out, '--seed', '7'])
  const held = await until(`the run's fault in place (${name})`, () => {
    if (!existsSync(ledger)) return undefined
    const h = readLedger(ledger).outstanding.map((o) => o.resource)
    return ready(h) ? h : undefined
  }, 120_000)
  run.child.kill('SIGKILL')
  expect((await run.done).signal).toBe('SIGKILL')
  return { out, ledger, held }
}

afterAll(async () => {
  for (const c of chains) removeChainSync(c)
  // Whatever a failing test left: remove it, so nothing outlives the suite.
  for (const name of ['partition', 'latency']) {
    if (!engine.ok) break
    const left = await labelled(join(root, name, 'ledger.jsonl'))
    for (const id of left.containers) await engine.docker.getContainer(id).remove({ force: true })
    for (const id of left.networks) await engine.docker.getNetwork(id).remove()
  }
  rmSync(root, { recursive: true, force: true })
})

describe.skipIf(!engine.ok)(dockerTitle('a harness killed during a network fault on the docker backend', engine), () => {
  it('mid-partition: `faultline cleanup RUN_DIR` removes the chain, its jumps and rules, the containers and the network', async () => {
    const { out, ledger, held } = await killedWhen('partition', '{ name: split, at: 1s, partition: { isolate: 2 }, heal: 60s }', (h) =>
      // Recorded before they are added: wait for the rules themselves.
      h.some((r) => r.kind === 'iptables-rules' && chainExistsSync(r.chain) && chainRulesSync(r.chain).length > 0),
    )
    const chain = held.find((r) => r.kind === 'iptables-chain')
    if (chain?.kind !== 'iptables-chain') throw new Error('no chain in the ledger')
    chains.push(chain.chain)
    // The point of the ledger: the harness is gone, its cut is still in the kernel.
    expect(chainRulesSync(chain.chain).length).toBeGreaterThan(0)
    expect(jumpsTo(chain.chain).map((l) => l.split(' ')[1]).sort()).toEqual(['FORWARD', 'INPUT', 'OUTPUT'])
    expect((await labelled(ledger)).containers).toHaveLength(2)

    const r = await cli(['cleanup', out]).done
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/iptables chain faultline-[0-9a-f]+: removed/)
    expect(chainExistsSync(chain.chain)).toBe(false)
    expect(jumpsTo(chain.chain)).toEqual([])
    expect(await labelled(ledger)).toEqual({ containers: [], networks: [] })
    expect(existsSync(ledger)).toBe(false)
  }, 240_000)

  it('during a latency fault: `faultline cleanup RUN_DIR` leaves no proxy server, container or network', async () => {
    const { out, ledger, held } = await killedWhen('latency', '{ at: 1s, latency: { target: all, delay: 50ms }, duration: 60s }', (h) => h.some((r) => r.kind === 'docker-container') && h.some((r) => r.kind === 'process'))
    const proxy = held.find((r) => r.kind === 'process')
    if (proxy?.kind !== 'process') throw new Error('no proxy server in the ledger')
    expect(proxy.description).toMatch(/proxy server/)
    const r = await cli(['cleanup', out]).done
    expect(r.code).toBe(0)
    expect(alive(proxy.pid)).toBe(false)
    expect(await labelled(ledger)).toEqual({ containers: [], networks: [] })
    expect(existsSync(ledger)).toBe(false)
  }, 240_000)
})
