// Byte-for-byte comparison with the protocol code of the clients the broker must serve unmodified:
// kafkajs (classic versions, src/protocol/requests/<api>/v<N>/) and @platformatic/kafka (mostly flexible
// versions, exported as <api>V<N> from the package). For each API and each version a client uses that we
// declare: the same request encoded by the client and by our declaration gives the same body bytes, and a
// response encoded by our declaration parses with the client's own parser into the fields we put in.
//
// Known client deviations from Kafka's schemas, checked here so that a change on either side is noticed:
// - platformatic's readTaggedFields reads the tag count as a zig-zag varint and skips that many bytes, so
//   any non-empty tag section (ours or Kafka's) desynchronises it: responses it parses must carry their
//   tagged fields at their defaults (then nothing is written).
// - platformatic zig-zags varlongs with `>> 31n` instead of `>> 63n`: record timestamp deltas of 2^31 ms or
//   more come out wrong, so the batches compared here keep their timestamps within 2^31 ms of each other.
// - platformatic Fetch v12 writes forgotten topics as UUIDs (the v13 layout); only an empty list matches.
// - platformatic Metadata v11 still writes includeClusterAuthorizedOperations (dropped in v11), and
//   DescribeConfigs v2 uses the v3 layout. It negotiates Metadata v12 and DescribeConfigs v4 against us.
// - kafkajs writes an empty array as null where the field is nullable (Metadata topics: "all topics";
//   DescribeConfigs keys: "all keys") and cannot write null itself.

import { createRequire } from 'node:module'
import { createServer, type Server, type Socket } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import * as plt from '@platformatic/kafka'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readRequestHeader, readResponseHeader, skipTaggedFields, writeRequestHeader, writeResponseHeader } from '../../../broker/protocol/header.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DeleteTopics } from '../../../broker/protocol/messages/delete-topics.ts'
import { DescribeConfigs } from '../../../broker/protocol/messages/describe-configs.ts'
import { Fetch } from '../../../broker/protocol/messages/fetch.ts'
import { ListOffsets } from '../../../broker/protocol/messages/list-offsets.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { Produce } from '../../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch, type RecordInput } from '../../../broker/protocol/record-batch.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import type { ApiDecl, Fields, In } from '../../../broker/protocol/schema.ts'
import { Writer } from '../../../broker/protocol/writer.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`differential.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)
const runs = { seed, numRuns: 40 }

const require = createRequire(import.meta.url)

// Both clients are untyped at this depth (kafkajs is JS; platformatic's internals take loose shapes).
// biome-ignore lint: third-party protocol objects are untyped
type Js = any

// ---- plumbing ----

interface KjsRequest {
  apiKey: number
  apiVersion: number
  encode(): Promise<{ buffer: Buffer }>
}
interface KjsVersion {
  request: (args: Js) => KjsRequest
  response: { decode(buf: Buffer): Promise<Js> }
}
const kafkajs = (api: string, v: number): KjsVersion => ({
  request: require(`kafkajs/src/protocol/requests/${api}/v${v}/request.js`),
  response: require(`kafkajs/src/protocol/requests/${api}/v${v}/response.js`),
})

async function kjsBody(req: KjsRequest, apiKey: number, v: number): Promise<Buffer> {
  expect(req.apiKey).toBe(apiKey)
  expect(req.apiVersion).toBe(v)
  return (await req.encode()).buffer
}

function ours<F extends Fields>(api: ApiDecl<F, Fields>, v: number, value: In<F>): Buffer {
  return api.request.encode(v, value).toBuffer()
}
function ourResponse<F extends Fields>(api: ApiDecl<Fields, F>, v: number, value: In<F>): Buffer {
  return api.response.encode(v, value).toBuffer()
}

interface PltModule {
  createRequest: (...args: Js[]) => { buffer: Buffer }
  parseResponse: (correlationId: number, apiKey: number, apiVersion: number, reader: Js) => Js
  api: Js
}
const pltMod = (m: unknown) => m as PltModule

/** platformatic's parser, returning the parsed response even when it reports error codes by throwing. */
function pltParse(m: PltModule, apiKey: number, v: number, body: Buffer): Js {
  try {
    return m.parseResponse(1, apiKey, v, plt.Reader.from(body))
  } catch (err) {
    const response = (err as { response?: unknown }).response
    if (response === undefined) throw err
    return response
  }
}

/** Plain data for comparison: fast-check may build null-prototype objects, the clients build class instances. */
function plain(x: unknown): unknown {
  if (Buffer.isBuffer(x)) return { hex: x.toString('hex') }
  if (Array.isArray(x)) return x.map(plain)
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, plain(y)]))
  return x
}
const same = (a: unknown, b: unknown) => isDeepStrictEqual(plain(a), plain(b))
const hexOf = (b: Buffer | null) => (b === null ? null : b.toString('hex'))
const dashed = (u: string) => u.replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5')
const big = (n: number) => BigInt(n)

// ---- generators ----

const name = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 })
const text = fc.string({ unit: 'binary', maxLength: 10 })
const nullableText = fc.option(text, { nil: null })
const i8 = fc.integer({ min: -128, max: 127 })
// Error codes Kafka has defined (platformatic fails with a TypeError while reporting an unknown one).
const errorCode = fc.integer({ min: -1, max: 127 })
const i16 = fc.integer({ min: -32768, max: 32767 })
const i32 = fc.integer()
const i64 = fc.maxSafeInteger()
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a).toString('hex'))
const bytes = fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a))
const list = <T>(a: fc.Arbitrary<T>, maxLength = 3) => fc.array(a, { maxLength })
/** Topic names that are unique and never integer-like (platformatic groups by object keys). */
const topicNames = (maxLength = 3) => fc.uniqueArray(name.map((n) => `t${n}`), { minLength: 1, maxLength })
// kafkajs sorts timestamps as strings, so they all have 13 digits, like real ones; and they lie within 2^31 ms
// of each other, because platformatic writes varlongs of 2^31 and more wrongly (see the primitives).
const timestamp = fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 2 ** 31 - 1 })
const message = fc.record({
  key: fc.option(bytes, { nil: null }),
  value: fc.option(bytes, { nil: null }),
  timestamp,
  headers: fc.uniqueArray(fc.record({ key: name.map((k) => `h${k}`), value: bytes }), { maxLength: 2, selector: (h) => h.key }),
})
type Message = typeof message extends fc.Arbitrary<infer T> ? T : never
const toRecordInputs = (ms: readonly Message[]): RecordInput[] => ms.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp, headers: m.headers }))

// ---- primitives ----

describe('primitives against kafkajs Encoder and platformatic Writer', () => {
  const KjsEncoder = require('kafkajs/src/protocol/encoder.js') as new () => Js

  it('varint and varlong bytes match kafkajs', () => {
    fc.assert(
      fc.property(i32, i64, (a, b) => {
        const theirs = new KjsEncoder().writeVarInt(a).writeVarLong(b).buffer as Buffer
        return new Writer().varint(a).varlong(b).toBuffer().equals(theirs)
      }),
      { seed },
    )
  })

  it('varint, varlong (within int32), uvarint and compact strings match platformatic', () => {
    fc.assert(
      fc.property(i32, i32, fc.integer({ min: 0, max: 0xffffffff }), nullableText, (a, b, u, s) => {
        const theirs = plt.Writer.create().appendVarInt(a).appendVarInt64(BigInt(b)).appendUnsignedVarInt(u).appendString(s).buffer
        return new Writer().varint(a).varlong(b).uvarint(u).compactNullableString(s).toBuffer().equals(theirs)
      }),
      { seed },
    )
  })

  it('platformatic zig-zags varlongs with a 31-bit shift, so its bytes are wrong from 2^31 on (client bug)', () => {
    const theirs = plt.Writer.create().appendVarInt64(2n ** 31n).buffer
    expect(new Writer().varlong(2 ** 31).toBuffer().equals(theirs)).toBe(false)
    expect(new Reader(theirs).varlong()).not.toBe(2 ** 31)
    expect(new KjsEncoder().writeVarLong(2 ** 31).buffer.equals(new Writer().varlong(2 ** 31).toBuffer())).toBe(true)
  })

  it('int64 bytes match both clients across the safe range', () => {
    fc.assert(
      fc.property(i64, (v) => {
        const ourBytes = new Writer().int64(v).toBuffer()
        return ourBytes.equals(new KjsEncoder().writeInt64(v).buffer) && ourBytes.equals(plt.Writer.create().appendInt64(BigInt(v)).buffer)
      }),
      { seed },
    )
  })
})

// ---- request headers ----

describe('request header', () => {
  const kjsFrame = require('kafkajs/src/protocol/request.js') as (a: Js) => Promise<{ buffer: Buffer }>

  it('v1 matches the frame kafkajs writes (size, header, body)', async () => {
    await fc.assert(
      fc.asyncProperty(i32, fc.option(text, { nil: null }), fc.constantFrom(0, 1, 2), async (correlationId, clientId, v) => {
        const frame = (await kjsFrame({ correlationId, clientId, request: kafkajs('apiVersions', v).request({}) })).buffer
        expect(frame.readInt32BE(0)).toBe(frame.length - 4)
        const w = new Writer()
        writeRequestHeader(w, { apiKey: 18, apiVersion: v, correlationId, clientId }, false)
        expect(frame.subarray(4).toString('hex')).toBe(w.toBuffer().toString('hex'))
        expect(readRequestHeader(new Reader(frame, 4))).toEqual({ apiKey: 18, apiVersion: v, correlationId, clientId })
      }),
      runs,
    )
  })
})

// platformatic builds its header inside Connection.send, so its header is checked over loopback TCP: a
// real platformatic Connection talks to a socket that answers with our encoder.
describe('platformatic Connection over loopback', () => {
  let server: Server
  let port = 0
  let answer: (header: ReturnType<typeof readRequestHeader>, body: Reader) => Buffer = () => Buffer.alloc(0)

  beforeAll(async () => {
    server = createServer((socket: Socket) => {
      let pending = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
          const frame = pending.subarray(4, 4 + pending.readInt32BE(0))
          pending = pending.subarray(4 + frame.length)
          const r = new Reader(frame)
          const header = readRequestHeader(r)
          const body = answer(header, r)
          const out = Buffer.alloc(4)
          out.writeInt32BE(body.length)
          socket.write(Buffer.concat([out, body]))
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  async function roundTrip(mod: PltModule, args: unknown[], reply: (header: ReturnType<typeof readRequestHeader>, body: Reader) => Buffer): Promise<Js> {
    answer = reply
    const conn = new plt.Connection('faultline-test')
    await conn.connect('127.0.0.1', port)
    try {
      return await new Promise((resolve, reject) => mod.api(conn, ...args, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))))
    } finally {
      await conn.close()
    }
  }

  it('Metadata v12: request header v2, response header v1, body both ways', async () => {
    const response: In<typeof Metadata.response.fields> = {
      throttleTimeMs: 3,
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
      clusterId: 'c1',
      controllerId: 1,
      topics: [{ errorCode: 0, name: 'orders', topicId: '0123456789abcdef0123456789abcdef', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 4, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }], topicAuthorizedOperations: -2147483648 }],
    }
    const got = await roundTrip(pltMod(plt.metadataV12), [['orders'], true, false], (header, body) => {
      expect(header).toMatchObject({ apiKey: 3, apiVersion: 12, clientId: 'faultline-test' })
      skipTaggedFields(body)
      expect(Metadata.request.decode(12, body)).toMatchObject({ topics: [{ name: 'orders' }], allowAutoTopicCreation: true })
      expect(body.remaining).toBe(0)
      const w = new Writer()
      writeResponseHeader(w, header.correlationId, true)
      Metadata.response.encode(12, response, w)
      return w.toBuffer()
    })
    expect(got.topics[0]).toMatchObject({ name: 'orders', topicId: '01234567-89ab-cdef-0123-456789abcdef', partitions: [{ leaderEpoch: 4 }] })
    expect(got.clusterId).toBe('c1')
  })

  it('ApiVersions v3: request header v2, but the response header stays v0 (KIP-511)', async () => {
    const got = await roundTrip(pltMod(plt.apiVersionsV3), ['faultline', '1.0'], (header, body) => {
      expect(header).toMatchObject({ apiKey: 18, apiVersion: 3 })
      skipTaggedFields(body)
      expect(ApiVersions.request.decode(3, body)).toEqual({ clientSoftwareName: 'faultline', clientSoftwareVersion: '1.0' })
      const w = new Writer()
      writeResponseHeader(w, header.correlationId, false)
      ApiVersions.response.encode(3, { errorCode: 0, apiKeys: [{ apiKey: 3, minVersion: 1, maxVersion: 12 }], throttleTimeMs: 0 }, w)
      return w.toBuffer()
    })
    expect(got.apiKeys).toEqual([{ apiKey: 3, name: 'Metadata', minVersion: 1, maxVersion: 12 }])
  })

  it('ListOffsets v5: classic request header v1 and response header v0', async () => {
    const got = await roundTrip(pltMod(plt.listOffsetsV5), [-1, 0, [{ name: 'orders', partitions: [{ partitionIndex: 2, currentLeaderEpoch: -1, timestamp: -1n }] }]], (header, body) => {
      expect(header).toMatchObject({ apiKey: 2, apiVersion: 5 })
      expect(ListOffsets.request.decode(5, body).topics[0]!.partitions[0]).toMatchObject({ partitionIndex: 2, timestamp: -1 })
      expect(body.remaining).toBe(0)
      const w = new Writer()
      writeResponseHeader(w, header.correlationId, false)
      ListOffsets.response.encode(5, { topics: [{ name: 'orders', partitions: [{ partitionIndex: 2, errorCode: 0, timestamp: -1, offset: 42, leaderEpoch: 0 }] }] }, w)
      return w.toBuffer()
    })
    expect(got.topics[0].partitions[0]).toMatchObject({ partitionIndex: 2, offset: 42n })
  })
})

// ---- Produce ----

describe('Produce', () => {
  const produceTopics = topicNames(2).chain((names) =>
    fc.tuple(
      ...names.map((n) =>
        fc.record({
          topic: fc.constant(n),
          partitions: fc
            .uniqueArray(fc.nat({ max: 50 }), { minLength: 1, maxLength: 2 })
            .map((ps) => ps.sort((a, b) => a - b))
            .chain((ps) => fc.tuple(...ps.map((p) => fc.record({ partition: fc.constant(p), firstSequence: fc.nat({ max: 2 ** 31 - 1 }), messages: fc.array(message, { minLength: 1, maxLength: 3 }) })))),
        }),
      ),
    ),
  )
  const produceRequest = fc.record({
    acks: fc.constantFrom(-1, 0, 1),
    timeout: fc.nat({ max: 2 ** 31 - 1 }),
    transactionalId: fc.option(name, { nil: null }),
    producerId: fc.integer({ min: -1, max: 2 ** 40 }),
    producerEpoch: fc.nat({ max: 32767 }),
    topicData: produceTopics,
  })

  for (const v of [3, 4, 5, 6, 7]) {
    it(`kafkajs v${v} request: same bytes (record batches built independently by each side)`, async () => {
      await fc.assert(
        fc.asyncProperty(produceRequest, async (p) => {
          const theirs = await kjsBody(
            kafkajs('produce', v).request({
              ...p,
              topicData: p.topicData.map((t) => ({ topic: t.topic, partitions: t.partitions.map((x) => ({ ...x, messages: x.messages.map((m) => ({ ...m, headers: Object.fromEntries(m.headers.map((h) => [h.key, h.value])) })) })) })),
            }),
            0,
            v,
          )
          const mine = ours(Produce, v, {
            transactionalId: p.transactionalId,
            acks: p.acks,
            timeoutMs: p.timeout,
            topicData: p.topicData.map((t) => ({
              name: t.topic,
              partitionData: t.partitions.map((x) => ({
                index: x.partition,
                records: encodeRecordBatch(toRecordInputs(x.messages), {
                  timestamp: Math.min(...x.messages.map((m) => m.timestamp)),
                  partitionLeaderEpoch: 0,
                  producerId: p.producerId,
                  producerEpoch: p.producerEpoch,
                  baseSequence: x.firstSequence,
                  transactional: !!p.transactionalId,
                }),
              })),
            })),
          })
          return mine.equals(theirs)
        }),
        runs,
      )
    })
  }

  const produceResponse = (v: number) =>
    fc.record({
      responses: list(
        fc.record({
          name,
          partitionResponses: list(
            fc.record({
              index: i32,
              errorCode,
              baseOffset: i64,
              logAppendTimeMs: i64,
              logStartOffset: i64,
              recordErrors: v >= 8 ? list(fc.record({ batchIndex: i32, batchIndexErrorMessage: nullableText }), 2) : fc.constant<{ batchIndex: number; batchIndexErrorMessage: string | null }[]>([]),
              errorMessage: v >= 8 ? nullableText : fc.constant<string | null>(null),
            }),
          ),
        }),
      ),
      throttleTimeMs: i32,
    })

  for (const v of [3, 4, 5, 6, 7]) {
    it(`kafkajs v${v} response: decodes our encoding`, async () => {
      await fc.assert(
        fc.asyncProperty(produceResponse(v), async (res) => {
          const got = await kafkajs('produce', v).response.decode(ourResponse(Produce, v, res))
          const want = res.responses.map((t) => ({
            topicName: t.name,
            partitions: t.partitionResponses.map((p) => ({
              partition: p.index,
              errorCode: p.errorCode,
              baseOffset: String(p.baseOffset),
              logAppendTime: String(p.logAppendTimeMs),
              ...(v >= 5 ? { logStartOffset: String(p.logStartOffset) } : {}),
            })),
          }))
          return same(got.topics, want) && (got.clientSideThrottleTime ?? got.throttleTime) === res.throttleTimeMs
        }),
        runs,
      )
    })
  }

  const pltProduce = { 7: plt.produceV7, 8: plt.produceV8, 9: plt.produceV9 } as const
  for (const v of [7, 8, 9] as const) {
    it(`platformatic v${v} request: same bytes`, () => {
      fc.assert(
        fc.property(produceRequest, (p) => {
          const messages = p.topicData.flatMap((t) =>
            t.partitions.flatMap((x) =>
              x.messages.map((m) => ({ topic: t.topic, partition: x.partition, key: m.key, value: m.value, timestamp: big(m.timestamp), headers: new Map(m.headers.map((h) => [Buffer.from(h.key), h.value])) })),
            ),
          )
          const options = { transactionalId: p.transactionalId ?? undefined, producerId: big(p.producerId), producerEpoch: p.producerEpoch }
          const theirs = pltMod(pltProduce[v]).createRequest(p.acks, p.timeout, messages, options).buffer
          const mine = ours(Produce, v, {
            transactionalId: p.transactionalId,
            acks: p.acks,
            timeoutMs: p.timeout,
            topicData: p.topicData.map((t) => ({
              name: t.topic,
              partitionData: t.partitions.map((x) => ({
                index: x.partition,
                // platformatic takes the first message's timestamp as the base, as encodeRecordBatch does.
                records: encodeRecordBatch(toRecordInputs(x.messages), { partitionLeaderEpoch: 0, producerId: p.producerId, producerEpoch: p.producerEpoch, baseSequence: 0, transactional: !!p.transactionalId }),
              })),
            })),
          })
          return mine.equals(theirs)
        }),
        runs,
      )
    })

    it(`platformatic v${v} response: parses our encoding`, () => {
      fc.assert(
        fc.property(produceResponse(v), (res) => {
          const got = pltParse(pltMod(pltProduce[v]), 0, v, ourResponse(Produce, v, res))
          const want = res.responses.map((t) => ({
            name: t.name,
            partitionResponses: t.partitionResponses.map((p) => ({
              index: p.index,
              errorCode: p.errorCode,
              baseOffset: big(p.baseOffset),
              logAppendTimeMs: big(p.logAppendTimeMs),
              logStartOffset: big(p.logStartOffset),
              recordErrors: p.recordErrors,
              errorMessage: p.errorMessage,
            })),
          }))
          return same(got.responses, want) && got.throttleTimeMs === res.throttleTimeMs
        }),
        runs,
      )
    })
  }
})

// ---- Metadata ----

describe('Metadata', () => {
  const metadataResponse = fc.record({
    throttleTimeMs: i32,
    brokers: list(fc.record({ nodeId: i32, host: name, port: i32, rack: fc.option(name, { nil: null }) })),
    clusterId: fc.option(name, { nil: null }),
    controllerId: i32,
    topics: list(
      fc.record({
        errorCode,
        name,
        topicId: uuid,
        isInternal: fc.boolean(),
        partitions: list(
          fc.record({ errorCode, partitionIndex: i32, leaderId: i32, leaderEpoch: i32, replicaNodes: list(i32), isrNodes: list(i32), offlineReplicas: list(i32) }),
        ),
        topicAuthorizedOperations: i32,
      }),
    ),
    clusterAuthorizedOperations: i32,
  })

  it('kafkajs v0 request: same bytes (an empty list stays empty: v0 has no null, empty means all topics)', async () => {
    await fc.assert(
      fc.asyncProperty(list(name), async (topics) => {
        const theirs = await kjsBody(kafkajs('metadata', 0).request({ topics }), 3, 0)
        return ours(Metadata, 0, { topics: topics.map((n) => ({ name: n })) }).equals(theirs)
      }),
      runs,
    )
  })

  it('kafkajs v0 response: decodes our encoding (no rack, controller, cluster id or isInternal in v0)', async () => {
    await fc.assert(
      fc.asyncProperty(metadataResponse, async (res) => {
        const got = await kafkajs('metadata', 0).response.decode(ourResponse(Metadata, 0, res))
        const want = {
          brokers: res.brokers.map(({ nodeId, host, port }) => ({ nodeId, host, port })),
          topicMetadata: res.topics.map((t) => ({
            topicErrorCode: t.errorCode,
            topic: t.name,
            partitionMetadata: t.partitions.map((p) => ({ partitionErrorCode: p.errorCode, partitionId: p.partitionIndex, leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes })),
          })),
        }
        return same(got, want)
      }),
      runs,
    )
  })

  for (const v of [1, 2, 3, 4, 5, 6]) {
    it(`kafkajs v${v} request: same bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(list(name), fc.boolean(), async (topics, allowAutoTopicCreation) => {
          const theirs = await kjsBody(kafkajs('metadata', v).request({ topics, allowAutoTopicCreation }), 3, v)
          // kafkajs sends an empty topic list as null ("all topics"), and cannot send null itself.
          const mine = ours(Metadata, v, { topics: topics.length === 0 ? null : topics.map((n) => ({ name: n })), allowAutoTopicCreation })
          return mine.equals(theirs)
        }),
        runs,
      )
    })

    it(`kafkajs v${v} response: decodes our encoding`, async () => {
      await fc.assert(
        fc.asyncProperty(metadataResponse, async (res) => {
          const got = await kafkajs('metadata', v).response.decode(ourResponse(Metadata, v, res))
          const want = {
            brokers: res.brokers,
            controllerId: res.controllerId,
            topicMetadata: res.topics.map((t) => ({
              topicErrorCode: t.errorCode,
              topic: t.name,
              isInternal: t.isInternal,
              partitionMetadata: t.partitions.map((p) => ({
                partitionErrorCode: p.errorCode,
                partitionId: p.partitionIndex,
                leader: p.leaderId,
                replicas: p.replicaNodes,
                isr: p.isrNodes,
                ...(v >= 5 ? { offlineReplicas: p.offlineReplicas } : {}),
              })),
            })),
          }
          const checks = [same(got.brokers, want.brokers), got.controllerId === want.controllerId, same(got.topicMetadata, want.topicMetadata)]
          if (v >= 2) checks.push(got.clusterId === res.clusterId)
          if (v >= 3) checks.push((got.clientSideThrottleTime ?? got.throttleTime) === res.throttleTimeMs)
          return checks.every(Boolean)
        }),
        runs,
      )
    })
  }

  const pltMetadata = { 9: plt.metadataV9, 10: plt.metadataV10, 11: plt.metadataV11, 12: plt.metadataV12 } as const

  it('platformatic v11 request keeps includeClusterAuthorizedOperations, which v11 dropped: it is our v10 layout (client bug)', () => {
    fc.assert(
      fc.property(fc.option(list(name), { nil: null }), fc.boolean(), fc.boolean(), (topics, auto, ops) => {
        const theirs = pltMod(pltMetadata[11]).createRequest(topics, auto, ops).buffer
        return ours(Metadata, 10, { topics: topics && topics.map((n) => ({ name: n })), allowAutoTopicCreation: auto, includeTopicAuthorizedOperations: ops }).equals(theirs)
      }),
      runs,
    )
  })

  for (const v of [9, 10, 12] as const) {
    it(`platformatic v${v} request: same bytes`, () => {
      fc.assert(
        fc.property(fc.option(list(name), { nil: null }), fc.boolean(), fc.boolean(), (topics, auto, ops) => {
          const theirs = pltMod(pltMetadata[v]).createRequest(topics, auto, ops).buffer
          const mine = ours(Metadata, v, { topics: topics && topics.map((n) => ({ name: n })), allowAutoTopicCreation: auto, includeTopicAuthorizedOperations: ops })
          return mine.equals(theirs)
        }),
        runs,
      )
    })
  }

  for (const v of [9, 10, 11, 12] as const) {
    it(`platformatic v${v} response: parses our encoding`, () => {
      fc.assert(
        fc.property(metadataResponse, (res) => {
          const got = pltParse(pltMod(pltMetadata[v]), 3, v, ourResponse(Metadata, v, res))
          const want = {
            throttleTimeMs: res.throttleTimeMs,
            brokers: res.brokers,
            clusterId: res.clusterId,
            controllerId: res.controllerId,
            topics: res.topics.map((t) => ({
              errorCode: t.errorCode,
              name: t.name,
              // platformatic v9 fills topicId with the name (v9 has no ids).
              topicId: v >= 10 ? dashed(t.topicId) : t.name,
              isInternal: t.isInternal,
              partitions: t.partitions,
              topicAuthorizedOperations: t.topicAuthorizedOperations,
            })),
          }
          return same(got, want)
        }),
        runs,
      )
    })
  }
})

// ---- Fetch ----

describe('Fetch', () => {
  const fetchRequest = fc.record({
    replicaId: i32,
    maxWaitTime: i32,
    minBytes: i32,
    maxBytes: i32,
    isolationLevel: fc.constantFrom(0, 1),
    sessionId: i32,
    sessionEpoch: i32,
    rackId: text,
    topics: list(
      fc.record({
        topic: name,
        partitions: list(fc.record({ partition: i32, currentLeaderEpoch: i32, fetchOffset: i64, logStartOffset: i64, maxBytes: i32, lastFetchedEpoch: i32 })),
      }),
    ),
    forgottenTopics: list(fc.record({ topic: name, partitions: list(i32) })),
  })
  const ourFetchRequest = (r: typeof fetchRequest extends fc.Arbitrary<infer T> ? T : never): In<typeof Fetch.request.fields> => ({
    replicaId: r.replicaId,
    maxWaitMs: r.maxWaitTime,
    minBytes: r.minBytes,
    maxBytes: r.maxBytes,
    isolationLevel: r.isolationLevel,
    sessionId: r.sessionId,
    sessionEpoch: r.sessionEpoch,
    rackId: r.rackId,
    topics: r.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => ({ partition: p.partition, currentLeaderEpoch: p.currentLeaderEpoch, fetchOffset: p.fetchOffset, logStartOffset: p.logStartOffset, partitionMaxBytes: p.maxBytes, lastFetchedEpoch: p.lastFetchedEpoch })),
    })),
    forgottenTopicsData: r.forgottenTopics.map((t) => ({ topic: t.topic, partitions: t.partitions })),
  })

  for (let v = 0; v <= 11; v++) {
    it(`kafkajs v${v} request: same bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(fetchRequest, async (r) => {
          const theirs = await kjsBody(kafkajs('fetch', v).request(r), 1, v)
          return ours(Fetch, v, ourFetchRequest(r)).equals(theirs)
        }),
        runs,
      )
    })
  }

  const batchWith = (messages: Message[], baseOffset: number) => encodeRecordBatch(toRecordInputs(messages), { baseOffset })
  const fetchResponse = fc.record({
    throttleTimeMs: i32,
    errorCode,
    sessionId: i32,
    responses: list(
      fc.record({
        topic: name,
        partitions: list(
          fc.record({
            partitionIndex: i32,
            errorCode,
            highWatermark: i64,
            lastStableOffset: i64,
            logStartOffset: i64,
            abortedTransactions: fc.option(list(fc.record({ producerId: i64, firstOffset: i64 })), { nil: null }),
            preferredReadReplica: i32,
            batches: list(fc.tuple(fc.array(message, { minLength: 1, maxLength: 3 }), fc.nat({ max: 2 ** 40 })), 2),
          }),
        ),
      }),
    ),
  })
  type FetchResponseGen = typeof fetchResponse extends fc.Arbitrary<infer T> ? T : never
  const ourFetchResponse = (r: FetchResponseGen): In<typeof Fetch.response.fields> => ({
    ...r,
    responses: r.responses.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map(({ batches, ...p }) => ({ ...p, records: batches.length === 0 ? null : batches.map(([ms, off]) => batchWith(ms, off)) })),
    })),
  })
  const expectedMessages = (batches: [Message[], number][]) =>
    batches.flatMap(([ms, off]) => ms.map((m, i) => ({ offset: off + i, key: hexOf(m.key), value: hexOf(m.value), timestamp: m.timestamp })))

  for (let v = 4; v <= 11; v++) {
    it(`kafkajs v${v} response: decodes our encoding, records included`, async () => {
      await fc.assert(
        fc.asyncProperty(fetchResponse, async (res) => {
          const got = await kafkajs('fetch', v).response.decode(ourResponse(Fetch, v, ourFetchResponse(res)))
          const want = res.responses.map((t) => ({
            topicName: t.topic,
            partitions: t.partitions.map((p) => ({
              partition: p.partitionIndex,
              errorCode: p.errorCode,
              highWatermark: String(p.highWatermark),
              lastStableOffset: String(p.lastStableOffset),
              ...(v >= 5 ? { lastStartOffset: String(p.logStartOffset) } : {}),
              abortedTransactions: (p.abortedTransactions ?? []).map((a) => ({ producerId: String(a.producerId), firstOffset: String(a.firstOffset) })),
              ...(v >= 11 ? { preferredReadReplica: p.preferredReadReplica } : {}),
              messages: expectedMessages(p.batches),
            })),
          }))
          const gotShape = got.responses.map((t: Js) => ({
            ...t,
            partitions: t.partitions.map((p: Js) => ({
              ...p,
              messages: p.messages.map((m: Js) => ({ offset: Number(m.offset), key: hexOf(m.key), value: hexOf(m.value), timestamp: Number(m.timestamp) })),
            })),
          }))
          const checks = [same(gotShape, want), (got.clientSideThrottleTime ?? got.throttleTime) === res.throttleTimeMs]
          if (v >= 7) checks.push(got.errorCode === res.errorCode, got.sessionId === res.sessionId)
          return checks.every(Boolean)
        }),
        { seed, numRuns: 25 },
      )
    })
  }

  it('platformatic v12 request: same bytes (with no forgotten topics, see the file header)', () => {
    fc.assert(
      fc.property(fetchRequest, (r) => {
        const topics = r.topics.map((t) => ({
          topicId: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, currentLeaderEpoch: p.currentLeaderEpoch, fetchOffset: big(p.fetchOffset), lastFetchedEpoch: p.lastFetchedEpoch, partitionMaxBytes: p.maxBytes })),
        }))
        const theirs = pltMod(plt.fetchV12).createRequest(r.maxWaitTime, r.minBytes, r.maxBytes, r.isolationLevel, r.sessionId, r.sessionEpoch, topics, [], r.rackId).buffer
        // platformatic always sends replicaId -1 and logStartOffset -1 (consumer values).
        const mine = ours(Fetch, 12, {
          ...ourFetchRequest(r),
          replicaId: -1,
          forgottenTopicsData: [],
          topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, currentLeaderEpoch: p.currentLeaderEpoch, fetchOffset: p.fetchOffset, lastFetchedEpoch: p.lastFetchedEpoch, partitionMaxBytes: p.maxBytes })) })),
        })
        return mine.equals(theirs)
      }),
      runs,
    )
  })

  it('platformatic v12 forgotten topics: it writes a UUID where v12 has a topic name (client bug)', () => {
    const theirs = pltMod(plt.fetchV12).createRequest(0, 0, 0, 0, 0, 0, [], [{ topic: '0123456789abcdef0123456789abcdef', partitions: [1] }], '').buffer
    const mine = ours(Fetch, 12, { forgottenTopicsData: [{ topic: '0123456789abcdef0123456789abcdef', partitions: [1] }] })
    expect(theirs.length).toBe(mine.length - 17)
  })

  it('platformatic v12 response: parses our encoding, records included', () => {
    fc.assert(
      fc.property(fetchResponse, (res) => {
        const got = pltParse(pltMod(plt.fetchV12), 1, 12, ourResponse(Fetch, 12, ourFetchResponse(res)))
        const want = res.responses.map((t) => ({
          topicId: t.topic,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: p.errorCode,
            highWatermark: big(p.highWatermark),
            lastStableOffset: big(p.lastStableOffset),
            logStartOffset: big(p.logStartOffset),
            abortedTransactions: (p.abortedTransactions ?? []).map((a) => ({ producerId: big(a.producerId), firstOffset: big(a.firstOffset) })),
            preferredReadReplica: p.preferredReadReplica,
            messages: expectedMessages(p.batches),
          })),
        }))
        const gotShape = got.responses.map((t: Js) => ({
          topicId: t.topicId,
          partitions: t.partitions.map(({ records, ...p }: Js) => ({
            ...p,
            messages: (records ?? []).flatMap((b: Js) =>
              b.records.map((rec: Js) => ({ offset: Number(b.firstOffset) + rec.offsetDelta, key: hexOf(rec.key), value: hexOf(rec.value), timestamp: Number(b.firstTimestamp + rec.timestampDelta) })),
            ),
          })),
        }))
        return same(gotShape, want) && got.throttleTimeMs === res.throttleTimeMs && got.errorCode === res.errorCode && got.sessionId === res.sessionId
      }),
      { seed, numRuns: 25 },
    )
  })

  it('platformatic v12 response: a non-default tagged field desynchronises its parser (client limitation)', () => {
    const base = { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, highWatermark: 5, records: null }, { partitionIndex: 1, highWatermark: 6, records: null }] }] }
    const plain = pltParse(pltMod(plt.fetchV12), 1, 12, ourResponse(Fetch, 12, base))
    expect(plain.responses[0].partitions.map((p: Js) => p.partitionIndex)).toEqual([0, 1])
    const tagged = { responses: [{ ...base.responses[0]!, partitions: [{ ...base.responses[0]!.partitions[0]!, currentLeader: { leaderId: 1, leaderEpoch: 2 } }, base.responses[0]!.partitions[1]!] }] }
    let parsed: Js = null
    try {
      parsed = pltParse(pltMod(plt.fetchV12), 1, 12, ourResponse(Fetch, 12, tagged))
    } catch {
      parsed = null
    }
    expect(parsed?.responses?.[0]?.partitions?.map((p: Js) => p.partitionIndex)).not.toEqual([0, 1])
  })
})

// ---- Fetch error partitions against Kafka 3.9's bytes ----

// What Apache Kafka 3.9 writes for a partition that fails, built here byte by byte from its sources rather than
// from our declarations: FetchResponse.json gives the field order and versions (tagged fields last, in the
// flexible tag section); KafkaApis.handleFetchRequest answers a partition the metadata does not know with
// FetchResponse.partitionResponse (highWatermark -1, other fields at their JSON defaults, so abortedTransactions is
// an empty list), and a partition that fails in the read with ReplicaManager.createLogReadResult (every offset
// -1, abortedTransactions null). Both then pass through maybeConvertFetchedData, which sets the records to
// FetchResponse.recordsOrFail(...), MemoryRecords.EMPTY for null: an empty record set, never a null one.
// (Kafka also moves metadata errors after the partitions it read; each request below keeps that order.)
describe('Fetch error partitions: the broker answers with the bytes Kafka 3.9 writes', () => {
  let b: InProcessBroker
  let c: WireClient
  let topicId = ''
  beforeAll(async () => {
    b = await startInProcessBroker()
    c = await b.client()
    await c.request(CreateTopics, 7, { topics: [{ name: 'fe', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
    await c.request(Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: 'fe', partitionData: [{ index: 0, records: encodeRecordBatch([{ value: Buffer.from('v') }]) }] }] })
    topicId = b.broker.topic('fe')!.record.topicId
  })
  afterAll(async () => b?.stop())

  const be = {
    i16: (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]),
    i32: (n: number) => {
      const x = Buffer.alloc(4)
      x.writeInt32BE(n)
      return x
    },
    i64: (n: number) => {
      const x = Buffer.alloc(8)
      x.writeBigInt64BE(BigInt(n))
      return x
    },
    uvarint: (n: number) => {
      const out: number[] = []
      while (n >= 0x80) {
        out.push((n & 0x7f) | 0x80)
        n >>>= 7
      }
      out.push(n)
      return Buffer.from(out)
    },
  }
  /** Kafka's array or record-set length prefix: int32 (-1 null) classic, uvarint n+1 (0 null) flexible. */
  const len = (n: number | null, flexible: boolean) => (flexible ? be.uvarint(n === null ? 0 : n + 1) : be.i32(n === null ? -1 : n))

  type Failure = { partition: number; errorCode: number; aborted: 'null' | 'empty' }
  function kafkaFetchResponse(v: number, topic: { name: string; id: string }, parts: Failure[]): Buffer {
    const flexible = v >= 12
    const out: Buffer[] = []
    if (v >= 1) out.push(be.i32(0)) // throttleTimeMs
    if (v >= 7) out.push(be.i16(0), be.i32(0)) // errorCode, sessionId (sessionless)
    out.push(len(1, flexible))
    if (v <= 12) out.push(flexible ? be.uvarint(Buffer.byteLength(topic.name) + 1) : be.i16(Buffer.byteLength(topic.name)), Buffer.from(topic.name))
    else out.push(Buffer.from(topic.id, 'hex'))
    out.push(len(parts.length, flexible))
    for (const p of parts) {
      out.push(be.i32(p.partition), be.i16(p.errorCode), be.i64(-1)) // highWatermark
      if (v >= 4) out.push(be.i64(-1)) // lastStableOffset
      if (v >= 5) out.push(be.i64(-1)) // logStartOffset
      if (v >= 4) out.push(len(p.aborted === 'null' ? null : 0, flexible))
      if (v >= 11) out.push(be.i32(-1)) // preferredReadReplica
      out.push(len(0, flexible)) // records: MemoryRecords.EMPTY
      if (flexible) out.push(be.uvarint(0)) // partition tagged fields: none differ from their defaults
    }
    if (flexible) out.push(be.uvarint(0), be.uvarint(0)) // topic, then response tagged fields
    return Buffer.concat(out)
  }

  /** The broker's response body bytes, with the response header removed. */
  async function fetchBytes(v: number, req: In<typeof Fetch.request.fields>): Promise<Buffer> {
    const { frame } = c.encode(Fetch, v, req)
    c.writeRaw(frame)
    const res = await c.nextFrame()
    const r = new Reader(res!)
    readResponseHeader(r, v >= 12)
    return res!.subarray(r.offset)
  }
  const request = (v: number, topic: { name: string; id: string }, parts: { partition: number; fetchOffset: number; currentLeaderEpoch?: number }[], isolationLevel = 0) => ({
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel,
    topics: [{ topic: v <= 12 ? topic.name : '', topicId: topic.id, partitions: parts.map((p) => ({ partitionMaxBytes: 1 << 20, ...p })) }],
  })

  for (let v = Fetch.minVersion; v <= Fetch.maxVersion; v++) {
    it(`v${v}: read errors (out of range${v >= 9 ? ', unknown leader epoch' : ''}) and a partition the topic lacks`, async () => {
      const fe = { name: 'fe', id: topicId }
      const parts = [{ partition: 0, fetchOffset: 1000 }, ...(v >= 9 ? [{ partition: 0, fetchOffset: 0, currentLeaderEpoch: 99 }] : []), { partition: 7, fetchOffset: 0 }]
      const want: Failure[] = [
        { partition: 0, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, aborted: 'null' },
        ...(v >= 9 ? [{ partition: 0, errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, aborted: 'null' } as const] : []),
        { partition: 7, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, aborted: 'empty' },
      ]
      for (const isolation of [0, 1]) {
        const got = await fetchBytes(v, request(v, fe, parts, isolation))
        expect(got.toString('hex')).toBe(kafkaFetchResponse(v, fe, want).toString('hex'))
      }
    })

    it(`v${v}: a topic the broker does not know`, async () => {
      const gone = { name: 'no-such-topic', id: 'ab'.repeat(16) }
      const got = await fetchBytes(v, request(v, gone, [{ partition: 0, fetchOffset: 0 }]))
      const errorCode = v >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      expect(got.toString('hex')).toBe(kafkaFetchResponse(v, gone, [{ partition: 0, errorCode, aborted: 'empty' }]).toString('hex'))
    })
  }

  it('the layout above is a Fetch response that kafkajs, platformatic and our declaration all parse', async () => {
    const fe = { name: 'fe', id: topicId }
    const oor: Failure[] = [{ partition: 0, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, aborted: 'null' }]
    const kjs = await kafkajs('fetch', 11).response.decode(kafkaFetchResponse(11, fe, oor))
    expect(kjs.responses[0].partitions[0]).toMatchObject({ partition: 0, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: '-1', messages: [] })
    const pl = pltParse(pltMod(plt.fetchV12), 1, 12, kafkaFetchResponse(12, fe, oor))
    expect(pl.responses[0].partitions[0]).toMatchObject({ partitionIndex: 0, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: -1n })
    for (const v of [4, 12, 17]) {
      const r = new Reader(kafkaFetchResponse(v, fe, oor))
      expect(Fetch.response.decode(v, r).responses[0]!.partitions[0]).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: -1, abortedTransactions: null })
      expect(r.remaining).toBe(0)
    }
  })
})

// ---- ListOffsets ----

describe('ListOffsets', () => {
  const listOffsetsRequest = fc.record({
    replicaId: i32,
    isolationLevel: fc.constantFrom(0, 1),
    topics: list(fc.record({ topic: name, partitions: list(fc.record({ partition: i32, timestamp: i64, currentLeaderEpoch: i32 })) })),
  })
  type LoReq = typeof listOffsetsRequest extends fc.Arbitrary<infer T> ? T : never
  const ourListOffsets = (r: LoReq): In<typeof ListOffsets.request.fields> => ({
    replicaId: r.replicaId,
    isolationLevel: r.isolationLevel,
    topics: r.topics.map((t) => ({ name: t.topic, partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, timestamp: p.timestamp, currentLeaderEpoch: p.currentLeaderEpoch })) })),
  })
  const listOffsetsResponse = fc.record({
    throttleTimeMs: i32,
    topics: list(fc.record({ name, partitions: list(fc.record({ partitionIndex: i32, errorCode, timestamp: i64, offset: i64, leaderEpoch: i32 })) })),
  })

  it('kafkajs v0 request: same bytes (maxNumOffsets per partition)', async () => {
    await fc.assert(
      fc.asyncProperty(listOffsetsRequest, fc.nat({ max: 2 ** 31 - 1 }), async (r, maxNumOffsets) => {
        const theirs = await kjsBody(kafkajs('listOffsets', 0).request({ ...r, topics: r.topics.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, maxNumOffsets })) })) }), 2, 0)
        const mine = ours(ListOffsets, 0, { ...ourListOffsets(r), topics: ourListOffsets(r).topics!.map((t) => ({ ...t, partitions: t.partitions!.map((p) => ({ ...p, maxNumOffsets })) })) })
        return mine.equals(theirs)
      }),
      runs,
    )
  })

  it('kafkajs v0 response: decodes our oldStyleOffsets', async () => {
    const res = fc.record({ topics: list(fc.record({ name, partitions: list(fc.record({ partitionIndex: i32, errorCode, oldStyleOffsets: list(i64) })) })) })
    await fc.assert(
      fc.asyncProperty(res, async (r) => {
        const got = await kafkajs('listOffsets', 0).response.decode(ourResponse(ListOffsets, 0, r))
        const want = r.topics.map((t) => ({ topic: t.name, partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, errorCode: p.errorCode, offsets: p.oldStyleOffsets.map(String) })) }))
        return same(got.responses, want)
      }),
      runs,
    )
  })

  for (const v of [1, 2, 3]) {
    it(`kafkajs v${v} request: same bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(listOffsetsRequest, async (r) => {
          const theirs = await kjsBody(kafkajs('listOffsets', v).request(r), 2, v)
          return ours(ListOffsets, v, ourListOffsets(r)).equals(theirs)
        }),
        runs,
      )
    })

    it(`kafkajs v${v} response: decodes our encoding`, async () => {
      await fc.assert(
        fc.asyncProperty(listOffsetsResponse, async (res) => {
          const got = await kafkajs('listOffsets', v).response.decode(ourResponse(ListOffsets, v, res))
          const want = res.topics.map((t) => ({
            topic: t.name,
            partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, errorCode: p.errorCode, timestamp: String(p.timestamp), offset: String(p.offset) })),
          }))
          return same(got.responses, want) && (v < 2 || (got.clientSideThrottleTime ?? got.throttleTime) === res.throttleTimeMs)
        }),
        runs,
      )
    })
  }

  const pltListOffsets = { 5: plt.listOffsetsV5, 6: plt.listOffsetsV6, 7: plt.listOffsetsV7 } as const
  for (const v of [5, 6, 7] as const) {
    it(`platformatic v${v} request: same bytes`, () => {
      fc.assert(
        fc.property(listOffsetsRequest, (r) => {
          const topics = r.topics.map((t) => ({ name: t.topic, partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, currentLeaderEpoch: p.currentLeaderEpoch, timestamp: big(p.timestamp) })) }))
          const theirs = pltMod(pltListOffsets[v]).createRequest(r.replicaId, r.isolationLevel, topics).buffer
          return ours(ListOffsets, v, ourListOffsets(r)).equals(theirs)
        }),
        runs,
      )
    })

    it(`platformatic v${v} response: parses our encoding`, () => {
      fc.assert(
        fc.property(listOffsetsResponse, (res) => {
          const got = pltParse(pltMod(pltListOffsets[v]), 2, v, ourResponse(ListOffsets, v, res))
          const want = {
            throttleTimeMs: res.throttleTimeMs,
            topics: res.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p, timestamp: big(p.timestamp), offset: big(p.offset) })) })),
          }
          return same(got, want)
        }),
        runs,
      )
    })
  }
})

// ---- CreateTopics ----

describe('CreateTopics', () => {
  const createTopicsRequest = fc.record({
    timeout: i32,
    validateOnly: fc.boolean(),
    topics: list(
      fc.record({
        topic: name,
        numPartitions: i32,
        replicationFactor: i16,
        replicaAssignment: list(fc.record({ partition: i32, replicas: list(i32) })),
        configEntries: list(fc.record({ name, value: fc.option(text, { nil: null }) })),
      }),
    ),
  })
  type CtReq = typeof createTopicsRequest extends fc.Arbitrary<infer T> ? T : never
  const ourCreateTopics = (r: CtReq): In<typeof CreateTopics.request.fields> => ({
    timeoutMs: r.timeout,
    validateOnly: r.validateOnly,
    topics: r.topics.map((t) => ({
      name: t.topic,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor,
      assignments: t.replicaAssignment.map((a) => ({ partitionIndex: a.partition, brokerIds: a.replicas })),
      configs: t.configEntries,
    })),
  })
  const createTopicsResponse = fc.record({
    throttleTimeMs: i32,
    topics: list(
      fc.record({
        name,
        topicId: uuid,
        errorCode,
        errorMessage: fc.option(text, { nil: null }),
        numPartitions: i32,
        replicationFactor: i16,
        configs: list(fc.record({ name, value: fc.option(text, { nil: null }), readOnly: fc.boolean(), configSource: i8, isSensitive: fc.boolean() })),
      }),
    ),
  })
  const byTopic = (a: { topic: string }, b: { topic: string }) => a.topic.localeCompare(b.topic)

  for (const v of [0, 1, 2, 3]) {
    it(`kafkajs v${v} request: same bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(createTopicsRequest, async (r) => {
          const theirs = await kjsBody(kafkajs('createTopics', v).request(r), 19, v)
          return ours(CreateTopics, v, ourCreateTopics(r)).equals(theirs)
        }),
        runs,
      )
    })

    it(`kafkajs v${v} response: decodes our encoding`, async () => {
      await fc.assert(
        fc.asyncProperty(createTopicsResponse, async (res) => {
          const got = await kafkajs('createTopics', v).response.decode(ourResponse(CreateTopics, v, res))
          // kafkajs sorts the results by topic name.
          const want = res.topics
            .map((t) => ({ topic: t.name, errorCode: t.errorCode, ...(v >= 1 ? { errorMessage: t.errorMessage } : {}) }))
            .sort(byTopic)
          return same(got.topicErrors, want) && (v < 2 || (got.clientSideThrottleTime ?? got.throttleTime) === res.throttleTimeMs)
        }),
        runs,
      )
    })
  }

  it('platformatic v7 request: same bytes', () => {
    fc.assert(
      fc.property(createTopicsRequest, (r) => {
        const mine = ourCreateTopics(r)
        const theirs = pltMod(plt.createTopicsV7).createRequest(mine.topics, r.timeout, r.validateOnly).buffer
        return ours(CreateTopics, 7, mine).equals(theirs)
      }),
      runs,
    )
  })

  it('platformatic v7 response: parses our encoding', () => {
    fc.assert(
      fc.property(createTopicsResponse, (res) => {
        const got = pltParse(pltMod(plt.createTopicsV7), 19, 7, ourResponse(CreateTopics, 7, res))
        return same(got, { ...res, topics: res.topics.map((t) => ({ ...t, topicId: dashed(t.topicId) })) })
      }),
      runs,
    )
  })
})

// ---- DeleteTopics ----

describe('DeleteTopics', () => {
  const deleteTopicsResponse = fc.record({
    throttleTimeMs: i32,
    responses: list(fc.record({ name: fc.option(name, { nil: null }), topicId: uuid, errorCode, errorMessage: fc.option(text, { nil: null }) })),
  })

  for (const v of [0, 1]) {
    it(`kafkajs v${v} request: same bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(list(name), i32, async (topics, timeout) => {
          const theirs = await kjsBody(kafkajs('deleteTopics', v).request({ topics, timeout }), 20, v)
          return ours(DeleteTopics, v, { topicNames: topics, timeoutMs: timeout }).equals(theirs)
        }),
        runs,
      )
    })

    it(`kafkajs v${v} response: decodes our encoding`, async () => {
      await fc.assert(
        fc.asyncProperty(deleteTopicsResponse, async (res0) => {
          // Names are not nullable before v6.
          const res = { ...res0, responses: res0.responses.map((r) => ({ ...r, name: r.name ?? '' })) }
          const got = await kafkajs('deleteTopics', v).response.decode(ourResponse(DeleteTopics, v, res))
          const want = res.responses.map((r) => ({ topic: r.name, errorCode: r.errorCode })).sort((a, b) => a.topic.localeCompare(b.topic))
          return same(got.topicErrors, want) && (v < 1 || got.clientSideThrottleTime === res.throttleTimeMs)
        }),
        runs,
      )
    })
  }

  it('platformatic v6 request: same bytes', () => {
    fc.assert(
      fc.property(list(fc.record({ name: fc.option(name, { nil: null }), topicId: uuid })), i32, (topics, timeout) => {
        const theirs = pltMod(plt.deleteTopicsV6).createRequest(topics, timeout).buffer
        return ours(DeleteTopics, 6, { topics, timeoutMs: timeout }).equals(theirs)
      }),
      runs,
    )
  })

  it('platformatic v6 response: parses our encoding', () => {
    fc.assert(
      fc.property(deleteTopicsResponse, (res) => {
        const got = pltParse(pltMod(plt.deleteTopicsV6), 20, 6, ourResponse(DeleteTopics, 6, res))
        return same(got, { ...res, responses: res.responses.map((r) => ({ ...r, topicId: dashed(r.topicId) })) })
      }),
      runs,
    )
  })
})

// ---- ApiVersions ----

describe('ApiVersions', () => {
  const apiKeys = list(fc.record({ apiKey: i16, minVersion: i16, maxVersion: i16 }), 8)

  for (const v of [0, 1, 2]) {
    it(`kafkajs v${v} request: same (empty) body`, async () => {
      const theirs = await kjsBody(kafkajs('apiVersions', v).request({}), 18, v)
      expect(ours(ApiVersions, v, {}).toString('hex')).toBe(theirs.toString('hex'))
    })

    it(`kafkajs v${v} response: decodes our encoding`, async () => {
      await fc.assert(
        fc.asyncProperty(apiKeys, i32, async (keys, throttle) => {
          const got = await kafkajs('apiVersions', v).response.decode(ourResponse(ApiVersions, v, { errorCode: 0, apiKeys: keys, throttleTimeMs: throttle }))
          return got.errorCode === 0 && same(got.apiVersions, keys) && (v < 1 || (got.clientSideThrottleTime ?? got.throttleTime) === throttle)
        }),
        runs,
      )
    })
  }

  it('platformatic v3 request: same bytes', () => {
    fc.assert(
      fc.property(text, text, (n, ver) => ours(ApiVersions, 3, { clientSoftwareName: n, clientSoftwareVersion: ver }).equals(pltMod(plt.apiVersionsV3).createRequest(n, ver).buffer)),
      runs,
    )
  })

  it('platformatic v3 response: parses our encoding (tagged feature fields at their defaults)', () => {
    fc.assert(
      fc.property(apiKeys, i32, (keys, throttle) => {
        const got = pltParse(pltMod(plt.apiVersionsV3), 18, 3, ourResponse(ApiVersions, 3, { errorCode: 0, apiKeys: keys, throttleTimeMs: throttle }))
        return same(
          got.apiKeys.map(({ name: _, ...k }: Js) => k),
          keys,
        ) && got.throttleTimeMs === throttle
      }),
      runs,
    )
  })
})

// ---- DescribeConfigs ----

describe('DescribeConfigs', () => {
  const resources = list(fc.record({ type: i8, name: text, configNames: fc.option(list(name), { nil: null }) }))
  // kafkajs sends an empty key list as null ("all keys"), and cannot send null itself.
  const kjsResources = list(fc.record({ type: i8, name: text, configNames: list(name) }))
  const describeConfigsResponse = fc.record({
    throttleTimeMs: i32,
    results: list(
      fc.record({
        errorCode,
        errorMessage: fc.option(text, { nil: null }),
        resourceType: i8,
        resourceName: text,
        configs: list(
          fc.record({
            name: text,
            value: fc.option(text, { nil: null }),
            readOnly: fc.boolean(),
            isDefault: fc.boolean(),
            configSource: i8,
            isSensitive: fc.boolean(),
            synonyms: list(fc.record({ name: text, value: fc.option(text, { nil: null }), source: i8 }), 2),
            configType: i8,
            documentation: fc.option(text, { nil: null }),
          }),
        ),
      }),
    ),
  })

  for (const v of [0, 1, 2]) {
    it(`kafkajs v${v} request: same bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(kjsResources, fc.boolean(), async (res, includeSynonyms) => {
          const theirs = await kjsBody(kafkajs('describeConfigs', v).request({ resources: res, includeSynonyms }), 32, v)
          const keys = (k: string[]) => (k.length === 0 ? null : k)
          const mine = ours(DescribeConfigs, v, { resources: res.map((r) => ({ resourceType: r.type, resourceName: r.name, configurationKeys: keys(r.configNames) })), includeSynonyms })
          return mine.equals(theirs)
        }),
        runs,
      )
    })

    it(`kafkajs v${v} response: decodes our encoding`, async () => {
      const ConfigSource = require('kafkajs/src/protocol/configSource.js') as { DEFAULT_CONFIG: number }
      await fc.assert(
        fc.asyncProperty(describeConfigsResponse, async (res) => {
          const got = await kafkajs('describeConfigs', v).response.decode(ourResponse(DescribeConfigs, v, res))
          const want = res.results.map((r) => ({
            errorCode: r.errorCode,
            errorMessage: r.errorMessage,
            resourceType: r.resourceType,
            resourceName: r.resourceName,
            configEntries: r.configs.map((c) =>
              v === 0
                ? { configName: c.name, configValue: c.value, readOnly: c.readOnly, isDefault: c.isDefault, isSensitive: c.isSensitive }
                : {
                    configName: c.name,
                    configValue: c.value,
                    readOnly: c.readOnly,
                    isDefault: c.configSource === ConfigSource.DEFAULT_CONFIG,
                    configSource: c.configSource,
                    isSensitive: c.isSensitive,
                    configSynonyms: c.synonyms.map((s) => ({ configName: s.name, configValue: s.value, configSource: s.source })),
                  },
            ),
          }))
          // v0 derives configSource from isDefault and the resource type; it is not on the wire.
          const gotShape = got.resources.map((r: Js) => ({ ...r, configEntries: r.configEntries.map(({ configSource, ...c }: Js) => (v === 0 ? c : { ...c, configSource })) }))
          return same(gotShape, want) && (got.clientSideThrottleTime ?? got.throttleTime) === res.throttleTimeMs
        }),
        runs,
      )
    })
  }

  const pltDescribe = { 2: plt.describeConfigsV2, 3: plt.describeConfigsV3, 4: plt.describeConfigsV4 } as const
  for (const v of [3, 4] as const) {
    it(`platformatic v${v} request: same bytes`, () => {
      fc.assert(
        fc.property(resources, fc.boolean(), fc.boolean(), (res, syn, doc) => {
          const mine = res.map((r) => ({ resourceType: r.type, resourceName: r.name, configurationKeys: r.configNames }))
          return ours(DescribeConfigs, v, { resources: mine, includeSynonyms: syn, includeDocumentation: doc }).equals(pltMod(pltDescribe[v]).createRequest(mine, syn, doc).buffer)
        }),
        runs,
      )
    })

    it(`platformatic v${v} response: parses our encoding`, () => {
      fc.assert(
        fc.property(describeConfigsResponse, (res) => {
          const got = pltParse(pltMod(pltDescribe[v]), 32, v, ourResponse(DescribeConfigs, v, res))
          return same(got, { ...res, results: res.results.map((r) => ({ ...r, configs: r.configs.map(({ isDefault: _, ...c }) => c) })) })
        }),
        runs,
      )
    })
  }

  it('platformatic v2 writes the v3 request layout: our v2 plus includeDocumentation (client bug)', () => {
    fc.assert(
      fc.property(resources, fc.boolean(), (res, syn) => {
        const mine = res.map((r) => ({ resourceType: r.type, resourceName: r.name, configurationKeys: r.configNames }))
        const theirs = pltMod(pltDescribe[2]).createRequest(mine, syn, false).buffer
        return Buffer.concat([ours(DescribeConfigs, 2, { resources: mine, includeSynonyms: syn }), Buffer.from([0])]).equals(theirs)
      }),
      runs,
    )
  })
})
