// A broker container's CPU, memory and write counters from a real Docker Engine's stats, sampled as the sweep
// samples them over its measured window: the broker's work shows as CPU seconds and memory, and a container
// killed and started again in the window counts both of its runs (its cgroup counts from zero again).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DockerCluster, startDockerCluster } from '../../chaos/cluster/docker.ts'
import { CounterUsageSampler } from '../../chaos/cluster/usage.ts'
import { Ledger } from '../../chaos/ledger.ts'
import { createDriver } from '../../workloads/drivers/registry.ts'
import { dockerTitle, ensureDockerEngine } from '../helpers/docker.ts'
import { until } from '../helpers/until.ts'

const engine = await ensureDockerEngine()
if (!engine.ok) console.warn(`docker usage test skipped: ${engine.reason}`)

const root = mkdtempSync(join(tmpdir(), 'faultline-docker-usage-'))
let cluster: DockerCluster

/** Writes `count` records of 10 KB to t, acknowledged by the broker. */
async function produce(count: number): Promise<void> {
  const driver = await createDriver('raw', { bootstrap: [...cluster.bootstrap], clientId: 'docker-usage' })
  try {
    const admin = await driver.admin()
    await until('t led', async () => {
      try {
        await admin.createTopics([{ name: 't', partitions: 1, replicationFactor: 1 }])
      } catch {
        // exists already, or the broker is still starting: the metadata decides
      }
      return (await admin.metadata(['t']))[0]?.partitions.every((p) => p.leader > 0)
    }, 30_000)
    await admin.close()
    const producer = await driver.producer({ acks: -1 })
    const value = Buffer.alloc(10_000, 7)
    const results = await Promise.all(Array.from({ length: count / 100 }, () => new Promise<{ ok: boolean }>((r) => producer.send({ topic: 't', partition: 0, records: Array.from({ length: 100 }, () => ({ key: null, value })) }, r))))
    expect(results.every((x) => x.ok)).toBe(true)
    await producer.close()
  } finally {
    await driver.close()
  }
}

describe.skipIf(!engine.ok)(dockerTitle('broker containers\' resource use from the Docker Engine', engine), () => {
  beforeAll(async () => {
    const ledger = Ledger.create(join(root, 'run'), { FAULTLINE_STATE_DIR: join(root, 'state') })
    cluster = await startDockerCluster({ brokers: 1, ledger })
  }, 180_000)

  afterAll(async () => {
    await cluster?.close()
    rmSync(root, { recursive: true, force: true })
  })

  it('counts the CPU seconds and memory of the window, across a kill and restart of the container', async () => {
    const node = cluster.nodes[0]!
    const sampler = new CounterUsageSampler(() => cluster.nodes, { intervalMs: 200 }).start()
    const first = await node.readUsage()
    await produce(2000)
    const beforeKill = await node.readUsage()
    expect(first).not.toBeNull()
    expect(beforeKill).not.toBeNull()
    await sampler.sample()
    await node.kill()
    expect(await node.readUsage()).toBeNull()
    await node.start()
    await produce(500)
    const usage = await sampler.stop()

    expect(usage.map((u) => u.id)).toEqual([1])
    const u = usage[0]!
    // The first run's share alone is what was read before the kill; the restarted run adds its own.
    const firstRun = beforeKill!.cpuSeconds - first!.cpuSeconds
    expect(firstRun).toBeGreaterThan(0)
    expect(u.cpuSeconds).toBeGreaterThan(firstRun)
    // A node broker holds tens of MiB outside the page cache; the cache of 25 MB of log is left out.
    expect(u.peakRssBytes).toBeGreaterThan(16 << 20)
    expect(u.peakRssBytes).toBeLessThan(beforeKill!.memoryBytes! + (512 << 20))
    // 25 MB of log, whether the engine's blkio counts it or the broker's /proc/PID/io (an engine on this host).
    expect(u.writeBytes).toBeGreaterThan(20e6)
    expect(u.pids).toEqual([])
  }, 120_000)
})
