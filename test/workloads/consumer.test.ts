import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { startLocalCluster, type LocalCluster } from '../../chaos/cluster/local.ts'
import { cutsBetween, IptablesPartitions } from '../../chaos/network/partition.ts'
import { removeDir, startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'
import { WireClient } from '../helpers/wire.ts'
import { ConsumerSet, runBacklog } from '../../workloads/consumer.ts'
import { createDriver, type DriverName } from '../../workloads/drivers/registry.ts'
import { ValueIds } from '../../workloads/generators.ts'
import type { AckEvent, AssignEvent, HistoryEvent, RecvEvent, SendEvent } from '../../workloads/history/events.ts'
import { ProducerLoop } from '../../workloads/producer.ts'
import { SimScheduler, systemScheduler } from '../../workloads/rate.ts'
import { FakeCluster, fakeDriver } from './fake-driver.ts'

const of = <T extends HistoryEvent['type']>(ev: HistoryEvent[], type: T) => ev.filter((e) => e.type === type) as Extract<HistoryEvent, { type: T }>[]

/** Moves simulated time in small steps, letting promise continuations run between steps. */
async function advance(sched: SimScheduler, ms: number, step = 1): Promise<void> {
  const end = sched.now() + ms
  while (sched.now() < end) {
    sched.run(Math.min(end, sched.now() + step))
    await new Promise((r) => setImmediate(r))
  }
}

describe('ConsumerSet on simulated time', () => {
  it('gives every group every record once, splits partitions among members, and measures end-to-end latency', async () => {
    const sched = new SimScheduler(1000)
    const cluster = new FakeCluster(sched, { partitions: 4, latencyMs: 2, pollMs: 10 })
    const driver = fakeDriver(cluster)
    const events: HistoryEvent[] = []
    const history = { append: (e: HistoryEvent) => events.push(e) }
    const consumers = new ConsumerSet({ name: 'c', driver, topics: ['t'], groups: 2, membersPerGroup: 2, scheduler: sched, runOriginMs: 1000, history })
    await consumers.start()
    const loop = new ProducerLoop({ name: 'p', topic: 't', partitions: 4, producer: await driver.producer(), scheduler: sched, runOriginMs: 1000, history, rate: { kind: 'fixed', perSecond: 1000 }, count: 400, keys: { kind: 'round-robin', count: 40 } })
    const done = loop.run()
    await advance(sched, 1000)
    await done
    const summary = await consumers.close()
    const recv = of(events, 'recv')
    expect(summary.records).toBe(800)
    expect(summary.foreign).toBe(0)
    expect(summary.perGroup.map((g) => g.records)).toEqual([400, 400])
    const sendsByValue = new Map(of(events, 'send').map((e) => [e.value, e]))
    const owner = new Map(of(events, 'assign').map((e: AssignEvent) => [`${e.group}/${e.partition}`, e.member]))
    for (const group of ['c-g0', 'c-g1']) {
      const mine = recv.filter((e) => e.group === group)
      expect(mine.map((e) => e.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, i) => i))
      for (const e of mine) expect(owner.get(`${group}/${e.partition}`)).toBe(e.member)
    }
    for (const e of recv) {
      const s = sendsByValue.get(e.value)!
      expect(e.intended).toBe(s.intended)
      expect(e.time).toBeGreaterThanOrEqual(e.intended)
    }
    expect(new Set(of(events, 'assign').map((e) => e.member)).size).toBe(4)
    expect(summary.e2e.count).toBe(800)
    expect(of(events, 'revoke').length).toBe(8)
  })

  it('builds a backlog with consumers paused, then times its drain', async () => {
    const sched = new SimScheduler(0)
    const cluster = new FakeCluster(sched, { partitions: 2, pollMs: 10 })
    const driver = fakeDriver(cluster)
    const events: HistoryEvent[] = []
    const history = { append: (e: HistoryEvent) => events.push(e) }
    const consumers = new ConsumerSet({ name: 'c', driver, topics: ['t'], groups: 1, membersPerGroup: 1, scheduler: sched, runOriginMs: 0, history })
    await consumers.start()
    const loop = new ProducerLoop({ name: 'p', topic: 't', partitions: 2, producer: await driver.producer(), scheduler: sched, runOriginMs: 0, history, rate: { kind: 'fixed', perSecond: 1000 }, durationMs: 3000, sizes: { kind: 'fixed', bytes: 100 } })
    const produced = loop.run()
    const backlog = runBacklog({ consumers, producedBytes: () => loop.bytesAcked, targetBytes: 50_000, scheduler: sched, pollMs: 5 })
    let result: Awaited<typeof backlog> | undefined
    void backlog.then((r) => (result = r))
    while (result === undefined && sched.now() < 10_000) await advance(sched, 10)
    await advance(sched, 3000)
    await produced
    await consumers.close()
    expect(result?.state).toBe('drained')
    if (result?.state !== 'drained') return
    // 50 000 bytes at 100 000 B/s: about half a second of production.
    expect(result.buildMs).toBeGreaterThanOrEqual(500)
    expect(result.buildMs).toBeLessThan(600)
    expect(result.peakBytes).toBeGreaterThanOrEqual(50_000)
    expect(result.drainedBytes).toBeGreaterThanOrEqual(result.peakBytes * 0.99)
    // Nothing was received while paused.
    const received = of(events, 'recv').map((e: RecvEvent) => e.time)
    const resumedAt = result.buildMs * 1000
    expect(received.filter((t) => t < resumedAt).length).toBe(0)
    expect(of(events, 'recv').length).toBe(3000)
  })
})

describe('against a broker process', () => {
  let broker: BrokerProcess

  beforeAll(async () => {
    broker = await startBroker()
  })

  afterAll(async () => {
    await broker?.stop()
    if (broker) removeDir(broker.dataDir)
  })

  async function endToEnd(name: DriverName, opts: { groups: number; members: number; preEncoded?: boolean }) {
    const driver = await createDriver(name, { bootstrap: [broker.bootstrap], clientId: `e2e-${name}` })
    const topic = `e2e-${name}-${opts.preEncoded ? 'raw-ingest' : 'records'}-${process.pid}`
    const admin = await driver.admin()
    await admin.createTopics([{ name: topic, partitions: 4, replicationFactor: 1 }])
    await admin.close()
    const sched = systemScheduler({ spinBelowMs: 0 })
    const origin = sched.now()
    const events: HistoryEvent[] = []
    const history = { append: (e: HistoryEvent) => events.push(e) }
    const consumers = new ConsumerSet({ name: 'c', driver, topics: [topic], groups: opts.groups, membersPerGroup: opts.members, scheduler: sched, runOriginMs: origin, history, maxWaitMs: 100 })
    await consumers.start()
    const producer = await driver.producer({ acks: -1, lingerMs: 1 })
    const loop = new ProducerLoop({
      name: 'p',
      topic,
      partitions: 4,
      producer,
      scheduler: sched,
      runOriginMs: origin,
      history,
      valueIds: new ValueIds(),
      rate: { kind: 'fixed', perSecond: opts.preEncoded ? 20_000 : 2000 },
      count: opts.preEncoded ? 10_000 : 1000,
      keys: opts.preEncoded ? { kind: 'none' } : { kind: 'zipf', count: 100, exponent: 1.2 },
      sizes: { kind: 'uniform', min: 20, max: 900 },
      preEncoded: opts.preEncoded ? { recordsPerBatch: 100 } : undefined,
    })
    const summary = await loop.run()
    expect(summary.failed).toBe(0)
    const expected = summary.acked * opts.groups
    await new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        const errors = consumers.summary().errors
        if (Object.keys(errors).length > 0) {
          clearInterval(check)
          reject(new Error(`consumer errors ${JSON.stringify(errors)}`))
        } else if (consumers.records >= expected) {
          clearInterval(check)
          resolve()
        }
      }, 20)
    })
    const c = await consumers.close()
    await producer.close()
    await driver.close()
    return { events, producer: summary, consumers: c }
  }

  function checkDelivery(events: HistoryEvent[], groups: string[]) {
    const acked = new Map(of(events, 'ack').map((e: AckEvent) => [e.value, e]))
    const sends = new Map(of(events, 'send').map((e: SendEvent) => [e.value, e]))
    for (const group of groups) {
      const seen = new Set<number>()
      for (const r of of(events, 'recv').filter((e) => e.group === group)) {
        const a = acked.get(r.value)
        expect(a, `value ${r.value} was acknowledged`).toBeDefined()
        expect([r.partition, r.offset]).toEqual([a!.partition, a!.offset])
        expect(r.intended).toBe(sends.get(r.value)!.intended)
        seen.add(r.value)
      }
      expect(seen.size).toBe(acked.size)
    }
  }

  it('raw: every acknowledged value reaches each group at its acknowledged offset, with end-to-end latency', async () => {
    const { events, consumers } = await endToEnd('raw', { groups: 2, members: 2 })
    checkDelivery(events, ['c-g0', 'c-g1'])
    expect(consumers.e2e.count).toBe(2000)
    expect(consumers.e2e.min!).toBeGreaterThanOrEqual(0)
  })

  it('raw ingest: pre-encoded batches through the loop carry dense value ids to the consumer', async () => {
    const { events, producer, consumers } = await endToEnd('raw', { groups: 1, members: 1, preEncoded: true })
    expect(producer.acked).toBe(10_000)
    checkDelivery(events, ['c-g0'])
    expect(consumers.records).toBe(10_000)
  })

  it.each(['kafkajs', 'platformatic'] as const)('%s: group members share the partitions and every acknowledged value arrives', async (name) => {
    const { events } = await endToEnd(name, { groups: 1, members: 2 })
    const acked = new Set(of(events, 'ack').map((e) => e.value))
    const received = new Set(of(events, 'recv').map((e) => e.value))
    expect([...acked].filter((v) => !received.has(v))).toEqual([])
    const members = new Set(of(events, 'assign').map((e) => e.member))
    expect(members.size).toBeGreaterThanOrEqual(1)
  })
})

// Manual mode reads the topics' partitions from the metadata of the broker it asks, which learns a new topic from
// the controller in its own time. Broker 2 (not a voter) is cut off from the controller (broker 1) with iptables
// while the topic is created on broker 1, so its metadata lacks the topic until the heal, whatever the timing.
describe('manual mode against a broker that has not heard of the topic yet', () => {
  let cluster: LocalCluster
  let net: IptablesPartitions
  let heal: () => Promise<void>

  beforeAll(async () => {
    cluster = await startLocalCluster({ brokers: 2, voters: 1, config: { 'broker.session.timeout.ms': '3000', 'broker.heartbeat.interval.ms': '500' } })
    net = await IptablesPartitions.open({ nodes: () => cluster.nodes.map((n) => ({ id: n.id, host: n.host, ports: n.ports })) })
    heal = await net.cut('behind', cutsBetween([[1], [2]]))
    const [b1] = cluster.nodes
    const wire = await WireClient.connect(b1!.host, b1!.port)
    // Fenced, so the topic's partitions all go to broker 1, which the consumer can fetch from.
    await until('broker 2 fenced', async () => {
      const md = await wire.request(Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
      return md.brokers.length === 1 || undefined
    }, 30_000)
    wire.close()
    const driver = await createDriver('raw', { bootstrap: [b1!.address] })
    const admin = await driver.admin()
    await admin.createTopics([{ name: 'late', partitions: 2, replicationFactor: 1 }])
    await admin.close()
    await driver.close()
  }, 60_000)

  afterAll(async () => {
    await net?.close()
    await cluster?.close()
  })

  it('start() waits for the topic to appear and then assigns its partitions', async () => {
    const real = await createDriver('raw', { bootstrap: [cluster.nodes[1]!.address] })
    let reads = 0
    const driver = {
      ...real,
      name: real.name,
      capabilities: real.capabilities,
      producer: real.producer.bind(real),
      consumer: real.consumer.bind(real),
      close: real.close.bind(real),
      admin: async () => {
        const a = await real.admin()
        return Object.assign(Object.create(a) as typeof a, {
          metadata: (topics: readonly string[]) => {
            reads++
            return a.metadata(topics)
          },
        })
      },
    }
    const events: HistoryEvent[] = []
    const consumers = new ConsumerSet({ name: 'late', driver, topics: ['late'], groups: 1, membersPerGroup: 1, mode: 'manual', history: { append: (e) => events.push(e) } })
    const started = consumers.start()
    // Two reads that found no topic: start() is still waiting rather than failing on the first.
    await Promise.race([until('two metadata reads from broker 2', () => reads >= 2 || undefined, { intervalMs: 10 }), started])
    await heal()
    await started
    expect(of(events, 'assign').map((e) => `${e.topic}-${e.partition}`).sort()).toEqual(['late-0', 'late-1'])
    await consumers.close()
    await real.close()
  })

  it('gives up after topicsWaitMs with an error naming the topics still missing', async () => {
    const driver = await createDriver('raw', { bootstrap: [cluster.nodes[0]!.address] })
    const consumers = new ConsumerSet({ name: 'none', driver, topics: ['late', 'never-created'], groups: 1, membersPerGroup: 1, mode: 'manual', topicsWaitMs: 500 })
    await expect(consumers.start()).rejects.toThrow('topics not found after 500 ms: never-created')
    await driver.close()
  })
})
