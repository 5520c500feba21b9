// explore without brokers: the scaled-down scenario, candidate schedules written as scenario text that the
// schema reads back to the same faults (so what explore ran is what `faultline run` runs), and bad input.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { scheduleArbitrary } from '../../chaos/fault-space.ts'
import { validateCommand } from '../../scenarios/commands.ts'
import { exploreCommand } from '../../scenarios/explore-command.ts'
import { runCommand } from '../../scenarios/runner-command.ts'
import { candidateText, DEFAULT_SCALE, parseKinds, prepareScenario, spaceFor, targetsOf } from '../../scenarios/explore.ts'
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
  it('reads back, through the schema, as the same faults and seed, and `faultline validate` accepts it', async () => {
    const file = write('rt.yaml', BIG)
    const { scaled, doc } = prepareScenario(file, scaleFor)
    const space = spaceFor(scaled)
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
          expect(validateCommand(write(`rt-${n}.yaml`, text), { stdout: out, stderr: err }), err.text).toBe(0)
        }
      }),
      { seed, numRuns: 100 },
    )
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
    expect((await run(file, { kinds: 'kill,nope', out })).stderr).toMatch(/--kinds "kill,nope": unknown kind nope; expected a comma-separated list of kill, pause/)
    expect((await run(file, { faultDuration: '5s-1s', out })).stderr).toMatch(/--fault-duration "5s-1s": expected MIN-MAX, like 1s-5s/)
    expect((await run(file, { seed: 'x', checks: 'some', out })).stderr).toMatch(/--seed "x": .*\n.*--checks "some": expected delivery or all/)
    expect((await run(file, { kinds: 'partition', out })).stderr).toMatch(/cannot explore: no generator for partition faults; expected one of kill, pause/)
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
    expect(r.stderr).toMatch(/cannot explore: no fault kinds to draw from \(an external cluster takes no process faults\)/)
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
