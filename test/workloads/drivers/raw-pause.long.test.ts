// In the long suite: about 35 s, most of it cluster start; the unit tests in raw.test.ts pin the fix itself.
// The raw producer under a leader that goes silent (SIGSTOP keeps its TCP connections open): its requests time
// out (request timeout), the connection closes, fresh metadata names the new leader (a broker that still has the
// old leader epoch is not believed), and later sends go there while the old leader is still frozen. After SIGCONT
// every send is settled exactly once. Real brokers: 3, RF 3, min.insync.replicas 2, acks=all, idempotent.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import type { DriverAdmin, ProduceResult } from '../../../workloads/driver.ts'
import { rawDriver, type RawDriver } from '../../../workloads/drivers/raw.ts'
import { until } from '../../helpers/until.ts'

const CONFIG = {
  'broker.session.timeout.ms': '1500',
  'broker.heartbeat.interval.ms': '300',
  'replica.lag.time.max.ms': '2000',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '500',
}
const TOPIC = 'paused'

let cluster: LocalCluster
let adminDriver: RawDriver
let admin: DriverAdmin
beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
  adminDriver = rawDriver({ bootstrap: cluster.nodes.map((n) => n.address), clientId: 'raw-pause-admin' })
  admin = await adminDriver.admin()
  await admin.createTopics([{ name: TOPIC, partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }])
  await until('every partition led with a full ISR', async () => (await admin.metadata([TOPIC]))[0]?.partitions.every((p) => p.leader > 0 && p.isr.length === 3) ?? false)
}, 120_000)
afterAll(async () => {
  for (const n of cluster?.nodes ?? []) if (n.running) n.resume()
  await adminDriver?.close()
  await cluster?.close()
})

interface Send {
  readonly partition: number
  readonly at: number
  results: ProduceResult[]
}

test('a leader frozen with SIGSTOP: sends move to the new leader while it is frozen, and every send settles once after SIGCONT', async () => {
  const leaderOf0 = async () => (await admin.metadata([TOPIC]))[0]!.partitions.find((p) => p.partition === 0)!.leader
  const leader = await leaderOf0()
  const node = cluster.nodes.find((n) => n.id === leader)!
  const driver = rawDriver({ bootstrap: cluster.nodes.map((n) => n.address), clientId: 'raw-pause', requestTimeoutMs: 2000 })
  const producer = await driver.producer({ acks: -1, idempotent: true })
  const sends: Send[] = []
  let pausedAt = Number.POSITIVE_INFINITY
  const send = (): void => {
    const s: Send = { partition: sends.length % 3, at: performance.now(), results: [] }
    sends.push(s)
    producer.send({ topic: TOPIC, partition: s.partition, records: [{ key: null, value: Buffer.from(`v${sends.length}`) }] }, (r) => s.results.push(r))
  }
  const ticker = setInterval(send, 10)
  try {
    await until('sends acked before the pause', () => sends.filter((s) => s.results[0]?.ok).length >= 30)
    node.pause()
    pausedAt = performance.now()
    // A send to partition 0 made after the freeze is acknowledged, by another broker, while the old leader is frozen.
    await until('a send to partition 0 acked while its old leader is frozen', () => sends.some((s) => s.partition === 0 && s.at > pausedAt && s.results[0]?.ok === true), { timeoutMs: 45_000 })
    expect(node.proc.isPaused).toBe(true)
  } finally {
    node.resume()
  }
  await until('partition 0 led again after the resume', async () => (await leaderOf0()) > 0)
  const resumedAt = performance.now()
  await until('a send made after the resume is acked', () => sends.some((s) => s.at > resumedAt && s.results[0]?.ok === true), { timeoutMs: 45_000 })
  clearInterval(ticker)
  await until('every send settled', () => sends.every((s) => s.results.length > 0), { timeoutMs: 45_000 })
  expect(sends.filter((s) => s.results.length > 1)).toEqual([])
  await driver.close()
}, 180_000)
