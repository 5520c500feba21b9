// Differential tests of the group, producer-id and SASL declarations against the clients' own codecs:
// kafkajs for the classic versions it speaks, @platformatic/kafka for the flexible ones. For requests both
// encoders must produce the same body bytes (after the client's header, which must follow header.ts's
// rules); for responses, what we encode the client's parser must read back field for field. Also round
// trips of the consumer protocol's embedded subscription and assignment, and kafkajs's codec of them.

import { createRequire } from 'node:module'
import * as plt from '@platformatic/kafka'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { readRequestHeader, responseHeaderIsFlexible, skipTaggedFields } from '../../../broker/protocol/header.ts'
import {
  type Assignment,
  type AssignmentIn,
  ConsumerProtocolAssignment,
  ConsumerProtocolSubscription,
  type Subscription,
} from '../../../broker/protocol/messages/consumer-protocol.ts'
import * as consumerProtocolModule from '../../../broker/protocol/messages/consumer-protocol.ts'
import { DescribeGroups } from '../../../broker/protocol/messages/describe-groups.ts'
import { FindCoordinator } from '../../../broker/protocol/messages/find-coordinator.ts'
import { Heartbeat } from '../../../broker/protocol/messages/heartbeat.ts'
import { InitProducerId } from '../../../broker/protocol/messages/init-producer-id.ts'
import { JoinGroup } from '../../../broker/protocol/messages/join-group.ts'
import { LeaveGroup } from '../../../broker/protocol/messages/leave-group.ts'
import { ListGroups } from '../../../broker/protocol/messages/list-groups.ts'
import { OffsetCommit } from '../../../broker/protocol/messages/offset-commit.ts'
import { OffsetFetch } from '../../../broker/protocol/messages/offset-fetch.ts'
import { SaslAuthenticate } from '../../../broker/protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../../../broker/protocol/messages/sasl-handshake.ts'
import { SyncGroup } from '../../../broker/protocol/messages/sync-group.ts'
import { DecodeError, Reader } from '../../../broker/protocol/reader.ts'
import { type ApiDecl, EncodeError, type Fields, type In } from '../../../broker/protocol/schema.ts'
import { Writer } from '../../../broker/protocol/writer.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`messages-groups.test.ts: FC_SEED=${seed}`)

// ---- kafkajs (CommonJS, no types for its internals) ----

const require = createRequire(import.meta.url)

interface KjsEncoder {
  readonly buffer: Buffer
}
interface KjsRequest {
  apiKey: number
  apiVersion: number
  encode(): Promise<KjsEncoder>
}
interface KjsProtocol {
  request: (args: Record<string, unknown>) => KjsRequest
  response: { decode(raw: Buffer): Promise<unknown> }
}
interface KjsAssignerProtocol {
  MemberMetadata: {
    encode(m: { version: number; topics: string[]; userData?: Buffer | null }): Buffer
    decode(b: Buffer): { version: number; topics: string[]; userData: Buffer | null }
  }
  MemberAssignment: {
    encode(m: { version: number; assignment: Record<string, number[]>; userData?: Buffer | null }): Buffer
    decode(b: Buffer): { version: number; assignment: Record<string, number[]>; userData: Buffer | null } | null
  }
}

const kjsFrame = require('kafkajs/src/protocol/request.js') as (a: {
  correlationId: number
  clientId: string
  request: KjsRequest
}) => Promise<KjsEncoder>
const KjsEncoderClass = require('kafkajs/src/protocol/encoder.js') as new () => { writeBytes(b: Buffer): KjsEncoder }
const { AssignerProtocol } = require('kafkajs') as { AssignerProtocol: KjsAssignerProtocol }

function kafkajs(api: string, version: number): KjsProtocol {
  return {
    request: require(`kafkajs/src/protocol/requests/${api}/v${version}/request.js`),
    response: require(`kafkajs/src/protocol/requests/${api}/v${version}/response.js`),
  }
}

/** kafkajs frames a whole request; the header must be what header.ts reads, and the body is the rest. */
async function kafkajsBody(decl: ApiDecl, version: number, request: KjsRequest): Promise<Buffer> {
  const frame = (await kjsFrame({ correlationId: 4242, clientId: 'faultline-test', request })).buffer
  const r = new Reader(frame)
  expect(r.int32()).toBe(frame.length - 4)
  expect(readRequestHeader(r)).toEqual({ apiKey: decl.key, apiVersion: version, correlationId: 4242, clientId: 'faultline-test' })
  if (decl.isFlexible(version)) skipTaggedFields(r)
  return frame.subarray(r.offset)
}

/** kafkajs's mechanisms hand SaslAuthenticate their token already framed by an int32 length. */
const kafkajsFramed = (b: Buffer): Buffer => new KjsEncoderClass().writeBytes(b).buffer

/**
 * kafkajs reports the throttle time as is up to a version, then (KIP-219, brokers answer before
 * throttling) as clientSideThrottleTime with throttleTime 0.
 */
function kafkajsThrottle(version: number, since: number, clientSideSince: number, ms: number): object {
  if (version < since) return {}
  return version < clientSideSince ? { throttleTime: ms } : { throttleTime: 0, clientSideThrottleTime: ms }
}

// ---- @platformatic/kafka (ESM; its per-version API modules are public exports) ----

interface PltSent {
  apiKey: number
  apiVersion: number
  body: Buffer
  requestHeaderTagged: boolean
  responseHeaderTagged: boolean
  parser: plt.ResponseParser<unknown>
}

/** Calls a platformatic API against a stand-in connection that keeps what the API would send. */
function platformatic<A extends unknown[], R>(api: plt.API<A, R>, ...args: A): PltSent {
  let sent: PltSent | undefined
  const connection = {
    send(
      apiKey: number,
      apiVersion: number,
      createPayload: () => plt.Writer,
      parser: plt.ResponseParser<unknown>,
      requestHeaderTagged: boolean,
      responseHeaderTagged: boolean,
    ) {
      sent = { apiKey, apiVersion, body: createPayload().buffer, parser, requestHeaderTagged, responseHeaderTagged }
    },
  }
  ;(api as unknown as (connection: unknown, ...rest: unknown[]) => void)(connection, ...args, () => {})
  if (!sent) throw new Error('the platformatic API sent nothing')
  return sent
}

/** Platformatic builds its header itself; its header choices must match header.ts's rules. */
function platformaticBody(decl: ApiDecl, version: number, sent: PltSent): Buffer {
  expect(sent.apiKey).toBe(decl.key)
  expect(sent.apiVersion).toBe(version)
  expect(sent.requestHeaderTagged).toBe(decl.isFlexible(version))
  expect(sent.responseHeaderTagged).toBe(responseHeaderIsFlexible(decl.key, decl.isFlexible(version)))
  return sent.body
}

/** Runs platformatic's parser on a body; error codes make it throw a ResponseError that carries the response. */
async function platformaticParse(decl: ApiDecl, version: number, sent: PltSent, body: Buffer): Promise<unknown> {
  const reader = plt.Reader.from(body)
  let out: unknown
  try {
    out = await sent.parser(1, decl.key, version, reader)
  } catch (err) {
    if (!(err instanceof plt.ResponseError)) throw err
    out = (err as unknown as { response: unknown }).response
  }
  // Some of its parsers leave the top-level (empty) tag section unread; nothing else may be left over.
  const left = body.subarray(body.length - reader.remaining)
  expect(left.length === 0 || (decl.isFlexible(version) && left.equals(Buffer.from([0])))).toBe(true)
  return out
}

// ---- properties ----

const hex = (b: Buffer): string => b.toString('hex')

async function sameBytes<M>(arb: fc.Arbitrary<M>, ours: (m: M) => Buffer, theirs: (m: M) => Buffer | Promise<Buffer>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, async (m) => {
      expect(hex(ours(m))).toBe(hex(await theirs(m)))
    }),
    { seed },
  )
}

async function readsBack<M>(
  arb: fc.Arbitrary<M>,
  encode: (m: M) => Buffer,
  decode: (b: Buffer) => Promise<unknown>,
  expected: (m: M) => object,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, async (m) => {
      expect(await decode(encode(m))).toMatchObject(expected(m))
    }),
    { seed },
  )
}

function encReq<Req extends Fields>(decl: ApiDecl<Req>, version: number, m: In<Req>): Buffer {
  return decl.request.encode(version, m).toBuffer()
}
function encRes<Res extends Fields>(decl: ApiDecl<Fields, Res>, version: number, m: In<Res>): Buffer {
  return decl.response.encode(version, m).toBuffer()
}

// ---- arbitraries ----

const str = fc.string({ unit: 'grapheme', maxLength: 10 })
const nullableStr = fc.option(str, { nil: null })
const int16 = fc.integer({ min: -32768, max: 32767 })
const int32 = fc.integer({ min: -2147483648, max: 2147483647 })
const int64 = fc.maxSafeInteger()
const bytes = fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a))
const list = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(a, { maxLength: 3 })
// Codes both clients can name: platformatic fails with a TypeError on a code it does not know, and kafkajs
// throws on UNSUPPORTED_VERSION while decoding.
const errorCode = fc.constantFrom(
  ErrorCode.NONE,
  ErrorCode.NONE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.SASL_AUTHENTICATION_FAILED,
  ErrorCode.MEMBER_ID_REQUIRED,
)
const groupState = fc.constantFrom('Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead')
// Platformatic takes states as its own constants and writes them in Kafka's spelling.
const platformaticStates = {
  EMPTY: 'Empty',
  PREPARING_REBALANCE: 'PreparingRebalance',
  COMPLETING_REBALANCE: 'CompletingRebalance',
  STABLE: 'Stable',
  DEAD: 'Dead',
} as const
type PlatformaticState = keyof typeof platformaticStates
const platformaticState = fc.constantFrom(...(Object.keys(platformaticStates) as PlatformaticState[]))

// ---- the APIs ----

describe('FindCoordinator', () => {
  for (const v of [0, 1, 2]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        fc.record({ key: str, keyType: fc.constantFrom(0, 1) }),
        (m) => encReq(FindCoordinator, v, m),
        (m) =>
          kafkajsBody(
            FindCoordinator,
            v,
            kafkajs('findCoordinator', v).request(v === 0 ? { groupId: m.key } : { coordinatorKey: m.key, coordinatorType: m.keyType }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        fc.record({ throttleTimeMs: int32, errorCode, errorMessage: nullableStr, nodeId: int32, host: str, port: int32 }),
        (m) => encRes(FindCoordinator, v, m),
        (b) => kafkajs('findCoordinator', v).response.decode(b),
        (m) => ({
          errorCode: m.errorCode,
          coordinator: { nodeId: m.nodeId, host: m.host, port: m.port },
          ...(v >= 1 ? { errorMessage: m.errorMessage } : {}),
          ...kafkajsThrottle(v, 1, 2, m.throttleTimeMs),
        }),
      ))
  }
  it('v4 request: same bytes as platformatic', () =>
    sameBytes(
      fc.record({ keyType: fc.constantFrom(0, 1), coordinatorKeys: list(str) }),
      (m) => encReq(FindCoordinator, 4, m),
      (m) => platformaticBody(FindCoordinator, 4, platformatic(plt.findCoordinatorV4.api, m.keyType, m.coordinatorKeys)),
    ))
  it('v4 response: platformatic reads it', () => {
    const sent = platformatic(plt.findCoordinatorV4.api, 0, ['g'])
    return readsBack(
      fc.record({
        throttleTimeMs: int32,
        coordinators: list(fc.record({ key: str, nodeId: int32, host: str, port: int32, errorCode, errorMessage: nullableStr })),
      }),
      (m) => encRes(FindCoordinator, 4, m),
      (b) => platformaticParse(FindCoordinator, 4, sent, b),
      (m) => m,
    )
  })
})

describe('JoinGroup', () => {
  const request = fc.record({
    groupId: str,
    sessionTimeoutMs: int32,
    rebalanceTimeoutMs: int32,
    memberId: str,
    groupInstanceId: nullableStr,
    protocolType: str,
    protocols: list(fc.record({ name: str, metadata: bytes })),
  })
  const response = (v: number) =>
    fc.record({
      throttleTimeMs: int32,
      errorCode,
      generationId: int32,
      protocolType: nullableStr,
      protocolName: v >= 7 ? nullableStr : str,
      leader: str,
      memberId: str,
      members: list(fc.record({ memberId: str, groupInstanceId: nullableStr, metadata: bytes })),
    })

  for (const v of [0, 1, 2, 3, 4, 5]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(JoinGroup, v, m),
        (m) =>
          kafkajsBody(
            JoinGroup,
            v,
            kafkajs('joinGroup', v).request({
              groupId: m.groupId,
              sessionTimeout: m.sessionTimeoutMs,
              rebalanceTimeout: m.rebalanceTimeoutMs,
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              protocolType: m.protocolType,
              groupProtocols: m.protocols,
            }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response(v),
        (m) => encRes(JoinGroup, v, m),
        (b) => kafkajs('joinGroup', v).response.decode(b),
        (m) => ({
          errorCode: m.errorCode,
          generationId: m.generationId,
          groupProtocol: m.protocolName,
          leaderId: m.leader,
          memberId: m.memberId,
          members: m.members.map((x) => ({
            memberId: x.memberId,
            memberMetadata: x.metadata,
            ...(v >= 5 ? { groupInstanceId: x.groupInstanceId } : {}),
          })),
          ...kafkajsThrottle(v, 2, 3, m.throttleTimeMs),
        }),
      ))
  }
  for (const [v, mod] of [
    [6, plt.joinGroupV6],
    [7, plt.joinGroupV7],
  ] as const) {
    it(`v${v} request: same bytes as platformatic`, () =>
      sameBytes(
        request,
        (m) => encReq(JoinGroup, v, m),
        (m) =>
          platformaticBody(
            JoinGroup,
            v,
            platformatic(mod.api, m.groupId, m.sessionTimeoutMs, m.rebalanceTimeoutMs, m.memberId, m.groupInstanceId, m.protocolType, m.protocols),
          ),
      ))
    it(`v${v} response: platformatic reads it`, () => {
      const sent = platformatic(mod.api, 'g', 1, 1, '', null, 'consumer', [])
      return readsBack(
        response(v),
        (m) => encRes(JoinGroup, v, m),
        (b) => platformaticParse(JoinGroup, v, sent, b),
        // v6 carries no protocolType; platformatic then reports ''.
        (m) => ({ ...m, protocolType: v >= 7 ? m.protocolType : '' }),
      )
    })
  }
})

describe('SyncGroup', () => {
  const request = fc.record({
    groupId: str,
    generationId: int32,
    memberId: str,
    groupInstanceId: nullableStr,
    assignments: list(fc.record({ memberId: str, assignment: bytes })),
  })
  const response = fc.record({ throttleTimeMs: int32, errorCode, assignment: bytes })

  for (const v of [0, 1, 2, 3]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(SyncGroup, v, m),
        (m) =>
          kafkajsBody(
            SyncGroup,
            v,
            kafkajs('syncGroup', v).request({
              groupId: m.groupId,
              generationId: m.generationId,
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              groupAssignment: m.assignments.map((a) => ({ memberId: a.memberId, memberAssignment: a.assignment })),
            }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(SyncGroup, v, m),
        (b) => kafkajs('syncGroup', v).response.decode(b),
        (m) => ({ errorCode: m.errorCode, memberAssignment: m.assignment, ...kafkajsThrottle(v, 1, 2, m.throttleTimeMs) }),
      ))
  }
  it('v4 request: same bytes as platformatic', () =>
    sameBytes(
      request,
      (m) => encReq(SyncGroup, 4, m),
      (m) =>
        platformaticBody(
          SyncGroup,
          4,
          platformatic(plt.syncGroupV4.api, m.groupId, m.generationId, m.memberId, m.groupInstanceId, null, null, m.assignments),
        ),
    ))
  it('v4 response: platformatic reads it', () => {
    const sent = platformatic(plt.syncGroupV4.api, 'g', 1, 'm', null, null, null, [])
    return readsBack(
      response,
      (m) => encRes(SyncGroup, 4, m),
      (b) => platformaticParse(SyncGroup, 4, sent, b),
      (m) => m,
    )
  })
})

describe('Heartbeat', () => {
  const request = fc.record({ groupId: str, generationId: int32, memberId: str, groupInstanceId: nullableStr })
  const response = fc.record({ throttleTimeMs: int32, errorCode })

  for (const v of [0, 1, 2, 3]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(Heartbeat, v, m),
        (m) =>
          kafkajsBody(
            Heartbeat,
            v,
            kafkajs('heartbeat', v).request({
              groupId: m.groupId,
              groupGenerationId: m.generationId,
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
            }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(Heartbeat, v, m),
        (b) => kafkajs('heartbeat', v).response.decode(b),
        (m) => ({ errorCode: m.errorCode, ...kafkajsThrottle(v, 1, 2, m.throttleTimeMs) }),
      ))
  }
  it('v4 request: same bytes as platformatic', () =>
    sameBytes(
      request,
      (m) => encReq(Heartbeat, 4, m),
      (m) => platformaticBody(Heartbeat, 4, platformatic(plt.heartbeatV4.api, m.groupId, m.generationId, m.memberId, m.groupInstanceId)),
    ))
  it('v4 response: platformatic reads it', () => {
    const sent = platformatic(plt.heartbeatV4.api, 'g', 1, 'm', null)
    return readsBack(
      response,
      (m) => encRes(Heartbeat, 4, m),
      (b) => platformaticParse(Heartbeat, 4, sent, b),
      (m) => m,
    )
  })
})

describe('LeaveGroup', () => {
  const request = fc.record({
    groupId: str,
    memberId: str,
    members: list(fc.record({ memberId: str, groupInstanceId: nullableStr })),
  })
  const response = fc.record({
    throttleTimeMs: int32,
    errorCode,
    members: list(fc.record({ memberId: str, groupInstanceId: nullableStr, errorCode })),
  })

  for (const v of [0, 1, 2, 3]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(LeaveGroup, v, m),
        (m) =>
          kafkajsBody(
            LeaveGroup,
            v,
            kafkajs('leaveGroup', v).request(v < 3 ? { groupId: m.groupId, memberId: m.memberId } : { groupId: m.groupId, members: m.members }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(LeaveGroup, v, m),
        (b) => kafkajs('leaveGroup', v).response.decode(b),
        (m) => ({ errorCode: m.errorCode, ...(v >= 3 ? { members: m.members } : {}), ...kafkajsThrottle(v, 1, 2, m.throttleTimeMs) }),
      ))
  }
  it('v4 request: same bytes as platformatic', () =>
    sameBytes(
      request,
      (m) => encReq(LeaveGroup, 4, m),
      (m) => platformaticBody(LeaveGroup, 4, platformatic(plt.leaveGroupV4.api, m.groupId, m.members)),
    ))
  it('v4 response: platformatic reads it', () => {
    const sent = platformatic(plt.leaveGroupV4.api, 'g', [])
    return readsBack(
      response,
      (m) => encRes(LeaveGroup, 4, m),
      (b) => platformaticParse(LeaveGroup, 4, sent, b),
      (m) => m,
    )
  })
})

describe('OffsetCommit', () => {
  const request = fc.record({
    groupId: str,
    generationIdOrMemberEpoch: int32,
    memberId: str,
    groupInstanceId: nullableStr,
    retentionTimeMs: int64,
    topics: list(
      fc.record({
        name: str,
        partitions: list(fc.record({ partitionIndex: int32, committedOffset: int64, committedLeaderEpoch: int32, committedMetadata: nullableStr })),
      }),
    ),
  })
  const response = fc.record({
    throttleTimeMs: int32,
    topics: list(fc.record({ name: str, partitions: list(fc.record({ partitionIndex: int32, errorCode })) })),
  })

  for (const v of [0, 1]) {
    it(`v${v} request: same bytes as kafkajs${v === 1 ? ' (with per-partition commit timestamps)' : ''}`, () =>
      sameBytes(
        fc.tuple(request, int64),
        ([m, commitTimestamp]) => encReq(OffsetCommit, v, { ...m, topics: m.topics.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, commitTimestamp })) })) }),
        ([m, commitTimestamp]) =>
          kafkajsBody(
            OffsetCommit,
            v,
            kafkajs('offsetCommit', v).request({
              groupId: m.groupId,
              groupGenerationId: m.generationIdOrMemberEpoch,
              memberId: m.memberId,
              topics: m.topics.map((t) => ({
                topic: t.name,
                partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, offset: String(p.committedOffset), timestamp: String(commitTimestamp), metadata: p.committedMetadata })),
              })),
            }),
          ),
      ))
  }

  for (const v of [2, 3, 4, 5]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(OffsetCommit, v, m),
        (m) =>
          kafkajsBody(
            OffsetCommit,
            v,
            kafkajs('offsetCommit', v).request({
              groupId: m.groupId,
              groupGenerationId: m.generationIdOrMemberEpoch,
              memberId: m.memberId,
              retentionTime: m.retentionTimeMs,
              topics: m.topics.map((t) => ({
                topic: t.name,
                partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, offset: String(p.committedOffset), metadata: p.committedMetadata })),
              })),
            }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(OffsetCommit, v, m),
        (b) => kafkajs('offsetCommit', v).response.decode(b),
        (m) => ({
          responses: m.topics.map((t) => ({
            topic: t.name,
            partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, errorCode: p.errorCode })),
          })),
          ...kafkajsThrottle(v, 3, 4, m.throttleTimeMs),
        }),
      ))
  }
  for (const [v, mod] of [
    [8, plt.offsetCommitV8],
    [9, plt.offsetCommitV9],
  ] as const) {
    it(`v${v} request: same bytes as platformatic`, () =>
      sameBytes(
        request,
        (m) => encReq(OffsetCommit, v, m),
        (m) =>
          platformaticBody(
            OffsetCommit,
            v,
            platformatic(
              mod.api,
              m.groupId,
              m.generationIdOrMemberEpoch,
              m.memberId,
              m.groupInstanceId,
              m.topics.map((t) => ({
                name: t.name,
                partitions: t.partitions.map((p) => ({ ...p, committedOffset: BigInt(p.committedOffset) })),
              })),
            ),
          ),
      ))
    it(`v${v} response: platformatic reads it`, () => {
      const sent = platformatic(mod.api, 'g', 1, 'm', null, [])
      return readsBack(
        response,
        (m) => encRes(OffsetCommit, v, m),
        (b) => platformaticParse(OffsetCommit, v, sent, b),
        (m) => m,
      )
    })
  }
})

describe('OffsetFetch', () => {
  const request = fc.record({
    groupId: str,
    topics: list(fc.record({ name: str, partitionIndexes: list(int32) })),
  })
  const response = fc.record({
    throttleTimeMs: int32,
    topics: list(
      fc.record({
        name: str,
        partitions: list(fc.record({ partitionIndex: int32, committedOffset: int64, metadata: nullableStr, errorCode })),
      }),
    ),
    errorCode,
  })

  for (const v of [1, 2, 3, 4]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        // From v3 kafkajs writes an empty topic list as null ("all topics"), its only way to ask for them.
        (m) => encReq(OffsetFetch, v, { ...m, topics: v >= 3 && m.topics.length === 0 ? null : m.topics }),
        (m) =>
          kafkajsBody(
            OffsetFetch,
            v,
            kafkajs('offsetFetch', v).request({
              groupId: m.groupId,
              topics: m.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes.map((p) => ({ partition: p })) })),
            }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(OffsetFetch, v, m),
        (b) => kafkajs('offsetFetch', v).response.decode(b),
        (m) => ({
          responses: m.topics.map((t) => ({
            topic: t.name,
            partitions: t.partitions.map((p) => ({
              partition: p.partitionIndex,
              offset: String(p.committedOffset),
              metadata: p.metadata,
              errorCode: p.errorCode,
            })),
          })),
          ...(v >= 2 ? { errorCode: m.errorCode } : {}),
          ...kafkajsThrottle(v, 3, 4, m.throttleTimeMs),
        }),
      ))
  }
  it('v8 request: same bytes as platformatic', () =>
    sameBytes(
      fc.record({
        groups: list(fc.record({ groupId: str, topics: fc.option(list(fc.record({ name: str, partitionIndexes: list(int32) })), { nil: null }) })),
        requireStable: fc.boolean(),
      }),
      (m) => encReq(OffsetFetch, 8, m),
      (m) =>
        platformaticBody(
          OffsetFetch,
          8,
          platformatic(plt.offsetFetchV8.api, m.groups as Parameters<typeof plt.offsetFetchV8.createRequest>[0], m.requireStable),
        ),
    ))
  it('v8 response: platformatic reads it', () => {
    const sent = platformatic(plt.offsetFetchV8.api, [], false)
    return readsBack(
      fc.record({
        throttleTimeMs: int32,
        groups: list(
          fc.record({
            groupId: str,
            topics: list(
              fc.record({
                name: str,
                partitions: list(fc.record({ partitionIndex: int32, committedOffset: int64, committedLeaderEpoch: int32, metadata: nullableStr, errorCode })),
              }),
            ),
            errorCode,
          }),
        ),
      }),
      (m) => encRes(OffsetFetch, 8, m),
      (b) => platformaticParse(OffsetFetch, 8, sent, b),
      (m) => ({
        ...m,
        groups: m.groups.map((g) => ({
          ...g,
          topics: g.topics.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, committedOffset: BigInt(p.committedOffset) })) })),
        })),
      }),
    )
  })
})

describe('InitProducerId', () => {
  const request = fc.record({ transactionalId: nullableStr, transactionTimeoutMs: int32, producerId: int64, producerEpoch: int16 })
  const response = fc.record({ throttleTimeMs: int32, errorCode, producerId: int64, producerEpoch: int16 })

  for (const v of [0, 1]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(InitProducerId, v, m),
        (m) =>
          kafkajsBody(
            InitProducerId,
            v,
            kafkajs('initProducerId', v).request({ transactionalId: m.transactionalId, transactionTimeout: m.transactionTimeoutMs }),
          ),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(InitProducerId, v, m),
        (b) => kafkajs('initProducerId', v).response.decode(b),
        (m) => ({
          errorCode: m.errorCode,
          producerId: String(m.producerId),
          producerEpoch: m.producerEpoch,
          ...kafkajsThrottle(v, 0, 1, m.throttleTimeMs),
        }),
      ))
  }
  for (const [v, mod] of [
    [3, plt.initProducerIdV3],
    [4, plt.initProducerIdV4],
  ] as const) {
    it(`v${v} request: same bytes as platformatic`, () =>
      sameBytes(
        request,
        (m) => encReq(InitProducerId, v, m),
        (m) =>
          platformaticBody(
            InitProducerId,
            v,
            platformatic(mod.api, m.transactionalId, m.transactionTimeoutMs, BigInt(m.producerId), m.producerEpoch),
          ),
      ))
    it(`v${v} response: platformatic reads it`, () => {
      const sent = platformatic(mod.api, null, 1, -1n, -1)
      return readsBack(
        response,
        (m) => encRes(InitProducerId, v, m),
        (b) => platformaticParse(InitProducerId, v, sent, b),
        (m) => ({ ...m, producerId: BigInt(m.producerId) }),
      )
    })
  }
})

describe('SaslHandshake', () => {
  const request = fc.record({ mechanism: str })
  const response = fc.record({ errorCode, mechanisms: list(str) })

  for (const v of [0, 1]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(SaslHandshake, v, m),
        (m) => kafkajsBody(SaslHandshake, v, kafkajs('saslHandshake', v).request({ mechanism: m.mechanism })),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(SaslHandshake, v, m),
        (b) => kafkajs('saslHandshake', v).response.decode(b),
        (m) => ({ errorCode: m.errorCode, enabledMechanisms: m.mechanisms }),
      ))
  }
  it('v1 request: same bytes as platformatic', () =>
    sameBytes(
      request,
      (m) => encReq(SaslHandshake, 1, m),
      (m) => platformaticBody(SaslHandshake, 1, platformatic(plt.saslHandshakeV1.api, m.mechanism)),
    ))
  it('v1 response: platformatic reads it', () => {
    const sent = platformatic(plt.saslHandshakeV1.api, 'PLAIN')
    return readsBack(
      response,
      (m) => encRes(SaslHandshake, 1, m),
      (b) => platformaticParse(SaslHandshake, 1, sent, b),
      (m) => m,
    )
  })
})

describe('SaslAuthenticate', () => {
  const request = fc.record({ authBytes: bytes })
  const response = fc.record({ errorCode, errorMessage: nullableStr, authBytes: bytes, sessionLifetimeMs: int64 })

  for (const v of [0, 1]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        request,
        (m) => encReq(SaslAuthenticate, v, m),
        (m) => kafkajsBody(SaslAuthenticate, v, kafkajs('saslAuthenticate', v).request({ authBytes: kafkajsFramed(m.authBytes) })),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(SaslAuthenticate, v, m),
        (b) => kafkajs('saslAuthenticate', v).response.decode(b),
        (m) => ({
          errorCode: m.errorCode,
          errorMessage: m.errorMessage,
          authBytes: kafkajsFramed(m.authBytes),
          ...(v >= 1 ? { sessionLifetimeMs: String(m.sessionLifetimeMs) } : {}),
        }),
      ))
  }
  it('v2 request: same bytes as platformatic', () =>
    sameBytes(
      request,
      (m) => encReq(SaslAuthenticate, 2, m),
      (m) => platformaticBody(SaslAuthenticate, 2, platformatic(plt.saslAuthenticateV2.api, m.authBytes)),
    ))
  it('v2 response: platformatic reads it', () => {
    const sent = platformatic(plt.saslAuthenticateV2.api, Buffer.alloc(0))
    return readsBack(
      response,
      (m) => encRes(SaslAuthenticate, 2, m),
      (b) => platformaticParse(SaslAuthenticate, 2, sent, b),
      (m) => ({ ...m, sessionLifetimeMs: BigInt(m.sessionLifetimeMs) }),
    )
  })
})

describe('ListGroups', () => {
  for (const v of [0, 1, 2]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        fc.constant({}),
        (m) => encReq(ListGroups, v, m),
        () => kafkajsBody(ListGroups, v, kafkajs('listGroups', v).request({})),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        fc.record({ throttleTimeMs: int32, errorCode, groups: list(fc.record({ groupId: str, protocolType: str })) }),
        (m) => encRes(ListGroups, v, m),
        (b) => kafkajs('listGroups', v).response.decode(b),
        (m) => ({ errorCode: m.errorCode, groups: m.groups, ...kafkajsThrottle(v, 1, 2, m.throttleTimeMs) }),
      ))
  }
  it('v4 request: same bytes as platformatic', () =>
    sameBytes(
      list(platformaticState),
      (states) => encReq(ListGroups, 4, { statesFilter: states.map((s) => platformaticStates[s]) }),
      (states) => platformaticBody(ListGroups, 4, platformatic(plt.listGroupsV4.api, states, [])),
    ))
  it('v4 response: platformatic reads it', () => {
    const sent = platformatic(plt.listGroupsV4.api, [], [])
    return readsBack(
      fc.record({ throttleTimeMs: int32, errorCode, groups: list(fc.record({ groupId: str, protocolType: str, groupState })) }),
      (m) => encRes(ListGroups, 4, m),
      (b) => platformaticParse(ListGroups, 4, sent, b),
      (m) => m,
    )
  })
})

describe('DescribeGroups', () => {
  const member = fc.record({
    memberId: str,
    groupInstanceId: nullableStr,
    clientId: str,
    clientHost: str,
    memberMetadata: bytes,
    memberAssignment: bytes,
  })
  const response = fc.record({
    throttleTimeMs: int32,
    groups: list(
      fc.record({
        errorCode,
        groupId: str,
        groupState,
        protocolType: str,
        protocolData: str,
        members: list(member),
        authorizedOperations: int32,
      }),
    ),
  })

  for (const v of [0, 1, 2]) {
    it(`v${v} request: same bytes as kafkajs`, () =>
      sameBytes(
        fc.record({ groups: list(str) }),
        (m) => encReq(DescribeGroups, v, m),
        (m) => kafkajsBody(DescribeGroups, v, kafkajs('describeGroups', v).request({ groupIds: m.groups })),
      ))
    it(`v${v} response: kafkajs reads it`, () =>
      readsBack(
        response,
        (m) => encRes(DescribeGroups, v, m),
        (b) => kafkajs('describeGroups', v).response.decode(b),
        (m) => ({
          groups: m.groups.map((g) => ({
            errorCode: g.errorCode,
            groupId: g.groupId,
            state: g.groupState,
            protocolType: g.protocolType,
            protocol: g.protocolData,
            members: g.members.map(({ groupInstanceId: _, ...rest }) => rest),
          })),
          ...kafkajsThrottle(v, 1, 2, m.throttleTimeMs),
        }),
      ))
  }
  it('v5 request: same bytes as platformatic', () =>
    sameBytes(
      fc.record({ groups: list(str), includeAuthorizedOperations: fc.boolean() }),
      (m) => encReq(DescribeGroups, 5, m),
      (m) => platformaticBody(DescribeGroups, 5, platformatic(plt.describeGroupsV5.api, m.groups, m.includeAuthorizedOperations)),
    ))
  it('v5 response: platformatic reads it', () => {
    const sent = platformatic(plt.describeGroupsV5.api, [], false)
    return readsBack(
      response,
      (m) => encRes(DescribeGroups, 5, m),
      (b) => platformaticParse(DescribeGroups, 5, sent, b),
      (m) => m,
    )
  })
})

// ---- consumer protocol ----

const topicName = str.map((s) => `t-${s}`)
const subscriptionIn: fc.Arbitrary<Subscription> = fc.record({
  topics: list(str),
  userData: fc.option(bytes, { nil: null }),
  ownedPartitions: list(fc.record({ topic: str, partitions: list(int32) })),
  generationId: int32,
  rackId: nullableStr,
})
const assignmentIn: fc.Arbitrary<Assignment> = fc.record({
  assignedPartitions: list(fc.record({ topic: str, partitions: list(int32) })),
  userData: fc.option(bytes, { nil: null }),
})

/** What a version carries of a subscription; the rest reads back as Kafka's defaults. */
function subscriptionAt(v: number, m: Subscription): Subscription {
  return {
    topics: m.topics,
    userData: m.userData,
    ownedPartitions: v >= 1 ? m.ownedPartitions : [],
    generationId: v >= 2 ? m.generationId : -1,
    rackId: v >= 3 ? m.rackId : null,
  }
}

describe('consumer protocol', () => {
  it('subscription v0-3 round-trips, fields newer than the version reading as defaults', async () => {
    await fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), subscriptionIn, (v, m) => {
        const buf = ConsumerProtocolSubscription.encode(v, m)
        expect(buf.readInt16BE(0)).toBe(v)
        expect(ConsumerProtocolSubscription.decode(buf)).toEqual({ version: v, value: subscriptionAt(v, m) })
      }),
      { seed },
    )
  })

  it('assignment v0-3 round-trips', async () => {
    await fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), assignmentIn, (v, m) => {
        const buf = ConsumerProtocolAssignment.encode(v, m)
        expect(buf.readInt16BE(0)).toBe(v)
        expect(ConsumerProtocolAssignment.decode(buf)).toEqual({ version: v, value: m })
      }),
      { seed },
    )
  })

  it('subscription v3 follows the field order of ConsumerProtocolSubscription.json', () => {
    const expected = new Writer()
      .int16(3)
      .int32(2)
      .nullableString('a')
      .nullableString('b')
      .nullableBytes(Buffer.from([9]))
      .int32(1)
      .nullableString('a')
      .int32(2)
      .int32(0)
      .int32(5)
      .int32(7)
      .nullableString('rack-1')
      .toBuffer()
    const ours = ConsumerProtocolSubscription.encode(3, {
      topics: ['a', 'b'],
      userData: Buffer.from([9]),
      ownedPartitions: [{ topic: 'a', partitions: [0, 5] }],
      generationId: 7,
      rackId: 'rack-1',
    })
    expect(hex(ours)).toBe(hex(expected))
  })

  it('reads a version newer than v3 as v3 and ignores the fields appended after it', () => {
    const v3 = ConsumerProtocolSubscription.encode(3, { topics: ['x'], generationId: 4, rackId: 'r' })
    const v9 = Buffer.concat([v3, Buffer.from([0, 0, 0, 42, 1, 2, 3])])
    v9.writeInt16BE(9, 0)
    expect(ConsumerProtocolSubscription.decode(v9)).toEqual({
      version: 9,
      value: { topics: ['x'], userData: null, ownedPartitions: [], generationId: 4, rackId: 'r' },
    })
    const a = ConsumerProtocolAssignment.encode(3, { assignedPartitions: [{ topic: 'x', partitions: [1] }] })
    a.writeInt16BE(5, 0)
    expect(ConsumerProtocolAssignment.decode(a)?.value.assignedPartitions).toEqual([{ topic: 'x', partitions: [1] }])
  })

  it('reads no bytes as null, and rejects negative versions and truncated structs', () => {
    expect(ConsumerProtocolSubscription.decode(Buffer.alloc(0))).toBeNull()
    expect(ConsumerProtocolAssignment.decode(Buffer.alloc(0))).toBeNull()
    expect(() => ConsumerProtocolSubscription.decode(Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]))).toThrow(DecodeError)
    const whole = ConsumerProtocolAssignment.encode(1, { assignedPartitions: [{ topic: 'x', partitions: [1, 2] }] })
    expect(() => ConsumerProtocolAssignment.decode(whole.subarray(0, whole.length - 1))).toThrow(DecodeError)
  })

  it('refuses to encode a version it does not know', () => {
    expect(() => ConsumerProtocolSubscription.encode(4, {})).toThrow(EncodeError)
    expect(() => ConsumerProtocolAssignment.encode(-1, {})).toThrow(EncodeError)
  })

  it('matches kafkajs MemberMetadata (its subscription, v0) both ways', async () => {
    await fc.assert(
      fc.property(list(str), fc.option(bytes, { nil: null }), (topics, userData) => {
        const theirs = AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData })
        expect(hex(ConsumerProtocolSubscription.encode(0, { topics, userData }))).toBe(hex(theirs))
        expect(ConsumerProtocolSubscription.decode(theirs)?.value).toMatchObject({ topics, userData })
        expect(AssignerProtocol.MemberMetadata.decode(ConsumerProtocolSubscription.encode(0, { topics, userData }))).toEqual({
          version: 0,
          topics,
          userData,
        })
      }),
      { seed },
    )
  })

  it('matches kafkajs MemberAssignment (its assignment, v0) both ways', async () => {
    // kafkajs keys assignments by topic in an object, so topics are unique and never integer-like keys.
    const assigned = fc.uniqueArray(fc.record({ topic: topicName, partitions: list(int32) }), { maxLength: 3, selector: (t) => t.topic })
    await fc.assert(
      fc.property(assigned, fc.option(bytes, { nil: null }), (assignedPartitions, userData) => {
        const assignment = Object.fromEntries(assignedPartitions.map((t) => [t.topic, t.partitions]))
        const theirs = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData })
        const ours = ConsumerProtocolAssignment.encode(0, { assignedPartitions, userData } satisfies AssignmentIn)
        expect(hex(ours)).toBe(hex(theirs))
        expect(AssignerProtocol.MemberAssignment.decode(ours)).toEqual({ version: 0, assignment, userData })
      }),
      { seed },
    )
  })

  it('exports nothing the message-discovery test would take for an API', () => {
    for (const value of Object.values(consumerProtocolModule)) {
      expect(value).not.toHaveProperty('key')
      expect(value).not.toHaveProperty('request')
      expect(value).not.toHaveProperty('response')
    }
  })
})
