import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../../broker/protocol/record-batch.ts'
import { startInProcessBroker, WireClient, type InProcessBroker } from '../../helpers/wire.ts'

let b: InProcessBroker
beforeAll(async () => {
  b = await startInProcessBroker({ 'socket.request.max.bytes': String(1024 * 1024) })
  const c = await b.client()
  await c.request(CreateTopics, 7, { topics: [{ name: 'conn', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 })
  c.close()
})
afterAll(async () => b.stop())

async function alive(): Promise<void> {
  const c = await b.client()
  const res = await c.request(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })
  expect(res.errorCode).toBe(0)
  c.close()
}

describe('connection', () => {
  test('ApiVersions lists the registry; a newer version gets a v0 body with UNSUPPORTED_VERSION (KIP-511)', async () => {
    const c = await b.client()
    const v3 = await c.request(ApiVersions, 3, {})
    expect(v3.apiKeys.find((k) => k.apiKey === Produce.key)).toEqual({ apiKey: 0, minVersion: 0, maxVersion: 11 })
    // Hand-made v9 header: the body is never parsed, the answer is a v0 body.
    const { frame } = c.encode(ApiVersions, 3, {})
    frame.writeInt16BE(9, 6)
    c.writeRaw(frame)
    const res = await c.receive(ApiVersions, 0)
    expect(res.body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    expect(res.body.apiKeys.map((k) => k.apiKey)).toEqual(v3.apiKeys.map((k) => k.apiKey))
  })

  test('pipelined requests are answered in order even when an earlier one waits (long poll)', async () => {
    const c = await b.client()
    const ids: number[] = []
    ids.push(c.send(Fetch, 12, { replicaId: -1, maxWaitMs: 300, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: 'conn', partitions: [{ partition: 0, fetchOffset: 1_000_000_000, partitionMaxBytes: 1 << 20 }] }] }))
    for (let i = 0; i < 20; i++) ids.push(c.send(ApiVersions, 3, {}))
    const first = await c.receive(Fetch, 12)
    expect(first.correlationId).toBe(ids[0])
    for (let i = 1; i < ids.length; i++) expect((await c.receive(ApiVersions, 3)).correlationId).toBe(ids[i])
  })

  test('Produce with acks=0 gets no response, the next request does', async () => {
    const c = await b.client()
    c.send(Produce, 9, { acks: 0, timeoutMs: 1000, topicData: [{ name: 'conn', partitionData: [{ index: 0, records: encodeRecordBatch([{ value: 'x' }]) }] }] })
    const id = c.send(ApiVersions, 3, {})
    expect((await c.receive(ApiVersions, 3)).correlationId).toBe(id)
  })

  test('a frame larger than socket.request.max.bytes closes that connection only', async () => {
    const c = await b.client()
    const size = Buffer.alloc(4)
    size.writeInt32BE(2 * 1024 * 1024)
    c.writeRaw(size)
    expect(await c.nextFrame()).toBeNull()
    await alive()
  })

  test('a negative frame size, an unknown API key and an unsupported version close the connection', async () => {
    for (const mutate of [(f: Buffer) => f.writeInt32BE(-5, 0), (f: Buffer) => f.writeInt16BE(999, 4), (f: Buffer) => f.writeInt16BE(1, 6)]) {
      const c = await b.client()
      const { frame } = c.encode(Metadata, 9, { topics: null })
      mutate(frame)
      c.writeRaw(frame)
      expect(await c.nextFrame()).toBeNull()
    }
    await alive()
  })

  test('responses already due are written before a malformed frame closes the connection', async () => {
    const c = await b.client()
    const id = c.send(ApiVersions, 3, {})
    const { frame } = c.encode(Metadata, 12, { topics: null })
    c.writeRaw(frame.subarray(0, frame.length - 3).fill(0xff, 14))
    c.writeRaw(Buffer.from([0, 0, 0, 10, 0, 3, 0, 12, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x7f]))
    expect((await c.receive(ApiVersions, 3)).correlationId).toBe(id)
    expect(await c.nextFrame()).toBeNull()
  })

  test('random bytes and truncated or corrupted frames never take the broker down (property)', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now())
    console.log(`connection fuzz seed=${seed}`)
    const probe = await b.client()
    const valid = [
      probe.encode(Metadata, 12, { topics: [{ name: 'conn' }] }).frame,
      probe.encode(Produce, 9, { acks: 1, timeoutMs: 100, topicData: [{ name: 'conn', partitionData: [{ index: 0, records: encodeRecordBatch([{ value: 'v' }]) }] }] }).frame,
      probe.encode(Fetch, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1000, topics: [{ topic: 'conn', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1000 }] }] }).frame,
      probe.encode(CreateTopics, 4, { topics: [{ name: 'x', numPartitions: 1, replicationFactor: 1 }] }).frame,
    ]
    probe.close()
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
          fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([f, at, junk]) => {
            const copy = Buffer.from(f)
            Buffer.from(junk).copy(copy, 4 + (at % Math.max(1, copy.length - 4)))
            return copy
          }),
          fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([f, n]) => {
            // Keep the size prefix honest so the body itself is truncated.
            const cut = 4 + (n % (f.length - 4))
            const t = Buffer.from(f.subarray(0, cut))
            t.writeInt32BE(cut - 4, 0)
            return t
          }),
        ),
        async (bytes) => {
          const c = await WireClient.connect(b.host, b.port)
          c.writeRaw(bytes)
          // Whatever happens to this connection, a fresh one must be served. The pause lets the broker read the
          // bytes before the close: part of the input, not a wait for something.
          await new Promise((r) => setTimeout(r, 2))
          c.close()
          await alive()
        },
      ),
      { seed, numRuns: 150 },
    )
  })
})
