// An axis value put into a scenario (scenarios/sweep.ts applyAxis), judged by the schema's cross-field rules.

import { describe, expect, it } from 'vitest'
import { parseScenario, ScenarioError } from '../../scenarios/schema.ts'
import { applyAxis, axisLabel, offeredRate, parseAxisValue } from '../../scenarios/sweep.ts'
import type { SweepAxis } from '../../reports/sweep.ts'

const TEXT = `name: two-groups
description: Two producer groups at 300/s and 100/s.
cluster: { backend: local, brokers: 1 }
topics:
  - { name: a, partitions: 2 }
  - { name: b, partitions: 3 }
workload:
  duration: 10s
  producers:
    - { name: big, topics: [a], rate: 300/s, messageSize: 100B }
    - { name: small, topics: [b], rate: 100/s, messageSize: 200B }
  consumers: { topics: [a, b], groups: 1 }
checks:
  slo: { produce.p99: 50ms }
`
const at = (axis: SweepAxis, v: number) => parseScenario(TEXT, 'two-groups.yaml', { adjust: (s) => applyAxis(s, axis, v) })

describe('sweep axes', () => {
  it('splits a rate as the scenario splits its own', () => {
    const s = at('rate', 8000)
    expect(s.workload.producers.map((p) => p.rate)).toEqual([{ kind: 'fixed', perSecond: 6000, unit: 'messages' }, { kind: 'fixed', perSecond: 2000, unit: 'messages' }])
    expect(offeredRate(s)).toBe(8000)
  })

  it('sets partitions of every topic, a fixed message size, producer clients and local workers', () => {
    expect(at('partitions', 6).topics.map((t) => t.partitions)).toEqual([6, 6])
    expect(at('messageSize', 2048).workload.producers.map((p) => p.messageSize)).toEqual([{ kind: 'fixed', bytes: 2048 }, { kind: 'fixed', bytes: 2048 }])
    expect(at('producers', 3).workload.producers.map((p) => p.count)).toEqual([3, 3])
    expect(at('workers', 2).workload.workers).toEqual({ kind: 'local', count: 2 })
  })

  it('is held to the schema\'s cross-field rules, naming the field', () => {
    const remote = TEXT.replace('  duration: 10s\n', '  duration: 10s\n  workers: [ "127.0.0.1:7070" ]\n')
    let err: unknown
    try {
      parseScenario(remote, 'remote.yaml', { adjust: (s) => applyAxis(s, 'workers', 2) })
    } catch (e) {
      err = e
    }
    expect(ScenarioError.is(err)).toBe(true)
    expect((err as ScenarioError).message).toMatch(/workload\.workers: the workers axis starts local load workers/)
  })

  it('reads --from and --to in the axis\'s units and writes them back', () => {
    expect(parseAxisValue('rate', '--from', '300/min')).toEqual({ ok: true, value: 5 })
    expect(parseAxisValue('messageSize', '--to', '1KiB')).toEqual({ ok: true, value: 1024 })
    expect(parseAxisValue('partitions', '--to', '1.5')).toMatchObject({ ok: false, message: expect.stringMatching(/^--to "1.5" is not a whole number/) })
    expect(axisLabel('messageSize', 1024)).toBe('1KiB')
    expect(axisLabel('rate', 2500)).toBe('2500/s')
  })
})
