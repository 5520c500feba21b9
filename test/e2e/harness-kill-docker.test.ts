// The Docker backend's half of harness-kill.test.ts: `faultline run` on the docker backend is SIGKILLed while
// a broker container is paused, so its containers and network outlive it. `faultline cleanup RUN_DIR` must
// remove them all, from the run's ledger, and say so; then nothing labelled with that ledger is left.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import { LEDGER_LABEL } from '../../chaos/cluster/docker-ledger.ts'
import { readLedger } from '../../chaos/ledger.ts'
import { dockerTitle, ensureDockerEngine } from '../helpers/docker.ts'
import { until } from '../helpers/until.ts'

const engine = await ensureDockerEngine()
if (!engine.ok) console.warn(`docker harness-kill test skipped: ${engine.reason}`)

const root = mkdtempSync(join(tmpdir(), 'faultline-kill-docker-'))
const env = { ...process.env, FAULTLINE_STATE_DIR: join(root, 'state') }

function cli(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> } {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return { child, done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out }))) }
}

/** Containers and networks labelled with the ledger, by name. */
async function labelled(ledger: string): Promise<{ containers: { id: string; name: string; state: string }[]; networks: { id: string; name: string }[] }> {
  if (!engine.ok) return { containers: [], networks: [] }
  const filters = JSON.stringify({ label: [`${LEDGER_LABEL}=${ledger}`] })
  const containers = await engine.docker.listContainers({ all: true, filters })
  const networks = await engine.docker.listNetworks({ filters })
  return { containers: containers.map((c) => ({ id: c.Id, name: c.Names[0]!, state: c.State })), networks: networks.map((n) => ({ id: n.Id, name: n.Name })) }
}

/** A one-broker run of 2 minutes that pauses its broker 1 s in for a minute. */
function writeScenario(name: string): string {
  const file = join(root, `${name}.yaml`)
  writeFileSync(
    file,
    `
name: docker-${name}
cluster: { backend: docker, brokers: 1 }
topics: [ { name: t, partitions: 1 } ]
workload:
  duration: 120s
  driver: raw
  producers: { rate: 100/s, messageSize: 100B }
faults:
  - { at: 1s, pause: 1, duration: 60s }
`,
  )
  return file
}

afterAll(async () => {
  // Whatever a failing test left: remove it, so no container outlives the suite.
  for (const ledger of [join(root, 'run', 'ledger.jsonl'), join(root, 'interrupted', 'ledger.jsonl')]) {
    if (!engine.ok) break
    const left = await labelled(ledger)
    for (const c of left.containers) await engine.docker.getContainer(c.id).remove({ force: true })
    for (const n of left.networks) await engine.docker.getNetwork(n.id).remove()
  }
  rmSync(root, { recursive: true, force: true })
})

describe.skipIf(!engine.ok)(dockerTitle('a harness killed while a broker container is paused', engine), () => {
  it('`faultline cleanup RUN_DIR` removes its containers and its network', async () => {
    const out = join(root, 'run')
    const ledger = join(out, 'ledger.jsonl')
    const file = writeScenario('paused')
    const run = cli(['run', file, '--out', out, '--seed', '7'])
    await until('the broker container to be paused by the run', async () => (await labelled(ledger)).containers.some((c) => c.state === 'paused'), 120_000)
    run.child.kill('SIGKILL')
    expect((await run.done).signal).toBe('SIGKILL')
    const kinds = readLedger(ledger).outstanding.map((o) => o.resource.kind)
    expect(kinds).toContain('docker-container')
    expect(kinds).toContain('docker-network')
    // The point of the ledger: the harness is gone and its paused container and network are still there.
    const left = await labelled(ledger)
    expect(left.containers.map((c) => c.state)).toEqual(['paused'])
    expect(left.networks).toHaveLength(1)

    const r = await cli(['cleanup', out]).done
    expect(r.out).toMatch(/broker 1's container \(faultline-[0-9a-f]+-broker-1\): removed/)
    expect(r.out).toMatch(/the docker cluster's network \(faultline-[0-9a-f]+\): removed/)
    expect(r.code).toBe(0)
    expect(await labelled(ledger)).toEqual({ containers: [], networks: [] })
    expect(existsSync(ledger)).toBe(false)
  }, 240_000)

  it('Ctrl-C removes the containers and the network itself', async () => {
    const out = join(root, 'interrupted')
    const ledger = join(out, 'ledger.jsonl')
    const run = cli(['run', writeScenario('interrupted'), '--out', out, '--seed', '7'])
    await until('the broker container to be paused by the run', async () => (await labelled(ledger)).containers.some((c) => c.state === 'paused'), 120_000)
    run.child.kill('SIGINT')
    const ended = await run.done
    expect(ended.out).toMatch(/interrupted/)
    expect(ended.code).toBe(3)
    expect(await labelled(ledger)).toEqual({ containers: [], networks: [] })
    expect(existsSync(ledger)).toBe(false)
  }, 240_000)
})
