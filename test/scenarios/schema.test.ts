// The scenario schema: the catalog validates, defaults are filled, problems name file, line, column and
// path, cross-field rules hold, and the JSON Schema for editors agrees with the validator.
//
// The JSON Schema is checked with the small draft-07 checker below (the keywords zod emits, and an error for
// any other keyword, so a schema change cannot slip past it unchecked).

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isMap, isScalar, isSeq, parse as parseYaml, parseDocument, type Document } from 'yaml'
import { faultEndMs } from '../../chaos/faults.ts'
import { anomalyKinds } from '../../reports/checker.ts'
import { anomalyMeaning } from '../../reports/describe.ts'
import { describeSchedule, schemaCommand, summarize, validateCommand } from '../../scenarios/commands.ts'
import {
  closest,
  formatProblem,
  loadScenario,
  parseScenario,
  type Scenario,
  ScenarioError,
  scenarioJsonSchema,
  scheduledFaults,
} from '../../scenarios/schema.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`schema.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

const CATALOG_DIR = 'scenarios'
const catalog = readdirSync(CATALOG_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(CATALOG_DIR, f))

function capture() {
  const out = { stdout: '', stderr: '' }
  return {
    out,
    io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } },
  }
}

function problemsOf(text: string, file = 'test.yaml'): ScenarioError {
  try {
    parseScenario(text, file)
  } catch (err) {
    if (ScenarioError.is(err)) return err
    throw err
  }
  throw new Error('expected a ScenarioError, but the scenario is valid')
}

function undefinedPaths(value: unknown, path = ''): string[] {
  if (value === undefined) return [path]
  if (value === null || typeof value !== 'object') return []
  return Object.entries(value).flatMap(([k, v]) => undefinedPaths(v, `${path}.${k}`))
}

const MINIMAL = `
name: minimal
topics: [ { name: events } ]
workload: { duration: 10s, producers: { rate: 100/s } }
`

describe('the catalog', () => {
  it('has the scenarios the README and the issue name', () => {
    for (const name of ['quickstart', 'leader-kill', 'max-throughput', 'backlog-drain', 'latency-fault']) {
      expect(catalog).toContain(join(CATALOG_DIR, `${name}.yaml`))
    }
  })

  it.each(catalog)('%s validates, with no undefined left anywhere', (file) => {
    const s = loadScenario(file)
    expect(undefinedPaths(s)).toEqual([])
    const { out, io } = capture()
    expect(validateCommand(file, io)).toBe(0)
    expect(out.stderr).toBe('')
    const schedule = describeSchedule(scheduledFaults(s, 1)).map((l) => `  ${l}\n`)
    expect(out.stdout).toBe(`ok ${file}: ${summarize(s)}\n${schedule.length === 0 ? '' : `fault schedule${s.nemesis === null ? '' : ' with seed 1 (--seed S shows the nemesis of a run with --seed S)'}:\n${schedule.join('')}`}`)
  })

  it('quickstart stays short: one local broker, under a minute of load', () => {
    const s = loadScenario(join(CATALOG_DIR, 'quickstart.yaml'))
    expect(s.cluster).toEqual({ backend: 'local', brokers: 1, config: {} })
    expect(s.workload.durationMs).toBeLessThanOrEqual(30_000)
    expect(s.faults).toEqual([])
  })

  it('leader-kill.yaml parses to its documented shape', () => {
    const s = loadScenario(join(CATALOG_DIR, 'leader-kill.yaml'))
    expect(s.faults).toEqual([
      { name: 'kill-0', kind: 'kill', atMs: 20_000, target: { kind: 'leaderOf', topic: 'orders', partition: 0 }, restartAfterMs: 10_000 },
      { name: 'partition-1', kind: 'partition', atMs: 35_000, split: { kind: 'isolate', target: { kind: 'controller' } }, healAfterMs: 10_000 },
    ])
    expect(s.workload.producers[0]!.keys).toEqual({ kind: 'zipf', count: 10_000, exponent: 1.1 })
    expect(s.checks.slo).toEqual([
      { key: 'produce.p50', kind: 'latency', metric: 'produce', stat: 'p50', quantile: 0.5, maxMs: 5000 },
      { key: 'throughput', kind: 'throughput', min: { unit: 'messages', perSecond: 300 } },
      { key: 'unavailability', kind: 'unavailability', maxMs: 10_000 },
    ])
  })
})

describe('defaults', () => {
  it('fills every default of a minimal scenario', () => {
    const s = parseScenario(MINIMAL, 'minimal.yaml')
    const expected: Scenario = {
      name: 'minimal',
      description: '',
      cluster: { backend: 'local', brokers: 1, config: {} },
      topics: [{ name: 'events', partitions: 1, replicationFactor: 1, config: {} }],
      workload: {
        driver: 'platformatic',
        durationMs: 10_000,
        warmupMs: 0,
        producers: [
          {
            name: 'producer-0',
            topics: ['events'],
            count: 1,
            rate: { kind: 'fixed', perSecond: 100 },
            messageSize: { kind: 'fixed', bytes: 1024 },
            keys: { kind: 'none' },
            randomness: 1,
            acks: -1,
            idempotent: true,
            compression: 'none',
            batchBytes: 16_384,
            lingerMs: 5,
            maxInFlight: 5,
            deliveryTimeoutMs: 120_000,
          },
        ],
        consumers: [],
        backlog: null,
      },
      faults: [],
      nemesis: null,
      checks: {
        delivery: { lost: null, unseen: null, duplicates: null, inconsistentOffsets: null, reordered: null, pollSkips: null, pollRewinds: null, failedWritesRead: null, rereads: null },
        slo: [],
        regression: {},
      },
    }
    expect(s).toEqual(expected)
  })

  it('idempotence follows Kafka: on for acks=all with at most 5 in flight, off otherwise', () => {
    const with_ = (producer: string) => parseScenario(`name: x\ntopics: [ { name: t } ]\nworkload: { duration: 10s, producers: ${producer} }\n`, 'x.yaml')
    expect(with_('{ rate: 1/s }').workload.producers[0]!.idempotent).toBe(true)
    expect(with_('{ rate: 1/s, acks: 1 }').workload.producers[0]!.idempotent).toBe(false)
    expect(with_('{ rate: 1/s, acks: -1 }').workload.producers[0]!.acks).toBe(-1)
    expect(with_('{ rate: 1/s, acks: 0 }').workload.producers[0]!.acks).toBe(0)
    expect(with_('{ rate: 1/s, maxInFlight: 10 }').workload.producers[0]!.idempotent).toBe(false)
    expect(with_('{ rate: 1/s, acks: 1, idempotent: false }').workload.producers[0]!.idempotent).toBe(false)
  })

  it('a single producer or consumer group is the same as a list of one', () => {
    const one = parseScenario(`name: x\ntopics: [ { name: t } ]\nworkload: { duration: 10s, producers: { rate: 1/s }, consumers: { groups: 2 } }\n`, 'x.yaml')
    const list = parseScenario(`name: x\ntopics: [ { name: t } ]\nworkload: { duration: 10s, producers: [ { rate: 1/s } ], consumers: [ { groups: 2 } ] }\n`, 'x.yaml')
    expect(one).toEqual(list)
  })

  it('names and topics of groups and faults default from their position and the topics list', () => {
    const s = parseScenario(
      `name: x
cluster: { backend: local, brokers: 2 }
topics: [ { name: a }, { name: b } ]
workload:
  duration: 1m
  producers: [ { rate: 1/s }, { name: keyed, rate: 2/s, topics: b } ]
faults: [ { at: 1s, pause: random, duration: 1s }, { name: slow, at: 2s, latency: { delay: 5ms }, duration: 1s } ]
`,
      'x.yaml',
    )
    expect(s.workload.producers.map((p) => [p.name, p.topics])).toEqual([['producer-0', ['a', 'b']], ['keyed', ['b']]])
    expect(s.faults.map((f) => f.name)).toEqual(['pause-0', 'slow'])
    expect(s.faults[1]).toEqual({ name: 'slow', kind: 'latency', atMs: 2000, target: { kind: 'all' }, delayMs: 5, jitterMs: 0, direction: 'both', durationMs: 1000 })
  })

  it('an external cluster: bootstrap list, env secrets, TLS paths relative to the file', () => {
    const s = parseScenario(
      `name: x
cluster:
  backend: external
  bootstrap: kafka-1.example.com:9093
  sasl: { mechanism: SCRAM-SHA-512, username: bench, password: { env: KAFKA_PASSWORD } }
  tls: { ca: certs/ca.pem, cert: /etc/client.pem, key: /etc/client.key }
topics: [ { name: t, config: { retention.ms: 60000, some.vendor.setting: on } } ]
workload: { duration: 10s, producers: { rate: 1/s } }
faults: [ { at: 1s, latency: { target: 1, delay: 50ms }, duration: 2s } ]
`,
      '/work/scenarios/prod.yaml',
    )
    expect(s.cluster).toEqual({
      backend: 'external',
      bootstrap: ['kafka-1.example.com:9093'],
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'bench', password: { from: 'env', name: 'KAFKA_PASSWORD' } },
      tls: { ca: '/work/scenarios/certs/ca.pem', cert: '/etc/client.pem', key: '/etc/client.key', servername: null, rejectUnauthorized: true },
      nodes: [],
      commandTimeoutMs: 30_000,
    })
    // Only the local backend's configs are known; an external cluster may take any.
    expect(s.topics[0]!.config).toEqual({ 'retention.ms': '60000', 'some.vendor.setting': 'on' })
  })

  it('size and key distributions, SLO kinds and backlog normalize', () => {
    const s = parseScenario(
      `name: x
topics: [ { name: t } ]
workload:
  duration: 2m
  producers:
    - { rate: 10/s, messageSize: { uniform: { min: 100B, max: 1KiB } }, keys: { distribution: round-robin, count: 7 } }
    - { rate: max, messageSize: { weighted: [ { size: 1KB, weight: 3 }, { size: 2KB, weight: 1 } ] }, keys: zipf }
  consumers: { groups: 1 }
  backlog: { size: 1KiB, drain: 90% }
checks:
  delivery: { lost: 0, duplicates: any, rereads: 3 }
  slo: { e2e.p99.99: 1s, produce.mean: 2ms, produce.max: 1s, errors: 0.5%, drainRate: 1MiB/s, sendDelay.p95: 5ms }
`,
      'x.yaml',
    )
    const [a, b] = s.workload.producers
    expect(a!.messageSize).toEqual({ kind: 'uniform', min: 100, max: 1024 })
    expect(a!.keys).toEqual({ kind: 'round-robin', count: 7 })
    expect(b!.rate).toEqual({ kind: 'max' })
    expect(b!.messageSize).toEqual({ kind: 'weighted', choices: [{ bytes: 1000, weight: 3 }, { bytes: 2000, weight: 1 }] })
    expect(b!.keys).toEqual({ kind: 'zipf', count: 1000, exponent: 1 })
    expect(s.workload.backlog).toEqual({ bytes: 1024, drainFraction: 0.9 })
    expect(s.checks.delivery.lost).toBe(0)
    expect(s.checks.delivery.duplicates).toBe(null)
    expect(s.checks.delivery.rereads).toBe(3)
    expect(s.checks.slo).toEqual([
      { key: 'e2e.p99.99', kind: 'latency', metric: 'e2e', stat: 'p99.99', quantile: 0.9999, maxMs: 1000 },
      { key: 'produce.mean', kind: 'latency', metric: 'produce', stat: 'mean', quantile: null, maxMs: 2 },
      { key: 'produce.max', kind: 'latency', metric: 'produce', stat: 'max', quantile: 1, maxMs: 1000 },
      { key: 'errors', kind: 'errors', max: { unit: 'fraction', value: 0.005 } },
      { key: 'drainRate', kind: 'drainRate', min: { unit: 'bytes', perSecond: 1024 ** 2 } },
      { key: 'sendDelay.p95', kind: 'latency', metric: 'sendDelay', stat: 'p95', quantile: 0.95, maxMs: 5 },
    ])
  })

  it('describes every SLO for editors, the error share exactly', () => {
    const slo = (scenarioJsonSchema() as { properties: { checks: { properties: { slo: { properties: Record<string, { description: string }> } } } } }).properties.checks.properties.slo.properties
    for (const [key, p] of Object.entries(slo)) expect(p.description, key).toMatch(/^The /)
    expect(slo.errors!.description).toMatch(/share \(0\.1%\) of the sends made in the measured window/)
    expect(slo.errors!.description).toMatch(/delivery timeouts included/)
    expect(slo['sendDelay.p95']!.description).toBe('The highest allowed p95 (95% of samples at or below it) of send delay, how late a send left against the open-loop schedule (the load generator falling behind), in the measured window.')
    expect(slo['produce.mean']!.description).toMatch(/^The highest allowed mean of produce latency/)
  })

  it('faultEndMs gives where each fault ends', () => {
    const s = parseScenario(
      `name: x
cluster: { backend: local, brokers: 3 }
topics: [ { name: t } ]
workload: { duration: 1m, producers: { rate: 1/s } }
faults:
  - { at: 1s, kill: 1 }
  - { at: 1s, kill: 2, restartAfter: 2s }
  - { at: 1s, partition: { groups: [[1], [2, 3]] }, heal: 3s }
  - { at: 1s, bandwidth: { rate: 1MiB/s, direction: upstream }, duration: 4s }
`,
      'x.yaml',
    )
    expect(s.faults.map(faultEndMs)).toEqual([null, 3000, 4000, 5000])
    expect(s.faults[3]).toMatchObject({ kind: 'bandwidth', bytesPerSecond: 1024 ** 2, direction: 'upstream', target: { kind: 'all' } })
  })
})

describe('network-quality faults (through the proxies)', () => {
  it('parse into their Fault types with defaults, toxicity as a fraction, and cluster.toxiproxy / proxies', () => {
    const s = parseScenario(
      `name: n
cluster: { backend: local, brokers: 3, toxiproxy: 'http://127.0.0.1:8474', proxies: true }
topics: [ { name: t } ]
workload: { duration: 1m, producers: { rate: 1/s } }
faults:
  - { at: 1s, reset: { target: 1, toxicity: 30% }, duration: 2s }
  - { at: 1s, timeout: { target: all, after: 2s, direction: upstream }, duration: 3s }
  - { at: 1s, slowClose: { delay: 500ms }, duration: 4s }
  - { at: 1s, slicer: { averageSize: 64B, sizeVariation: 8B, delay: 2ms }, duration: 5s }
  - { at: 1s, limitData: { target: 2, bytes: 1KiB }, duration: 6s }
  - { name: gone, at: 1s, down: { target: 3 }, duration: 7s }
  - { at: 1s, latency: { delay: 5ms, toxicity: 50% }, duration: 8s }
`,
      'n.yaml',
    )
    expect(s.cluster).toMatchObject({ backend: 'local', toxiproxy: 'http://127.0.0.1:8474', proxies: true })
    expect(s.faults).toEqual([
      { name: 'reset-0', kind: 'reset', atMs: 1000, durationMs: 2000, target: { kind: 'node', node: 1 }, direction: 'both', afterMs: 0, toxicity: 0.3 },
      { name: 'timeout-1', kind: 'timeout', atMs: 1000, durationMs: 3000, target: { kind: 'all' }, direction: 'upstream', afterMs: 2000 },
      { name: 'slowClose-2', kind: 'slowClose', atMs: 1000, durationMs: 4000, target: { kind: 'all' }, direction: 'both', delayMs: 500 },
      { name: 'slicer-3', kind: 'slicer', atMs: 1000, durationMs: 5000, target: { kind: 'all' }, direction: 'both', averageBytes: 64, variationBytes: 8, delayUs: 2000 },
      { name: 'limitData-4', kind: 'limitData', atMs: 1000, durationMs: 6000, target: { kind: 'node', node: 2 }, direction: 'both', bytes: 1024 },
      { name: 'gone', kind: 'down', atMs: 1000, durationMs: 7000, target: { kind: 'node', node: 3 }, direction: 'both' },
      { name: 'latency-6', kind: 'latency', atMs: 1000, durationMs: 8000, target: { kind: 'all' }, direction: 'both', delayMs: 5, jitterMs: 0, toxicity: 0.5 },
    ])
    expect(s.faults.map(faultEndMs)).toEqual([3000, 4000, 5000, 6000, 7000, 8000, 9000])
  })

  it('name the field of a bad one', () => {
    const err = problemsOf(`name: n
cluster: { backend: local, brokers: 3 }
topics: [ { name: t } ]
workload: { duration: 1m, producers: { rate: 1/s } }
faults:
  - { at: 1s, slicer: { delay: 1ms }, duration: 2s }
  - { at: 1s, down: { target: 1 } }
  - { at: 1s, limitData: { bytes: 1KiB, toxicity: 2 }, duration: 2s }
`)
    const text = err.problems.map(formatProblem).join('\n')
    expect(text).toMatch(/faults\[0\]\.slicer\.averageSize: missing/)
    expect(text).toMatch(/faults\[1\]\.duration: missing; expected how long the down lasts/)
    expect(text).toMatch(/faults\[2\]\.limitData\.toxicity: got 2/)
    const target = problemsOf('name: n\ncluster: { backend: local, brokers: 3 }\ntopics: [ { name: t } ]\nworkload: { duration: 1m, producers: { rate: 1/s } }\nfaults: [ { at: 1s, reset: { target: 9 }, duration: 2s } ]\n')
    expect(target.problems.map(formatProblem).join('\n')).toMatch(/faults\[0\]\.reset\.target: names node 9/)
  })
})

describe('problems', () => {
  it('name the file, line, column and path, each with what is expected, sorted by position', () => {
    const err = problemsOf(
      `name: x
topics: [ { name: t, partitions: 0 } ]
workload:
  duration: 10
  producers: { rate: 5000/s, acks: two }
faults:
  - { at: 1s, kil: 1 }
`,
      'dir/bad.yaml',
    )
    expect(err.code).toBe('ERR_SCENARIO')
    expect(err.file).toBe('dir/bad.yaml')
    expect(err.problems.map((p) => [p.line, p.column, p.path])).toEqual([
      [2, 34, 'topics[0].partitions'],
      [4, 13, 'workload.duration'],
      [5, 36, 'workload.producers.acks'],
      [7, 5, 'faults[0]'],
      [7, 15, 'faults[0].kil'],
    ])
    for (const p of err.problems) expect(p.message).toMatch(/; expected ./)
    expect(err.message).toBe(err.problems.map(formatProblem).join('\n'))
    expect(err.message.split('\n')[0]).toBe('dir/bad.yaml:2:34: topics[0].partitions: got 0; expected an integer from 1 to 100000')
    expect(err.problems[4]!.message).toContain('did you mean kill?')
  })

  it('checks.regression takes percentages per compared metric and names a bad key or value', () => {
    const ok = parseScenario(`${MINIMAL}checks:\n  regression: { throughput: 5%, produce.p99: 12.5% }\n`, 'r.yaml')
    expect(ok.checks.regression).toEqual({ throughput: 0.05, 'produce.p99': 0.125 })
    const err = problemsOf(`${MINIMAL}checks:\n  regression: { thruput: 5%, e2e.p99: 10 }\n`)
    expect(err.problems.map((p) => p.path)).toEqual(['checks.regression.thruput', 'checks.regression["e2e.p99"]'])
    expect(err.problems[0]!.message).toMatch(/unknown regression metric \(did you mean throughput\?\); expected throughput, /)
    expect(err.problems[1]!.message).toMatch(/^got 10 \(has no %; write 10%\); expected .*a percentage like 5%/)
  })

  it('cross-field problems point at the field at fault', () => {
    const err = problemsOf(`name: x
cluster: { backend: local, brokers: 2 }
topics:
  - { name: t, partitions: 2, replicationFactor: 3 }
workload:
  duration: 30s
  warmup: 30s
  producers: { rate: 1/s }
faults:
  - { at: 40s, kill: { leaderOf: t/2 } }
  - { at: 1s, partition: { groups: [[1], [1, 3]] }, heal: 40s }
`)
    expect(err.problems.map((p) => `${p.line}:${p.column} ${p.path}`)).toEqual([
      '4:50 topics[0].replicationFactor',
      '7:11 workload.warmup',
      '10:11 faults[0].at',
      '10:34 faults[0].kill.leaderOf',
      // Node 2 is in no group: the problem is the whole list.
      '11:36 faults[1].partition.groups',
      '11:43 faults[1].partition.groups[1][0]',
      '11:46 faults[1].partition.groups[1][1]',
      '11:59 faults[1].heal',
    ])
  })

  it('partitions of every shape parse into their splits; isolate and groups as before', () => {
    const s = parseScenario(
      `name: x
cluster: { backend: local, brokers: 3 }
topics: [ { name: t } ]
workload: { duration: 1m, producers: { rate: 1/s } }
faults:
  - { at: 1s, partition: { isolate: 1 }, heal: 1s }
  - { at: 1s, partition: { groups: [[1], [2, 3, clients]] }, heal: 1s }
  - { at: 1s, partition: { isolate: clients }, heal: 1s }
  - { at: 1s, partition: { halves: random, clients: majority }, heal: 1s }
  - { at: 1s, partition: { halves: random }, heal: 1s }
  - { at: 1s, partition: { bridge: random }, heal: 1s }
  - { at: 1s, partition: { cut: { from: { leaderOf: t/0 }, to: [2, 3] } }, heal: 1s }
  - { at: 1s, partition: { cut: { from: clients, to: controller } }, heal: 1s }
`,
      'x.yaml',
    )
    expect(s.faults.map((f) => (f.kind === 'partition' ? f.split : null))).toEqual([
      { kind: 'isolate', target: { kind: 'node', node: 1 } },
      { kind: 'groups', groups: [[1], [2, 3, 'clients']] },
      { kind: 'clients' },
      { kind: 'halves', clients: 'majority' },
      { kind: 'halves', clients: 'both' },
      { kind: 'bridge', bridge: { kind: 'random' } },
      { kind: 'cut', from: { kind: 'leaderOf', topic: 't', partition: 0 }, to: { kind: 'nodes', nodes: [2, 3] } },
      { kind: 'cut', from: { kind: 'clients' }, to: { kind: 'controller' } },
    ])
  })

  it('partition problems name the field', () => {
    const err = problemsOf(`name: x
cluster: { backend: local, brokers: 3 }
topics: [ { name: t } ]
workload: { duration: 1m, producers: { rate: 1/s } }
faults:
  - { at: 1s, partition: { isolate: 1, bridge: 2 }, heal: 1s }
  - { at: 1s, partition: { cut: { from: 1, to: clients } }, heal: 1s }
  - { at: 1s, partition: { bridge: 2, clients: majority }, heal: 1s }
`)
    expect(err.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'faults[0].partition: has isolate and bridge; expected exactly one of isolate, groups, halves, bridge or cut',
      'faults[1].partition.cut.to: got clients, which accept no connections; expected brokers to cut off from `from`',
      'faults[2].partition.clients: applies to halves only; expected clients as a member of a group in groups, or isolate: clients',
    ])
    // Checked against the cluster once the structure is right.
    const cross = problemsOf(`name: x
cluster: { backend: local, brokers: 3 }
topics: [ { name: t } ]
workload: { duration: 1m, producers: { rate: 1/s } }
faults:
  - { at: 1s, partition: { groups: [[1, clients], [2, 3, clients]] }, heal: 1s }
  - { at: 1s, partition: { cut: { from: [4], to: 1 } }, heal: 1s }
`)
    expect(cross.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'faults[0].partition.groups[1][2]: names clients again (also in group 0); expected every node in exactly one group',
      'faults[1].partition.cut.from[0]: names node 4, which does not exist; expected a node id from 1 to 3 (cluster.brokers)',
    ])
  })

  it('a fault may end exactly when the run ends, not after', () => {
    const text = (heal: string) => `name: x
cluster: { backend: local, brokers: 2 }
topics: [ { name: t } ]
workload: { duration: 30s, producers: { rate: 1/s } }
faults: [ { at: 10s, partition: { isolate: 1 }, heal: ${heal} } ]
`
    expect(parseScenario(text('20s'), 'x.yaml').faults).toHaveLength(1)
    expect(problemsOf(text('20001ms')).problems.map((p) => p.path)).toEqual(['faults[0].heal'])
  })

  it('loadScenario on a missing file is a ScenarioError with the cause', () => {
    let caught: unknown
    try {
      loadScenario('no/such/scenario.yaml')
    } catch (err) {
      caught = err
    }
    expect(ScenarioError.is(caught)).toBe(true)
    const err = caught as ScenarioError
    expect(err.code).toBe('ERR_SCENARIO')
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT')
    expect(err.message).toBe('no/such/scenario.yaml: (file): cannot read it (no such file); expected a scenario YAML file, like scenarios/quickstart.yaml')
    expect(ScenarioError.is(new Error('x'))).toBe(false)
  })

  it('validateCommand exits 2 and prints every problem and a count', () => {
    const { out, io } = capture()
    expect(validateCommand('no/such/scenario.yaml', io)).toBe(2)
    expect(out.stdout).toBe('')
    expect(out.stderr).toContain('no/such/scenario.yaml: (file): cannot read it')
    expect(out.stderr).toContain('no/such/scenario.yaml: 1 problem; nothing was run')
  })

  it('did-you-mean finds typos, transpositions and other spellings, and nothing far away', () => {
    expect(closest('rtae', ['rate', 'count'])).toBe('rate')
    expect(closest('replication_factor', ['replicationFactor', 'partitions'])).toBe('replicationFactor')
    expect(closest('membersPerGroups', ['groups', 'membersPerGroup'])).toBe('membersPerGroup')
    expect(closest('banana', ['rate', 'count'])).toBe(undefined)
  })

  // Walks every mapping (and every scalar) of a catalog file, so the property can pick one.
  function nodes(doc: Document): { maps: (string | number)[][]; scalars: (string | number)[][] } {
    const maps: (string | number)[][] = []
    const scalars: (string | number)[][] = []
    const walk = (node: unknown, path: (string | number)[]) => {
      if (isMap(node)) {
        maps.push(path)
        for (const pair of node.items) walk(pair.value, [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)])
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => walk(item, [...path, i]))
      } else if (isScalar(node)) {
        scalars.push(path)
      }
    }
    walk(doc.contents, [])
    return { maps, scalars }
  }

  const catalogDocs = catalog.map((file) => {
    const doc = parseDocument(readFileSync(file, 'utf8'))
    return { file, doc, ...nodes(doc) }
  })
  const pathText = (path: readonly (string | number)[]) =>
    path.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z_]\w*$/.test(seg) ? `${i === 0 ? '' : '.'}${seg}` : `["${seg}"]`)).join('')

  it('an unknown key added to any mapping of any catalog file is reported at that key, by path', () => {
    const cases = catalogDocs.flatMap((c) => c.maps.map((path) => ({ ...c, path })))
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.constantFrom('zzUnknown', 'colour', 'x_1'), ({ file, doc, path }, key) => {
        const copy = doc.clone()
        const map = path.length === 0 ? copy.contents : copy.getIn(path, true)
        if (!isMap(map)) throw new Error(`not a map at ${pathText(path)}`)
        map.set(key, 1)
        const text = copy.toString()
        const err = problemsOf(text, file)
        const fullPath = pathText([...path, key]).replace(/^\./, '')
        const hit = err.problems.find((p) => p.path === fullPath)
        expect(hit, `${err.message}\n--- want ${fullPath}`).toBeDefined()
        const lineText = text.split('\n')[hit!.line! - 1]!
        expect(lineText.slice(hit!.column! - 1)).toMatch(new RegExp(`^${key}\\b`))
      }),
      { seed },
    )
  })

  it('a mapping put where any catalog scalar was is reported at or below that path', () => {
    const cases = catalogDocs.flatMap((c) => c.scalars.map((path) => ({ ...c, path })))
    fc.assert(
      fc.property(fc.constantFrom(...cases), ({ file, doc, path }) => {
        const copy = doc.clone()
        copy.setIn(path, copy.createNode({ zz: [1] }))
        const err = problemsOf(copy.toString(), file)
        // One-or-many fields read as the file is written: producers[0] is producers when it is a mapping.
        const want = pathText(path)
        expect(err.problems.some((p) => p.path.startsWith(want)), `${err.message}\n--- want ${want}`).toBe(true)
      }),
      { seed },
    )
  })
})

// ---------------------------------------------------------------------------------------------------------
// A draft-07 checker for the keywords the scenario schema uses; returns the first violation or null.

type JsonSchema = Record<string, unknown>
const ANNOTATIONS = new Set(['$schema', 'title', 'description', 'default', 'examples'])

function check(schema: JsonSchema, value: unknown, at = '$'): string | null {
  for (const [keyword, arg] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue
    const fail = (what: string) => `${at}: ${what}`
    switch (keyword) {
      case 'type': {
        const types = Array.isArray(arg) ? (arg as string[]) : [arg as string]
        const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
        const ok = types.some((t) => t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && actual === 'number'))
        if (!ok) return fail(`type ${actual} is not ${types.join('|')}`)
        break
      }
      case 'enum':
        if (!(arg as unknown[]).includes(value)) return fail(`${JSON.stringify(value)} not in enum`)
        break
      case 'const':
        if (value !== arg) return fail(`${JSON.stringify(value)} is not ${JSON.stringify(arg)}`)
        break
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(arg as string, 'u').test(value)) return fail(`${JSON.stringify(value)} does not match ${String(arg)}`)
        break
      case 'minLength':
        if (typeof value === 'string' && [...value].length < (arg as number)) return fail('too short')
        break
      case 'minimum':
        if (typeof value === 'number' && value < (arg as number)) return fail(`${value} < ${String(arg)}`)
        break
      case 'maximum':
        if (typeof value === 'number' && value > (arg as number)) return fail(`${value} > ${String(arg)}`)
        break
      case 'exclusiveMinimum':
        if (typeof value === 'number' && value <= (arg as number)) return fail(`${value} <= ${String(arg)}`)
        break
      case 'minItems':
        if (Array.isArray(value) && value.length < (arg as number)) return fail('too few items')
        break
      case 'items':
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const r = check(arg as JsonSchema, value[i], `${at}[${i}]`)
            if (r !== null) return r
          }
        }
        break
      case 'required':
        if (isObject(value)) for (const k of arg as string[]) if (!(k in value)) return fail(`missing ${k}`)
        break
      case 'properties':
        if (isObject(value)) {
          for (const [k, s] of Object.entries(arg as Record<string, JsonSchema>)) {
            if (k in value) {
              const r = check(s, value[k], `${at}.${k}`)
              if (r !== null) return r
            }
          }
        }
        break
      case 'additionalProperties':
        if (isObject(value)) {
          const declared = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {})
          for (const [k, v] of Object.entries(value)) {
            if (declared.includes(k)) continue
            if (arg === false) return fail(`unexpected key ${k}`)
            if (typeof arg === 'object') {
              const r = check(arg as JsonSchema, v, `${at}.${k}`)
              if (r !== null) return r
            }
          }
        }
        break
      case 'propertyNames':
        if (isObject(value)) {
          for (const k of Object.keys(value)) {
            const r = check(arg as JsonSchema, k, `${at}[key ${k}]`)
            if (r !== null) return r
          }
        }
        break
      case 'anyOf':
        if (!(arg as JsonSchema[]).some((s) => check(s, value, at) === null)) return fail('matches no anyOf branch')
        break
      case 'oneOf': {
        const matches = (arg as JsonSchema[]).filter((s) => check(s, value, at) === null).length
        if (matches !== 1) return fail(`matches ${matches} oneOf branches`)
        break
      }
      default:
        throw new Error(`the test checker does not know the JSON Schema keyword ${keyword} (at ${at}); teach it`)
    }
  }
  return null
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

describe('JSON Schema', () => {
  const schema = scenarioJsonSchema()

  it('is draft-07 and is what `faultline schema` prints', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#')
    const { out, io } = capture()
    expect(schemaCommand(io)).toBe(0)
    expect(JSON.parse(out.stdout)).toEqual(schema)
  })

  it.each(catalog)('accepts %s', (file) => {
    expect(check(schema, parseYaml(readFileSync(file, 'utf8')))).toBe(null)
  })

  it('lists and explains every anomaly kind under checks.delivery', () => {
    type Node = { properties?: Record<string, Node>; description?: string }
    const delivery = (schema as Node).properties?.checks?.properties?.delivery?.properties ?? {}
    expect(Object.keys(delivery)).toEqual([...anomalyKinds])
    for (const k of anomalyKinds) expect(delivery[k]?.description).toBe(anomalyMeaning[k])
  })

  it.each([
    ['typo-in-key', '$.workload.producers: matches no anyOf branch'],
    ['wrong-type', 'type string is not integer'],
    ['unknown-backend', 'matches 0 oneOf branches'],
    ['bad-acks', 'matches no anyOf branch'],
    ['compression-typo', '$.workload.producers: matches no anyOf branch'],
    ['duration-in-words', 'does not match'],
    ['negative-rate', '$.workload.producers: matches no anyOf branch'],
    ['size-lowercase-unit', 'matches no anyOf branch'],
    ['two-faults-in-one-entry', 'matches 2 oneOf branches'],
    ['missing-required', '$.workload: missing duration'],
  ])('rejects bad/%s.yaml too (%s)', (name, why) => {
    const data = parseYaml(readFileSync(`test/scenarios/bad/${name}.yaml`, 'utf8'))
    expect(check(schema, data)).toContain(why)
  })

  // Valid variations of the minimal scenario: whatever the validator accepts, editors must accept too.
  const producer = fc.record(
    {
      count: fc.integer({ min: 1, max: 100 }),
      rate: fc.oneof(fc.constant('max'), fc.integer({ min: 1, max: 1e6 }).map((n) => `${n}/s`), fc.constantFrom('300/min', '0.5/s', '10/h')),
      messageSize: fc.oneof(
        fc.constantFrom('100B', '1KiB', '1.5KiB', '64KB', '1MiB'),
        fc.constant({ uniform: { min: '10B', max: '2KiB' } }),
        fc.constant({ weighted: [{ size: '1KiB', weight: 1 }, { size: '4KiB', weight: 0.5 }] }),
      ),
      keys: fc.oneof(
        fc.constantFrom('none', 'round-robin', 'uniform', 'zipf'),
        fc.record({ zipf: fc.double({ min: 0.1, max: 3, noNaN: true }), count: fc.integer({ min: 1, max: 1e6 }) }),
        fc.record({ distribution: fc.constantFrom('uniform', 'round-robin'), count: fc.integer({ min: 1, max: 1e6 }) }),
      ),
      randomness: fc.constantFrom('0%', '50%', '100%', '12.5%'),
      acks: fc.constantFrom(0, 1, -1, 'all'),
      compression: fc.constantFrom('none', 'gzip', 'snappy', 'lz4', 'zstd'),
      batchSize: fc.constantFrom('16KiB', '1MiB', '512B'),
      linger: fc.constantFrom('0ms', '5ms', '1s', '250us'),
      maxInFlight: fc.integer({ min: 1, max: 5 }),
    },
    { requiredKeys: ['rate'] },
  )
  const fault = fc.oneof(
    fc.record({ at: fc.constantFrom('0s', '5s'), kill: fc.constantFrom(1, 2, 'controller', 'random', 'all', { leaderOf: 't/0' }), restartAfter: fc.constantFrom('1s', '10s') }, { requiredKeys: ['at', 'kill'] }),
    fc.record({ at: fc.constant('1s'), pause: fc.constantFrom(1, 'random'), duration: fc.constant('2s') }),
    fc.record({ at: fc.constant('1s'), partition: fc.constantFrom({ isolate: 2 }, { groups: [[1], [2]] }), heal: fc.constant('5s') }),
    fc.record({ at: fc.constant('1s'), latency: fc.record({ target: fc.constantFrom(1, 'all'), delay: fc.constant('10ms'), jitter: fc.constant('1ms'), direction: fc.constantFrom('both', 'upstream', 'downstream') }, { requiredKeys: ['delay'] }), duration: fc.constant('5s') }),
    fc.record({ at: fc.constant('1s'), bandwidth: fc.record({ rate: fc.constantFrom('1MiB/s', '100KB/s') }), duration: fc.constant('5s') }),
  )

  it('accepts every scenario the validator accepts (generated)', () => {
    fc.assert(
      fc.property(fc.oneof(producer, fc.array(producer, { minLength: 1, maxLength: 3 })), fc.array(fault, { maxLength: 4 }), (producers, faults) => {
        const data = {
          name: 'generated',
          cluster: { backend: 'local', brokers: 2 },
          topics: [{ name: 't', partitions: 2, replicationFactor: 2 }],
          workload: { duration: '1m', producers, consumers: { groups: 1 } },
          faults,
          checks: { delivery: { lost: 0 }, slo: { 'produce.p99': '10ms', throughput: '1/s' } },
        }
        parseScenario(JSON.stringify(data), 'generated.yaml')
        expect(check(schema, data)).toBe(null)
      }),
      { seed },
    )
  })
})
