// The broker: owns configuration, the clock, storage, topic metadata and partitions, and the socket server.
// API handlers (broker/apis) act on it; they never see sockets.

import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { systemClock, type Clock, type TimerHandle } from './clock.ts'
import { toNumber, type BrokerConfig, type Listener } from './config.ts'
import { LocalMetadata, type MetadataPersistence, type TopicRecord } from './controller/local-metadata.ts'
import { GroupCoordinator, startGroupCoordinator } from './group/coordinator.ts'
import { createLogger, type Logger } from './logger.ts'
import { ErrorCode } from './protocol/errors.ts'
import { ProducerIdManager } from './producers/producer-ids.ts'
import { loadProducerState, writeSnapshot } from './producers/snapshots.ts'
import { Partition } from './replication/partition.ts'
import { SocketServer } from './server/server.ts'
import { NodeFileSystem, type FileSystem } from './storage/file-system.ts'
import { LogManager } from './storage/log-manager.ts'
import type { LogConfig } from './storage/log.ts'
import './apis/index.ts'

export interface BrokerOptions {
  logger?: Logger
  clock?: Clock
  fs?: FileSystem
  /** Random bytes for topic and cluster ids (injectable for deterministic tests). */
  randomBytes?: (n: number) => Buffer
}

export interface TopicState {
  readonly record: TopicRecord
  readonly partitions: Partition[]
}

export type TopicResult = { errorCode: number; errorMessage: string | null; topicId?: string }

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/

/** Kafka's topic name rules; returns an error message or null. */
export function checkTopicName(name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty'
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."'
  if (name.length > 249) return `Topic name is illegal, it can't be longer than 249 characters, topic name: ${name}`
  if (!LEGAL_TOPIC.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`
  return null
}

export class Broker {
  readonly config: BrokerConfig
  readonly nodeId: number
  readonly clock: Clock
  readonly log: Logger
  readonly fs: FileSystem
  readonly logs: LogManager
  readonly metadata: LocalMetadata
  readonly clusterId: string
  readonly producerIds: ProducerIdManager
  private readonly random: (n: number) => Buffer
  private readonly topicStates = new Map<string, TopicState>()
  private server: SocketServer | null = null
  private coordinator: GroupCoordinator | null = null
  private advertised: Listener[] = []
  private stopped = false
  private snapshotTimer: TimerHandle | null = null

  private constructor(init: {
    config: BrokerConfig
    clock: Clock
    log: Logger
    fs: FileSystem
    logs: LogManager
    metadata: LocalMetadata
    clusterId: string
    producerIds: ProducerIdManager
    random: (n: number) => Buffer
  }) {
    this.config = init.config
    this.nodeId = init.config.nodeId
    this.clock = init.clock
    this.log = init.log
    this.fs = init.fs
    this.logs = init.logs
    this.metadata = init.metadata
    this.clusterId = init.clusterId
    this.producerIds = init.producerIds
    this.random = init.random
  }

  /** Opens storage (recovering it if the last stop was unclean), loads topics, binds the listeners. */
  static async start(config: BrokerConfig, opts: BrokerOptions = {}): Promise<Broker> {
    const log = opts.logger ?? createLogger({ base: { node: config.nodeId } })
    const clock = opts.clock ?? systemClock
    const fs = opts.fs ?? new NodeFileSystem()
    const random = opts.randomBytes ?? randomBytes
    const dataDir = config.dataDir
    fs.mkdirp(dataDir)
    const clusterId = await loadOrCreateMeta(fs, dataDir, config, random)
    const metadata = await LocalMetadata.open(atomicFile(fs, dataDir, 'topics.json'))
    const started = clock.monotonic()
    const logs = await LogManager.open(fs, clock, dataDir, logDefaults(config), log.child({ component: 'storage' }))
    const producerIds = await ProducerIdManager.open(atomicFile(fs, dataDir, 'producer-ids'))
    const broker = new Broker({ config, clock, log, fs, logs, metadata, clusterId, producerIds, random })
    await broker.loadTopics()
    broker.coordinator = await startGroupCoordinator(broker)
    broker.snapshotTimer = clock.setInterval(() => void broker.snapshotProducers(), config.int('producer.snapshot.interval.ms'))
    log.info('storage ready', { dataDir, topics: broker.topicStates.size, ms: Math.round(clock.monotonic() - started) })
    const server = new SocketServer(
      broker,
      {
        maxRequestBytes: config.int('socket.request.max.bytes'),
        maxQueuedRequests: config.int('queued.max.requests'),
        maxQueuedBytes: config.int('queued.max.request.bytes') > 0 ? config.int('queued.max.request.bytes') : 4 * config.int('socket.request.max.bytes'),
        idleMs: config.int('connections.max.idle.ms'),
      },
      log.child({ component: 'network' }),
    )
    try {
      await server.start(config.listeners)
    } catch (err) {
      await logs.shutdown()
      throw err
    }
    broker.server = server
    broker.advertised = advertisedListeners(config, server.boundListeners)
    log.info('broker started', {
      clusterId,
      listeners: broker.advertised.map((l) => `${l.name}://${l.host}:${l.port}`),
      bound: server.boundListeners.map((l) => `${l.name}://${l.host}:${l.port}`),
    })
    return broker
  }

  /** Host and port clients should use, per listener (bound ports replace port 0). */
  get listeners(): readonly Listener[] {
    return this.advertised
  }

  /** The advertised endpoint of the listener a request arrived on (Kafka answers per listener). */
  /** The group coordinator (consumer groups and committed offsets); set before the listeners open. */
  get groups(): GroupCoordinator {
    if (!this.coordinator) throw new Error('the group coordinator is not started')
    return this.coordinator
  }

  endpointFor(listenerName: string): Listener {
    return this.advertised.find((l) => l.name === listenerName) ?? this.advertised[0]!
  }

  private async loadTopics(): Promise<void> {
    const known = new Set<string>()
    for (const t of this.metadata.topics()) {
      const partitions: Partition[] = []
      for (let p = 0; p < t.partitions; p++) {
        const plog = await this.logs.getOrCreate(t.name, p, this.logConfig(t.configs))
        partitions.push(new Partition(t.name, p, plog, await loadProducerState(this.fs, plog, this.log, this.clock.now())))
        known.add(`${t.name}-${p}`)
      }
      this.topicStates.set(t.name, { record: t, partitions })
    }
    // Partitions on disk without a topic: a deletion interrupted by a crash. Finish it.
    for (const plog of this.logs.all()) {
      if (!known.has(`${plog.topic}-${plog.partition}`)) {
        this.log.warn('deleting partition of a deleted topic', { topic: plog.topic, partition: plog.partition })
        await this.logs.delete(plog.topic, plog.partition)
      }
    }
  }

  topic(name: string): TopicState | undefined {
    return this.topicStates.get(name)
  }

  topicById(topicId: string): TopicState | undefined {
    const rec = this.metadata.getById(topicId)
    return rec ? this.topicStates.get(rec.name) : undefined
  }

  topics(): TopicState[] {
    return [...this.topicStates.values()]
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.topicStates.get(topic)?.partitions[index]
  }

  /** Effective topic config (overrides over broker values over defaults). */
  topicConfigValue(topic: TopicRecord, name: string): string {
    return this.config.topicValue(name, topic.configs)
  }

  logConfig(overrides: Readonly<Record<string, string>>): LogConfig {
    const v = (name: string) => toNumber(this.config.topicValue(name, overrides))
    return {
      segmentBytes: v('segment.bytes'),
      segmentMs: v('segment.ms'),
      segmentIndexBytes: v('segment.index.bytes'),
      indexIntervalBytes: v('index.interval.bytes'),
      retentionMs: v('retention.ms'),
      retentionBytes: v('retention.bytes'),
      flushMessages: v('flush.messages'),
      flushMs: v('flush.ms'),
      fileDeleteDelayMs: v('file.delete.delay.ms'),
    }
  }

  /** Creates a topic and its partition logs. Kafka errors come back as values. */
  async createTopic(spec: {
    name: string
    partitions: number
    replicationFactor: number
    configs: Record<string, string>
    validateOnly?: boolean
  }): Promise<TopicResult> {
    const nameErr = checkTopicName(spec.name)
    if (nameErr) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: nameErr }
    if (this.topicStates.has(spec.name)) return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `Topic '${spec.name}' already exists.` }
    if (spec.partitions < 1) return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'Number of partitions must be larger than 0.' }
    if (spec.partitions > 10_000) return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'Number of partitions is above this broker\'s limit of 10000.' }
    if (spec.replicationFactor < 1) return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, errorMessage: 'Replication factor must be larger than 0.' }
    if (spec.replicationFactor > 1) {
      return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, errorMessage: `Unable to replicate the partition ${spec.replicationFactor} time(s): The target replication factor of ${spec.replicationFactor} cannot be reached because only 1 broker(s) are registered.` }
    }
    const topicId = this.random(16).toString('hex')
    if (spec.validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, topicId }
    const record: TopicRecord = { name: spec.name, topicId, partitions: spec.partitions, replicationFactor: spec.replicationFactor, configs: spec.configs, internal: spec.name.startsWith('__') }
    // Reserve the name synchronously so two concurrent creates cannot both pass the check above.
    const state: TopicState = { record, partitions: [] }
    this.topicStates.set(spec.name, state)
    try {
      await this.metadata.put(record)
      for (let p = 0; p < spec.partitions; p++) {
        const plog = await this.logs.getOrCreate(spec.name, p, this.logConfig(spec.configs))
        state.partitions.push(new Partition(spec.name, p, plog))
      }
    } catch (err) {
      this.log.error('topic creation failed', { topic: spec.name, err })
      this.topicStates.delete(spec.name)
      await this.metadata.remove(spec.name).catch(() => undefined)
      return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: `Topic creation failed on disk: ${(err as Error).message}` }
    }
    this.log.info('topic created', { topic: spec.name, topicId, partitions: spec.partitions, configs: spec.configs })
    return { errorCode: ErrorCode.NONE, errorMessage: null, topicId }
  }

  /** Whether a topic is complete (all partitions open); a topic being created answers LEADER_NOT_AVAILABLE. */
  isReady(t: TopicState): boolean {
    return t.partitions.length === t.record.partitions
  }

  async deleteTopic(name: string): Promise<TopicResult> {
    if (!this.config.bool('delete.topic.enable')) return { errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: 'Topic deletion is disabled.' }
    const state = this.topicStates.get(name)
    if (!state) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' }
    if (state.record.internal) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Topic ${name} is a Kafka internal topic and is not allowed to be deleted.` }
    this.topicStates.delete(name)
    await this.metadata.remove(name)
    for (const p of state.partitions) {
      await this.logs.delete(name, p.index)
      p.appended() // wake fetchers so they answer UNKNOWN_TOPIC_OR_PARTITION now
    }
    this.log.info('topic deleted', { topic: name })
    return { errorCode: ErrorCode.NONE, errorMessage: null, topicId: state.record.topicId }
  }

  /** Writes producer-state snapshots of the partitions whose state changed since the last one. */
  async snapshotProducers(): Promise<void> {
    const cutoff = this.clock.now() - this.config.int('producer.id.expiration.ms')
    for (const t of this.topicStates.values()) {
      for (const p of t.partitions) {
        if (p.producers.expire(cutoff) > 0) p.producersDirty = true
        if (!p.producersDirty) continue
        p.producersDirty = false
        try {
          await writeSnapshot(this.fs, p.log, p.producers)
        } catch (err) {
          p.producersDirty = true
          this.log.warn('producer snapshot failed', { topic: p.topic, partition: p.index, err })
        }
      }
    }
  }

  /** Stops listeners, snapshots producer state, flushes and checkpoints storage, writes the clean-shutdown marker. */
  async shutdown(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.snapshotTimer?.cancel()
    await this.server?.stop()
    this.coordinator?.shutdown()
    await this.snapshotProducers()
    await this.logs.shutdown()
  }
}

function advertisedListeners(config: BrokerConfig, bound: Listener[]): Listener[] {
  const adv = config.get('advertised.listeners') ? config.advertisedListeners : bound
  return adv.map((l) => {
    const b = bound.find((x) => x.name === l.name)
    const host = l.host === '' || l.host === '0.0.0.0' || l.host === '::' ? '127.0.0.1' : l.host
    return { name: l.name, host, port: l.port === 0 && b ? b.port : l.port }
  })
}

function logDefaults(config: BrokerConfig) {
  return {
    flushCheckpointMs: config.int('log.flush.offset.checkpoint.interval.ms'),
    startOffsetCheckpointMs: config.int('log.flush.start.offset.checkpoint.interval.ms'),
    retentionCheckMs: config.int('log.retention.check.interval.ms'),
  }
}

/** Kafka's meta.properties: the node id and cluster id this data directory belongs to. */
async function loadOrCreateMeta(fs: FileSystem, dir: string, config: BrokerConfig, random: (n: number) => Buffer): Promise<string> {
  const file = atomicFile(fs, dir, 'meta.properties')
  const text = await file.load()
  if (text !== null) {
    const props = new Map(text.split('\n').filter((l) => l.includes('=') && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()] as const))
    const nodeId = Number(props.get('node.id'))
    if (nodeId !== config.nodeId) {
      throw new Error(`data directory ${dir} belongs to node.id ${props.get('node.id')}, not ${config.nodeId}; use another --data-dir or the matching --node-id`)
    }
    const cid = props.get('cluster.id')
    if (!cid) throw new Error(`${join(dir, 'meta.properties')} has no cluster.id`)
    const want = config.get('cluster.id')
    if (want && want !== cid) throw new Error(`data directory ${dir} belongs to cluster ${cid}, not ${want}`)
    return cid
  }
  const clusterId = config.get('cluster.id') ?? random(16).toString('base64url')
  await file.save(`#faultline broker metadata\nversion=1\nnode.id=${config.nodeId}\ncluster.id=${clusterId}\n`)
  return clusterId
}

/** A small file replaced atomically: write a temp file, fsync it, rename over, fsync the directory. */
function atomicFile(fs: FileSystem, dir: string, name: string): MetadataPersistence {
  const path = join(dir, name)
  return {
    async load() {
      if (!fs.exists(path)) return null
      const h = fs.open(path)
      try {
        return (await h.read(0, h.size())).toString('utf8')
      } finally {
        await h.close()
      }
    },
    async save(text) {
      const tmp = `${path}.tmp`
      const h = fs.open(tmp, { create: true, truncate: true })
      try {
        h.write(Buffer.from(text), 0)
        await h.sync()
      } finally {
        await h.close()
      }
      fs.rename(tmp, path)
      await fs.syncDir(dir)
    },
  }
}
