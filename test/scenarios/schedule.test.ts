// Targets and schedules as a scenario file writes them: every/count, the nemesis, the new target kinds and the
// refusals that name the field; `faultline validate --seed` prints the expanded schedule.

import { describe, expect, it } from 'vitest'
import { describeSchedule, validateCommand } from '../../scenarios/commands.ts'
import { parseScenario, ScenarioError, scheduledFaults } from '../../scenarios/schema.ts'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const base = (extra: string, opts: { brokers?: number; duration?: string } = {}) => `
name: sched
cluster: { backend: local, brokers: ${opts.brokers ?? 3} }
topics: [ { name: orders, partitions: 3, replicationFactor: 3 } ]
workload:
  duration: ${opts.duration ?? '60s'}
  producers: { rate: 100/s }
  consumers: { name: readers }
${extra}
`

function problems(text: string): string[] {
  try {
    parseScenario(text, 'sched.yaml')
  } catch (err) {
    if (ScenarioError.is(err)) return err.problems.map((p) => `${p.path}: ${p.message}`)
    throw err
  }
  throw new Error('expected the scenario to be refused')
}

describe('targets', () => {
  it('parses every target kind', () => {
    const s = parseScenario(
      base(`faults:
  - { at: 1s, kill: controller, restartAfter: 1s }
  - { at: 3s, kill: { coordinatorOf: readers }, restartAfter: 1s }
  - { at: 5s, pause: minority, duration: 1s }
  - { at: 7s, pause: majority, duration: 1s }
  - { at: 9s, pause: { leaderOf: orders/2 }, duration: 1s }
  - { at: 11s, latency: { target: clients, delay: 10ms }, duration: 1s }`),
      'sched.yaml',
    )
    expect(s.faults.map((f) => ('target' in f ? f.target : null))).toEqual([
      { kind: 'controller' },
      { kind: 'coordinatorOf', group: 'readers' },
      { kind: 'minority' },
      { kind: 'majority' },
      { kind: 'leaderOf', topic: 'orders', partition: 2 },
      { kind: 'clients' },
    ])
  })

  it('refuses a process fault on clients, an unknown group and a minority of too few brokers, naming the field', () => {
    expect(problems(base(`faults: [ { at: 1s, kill: clients } ]`))).toEqual([
      expect.stringMatching(/^faults\[0\]\.kill: got clients with a kill fault; clients .* are a side for network faults only/),
    ])
    expect(problems(base(`faults: [ { at: 1s, pause: { coordinatorOf: reader }, duration: 1s } ]`))).toEqual([
      'faults[0].pause.coordinatorOf: names group "reader", which is not in workload.consumers (did you mean readers?); expected one of readers',
    ])
    expect(problems(base(`faults: [ { at: 1s, pause: minority, duration: 1s } ]`, { brokers: 2 }).replace('replicationFactor: 3', 'replicationFactor: 2'))).toEqual([
      expect.stringMatching(/^faults\[0\]\.pause: got minority with cluster\.brokers 2, which has no minority/),
    ])
    expect(problems(base(`faults: [ { at: 1s, pause: everyone, duration: 1s } ]`))[0]).toMatch(/^faults\[0\]\.pause: got "everyone"; expected a node id, controller, random, minority, majority, all, clients/)
  })
})

describe('every and count', () => {
  it('repeats a fault every period, count times, named <name>#k', () => {
    const s = parseScenario(base(`faults: [ { at: 10s, name: bounce, kill: random, restartAfter: 5s, every: 15s, count: 3 } ]`), 'sched.yaml')
    expect(s.faults.map((f) => [f.name, f.atMs])).toEqual([
      ['bounce#1', 10_000],
      ['bounce#2', 25_000],
      ['bounce#3', 40_000],
    ])
  })

  it('refuses repeats that overlap, run past the end, or lack their partner', () => {
    expect(problems(base(`faults: [ { at: 10s, kill: 1, restartAfter: 5s, every: 3s, count: 2 } ]`))).toEqual([
      expect.stringMatching(/^faults\[0\]\.every: got 3s, shorter than the fault lasts \(5s\), so its repeats would overlap/),
    ])
    expect(problems(base(`faults: [ { at: 10s, kill: 1, restartAfter: 5s, every: 20s, count: 4 } ]`))).toEqual([
      // #3 ends at 55s, inside the run; #4 does not.
      expect.stringMatching(/^faults\[0\]\.count: repeats kill-0#4 from 1m10s/),
    ])
    expect(problems(base(`faults: [ { at: 10s, kill: 1, every: 20s } ]`))).toEqual(['faults[0].every: is set without count; expected both, like { every: 30s, count: 3 }'])
  })
})

describe('nemesis', () => {
  const nemesis = `nemesis: { kinds: [kill, pause], interval: 5s-10s, duration: 2s-4s, targets: [random, controller], from: 10s }`

  it('parses ranges and defaults, and expands the same way for the same seed', () => {
    const s = parseScenario(base(nemesis), 'sched.yaml')
    expect(s.nemesis).toEqual({
      kinds: ['kill', 'pause'],
      interval: { minMs: 5000, maxMs: 10_000 },
      duration: { minMs: 2000, maxMs: 4000 },
      targets: [{ kind: 'random' }, { kind: 'controller' }],
      fromMs: 10_000,
      untilMs: null,
    })
    const a = scheduledFaults(s, 7)
    expect(a.length).toBeGreaterThanOrEqual(3)
    expect(scheduledFaults(s, 7)).toEqual(a)
    expect(scheduledFaults(s, 8)).not.toEqual(a)
    expect(a.every((f) => f.atMs >= 15_000)).toBe(true)
  })

  it('refuses kinds it does not know, bad ranges, a window too short and too many faults', () => {
    expect(problems(base(`nemesis: { kinds: [kil], interval: 5s, duration: 1s }`))[0]).toMatch(/^nemesis\.kinds(\[0\])?: got "kil" \(did you mean kill\?\); expected one of kill, pause, partition, latency, reset, timeout or down/)
    expect(problems(base(`nemesis: { kinds: [kill], interval: 9s-5s, duration: 1s }`))[0]).toMatch(/^nemesis\.interval: got "9s-5s" \(its upper bound is below its lower bound\)/)
    expect(problems(base(`nemesis: { kinds: [kill], interval: 40s, duration: 30s }`))[0]).toMatch(/^nemesis\.from: leaves 1m from 0s to 1m, less than the shortest interval plus the shortest duration \(1m10s\)/)
    expect(problems(base(`nemesis: { kinds: [kill], interval: 0s, duration: 1ms }`, { duration: '1h' }))[0]).toMatch(/^nemesis\.interval: .* could inject up to 3600000 faults/)
    expect(problems(base(`nemesis: { kinds: [pause], interval: 1s, duration: 1s, targets: clients }`))[0]).toMatch(/^nemesis\.targets(\[0\])?: got clients with a pause fault/)
    expect(problems(base(`nemesis: { kinds: [latency], interval: 1s, duration: 1s, targets: clients }`))[0]).toMatch(/^nemesis\.targets(\[0\])?: got clients with a latency fault, which acts in the proxies in front of brokers/)
    expect(problems(base(`nemesis: { kinds: [partition], interval: 1s, duration: 1s, targets: all }`))[0]).toMatch(/^nemesis\.targets(\[0\])?: got all with a partition: the nemesis isolates its target/)
    expect(parseScenario(base(`nemesis: { kinds: [partition, latency], interval: 1s, duration: 1s, targets: [random, minority] }`), 'sched.yaml').nemesis?.kinds).toEqual(['partition', 'latency'])
  })

  it('validate --seed prints the schedule a run with that seed applies', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-sched-'))
    const file = join(dir, 'n.yaml')
    writeFileSync(file, base(nemesis))
    const out = { stdout: '', stderr: '' }
    const io = { stdout: { write: (c: string) => (out.stdout += c) }, stderr: { write: (c: string) => (out.stderr += c) } }
    expect(validateCommand(file, io, { seed: '42' })).toBe(0)
    const lines = describeSchedule(scheduledFaults(parseScenario(base(nemesis), file), 42))
    expect(out.stdout).toContain(`fault schedule with seed 42:\n${lines.map((l) => `  ${l}\n`).join('')}`)
    expect(lines[0]).toMatch(/^[\dms]+-[\dms]+ nemesis-1: (kill|pause) (random|controller)$/)
    expect(validateCommand(file, io, { seed: 'x' })).toBe(2)
    expect(out.stderr).toMatch(/--seed "x": expected an integer/)
  })
})

describe('the recovery SLO', () => {
  it('needs faults to judge', () => {
    expect(problems(base(`checks: { slo: { recovery: 10s } }`))).toEqual([
      'checks.slo.recovery: judges how fast throughput recovers after each fault, and the scenario has none; expected faults or a nemesis',
    ])
    const s = parseScenario(base(`faults: [ { at: 10s, kill: 1, restartAfter: 5s } ]\nchecks: { slo: { recovery: 10s, unavailability: 5s } }`), 'sched.yaml')
    expect(s.checks.slo).toEqual([
      { key: 'recovery', kind: 'recovery', maxMs: 10_000 },
      { key: 'unavailability', kind: 'unavailability', maxMs: 5000 },
    ])
  })
})
