import { createHash } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { FrameDecoder } from '../../../broker/protocol/framing.ts'
import { readRequestHeader, skipTaggedFields, writeResponseHeader } from '../../../broker/protocol/header.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import { decodeRecords, encodeRecordBatch, RecordBatchView, validateBatches } from '../../../broker/protocol/record-batch.ts'
import { Writer } from '../../../broker/protocol/writer.ts'
import { silentLogger, type DriverError } from '../../../workloads/driver.ts'
import { BatchTemplate, RawCluster, RawConnection } from '../../../workloads/drivers/raw.ts'
import { produceError } from '../../../workloads/drivers/raw/common.ts'
import { PayloadPool, readPayloadHeader } from '../../../workloads/generators.ts'

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

  it('writes the bytes it wrote before it shared the RecordBatch encoder (recorded digests)', () => {
    const values = [20, 100, 1000, 37].map((n, i) => Buffer.from(Array.from({ length: n }, (_, j) => (i * 31 + j * 7) & 0xff)))
    const t = new BatchTemplate(values, [null, Buffer.from('key'), null, Buffer.alloc(0)])
    const digest = (b: Buffer): string => `${b.length} ${createHash('sha256').update(b).digest('hex')}`
    expect(digest(t.stamp(5000, 1234.5, { timestamp: 1_700_000_000_123, producerId: 2 ** 40 + 3, producerEpoch: 2, baseSequence: 77 }))).toBe('1253 11404a8f137d2b098d7abee351431432a563d2d7ceb2a63f921bd30785ef146f')
    expect(digest(t.stamp(0, 0, { timestamp: 0 }))).toBe('1253 e974c65eb4135869dcabe52ac07519826d18d880424cedb7aa181be6ddeb65ca')
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
  return { port: await listening(server), produceRequests: () => produces }
}

/** Listens on a loopback port, closed after the test. */
async function listening(server: Server): Promise<number> {
  servers.push(server)
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  return addr.port
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
  it('is closed before a timed-out request fails, so a failure handler looking for a connection does not get it', async () => {
    const s = await misbehavingServer('silent')
    const conn = new RawConnection('127.0.0.1', s.port, settings(100, 5))
    await conn.open()
    let closeHeard = false
    conn.onClose(() => (closeHeard = true))
    const seen = await new Promise<{ ready: boolean; closeHeard: boolean; err: DriverError | null }>((resolve) => {
      const version = conn.version(Produce)
      conn.request(Produce.key, version, Produce.isFlexible(version), (w) => Produce.request.encode(version, { acks: -1, timeoutMs: 1000, topicData: [] }, w), (err) =>
        resolve({ ready: conn.ready, closeHeard, err }),
      )
    })
    expect(seen).toMatchObject({ ready: false, closeHeard: true, err: { name: 'TIMEOUT', definite: false } })
  })

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

describe('produceError', () => {
  it('under acks=all, NOT_LEADER_OR_FOLLOWER may come after the append: not definite; under acks=1 it is', () => {
    expect(produceError(6, null, -1)).toMatchObject({ name: 'NOT_LEADER_OR_FOLLOWER', definite: false })
    expect(produceError(6, null, 1)).toMatchObject({ name: 'NOT_LEADER_OR_FOLLOWER', definite: true })
    expect(produceError(7, null, -1)).toMatchObject({ name: 'REQUEST_TIMED_OUT', definite: false })
    expect(produceError(10, null, -1)).toMatchObject({ name: 'MESSAGE_TOO_LARGE', definite: true })
  })
})

// ---- metadata: a broker that answers with an older leader epoch (one resumed after a pause) is not believed ----

async function metadataServer(): Promise<{ port: number; answer: (leaderId: number, leaderEpoch: number) => void }> {
  let leader = { leaderId: -1, leaderEpoch: -1 }
  const server = createServer((sock: Socket) => {
    const frames = new FrameDecoder()
    sock.on('data', (d: Buffer) => {
      frames.push(d)
      for (let frame = frames.next(); frame !== null; frame = frames.next()) {
        const h = readRequestHeader(new Reader(frame))
        const w = new Writer()
        const setSize = w.reserveInt32()
        writeResponseHeader(w, h.correlationId, false)
        if (h.apiKey === ApiVersions.key) {
          ApiVersions.response.encode(3, { errorCode: 0, apiKeys: [{ apiKey: ApiVersions.key, minVersion: 0, maxVersion: 3 }, { apiKey: Metadata.key, minVersion: 0, maxVersion: 8 }] }, w)
        } else {
          const partitions = [{ errorCode: 0, partitionIndex: 0, ...leader, replicaNodes: [1, 2, 3], isrNodes: [1, 2, 3], offlineReplicas: [] }]
          Metadata.response.encode(8, { brokers: [1, 2, 3].map((nodeId) => ({ nodeId, host: '127.0.0.1', port: 1 })), controllerId: 1, topics: [{ errorCode: 0, name: 't', partitions }] }, w)
        }
        setSize(w.length - 4)
        sock.write(w.toBuffer())
      }
    })
    sock.on('error', () => {})
  })
  return { port: await listening(server), answer: (leaderId, leaderEpoch) => (leader = { leaderId, leaderEpoch }) }
}

describe('RawCluster', () => {
  it('keeps the leader of a partition when a refresh names an older leader epoch (KIP-320), and takes a newer one', async () => {
    const s = await metadataServer()
    const cluster = new RawCluster({ bootstrap: [`127.0.0.1:${s.port}`] }, 5)
    try {
      s.answer(2, 5)
      await cluster.refresh(['t'])
      expect(cluster.leaderOf('t', 0)).toBe(2)
      s.answer(1, 4)
      await cluster.refresh(['t'])
      expect(cluster.leaderOf('t', 0)).toBe(2)
      s.answer(3, 6)
      await cluster.refresh(['t'])
      expect(cluster.leaderOf('t', 0)).toBe(3)
    } finally {
      cluster.close()
    }
  })
})
