// explore without brokers: the scaled-down scenario, candidate schedules written as scenario text that the
// schema reads back to the same faults (so what explore ran is what `faultline run` runs), and bad input.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { explorableKinds, scheduleArbitrary } from '../../chaos/fault-space.ts'
import { isProxyKind } from '../../chaos/faults.ts'
import { validateCommand } from '../../scenarios/commands.ts'
import { exploreCommand } from '../../scenarios/explore-command.ts'
import { preflight } from '../../scenarios/runner.ts'
import { runCommand } from '../../scenarios/runner-command.ts'
import { backendKinds, candidateText, DEFAULT_SCALE, explore, kindsProblem, parseKinds, prepareScenario, spaceFor, targetsOf } from '../../scenarios/explore.ts'
import { parseScenario } from '../../scenarios/schema.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`explore.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

const tmp = mkdtempSync(join(tmpdir(), 'faultline-explore-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const BIG = `# The original comment stays.
name: big
cluster: { backend: local, brokers: 3 }
topics: [ { name: orders, partitions: 6, replicationFactor: 3, config: { min.insync.replicas: 2 } } ]
workload:
  duration: 60s
  warmup: 10s
  producers:
    - { rate: 5000/s, keys: { zipf: 1.1, count: 10000 } }
    - { rate: max, keys: round-robin }
  consumers: { groups: 1 }
faults:
  - { at: 20s, kill: { leaderOf: orders/0 }, restartAfter: 10s }
checks:
  delivery: { lost: 0, duplicates: 0 }
  slo: { produce.p99: 50ms, throughput: 4500/s }
`

const write = (name: string, text: string): string => {
  const path = join(tmp, name)
  writeFileSync(path, text)
  return path
}

const scaleFor = () => ({ ...DEFAULT_SCALE, durationMs: 20_000 })
const sink = () => {
  let text = ''
  return { write: (s: string) => (text += s), get text() { return text } }
}

describe('explore scales the scenario down', () => {
  it('shortens the run, caps rates and keys, drops SLOs and the scenario\'s own faults, and says what it changed', () => {
    const { scaled, notes } = prepareScenario(write('big.yaml', BIG), scaleFor)
    expect(scaled.workload.durationMs).toBe(20_000)
    expect(scaled.workload.warmupMs).toBe(2000)
    expect(scaled.workload.producers.map((p) => p.rate)).toEqual([{ kind: 'fixed', perSecond: 1000 }, { kind: 'fixed', perSecond: 1000 }])
    expect(scaled.workload.producers[0]!.keys).toEqual({ kind: 'zipf', count: 1000, exponent: 1.1 })
    expect(scaled.workload.producers[1]!.keys).toEqual({ kind: 'round-robin', count: 1000 })
    expect(scaled.checks.slo).toEqual([])
    expect(scaled.checks.delivery.lost).toBe(0)
    expect(scaled.faults).toEqual([])
    expect(notes).toEqual([
      'workload.duration 1m -> 20s',
      'workload.warmup 10s -> 2s',
      'workload.producers[0].rate 5000/s -> 1000/s',
      'workload.producers[0].keys: 10000 -> 1000 keys',
      'workload.producers[1].rate max -> 1000/s',
      'checks.slo: dropped produce.p99, throughput (explore checks delivery; --checks all keeps SLOs)',
    ])
  })

  it('with --checks all keeps the SLOs a scaled rate does not invalidate', () => {
    const { scaled } = prepareScenario(write('big-all.yaml', BIG), () => ({ ...scaleFor(), checks: 'all' }))
    expect(scaled.checks.slo.map((s) => s.key)).toEqual(['produce.p99'])
  })

  it('aims faults at every node and at partition leaders', () => {
    const { scaled } = prepareScenario(write('big-targets.yaml', BIG), scaleFor)
    expect(targetsOf(scaled)).toEqual([
      { kind: 'node', node: 1 },
      { kind: 'node', node: 2 },
      { kind: 'node', node: 3 },
      { kind: 'leaderOf', topic: 'orders', partition: 0 },
      { kind: 'leaderOf', topic: 'orders', partition: 1 },
      { kind: 'leaderOf', topic: 'orders', partition: 2 },
    ])
  })
})

describe('a candidate schedule as scenario text', () => {
  // Every kind explore can draw (not only those this machine's backend takes), and a nemesis's targets: all and
  // clients, which some kinds cannot take, random and minority.
  const NEMESIS = BIG.replace(/faults:\n.*\n/, 'nemesis: { kinds: [kill, pause], interval: 2s-4s, duration: 1s-3s, targets: [random, all, minority, { leaderOf: orders/1 }] }\n')
  for (const [name, text, targets] of [
    ['every kind', BIG, undefined],
    ['odd targets', NEMESIS, [{ kind: 'random' }, { kind: 'all' }, { kind: 'clients' }, { kind: 'minority' }, { kind: 'leaderOf', topic: 'orders', partition: 1 }]],
  ] as const)
  it(`reads back, through the schema, as the same faults and seed, and \`faultline validate\` accepts it (${name})`, async () => {
    const file = write(`rt-${name.replace(' ', '-')}.yaml`, text)
    const { scaled, doc, original } = prepareScenario(file, scaleFor)
    const base = spaceFor(scaled, { kinds: explorableKinds() }, original.nemesis)
    const space = targets === undefined ? base : { ...base, targets }
    let n = 0
    await fc.assert(
      fc.asyncProperty(scheduleArbitrary(space), fc.integer({ min: 0, max: 2 ** 32 - 1 }), async (faults, runSeed) => {
        const text = candidateText(doc, faults, runSeed, ' found by a test')
        const back = parseScenario(text, file)
        expect(back.faults).toEqual(faults)
        expect(back.seed).toBe(runSeed)
        expect({ ...back, faults: [], seed: undefined }).toEqual({ ...scaled, faults: [], seed: undefined })
        expect(text.startsWith('# found by a test\n\n# The original comment stays.\n')).toBe(true)
        if (n++ < 5) {
          const out = sink()
          const err = sink()
          expect(validateCommand(write(`rt-${name.replace(' ', '-')}-${n}.yaml`, text), { stdout: out, stderr: err }), err.text).toBe(0)
        }
      }),
      { seed, numRuns: 150 },
    )
  })
})

describe('the kinds explore draws', () => {
  const local = (text = BIG) => parseScenario(text, 'k.yaml')
  const DOCKER = BIG.replace('backend: local', 'backend: docker')
  const NO_IPTABLES = { PATH: '/nonexistent' }

  it('on the local backend: kill, pause, the network-quality kinds, and partitions exactly when preflight lets a partition run', async () => {
    const withPartition = local(BIG.replace(/faults:\n.*\n/, 'faults:\n  - { at: 20s, partition: { isolate: 1 }, heal: 5s }\n'))
    const seen: boolean[] = []
    for (const env of [process.env, NO_IPTABLES]) {
      const preflightPasses = await preflight(withPartition, env).then(() => true, () => false)
      const kinds = backendKinds(local(), env)
      expect(kinds.includes('partition'), `env PATH ${env.PATH}`).toBe(preflightPasses)
      expect(kinds.filter((k) => k !== 'partition')).toEqual(['kill', 'pause', 'latency', 'bandwidth', 'reset', 'timeout', 'down'])
      seen.push(preflightPasses)
    }
    expect(seen[1]).toBe(false)
    if (!seen[0]) console.log('this machine cannot partition (not root, or no iptables): the passing branch went untested')
  })

  it('on docker: partitions or network-quality faults, never both; asking for both is refused, saying why', () => {
    const docker = parseScenario(DOCKER, 'd.yaml')
    const kinds = backendKinds(docker)
    expect(kinds.slice(0, 2)).toEqual(['kill', 'pause'])
    expect(kinds.includes('partition') && kinds.some(isProxyKind)).toBe(false)
    expect(backendKinds(docker, NO_IPTABLES)).toEqual(['kill', 'pause', 'latency', 'bandwidth', 'reset', 'timeout', 'down'])
    const proxied = parseScenario(DOCKER.replace('backend: docker', 'backend: docker, proxies: true'), 'd.yaml')
    expect(backendKinds(proxied)).toEqual(['kill', 'pause', 'latency', 'bandwidth', 'reset', 'timeout', 'down'])
    expect(kindsProblem(docker, ['kill', 'partition', 'latency'])).toMatch(/^partition with latency: partitions on the docker backend cut traffic by container address, which the proxies .* hide; expected partitions or network-quality faults, not both/)
    expect(kindsProblem(proxied, ['partition'])).toMatch(/^partition with cluster\.proxies\/toxiproxy: /)
    expect(kindsProblem(docker, ['partition'], NO_IPTABLES)).toMatch(/^partition: partition faults need iptables and iptables-restore, which are not installed/)
    expect(kindsProblem(docker, ['kill', 'latency'])).toBeNull()
  })

  it('on an external cluster: kill and pause where every node has the commands, nothing else', () => {
    const ext = (commands: string) =>
      parseScenario(
        BIG.replace('cluster: { backend: local, brokers: 3 }', `cluster: { backend: external, bootstrap: [ "127.0.0.1:9" ], ${commands} }`).replace(/faults:\n.*\n/, '').replace(', replicationFactor: 3, config: { min.insync.replicas: 2 }', ''),
        'e.yaml',
      )
    expect(backendKinds(ext('nodes: [ { id: 1, address: "127.0.0.1:9" } ], commands: { kill: "k", restart: "r" }'))).toEqual(['kill'])
    const both = ext('nodes: [ { id: 1, address: "127.0.0.1:9" }, { id: 2, address: "127.0.0.2:9" } ], commands: { kill: "k", restart: "r", pause: "p", resume: "c" }')
    expect(backendKinds(both)).toEqual(['kill', 'pause'])
    expect(targetsOf(both).filter((t) => t.kind === 'node')).toEqual([{ kind: 'node', node: 1 }, { kind: 'node', node: 2 }])
    expect(backendKinds(ext('nodes: [ { id: 1, address: "127.0.0.1:9", commands: { kill: "k" } } ]'))).toEqual([])
    expect(kindsProblem(both, ['latency'])).toMatch(/^latency: latency faults need proxies in front of the brokers, which only the local and docker backends set up/)
    expect(kindsProblem(both, ['partition'])).toMatch(/^partition: partitions are iptables rules by broker address/)
  })

  it('a scenario with a nemesis: its kinds, targets and durations are the default space, and its own faults are not run', () => {
    const text = BIG.replace(/faults:\n.*\n/, 'nemesis: { kinds: [pause], interval: 2s-4s, duration: 3s-15s, targets: [random, { leaderOf: orders/1 }], from: 30s }\n')
    const { original, scaled, notes } = prepareScenario(write('nemesis.yaml', text), scaleFor)
    expect(scaled.nemesis).toBeNull()
    expect(notes).toContain("nemesis: replaced by explore's schedules, drawn from its kinds (pause), targets and durations")
    const space = spaceFor(scaled, {}, original.nemesis)
    expect(space.kinds).toEqual(['pause'])
    expect(space.targets).toEqual([{ kind: 'random' }, { kind: 'leaderOf', topic: 'orders', partition: 1 }])
    expect(space.duration).toEqual({ minMs: 3000, maxMs: 10_000 })
    expect(spaceFor(scaled, { kinds: ['kill'], duration: { minMs: 1000, maxMs: 2000 } }, original.nemesis)).toMatchObject({ kinds: ['kill'], duration: { minMs: 1000, maxMs: 2000 } })
    const shipped = prepareScenario('scenarios/random-nemesis.yaml', scaleFor)
    expect(spaceFor(shipped.scaled, {}, shipped.original.nemesis).kinds).toEqual(['kill', 'pause', 'partition', 'latency'])
  })

  it('kinds asked for that this machine cannot apply are refused before anything runs', async () => {
    const out = join(tmp, 'never-partition')
    const run = explore({
      file: write('ask-partition.yaml', BIG),
      runs: 1,
      seed: 1,
      outDir: out,
      scale: { ...DEFAULT_SCALE },
      space: { kinds: ['partition'] },
      shrinkRuns: 0,
      confirmRuns: 0,
      log: () => {},
      runOptions: { env: NO_IPTABLES },
    })
    await expect(run).rejects.toThrow(/ask-partition\.yaml: cannot explore --kinds partition: partition: partition faults need iptables and iptables-restore, which are not installed/)
    expect(existsSync(out)).toBe(false)
  })
})

describe('faultline explore refuses bad input with exit 2, running nothing', () => {
  const run = async (file: string, flags: Parameters<typeof exploreCommand>[1]) => {
    const stdout = sink()
    const stderr = sink()
    const code = await exploreCommand(file, flags, { stdout, stderr: stderr as unknown as NodeJS.WritableStream })
    return { code, stderr: stderr.text }
  }

  it('flags', async () => {
    const file = write('flags.yaml', BIG)
    const out = join(tmp, 'never')
    expect(await run(file, { runs: '0', out })).toEqual({ code: 2, stderr: 'faultline explore: --runs "0": expected an integer from 1 to 1000000\n' })
    expect((await run(file, { kinds: 'kill,nope', out })).stderr).toMatch(/--kinds "kill,nope": unknown kind nope; expected a comma-separated list of kill, pause, partition, latency, bandwidth, reset, timeout, down/)
    expect((await run(file, { faultDuration: '5s-1s', out })).stderr).toMatch(/--fault-duration "5s-1s": expected MIN-MAX, like 1s-5s/)
    expect((await run(file, { seed: 'x', checks: 'some', out })).stderr).toMatch(/--seed "x": .*\n.*--checks "some": expected delivery or all/)
    expect((await run(file, { kinds: 'slicer', out })).stderr).toMatch(/cannot explore --kinds slicer: no generator for slicer faults; expected one of kill, pause, partition, latency, bandwidth, reset, timeout, down/)
    const docker = await run(write('flags-docker.yaml', BIG.replace('backend: local', 'backend: docker')), { kinds: 'partition,reset', out })
    expect(docker.code).toBe(2)
    expect(docker.stderr).toMatch(/cannot explore --kinds partition,reset: partition with reset: partitions on the docker backend .*; expected partitions or network-quality faults, not both, on a docker cluster/)
  })

  it('an invalid scenario, named by file:line', async () => {
    const r = await run(write('invalid.yaml', BIG.replace('duration: 60s', 'duration: 60x')), { out: join(tmp, 'never') })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/invalid\.yaml:6:\d+: workload\.duration/)
    expect(r.stderr).toMatch(/is not a valid scenario/)
  })

  it('a cluster it cannot fault', async () => {
    const ext = BIG.replace('cluster: { backend: local, brokers: 3 }', 'cluster: { backend: external, bootstrap: [ "127.0.0.1:9" ] }').replace(/faults:\n.*\n/, '').replace(', replicationFactor: 3, config: { min.insync.replicas: 2 }', '')
    const r = await run(write('external.yaml', ext), { out: join(tmp, 'never') })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/cannot explore: no fault kinds to draw from \(an external cluster takes kill and pause faults through cluster\.nodes commands only\)/)
  })

  it('parses --kinds', () => {
    expect(parseKinds('kill, pause')).toEqual({ ok: true, kinds: ['kill', 'pause'] })
    expect(parseKinds('').ok).toBe(false)
  })
})

describe('the shipped explore scenarios', () => {
  it('name no faults (explore supplies them) and check for lost writes', () => {
    for (const f of ['scenarios/explore-acks1.yaml', 'scenarios/explore-unclean-election.yaml']) {
      const s = parseScenario(readFileSync(f, 'utf8'), f)
      expect(s.faults).toEqual([])
      expect(s.checks.delivery.lost).toBe(0)
    }
  })
})

describe('a scenario that pins its seed (as a counterexample does)', () => {
  const PINNED = `name: pinned\ncluster: { backend: local, brokers: 2 }\ntopics: [ { name: t } ]\nworkload: { duration: 5s, producers: { rate: 10/s } }\n` +
    `faults: [ { at: 1s, partition: { isolate: 1 }, heal: 1s } ]\nseed: 4242\n`

  it('is valid, and a seed out of range is refused naming the field', () => {
    expect(parseScenario(PINNED, 'p.yaml').seed).toBe(4242)
    expect(parseScenario(PINNED.replace('seed: 4242\n', ''), 'p.yaml').seed).toBeUndefined()
    expect(() => parseScenario(PINNED.replace('4242', '-1'), 'p.yaml')).toThrow(/p\.yaml:6:7: seed: got -1; expected a seed: an integer from 0 to 4294967295/)
  })

  // A latency fault on an external cluster is refused at preflight (exit 2, nothing run), after the seed line is printed.
  it('gives `faultline run` its seed unless --seed is given', async () => {
    const file = write('pinned.yaml', PINNED.replace('{ backend: local, brokers: 2 }', '{ backend: external, bootstrap: 127.0.0.1:9 }').replace('partition: { isolate: 1 }, heal: 1s', 'latency: { delay: 5ms }, duration: 1s'))
    const runWith = async (seedFlag?: string) => {
      const stderr = sink()
      const code = await runCommand(file, { seed: seedFlag, out: join(tmp, 'pinned-out') }, { stdout: sink(), stderr: stderr as unknown as NodeJS.WritableStream })
      return { code, stderr: stderr.text }
    }
    const pinned = await runWith()
    expect(pinned.code).toBe(2)
    expect(pinned.stderr).toMatch(/seed 4242 \(from the scenario file\)/)
    expect((await runWith('7')).stderr).toMatch(/seed 7; output in/)
  })
})
