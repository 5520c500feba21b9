// Group members of the platformatic driver that join and leave while records flow (as load workers' members
// do when one worker starts late): every record a member delivers is from a partition it owns at that moment,
// and its reads of a partition within one ownership continue where they left off. The library's stream keeps
// fetching the old assignment during a rebalance and delivers fetches from before a join after it, from
// offsets that predate it (docs/upstream/platformatic-kafka-rebalance.md); the checker then saw poll rewinds
// and skips, and a workers: 2 run failed its delivery check.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../../chaos/cluster/local.ts'
import { checkHistory } from '../../../reports/checker.ts'
import { ConsumerSet } from '../../../workloads/consumer.ts'
import { createDriver } from '../../../workloads/drivers/registry.ts'
import { ValueIds } from '../../../workloads/generators.ts'
import type { HistorySink } from '../../../workloads/history/events.ts'
import { readHistory } from '../../../workloads/history/reader.ts'
import { HistoryWriter } from '../../../workloads/history/writer.ts'
import { ProducerLoop } from '../../../workloads/producer.ts'
import { systemScheduler } from '../../../workloads/rate.ts'
import { until } from '../../helpers/until.ts'

let cluster: LocalCluster
const dir = mkdtempSync(join(tmpdir(), 'faultline-plt-rebalance-'))
beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 1, config: { 'group.initial.rebalance.delay.ms': '0' } })
}, 60_000)
afterAll(async () => {
  await cluster?.close()
  rmSync(dir, { recursive: true, force: true })
})

test('platformatic: members joining and leaving mid-stream read only what they own, without skips or rewinds', async () => {
  const driver = await createDriver('platformatic', { bootstrap: [cluster.nodes[0]!.address], clientId: 'plt-rebalance' })
  const path = join(dir, 'history.bin')
  const writer = await HistoryWriter.open(path)
  // Distinct values read: after a rebalance some records are read twice (at-least-once), so counts overshoot.
  const read = new Set<number>()
  const history: HistorySink = {
    append: (e) => {
      if (e.type === 'recv') read.add(e.value)
      writer.append(e)
    },
  }
  const sched = systemScheduler({ spinBelowMs: 0 })
  const origin = sched.now()
  const sets: ConsumerSet[] = []
  const member = async (m: number): Promise<ConsumerSet> => {
    const set = new ConsumerSet({ name: 'c', driver, topics: ['t'], groups: 1, membersPerGroup: 3, members: [m], groupIdPrefix: 'rebalance', scheduler: sched, runOriginMs: origin, history, maxWaitMs: 100 })
    sets.push(set)
    await set.start()
    return set
  }
  try {
    const admin = await driver.admin()
    await admin.createTopics([{ name: 't', partitions: 4, replicationFactor: 1 }])
    await admin.close()
    const first = await member(0)
    const producer = await driver.producer({ acks: -1, lingerMs: 1 })
    const loop = new ProducerLoop({ name: 'p', topic: 't', partitions: 4, producer, scheduler: sched, runOriginMs: origin, history, valueIds: new ValueIds(), rate: { kind: 'fixed', perSecond: 1000 }, count: 8000, keys: { kind: 'round-robin', count: 40 } })
    const produced = loop.run()
    // Each membership change comes while the others are reading, so their streams have fetches in flight.
    await until('the first member reading', () => first.records >= 500, 20_000)
    const second = await member(1)
    await until('the second member reading', () => second.records >= 300, 20_000)
    const third = await member(2)
    await until('the third member reading', () => third.records >= 300, 20_000)
    const before = first.records + second.records
    await third.close()
    await until('the first two reading again', () => first.records + second.records >= before + 1000, 20_000)
    const summary = await produced
    await producer.close()
    await until('every record read', () => read.size >= summary.acked, 30_000)
  } finally {
    await Promise.allSettled(sets.map((s) => s.close()))
    await driver.close()
    await writer.close()
  }

  const owned = new Set<string>()
  let outside = 0
  for await (const e of readHistory(path)) {
    if (e.type === 'assign') owned.add(`${e.member}/${e.partition}`)
    else if (e.type === 'revoke') owned.delete(`${e.member}/${e.partition}`)
    else if (e.type === 'recv' && !owned.has(`${e.member}/${e.partition}`)) outside++
  }
  expect(outside, 'records delivered for partitions the member did not own').toBe(0)
  const result = await checkHistory(path)
  expect(result.anomalies.pollRewinds.examples).toEqual([])
  expect(result.anomalies.pollSkips.examples).toEqual([])
  expect(result.anomalies.lost.count).toBe(0)
  expect(result.anomalies.unseen.count).toBe(0)
}, 120_000)
