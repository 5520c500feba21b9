// The broker: owns configuration, the clock, storage, partitions, the socket server and its node of the metadata
// quorum. Topic metadata comes from the quorum's MetadataImage: the broker opens the logs of partitions with a
// replica here, deletes them when their topic goes, and hands each Partition its registration (leader, epochs,
// replicas, ISR). Writes to metadata (CreateTopics, DeleteTopics, AlterPartition, producer id blocks) go to the
// active controller. API handlers (broker/apis) act on it; they never see sockets.

import { randomBytes, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { systemClock, type Clock, type TimerHandle } from './clock.ts'
import { toNumber, type BrokerConfig, type DynamicValue, type Listener } from './config.ts'
import { ControllerChannel } from './controller/controller-channel.ts'
import { ControllerClient, serveControllerRequests } from './controller/controller-client.ts'
import type { MetadataDelta, MetadataImage, TopicInfo } from './controller/metadata-image.ts'
import { MetadataQuorum } from './controller/metadata-quorum.ts'
import type { CreateTopicSpec } from './controller/quorum-controller.ts'
import type { RaftTransport } from './controller/raft-types.ts'
import { coordinatorConfig, GroupCoordinator, startGroupCoordinator } from './group/coordinator.ts'
import { createLogger, type Logger } from './logger.ts'
import { ErrorCode } from './protocol/errors.ts'
import { ProducerIdManager } from './producers/producer-ids.ts'
import { loadProducerState, writeSnapshot } from './producers/snapshots.ts'
import type { PartitionRegistration, ReplicationControl } from './replication/control.ts'
import { tcpChannel } from './replication/channel.ts'
import { listenerSecurity, tlsClientOptions, tlsServerOptions, type Security } from './listener-security.ts'
import { Partition } from './replication/partition.ts'
import { ReplicaManager, type ReplicaPartition } from './replication/replica-manager.ts'
import { iterateBatches } from './protocol/record-batch.ts'
import { Authorizer, parseSuperUsers } from './security/authorizer.ts'
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
  /** The metadata quorum stopped on an error it cannot go on from; the broker has shut down. */
  onFatal?: (error: unknown) => void
}

/** A topic as the metadata log has it. */
export interface TopicRecord {
  readonly name: string
  /** 32 hex digits. */
  readonly topicId: string
  readonly partitions: number
  readonly replicationFactor: number
  readonly configs: Readonly<Record<string, string>>
  readonly internal: boolean
}

/** Where a small file lives; the broker backs it with its FileSystem (tmp + fsync + rename + dir fsync). */
export interface MetadataPersistence {
  load(): Promise<string | null>
  save(text: string): Promise<void>
}

export interface TopicState {
  readonly record: TopicRecord
  /** Indexed by partition number; holes where this broker has no replica. */
  readonly partitions: Partition[]
}

export type TopicResult = { errorCode: number; errorMessage: string | null; topicId?: string }

export { checkTopicName } from './controller/quorum-controller.ts'

export const METADATA_DIR = '__cluster_metadata-0'
const OFFSETS_TOPIC = '__consumer_offsets'
/** How long a forwarded metadata change may take (elections included) when the request names no timeout. */
const CONTROLLER_TIMEOUT_MS = 30_000

export class Broker {
  readonly config: BrokerConfig
  readonly nodeId: number
  readonly clock: Clock
  readonly log: Logger
  readonly fs: FileSystem
  readonly logs: LogManager
  readonly clusterId: string
  readonly producerIds: ProducerIdManager
  /** This node of the metadata quorum (Raft node, image, controller). */
  readonly quorum: MetadataQuorum
  readonly controllerClient: ControllerClient
  /** For the replication data path: live brokers' inter-broker endpoints and AlterPartition. */
  readonly control: ReplicationControl
  /** The replication data path: leader state (high watermark, ISR, acks=all) and follower fetchers. */
  readonly replicas: ReplicaManager
  /** The ACL authorizer over the image's ACLs when authorizer.class.name is set, else null (all allowed). */
  readonly authorizer: Authorizer | null
  private readonly channel: ControllerChannel | null
  private readonly topicStates = new Map<string, TopicState>()
  private readonly partitionListeners: ((reg: PartitionRegistration) => void)[] = []
  private server: SocketServer | null = null
  private coordinator: GroupCoordinator | null = null
  private noCoordinator: GroupCoordinator | null = null
  private startingGroups = false
  private advertised: Listener[] = []
  private stopped = false
  private snapshotTimer: TimerHandle | null = null
  private heartbeatTimer: TimerHandle | null = null
  private heartbeating = false
  /** Next metadata offset whose effect on partitions is applied here. */
  private processed = 0
  private applying: Promise<void> = Promise.resolve()
  private offsetWaiters: { offset: number; resolve: () => void }[] = []
  private brokerEpoch = -1
  private fenced = true
  private readonly incarnationId: string

  private constructor(init: {
    config: BrokerConfig
    clock: Clock
    log: Logger
    fs: FileSystem
    logs: LogManager
    clusterId: string
    quorum: MetadataQuorum
    channel: ControllerChannel | null
    random: (n: number) => Buffer
    security: Security
  }) {
    this.config = init.config
    this.nodeId = init.config.nodeId
    this.clock = init.clock
    this.log = init.log
    this.fs = init.fs
    this.logs = init.logs
    this.clusterId = init.clusterId
    this.quorum = init.quorum
    this.channel = init.channel
    this.incarnationId = init.random(16).toString('hex')
    this.authorizer = init.config.get('authorizer.class.name')
      ? new Authorizer(
          { superUsers: parseSuperUsers(init.config.get('super.users')), allowEveryoneIfNoAclFound: init.config.bool('allow.everyone.if.no.acl.found') },
          () => init.quorum.image.acls(),
        )
      : null
    this.controllerClient = new ControllerClient(this.nodeId, init.quorum, init.channel, init.clock, init.log.child({ component: 'controller-client' }))
    this.producerIds = new ProducerIdManager({
      nextBlock: async () => {
        const r = await this.controllerClient.call('allocateProducerIds', { brokerId: this.nodeId, brokerEpoch: this.brokerEpoch }, CONTROLLER_TIMEOUT_MS)
        if (r.errorCode !== ErrorCode.NONE || !('start' in r)) throw new Error(`the controller allocated no producer ids (error ${r.errorCode})`)
        return { start: r.start, length: r.length }
      },
    })
    this.control = {
      endpoint: (nodeId) => {
        const b = this.quorum.image.broker(nodeId)
        if (!b || b.fenced) return null
        const e = b.endpoints.find((x) => x.name === init.security.interBrokerListener)
        return e ? { host: e.host, port: e.port } : null
      },
      isEligible: (nodeId) => {
        const b = this.quorum.image.broker(nodeId)
        return b !== undefined && !b.fenced && !b.inControlledShutdown
      },
      alterPartition: async (req) => {
        const t = this.quorum.image.topic(req.topic)
        if (!t) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
        const r = await this.controllerClient.call(
          'alterPartition',
          { brokerId: this.nodeId, brokerEpoch: this.brokerEpoch, topicId: t.topicId, partition: req.partition, leaderEpoch: req.leaderEpoch, partitionEpoch: req.partitionEpoch, newIsr: [...req.newIsr] },
          CONTROLLER_TIMEOUT_MS,
        )
        if (r.errorCode !== ErrorCode.NONE || !('partition' in r) || !r.partition) return { errorCode: r.errorCode }
        if ('offset' in r) await this.waitForMetadata(r.offset, 5000)
        return { errorCode: ErrorCode.NONE, registration: { topic: req.topic, ...r.partition } }
      },
    }
    const config = this.config
    const socketTimeoutMs = config.int('replica.socket.timeout.ms')
    const fetchWaitMs = config.int('replica.fetch.wait.max.ms')
    this.replicas = new ReplicaManager({
      nodeId: this.nodeId,
      clock: this.clock,
      logger: this.log.child({ component: 'replication' }),
      control: this.control,
      connect: tcpChannel({
        clock: this.clock,
        clientId: `broker-${this.nodeId}-fetcher`,
        requestTimeoutMs: socketTimeoutMs + fetchWaitMs,
        connectTimeoutMs: socketTimeoutMs,
        localHost: ownHost(config),
        tls: init.security.interBrokerTls ? tlsClientOptions(init.security.interBrokerTls) : undefined,
        sasl: init.security.interBrokerSasl ?? undefined,
      }),
      replicaLagTimeMaxMs: config.int('replica.lag.time.max.ms'),
      minInsyncReplicas: (topic) => {
        const t = this.topicStates.get(topic)
        return Number(config.topicValue('min.insync.replicas', t?.record.configs ?? this.quorum.image.topic(topic)?.configs ?? {}))
      },
      fetcher: {
        maxWaitMs: fetchWaitMs,
        minBytes: config.int('replica.fetch.min.bytes'),
        partitionMaxBytes: config.int('replica.fetch.max.bytes'),
        maxBytes: config.int('replica.fetch.response.max.bytes'),
        backoffMs: config.int('replica.fetch.backoff.ms'),
      },
      wake: (p) => asPartition(p).wake(),
      onRegistration: (p, reg) => {
        asPartition(p).applyRegistration(reg)
      },
      onFollowerAppend: (p, records) => {
        const part = asPartition(p)
        part.bytesAppended += records.length
        const now = this.clock.now()
        for (const b of iterateBatches(records)) {
          if (b.producerId < 0) continue
          part.producers.update({ producerId: b.producerId, producerEpoch: b.producerEpoch, baseSequence: b.baseSequence, recordCount: b.recordCount, maxTimestamp: b.maxTimestamp }, b.baseOffset, b.lastOffset, now)
          part.producersDirty = true
        }
      },
      onTruncate: async (p) => {
        // Records above the cut may have advanced idempotent producers' sequences: rebuild from what is left.
        const part = asPartition(p)
        part.producers = await loadProducerState(this.fs, part.log, this.log, this.clock.now())
        part.producersDirty = true
      },
    })
  }

  /** Whether this broker leads the partition and its leader state is active (produce and coordinators may write). */
  leads(topic: string, index: number): boolean {
    return this.replicas.leader(topic, index)?.isActive === true
  }

  /** Opens storage (recovering it if the last stop was unclean), joins the metadata quorum, binds the listeners,
   *  registers with the controller and resolves once the controller has unfenced this broker. */
  static async start(config: BrokerConfig, opts: BrokerOptions = {}): Promise<Broker> {
    const log = opts.logger ?? createLogger({ base: { node: config.nodeId } })
    const clock = opts.clock ?? systemClock
    const fs = opts.fs ?? new NodeFileSystem()
    const random = opts.randomBytes ?? randomBytes
    const dataDir = config.dataDir
    fs.mkdirp(dataDir)
    // Before anything is opened: a listener that cannot be served as configured stops the start here.
    const security = listenerSecurity(config)
    const clusterId = await loadOrCreateMeta(fs, dataDir, config, random)
    const started = clock.monotonic()
    const logs = await LogManager.open(fs, clock, dataDir, logDefaults(config), log.child({ component: 'storage' }))
    // The metadata quorum first: its listener must be up before the others can form a quorum with us.
    let channel: ControllerChannel | null = null
    let voters = config.voters
    const ctlListener = config.controllerListeners[0]
    try {
      if (ctlListener || (voters && [...voters.keys()].some((id) => id !== config.nodeId))) {
        const tls = security.controllerTls
        channel = new ControllerChannel(config.nodeId, voters ?? new Map(), log.child({ component: 'controller-channel' }), {
          tls: tls ? { server: tlsServerOptions(tls), client: tlsClientOptions(tls) } : undefined,
          localHost: ownHost(config),
        })
      }
      if (channel && ctlListener && config.roles.controller) {
        const port = await channel.listen(ctlListener.host, ctlListener.port)
        if (!voters) voters = new Map([[config.nodeId, { host: ctlListener.host, port }]])
        channel.setPeer(config.nodeId, { host: ctlListener.host, port })
      }
    } catch (err) {
      await channel?.close()
      await logs.shutdown()
      throw err
    }
    const transport: RaftTransport = channel ?? { send: () => undefined, onMessage: () => undefined }
    const brokerRef: { b: Broker | null } = { b: null }
    let quorum: MetadataQuorum
    try {
      quorum = await MetadataQuorum.open({
        nodeId: config.nodeId,
        voters: voters ? [...voters.keys()] : [config.nodeId],
        clock,
        fs,
        dir: join(dataDir, METADATA_DIR),
        transport,
        random: () => random(4).readUInt32BE(0) / 2 ** 32,
        randomBytes: random,
        logger: log,
        raft: {
          electionTimeoutMs: config.int('controller.quorum.election.timeout.ms'),
          fetchTimeoutMs: config.int('controller.quorum.fetch.timeout.ms'),
          requestTimeoutMs: config.int('controller.quorum.request.timeout.ms'),
        },
        sessionTimeoutMs: config.int('broker.session.timeout.ms'),
        topicValue: (name, overrides) => config.topicValue(name, overrides),
        deleteTopicEnable: config.bool('delete.topic.enable'),
        leaderImbalanceCheckIntervalMs: config.bool('auto.leader.rebalance.enable') ? config.int('leader.imbalance.check.interval.seconds') * 1000 : undefined,
        onFatal: (err) => {
          log.error('metadata quorum failed; this broker can no longer follow metadata', { err })
          void (brokerRef.b?.shutdown() ?? Promise.resolve()).finally(() => opts.onFatal?.(err))
        },
      })
    } catch (err) {
      await channel?.close()
      await logs.shutdown()
      throw err
    }
    if (channel) serveControllerRequests(channel, quorum)
    const broker = new Broker({ config, clock, log, fs, logs, clusterId, quorum, channel, random, security })
    brokerRef.b = broker
    broker.replicas.start()
    quorum.sm.onDelta((delta, image) => broker.enqueueDelta(delta, image))
    quorum.sm.onLeader((leaderId, epoch) => log.info('metadata quorum leader', { leaderId, epoch }))
    broker.snapshotTimer = clock.setInterval(() => void broker.snapshotProducers(), config.int('producer.snapshot.interval.ms'))
    const server = new SocketServer(
      broker,
      {
        maxRequestBytes: config.int('socket.request.max.bytes'),
        maxQueuedRequests: config.int('queued.max.requests'),
        maxQueuedBytes: config.int('queued.max.request.bytes') > 0 ? config.int('queued.max.request.bytes') : 4 * config.int('socket.request.max.bytes'),
        idleMs: config.int('connections.max.idle.ms'),
        failedAuthenticationDelayMs: config.int('connection.failed.authentication.delay.ms'),
        saslMaxReceiveBytes: config.int('sasl.server.max.receive.size'),
      },
      log.child({ component: 'network' }),
    )
    try {
      const clientNames = new Set(config.clientListeners.map((l) => l.name))
      await server.start(security.listeners.filter((l) => clientNames.has(l.name)))
    } catch (err) {
      await quorum.close()
      await channel?.close()
      await logs.shutdown()
      throw err
    }
    broker.server = server
    broker.advertised = advertisedListeners(config, server.boundListeners)
    await broker.joinCluster()
    await broker.startGroups('startup')
    // Only now, unfenced and caught up with the metadata log: before, this broker's image is the one it had before a
    // restart, in which it may still lead partitions and coordinate groups that have moved (Kafka enables request
    // processing at the same point). Replicas and clients that connected meanwhile waited.
    server.open()
    log.info('storage ready', { dataDir, topics: broker.topicStates.size, ms: Math.round(clock.monotonic() - started) })
    log.info('broker started', {
      clusterId,
      brokerEpoch: broker.brokerEpoch,
      controller: quorum.leaderId,
      listeners: broker.advertised.map((l) => `${l.name}://${l.host}:${l.port}`),
      bound: server.boundListeners.map((l) => `${l.name}://${l.host}:${l.port}`),
    })
    return broker
  }

  /** Registers with the controller, starts heartbeats and waits until unfenced and caught up. */
  private async joinCluster(): Promise<void> {
    let waitedLog = this.clock.monotonic()
    while (!this.stopped && !(await this.register())) {
      if (this.clock.monotonic() - waitedLog > 5000) {
        waitedLog = this.clock.monotonic()
        this.log.info('waiting for the controller to register this broker', { controller: this.quorum.leaderId })
      }
    }
    this.heartbeatTimer = this.clock.setInterval(() => void this.heartbeat(), this.config.int('broker.heartbeat.interval.ms'))
    // Heartbeat faster than the interval until unfenced: startup should not wait a whole interval per step.
    while (!this.stopped && this.fenced) {
      await this.heartbeat()
      if (this.fenced) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 50))
    }
  }

  private async register(): Promise<boolean> {
    const endpoints = this.advertised.map((l) => ({ name: l.name, host: l.host, port: l.port }))
    const r = await this.controllerClient.call('registerBroker', { brokerId: this.nodeId, incarnationId: this.incarnationId, endpoints, rack: this.config.get('broker.rack') }, 5000)
    if (r.errorCode !== ErrorCode.NONE || !('brokerEpoch' in r)) {
      this.log.debug('registration failed', { errorCode: r.errorCode })
      return false
    }
    this.brokerEpoch = r.brokerEpoch
    this.fenced = true
    this.log.info('registered with the controller', { brokerEpoch: r.brokerEpoch })
    return true
  }

  private async heartbeat(wantShutDown = false): Promise<{ shouldShutDown: boolean }> {
    if (this.heartbeating || this.brokerEpoch < 0) return { shouldShutDown: false }
    this.heartbeating = true
    try {
      const r = await this.controllerClient.call(
        'heartbeat',
        { brokerId: this.nodeId, brokerEpoch: this.brokerEpoch, metadataOffset: this.processed, wantShutDown },
        Math.max(500, this.config.int('broker.heartbeat.interval.ms')),
      )
      if (r.errorCode === ErrorCode.STALE_BROKER_EPOCH || r.errorCode === ErrorCode.BROKER_ID_NOT_REGISTERED) {
        // The controller lost or replaced our registration (a new controller with an older image, or a restart race).
        if (!wantShutDown && !this.stopped) await this.register()
        return { shouldShutDown: wantShutDown }
      }
      if (r.errorCode !== ErrorCode.NONE || !('isFenced' in r)) return { shouldShutDown: false }
      if (r.isFenced !== this.fenced) this.log.info(r.isFenced ? 'fenced by the controller' : 'unfenced by the controller', { brokerEpoch: this.brokerEpoch })
      this.fenced = r.isFenced
      return { shouldShutDown: r.shouldShutDown }
    } finally {
      this.heartbeating = false
    }
  }

  // ---- following the metadata image ----

  private enqueueDelta(delta: MetadataDelta, image: MetadataImage): void {
    // Raft hands entries over synchronously; partition logs open asynchronously, one delta after another.
    const topics = delta.restored ? image.topics() : [...delta.topics].map((id) => image.topicById(id)).filter((t) => t !== undefined)
    const removed = delta.restored ? [...this.topicStates.values()].filter((s) => !image.topicById(s.record.topicId)).map((s) => s.record.name) : delta.removedTopics.map((t) => t.name)
    if (delta.brokerConfigs) {
      // Dynamic broker configs: this broker's own over the cluster default. Every topic's effective values may move.
      const dynamic = new Map<string, DynamicValue>()
      for (const [k, value] of Object.entries(image.brokerConfigs(''))) dynamic.set(k, { value, perBroker: false })
      for (const [k, value] of Object.entries(image.brokerConfigs(String(this.nodeId)))) dynamic.set(k, { value, perBroker: true })
      this.config.setDynamic(dynamic)
      for (const t of image.topics()) if (!topics.includes(t)) topics.push(t)
    }
    this.applying = this.applying
      .then(() => this.applyDelta(topics, removed))
      .catch((err: unknown) => this.log.error('applying metadata failed', { offset: delta.offset, err }))
      .then(() => {
        this.processed = Math.max(this.processed, delta.offset + 1)
        const ready = this.offsetWaiters.filter((w) => w.offset < this.processed)
        this.offsetWaiters = this.offsetWaiters.filter((w) => w.offset >= this.processed)
        for (const w of ready) w.resolve()
      })
  }

  private async applyDelta(topics: TopicInfo[], removed: string[]): Promise<void> {
    for (const name of removed) await this.dropTopic(name)
    for (const t of topics) {
      let state = this.topicStates.get(t.name)
      if (state && state.record.topicId !== t.topicId) {
        await this.dropTopic(t.name)
        state = undefined
      }
      const record: TopicRecord = { name: t.name, topicId: t.topicId, partitions: t.partitions.length, replicationFactor: t.partitions[0]?.replicas.length ?? 0, configs: t.configs, internal: t.name.startsWith('__') }
      const partitions: Partition[] = state ? state.partitions : []
      const changed: PartitionRegistration[] = []
      // Topic configs change at run time (retention, segment size, flush): open logs take the new values.
      const logConfig = this.logConfig(t.configs)
      for (const part of partitions) if (part) part.log.config = logConfig
      for (const p of t.partitions) {
        if (!p.replicas.includes(this.nodeId)) {
          // Reassigned away (Kafka's StopReplica with delete): stop leading or following it, then delete it.
          const gone = partitions[p.partition]
          if (gone) {
            delete partitions[p.partition]
            await this.dropReplica(gone)
          }
          continue
        }
        let part = partitions[p.partition]
        if (!part) {
          const plog = await this.logs.getOrCreate(t.name, p.partition, this.logConfig(t.configs))
          part = new Partition(t.name, p.partition, plog, await loadProducerState(this.fs, plog, this.log, this.clock.now()))
          part.localBrokerId = this.nodeId
          part.highWatermarkManaged = true
          const created = part
          part.afterAppend = () => this.replicas.leaderAppended(created)
          partitions[p.partition] = part
        }
        const reg: PartitionRegistration = { topic: t.name, topicId: t.topicId, partition: p.partition, replicas: p.replicas, isr: p.isr, leader: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch }
        if (part.applyRegistration(reg)) {
          changed.push(reg)
          this.applyReplication(part, reg)
        }
      }
      this.topicStates.set(t.name, { record, partitions })
      for (const reg of changed) {
        for (const fn of this.partitionListeners) {
          try {
            fn(reg)
          } catch (err) {
            this.log.error('partition change listener failed', { topic: reg.topic, partition: reg.partition, err })
          }
        }
      }
    }
    void this.startGroups('metadata')
  }

  /** Brings the replication data path in line with a partition's new registration (in the background, in order
   *  per partition); then wakes its fetches and moves group coordination for offsets partitions. */
  private applyReplication(part: Partition, reg: PartitionRegistration): void {
    // Leadership gone: stop coordinating its groups now, not once the replica has switched to following.
    if (part.topic === OFFSETS_TOPIC && reg.leader !== this.nodeId) this.coordinator?.unload(part.index)
    this.replicas.applyRegistration(part, reg).then(
      () => {
        part.wake()
        if (part.topic !== OFFSETS_TOPIC || !this.coordinator) return
        if (this.leads(part.topic, part.index)) void this.coordinator.load(part.index)
        else this.coordinator.unload(part.index)
      },
      () => undefined, // logged by the replica manager
    )
  }

  private async dropReplica(part: Partition): Promise<void> {
    if (part.topic === OFFSETS_TOPIC) this.coordinator?.unload(part.index)
    await this.replicas.removePartition(part.topic, part.index)
    await this.logs.delete(part.topic, part.index)
    part.wake() // fetchers waiting on it answer NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION now
    this.log.info('replica removed: reassigned away', { topic: part.topic, partition: part.index })
  }

  private async dropTopic(name: string): Promise<void> {
    const state = this.topicStates.get(name)
    if (!state) return
    this.topicStates.delete(name)
    for (const p of state.partitions) {
      if (!p) continue
      await this.replicas.removePartition(name, p.index)
      await this.logs.delete(name, p.index)
      p.wake() // fetchers answer UNKNOWN_TOPIC_OR_PARTITION now
    }
    this.log.info('topic deleted', { topic: name })
  }

  /** Resolves once the partitions reflect metadata up to `offset` (or after timeoutMs; -1 resolves at once). */
  waitForMetadata(offset: number, timeoutMs: number): Promise<void> {
    if (offset < this.processed) return Promise.resolve()
    return new Promise((resolve) => {
      const w = { offset, resolve }
      this.offsetWaiters.push(w)
      this.clock.setTimeout(() => {
        this.offsetWaiters = this.offsetWaiters.filter((x) => x !== w)
        resolve()
      }, timeoutMs)
    })
  }

  /** Called after applyRegistration for every partition of this broker whose registration changed. */
  onPartitionChange(fn: (reg: PartitionRegistration) => void): void {
    this.partitionListeners.push(fn)
  }

  /** The cluster metadata as this broker knows it. */
  get image(): MetadataImage {
    return this.quorum.image
  }

  /** The active controller as this broker knows it (-1: none). */
  get controllerId(): number {
    return this.quorum.leaderId ?? -1
  }

  /** Host and port clients should use, per listener (bound ports replace port 0). */
  get listeners(): readonly Listener[] {
    return this.advertised
  }

  /** The group coordinator (consumer groups and committed offsets). */
  get groups(): GroupCoordinator {
    if (this.coordinator) return this.coordinator
    // Before __consumer_offsets exists: a coordinator of no partitions, which answers COORDINATOR_NOT_AVAILABLE.
    this.noCoordinator ??= new GroupCoordinator({
      clock: this.clock,
      config: coordinatorConfig(this.config),
      log: this.log.child({ component: 'group-coordinator' }),
      partitions: [],
      partitionCount: 0,
      newMemberIdSuffix: () => randomUUID(),
    })
    return this.noCoordinator
  }

  /** Whether the group coordinator runs (it starts once __consumer_offsets is here). */
  get groupsReady(): boolean {
    return this.coordinator !== null
  }

  /** The advertised endpoint of the listener a request arrived on (Kafka answers per listener). */
  endpointFor(listenerName: string): Listener {
    return this.advertised.find((l) => l.name === listenerName) ?? this.advertised[0]!
  }

  /**
   * Creates __consumer_offsets when missing (offsets.topic.replication.factor capped to the live brokers),
   * then starts the group coordinator once every partition of it is here. 'startup' creates the topic only
   * when enough brokers are live (or this is a quorum of one), so a cluster's first broker does not create it
   * with one replica; 'request' (FindCoordinator) creates it with what is live, as Kafka does; 'metadata'
   * only starts the coordinator once the topic's partitions arrived.
   */
  async startGroups(mode: 'startup' | 'request' | 'metadata'): Promise<void> {
    if (this.coordinator || this.startingGroups || this.stopped) return
    this.startingGroups = true
    try {
      if (!this.image.topic(OFFSETS_TOPIC)) {
        const live = this.image.liveBrokers().length
        const wanted = this.config.int('offsets.topic.replication.factor')
        const single = this.quorum.raft.status().voter && (this.config.voters?.size ?? 1) === 1
        if (mode === 'metadata' || live === 0) return
        if (mode === 'startup' && live < wanted && !single) return
        const res = await this.createTopic({
          name: OFFSETS_TOPIC,
          partitions: this.config.int('offsets.topic.num.partitions'),
          replicationFactor: Math.max(1, Math.min(wanted, live)),
          configs: { 'retention.ms': '-1', 'retention.bytes': '-1', 'segment.bytes': String(this.config.int('offsets.topic.segment.bytes')) },
        })
        if (res.errorCode !== ErrorCode.NONE && res.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
          this.log.warn(`cannot create ${OFFSETS_TOPIC} yet`, { error: res.errorMessage })
          return
        }
      }
      // This broker may host only some partitions of the topic (more brokers than its replication factor);
      // the coordinator serves the ones it leads, and leadership changes load and unload them.
      if (!this.topicStates.get(OFFSETS_TOPIC)) return
      this.coordinator = await startGroupCoordinator(this)
    } finally {
      this.startingGroups = false
    }
  }

  topic(name: string): TopicState | undefined {
    return this.topicStates.get(name)
  }

  topicById(topicId: string): TopicState | undefined {
    const t = this.quorum.image.topicById(topicId)
    return t ? this.topicStates.get(t.name) : undefined
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

  /** Creates a topic through the controller; resolves once this broker has opened its replicas. Kafka errors come back as values. */
  async createTopic(spec: {
    name: string
    partitions: number
    replicationFactor: number
    configs: Record<string, string>
    assignments?: number[][]
    validateOnly?: boolean
    timeoutMs?: number
  }): Promise<TopicResult> {
    const req: CreateTopicSpec = { name: spec.name, partitions: spec.partitions, replicationFactor: spec.replicationFactor, configs: spec.configs, assignments: spec.assignments, validateOnly: spec.validateOnly }
    const r = await this.controllerClient.call('createTopics', [req], spec.timeoutMs ?? CONTROLLER_TIMEOUT_MS)
    if (!('results' in r) || r.errorCode !== ErrorCode.NONE) return { errorCode: r.errorCode === ErrorCode.NOT_CONTROLLER ? ErrorCode.REQUEST_TIMED_OUT : r.errorCode, errorMessage: 'The controller did not answer in time.' }
    const res = r.results[0]!
    if (res.errorCode !== ErrorCode.NONE) return { errorCode: res.errorCode, errorMessage: res.errorMessage }
    await this.waitForMetadata(r.offset, 5000)
    if (!spec.validateOnly) this.log.info('topic created', { topic: spec.name, topicId: res.topicId, partitions: res.partitions, replicationFactor: res.replicationFactor, configs: spec.configs })
    return { errorCode: ErrorCode.NONE, errorMessage: null, topicId: res.topicId }
  }

  /** Partitions are opened as metadata is applied, so a known topic is always complete. */
  isReady(_t: TopicState): boolean {
    return true
  }

  async deleteTopic(name: string, timeoutMs = CONTROLLER_TIMEOUT_MS): Promise<TopicResult> {
    if (!this.config.bool('delete.topic.enable')) return { errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: 'Topic deletion is disabled.' }
    const t = this.quorum.image.topic(name)
    if (!t) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' }
    if (name.startsWith('__')) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Topic ${name} is a Kafka internal topic and is not allowed to be deleted.`, topicId: t.topicId }
    const r = await this.controllerClient.call('deleteTopics', [t.topicId], timeoutMs)
    if (!('results' in r) || r.errorCode !== ErrorCode.NONE) return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: 'The controller did not answer in time.', topicId: t.topicId }
    const res = r.results[0]!
    if (res.errorCode === ErrorCode.UNKNOWN_TOPIC_ID) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' }
    if (res.errorCode !== ErrorCode.NONE) return { errorCode: res.errorCode, errorMessage: res.errorMessage, topicId: t.topicId }
    await this.waitForMetadata(r.offset, 5000)
    return { errorCode: ErrorCode.NONE, errorMessage: null, topicId: t.topicId }
  }

  /** Writes producer-state snapshots of the partitions whose state changed since the last one. */
  async snapshotProducers(): Promise<void> {
    const cutoff = this.clock.now() - this.config.int('producer.id.expiration.ms')
    for (const t of this.topicStates.values()) {
      for (const p of t.partitions) {
        if (!p) continue
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

  /**
   * Controlled shutdown (the controller moves our leaderships first, bounded by the session timeout), then
   * stops listeners, snapshots producer state, flushes and checkpoints storage, writes the clean-shutdown
   * marker and leaves the quorum (a leading controller resigns).
   */
  async shutdown(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.snapshotTimer?.cancel()
    this.heartbeatTimer?.cancel()
    if (this.brokerEpoch >= 0) {
      const deadline = this.clock.monotonic() + Math.min(5000, this.config.int('broker.session.timeout.ms'))
      while (this.clock.monotonic() < deadline && this.quorum.leaderId !== null) {
        while (this.heartbeating) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 10))
        const r = await this.heartbeat(true)
        if (r.shouldShutDown) break
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 50))
      }
    }
    await this.server?.stop()
    this.coordinator?.shutdown()
    await this.applying
    await this.replicas.stop()
    await this.snapshotProducers()
    await this.logs.shutdown()
    await this.quorum.close()
    await this.channel?.close()
  }
}

/** The replica manager hands back the partitions the broker gave it. */
/** The host this broker's connections to its peers come from: its first client listener's, else its controller's. */
function ownHost(config: BrokerConfig): string | undefined {
  return (config.clientListeners[0] ?? config.controllerListeners[0])?.host
}

function asPartition(p: ReplicaPartition): Partition {
  return p as Partition
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
    highWatermarkCheckpointMs: config.int('replica.high.watermark.checkpoint.interval.ms'),
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
