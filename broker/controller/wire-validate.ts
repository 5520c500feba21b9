// What may arrive on the CONTROLLER listener (controller-channel.ts), checked before anything of it reaches the
// Raft node or the quorum controller. Frames are JSON, so a peer (another version, a bug, a stray client) can
// send any value: a missing field, a string for a number, 1e300 for an offset, a million-element array. Raft
// treats a throw as a broken invariant and stops the node, and the controller would write what it is handed
// into the metadata log, so the shapes are checked here, strictly: exact key sets, safe integers in range,
// bounded arrays and strings, Buffers where Buffers belong.
//
// Schemas are small combinators whose types follow the message types (a field added to a message without a
// schema entry does not compile). A check returns null or what is wrong, as a path and a short description:
// `.m.entries[3].offset: expected an integer in 0..9007199254740991, got -1`. Paths are built only on failure.
//
// Beyond shape, a few rules that tie a message to its sender or to itself, so that a peer cannot make Raft
// trip over one of its invariants: a vote, BeginQuorumEpoch, EndQuorumEpoch or a response to a fetch comes
// only from a voter; a request names its sender (candidateId, leaderId, replicaId = the connection's node);
// a fetch response's entries continue the fetcher's log (consecutive offsets from fetchOffset, epochs from
// lastFetchedEpoch up to the response's epoch, never decreasing).

import type { PartitionInfo } from './metadata-image.ts'
import type { Endpoint } from './metadata-records.ts'
import type { Acl, AclFilter } from '../security/authorizer.ts'
import type { ConfigChange, ControllerApi, CreatePartitionsSpec, CreateTopicResult, CreateTopicSpec, ElectLeadersRequest, PartitionElectionResult, ReassignmentsRequest, ScramAlteration } from './quorum-controller.ts'
import type { LogEntry, RaftMessage, SnapshotId } from './raft-types.ts'

/** Null when the value fits, else what is wrong (a path relative to the value, then ': ...'). */
export type Schema<T> = ((v: unknown) => string | null) & { readonly __type?: T }

const schema = <T>(fn: (v: unknown) => string | null): Schema<T> => fn as Schema<T>

export const MAX_FRAME = 64 << 20
const INT32_MAX = 2 ** 31 - 1
const SAFE = Number.MAX_SAFE_INTEGER

/** Sane bounds: far above what the broker sends, far below what would hurt. */
export const LIMITS = {
  voters: 1000,
  fetchEntries: 100_000,
  recordsPerEntry: 1_000_000,
  maxWaitMs: 600_000,
  endpoints: 64,
  hostChars: 1024,
  topicsPerRequest: 10_000,
  /** Kafka strings are at most 32767 bytes; the controller answers names over 249 with INVALID_TOPIC_EXCEPTION. */
  topicNameChars: 32_767,
  topicIdChars: 64,
  partitionsPerTopic: 100_000,
  replicasPerPartition: 1000,
  configsPerTopic: 1000,
  configValueChars: 32_767,
  errorMessageChars: 65_536,
  scramAlterations: 10_000,
  userNameChars: 32_767,
  scramKeyChars: 1024,
  aclsPerRequest: 10_000,
  aclStringChars: 32_767,
} as const

/** A short description of a value for error messages. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`
  if (Array.isArray(v)) return `an array of ${v.length}`
  if (typeof v === 'string') return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}… (${v.length} chars)` : JSON.stringify(v)
  if (typeof v === 'object') {
    const keys = Object.keys(v)
    return `an object {${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''}}`
  }
  return String(v)
}

const expected = (what: string, v: unknown): string => `: expected ${what}, got ${showValue(v)}`

export function int(min: number, max: number): Schema<number> {
  return schema((v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? null : expected(`an integer in ${min}..${max}`, v)))
}

export function str(max: number, min = 0, pattern?: RegExp): Schema<string> {
  return schema((v) => {
    if (typeof v !== 'string' || v.length < min || v.length > max) return expected(`a string of ${min}..${max} chars`, v)
    return pattern && !pattern.test(v) ? expected(`a string matching ${String(pattern)}`, v) : null
  })
}

export const bool: Schema<boolean> = schema((v) => (typeof v === 'boolean' ? null : expected('a boolean', v)))

export function lit<L extends string>(l: L): Schema<L> {
  return schema((v) => (v === l ? null : expected(JSON.stringify(l), v)))
}

export function buf(max: number): Schema<Buffer> {
  return schema((v) => (Buffer.isBuffer(v) && v.length <= max ? null : expected(`a Buffer ({"$b": base64}) of at most ${max} bytes`, v)))
}

export function nullable<T>(s: Schema<T>): Schema<T | null> {
  return schema((v) => (v === null ? null : s(v)))
}

/** A field that may be absent (JSON has no undefined). */
export function optional<T>(s: Schema<T>): Schema<T | undefined> {
  return schema((v) => (v === undefined ? null : s(v)))
}

export function arr<T>(item: Schema<T>, max: number, min = 0): Schema<T[]> {
  return schema((v) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) return expected(`an array of ${min}..${max} items`, v)
    for (let i = 0; i < v.length; i++) {
      const e = item(v[i])
      if (e !== null) return `[${i}]${e}`
    }
    return null
  })
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype

/** An object with exactly these keys (absent ones only where the schema is optional). */
export function obj<T>(fields: { readonly [K in keyof T]-?: Schema<T[K]> }): Schema<T> {
  const entries = Object.entries(fields) as [string, Schema<unknown>][]
  const known = new Set(entries.map(([k]) => k))
  return schema((v) => {
    if (!isPlainObject(v)) return expected(`an object {${[...known].join(', ')}}`, v)
    for (const [k, s] of entries) {
      const e = s(Object.hasOwn(v, k) ? v[k] : undefined)
      if (e !== null) return `.${k}${e}`
    }
    for (const k of Object.keys(v)) if (!known.has(k)) return `.${k.length > 40 ? `${k.slice(0, 40)}…` : k}: unknown field`
    return null
  })
}

/** A string-to-string map, e.g. topic config overrides. */
export function record(keyPattern: RegExp, maxKeys: number, maxValueChars: number): Schema<Readonly<Record<string, string>>> {
  const value = str(maxValueChars)
  return schema((v) => {
    if (!isPlainObject(v)) return expected('an object of strings', v)
    const keys = Object.keys(v)
    if (keys.length > maxKeys) return `: more than ${maxKeys} keys (${keys.length})`
    for (const k of keys) {
      if (!keyPattern.test(k)) return `: key ${showValue(k)} does not match ${String(keyPattern)}`
      const e = value(v[k])
      if (e !== null) return `.${k}${e}`
    }
    return null
  })
}

/** A union told apart by a string field. */
export function tagged<T extends Record<D, string>, D extends string>(d: D, cases: { readonly [K in T[D]]: Schema<Extract<T, Record<D, K>>> }): Schema<T> {
  const table = new Map(Object.entries(cases) as [string, Schema<unknown>][])
  return schema((v) => {
    const tag = isPlainObject(v) ? v[d] : undefined
    const s = typeof tag === 'string' ? table.get(tag) : undefined
    return s ? s(v) : isPlainObject(v) ? `.${d}${expected(`one of ${[...table.keys()].join(', ')}`, tag)}` : expected('an object', v)
  })
}

/** A schema with a further check on a value of the right shape. */
export function refine<T>(s: Schema<T>, more: (v: T) => string | null): Schema<T> {
  return schema((v) => s(v) ?? more(v as T))
}

// ---- Raft messages ----

const nodeId = int(0, INT32_MAX)
const epoch = int(0, INT32_MAX)
const offset = int(0, SAFE)
const offsetOrNone = int(-1, SAFE)
const errorCode = int(-1, 32_767)
const leaderId = nullable(nodeId)
const correlationId = int(0, SAFE)

const snapshotId = obj<SnapshotId>({ endOffset: offset, epoch })

const logEntry = tagged<LogEntry, 'kind'>('kind', {
  data: obj({ offset, epoch, kind: lit('data'), records: arr(buf(MAX_FRAME), LIMITS.recordsPerEntry, 1) }),
  'leader-change': obj({ offset, epoch, kind: lit('leader-change'), leaderId: nodeId }),
})

type Msg<K extends RaftMessage['type']> = Extract<RaftMessage, { type: K }>

const fetchResponse = refine(
  obj<Msg<'fetch-response'>>({
    type: lit('fetch-response'),
    errorCode,
    epoch,
    leaderId,
    correlationId,
    fetchOffset: offset,
    lastFetchedEpoch: epoch,
    highWatermark: offsetOrNone,
    logStartOffset: offsetOrNone,
    divergingEpoch: nullable(obj({ epoch, endOffset: offset })),
    snapshotId: nullable(snapshotId),
    entries: arr(logEntry, LIMITS.fetchEntries),
  }),
  (r) => {
    const parts = (r.divergingEpoch ? 1 : 0) + (r.snapshotId ? 1 : 0) + (r.entries.length > 0 ? 1 : 0)
    if (parts > 1) return ': carries more than one of divergingEpoch, snapshotId and entries'
    if (parts > 0 && r.errorCode !== 0) return `: an error response (errorCode ${r.errorCode}) carries divergingEpoch, snapshotId or entries`
    let last = r.lastFetchedEpoch
    for (let i = 0; i < r.entries.length; i++) {
      const e = r.entries[i]!
      if (e.offset !== r.fetchOffset + i) return `.entries[${i}].offset: expected ${r.fetchOffset + i} (fetchOffset ${r.fetchOffset} + ${i}), got ${e.offset}`
      if (e.epoch < last || e.epoch > r.epoch) return `.entries[${i}].epoch: expected ${last}..${r.epoch} (entries continue the fetcher's log up to the leader's epoch), got ${e.epoch}`
      last = e.epoch
    }
    return null
  },
)

export const raftMessage: Schema<RaftMessage> = tagged<RaftMessage, 'type'>('type', {
  'vote-request': obj({ type: lit('vote-request'), epoch, candidateId: nodeId, lastEpoch: epoch, endOffset: offset, preVote: bool }),
  'vote-response': obj({ type: lit('vote-response'), errorCode, epoch, leaderId, granted: bool, preVote: bool }),
  'begin-quorum-epoch-request': obj({ type: lit('begin-quorum-epoch-request'), epoch, leaderId: nodeId }),
  'begin-quorum-epoch-response': obj({ type: lit('begin-quorum-epoch-response'), errorCode, epoch, leaderId }),
  'end-quorum-epoch-request': refine(obj({ type: lit('end-quorum-epoch-request'), epoch, leaderId: nodeId, preferredSuccessors: arr(nodeId, LIMITS.voters) }), (r) =>
    new Set(r.preferredSuccessors).size === r.preferredSuccessors.length ? null : '.preferredSuccessors: names a node twice',
  ),
  'end-quorum-epoch-response': obj({ type: lit('end-quorum-epoch-response'), errorCode, epoch, leaderId }),
  'fetch-request': obj({
    type: lit('fetch-request'),
    epoch,
    replicaId: nodeId,
    fetchOffset: offset,
    lastFetchedEpoch: epoch,
    highWatermark: offset,
    maxWaitMs: int(0, LIMITS.maxWaitMs),
    correlationId,
  }),
  'fetch-response': fetchResponse,
  'fetch-snapshot-request': obj({ type: lit('fetch-snapshot-request'), epoch, replicaId: nodeId, snapshotId, position: offset, correlationId }),
  'fetch-snapshot-response': obj({
    type: lit('fetch-snapshot-response'),
    errorCode,
    epoch,
    leaderId,
    snapshotId,
    size: offset,
    position: offset,
    correlationId,
    bytes: buf(MAX_FRAME),
  }),
})

/**
 * Who may send what: `voter` messages come only from voters (an observer only fetches); `self` names the field
 * that must be the sender's own id.
 */
const SENDERS: { readonly [K in RaftMessage['type']]: { readonly voter: boolean; readonly self?: keyof Msg<K> } } = {
  'vote-request': { voter: true, self: 'candidateId' },
  'vote-response': { voter: true },
  'begin-quorum-epoch-request': { voter: true, self: 'leaderId' },
  'begin-quorum-epoch-response': { voter: true },
  'end-quorum-epoch-request': { voter: true, self: 'leaderId' },
  'end-quorum-epoch-response': { voter: true },
  'fetch-request': { voter: false, self: 'replicaId' },
  'fetch-response': { voter: true },
  'fetch-snapshot-request': { voter: false, self: 'replicaId' },
  'fetch-snapshot-response': { voter: true },
}

/** Checks a Raft message from node `from`; null when Raft may have it. */
export function checkRaftMessage(m: unknown, from: number, voters: ReadonlySet<number>): string | null {
  const e = raftMessage(m)
  if (e !== null) return e
  const msg = m as RaftMessage
  const rule = SENDERS[msg.type] as { voter: boolean; self?: string }
  if (rule.voter && !voters.has(from)) return `: ${msg.type} from node ${from}, which is not a voter (voters ${[...voters].join(', ')})`
  if (rule.self !== undefined) {
    const named = (msg as unknown as Record<string, number>)[rule.self]
    if (named !== from) return `.${rule.self}: ${msg.type} names node ${named}, but comes from node ${from}`
  }
  if (msg.type === 'end-quorum-epoch-request') {
    const stranger = msg.preferredSuccessors.find((id) => !voters.has(id))
    if (stranger !== undefined) return `.preferredSuccessors: node ${stranger} is not a voter`
  }
  return null
}

// ---- controller requests ----

export type ControllerMethod = keyof ControllerApi
export type ControllerArgs<M extends ControllerMethod> = Parameters<ControllerApi[M]>[0]
export type ControllerResult<M extends ControllerMethod> = Awaited<ReturnType<ControllerApi[M]>>

export const CONTROLLER_METHODS: readonly ControllerMethod[] = ['registerBroker', 'heartbeat', 'createTopics', 'deleteTopics', 'alterPartition', 'allocateProducerIds', 'electLeaders', 'alterPartitionReassignments', 'createPartitions', 'alterConfigs', 'alterUserScramCredentials', 'createAcls', 'deleteAcls']

export const isControllerMethod = (m: unknown): m is ControllerMethod => typeof m === 'string' && (CONTROLLER_METHODS as readonly string[]).includes(m)

const brokerId = nodeId
const brokerEpoch = offsetOrNone
const int32 = int(-(2 ** 31), INT32_MAX)
const topicId = str(LIMITS.topicIdChars, 1)
const errorMessage = nullable(str(LIMITS.errorMessageChars))
const replicaList = arr(nodeId, LIMITS.replicasPerPartition)

const endpoint = obj<Endpoint>({ name: str(255, 1), host: str(LIMITS.hostChars), port: int(0, 65_535) })

const createTopicSpec = obj<CreateTopicSpec>({
  name: str(LIMITS.topicNameChars),
  // The client's numbers as sent (int32): the controller answers INVALID_PARTITIONS and the like itself.
  partitions: int32,
  replicationFactor: int32,
  configs: record(/^(?!__proto__$)[A-Za-z0-9._-]{1,255}$/, LIMITS.configsPerTopic, LIMITS.configValueChars),
  assignments: optional(arr(arr(int32, LIMITS.replicasPerPartition), LIMITS.partitionsPerTopic)),
  validateOnly: optional(bool),
})

const createPartitionsSpec = obj<CreatePartitionsSpec>({
  topic: str(LIMITS.topicNameChars),
  count: int32,
  assignments: nullable(arr(arr(int32, LIMITS.replicasPerPartition), LIMITS.partitionsPerTopic)),
  validateOnly: bool,
})

const configName = str(255, 1, /^(?!__proto__$)[A-Za-z0-9._-]{1,255}$/)

const configChange = obj<ConfigChange>({
  resourceType: schema((v) => (v === 'topic' || v === 'broker' ? null : expected('"topic" or "broker"', v))),
  resourceName: str(LIMITS.topicNameChars),
  set: record(/^(?!__proto__$)[A-Za-z0-9._-]{1,255}$/, LIMITS.configsPerTopic, LIMITS.configValueChars),
  remove: arr(configName, LIMITS.configsPerTopic),
  replace: bool,
  validateOnly: bool,
})

const userName = str(LIMITS.userNameChars, 1)
const scramMechanism = int(1, 2)
const scramKey = str(LIMITS.scramKeyChars, 1, /^[A-Za-z0-9+/]+={0,2}$/)
const scramAlteration = obj<ScramAlteration>({
  deletions: arr(obj({ name: userName, mechanism: scramMechanism }), LIMITS.scramAlterations),
  upsertions: arr(obj({ name: userName, mechanism: scramMechanism, salt: scramKey, storedKey: scramKey, serverKey: scramKey, iterations: int(1, INT32_MAX) }), LIMITS.scramAlterations),
})

const int8 = int(-128, 127)
const aclString = str(LIMITS.aclStringChars)
const acl = obj<Acl>({ resourceType: int8, resourceName: aclString, patternType: int8, principal: aclString, host: aclString, operation: int8, permissionType: int8 })
const aclFilter = obj<AclFilter>({
  resourceType: int8,
  resourceName: nullable(aclString),
  patternType: int8,
  principal: nullable(aclString),
  host: nullable(aclString),
  operation: int8,
  permissionType: int8,
})

const ARGS: { readonly [M in ControllerMethod]: Schema<ControllerArgs<M>> } = {
  registerBroker: obj({ brokerId, incarnationId: str(256, 1), endpoints: arr(endpoint, LIMITS.endpoints), rack: nullable(str(1024)) }),
  heartbeat: obj({ brokerId, brokerEpoch, metadataOffset: offsetOrNone, wantShutDown: bool }),
  createTopics: arr(createTopicSpec, LIMITS.topicsPerRequest),
  deleteTopics: arr(topicId, LIMITS.topicsPerRequest),
  alterPartition: obj({ brokerId, brokerEpoch, topicId, partition: int(0, INT32_MAX), leaderEpoch: epoch, partitionEpoch: epoch, newIsr: replicaList }),
  allocateProducerIds: obj({ brokerId, brokerEpoch }),
  electLeaders: obj<ElectLeadersRequest>({
    brokerId,
    electionType: int(0, 1) as Schema<0 | 1>,
    topicPartitions: nullable(arr(obj({ topic: str(LIMITS.topicNameChars), partitions: arr(int32, LIMITS.partitionsPerTopic) }), LIMITS.topicsPerRequest)),
  }),
  alterPartitionReassignments: obj<ReassignmentsRequest>({
    brokerId,
    topics: arr(obj({ name: str(LIMITS.topicNameChars), partitions: arr(obj({ partitionIndex: int32, replicas: nullable(arr(int32, LIMITS.replicasPerPartition)) }), LIMITS.partitionsPerTopic) }), LIMITS.topicsPerRequest),
  }),
  createPartitions: arr(createPartitionsSpec, LIMITS.topicsPerRequest),
  alterConfigs: arr(configChange, LIMITS.topicsPerRequest),
  alterUserScramCredentials: scramAlteration,
  createAcls: arr(acl, LIMITS.aclsPerRequest),
  deleteAcls: arr(aclFilter, LIMITS.aclsPerRequest),
}

/** Methods whose argument is a list of topics (no brokerId): answered with one result per topic. */
const PER_TOPIC: ReadonlySet<ControllerMethod> = new Set<ControllerMethod>(['createTopics', 'deleteTopics', 'createPartitions', 'alterConfigs'])
/** Methods that do not speak for a broker (no brokerId to check against the sender). */
const NO_BROKER_ID: ReadonlySet<ControllerMethod> = new Set<ControllerMethod>([...PER_TOPIC, 'alterUserScramCredentials', 'createAcls', 'deleteAcls'])

/** Checks a controller request's arguments; with `from`, also that a broker speaks for itself (brokerId). */
export function checkControllerArgs(method: unknown, args: unknown, from?: number): string | null {
  if (!isControllerMethod(method)) return `.method${expected(`one of ${CONTROLLER_METHODS.join(', ')}`, method)}`
  const e = (ARGS[method] as Schema<unknown>)(args)
  if (e !== null) return `.args${e}`
  if (from !== undefined && !NO_BROKER_ID.has(method)) {
    const id = (args as { brokerId: number }).brokerId
    if (id !== from) return `.args.brokerId: ${method} for broker ${id} from node ${from}`
  }
  return null
}

const partitionInfo = obj<PartitionInfo>({
  topicId,
  partition: int(0, INT32_MAX),
  replicas: replicaList,
  isr: replicaList,
  leader: int(-1, INT32_MAX),
  leaderEpoch: epoch,
  partitionEpoch: epoch,
  addingReplicas: optional(replicaList),
  removingReplicas: optional(replicaList),
})

const createTopicResult = obj<CreateTopicResult>({
  errorCode,
  errorMessage,
  topicId: optional(topicId),
  partitions: optional(int(0, INT32_MAX)),
  replicationFactor: optional(int(0, INT32_MAX)),
})

const RESULTS: { readonly [M in ControllerMethod]: Schema<ControllerResult<M>> } = {
  registerBroker: obj({ errorCode, brokerEpoch, offset: offsetOrNone }),
  heartbeat: obj({ errorCode, isFenced: bool, shouldShutDown: bool, offset: offsetOrNone }),
  createTopics: obj({ errorCode, results: arr(createTopicResult, LIMITS.topicsPerRequest), offset: offsetOrNone }),
  deleteTopics: obj({ errorCode, results: arr(obj({ errorCode, errorMessage }), LIMITS.topicsPerRequest), offset: offsetOrNone }),
  alterPartition: obj({ errorCode, partition: optional(partitionInfo), offset: offsetOrNone }),
  allocateProducerIds: obj({ errorCode, start: int(-1, SAFE), length: int(0, INT32_MAX), offset: offsetOrNone }),
  electLeaders: obj({
    errorCode,
    results: arr(obj({ topic: str(LIMITS.topicNameChars), partitions: arr(obj<PartitionElectionResult>({ partitionId: int32, errorCode, errorMessage }), LIMITS.partitionsPerTopic) }), LIMITS.topicsPerRequest),
    offset: offsetOrNone,
  }),
  alterPartitionReassignments: obj({
    errorCode,
    results: arr(obj({ name: str(LIMITS.topicNameChars), partitions: arr(obj<PartitionElectionResult>({ partitionId: int32, errorCode, errorMessage }), LIMITS.partitionsPerTopic) }), LIMITS.topicsPerRequest),
    offset: offsetOrNone,
  }),
  createPartitions: obj({ errorCode, results: arr(obj({ errorCode, errorMessage }), LIMITS.topicsPerRequest), offset: offsetOrNone }),
  alterConfigs: obj({ errorCode, results: arr(obj({ errorCode, errorMessage }), LIMITS.topicsPerRequest), offset: offsetOrNone }),
  alterUserScramCredentials: obj({ errorCode, results: arr(obj({ user: userName, errorCode, errorMessage }), LIMITS.scramAlterations * 2), offset: offsetOrNone }),
  createAcls: obj({ errorCode, results: arr(obj({ errorCode, errorMessage }), LIMITS.aclsPerRequest), offset: offsetOrNone }),
  deleteAcls: obj({ errorCode, results: arr(obj({ errorCode, errorMessage, acls: arr(acl, 1_000_000) }), LIMITS.aclsPerRequest), offset: offsetOrNone }),
}

/** Checks the answer to our own request: its shape, and one result per topic asked about when it succeeded. */
export function checkControllerResult(method: ControllerMethod, result: unknown, args: unknown): string | null {
  const e = (RESULTS[method] as Schema<unknown>)(result)
  if (e !== null) return e
  if (PER_TOPIC.has(method) && Array.isArray(args)) {
    const r = result as { errorCode: number; results: readonly unknown[] }
    if (r.errorCode === 0 && r.results.length !== args.length) return `.results: ${r.results.length} results for ${args.length} topics`
  }
  return null
}

// ---- frames ----

export type Frame =
  | { readonly k: 'hello'; readonly from: number }
  | { readonly k: 'raft'; readonly m: RaftMessage }
  | { readonly k: 'req'; readonly id: number; readonly method: ControllerMethod; readonly args: unknown }
  | { readonly k: 'res'; readonly id: number; readonly ok: boolean; readonly result: unknown }

const anything: Schema<unknown> = schema(() => null)
const requestId = int(1, SAFE)

/**
 * The frame's envelope: its kind and fields. A Raft message's shape is checked here too (the sender rules need
 * the connection: checkRaftMessage), a request's arguments by checkControllerArgs, a response's result once
 * the request it answers is known (checkControllerResult).
 */
const envelope = tagged<Frame, 'k'>('k', {
  hello: obj({ k: lit('hello'), from: nodeId }),
  raft: obj({ k: lit('raft'), m: anything as Schema<RaftMessage> }),
  req: obj({ k: lit('req'), id: requestId, method: anything as Schema<ControllerMethod>, args: anything }),
  res: obj({ k: lit('res'), id: requestId, ok: bool, result: anything }),
})

export function checkFrame(v: unknown): string | null {
  return envelope(v)
}
