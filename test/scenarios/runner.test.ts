import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Results } from '../../reports/results.ts'
import { parseSeed, runCommand, type RunIo } from '../../scenarios/runner-command.ts'
import { deliveryOptions } from '../../scenarios/checks.ts'
import { defaultOutDir, preflight, RunError, runScenario, scenarioDigest } from '../../scenarios/runner.ts'
import { driverAdjustment, loadScenario, parseScenario } from '../../scenarios/schema.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-runner-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const scenario = (extra: string, workload = 'producers: { rate: 100/s }\n  consumers: { groups: 1 }') =>
  parseScenario(`name: t\ntopics: [ { name: a, partitions: 2 } ]\nworkload:\n  duration: 10s\n  ${workload}\n${extra}`, 'test.yaml')

async function refusal(p: Promise<unknown>): Promise<RunError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(RunError)
  return err as RunError
}

describe('preflight', () => {
  const external = parseScenario(
    'name: t\ncluster: { backend: external, bootstrap: 127.0.0.1:9 }\ntopics: [ { name: a } ]\nworkload: { duration: 10s, producers: { rate: 100/s } }\nfaults:\n  - { name: slow, at: 1s, latency: { delay: 5ms }, duration: 2s }\n  - { at: 1s, reset: { target: all }, duration: 2s }\n',
    'test.yaml',
  )
  it('refuses network-quality faults on an external cluster (no proxies there yet), naming each one, before anything starts', async () => {
    await expect(preflight(loadScenario('scenarios/latency-fault.yaml'))).resolves.toEqual({})
    await expect(preflight(loadScenario('scenarios/leader-kill.yaml'))).resolves.toEqual({})
    const err = await refusal(preflight(external))
    expect(err.exitCode).toBe(2)
    expect(err.code).toBe('ERR_RUN_UNSUPPORTED')
    expect(err.message).toMatch(/^faults\[0\] \(slow\): latency faults need proxies in front of the brokers, which only the local and docker backends set up; expected cluster\.backend: local or docker/m)
    expect(err.message).toMatch(/^faults\[1\] \(reset-1\): reset faults need proxies/m)
  })

  it('runScenario refuses them without creating the output directory or starting a broker', async () => {
    const out = join(tmp, 'never-created')
    const err = await refusal(runScenario(external, { outDir: out, seed: 1 }))
    expect(err.message).toMatch(/faults\[0\] \(slow\): latency faults need proxies/)
    expect(existsSync(out)).toBe(false)
  })

  it('refuses partitions where iptables cannot run, saying so, before anything starts', async () => {
    const out = join(tmp, 'no-iptables')
    const withPartition = parseScenario(
      'name: t\ncluster: { backend: local, brokers: 2 }\ntopics: [ { name: a } ]\nworkload: { duration: 10s, producers: { rate: 100/s } }\nfaults:\n  - { at: 1s, partition: { groups: [[1], [2]] }, heal: 2s }\n',
      'test.yaml',
    )
    // No iptables on this PATH: as on a machine without the package.
    const err = await refusal(runScenario(withPartition, { outDir: out, seed: 1, env: { PATH: join(tmp, 'empty-path') } }))
    expect(err.exitCode).toBe(2)
    expect(err.message).toMatch(/faults\[0\] \(partition-0\): partition faults need iptables and iptables-restore, which are not installed/)
    expect(existsSync(out)).toBe(false)
    await expect(preflight(withPartition)).resolves.toEqual({})
  })

  it('on docker, refuses partitions where iptables cannot run, and partitions beside proxies, naming the fault', async () => {
    const docker = (faults: string) =>
      parseScenario(`name: t\ncluster: { backend: docker, brokers: 2 }\ntopics: [ { name: a } ]\nworkload: { duration: 10s, producers: { rate: 100/s } }\nfaults:\n${faults}`, 'test.yaml')
    const cut = '  - { name: cut, at: 1s, partition: { groups: [[1], [2]] }, heal: 2s }\n'
    const noIptables = await refusal(preflight(docker(cut), { PATH: join(tmp, 'empty-path') }))
    expect(noIptables.message).toMatch(/^faults\[0\] \(cut\): partition faults need iptables and iptables-restore, which are not installed/m)
    expect(noIptables.message).not.toMatch(/only the local/)
    const both = await refusal(preflight(docker(`${cut}  - { at: 1s, latency: { delay: 5ms }, duration: 2s }\n`)))
    expect(both.message).toMatch(/^faults\[0\] \(cut\): partitions on the docker backend cut traffic by container address, which the proxies in front of the containers hide/m)
    expect(both.message).not.toMatch(/faults\[1\]/)
  })

  it("holds a nemesis's network kinds to the same rules, whatever its seed draws: no iptables, docker proxies, external", async () => {
    const nemesis = (cluster: string, kinds: string) =>
      parseScenario(`name: t\ncluster: ${cluster}\ntopics: [ { name: a } ]\nworkload: { duration: 20s, producers: { rate: 100/s } }\nnemesis: { kinds: [${kinds}], interval: 2s-4s, duration: 1s-2s, targets: [random] }\n`, 'test.yaml')
    const local = nemesis('{ backend: local, brokers: 3 }', 'kill, partition')
    await expect(preflight(local)).resolves.toEqual({})
    expect((await refusal(preflight(local, { PATH: join(tmp, 'empty-path') }))).message).toMatch(/^nemesis\.kinds \(partition\): partition faults need iptables and iptables-restore, which are not installed/m)
    const mixed = await refusal(preflight(nemesis('{ backend: docker, brokers: 3 }', 'partition, latency')))
    expect(mixed.message).toMatch(/^nemesis\.kinds \(partition\): partitions on the docker backend cut traffic by container address, which the proxies in front of the containers hide/m)
    const external = await refusal(preflight(nemesis('{ backend: external, bootstrap: 127.0.0.1:9 }', 'partition, reset')))
    expect(external.message).toMatch(/^nemesis\.kinds: partition, reset need iptables rules or proxies that only the local and docker backends set up/m)
  })

  it('runs every SLO the schema accepts', async () => {
    await expect(preflight(scenario('checks: { slo: { produce.mean: 5ms, produce.p95: 5ms, sendDelay.p75: 1ms, errors: 1%, throughput: 1MiB/s } }'))).resolves.toEqual({})
    await expect(preflight(loadScenario('scenarios/backlog-drain.yaml'))).resolves.toEqual({})
    await expect(preflight(loadScenario('scenarios/max-throughput.yaml'))).resolves.toEqual({})
  })

  it('refuses producer settings the driver lacks', async () => {
    const err = await refusal(preflight(scenario('', 'driver: raw\n  producers: { rate: 100/s, compression: lz4 }')))
    expect(err.message).toMatch(/workload\.producers\[0\]: the raw driver has no lz4 compression; expected another workload\.driver/)
  })

  it('reads SASL passwords from the environment and says which variable is missing', async () => {
    const external = parseScenario(
      'name: t\ncluster: { backend: external, bootstrap: kafka:9092, sasl: { mechanism: PLAIN, username: u, password: { env: KAFKA_PW } } }\ntopics: [ { name: a } ]\nworkload: { duration: 10s, producers: { rate: 100/s } }\n',
      'test.yaml',
    )
    const err = await refusal(preflight(external, {}))
    expect(err).toMatchObject({ exitCode: 2, code: 'ERR_RUN_SECRET' })
    expect(err.message).toMatch(/cluster\.sasl\.password: the environment variable KAFKA_PW is not set/)
    expect(await preflight(external, { KAFKA_PW: 's3cret' })).toEqual({ sasl: { mechanism: 'PLAIN', username: 'u', password: 's3cret' }, tls: undefined })
  })

  it('passes the quickstart', async () => {
    await expect(preflight(loadScenario('scenarios/quickstart.yaml'))).resolves.toEqual({})
  })
})

describe('what the scenario asks of the reports', () => {
  it("gives the checker the scenario's delivery limits, report-only where the scenario sets none", () => {
    const s = scenario('checks: { delivery: { lost: 0, duplicates: 2, reordered: any, failedWritesRead: 0, rereads: 5 } }')
    expect(deliveryOptions(s)).toEqual({
      sendOrder: true,
      limits: {
        lost: 0,
        duplicates: 2,
        reordered: null,
        inconsistentOffsets: null,
        pollSkips: null,
        failedWritesRead: 0,
        unseen: null,
        pollRewinds: null,
        rereads: 5,
      },
    })
  })

  it('checks send order only when Kafka promises it', () => {
    const loose = scenario('', 'producers: [ { rate: 100/s }, { rate: 100/s, acks: 1, maxInFlight: 5 } ]\n  consumers: { groups: 1 }')
    expect(deliveryOptions(loose)).toMatchObject({ sendOrder: false })
    const single = scenario('', 'producers: { rate: 100/s, acks: 1, maxInFlight: 1 }\n  consumers: { groups: 1 }')
    expect(deliveryOptions(single)).toMatchObject({ sendOrder: true })
  })

  it('skips the delivery check without consumers', () => {
    expect(deliveryOptions(scenario('', 'producers: { rate: 100/s }'))).toEqual({ skip: expect.stringMatching(/no consumers/) })
  })

  it('fingerprints the scenario', () => {
    expect(scenarioDigest(scenario(''))).toBe(scenarioDigest(scenario('')))
    expect(scenarioDigest(scenario(''))).not.toBe(scenarioDigest(scenario('', 'producers: { rate: 101/s }\n  consumers: { groups: 1 }')))
    expect(scenarioDigest(scenario(''))).toMatch(/^[0-9a-f]{64}$/)
  })

  it('names the default output directory after the scenario and the time', () => {
    expect(defaultOutDir('quickstart', new Date('2025-01-02T03:04:05.678Z'))).toBe(join('results', 'quickstart-2025-01-02T03-04-05Z'))
  })
})

describe('faultline run flags', () => {
  const io = () => {
    let out = ''
    let err = ''
    return {
      io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => ((err += s), true) } as unknown as RunIo['stderr'] },
      out: () => out,
      err: () => err,
    }
  }

  it('parses seeds as integers from 0 to 2^32 - 1', () => {
    expect(parseSeed('0')).toBe(0)
    expect(parseSeed('4294967295')).toBe(4294967295)
    expect(parseSeed('4294967296')).toBeNull()
    expect(parseSeed('-1')).toBeNull()
    expect(parseSeed('1e3')).toBeNull()
  })

  it('exits 2 on a bad seed, a bad scenario, a bad baseline or an unsupported fault, running nothing', async () => {
    const a = io()
    expect(await runCommand('scenarios/quickstart.yaml', { seed: 'abc' }, a.io)).toBe(2)
    expect(a.err()).toMatch(/--seed "abc": expected an integer from 0 to 4294967295/)

    const b = io()
    expect(await runCommand('test/scenarios/bad/typo-in-key.yaml', {}, b.io)).toBe(2)
    expect(b.err()).toMatch(/typo-in-key\.yaml:\d+:\d+: /)
    expect(b.err()).toMatch(/nothing was run/)

    const c = io()
    const notResults = join(tmp, 'not-results.json')
    writeFileSync(notResults, '{"hello": 1}')
    expect(await runCommand('scenarios/quickstart.yaml', { baseline: notResults }, c.io)).toBe(2)
    expect(c.err()).toMatch(/--baseline: .*no schemaVersion/)

    const d = io()
    const out = join(tmp, 'partition-out')
    const externalFile = join(tmp, 'external-partition.yaml')
    writeFileSync(externalFile, 'name: t\ncluster: { backend: external, bootstrap: 127.0.0.1:9 }\ntopics: [ { name: a } ]\nworkload: { duration: 10s, producers: { rate: 100/s } }\nfaults:\n  - { name: slow, at: 1s, latency: { delay: 5ms }, duration: 2s }\n')
    expect(await runCommand(externalFile, { out, quiet: true }, d.io)).toBe(2)
    expect(d.err()).toMatch(/faults\[0\] \(slow\): latency faults need proxies/)
    expect(existsSync(out)).toBe(false)
    expect(d.out()).toBe('')

    const e = io()
    expect(await runCommand('scenarios/quickstart.yaml', { driver: 'librdkafka' }, e.io)).toBe(2)
    expect(e.err()).toMatch(/--driver "librdkafka": expected one of kafkajs, platformatic, raw/)

    const notes: string[] = []
    const s = loadScenario('scenarios/bridge.yaml', { adjust: driverAdjustment('kafkajs', notes) })
    expect(s.workload.driver).toBe('kafkajs')
    expect(notes).toEqual(['--driver kafkajs: workload.driver raw replaced'])
  })
})
