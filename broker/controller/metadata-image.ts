// The cluster metadata as of some offset of the metadata log: brokers, topics, partition registrations and the
// producer id high-water mark (Kafka's MetadataImage). Every node applies the same committed records in the
// same order, so every image at offset o is the same; a record that does not fit the image (a change of a topic
// deleted meanwhile) is skipped the same way everywhere. Listeners get one delta per applied entry.
//
// MetadataStateMachine adapts the image to the Raft node: apply/snapshot/restore, and leader changes.

import type { LogEntry, RaftStateMachine, SnapshotId } from './raft-types.ts'
import { decodeRecord, type Endpoint, type MetadataRecord } from './metadata-records.ts'
import { aclKey, type Acl } from '../security/authorizer.ts'
import { SCRAM_TYPE, type ScramCredential, type ScramMechanism } from '../sasl/scram.ts'

/** A user's SCRAM credential as stored (base64 byte fields), by user name then mechanism type. */
export interface StoredScramCredential {
  readonly mechanism: number
  readonly salt: string
  readonly storedKey: string
  readonly serverKey: string
  readonly iterations: number
}

export interface BrokerInfo {
  readonly brokerId: number
  readonly incarnationId: string
  /** Offset of the registration record. */
  readonly brokerEpoch: number
  readonly endpoints: readonly Endpoint[]
  readonly rack: string | null
  readonly fenced: boolean
  readonly inControlledShutdown: boolean
}

export interface PartitionInfo {
  readonly topicId: string
  readonly partition: number
  readonly replicas: readonly number[]
  readonly isr: readonly number[]
  /** -1: no leader. */
  readonly leader: number
  readonly leaderEpoch: number
  readonly partitionEpoch: number
  /** A reassignment under way: replicas being added (catching up) and removed (once they are). Absent: none. */
  readonly addingReplicas?: readonly number[]
  readonly removingReplicas?: readonly number[]
}

/** Whether a reassignment of the partition is under way. */
export function isReassigning(p: PartitionInfo): boolean {
  return (p.addingReplicas?.length ?? 0) > 0 || (p.removingReplicas?.length ?? 0) > 0
}

export interface TopicInfo {
  readonly name: string
  readonly topicId: string
  readonly configs: Readonly<Record<string, string>>
  /** Indexed by partition number. */
  readonly partitions: readonly PartitionInfo[]
}

export interface MetadataDelta {
  /** The offset of the entry just applied (the snapshot's end - 1 after a restore). */
  readonly offset: number
  /** A snapshot replaced everything: consumers compare the whole image. */
  readonly restored: boolean
  readonly brokers: ReadonlySet<number>
  /** Topics created or with changed partitions (by id). */
  readonly topics: ReadonlySet<string>
  readonly removedTopics: readonly TopicInfo[]
  /** Dynamic broker configs (any broker's or the cluster default) changed. */
  readonly brokerConfigs?: boolean
}

interface Snapshot {
  version: 1
  brokers: BrokerInfo[]
  topics: TopicInfo[]
  nextProducerId: number
  /** Dynamic broker configs by resource name ('' the cluster default); absent in older snapshots. */
  brokerConfigs?: Record<string, Record<string, string>>
  /** SCRAM credentials by user name; absent in older snapshots. */
  scramCredentials?: Record<string, StoredScramCredential[]>
  /** ACLs; absent in older snapshots. */
  acls?: Acl[]
}

export class MetadataImage {
  #brokers = new Map<number, BrokerInfo>()
  #topics = new Map<string, TopicInfo>()
  #byName = new Map<string, string>()
  #nextProducerId = 0
  #brokerConfigs = new Map<string, Readonly<Record<string, string>>>()
  #scram = new Map<string, readonly StoredScramCredential[]>()
  #acls = new Map<string, Acl>()
  /** Rebuilt on change only: the authorizer reads it on every request. */
  #aclList: readonly Acl[] = []
  /** Next offset to apply. */
  #offset = 0

  get offset(): number {
    return this.#offset
  }
  get nextProducerId(): number {
    return this.#nextProducerId
  }
  brokers(): BrokerInfo[] {
    return [...this.#brokers.values()].sort((a, b) => a.brokerId - b.brokerId)
  }
  broker(id: number): BrokerInfo | undefined {
    return this.#brokers.get(id)
  }
  /** Registered, unfenced brokers, by id. */
  liveBrokers(): BrokerInfo[] {
    return this.brokers().filter((b) => !b.fenced)
  }
  /** Dynamic configs of a broker resource: its id, or '' for the cluster-wide default. */
  brokerConfigs(resourceName: string): Readonly<Record<string, string>> {
    return this.#brokerConfigs.get(resourceName) ?? {}
  }
  /** SCRAM users and their credentials, by name. */
  scramUsers(): ReadonlyMap<string, readonly StoredScramCredential[]> {
    return this.#scram
  }
  scramCredential(user: string, m: ScramMechanism): ScramCredential | undefined {
    const c = this.#scram.get(user)?.find((x) => x.mechanism === SCRAM_TYPE[m])
    if (!c) return undefined
    return { salt: Buffer.from(c.salt, 'base64'), storedKey: Buffer.from(c.storedKey, 'base64'), serverKey: Buffer.from(c.serverKey, 'base64'), iterations: c.iterations }
  }
  /** Every ACL, in the order created. */
  acls(): readonly Acl[] {
    return this.#aclList
  }
  topics(): TopicInfo[] {
    return [...this.#topics.values()]
  }
  topic(name: string): TopicInfo | undefined {
    const id = this.#byName.get(name)
    return id === undefined ? undefined : this.#topics.get(id)
  }
  topicById(id: string): TopicInfo | undefined {
    return this.#topics.get(id)
  }

  /**
   * Applies the records of one committed entry at `offset`. Returns what changed. Records that do not fit
   * (unknown topic, broker or stale epoch) change nothing; every node skips them alike.
   */
  apply(offset: number, records: readonly MetadataRecord[]): MetadataDelta {
    const brokers = new Set<number>()
    const topics = new Set<string>()
    const removed: TopicInfo[] = []
    const configs = { broker: false }
    for (const r of records) this.#apply(offset, r, brokers, topics, removed, configs)
    this.#offset = offset + 1
    return { offset, restored: false, brokers, topics, removedTopics: removed, brokerConfigs: configs.broker }
  }

  /** An entry without records (a leader change) still moves the offset. */
  skip(offset: number): void {
    this.#offset = offset + 1
  }

  #apply(offset: number, r: MetadataRecord, brokers: Set<number>, topics: Set<string>, removed: TopicInfo[], configs: { broker: boolean }): void {
    switch (r.type) {
      case 'register-broker':
        this.#brokers.set(r.brokerId, { brokerId: r.brokerId, incarnationId: r.incarnationId, brokerEpoch: offset, endpoints: r.endpoints, rack: r.rack, fenced: true, inControlledShutdown: false })
        brokers.add(r.brokerId)
        return
      case 'fence-broker':
      case 'unfence-broker':
      case 'broker-shutdown': {
        const b = this.#brokers.get(r.brokerId)
        if (!b || b.brokerEpoch !== r.brokerEpoch) return
        if (r.type === 'broker-shutdown') this.#brokers.set(r.brokerId, { ...b, inControlledShutdown: true })
        else this.#brokers.set(r.brokerId, { ...b, fenced: r.type === 'fence-broker' })
        brokers.add(r.brokerId)
        return
      }
      case 'topic':
        if (this.#topics.has(r.topicId) || this.#byName.has(r.name)) return
        this.#topics.set(r.topicId, { name: r.name, topicId: r.topicId, configs: r.configs, partitions: [] })
        this.#byName.set(r.name, r.topicId)
        topics.add(r.topicId)
        return
      case 'partition': {
        const t = this.#topics.get(r.topicId)
        if (!t || r.partition !== t.partitions.length) return
        const { type: _, ...p } = r
        this.#topics.set(t.topicId, { ...t, partitions: [...t.partitions, p] })
        topics.add(t.topicId)
        return
      }
      case 'partition-change': {
        const t = this.#topics.get(r.topicId)
        const p = t?.partitions[r.partition]
        if (!t || !p) return
        const leader = r.leader ?? p.leader
        const next: PartitionInfo = {
          ...p,
          replicas: r.replicas ?? p.replicas,
          addingReplicas: r.addingReplicas ?? p.addingReplicas,
          removingReplicas: r.removingReplicas ?? p.removingReplicas,
          isr: r.isr ?? p.isr,
          leader,
          leaderEpoch: leader !== p.leader || r.bumpLeaderEpoch === true ? p.leaderEpoch + 1 : p.leaderEpoch,
          partitionEpoch: p.partitionEpoch + 1,
        }
        const parts = [...t.partitions]
        parts[r.partition] = next
        this.#topics.set(t.topicId, { ...t, partitions: parts })
        topics.add(t.topicId)
        return
      }
      case 'remove-topic': {
        const t = this.#topics.get(r.topicId)
        if (!t) return
        this.#topics.delete(r.topicId)
        this.#byName.delete(t.name)
        topics.delete(r.topicId)
        removed.push(t)
        return
      }
      case 'producer-ids':
        if (r.nextProducerId > this.#nextProducerId) this.#nextProducerId = r.nextProducerId
        return
      case 'user-scram-credential': {
        const { type: _, name, ...cred } = r
        const others = (this.#scram.get(name) ?? []).filter((c) => c.mechanism !== r.mechanism)
        this.#scram.set(name, [...others, cred].sort((a, b) => a.mechanism - b.mechanism))
        return
      }
      case 'remove-user-scram-credential': {
        const left = (this.#scram.get(r.name) ?? []).filter((c) => c.mechanism !== r.mechanism)
        if (left.length > 0) this.#scram.set(r.name, left)
        else this.#scram.delete(r.name)
        return
      }
      case 'access-control-entry':
        if (this.#acls.has(aclKey(r.acl))) return
        this.#acls.set(aclKey(r.acl), r.acl)
        this.#aclList = [...this.#acls.values()]
        return
      case 'remove-access-control-entry':
        if (!this.#acls.delete(aclKey(r.acl))) return
        this.#aclList = [...this.#acls.values()]
        return
      case 'config': {
        const withValue = (cur: Readonly<Record<string, string>>): Record<string, string> => {
          const next = { ...cur }
          if (r.value === null) delete next[r.name]
          else next[r.name] = r.value
          return next
        }
        if (r.resourceType === 'broker') {
          this.#brokerConfigs.set(r.resourceName, withValue(this.brokerConfigs(r.resourceName)))
          configs.broker = true
          return
        }
        const t = this.topic(r.resourceName)
        if (!t) return
        this.#topics.set(t.topicId, { ...t, configs: withValue(t.configs) })
        topics.add(t.topicId)
        return
      }
    }
  }

  toSnapshot(): Buffer {
    const doc: Snapshot = { version: 1, brokers: this.brokers(), topics: this.topics(), nextProducerId: this.#nextProducerId, brokerConfigs: Object.fromEntries(this.#brokerConfigs), scramCredentials: Object.fromEntries([...this.#scram].map(([k, v]) => [k, [...v]])), acls: [...this.#aclList] }
    return Buffer.from(JSON.stringify(doc), 'utf8')
  }

  /** Replaces the whole image; `offset` is the next offset to apply (the snapshot's end offset). */
  restore(data: Buffer, offset: number): MetadataDelta {
    const doc = JSON.parse(data.toString('utf8')) as Snapshot
    if (doc.version !== 1) throw new Error(`metadata snapshot has unknown version ${String(doc.version)}`)
    const removed = this.topics()
    this.#brokers = new Map(doc.brokers.map((b) => [b.brokerId, b]))
    this.#topics = new Map(doc.topics.map((t) => [t.topicId, t]))
    this.#byName = new Map(doc.topics.map((t) => [t.name, t.topicId]))
    this.#nextProducerId = doc.nextProducerId
    this.#brokerConfigs = new Map(Object.entries(doc.brokerConfigs ?? {}))
    this.#scram = new Map(Object.entries(doc.scramCredentials ?? {}))
    this.#acls = new Map((doc.acls ?? []).map((a) => [aclKey(a), a]))
    this.#aclList = [...this.#acls.values()]
    this.#offset = offset
    const live = new Set(this.#topics.keys())
    return {
      offset: offset - 1,
      restored: true,
      brokers: new Set([...this.#brokers.keys()]),
      topics: live,
      removedTopics: removed.filter((t) => !live.has(t.topicId)),
      brokerConfigs: true,
    }
  }
}

export type DeltaListener = (delta: MetadataDelta, image: MetadataImage) => void
export type LeaderListener = (leaderId: number | null, epoch: number) => void

/** The image as the Raft node's state machine: decodes committed entries and tells listeners. */
export class MetadataStateMachine implements RaftStateMachine {
  readonly image = new MetadataImage()
  readonly #deltaListeners: DeltaListener[] = []
  readonly #leaderListeners: LeaderListener[] = []
  #leader: { leaderId: number | null; epoch: number } = { leaderId: null, epoch: 0 }

  onDelta(fn: DeltaListener): void {
    this.#deltaListeners.push(fn)
  }
  onLeader(fn: LeaderListener): void {
    this.#leaderListeners.push(fn)
  }
  get leader(): { readonly leaderId: number | null; readonly epoch: number } {
    return this.#leader
  }

  apply(entry: LogEntry): void {
    if (entry.kind !== 'data') {
      this.image.skip(entry.offset)
      return
    }
    const delta = this.image.apply(entry.offset, entry.records.map(decodeRecord))
    this.#emit(delta)
  }

  snapshot(): Buffer {
    return this.image.toSnapshot()
  }

  restore(data: Buffer, id: SnapshotId): void {
    this.#emit(this.image.restore(data, id.endOffset))
  }

  onLeaderChange(leaderId: number | null, epoch: number): void {
    this.#leader = { leaderId, epoch }
    for (const fn of this.#leaderListeners) fn(leaderId, epoch)
  }

  #emit(delta: MetadataDelta): void {
    for (const fn of this.#deltaListeners) fn(delta, this.image)
  }
}
