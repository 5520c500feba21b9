// Process faults on an external cluster act through the scenario's commands. The "external" cluster here is
// three reference brokers this test starts itself with shell scripts (each writes its pid to a file), and the
// scenario's commands really signal those processes: kill -KILL, the start script again, kill -STOP and
// kill -CONT. `faultline run` must run each command, log it and its exit to run.log, wait for a restarted
// broker to answer, and finish with every broker up again; `faultline validate` must refuse a fault whose
// command is missing, naming the fault and the command.

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROKER_NODE_FLAGS } from '../../broker/node-flags.ts'
import { CLI_PATH, randomLoopbackHost } from '../../chaos/cluster/broker-process.ts'
import { readResults } from '../../reports/results.ts'
import { RawCluster } from '../../workloads/drivers/raw.ts'
import { cli } from '../e2e/cli.ts'
import { removeDir, tempDir } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'
import { FAST_FAILOVER } from '../helpers/fast-failover.ts'

const CONFIG: Record<string, string> = {
  ...FAST_FAILOVER,
  'offsets.topic.num.partitions': '1',
}

const root = tempDir('faultline-external-')
const hosts = new Set<string>()
while (hosts.size < 3) hosts.add(randomLoopbackHost())
const port = 20_000 + Math.floor(Math.random() * 10_000)
const nodes = [...hosts].map((host, i) => ({ id: i + 1, host, address: `${host}:${port}` }))
const pidFile = (id: number) => join(root, `broker-${id}.pid`)
const pidOf = (id: number) => Number(readFileSync(pidFile(id), 'utf8').trim())

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A start script per broker: the broker in the background, its pid in broker-ID.pid. */
function writeStartScripts(): void {
  const voters = nodes.map((n) => `${n.id}@${n.host}:${port + 1}`).join(',')
  for (const n of nodes) {
    const args = [
      process.execPath,
      ...BROKER_NODE_FLAGS,
      CLI_PATH,
      'broker',
      '--node-id',
      String(n.id),
      '--listeners',
      `PLAINTEXT://${n.host}:${port},CONTROLLER://${n.host}:${port + 1}`,
      '--data-dir',
      join(root, `broker-${n.id}`),
      ...Object.entries({ 'cluster.id': 'ExternalCommandsTest0', 'controller.quorum.voters': voters, 'process.roles': 'broker,controller', ...CONFIG }).flatMap(([k, v]) => ['--override', `${k}=${v}`]),
    ]
    writeFileSync(join(root, `start-${n.id}.sh`), `${args.map((a) => `'${a}'`).join(' ')} >> '${root}/broker-${n.id}.log' 2>&1 &\necho $! > '${pidFile(n.id)}'\n`)
  }
}

async function brokersListed(): Promise<number> {
  const c = new RawCluster({ bootstrap: nodes.map((n) => n.address), requestTimeoutMs: 2000, connectTimeoutMs: 1000 }, 1)
  try {
    await c.refresh()
    return c.brokers.size
  } finally {
    c.close()
  }
}

const commands = `
  commands:
    kill: "kill -KILL $(cat ${root}/broker-{id}.pid)"
    restart: "sh ${root}/start-{id}.sh"
    pause: "kill -STOP $(cat ${root}/broker-{id}.pid)"
    resume: "kill -CONT $(cat ${root}/broker-{id}.pid)"
    timeout: 20s`

const scenario = (name: string, clusterExtra: string, faults: string) => `
name: ${name}
cluster:
  backend: external
  bootstrap: [${nodes.map((n) => n.address).join(', ')}]
  nodes: [${nodes.map((n) => `{ id: ${n.id}, address: "${n.address}" }`).join(', ')}]${clusterExtra}
topics: [ { name: ${name}, partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } } ]
workload:
  duration: 16s
  warmup: 1s
  driver: raw
  producers: { rate: 200/s, messageSize: 100B, acks: all, idempotent: true }
  consumers: { groups: 1 }
faults:
${faults}
checks:
  delivery: { lost: 0, duplicates: 0 }
`

describe('process faults on an external cluster through commands', () => {
  beforeAll(async () => {
    writeStartScripts()
    for (const n of nodes) await execa('sh', [join(root, `start-${n.id}.sh`)])
    await until('3 brokers registered', async () => (await brokersListed()) === 3, 60_000)
  }, 90_000)

  afterAll(() => {
    for (const n of nodes) {
      try {
        process.kill(pidOf(n.id), 'SIGKILL')
      } catch {
        // gone
      }
    }
    removeDir(root)
  })

  it('kills, restarts, pauses and resumes brokers with the scenario\'s commands', async () => {
    const before = nodes.map((n) => pidOf(n.id))
    const file = join(root, 'run.yaml')
    writeFileSync(file, scenario('ext', commands, `  - { at: 3s, kill: { leaderOf: ext/0 }, restartAfter: 3s }\n  - { at: 12s, pause: all, duration: 2s }`))
    const out = join(root, 'out')
    const run = await cli(['run', file, '--out', out, '--seed', '3'])
    expect([0, 1], run.stderr).toContain(run.code)
    const log = readFileSync(join(out, 'run.log'), 'utf8')
    const killed = Number(/node (\d) kill: \$ kill -KILL/.exec(log)?.[1])
    expect(killed).toBeGreaterThan(0)
    expect(log).toContain(`node ${killed} kill: exit 0`)
    expect(log).toContain(`node ${killed} restart: $ sh ${root}/start-${killed}.sh`)
    expect(log).toContain(`node ${killed} restart: exit 0`)
    for (const n of nodes) {
      expect(log).toContain(`node ${n.id} pause: exit 0`)
      expect(log).toContain(`node ${n.id} resume: exit 0`)
    }
    // The kill was real: the old process is gone and a new one runs; the others kept theirs.
    const after = nodes.map((n) => pidOf(n.id))
    expect(alive(before[killed - 1]!)).toBe(false)
    expect(after[killed - 1]).not.toBe(before[killed - 1])
    nodes.forEach((n, i) => {
      if (n.id !== killed) expect(after[i]).toBe(before[i])
      expect(alive(after[i]!)).toBe(true)
    })
    const r = readResults(join(out, 'results.json'))
    expect(r.metrics.totals.acked).toBeGreaterThan(0)
    if (r.verdict.state !== 'passed') console.log(`verdict ${r.verdict.state}: ${r.verdict.reasons.join('; ')}`)
    await until('3 brokers registered again', async () => (await brokersListed()) === 3)
  }, 120_000)

  it('refuses a fault whose command is missing, naming the fault and the command', async () => {
    const file = join(root, 'missing.yaml')
    const partial = commands.replace(/\n {4}restart: .*/, '').replace(/\n {4}resume: .*/, '')
    writeFileSync(file, scenario('missing', partial, `  - { at: 3s, kill: 2, restartAfter: 3s }\n  - { at: 5s, pause: 9, duration: 2s }\n  - { at: 8s, pause: 1, duration: 2s }`))
    const v = await cli(['validate', file])
    expect(v.code).toBe(2)
    expect(v.stderr).toMatch(/faults\[0\]\.kill: a kill on an external cluster runs the kill and restart commands of its node; node 2 has no restart command; expected cluster\.commands\.restart or cluster\.nodes\[1\]\.commands\.restart/)
    expect(v.stderr).toMatch(/faults\[1\]\.pause: .*node 9 is not in cluster\.nodes \(1, 2, 3\)/)
    expect(v.stderr).toMatch(/faults\[2\]\.pause: .*node 1 has no resume command/)
    const run = await cli(['run', file, '--out', join(root, 'missing-out')])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('nothing was run')
  })
})
