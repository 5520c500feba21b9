import { createServer, type Server, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { FrameDecoder } from '../../../broker/protocol/framing.ts'
import { readRequestHeader, skipTaggedFields, writeResponseHeader } from '../../../broker/protocol/header.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import { decodeRecords, encodeRecordBatch, RecordBatchView, validateBatches } from '../../../broker/protocol/record-batch.ts'
import { Writer } from '../../../broker/protocol/writer.ts'
import { silentLogger, type DriverError } from '../../../workloads/driver.ts'
import { BatchTemplate, encodePlainBatch, RawConnection } from '../../../workloads/drivers/raw.ts'
import { PayloadPool, readPayloadHeader } from '../../../workloads/generators.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`raw.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a))

describe('encodePlainBatch', () => {
  it('is byte-identical to encodeRecordBatch for plain records', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.option(bytes(300), { nil: null }), value: fc.option(bytes(3000), { nil: null }) }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.option(fc.record({ producerId: fc.integer({ min: 0, max: 2 ** 40 }), producerEpoch: fc.integer({ min: 0, max: 32767 }), baseSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }) }), { nil: undefined }),
        (records, timestamp, producer) => {
          const opts = { timestamp, ...producer }
          const fast = encodePlainBatch(records, opts)
          expect(fast).not.toBeNull()
          expect(fast!.equals(encodeRecordBatch(records.map((r) => ({ key: r.key, value: r.value })), opts))).toBe(true)
        },
      ),
      { seed },
    )
  })

  it('declines records it does not handle', () => {
    expect(encodePlainBatch([{ key: null, value: Buffer.from('x'), timestamp: 5 }], { timestamp: 1 })).toBeNull()
    expect(encodePlainBatch([{ key: null, value: null, headers: [{ key: 'h', value: null }] }], { timestamp: 1 })).toBeNull()
    expect(encodePlainBatch([], { timestamp: 1 })).toBeNull()
  })
})

describe('BatchTemplate', () => {
  it('stamps valid batches whose records carry consecutive value ids and the intended time', () => {
    const pool = new PayloadPool(500, 2)
    const t = new BatchTemplate([pool.make(20, 0, 0), pool.make(500, 0, 0), pool.make(77, 0, 0)], [null, Buffer.from('k'), null])
    const b = t.stamp(1000, 42.5, { timestamp: 1_700_000_000_000, producerId: 7, producerEpoch: 1, baseSequence: 30 })
    const other = t.stamp(2000, 1, { timestamp: 1 })
    const checked = validateBatches(b)
    expect('kind' in checked).toBe(false)
    const view = new RecordBatchView(b)
    expect([view.producerId, view.producerEpoch, view.baseSequence, view.baseTimestamp]).toEqual([7, 1, 30, 1_700_000_000_000])
    const recs = decodeRecords(view)
    expect(recs.map((r) => readPayloadHeader(r.value))).toEqual([0, 1, 2].map((i) => ({ valueId: 1000 + i, intendedMs: 42.5 })))
    expect(recs.map((r) => r.value!.length)).toEqual([20, 500, 77])
    expect(recs[1]!.key?.toString()).toBe('k')
    // Stamps are copies: the first is untouched by the second.
    expect(readPayloadHeader(decodeRecords(new RecordBatchView(b))[0]!.value)?.valueId).toBe(1000)
    expect(readPayloadHeader(decodeRecords(new RecordBatchView(other))[0]!.value)?.valueId).toBe(2000)
  })
})

// ---- connection failure semantics, against a server that answers ApiVersions and then misbehaves ----

type Behaviour = 'silent' | 'close' | 'bad-size'

function apiVersionsReply(correlationId: number): Buffer {
  const w = new Writer()
  const setSize = w.reserveInt32()
  writeResponseHeader(w, correlationId, false)
  ApiVersions.response.encode(3, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 9 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }] }, w)
  setSize(w.length - 4)
  return w.toBuffer()
}

const servers: Server[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

async function misbehavingServer(behaviour: Behaviour): Promise<{ port: number; produceRequests: () => number }> {
  let produces = 0
  const server = createServer((sock: Socket) => {
    const frames = new FrameDecoder()
    sock.on('data', (d: Buffer) => {
      frames.push(d)
      for (let frame = frames.next(); frame !== null; frame = frames.next()) {
        const r = new Reader(frame)
        const h = readRequestHeader(r)
        if (h.apiKey === 18) sock.write(apiVersionsReply(h.correlationId))
        else if (h.apiKey === Produce.key) {
          skipTaggedFields(r)
          produces++
          if (behaviour === 'close') sock.destroy()
          if (behaviour === 'bad-size') sock.write(Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0]))
        }
      }
    })
    sock.on('error', () => {})
  })
  servers.push(server)
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  return { port: addr.port, produceRequests: () => produces }
}

function produceOn(conn: RawConnection): Promise<DriverError | null> {
  const version = conn.version(Produce)
  return new Promise((resolve) => {
    conn.request(
      Produce.key,
      version,
      Produce.isFlexible(version),
      (w) => Produce.request.encode(version, { acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: encodeRecordBatch([{ value: 'x' }]) }] }] }, w),
      (err) => resolve(err),
    )
  })
}

const settings = (requestTimeoutMs: number, window: number) => ({ clientId: 'test', tls: undefined, sasl: undefined, requestTimeoutMs, connectTimeoutMs: 5000, window, logger: silentLogger })

describe('RawConnection', () => {
  it('fails an unanswered request with a TIMEOUT that is not definite', async () => {
    const s = await misbehavingServer('silent')
    const conn = new RawConnection('127.0.0.1', s.port, settings(100, 5))
    await conn.open()
    const err = await produceOn(conn)
    expect(err).toMatchObject({ name: 'TIMEOUT', definite: false })
    expect(conn.ready).toBe(false)
  })

  it('fails requests in flight as NETWORK (maybe written) and queued ones as NOT_CONNECTED (definite)', async () => {
    const s = await misbehavingServer('close')
    const conn = new RawConnection('127.0.0.1', s.port, settings(10_000, 1))
    await conn.open()
    const results = await Promise.all([produceOn(conn), produceOn(conn), produceOn(conn)])
    expect(results[0]).toMatchObject({ name: 'NETWORK', definite: false })
    // The window of 1 kept these two off the wire.
    expect(results[1]).toMatchObject({ name: 'NOT_CONNECTED', definite: true })
    expect(results[2]).toMatchObject({ name: 'NOT_CONNECTED', definite: true })
    expect(s.produceRequests()).toBe(1)
    expect(await produceOn(conn)).toMatchObject({ name: 'NOT_CONNECTED', definite: true })
  })

  it('closes the connection on a negative response size, failing what is in flight as maybe written', async () => {
    const s = await misbehavingServer('bad-size')
    const conn = new RawConnection('127.0.0.1', s.port, settings(10_000, 5))
    await conn.open()
    const err = await produceOn(conn)
    expect(err).toMatchObject({ name: 'NETWORK', definite: false })
    expect(err?.message).toContain('bad response size -16')
    expect(conn.ready).toBe(false)
  })

  it('refuses an API the broker does not offer, naming it', async () => {
    const s = await misbehavingServer('silent')
    const conn = new RawConnection('127.0.0.1', s.port, settings(1000, 5))
    await conn.open()
    expect(() => conn.version(ApiVersions)).not.toThrow()
    const { Fetch } = await import('../../../broker/protocol/messages/fetch.ts')
    expect(() => conn.version(Fetch)).toThrow(/does not support Fetch/)
    conn.close()
  })
})
