// Durability under SIGKILL: a producer pipelines acks=-1 writes into a broker with flush.messages=1 (fsync
// before every acknowledgement); the broker is killed with SIGKILL mid-stream, restarted on the same data
// directory, and every acknowledged record must be there, at the offset it was acknowledged with.
// Three kill/restart rounds, so recovery is also exercised on a log that was recovered before.
import { afterAll, describe, expect, test } from 'vitest'
import { Fetch } from '../../broker/protocol/messages/fetch.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../broker/protocol/messages/produce.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches } from '../../broker/protocol/record-batch.ts'
import { loopbackHost, startBroker, tempDir, type BrokerProcess } from '../helpers/broker-process.ts'
import { WireClient } from '../helpers/wire.ts'

const host = loopbackHost()
const dataDir = tempDir()
let broker: BrokerProcess | undefined
afterAll(async () => broker?.kill())

const overrides = { 'log.flush.interval.messages': 1, 'num.partitions': 2, 'log.segment.bytes': 256 * 1024 }

describe('crash recovery', () => {
  test('every record acknowledged with acks=-1 and flush.messages=1 survives SIGKILL', async () => {
    const acked = new Map<string, { partition: number; offset: number }>()
    let port = 0
    let seq = 0
    for (let round = 0; round < 3; round++) {
      broker = await startBroker({ host, port, dataDir, overrides })
      port = broker.port
      const c = await WireClient.connect(host, port)
      await c.request(Metadata, 9, { topics: [{ name: 'durable' }], allowAutoTopicCreation: true })
      // Pipeline produce requests until the broker dies under us.
      const killAfter = 300 + Math.floor(Math.random() * 700)
      const killer = setTimeout(() => void broker!.kill('SIGKILL'), killAfter)
      const inflight: Promise<void>[] = []
      for (;;) {
        if (c.closed || inflight.length > 5000) break
        const values = Array.from({ length: 10 }, () => `r${round}-v${seq++}`)
        const partition = seq % 2
        const id = c.send(Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: 'durable', partitionData: [{ index: partition, records: encodeRecordBatch(values.map((value) => ({ value }))) }] }] })
        inflight.push(
          c.receive(Produce, 9).then(
            ({ correlationId, body }) => {
              expect(correlationId).toBe(id)
              const pr = body.responses[0]!.partitionResponses[0]!
              if (pr.errorCode === 0) values.forEach((v, i) => acked.set(v, { partition, offset: pr.baseOffset + i }))
            },
            () => undefined, // the connection died before the answer: not acknowledged
          ),
        )
        await new Promise((r) => setImmediate(r))
      }
      clearTimeout(killer)
      await broker.kill('SIGKILL')
      await Promise.allSettled(inflight)
      c.close()
    }
    expect(acked.size).toBeGreaterThan(100)

    broker = await startBroker({ host, port, dataDir, overrides })
    const c = await WireClient.connect(host, port)
    const found = new Map<string, { partition: number; offset: number }>()
    for (const partition of [0, 1]) {
      let offset = 0
      for (;;) {
        const res = await c.request(Fetch, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 4 << 20, topics: [{ topic: 'durable', partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 4 << 20 }] }] })
        const p = res.responses[0]!.partitions[0]!
        expect(p.errorCode).toBe(0)
        const batches = [...iterateBatches(p.records ?? Buffer.alloc(0))]
        if (batches.length === 0) break
        for (const b of batches) {
          expect(b.isCrcValid()).toBe(true)
          for (const r of decodeRecords(b)) if (r.offset >= offset) found.set(r.value!.toString(), { partition, offset: r.offset })
        }
        offset = batches.at(-1)!.lastOffset + 1
      }
    }
    const lost = [...acked].filter(([v, at]) => {
      const f = found.get(v)
      return !f || f.partition !== at.partition || f.offset !== at.offset
    })
    console.log(`crash test: ${acked.size} acknowledged records, ${found.size} stored, ${lost.length} lost or moved`)
    expect(lost).toEqual([])
    c.close()
  })
})
