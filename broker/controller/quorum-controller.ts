// The quorum controller (Kafka's QuorumController + ReplicationControlManager + ClusterControlManager, reduced):
// it runs on every controller node and acts only while its node leads the metadata quorum and has applied its
// own leader-change entry (so its image holds everything committed before it). Every request is validated
// against the image and answered once its records are committed; requests run one at a time, so each sees the
// image its predecessors left.
//
// Brokers register (a new registration starts fenced; its offset is the broker epoch) and heartbeat. A broker
// whose heartbeat reports a metadata offset at or past its registration is unfenced and elected where a
// partition has no leader. A broker silent for broker.session.timeout.ms is fenced: it leaves every ISR (unless
// it is the last member) and its leaderships move to another unfenced ISR member with leaderEpoch + 1; with no
// such member the partition has no leader (-1) unless unclean.leader.election.enable lets any live replica lead.
// A broker asking to shut down (controlled shutdown) gets the same treatment at once and is told to stop when it
// leads nothing. AlterPartition follows KIP-497. Errors are values.
//
// ElectLeaders (Kafka's ReplicationControlManager.electLeaders): a preferred election makes the first replica
// leader when it is in the ISR and usable; an unclean one gives a leaderless partition any usable replica (the
// ISR shrinks to it). With auto.leader.rebalance.enable, every leader.imbalance.check.interval.seconds the
// active controller runs a preferred election for each partition not led by its preferred replica, as Kafka's
// maybeBalancePartitionLeaders does (at most 1000 per round); like Kafka's KRaft controller it does not read
// leader.imbalance.per.broker.percentage.
//
// AlterPartitionReassignments (ReplicationControlManager.changePartitionReassignment): the replica set becomes
// target + the replicas being removed, with addingReplicas and removingReplicas recorded. The new replicas fetch
// from the leader; once the ISR holds every target replica (an AlterPartition from the leader, or at once when
// nothing is added) the same change completes the move: the removed replicas leave the replica set and the ISR,
// and if the leader was one of them the first target replica in the ISR takes over (PartitionChangeBuilder's
// completeReassignmentIfNeeded). A null target cancels: the added replicas go, the old set stays.
//
// All timers run on the Clock; the caller hands in propose() (the Raft node) and the image.

import { aclKey, filterMatches, sameAcl, type Acl, type AclFilter } from '../security/authorizer.ts'
import type { Clock, TimerHandle } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { isReassigning, type BrokerInfo, type MetadataImage, type PartitionInfo, type TopicInfo } from './metadata-image.ts'
import { encodeRecord, type Endpoint, type MetadataRecord } from './metadata-records.ts'
import type { ProposeResult } from './raft-types.ts'

export const PRODUCER_ID_BLOCK_SIZE = 1000

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/

/** Kafka's topic name rules; returns an error message or null. */
export function checkTopicName(name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty'
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."'
  if (name.length > 249) return `Topic name is illegal, it can't be longer than 249 characters, topic name: ${name}`
  if (!LEGAL_TOPIC.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`
  return null
}

export interface RegisterBrokerRequest {
  readonly brokerId: number
  readonly incarnationId: string
  readonly endpoints: readonly Endpoint[]
  readonly rack: string | null
}
export interface RegisterBrokerResponse {
  readonly errorCode: number
  readonly brokerEpoch: number
}

export interface HeartbeatRequest {
  readonly brokerId: number
  readonly brokerEpoch: number
  /** Next metadata offset the broker will apply. */
  readonly metadataOffset: number
  readonly wantShutDown: boolean
}
export interface HeartbeatResponse {
  readonly errorCode: number
  readonly isFenced: boolean
  readonly shouldShutDown: boolean
}

export interface CreateTopicSpec {
  readonly name: string
  readonly partitions: number
  readonly replicationFactor: number
  readonly configs: Readonly<Record<string, string>>
  /** Manual replica assignment, one list per partition (instead of partitions/replicationFactor). */
  readonly assignments?: readonly (readonly number[])[]
  readonly validateOnly?: boolean
}
export interface CreateTopicResult {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly topicId?: string
  readonly partitions?: number
  readonly replicationFactor?: number
}

export interface CreatePartitionsSpec {
  readonly topic: string
  /** The topic's new partition count. */
  readonly count: number
  /** Replicas of each new partition, or null to let the controller place them. */
  readonly assignments: readonly (readonly number[])[] | null
  readonly validateOnly: boolean
}
export interface CreatePartitionsResult {
  readonly errorCode: number
  readonly errorMessage: string | null
}

/** A change of one resource's dynamic configs (Kafka's ConfigurationControlManager.incrementalAlterConfigs /
 *  legacyAlterConfigs); names and values were checked by the broker that took the request. */
export interface ConfigChange {
  readonly resourceType: 'topic' | 'broker'
  /** A topic name, or a broker id ('' for the cluster-wide default). */
  readonly resourceName: string
  readonly set: Readonly<Record<string, string>>
  readonly remove: readonly string[]
  /** AlterConfigs: every key not in `set` goes. */
  readonly replace: boolean
  readonly validateOnly: boolean
}

/** AlterUserScramCredentials as the controller gets it: checked by the broker that took the request, with
 *  StoredKey and ServerKey already derived from the salted password (base64), which never reaches the log. */
export interface ScramAlteration {
  readonly deletions: readonly { readonly name: string; readonly mechanism: number }[]
  readonly upsertions: readonly { readonly name: string; readonly mechanism: number; readonly salt: string; readonly storedKey: string; readonly serverKey: string; readonly iterations: number }[]
}
export interface ScramAlterationResult {
  readonly user: string
  readonly errorCode: number
  readonly errorMessage: string | null
}

/** DeleteAcls' answer per filter: the ACLs it removed. */
export interface AclDeletionResult {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly acls: readonly Acl[]
}

export interface AlterPartitionRequest {
  readonly brokerId: number
  readonly brokerEpoch: number
  readonly topicId: string
  readonly partition: number
  readonly leaderEpoch: number
  readonly partitionEpoch: number
  readonly newIsr: readonly number[]
}
export interface AlterPartitionResponse {
  readonly errorCode: number
  readonly partition?: PartitionInfo
}

/** Kafka's ElectionType: 0 preferred, 1 unclean. */
export type ElectionType = 0 | 1

export interface ElectLeadersRequest {
  /** The asking broker. */
  readonly brokerId: number
  readonly electionType: ElectionType
  /** Null: every partition of the cluster (results then leave out the ones that need no election). */
  readonly topicPartitions: readonly { readonly topic: string; readonly partitions: readonly number[] }[] | null
}
export interface PartitionElectionResult {
  readonly partitionId: number
  readonly errorCode: number
  readonly errorMessage: string | null
}
export interface ElectLeadersResponse {
  readonly errorCode: number
  readonly results: readonly { readonly topic: string; readonly partitions: readonly PartitionElectionResult[] }[]
}

export interface ReassignmentsRequest {
  /** The asking broker. */
  readonly brokerId: number
  readonly topics: readonly { readonly name: string; readonly partitions: readonly { readonly partitionIndex: number; readonly replicas: readonly number[] | null }[] }[]
}
export interface ReassignmentsResponse {
  readonly errorCode: number
  readonly results: readonly { readonly name: string; readonly partitions: readonly PartitionElectionResult[] }[]
}

/** Kafka's maxElectionsPerImbalance. */
const MAX_ELECTIONS_PER_IMBALANCE = 1000

export interface ProducerIdsResponse {
  readonly errorCode: number
  readonly start: number
  readonly length: number
}

/** What brokers ask of the controller, in process or over the controller listener. Every answer carries the
 *  metadata offset it was committed at (-1 when nothing was written), so the asker can wait to see it. */
export interface ControllerApi {
  registerBroker(req: RegisterBrokerRequest): Promise<RegisterBrokerResponse & { offset: number }>
  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse & { offset: number }>
  createTopics(specs: readonly CreateTopicSpec[]): Promise<{ errorCode: number; results: CreateTopicResult[]; offset: number }>
  deleteTopics(topicIds: readonly string[]): Promise<{ errorCode: number; results: { errorCode: number; errorMessage: string | null }[]; offset: number }>
  alterPartition(req: AlterPartitionRequest): Promise<AlterPartitionResponse & { offset: number }>
  createPartitions(specs: readonly CreatePartitionsSpec[]): Promise<{ errorCode: number; results: CreatePartitionsResult[]; offset: number }>
  alterConfigs(changes: readonly ConfigChange[]): Promise<{ errorCode: number; results: CreatePartitionsResult[]; offset: number }>
  alterUserScramCredentials(req: ScramAlteration): Promise<{ errorCode: number; results: ScramAlterationResult[]; offset: number }>
  createAcls(acls: readonly Acl[]): Promise<{ errorCode: number; results: CreatePartitionsResult[]; offset: number }>
  deleteAcls(filters: readonly AclFilter[]): Promise<{ errorCode: number; results: AclDeletionResult[]; offset: number }>
  allocateProducerIds(req: { brokerId: number; brokerEpoch: number }): Promise<ProducerIdsResponse & { offset: number }>
  electLeaders(req: ElectLeadersRequest): Promise<ElectLeadersResponse & { offset: number }>
  alterPartitionReassignments(req: ReassignmentsRequest): Promise<ReassignmentsResponse & { offset: number }>
}

export interface QuorumControllerOptions {
  readonly nodeId: number
  readonly clock: Clock
  readonly logger: Logger
  readonly image: MetadataImage
  /** Whether this node leads and has applied its own leader-change entry. */
  readonly isActive: () => boolean
  /** Changes whenever leadership changes (the Raft epoch); a new term resets heartbeat deadlines. */
  readonly term: () => number
  readonly propose: (records: readonly Buffer[]) => Promise<ProposeResult>
  readonly randomBytes: (n: number) => Buffer
  readonly sessionTimeoutMs: number
  /** A topic's effective config value (override, broker setting, default). */
  readonly topicValue: (name: string, overrides: Readonly<Record<string, string>>) => string
  readonly deleteTopicEnable: boolean
  /** auto.leader.rebalance.enable: how often to move leadership back to preferred replicas; absent: never. */
  readonly leaderImbalanceCheckIntervalMs?: number
}

type Committed = { ok: true; offset: number } | { ok: false }

const notController = { errorCode: ErrorCode.NOT_CONTROLLER, offset: -1 } as const

export class QuorumController implements ControllerApi {
  readonly #o: QuorumControllerOptions
  readonly #log: Logger
  readonly #lastContact = new Map<number, number>()
  #term = -1
  #queue: Promise<unknown> = Promise.resolve()
  #timer: TimerHandle | null = null
  #balanceTimer: TimerHandle | null = null

  constructor(o: QuorumControllerOptions) {
    this.#o = o
    this.#log = o.logger
    const every = Math.max(20, Math.min(1000, Math.floor(o.sessionTimeoutMs / 4)))
    this.#timer = o.clock.setInterval(() => void this.#tick(), every)
    const balanceEvery = o.leaderImbalanceCheckIntervalMs
    if (balanceEvery !== undefined && balanceEvery > 0) this.#balanceTimer = o.clock.setInterval(() => void this.#balanceLeaders(), balanceEvery)
  }

  close(): void {
    this.#timer?.cancel()
    this.#timer = null
    this.#balanceTimer?.cancel()
    this.#balanceTimer = null
  }

  get active(): boolean {
    return this.#o.isActive()
  }

  // ---- brokers ----

  registerBroker(req: RegisterBrokerRequest): Promise<RegisterBrokerResponse & { offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, brokerEpoch: -1 }
      const records: MetadataRecord[] = [{ type: 'register-broker', brokerId: req.brokerId, incarnationId: req.incarnationId, endpoints: req.endpoints, rack: req.rack }]
      // A re-registration is a new incarnation: the old one is gone, so its leaderships and ISR places go too.
      if (this.#o.image.broker(req.brokerId)) records.push(...this.#moveAway(new Set([req.brokerId])))
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, brokerEpoch: -1 }
      this.#lastContact.set(req.brokerId, this.#o.clock.monotonic())
      this.#log.info('broker registered', { brokerId: req.brokerId, brokerEpoch: c.offset, endpoints: req.endpoints.map((e) => `${e.name}://${e.host}:${e.port}`) })
      return { errorCode: ErrorCode.NONE, brokerEpoch: c.offset, offset: c.offset }
    })
  }

  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse & { offset: number }> {
    if (!this.#checkTerm()) return Promise.resolve({ ...notController, isFenced: true, shouldShutDown: false })
    const b = this.#o.image.broker(req.brokerId)
    if (!b) return Promise.resolve({ errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED, isFenced: true, shouldShutDown: false, offset: -1 })
    if (b.brokerEpoch !== req.brokerEpoch) return Promise.resolve({ errorCode: ErrorCode.STALE_BROKER_EPOCH, isFenced: true, shouldShutDown: false, offset: -1 })
    this.#lastContact.set(req.brokerId, this.#o.clock.monotonic())
    const needsShutdownWork = req.wantShutDown && (!b.inControlledShutdown || (!b.fenced && this.#leaderships(b.brokerId) === 0))
    const needsUnfence = !req.wantShutDown && b.fenced && !b.inControlledShutdown && req.metadataOffset > b.brokerEpoch
    const answer = (offset: number) => {
      const now = this.#o.image.broker(req.brokerId)
      if (!now || now.brokerEpoch !== req.brokerEpoch) return { errorCode: ErrorCode.STALE_BROKER_EPOCH, isFenced: true, shouldShutDown: false, offset }
      return { errorCode: ErrorCode.NONE, isFenced: now.fenced, shouldShutDown: now.inControlledShutdown && this.#leaderships(now.brokerId) === 0, offset }
    }
    if (!needsShutdownWork && !needsUnfence) return Promise.resolve(answer(-1))
    return this.#serial(async () => {
      const cur = this.#o.image.broker(req.brokerId)
      if (!cur || cur.brokerEpoch !== req.brokerEpoch) return answer(-1)
      const records: MetadataRecord[] = []
      if (req.wantShutDown) {
        if (!cur.inControlledShutdown) records.push({ type: 'broker-shutdown', brokerId: cur.brokerId, brokerEpoch: cur.brokerEpoch })
        records.push(...this.#moveAway(new Set([cur.brokerId])))
        if (!cur.fenced && records.length === 0) records.push({ type: 'fence-broker', brokerId: cur.brokerId, brokerEpoch: cur.brokerEpoch })
      } else if (cur.fenced && !cur.inControlledShutdown) {
        records.push({ type: 'unfence-broker', brokerId: cur.brokerId, brokerEpoch: cur.brokerEpoch }, ...this.#electReturning(cur.brokerId))
      }
      if (records.length === 0) return answer(-1)
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, isFenced: true, shouldShutDown: false }
      if (req.wantShutDown) this.#log.info('controlled shutdown', { brokerId: cur.brokerId, leaderships: this.#leaderships(cur.brokerId) })
      else this.#log.info('broker unfenced', { brokerId: cur.brokerId, brokerEpoch: cur.brokerEpoch })
      return answer(c.offset)
    })
  }

  /** Fences brokers whose session expired (only while active). */
  async #tick(): Promise<void> {
    if (!this.#checkTerm()) return
    const now = this.#o.clock.monotonic()
    const expired = this.#o.image.brokers().filter((b) => !b.fenced && now - (this.#lastContact.get(b.brokerId) ?? now) >= this.#o.sessionTimeoutMs)
    if (expired.length === 0) return
    await this.#serial(async () => {
      const still = expired.filter((b) => {
        const cur = this.#o.image.broker(b.brokerId)
        return cur && !cur.fenced && cur.brokerEpoch === b.brokerEpoch && this.#o.clock.monotonic() - (this.#lastContact.get(b.brokerId) ?? 0) >= this.#o.sessionTimeoutMs
      })
      if (still.length === 0 || !this.active) return
      const ids = new Set(still.map((b) => b.brokerId))
      const records: MetadataRecord[] = still.map((b) => ({ type: 'fence-broker', brokerId: b.brokerId, brokerEpoch: b.brokerEpoch }) as const)
      records.push(...this.#moveAway(ids))
      const c = await this.#commit(records)
      if (c.ok) this.#log.warn('brokers fenced: session expired', { brokers: [...ids], sessionTimeoutMs: this.#o.sessionTimeoutMs, partitionChanges: records.length - still.length })
    })
  }

  /** On a new term, every registered broker gets a full session from now (Kafka does the same on failover). */
  #checkTerm(): boolean {
    if (!this.active) return false
    const term = this.#o.term()
    if (term !== this.#term) {
      this.#term = term
      const now = this.#o.clock.monotonic()
      for (const b of this.#o.image.brokers()) this.#lastContact.set(b.brokerId, now)
      this.#log.info('controller active', { term, brokers: this.#o.image.brokers().length })
    }
    return true
  }

  #usable(id: number, excluded: ReadonlySet<number> = new Set()): boolean {
    const b = this.#o.image.broker(id)
    return b !== undefined && !b.fenced && !b.inControlledShutdown && !excluded.has(id)
  }

  #leaderships(brokerId: number): number {
    let n = 0
    for (const t of this.#o.image.topics()) for (const p of t.partitions) if (p.leader === brokerId) n++
    return n
  }

  #unclean(t: TopicInfo): boolean {
    return this.#o.topicValue('unclean.leader.election.enable', t.configs) === 'true'
  }

  /**
   * Partition changes that take the brokers out of every ISR (unless one is the last member) and move their
   * leaderships to another usable ISR member (or an out-of-sync live replica when unclean election is on).
   */
  #moveAway(gone: ReadonlySet<number>): MetadataRecord[] {
    const out: MetadataRecord[] = []
    for (const t of this.#o.image.topics()) {
      for (const p of t.partitions) {
        const involved = p.replicas.some((r) => gone.has(r))
        if (!involved) continue
        let isr = p.isr.filter((r) => !gone.has(r))
        if (isr.length === 0) isr = [...p.isr]
        let leader = p.leader
        if (leader === -1 || gone.has(leader) || !this.#usable(leader)) {
          const clean = p.replicas.find((r) => isr.includes(r) && this.#usable(r, gone))
          if (clean !== undefined) leader = clean
          else {
            const dirty = this.#unclean(t) ? p.replicas.find((r) => this.#usable(r, gone)) : undefined
            if (dirty !== undefined) {
              leader = dirty
              isr = [dirty]
            } else leader = -1
          }
        }
        if (leader !== p.leader || !sameSet(isr, p.isr)) {
          out.push({ type: 'partition-change', topicId: t.topicId, partition: p.partition, isr, ...(leader !== p.leader ? { leader } : {}) })
        }
      }
    }
    return out
  }

  /** Leaderless partitions of topics that allow unclean election, led by their first usable replica. */
  #electUnclean(): MetadataRecord[] {
    const out: MetadataRecord[] = []
    for (const t of this.#o.image.topics()) {
      if (!this.#unclean(t)) continue
      for (const p of t.partitions) {
        const leader = p.leader === -1 ? p.replicas.find((r) => this.#usable(r)) : undefined
        if (leader !== undefined) out.push({ type: 'partition-change', topicId: t.topicId, partition: p.partition, leader, isr: [leader] })
      }
    }
    return out
  }

  /** Leaderless partitions a returning broker can lead: from the ISR, or any replica with unclean election. */
  #electReturning(brokerId: number): MetadataRecord[] {
    const out: MetadataRecord[] = []
    for (const t of this.#o.image.topics()) {
      for (const p of t.partitions) {
        if (p.leader !== -1 || !p.replicas.includes(brokerId)) continue
        if (p.isr.includes(brokerId)) out.push({ type: 'partition-change', topicId: t.topicId, partition: p.partition, leader: brokerId })
        else if (this.#unclean(t)) out.push({ type: 'partition-change', topicId: t.topicId, partition: p.partition, leader: brokerId, isr: [brokerId] })
      }
    }
    return out
  }

  // ---- topics ----

  createTopics(specs: readonly CreateTopicSpec[]): Promise<{ errorCode: number; results: CreateTopicResult[]; offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const records: MetadataRecord[] = []
      const results: CreateTopicResult[] = []
      const names = new Set<string>()
      let rotation = this.#o.image.topics().length
      for (const s of specs) {
        const r = this.#planTopic(s, names, rotation++)
        if ('records' in r) {
          names.add(s.name)
          if (!s.validateOnly) records.push(...r.records)
          results.push(r.result)
        } else results.push(r)
      }
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('topics created', { topics: specs.filter((_, i) => results[i]!.errorCode === ErrorCode.NONE && !specs[i]!.validateOnly).map((s) => s.name) })
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  #planTopic(s: CreateTopicSpec, pending: ReadonlySet<string>, rotation: number): CreateTopicResult | { records: MetadataRecord[]; result: CreateTopicResult } {
    const fail = (errorCode: number, errorMessage: string): CreateTopicResult => ({ errorCode, errorMessage })
    const nameErr = checkTopicName(s.name)
    if (nameErr) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameErr)
    if (this.#o.image.topic(s.name) || pending.has(s.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${s.name}' already exists.`)
    const live = this.#o.image.brokers().filter((b) => this.#usable(b.brokerId)).map((b) => b.brokerId)
    let assignment: number[][]
    if (s.assignments && s.assignments.length > 0) {
      const rf = s.assignments[0]!.length
      for (const a of s.assignments) {
        if (a.length === 0 || a.length !== rf || new Set(a).size !== a.length) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'Every partition must list the same number of distinct replicas.')
        const unknown = a.find((id) => !this.#o.image.broker(id))
        if (unknown !== undefined) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Replica assignment names broker ${unknown}, which is not registered; registered brokers: ${this.#o.image.brokers().map((b) => b.brokerId).join(', ')}`)
      }
      assignment = s.assignments.map((a) => [...a])
    } else {
      if (s.partitions < 1) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.')
      if (s.partitions > 10_000) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions is above this cluster\'s limit of 10000.')
      if (s.replicationFactor < 1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.')
      if (s.replicationFactor > live.length) {
        return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${s.replicationFactor} time(s): The target replication factor of ${s.replicationFactor} cannot be reached because only ${live.length} broker(s) are registered.`)
      }
      // Round robin with a rotating start, so the first replicas (the leaders) spread over the brokers.
      assignment = Array.from({ length: s.partitions }, (_, p) => Array.from({ length: s.replicationFactor }, (_, i) => live[(rotation + p + i) % live.length]!))
    }
    const topicId = this.#o.randomBytes(16).toString('hex')
    const records: MetadataRecord[] = [{ type: 'topic', name: s.name, topicId, configs: s.configs }]
    assignment.forEach((replicas, p) => {
      const isr = replicas.filter((r) => this.#usable(r))
      const inSync = isr.length > 0 ? isr : replicas
      records.push({ type: 'partition', topicId, partition: p, replicas, isr: inSync, leader: isr[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0 })
    })
    return { records, result: { errorCode: ErrorCode.NONE, errorMessage: null, topicId, partitions: assignment.length, replicationFactor: assignment[0]!.length } }
  }

  deleteTopics(topicIds: readonly string[]): Promise<{ errorCode: number; results: { errorCode: number; errorMessage: string | null }[]; offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const records: MetadataRecord[] = []
      const results = topicIds.map((id) => {
        const t = this.#o.image.topicById(id)
        if (!t) return { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: 'This server does not host this topic ID.' }
        if (!this.#o.deleteTopicEnable) return { errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: 'Topic deletion is disabled.' }
        if (t.name.startsWith('__')) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Topic ${t.name} is a Kafka internal topic and is not allowed to be deleted.` }
        if (!records.some((r) => r.type === 'remove-topic' && r.topicId === id)) records.push({ type: 'remove-topic', topicId: id })
        return { errorCode: ErrorCode.NONE, errorMessage: null }
      })
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  // ---- partitions ----

  /** Kafka's ReplicationControlManager.createPartitions: new partitions start with their live replicas in sync. */
  createPartitions(specs: readonly CreatePartitionsSpec[]): Promise<{ errorCode: number; results: CreatePartitionsResult[]; offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const records: MetadataRecord[] = []
      const results = specs.map((s) => {
        const r = this.#planPartitions(s)
        if ('records' in r) {
          if (!s.validateOnly) records.push(...r.records)
          return { errorCode: ErrorCode.NONE, errorMessage: null }
        }
        return r
      })
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('partitions created', { topics: specs.filter((s, i) => results[i]!.errorCode === ErrorCode.NONE && !s.validateOnly).map((s) => `${s.topic}:${s.count}`) })
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  #planPartitions(s: CreatePartitionsSpec): CreatePartitionsResult | { records: MetadataRecord[] } {
    const fail = (errorCode: number, errorMessage: string | null): CreatePartitionsResult => ({ errorCode, errorMessage })
    const t = this.#o.image.topic(s.topic)
    if (!t) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null)
    const current = t.partitions.length
    if (s.count < current) return fail(ErrorCode.INVALID_PARTITIONS, `The topic ${s.topic} currently has ${current} partition(s); ${s.count} would not be an increase.`)
    if (s.count === current) return fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`)
    if (s.count > 10_000) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions is above this cluster\'s limit of 10000.')
    const added = s.count - current
    const rf = t.partitions[0]?.replicas.length ?? 1
    let assignment: number[][]
    if (s.assignments) {
      if (s.assignments.length !== added) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Attempted to add ${added} additional partition(s), but only ${s.assignments.length} assignment(s) were specified.`)
      for (let i = 0; i < s.assignments.length; i++) {
        const a = s.assignments[i]!
        if (a.length === 0) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes an empty replica list.')
        const twice = a.find((id, j) => a.indexOf(id) !== j)
        if (twice !== undefined) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes the broker ${twice} more than once.`)
        const unknown = a.find((id) => !this.#o.image.broker(id))
        if (unknown !== undefined) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes broker ${unknown}, but no such broker is registered.`)
        if (a.length !== rf) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes a partition with ${a.length} replica(s), but this is not consistent with previous partitions, which have ${rf} replica(s).`)
        if (!a.some((id) => this.#usable(id))) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `All brokers specified in the manual partition assignment for partition ${current + i} are fenced or in controlled shutdown.`)
      }
      assignment = s.assignments.map((a) => [...a])
    } else {
      const live = this.#o.image.brokers().filter((b) => this.#usable(b.brokerId)).map((b) => b.brokerId)
      if (rf > live.length) {
        return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${rf} time(s): The target replication factor of ${rf} cannot be reached because only ${live.length} broker(s) are registered.`)
      }
      // Continue the round robin after the existing partitions, so new leaders spread over the brokers too.
      assignment = Array.from({ length: added }, (_, k) => Array.from({ length: rf }, (_, i) => live[(current + k + i) % live.length]!))
    }
    const records: MetadataRecord[] = assignment.map((replicas, k) => {
      const isr = replicas.filter((r) => this.#usable(r))
      return { type: 'partition', topicId: t.topicId, partition: current + k, replicas, isr, leader: isr[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0 }
    })
    return { records }
  }

  alterPartition(req: AlterPartitionRequest): Promise<AlterPartitionResponse & { offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return notController
      const b = this.#o.image.broker(req.brokerId)
      if (!b || b.brokerEpoch !== req.brokerEpoch) return { errorCode: ErrorCode.STALE_BROKER_EPOCH, offset: -1 }
      const t = this.#o.image.topicById(req.topicId)
      const p = t?.partitions[req.partition]
      if (!t || !p) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: -1 }
      if (p.leader !== req.brokerId) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, offset: -1 }
      if (req.leaderEpoch !== p.leaderEpoch) return { errorCode: req.leaderEpoch < p.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.NOT_LEADER_OR_FOLLOWER, offset: -1 }
      if (req.partitionEpoch !== p.partitionEpoch) return { errorCode: ErrorCode.INVALID_UPDATE_VERSION, offset: -1 }
      if (new Set(req.newIsr).size !== req.newIsr.length || !req.newIsr.every((r) => p.replicas.includes(r)) || !req.newIsr.includes(p.leader)) {
        return { errorCode: ErrorCode.INVALID_REQUEST, offset: -1 }
      }
      if (req.newIsr.some((r) => !p.isr.includes(r) && !this.#usable(r))) return { errorCode: ErrorCode.INELIGIBLE_REPLICA, offset: -1 }
      if (sameSet(req.newIsr, p.isr)) return { errorCode: ErrorCode.NONE, partition: p, offset: -1 }
      const c = await this.#commit([this.#completeReassignment(p, { type: 'partition-change', topicId: t.topicId, partition: p.partition, isr: [...req.newIsr] })])
      if (!c.ok) return notController
      this.#log.info('ISR changed', { topic: t.name, partition: p.partition, from: p.isr, to: req.newIsr })
      return { errorCode: ErrorCode.NONE, partition: this.#o.image.topicById(t.topicId)?.partitions[p.partition], offset: c.offset }
    })
  }

  // ---- leader elections ----

  electLeaders(req: ElectLeadersRequest): Promise<ElectLeadersResponse & { offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const records: MetadataRecord[] = []
      // A partition named twice sees the election planned for it the first time.
      const planned = new Map<string, PartitionInfo>()
      const elect = (topic: string, partition: number): PartitionElectionResult => {
        const t = this.#o.image.topic(topic)
        if (!t) return { partitionId: partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic as ${topic}` }
        const key = `${t.topicId}:${partition}`
        const p = planned.get(key) ?? t.partitions[partition]
        if (!p) return { partitionId: partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such partition as ${topic}-${partition}` }
        if (req.electionType === 0 ? p.leader === p.replicas[0] : p.leader !== -1) {
          return { partitionId: partition, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'Leader election not needed for topic partition.' }
        }
        const change = this.#election(t, p, req.electionType === 0 ? 'preferred' : 'unclean')
        if (!change) {
          return req.electionType === 0
            ? { partitionId: partition, errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: 'The preferred leader was not available.' }
            : { partitionId: partition, errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, errorMessage: 'Eligible topic partition leaders are not available.' }
        }
        records.push(change)
        planned.set(key, { ...p, leader: change.leader ?? p.leader, isr: change.isr ?? p.isr })
        return { partitionId: partition, errorCode: ErrorCode.NONE, errorMessage: null }
      }
      let results: ElectLeadersResponse['results']
      if (req.topicPartitions === null) {
        results = this.#o.image
          .topics()
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .map((t) => ({ topic: t.name, partitions: t.partitions.map((p) => elect(t.name, p.partition)).filter((r) => r.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) }))
      } else {
        results = req.topicPartitions.map((tp) => ({ topic: tp.topic, partitions: tp.partitions.map((p) => elect(tp.topic, p)) }))
      }
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('leaders elected', { electionType: req.electionType === 0 ? 'preferred' : 'unclean', partitions: records.length })
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  /**
   * Kafka's PartitionChangeBuilder elections over the partition's current ISR. Preferred: the first replica
   * when it may lead, else the current leader when it still may, else another ISR member. Unclean: the
   * current leader or an ISR member when one may lead, else any usable replica, which becomes the whole ISR.
   * Null when the leader would not change.
   */
  #election(t: TopicInfo, p: PartitionInfo, kind: 'preferred' | 'unclean'): { type: 'partition-change'; topicId: string; partition: number; leader: number; isr?: number[] } | null {
    const valid = (r: number | undefined) => r !== undefined && p.isr.includes(r) && this.#usable(r)
    let leader = -1
    let isr: number[] | undefined
    if (kind === 'preferred') {
      leader = valid(p.replicas[0]) ? p.replicas[0]! : valid(p.leader) ? p.leader : (p.replicas.slice(1).find(valid) ?? -1)
    } else if (valid(p.leader)) leader = p.leader
    else {
      const clean = p.replicas.find(valid)
      if (clean !== undefined) leader = clean
      else {
        const dirty = p.replicas.find((r) => this.#usable(r))
        if (dirty !== undefined) {
          leader = dirty
          isr = [dirty]
        }
      }
    }
    if (leader === p.leader) return null
    return { type: 'partition-change', topicId: t.topicId, partition: p.partition, leader, ...(isr ? { isr } : {}) }
  }

  /** auto.leader.rebalance.enable: preferred elections for the partitions not led by their preferred replica. */
  async #balanceLeaders(): Promise<void> {
    if (!this.#checkTerm()) return
    await this.#serial(async () => {
      if (!this.active) return
      const records: MetadataRecord[] = []
      for (const t of this.#o.image.topics()) {
        for (const p of t.partitions) {
          if (records.length >= MAX_ELECTIONS_PER_IMBALANCE) break
          if (p.leader === p.replicas[0]) continue
          const change = this.#election(t, p, 'preferred')
          if (change) records.push(change)
        }
      }
      if (records.length === 0) return
      const c = await this.#commit(records)
      if (c.ok) this.#log.info('preferred leaders elected: leader imbalance', { partitions: records.length })
    })
  }

  // ---- reassignments ----

  alterPartitionReassignments(req: ReassignmentsRequest): Promise<ReassignmentsResponse & { offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const records: MetadataRecord[] = []
      const moved = new Set<string>()
      const results = req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((target): PartitionElectionResult => {
          const fail = (errorCode: number, errorMessage: string) => ({ partitionId: target.partitionIndex, errorCode, errorMessage })
          const topic = this.#o.image.topic(t.name)
          if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find a topic named ${t.name}.`)
          const p = topic.partitions[target.partitionIndex]
          if (!p) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${t.name}:${target.partitionIndex}.`)
          const key = `${topic.topicId}:${p.partition}`
          if (moved.has(key)) return fail(ErrorCode.INVALID_REQUEST, `Partition ${t.name}:${p.partition} is named twice.`)
          const r = target.replicas === null ? this.#cancelReassignment(topic, p) : this.#changeReassignment(topic, p, target.replicas)
          if ('errorCode' in r) return fail(r.errorCode, r.errorMessage)
          moved.add(key)
          if (r.change) records.push(r.change)
          return { partitionId: target.partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null }
        }),
      }))
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('partition reassignments', { partitions: records.length })
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  #changeReassignment(t: TopicInfo, p: PartitionInfo, target: readonly number[]): { change: PartitionChange | null } | { errorCode: number; errorMessage: string } {
    const invalid = (errorMessage: string) => ({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage })
    if (target.length === 0) return invalid('The manual partition assignment includes an empty replica list.')
    for (const id of target) {
      if (!this.#o.image.broker(id)) return invalid(`The manual partition assignment includes broker ${id}, but no such broker is registered.`)
    }
    if (new Set(target).size !== target.length) return invalid('The manual partition assignment includes a broker more than once.')
    // Relative to the current set (which holds the old replicas too while a move is under way), as Kafka does.
    const removing = p.replicas.filter((r) => !target.includes(r))
    const adding = target.filter((r) => !p.replicas.includes(r))
    const replicas = [...target, ...removing]
    const change: PartitionChange = { type: 'partition-change', topicId: t.topicId, partition: p.partition, replicas, addingReplicas: adding, removingReplicas: removing }
    const done = this.#completeReassignment({ ...p, replicas, addingReplicas: adding, removingReplicas: removing }, change)
    const same = sameList(done.replicas ?? p.replicas, p.replicas) && done.isr === undefined && done.leader === undefined && adding.length === 0 && removing.length === 0 && !isReassigning(p)
    return { change: same ? null : done }
  }

  #cancelReassignment(t: TopicInfo, p: PartitionInfo): { change: PartitionChange } | { errorCode: number; errorMessage: string } {
    if (!isReassigning(p)) return { errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, errorMessage: 'No partition reassignment is in progress.' }
    const adding = p.addingReplicas ?? []
    const replicas = p.replicas.filter((r) => !adding.includes(r))
    let isr = p.isr.filter((r) => replicas.includes(r))
    let leader = p.leader
    if (isr.length === 0) {
      if (!this.#unclean(t)) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: `Unable to revert partition assignment for ${t.name}:${p.partition} because it would require an unclean leader election.` }
      const dirty = replicas.find((r) => this.#usable(r))
      isr = dirty !== undefined ? [dirty] : [replicas[0]!]
    }
    if (!replicas.includes(leader) || !isr.includes(leader)) leader = replicas.find((r) => isr.includes(r) && this.#usable(r)) ?? -1
    return { change: { type: 'partition-change', topicId: t.topicId, partition: p.partition, replicas, isr, addingReplicas: [], removingReplicas: [], ...(leader !== p.leader ? { leader } : adding.length > 0 ? { bumpLeaderEpoch: true } : {}) } }
  }

  /**
   * Completes a reassignment once the ISR the change leaves holds every target replica: the removed replicas
   * leave the replica set and the ISR, and a removed leader hands over to the first target replica in the ISR.
   * Returns the change unchanged otherwise. `p` is the partition with the change's reassignment state.
   */
  #completeReassignment(p: PartitionInfo, change: PartitionChange): PartitionChange {
    if (!isReassigning(p)) return change
    const removing = p.removingReplicas ?? []
    const targetReplicas = p.replicas.filter((r) => !removing.includes(r))
    const isr = (change.isr ?? p.isr).filter((r) => !removing.includes(r))
    if (isr.length === 0 || !targetReplicas.every((r) => isr.includes(r))) return change
    const current = change.leader ?? p.leader
    const leader = targetReplicas.includes(current) && isr.includes(current) ? current : (targetReplicas.find((r) => isr.includes(r) && this.#usable(r)) ?? -1)
    // Replicas leaving the set get a new leader epoch to fence them, as Kafka 3.9's PartitionChangeBuilder does.
    const bump = leader !== p.leader ? { leader } : removing.length > 0 ? { bumpLeaderEpoch: true } : {}
    return { ...change, replicas: targetReplicas, isr, addingReplicas: [], removingReplicas: [], ...bump }
  }

  // ---- configs ----

  /** Writes one config record per key that changes; a topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION. */
  alterConfigs(changes: readonly ConfigChange[]): Promise<{ errorCode: number; results: CreatePartitionsResult[]; offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const records: MetadataRecord[] = []
      const results = changes.map((ch) => {
        let current: Readonly<Record<string, string>>
        if (ch.resourceType === 'topic') {
          const t = this.#o.image.topic(ch.resourceName)
          if (!t) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `The topic '${ch.resourceName}' does not exist.` }
          current = t.configs
        } else current = this.#o.image.brokerConfigs(ch.resourceName)
        const gone = ch.replace ? Object.keys(current).filter((k) => !Object.hasOwn(ch.set, k)) : ch.remove.filter((k) => Object.hasOwn(current, k))
        const base = { type: 'config', resourceType: ch.resourceType, resourceName: ch.resourceName } as const
        const mine: MetadataRecord[] = [
          ...gone.map((name) => ({ ...base, name, value: null })),
          ...Object.entries(ch.set).filter(([k, v]) => current[k] !== v).map(([name, value]) => ({ ...base, name, value })),
        ]
        if (!ch.validateOnly) records.push(...mine)
        return { errorCode: ErrorCode.NONE, errorMessage: null }
      })
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('configs changed', { changes: records.map((r) => (r.type === 'config' ? `${r.resourceType}:${r.resourceName}:${r.name}=${r.value}` : '')) })
      // unclean.leader.election.enable may have just been turned on: leaderless partitions with a live replica get
      // it as leader now (Kafka 3.9 finds them on its periodic leader check; at once here).
      const unclean = this.#electUnclean()
      if (unclean.length === 0) return { errorCode: ErrorCode.NONE, results, offset: c.offset }
      const e = await this.#commit(unclean)
      if (!e.ok) return { errorCode: ErrorCode.NONE, results, offset: c.offset }
      this.#log.warn('unclean leader elections', { partitions: unclean.length })
      return { errorCode: ErrorCode.NONE, results, offset: e.offset }
    })
  }

  // ---- SCRAM credentials ----

  /** Per user, all or nothing (Kafka's ScramControlManager): deleting a credential that does not exist fails
   *  that user's whole alteration with RESOURCE_NOT_FOUND. Results in the order users first appear. */
  alterUserScramCredentials(req: ScramAlteration): Promise<{ errorCode: number; results: ScramAlterationResult[]; offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const users = [...new Set([...req.deletions.map((d) => d.name), ...req.upsertions.map((u) => u.name)])]
      const records: MetadataRecord[] = []
      const results = users.map((user) => {
        const have = this.#o.image.scramUsers().get(user) ?? []
        const missing = req.deletions.find((d) => d.name === user && !have.some((c) => c.mechanism === d.mechanism))
        if (missing) return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to delete a user credential that does not exist' }
        for (const d of req.deletions) if (d.name === user) records.push({ type: 'remove-user-scram-credential', name: user, mechanism: d.mechanism })
        for (const u of req.upsertions) if (u.name === user) records.push({ type: 'user-scram-credential', ...u })
        return { user, errorCode: ErrorCode.NONE, errorMessage: null }
      })
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('SCRAM credentials changed', { changes: records.map((r) => `${r.type === 'remove-user-scram-credential' ? 'delete' : 'upsert'} ${'name' in r ? r.name : ''}:${'mechanism' in r ? r.mechanism : ''}`) })
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  // ---- ACLs ----

  /** The ACLs were checked by the broker that took the request; one already stored is created again as a no-op. */
  createAcls(acls: readonly Acl[]): Promise<{ errorCode: number; results: CreatePartitionsResult[]; offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const have = new Set(this.#o.image.acls().map(aclKey))
      const records: MetadataRecord[] = []
      for (const a of acls) {
        if (have.has(aclKey(a))) continue
        have.add(aclKey(a))
        records.push({ type: 'access-control-entry', acl: sameAcl(a) })
      }
      const results = acls.map(() => ({ errorCode: ErrorCode.NONE, errorMessage: null }))
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('ACLs created', { count: records.length })
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  /** Each filter removes the stored ACLs it matches; an ACL matched by two filters is reported by the first. */
  deleteAcls(filters: readonly AclFilter[]): Promise<{ errorCode: number; results: AclDeletionResult[]; offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, results: [] }
      const gone = new Set<string>()
      const records: MetadataRecord[] = []
      const results = filters.map((f) => {
        const matched = this.#o.image.acls().filter((a) => !gone.has(aclKey(a)) && filterMatches(f, a))
        for (const a of matched) {
          gone.add(aclKey(a))
          records.push({ type: 'remove-access-control-entry', acl: a })
        }
        return { errorCode: ErrorCode.NONE, errorMessage: null, acls: matched }
      })
      if (records.length === 0) return { errorCode: ErrorCode.NONE, results, offset: -1 }
      const c = await this.#commit(records)
      if (!c.ok) return { ...notController, results: [] }
      this.#log.info('ACLs deleted', { count: records.length })
      return { errorCode: ErrorCode.NONE, results, offset: c.offset }
    })
  }

  // ---- producer ids ----

  allocateProducerIds(req: { brokerId: number; brokerEpoch: number }): Promise<ProducerIdsResponse & { offset: number }> {
    return this.#serial(async () => {
      if (!this.#checkTerm()) return { ...notController, start: -1, length: 0 }
      const b = this.#o.image.broker(req.brokerId)
      if (!b || b.brokerEpoch !== req.brokerEpoch) return { errorCode: ErrorCode.STALE_BROKER_EPOCH, start: -1, length: 0, offset: -1 }
      const start = this.#o.image.nextProducerId
      const c = await this.#commit([{ type: 'producer-ids', brokerId: req.brokerId, brokerEpoch: req.brokerEpoch, nextProducerId: start + PRODUCER_ID_BLOCK_SIZE }])
      if (!c.ok) return { ...notController, start: -1, length: 0 }
      return { errorCode: ErrorCode.NONE, start, length: PRODUCER_ID_BLOCK_SIZE, offset: c.offset }
    })
  }

  // ---- plumbing ----

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn)
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #commit(records: readonly MetadataRecord[]): Promise<Committed> {
    const r = await this.#o.propose(records.map(encodeRecord))
    if (r.ok) return { ok: true, offset: r.offset }
    this.#log.info('proposal not committed', { error: r.error })
    return { ok: false }
  }
}

type PartitionChange = Extract<MetadataRecord, { type: 'partition-change' }>

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x))
}

export type { BrokerInfo, PartitionInfo, TopicInfo }
