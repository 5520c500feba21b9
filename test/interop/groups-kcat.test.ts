// librdkafka consumer groups through kcat -G against a broker process: a group consumes everything once and
// resumes after its committed offsets (also across a SIGKILL of the broker); two kcat members split the
// partitions between them.
import { spawn, type ChildProcess } from 'node:child_process'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { ConsumerProtocolAssignment } from '../../broker/protocol/messages/consumer-protocol.ts'
import { CreateTopics } from '../../broker/protocol/messages/create-topics.ts'
import { DescribeGroups } from '../../broker/protocol/messages/describe-groups.ts'
import { OffsetFetch } from '../../broker/protocol/messages/offset-fetch.ts'
import { Produce } from '../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../broker/protocol/record-batch.ts'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'
import { WireClient } from '../helpers/wire.ts'

const OVERRIDES = { 'group.initial.rebalance.delay.ms': 0 }

let broker: BrokerProcess
let wire: WireClient
const running = new Set<ChildProcess>()

beforeAll(async () => {
  broker = await startBroker({ overrides: OVERRIDES })
  wire = await WireClient.connect(broker.host, broker.port)
})
afterAll(async () => {
  for (const p of running) p.kill('SIGKILL')
  wire?.close()
  await broker?.stop()
})

async function createTopic(name: string, partitions: number): Promise<void> {
  const res = await wire.request(CreateTopics, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1 }], timeoutMs: 5000 })
  expect(res.topics[0]!.errorCode).toBe(ErrorCode.NONE)
}

/** Produces `prefix-i` for i < count, spread round-robin over the partitions. */
async function produce(topic: string, partitions: number, prefix: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
  const partitionData = Array.from({ length: partitions }, (_, index) => ({
    index,
    records: encodeRecordBatch(values.filter((_, i) => i % partitions === index).map((value) => ({ value }))),
  })).filter((p) => values.some((_, i) => i % partitions === p.index))
  const res = await wire.request(Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData }] })
  expect(res.responses[0]!.partitionResponses.every((p) => p.errorCode === ErrorCode.NONE)).toBe(true)
  return values
}

/** One kcat -G run that stops at the end of every assigned partition; its values. */
async function consumeToEnd(groupId: string, topic: string): Promise<string[]> {
  const { stdout } = await execa('kcat', ['-b', broker.bootstrap, '-G', groupId, topic, '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', '%s\n'], { timeout: 40_000 })
  return stdout === '' ? [] : stdout.split('\n')
}

/** The group's committed offsets, once its coordinator has loaded them (after a restart it answers
 *  COORDINATOR_LOAD_IN_PROGRESS until then). */
function committed(groupId: string, topic: string, partitions: number): Promise<number[]> {
  return until(`${groupId}'s offsets loaded by the coordinator`, async () => {
    const res = await wire.request(OffsetFetch, 7, { groupId, topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, i) => i) }], requireStable: true })
    return res.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? undefined : res.topics[0]!.partitions.map((p) => p.committedOffset)
  }, { intervalMs: 50 })
}

describe('kcat -G (librdkafka consumer groups)', () => {
  test('a group consumes every record once and resumes after its committed offsets, also across a SIGKILL', async () => {
    const topic = 'grp-kcat'
    await createTopic(topic, 3)
    const first = await produce(topic, 3, 'a', 30)
    expect((await consumeToEnd('kc-group', topic)).sort()).toEqual([...first].sort())
    expect(await consumeToEnd('kc-group', topic)).toEqual([])
    expect(await committed('kc-group', topic, 3)).toEqual([10, 10, 10])
    const second = await produce(topic, 3, 'b', 9)
    expect((await consumeToEnd('kc-group', topic)).sort()).toEqual([...second].sort())

    wire.close()
    await broker.kill('SIGKILL')
    broker = await startBroker({ dataDir: broker.dataDir, host: broker.host, port: broker.port, overrides: OVERRIDES })
    wire = await WireClient.connect(broker.host, broker.port)
    expect(await committed('kc-group', topic, 3)).toEqual([13, 13, 13])
    expect(await consumeToEnd('kc-group', topic)).toEqual([])
    const third = await produce(topic, 3, 'c', 3)
    expect((await consumeToEnd('kc-group', topic)).sort()).toEqual([...third].sort())
  })

  test('two kcat members split six partitions and together consume every record once', async () => {
    const topic = 'grp-kcat-split'
    const groupId = 'kc-split'
    await createTopic(topic, 6)
    const lines: string[][] = [[], []]
    const members: ChildProcess[] = []
    const closed = [false, false]
    for (const i of [0, 1]) {
      const p = spawn('kcat', ['-b', broker.bootstrap, '-G', groupId, topic, '-X', 'auto.offset.reset=earliest', '-q', '-u', '-f', '%p %s\n'])
      running.add(p)
      members.push(p)
      p.on('close', () => void (closed[i] = true))
      let buf = ''
      p.stdout.on('data', (d: Buffer) => {
        buf += d.toString()
        const parts = buf.split('\n')
        buf = parts.pop()!
        lines[i]!.push(...parts)
      })
    }
    // Both members in one Stable generation, each with its share of the partitions.
    await until('a stable group of two kcat members', async () => {
      const g = (await wire.request(DescribeGroups, 5, { groups: [groupId], includeAuthorizedOperations: false })).groups[0]!
      if (g.groupState !== 'Stable' || g.members.length !== 2) return false
      const owned = g.members.flatMap((m) => ConsumerProtocolAssignment.decode(m.memberAssignment)?.value.assignedPartitions.flatMap((a) => a.partitions) ?? [])
      return owned.length === 6 && new Set(owned).size === 6 && g.members.every((m) => m.memberAssignment.length > 0)
    })
    const values = await produce(topic, 6, 'v', 120)
    await until('every record', () => lines[0]!.length + lines[1]!.length >= 120)
    // A record delivered twice would come after the 120th line: stop the members and wait until they have exited,
    // so that everything they printed is in `lines`.
    for (const p of members) p.kill('SIGTERM')
    await until('both kcat members exited', () => closed.every(Boolean), { intervalMs: 20 })
    const seen = lines.flat().map((l) => l.slice(l.indexOf(' ') + 1))
    expect(seen.sort()).toEqual([...values].sort())
    const partitionsOf = (i: number) => new Set(lines[i]!.map((l) => Number(l.slice(0, l.indexOf(' ')))))
    expect([...partitionsOf(0)].filter((p) => partitionsOf(1).has(p))).toEqual([])
    expect(partitionsOf(0).size).toBeGreaterThan(0)
    expect(partitionsOf(1).size).toBeGreaterThan(0)
  })
})
