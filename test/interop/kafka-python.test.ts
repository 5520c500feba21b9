// kafka-python 2.0.2 (Debian 12's python3-kafka) with its defaults against a broker process: it bootstraps by
// probing the broker version itself (ApiVersions v0, then Metadata v0 pipelined behind it), creates a topic with
// its admin client, produces, consumes in a consumer group and commits
// (test/interop/python/kafka_python_client.py). A broker without Metadata v0 closes every probing connection;
// the client copes only when the ApiVersions answer wins that race, so the broker's log must show no refusal.
// Debian's own python3 runs it: the first python3 on PATH may be another installation without the package.
import { execa } from 'execa'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { OffsetFetch } from '../../broker/protocol/messages/offset-fetch.ts'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { WireClient } from '../helpers/wire.ts'

const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('python/kafka_python_client.py', import.meta.url))
const N = 60

let broker: BrokerProcess
let wire: WireClient
beforeAll(async () => {
  broker = await startBroker({ overrides: { 'group.initial.rebalance.delay.ms': 0 } })
  wire = await WireClient.connect(broker.host, broker.port)
})
afterAll(async () => {
  wire?.close()
  await broker?.stop()
})

interface Report {
  version: string
  apiVersion: number[]
  createErrors: number[]
  produced: { partition: number; offset: number }[]
  consumed: { partition: number; offset: number; key: string; value: string }[]
  committed: Record<string, number>
  leftover: string[]
}

describe('kafka-python 2.0.2 (python3-kafka), no pinned api_version', () => {
  test('bootstraps, creates a topic with its admin client, produces, consumes in a group and commits', async () => {
    const { stdout } = await execa(PYTHON, [SCRIPT, broker.bootstrap, 'kpy', 'kpy-group', String(N)], { timeout: 90_000 })
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Report
    expect(r.version).toBe('2.0.2')
    // It inferred a broker of at least 0.11: record batches v2 in both directions.
    expect(r.apiVersion[0]! * 100 + r.apiVersion[1]!).toBeGreaterThanOrEqual(11)
    expect(r.createErrors).toEqual([ErrorCode.NONE])
    const md = await wire.request(Metadata, 12, { topics: [{ name: 'kpy' }] })
    expect(md.topics[0]!.partitions).toHaveLength(3)

    const key = (x: { partition: number; offset: number }) => `${x.partition}/${x.offset}`
    expect(r.consumed.map(key).sort()).toEqual(r.produced.map(key).sort())
    expect(r.consumed.map((m) => m.value).sort()).toEqual(Array.from({ length: N }, (_, i) => `v${i}`).sort())
    expect(r.consumed.every((m) => m.key === m.value.replace('v', 'k'))).toBe(true)

    const perPartition = [0, 1, 2].map((p) => r.produced.filter((x) => x.partition === p).length)
    expect([0, 1, 2].map((p) => r.committed[String(p)])).toEqual(perPartition)
    const fetched = await wire.request(OffsetFetch, 7, { groupId: 'kpy-group', topics: [{ name: 'kpy', partitionIndexes: [0, 1, 2] }], requireStable: true })
    expect(fetched.topics[0]!.partitions.map((p) => p.committedOffset)).toEqual(perPartition)
    expect(r.leftover).toEqual([])
    expect(broker.logs.map((l) => String(l.msg)).filter((m) => /unsupported|malformed/.test(m))).toEqual([])
  }, 120_000)
})
