// The CONTROLLER listener against input of the wrong shape: a real ControllerChannel on 127.0.0.1 in front of a
// real metadata quorum of one (as broker.ts wires them), fed JSON frames that parse but are not what a peer
// sends. Each must close its connection with one warn line and reach neither Raft nor the controller; the
// node stays leader and keeps serving. Then a fast-check property with random JSON and random mutations of
// valid frames, and a three-voter quorum plus an observer over real channels, whose traffic (votes, fetches,
// snapshots, every controller request) must all pass the checks.
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { systemClock } from '../../../broker/clock.ts'
import { ControllerChannel } from '../../../broker/controller/controller-channel.ts'
import { ControllerClient, serveControllerRequests } from '../../../broker/controller/controller-client.ts'
import { MetadataQuorum } from '../../../broker/controller/metadata-quorum.ts'
import { checkControllerArgs, checkControllerResult, checkRaftMessage, LIMITS } from '../../../broker/controller/wire-validate.ts'
import type { RaftTransport } from '../../../broker/controller/raft-types.ts'
import type { Logger, LogFields } from '../../../broker/logger.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { seededRandom, SimFileSystem } from '../../../broker/storage/file-system.ts'
import { sleep, until } from '../../helpers/until.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`controller-channel-input.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

interface Line {
  level: string
  msg: string
  fields: LogFields
}

function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = []
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}) =>
      void lines.push({ level, msg, fields })
  const log: Logger = { debug: () => undefined, info: () => undefined, warn: at('warn'), error: at('error'), child: () => log }
  return { log, lines }
}

interface Node {
  id: number
  channel: ControllerChannel
  quorum: MetadataQuorum
  fatal: unknown[]
  lines: Line[]
  log: Logger
}

async function openNode(id: number, voters: number[], channel: ControllerChannel, cap: { log: Logger; lines: Line[] }, raft: Record<string, number> = {}, seen?: Set<string>): Promise<Node> {
  const fatal: unknown[] = []
  // The channel as the transport, noting which message types arrive (through the checks).
  const transport: RaftTransport = {
    send: (to, m) => channel.send(to, m),
    onMessage: (h) => channel.onMessage((from, m) => (seen?.add(m.type), h(from, m))),
  }
  const quorum = await MetadataQuorum.open({
    nodeId: id,
    voters,
    clock: systemClock,
    fs: new SimFileSystem(),
    dir: '/data/__cluster_metadata-0',
    transport,
    random: seededRandom(id * 7919 + (seed % 1000)),
    randomBytes: (n) => randomBytes(n),
    logger: cap.log,
    raft,
    sessionTimeoutMs: 60_000,
    topicValue: (name, o) => o[name] ?? 'false',
    deleteTopicEnable: true,
    onFatal: (e) => void fatal.push(e),
  })
  serveControllerRequests(channel, quorum)
  return { id, channel, quorum, fatal, ...cap }
}

/** The single-node setup broker.ts builds for combined mode without controller.quorum.voters. */
async function singleNode(): Promise<Node & { port: number }> {
  const cap = capture()
  const channel = new ControllerChannel(1, new Map(), cap.log, { warnIntervalMs: 0 })
  const port = await channel.listen('127.0.0.1', 0)
  channel.setPeer(1, { host: '127.0.0.1', port })
  const node = await openNode(1, [1], channel, cap)
  await until('the node to lead', () => node.quorum.controller.active, { timeoutMs: 10_000, intervalMs: 5 })
  return { ...node, port }
}

// ---- a raw peer ----

function encodeBody(v: unknown): Buffer {
  return Buffer.from(
    JSON.stringify(v, function (this: Record<string, unknown>, key, value: unknown) {
      const orig = this[key]
      return Buffer.isBuffer(orig) ? { $b: orig.toString('base64') } : value
    }) ?? '',
    'utf8',
  )
}

function framed(body: Buffer): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

class RawPeer {
  readonly sock: Socket
  readonly frames: Record<string, unknown>[] = []
  readonly closed: Promise<void>
  #buf = Buffer.alloc(0)
  #waiters: (() => void)[] = []
  isClosed = false

  private constructor(sock: Socket) {
    this.sock = sock
    this.closed = new Promise((resolve) =>
      sock.on('close', () => {
        this.isClosed = true
        this.#wake()
        resolve()
      }),
    )
    sock.on('error', () => undefined)
    sock.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk])
      while (this.#buf.length >= 4 && this.#buf.length >= 4 + this.#buf.readUInt32BE(0)) {
        const size = this.#buf.readUInt32BE(0)
        this.frames.push(JSON.parse(this.#buf.toString('utf8', 4, 4 + size)) as Record<string, unknown>)
        this.#buf = this.#buf.subarray(4 + size)
      }
      this.#wake()
    })
  }

  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(sock)))
      sock.once('error', reject)
    })
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const fn of w) fn()
  }

  send(v: unknown): void {
    if (!this.sock.destroyed) this.sock.write(framed(encodeBody(v)))
  }

  sendRaw(b: Buffer): void {
    if (!this.sock.destroyed) this.sock.write(b)
  }

  /** The answer to request `id`, or 'closed' when the connection closes first. */
  async answer(id: number, ms = 5000): Promise<Record<string, unknown> | 'closed'> {
    const end = Date.now() + ms
    for (;;) {
      const f = this.frames.find((x) => x.k === 'res' && x.id === id)
      if (f) return f
      if (this.isClosed) return 'closed'
      if (Date.now() > end) throw new Error(`no answer to request ${id} and no close within ${ms} ms`)
      // Woken by the next frame or the close; the timer only brings the deadline check round.
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }

  close(): void {
    this.sock.destroy()
  }
}

// ---- valid frames (as node 2, an observer, would send them) ----

const OBSERVER = 2
const probe = (id: number) => ({ k: 'req', id, method: 'heartbeat', args: { brokerId: OBSERVER, brokerEpoch: -1, metadataOffset: 0, wantShutDown: false } })

const valid = {
  fetch: { type: 'fetch-request', epoch: 1, replicaId: OBSERVER, fetchOffset: 0, lastFetchedEpoch: 0, highWatermark: 0, maxWaitMs: 0, correlationId: 1 },
  fetchSnapshot: { type: 'fetch-snapshot-request', epoch: 1, replicaId: OBSERVER, snapshotId: { endOffset: 5, epoch: 1 }, position: 0, correlationId: 2 },
  vote: { type: 'vote-request', epoch: 7, candidateId: OBSERVER, lastEpoch: 1, endOffset: 3, preVote: false },
  voteResponse: { type: 'vote-response', errorCode: 0, epoch: 1, leaderId: null, granted: true, preVote: false },
  begin: { type: 'begin-quorum-epoch-request', epoch: 9, leaderId: OBSERVER },
  beginResponse: { type: 'begin-quorum-epoch-response', errorCode: 0, epoch: 9, leaderId: OBSERVER },
  end: { type: 'end-quorum-epoch-request', epoch: 9, leaderId: OBSERVER, preferredSuccessors: [1] },
  endResponse: { type: 'end-quorum-epoch-response', errorCode: 0, epoch: 9, leaderId: null },
  fetchResponse: {
    type: 'fetch-response',
    errorCode: 0,
    epoch: 1,
    leaderId: OBSERVER,
    correlationId: 1,
    fetchOffset: 0,
    lastFetchedEpoch: 0,
    highWatermark: 1,
    logStartOffset: 0,
    divergingEpoch: null,
    snapshotId: null,
    entries: [{ offset: 0, epoch: 1, kind: 'data', records: [{ $b: Buffer.from('{"type":"remove-topic","topicId":"x"}').toString('base64') }] }],
  },
  fetchSnapshotResponse: {
    type: 'fetch-snapshot-response',
    errorCode: 0,
    epoch: 1,
    leaderId: OBSERVER,
    snapshotId: { endOffset: 5, epoch: 1 },
    size: 4,
    position: 0,
    correlationId: 2,
    bytes: { $b: 'AAAA' },
  },
  register: { brokerId: OBSERVER, incarnationId: 'abcd', endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }], rack: null },
  heartbeat: { brokerId: OBSERVER, brokerEpoch: 3, metadataOffset: 4, wantShutDown: false },
  createTopics: [{ name: 'fuzz', partitions: 1, replicationFactor: 1, configs: { 'cleanup.policy': 'delete' } }],
  deleteTopics: ['00112233445566778899aabbccddeeff'],
  alterPartition: { brokerId: OBSERVER, brokerEpoch: 3, topicId: '00112233445566778899aabbccddeeff', partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [2] },
  allocateProducerIds: { brokerId: OBSERVER, brokerEpoch: 3 },
  createPartitions: [{ topic: 'fuzz', count: 2, assignments: null, validateOnly: false }],
  alterConfigs: [{ resourceType: 'topic', resourceName: 'fuzz', set: { 'retention.ms': '1' }, remove: [], replace: false, validateOnly: false }],
  alterUserScramCredentials: { deletions: [{ name: 'fuzz', mechanism: 1 }], upsertions: [{ name: 'fuzz2', mechanism: 2, salt: 'c2FsdA==', storedKey: 'a2V5', serverKey: 'a2V5', iterations: 4096 }] },
  createAcls: [{ resourceType: 2, resourceName: 'fuzz', patternType: 3, principal: 'User:a', host: '*', operation: 3, permissionType: 3 }],
  deleteAcls: [{ resourceType: 1, resourceName: null, patternType: 1, principal: null, host: null, operation: 1, permissionType: 1 }],
} as const

const raft = (m: unknown) => ({ k: 'raft', m })
const req = (method: string, args: unknown, id = 1) => ({ k: 'req', id, method, args })
const without = (o: object, key: string): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key))
const withField = (o: object, key: string, v: unknown): Record<string, unknown> => ({ ...o, [key]: v })

interface Case {
  name: string
  /** Frames sent after hello (from node 2 unless `hello` says otherwise; null: no hello). */
  frames: unknown[]
  hello?: unknown
  raw?: Buffer
  /** What the warn line's reason mentions. */
  reason: RegExp
}

const cases: Case[] = [
  // envelopes
  { name: 'null frame', frames: [null], reason: /frame: expected an object/ },
  { name: 'number frame', frames: [42], reason: /expected an object/ },
  { name: 'array frame', frames: [[1, 2]], reason: /expected an object/ },
  { name: 'empty object', frames: [{}], reason: /frame\.k: expected one of/ },
  { name: 'unknown kind', frames: [{ k: 'gossip', m: 1 }], reason: /frame\.k: expected one of/ },
  { name: 'extra envelope field', frames: [{ ...raft(valid.fetch), also: 1 }], reason: /frame\.also: unknown field/ },
  { name: 'hello without from', frames: [], hello: { k: 'hello' }, reason: /frame\.from: expected an integer/ },
  { name: 'hello from a string', frames: [], hello: { k: 'hello', from: '2' }, reason: /frame\.from: expected an integer/ },
  { name: 'hello from -1', frames: [], hello: { k: 'hello', from: -1 }, reason: /frame\.from: expected an integer in 0\.\./ },
  { name: 'hello from 1.5', frames: [], hello: { k: 'hello', from: 1.5 }, reason: /frame\.from/ },
  { name: 'hello from 2^53', frames: [], hello: { k: 'hello', from: 2 ** 53 }, reason: /frame\.from/ },
  { name: 'hello from this node', frames: [], hello: { k: 'hello', from: 1 }, reason: /which is this node/ },
  { name: 'second hello', frames: [{ k: 'hello', from: 3 }], reason: /a second hello/ },
  { name: 'raft before hello', frames: [raft(valid.fetch)], hello: null, reason: /before hello/ },
  { name: 'request before hello', frames: [probe(5)], hello: null, reason: /before hello/ },
  { name: 'response on an inbound connection', frames: [{ k: 'res', id: 1, ok: true, result: {} }], reason: /a res frame/ },
  { name: 'not JSON', frames: [], raw: framed(Buffer.from('{"k":"raft","m":')), reason: /not JSON/ },
  { name: 'frame too large', frames: [], raw: Buffer.from([0xff, 0xff, 0xff, 0xff]), reason: /more than/ },
  // raft messages: shape
  { name: 'raft m null', frames: [raft(null)], reason: /frame\.m: expected an object/ },
  { name: 'raft m missing', frames: [{ k: 'raft' }], reason: /frame\.m: expected an object/ },
  { name: 'raft unknown type', frames: [raft({ type: 'append-entries', epoch: 1 })], reason: /frame\.m\.type: expected one of/ },
  { name: 'fetch without epoch', frames: [raft(without(valid.fetch, 'epoch'))], reason: /frame\.m\.epoch: expected an integer/ },
  { name: 'fetch epoch as string', frames: [raft(withField(valid.fetch, 'epoch', '1'))], reason: /frame\.m\.epoch/ },
  { name: 'fetch epoch 1.5', frames: [raft(withField(valid.fetch, 'epoch', 1.5))], reason: /frame\.m\.epoch/ },
  { name: 'fetch epoch -1', frames: [raft(withField(valid.fetch, 'epoch', -1))], reason: /frame\.m\.epoch/ },
  { name: 'fetch epoch 2^31', frames: [raft(withField(valid.fetch, 'epoch', 2 ** 31))], reason: /frame\.m\.epoch/ },
  { name: 'fetch epoch 1e400 (Infinity)', frames: [], raw: framed(Buffer.from(JSON.stringify(raft(valid.fetch)).replace('"epoch":1', '"epoch":1e400'))), reason: /frame\.m\.epoch: expected an integer.*Infinity/ },
  { name: 'fetch offset 2^53', frames: [raft(withField(valid.fetch, 'fetchOffset', 2 ** 53))], reason: /frame\.m\.fetchOffset/ },
  { name: 'fetch offset -1', frames: [raft(withField(valid.fetch, 'fetchOffset', -1))], reason: /frame\.m\.fetchOffset/ },
  { name: 'fetch maxWaitMs 1e9', frames: [raft(withField(valid.fetch, 'maxWaitMs', 1e9))], reason: /frame\.m\.maxWaitMs/ },
  { name: 'fetch correlationId null (a NaN on the way)', frames: [raft(withField(valid.fetch, 'correlationId', Number.NaN))], reason: /frame\.m\.correlationId: expected an integer.*null/ },
  { name: 'fetch with an extra field', frames: [raft(withField(valid.fetch, 'priority', 1))], reason: /frame\.m\.priority: unknown field/ },
  { name: 'fetch as an array', frames: [raft([valid.fetch])], reason: /frame\.m: expected an object/ },
  { name: 'fetch snapshot: snapshotId null', frames: [raft(withField(valid.fetchSnapshot, 'snapshotId', null))], reason: /frame\.m\.snapshotId/ },
  { name: 'fetch snapshot: negative end offset', frames: [raft(withField(valid.fetchSnapshot, 'snapshotId', { endOffset: -1, epoch: 0 }))], reason: /frame\.m\.snapshotId\.endOffset/ },
  { name: 'fetch snapshot: position a Buffer', frames: [raft(withField(valid.fetchSnapshot, 'position', { $b: 'AAAA' }))], reason: /frame\.m\.position: expected an integer.*Buffer/ },
  { name: 'end quorum epoch: huge successor list', frames: [raft(withField(valid.end, 'preferredSuccessors', Array.from({ length: LIMITS.voters + 1 }, (_, i) => i)))], reason: /preferredSuccessors: expected an array of 0\.\.1000/ },
  { name: 'end quorum epoch: successor twice', frames: [raft(withField(valid.end, 'preferredSuccessors', [1, 1]))], reason: /names a node twice/ },
  { name: 'fetch response: records not Buffers', frames: [raft(withField(valid.fetchResponse, 'entries', [{ offset: 0, epoch: 1, kind: 'data', records: ['abc'] }]))], reason: /entries\[0\]\.records\[0\]: expected a Buffer/ },
  { name: 'fetch response: empty records', frames: [raft(withField(valid.fetchResponse, 'entries', [{ offset: 0, epoch: 1, kind: 'data', records: [] }]))], reason: /records: expected an array of 1\.\./ },
  { name: 'fetch response: unknown entry kind', frames: [raft(withField(valid.fetchResponse, 'entries', [{ offset: 0, epoch: 1, kind: 'config' }]))], reason: /entries\[0\]\.kind/ },
  { name: 'fetch response: too many entries', frames: [raft(withField(valid.fetchResponse, 'entries', new Array(LIMITS.fetchEntries + 1).fill(0)))], reason: /entries: expected an array of 0\.\.100000 items/ },
  { name: 'fetch response: a gap in offsets', frames: [raft(withField(valid.fetchResponse, 'entries', [{ offset: 1, epoch: 1, kind: 'leader-change', leaderId: 2 }]))], reason: /entries\[0\]\.offset: expected 0/ },
  { name: 'fetch response: entry from a future epoch', frames: [raft(withField(valid.fetchResponse, 'entries', [{ offset: 0, epoch: 5, kind: 'leader-change', leaderId: 2 }]))], reason: /entries\[0\]\.epoch: expected 0\.\.1/ },
  { name: 'fetch response: entries and a snapshot id', frames: [raft(withField(valid.fetchResponse, 'snapshotId', { endOffset: 5, epoch: 1 }))], reason: /more than one of/ },
  { name: 'fetch snapshot response: bytes a string', frames: [raft(withField(valid.fetchSnapshotResponse, 'bytes', 'AAAA'))], reason: /frame\.m\.bytes: expected a Buffer/ },
  { name: 'vote response: granted "yes"', frames: [raft(withField(valid.voteResponse, 'granted', 'yes'))], reason: /frame\.m\.granted: expected a boolean/ },
  // raft messages: senders
  { name: 'vote request from an observer', frames: [raft(valid.vote)], reason: /vote-request from node 2, which is not a voter/ },
  { name: 'vote response from an observer', frames: [raft(valid.voteResponse)], reason: /not a voter/ },
  { name: 'begin quorum epoch from an observer', frames: [raft(valid.begin)], reason: /not a voter/ },
  { name: 'begin quorum epoch response from an observer', frames: [raft(valid.beginResponse)], reason: /not a voter/ },
  { name: 'end quorum epoch from an observer', frames: [raft(valid.end)], reason: /not a voter/ },
  { name: 'end quorum epoch response from an observer', frames: [raft(valid.endResponse)], reason: /not a voter/ },
  { name: 'fetch response from an observer', frames: [raft(valid.fetchResponse)], reason: /not a voter/ },
  { name: 'fetch snapshot response from an observer', frames: [raft(valid.fetchSnapshotResponse)], reason: /not a voter/ },
  { name: 'fetch naming another replica', frames: [raft(withField(valid.fetch, 'replicaId', 3))], reason: /replicaId: fetch-request names node 3, but comes from node 2/ },
  { name: 'fetch naming the leader itself', frames: [raft(withField(valid.fetch, 'replicaId', 1))], reason: /names node 1, but comes from node 2/ },
  // controller requests
  { name: 'unknown method', frames: [req('shutdown', {})], reason: /frame \(req 1\)\.method: expected one of/ },
  { name: 'method toString', frames: [req('toString', {})], reason: /\.method/ },
  { name: 'request id 0', frames: [req('heartbeat', valid.heartbeat, 0)], reason: /frame\.id/ },
  { name: 'request id a string', frames: [req('heartbeat', valid.heartbeat, '1' as unknown as number)], reason: /frame\.id/ },
  { name: 'register: args null', frames: [req('registerBroker', null)], reason: /\.args: expected an object/ },
  { name: 'register: args missing', frames: [{ k: 'req', id: 1, method: 'registerBroker' }], reason: /\.args: expected an object/ },
  { name: 'register: brokerId "2"', frames: [req('registerBroker', withField(valid.register, 'brokerId', '2'))], reason: /\.args\.brokerId/ },
  { name: 'register: for another broker', frames: [req('registerBroker', withField(valid.register, 'brokerId', 3))], reason: /registerBroker for broker 3 from node 2/ },
  { name: 'register: endpoints null', frames: [req('registerBroker', withField(valid.register, 'endpoints', null))], reason: /\.args\.endpoints: expected an array/ },
  { name: 'register: port 70000', frames: [req('registerBroker', withField(valid.register, 'endpoints', [{ name: 'PLAINTEXT', host: 'h', port: 70_000 }]))], reason: /endpoints\[0\]\.port/ },
  { name: 'register: rack 5', frames: [req('registerBroker', withField(valid.register, 'rack', 5))], reason: /\.args\.rack/ },
  { name: 'register: no incarnation', frames: [req('registerBroker', without(valid.register, 'incarnationId'))], reason: /\.args\.incarnationId/ },
  { name: 'register: extra field', frames: [req('registerBroker', withField(valid.register, 'admin', true))], reason: /\.args\.admin: unknown field/ },
  { name: 'heartbeat: brokerEpoch NaN', frames: [req('heartbeat', withField(valid.heartbeat, 'brokerEpoch', Number.NaN))], reason: /\.args\.brokerEpoch/ },
  { name: 'heartbeat: metadataOffset 1e300', frames: [req('heartbeat', withField(valid.heartbeat, 'metadataOffset', 1e300))], reason: /\.args\.metadataOffset/ },
  { name: 'heartbeat: wantShutDown "yes"', frames: [req('heartbeat', withField(valid.heartbeat, 'wantShutDown', 'yes'))], reason: /\.args\.wantShutDown: expected a boolean/ },
  { name: 'createTopics: args an object', frames: [req('createTopics', { name: 'x' })], reason: /\.args: expected an array/ },
  { name: 'createTopics: partitions "many"', frames: [req('createTopics', [withField(valid.createTopics[0], 'partitions', 'many')])], reason: /\.args\[0\]\.partitions/ },
  { name: 'createTopics: partitions 1.5', frames: [req('createTopics', [withField(valid.createTopics[0], 'partitions', 1.5)])], reason: /\.args\[0\]\.partitions/ },
  { name: 'createTopics: replication factor 2^40', frames: [req('createTopics', [withField(valid.createTopics[0], 'replicationFactor', 2 ** 40)])], reason: /replicationFactor/ },
  { name: 'createTopics: name a Buffer', frames: [req('createTopics', [withField(valid.createTopics[0], 'name', { $b: 'AAAA' })])], reason: /\.args\[0\]\.name: expected a string.*Buffer/ },
  { name: 'createTopics: config value 5', frames: [req('createTopics', [withField(valid.createTopics[0], 'configs', { 'retention.ms': 5 })])], reason: /configs\.retention\.ms: expected a string/ },
  { name: 'createTopics: config key with a space', frames: [req('createTopics', [withField(valid.createTopics[0], 'configs', { 'a b': 'x' })])], reason: /configs: key "a b" does not match/ },
  { name: 'createTopics: config key __proto__', frames: [], raw: framed(Buffer.from('{"k":"req","id":1,"method":"createTopics","args":[{"name":"t","partitions":1,"replicationFactor":1,"configs":{"__proto__":"x"}}]}')), reason: /configs: key "__proto__"/ },
  { name: 'createTopics: config value an object', frames: [], raw: framed(Buffer.from('{"k":"req","id":1,"method":"createTopics","args":[{"name":"t","partitions":1,"replicationFactor":1,"configs":{"__proto__":{"x":"y"}}}]}')), reason: /configs/ },
  { name: 'createTopics: assignment 1.5', frames: [req('createTopics', [withField(valid.createTopics[0], 'assignments', [[1.5]])])], reason: /assignments\[0\]\[0\]/ },
  { name: 'createTopics: assignments null', frames: [req('createTopics', [withField(valid.createTopics[0], 'assignments', null)])], reason: /assignments: expected an array/ },
  { name: 'createTopics: validateOnly "no"', frames: [req('createTopics', [withField(valid.createTopics[0], 'validateOnly', 'no')])], reason: /validateOnly/ },
  { name: 'createTopics: too many topics', frames: [req('createTopics', new Array(LIMITS.topicsPerRequest + 1).fill(valid.createTopics[0]))], reason: /\.args: expected an array of 0\.\.10000 items/ },
  { name: 'deleteTopics: ids numbers', frames: [req('deleteTopics', [5])], reason: /\.args\[0\]: expected a string/ },
  { name: 'deleteTopics: empty id', frames: [req('deleteTopics', [''])], reason: /\.args\[0\]/ },
  { name: 'alterPartition: partition -1', frames: [req('alterPartition', withField(valid.alterPartition, 'partition', -1))], reason: /\.args\.partition/ },
  { name: 'alterPartition: newIsr with a string', frames: [req('alterPartition', withField(valid.alterPartition, 'newIsr', [2, 'x']))], reason: /\.args\.newIsr\[1\]/ },
  { name: 'alterPartition: for another broker', frames: [req('alterPartition', withField(valid.alterPartition, 'brokerId', 1))], reason: /alterPartition for broker 1 from node 2/ },
  { name: 'allocateProducerIds: no epoch', frames: [req('allocateProducerIds', { brokerId: OBSERVER })], reason: /\.args\.brokerEpoch/ },
  { name: 'createPartitions: count "many"', frames: [req('createPartitions', [withField(valid.createPartitions[0], 'count', 'many')])], reason: /\.args\[0\]\.count/ },
  { name: 'createPartitions: assignment 1.5', frames: [req('createPartitions', [withField(valid.createPartitions[0], 'assignments', [[1.5]])])], reason: /assignments\[0\]\[0\]/ },
  { name: 'alterConfigs: resource type "group"', frames: [req('alterConfigs', [withField(valid.alterConfigs[0], 'resourceType', 'group')])], reason: /\.args\[0\]\.resourceType/ },
  { name: 'alterConfigs: removed key with a space', frames: [req('alterConfigs', [withField(valid.alterConfigs[0], 'remove', ['a b'])])], reason: /\.args\[0\]\.remove\[0\]/ },
  { name: 'createAcls: an operation beyond int8', frames: [req('createAcls', [withField(valid.createAcls[0], 'operation', 300)])], reason: /\.args\[0\]\.operation/ },
  { name: 'deleteAcls: a filter without its host', frames: [req('deleteAcls', [without(valid.deleteAcls[0], 'host')])], reason: /\.args\[0\]/ },
  { name: 'alterUserScramCredentials: mechanism 3', frames: [req('alterUserScramCredentials', { ...valid.alterUserScramCredentials, deletions: [{ name: 'x', mechanism: 3 }] })], reason: /\.args\.deletions\[0\]\.mechanism/ },
  {
    name: 'alterUserScramCredentials: a key that is not base64',
    frames: [req('alterUserScramCredentials', { ...valid.alterUserScramCredentials, upsertions: [withField(valid.alterUserScramCredentials.upsertions[0], 'storedKey', 'not base64!')] })],
    reason: /\.args\.upsertions\[0\]\.storedKey/,
  },
]

describe('CONTROLLER listener: input of the wrong shape', () => {
  let node: Node & { port: number }
  beforeAll(async () => {
    node = await singleNode()
  })
  afterAll(async () => {
    await node.channel.close()
    await node.quorum.close()
  })

  const healthy = () => {
    expect(node.fatal).toEqual([])
    const s = node.quorum.raft.status()
    expect(s.role).toBe('leader')
    expect(node.quorum.controller.active).toBe(true)
  }

  test('every sample frame of the table is valid before it is broken (the table tests what it says)', () => {
    const voters = new Set([1, 2])
    for (const m of [valid.fetch, valid.fetchSnapshot, valid.vote, valid.voteResponse, valid.begin, valid.beginResponse, valid.endResponse, valid.fetchResponse, valid.fetchSnapshotResponse]) {
      const revived = JSON.parse(JSON.stringify(m), (_k, v: unknown) => (v !== null && typeof v === 'object' && typeof (v as { $b?: unknown }).$b === 'string' ? Buffer.from((v as { $b: string }).$b, 'base64') : v))
      expect(checkRaftMessage(revived, OBSERVER, voters), m.type).toBeNull()
    }
    expect(checkRaftMessage({ ...valid.end, preferredSuccessors: [1] }, OBSERVER, voters)).toBeNull()
    for (const m of ['registerBroker', 'heartbeat', 'createTopics', 'deleteTopics', 'alterPartition', 'allocateProducerIds', 'createPartitions', 'alterConfigs', 'alterUserScramCredentials', 'createAcls', 'deleteAcls'] as const) {
      expect(checkControllerArgs(m, valid[m === 'registerBroker' ? 'register' : m], OBSERVER), m).toBeNull()
    }
  })

  test.each(cases)('$name: connection closed with one warn line, nothing reaches the quorum', async (c) => {
    const before = node.quorum.raft.status()
    const images = { brokers: node.quorum.image.brokers().length, topics: node.quorum.image.topics().length }
    const warns = node.lines.length
    const peer = await RawPeer.open(node.port)
    if (c.hello !== null) peer.send(c.hello ?? { k: 'hello', from: OBSERVER })
    for (const f of c.frames) peer.send(f)
    if (c.raw) peer.sendRaw(c.raw)
    // Frames after the bad one are not read: a valid request queued behind it gets no answer.
    peer.send(probe(77))
    expect(await peer.answer(77)).toBe('closed')
    await until('the warn line', () => node.lines.length > warns, { timeoutMs: 2000, intervalMs: 5 })
    const lines = node.lines.slice(warns)
    expect(lines).toHaveLength(1)
    expect(lines[0]!.level).toBe('warn')
    expect(lines[0]!.msg).toMatch(/invalid frame; connection closed/)
    expect(lines[0]!.fields.peer).toMatch(/127\.0\.0\.1:\d+/)
    const reason = String(lines[0]!.fields.reason)
    expect(reason).toMatch(c.reason)
    expect(reason.length).toBeLessThan(1100)
    healthy()
    const after = node.quorum.raft.status()
    expect(after.logEndOffset).toBe(before.logEndOffset)
    expect(after.epoch).toBe(before.epoch)
    expect({ brokers: node.quorum.image.brokers().length, topics: node.quorum.image.topics().length }).toEqual(images)
  })

  test('after all that, valid requests still work: over a raw connection, through a ControllerChannel and a ControllerClient', async () => {
    healthy()
    const peer = await RawPeer.open(node.port)
    peer.send({ k: 'hello', from: OBSERVER })
    peer.send(raft(valid.fetch))
    peer.send(probe(1))
    const a = await peer.answer(1)
    expect(a).not.toBe('closed')
    expect((a as { ok: boolean; result: { errorCode: number } }).result.errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED)
    // The fetch was answered too (on the connection the observer dialled in on), naming the leader.
    await until('the fetch response', () => peer.frames.some((f) => f.k === 'raft'), { timeoutMs: 2000, intervalMs: 5 })
    expect((peer.frames.find((f) => f.k === 'raft')!.m as { leaderId: number }).leaderId).toBe(1)
    peer.close()

    const cap = capture()
    const other = new ControllerChannel(OBSERVER, new Map([[1, { host: '127.0.0.1', port: node.port }]]), cap.log)
    try {
      const reg = await other.request<{ errorCode: number; brokerEpoch: number }>(1, 'registerBroker', valid.register, 5000)
      expect(reg.errorCode).toBe(ErrorCode.NONE)
      const quorumView = { leaderId: 1 } as unknown as MetadataQuorum
      const client = new ControllerClient(OBSERVER, quorumView, other, systemClock, cap.log)
      const created = await client.call('createTopics', [{ name: 'after-the-storm', partitions: 1, replicationFactor: 1, configs: {}, assignments: [[OBSERVER]] }], 5000)
      expect(created.errorCode).toBe(ErrorCode.NONE)
      expect('results' in created && created.results[0]!.errorCode).toBe(ErrorCode.NONE)
      await until('the topic', () => node.quorum.image.topic('after-the-storm') !== undefined, { timeoutMs: 5000, intervalMs: 5 })
      // A bad argument is refused at once by the client, without a round trip that would close the connection.
      const refused = await client.call('createTopics', [{ name: 'x', partitions: Number.NaN, replicationFactor: 1, configs: {} }], 5000)
      expect('results' in refused && refused.results[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST)
      expect(cap.lines.map((l) => l.msg)).toEqual(['controller request not sent: invalid arguments'])
    } finally {
      await other.close()
    }
    healthy()
    expect(node.lines.filter((l) => l.level === 'error')).toEqual([])
  })

  test('a handler that throws or rejects is answered with an error, not an unhandled rejection', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => void unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    const cap = capture()
    const server = new ControllerChannel(5, new Map(), cap.log)
    const port = await server.listen('127.0.0.1', 0)
    server.setPeer(5, { host: '127.0.0.1', port })
    let calls = 0
    server.onRequest((method) => {
      calls++
      if (method === 'heartbeat') throw undefined // synchronously, and not even an Error
      if (method === 'allocateProducerIds') return Promise.resolve({ errorCode: 0, start: 1n, length: 1, offset: 1 }) // cannot be encoded
      return Promise.reject(new Error('controller exploded'))
    })
    const client = new ControllerChannel(OBSERVER, new Map([[5, { host: '127.0.0.1', port }]]), capture().log)
    try {
      await expect(client.request(5, 'heartbeat', valid.heartbeat, 5000)).rejects.toThrow(/undefined|nothing/)
      await expect(client.request(5, 'registerBroker', valid.register, 5000)).rejects.toThrow(/controller exploded/)
      await expect(client.request(5, 'allocateProducerIds', valid.allocateProducerIds, 5000)).rejects.toThrow(/could not be encoded/)
      expect(calls).toBe(3)
      // Through a ControllerClient the failure is a value (UNKNOWN_SERVER_ERROR), at once, not retried to the deadline.
      const started = Date.now()
      const r = await new ControllerClient(OBSERVER, { leaderId: 5 } as unknown as MetadataQuorum, client, systemClock, capture().log).call('registerBroker', valid.register, 10_000)
      expect(r.errorCode).toBe(ErrorCode.UNKNOWN_SERVER_ERROR)
      expect(Date.now() - started).toBeLessThan(5000)
      // A window for an unhandled rejection that must not come, not a wait for something.
      await sleep(50)
      expect(unhandled).toEqual([])
      expect(cap.lines.filter((l) => l.msg === 'controller request failed')).toHaveLength(4)
    } finally {
      process.off('unhandledRejection', onUnhandled)
      await client.close()
      await server.close()
    }
  })

  test('answers of the wrong shape fail the request (an error, not a throw) and close the connection', async () => {
    const cap = capture()
    const server = new ControllerChannel(6, new Map(), capture().log)
    const port = await server.listen('127.0.0.1', 0)
    server.setPeer(6, { host: '127.0.0.1', port })
    const answers: unknown[] = [
      { errorCode: 0, brokerEpoch: '7', offset: 7 },
      { errorCode: 0, brokerEpoch: 7 },
      { errorCode: 0, brokerEpoch: 7, offset: 7, extra: 1 },
      null,
    ]
    let next = 0
    server.onRequest(() => Promise.resolve(answers[next++]))
    const client = new ControllerChannel(OBSERVER, new Map([[6, { host: '127.0.0.1', port }]]), cap.log, { warnIntervalMs: 0 })
    try {
      for (let i = 0; i < answers.length; i++) {
        await expect(client.request(6, 'registerBroker', valid.register, 5000)).rejects.toThrow(/invalid answer from node 6/)
      }
      expect(cap.lines).toHaveLength(answers.length)
      // A createTopics success must carry one result per topic asked about (the broker reads results[0]).
      expect(checkControllerResult('createTopics', { errorCode: 0, results: [], offset: 3 }, valid.createTopics)).toMatch(/0 results for 1 topics/)
      expect(checkControllerResult('createTopics', { errorCode: 41, results: [], offset: -1 }, valid.createTopics)).toBeNull()
    } finally {
      await client.close()
      await server.close()
    }
  })

  test('invalid frames from one host are logged at most once per interval, the rest counted', async () => {
    const cap = capture()
    const channel = new ControllerChannel(8, new Map(), cap.log, { warnIntervalMs: 1000 })
    const port = await channel.listen('127.0.0.1', 0)
    // The interval is read from Date.now(): hold the wall clock still, then move it on instead of waiting.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      for (let i = 0; i < 5; i++) {
        const p = await RawPeer.open(port)
        p.send(null)
        await p.closed
      }
      expect(cap.lines).toHaveLength(1)
      vi.setSystemTime(Date.now() + 1000)
      const p = await RawPeer.open(port)
      p.send(null)
      await p.closed
      await until('the second line', () => cap.lines.length === 2, { timeoutMs: 2000, intervalMs: 5 })
      expect(cap.lines[1]!.fields.suppressedSinceLast).toBe(4)
    } finally {
      vi.useRealTimers()
      await channel.close()
    }
  })

  // Fails when the checks are removed: the first frame crashes the Raft node (onFatal), the second writes a broker
  // with no endpoints into the metadata log.
  test('without the checks these would stop the quorum or corrupt the metadata', async () => {
    const peer = await RawPeer.open(node.port)
    peer.send({ k: 'hello', from: OBSERVER })
    peer.send(raft(null))
    peer.send(probe(3))
    // Answered (or closed) only after the frame before it was handled.
    await peer.answer(3)
    const peer2 = await RawPeer.open(node.port)
    peer2.send({ k: 'hello', from: 9 })
    peer2.send(req('registerBroker', { brokerId: 9, incarnationId: 'x', endpoints: null, rack: null }, 4))
    await peer2.answer(4)
    expect(node.fatal).toEqual([])
    expect(node.quorum.raft.status().role).toBe('leader')
    expect(node.quorum.image.broker(9)).toBeUndefined()
    peer.close()
    peer2.close()
  })
})

// ---- property: random JSON and mutated valid frames ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const templates: Json[] = [
  raft(valid.fetch),
  raft(valid.fetchSnapshot),
  raft(valid.vote),
  raft(valid.voteResponse),
  raft(valid.begin),
  raft(valid.end),
  raft(valid.fetchResponse),
  raft(valid.fetchSnapshotResponse),
  req('registerBroker', valid.register, 10),
  req('heartbeat', valid.heartbeat, 11),
  req('createTopics', valid.createTopics, 12),
  req('deleteTopics', valid.deleteTopics, 13),
  req('alterPartition', valid.alterPartition, 14),
  req('allocateProducerIds', valid.allocateProducerIds, 15),
  { k: 'hello', from: 3 },
] as unknown as Json[]

/** Every path into a JSON value (the root too). */
function paths(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix]
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])))
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]))
  return out
}

type Mutation = { op: 'drop' } | { op: 'set'; value: unknown }

function mutate(t: Json, pick: number, m: Mutation): unknown {
  const copy = JSON.parse(JSON.stringify(t)) as Json
  const all = paths(copy)
  const path = all[pick % all.length]!
  if (path.length === 0) return m.op === 'drop' ? undefined : m.value
  let parent = copy as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>
  const last = path.at(-1)!
  if (m.op === 'drop') {
    if (Array.isArray(parent)) parent.splice(last as number, 1)
    else delete parent[last]
  } else parent[last] = m.value
  return copy
}

const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 31, -1, -0.5, 0.5, 1e308, -1e308, 1e21, Number.NaN, '', '1', [], {}, null, true, { $b: 'AAAA' }, { $b: '' }),
  fc.constantFrom(...[LIMITS.voters + 1, LIMITS.fetchEntries + 1].map((n) => new Array(n).fill(0))),
)

const mutation: fc.Arbitrary<Mutation> = fc.oneof(fc.constant({ op: 'drop' as const }), oddValue.map((value) => ({ op: 'set' as const, value })))

const fuzzFrame = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue() },
  { weight: 1, arbitrary: fc.record({ k: fc.constantFrom('hello', 'raft', 'req', 'res', 'x'), m: fc.jsonValue(), id: fc.jsonValue(), method: fc.jsonValue(), args: fc.jsonValue(), from: fc.jsonValue() }, { requiredKeys: ['k'] }) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...templates), fc.nat(), mutation).map(([t, pick, m]) => mutate(t, pick, m)) },
  { weight: 1, arbitrary: fc.constantFrom(...templates) },
)

describe('CONTROLLER listener: property', () => {
  let node: Node & { port: number }
  beforeAll(async () => {
    node = await singleNode()
  })
  afterAll(async () => {
    await node.channel.close()
    await node.quorum.close()
  })

  test('random JSON and mutated valid frames never stop the quorum, and it keeps answering', async () => {
    let closed = 0
    let answered = 0
    let probeId = 1_000_000
    await fc.assert(
      fc.asyncProperty(fuzzFrame, fc.boolean(), async (frame, hello) => {
        const peer = await RawPeer.open(node.port)
        try {
          if (hello) peer.send({ k: 'hello', from: OBSERVER })
          peer.send(frame)
          const id = ++probeId
          peer.send(probe(id))
          const a = await peer.answer(id)
          if (a === 'closed') closed++
          else {
            answered++
            expect(a.ok).toBe(true)
          }
          expect(node.fatal).toEqual([])
          expect(node.quorum.raft.status().role).toBe('leader')
        } finally {
          peer.close()
        }
      }),
      { seed, numRuns: 300 },
    )
    expect(closed).toBeGreaterThan(0)
    expect(answered).toBeGreaterThan(0)
    // Still serving: a valid request through a channel of our own.
    const other = new ControllerChannel(4, new Map([[1, { host: '127.0.0.1', port: node.port }]]), capture().log)
    try {
      const r = await other.request<{ errorCode: number }>(1, 'allocateProducerIds', { brokerId: 4, brokerEpoch: -1 }, 5000)
      expect(r.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH)
    } finally {
      await other.close()
    }
    expect(node.lines.filter((l) => l.level === 'error')).toEqual([])
  })
})

// ---- real traffic passes ----

describe('CONTROLLER listener: what nodes really send passes the checks', () => {
  test('three voters and a late observer over real channels: elections, fetches, a snapshot, every controller request', async () => {
    const caps = [1, 2, 3, 4].map(() => capture())
    const channels = [1, 2, 3].map((id, i) => new ControllerChannel(id, new Map(), caps[i]!.log))
    const ports = await Promise.all(channels.map((c) => c.listen('127.0.0.1', 0)))
    const peers = new Map(ports.map((port, i) => [i + 1, { host: '127.0.0.1', port }]))
    for (const c of channels) for (const [id, a] of peers) c.setPeer(id, a)
    const raftCfg = { electionTimeoutMs: 150, electionBackoffMaxMs: 150, snapshotEveryEntries: 5 }
    const seen = new Set<string>()
    const nodes = await Promise.all([1, 2, 3].map((id, i) => openNode(id, [1, 2, 3], channels[i]!, caps[i]!, raftCfg, seen)))
    let observer: Node | null = null
    try {
      await until('a leader', () => nodes.some((n) => n.quorum.controller.active), { timeoutMs: 15_000, intervalMs: 5 })
      const clients = nodes.map((n) => new ControllerClient(n.id, n.quorum, n.channel, systemClock, n.log))
      // Every node registers (two of them over the wire) and gets unfenced.
      for (const [i, n] of nodes.entries()) {
        const endpoints = [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + n.id }]
        const reg = await clients[i]!.call('registerBroker', { brokerId: n.id, incarnationId: `inc-${n.id}`, endpoints, rack: null }, 10_000)
        expect(reg.errorCode).toBe(ErrorCode.NONE)
        const epoch = (reg as { brokerEpoch: number }).brokerEpoch
        await until('the registration to apply', () => n.quorum.image.offset > epoch, { timeoutMs: 10_000, intervalMs: 5 })
        const hb = await clients[i]!.call('heartbeat', { brokerId: n.id, brokerEpoch: epoch, metadataOffset: n.quorum.image.offset, wantShutDown: false }, 10_000)
        expect(hb.errorCode).toBe(ErrorCode.NONE)
        const ids = await clients[i]!.call('allocateProducerIds', { brokerId: n.id, brokerEpoch: epoch }, 10_000)
        expect(ids.errorCode).toBe(ErrorCode.NONE)
      }
      for (let t = 0; t < 8; t++) {
        const c = clients[t % 3]!
        const r = await c.call('createTopics', [{ name: `t${t}`, partitions: 2, replicationFactor: 3, configs: { 'retention.ms': '1000' } }], 10_000)
        expect('results' in r && r.results[0]!.errorCode).toBe(ErrorCode.NONE)
      }
      const leader = nodes.find((n) => n.quorum.controller.active)!
      const epochBefore = leader.quorum.raft.status().epoch
      await until('a snapshot on the leader', () => (leader.quorum.raft.status().snapshotId?.endOffset ?? 0) > 0 && leader.quorum.raft.status().logStartOffset > 0, { timeoutMs: 10_000, intervalMs: 5 })
      // A no-op AlterPartition from a partition leader (answers with the partition), and a deletion.
      const t0 = leader.quorum.image.topic('t0')!
      const p0 = t0.partitions[0]!
      const asker = nodes.find((n) => n.id === p0.leader)!
      const ap = await clients[nodes.indexOf(asker)]!.call(
        'alterPartition',
        { brokerId: asker.id, brokerEpoch: asker.quorum.image.broker(asker.id)!.brokerEpoch, topicId: t0.topicId, partition: 0, leaderEpoch: p0.leaderEpoch, partitionEpoch: p0.partitionEpoch, newIsr: [...p0.isr] },
        10_000,
      )
      expect(ap.errorCode).toBe(ErrorCode.NONE)
      expect('partition' in ap && ap.partition?.topicId).toBe(t0.topicId)
      const del = await clients[(nodes.indexOf(leader) + 1) % 3]!.call('deleteTopics', [leader.quorum.image.topic('t7')!.topicId], 10_000)
      expect('results' in del && del.results[0]!.errorCode).toBe(ErrorCode.NONE)

      // An observer joins late: its log starts at 0, the leader's after a snapshot, so it fetches the snapshot.
      const oc = new ControllerChannel(4, peers, caps[3]!.log)
      observer = await openNode(4, [1, 2, 3], oc, caps[3]!, raftCfg, seen)
      const obs = observer
      await until('the observer to catch up', () => obs.quorum.image.offset >= leader.quorum.image.offset && obs.quorum.image.topics().length === 7, { timeoutMs: 15_000, intervalMs: 5 })
      expect(obs.quorum.raft.status().role).toBe('follower')
      expect(obs.quorum.image.topics().map((t) => t.name).sort()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6'])
      // The observer asks the controller over the wire, as a broker-only node does.
      const oClient = new ControllerClient(4, obs.quorum, oc, systemClock, obs.log)
      const oreg = await oClient.call('registerBroker', { brokerId: 4, incarnationId: 'inc-4', endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9004 }], rack: 'r1' }, 10_000)
      expect(oreg.errorCode).toBe(ErrorCode.NONE)

      // The leader resigns (EndQuorumEpoch) and a leader is elected again.
      leader.quorum.raft.resign()
      await until('a new leader', () => nodes.some((n) => n.quorum.controller.active && n.quorum.raft.status().epoch > epochBefore), { timeoutMs: 15_000, intervalMs: 5 })
      expect([...seen].sort()).toEqual([
        'begin-quorum-epoch-request',
        'begin-quorum-epoch-response',
        'end-quorum-epoch-request',
        'end-quorum-epoch-response',
        'fetch-request',
        'fetch-response',
        'fetch-snapshot-request',
        'fetch-snapshot-response',
        'vote-request',
        'vote-response',
      ])
      for (const n of [...nodes, obs]) {
        expect(n.fatal, `node ${n.id}`).toEqual([])
        const bad = n.lines.filter((l) => /invalid|dropped/.test(l.msg))
        expect(bad, `node ${n.id}`).toEqual([])
      }
    } finally {
      for (const n of [...nodes, ...(observer ? [observer] : [])]) {
        await n.channel.close()
        await n.quorum.close()
      }
    }
  })
})
