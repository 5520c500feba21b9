import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DescribeLogDirs } from '../../../broker/protocol/messages/describe-log-dirs.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
/** Bytes written per partition of 'dl': a stored batch is the produced batch, byte for byte. */
const written = [0, 0]
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
  const res = await c.request(CreateTopics, 7, { topics: ['dl', 'other'].map((name) => ({ name, numPartitions: 2, replicationFactor: 1 })) as never, timeoutMs: 5000, validateOnly: false })
  expect(res.topics.every((t) => t.errorCode === 0)).toBe(true)
  for (let i = 0; i < 5; i++) {
    const records = encodeRecordBatch(Array.from({ length: i + 1 }, (_, k) => ({ key: `k${k}`, value: 'x'.repeat(100 * i) })))
    const r = await c.request(Produce, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'dl', partitionData: [{ index: 1, records }] }] })
    expect(r.responses[0]!.partitionResponses[0]!.errorCode).toBe(0)
    written[1]! += records.length
  }
})
afterAll(async () => b.stop())

describe('DescribeLogDirs', () => {
  test('every partition and its size in bytes in every version; v4 adds the disk totals', async () => {
    for (let v = 0; v <= 4; v++) {
      const res = await c.request(DescribeLogDirs, v, { topics: null })
      expect(res.results).toHaveLength(1)
      const dir = res.results[0]!
      expect(dir).toMatchObject({ errorCode: 0, logDir: b.dataDir })
      const dl = dir.topics.find((t) => t.name === 'dl')!
      expect(dl.partitions.sort((x, y) => x.partitionIndex - y.partitionIndex)).toEqual([0, 1].map((p) => ({ partitionIndex: p, partitionSize: written[p], offsetLag: 0, isFutureKey: false })))
      expect(dir.topics.map((t) => t.name)).toContain('other')
      if (v >= 4) {
        expect(dir.totalBytes).toBeGreaterThan(0)
        expect(dir.usableBytes).toBeGreaterThan(0)
        expect(dir.usableBytes).toBeLessThanOrEqual(dir.totalBytes)
      }
    }
  })

  test('named partitions only; unknown ones are left out', async () => {
    const res = await c.request(DescribeLogDirs, 4, { topics: [{ topic: 'dl', partitions: [1, 7] }, { topic: 'nope', partitions: [0] }] })
    expect(res.errorCode).toBe(0)
    expect(res.results[0]!.topics).toEqual([{ name: 'dl', partitions: [{ partitionIndex: 1, partitionSize: written[1], offsetLag: 0, isFutureKey: false }] }])
  })
})
