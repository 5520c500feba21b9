// The group coordinator: consumer groups and their committed offsets, kept durable in __consumer_offsets.
//
// One shard per offsets partition, as in Kafka: a group belongs to partition
// abs(hashCode(groupId)) % partitions, and a shard serves its groups only once it has read its partition
// from the log start (COORDINATOR_LOAD_IN_PROGRESS until then). load() and unload() work per partition, so
// when replication moves offsets-partition leaders between brokers, leadership changes call them.
//
// Writes: an offset commit appends one record per partition (one batch), a SyncGroup from the leader appends
// the group's metadata with the new assignment, and both are answered once the append is durable under the
// topic's flush policy, or with REQUEST_TIMED_OUT after offsets.commit.timeout.ms. A commit that becomes
// durable after its timeout still takes effect, as it would after a restart. Storage failures answer
// NOT_COORDINATOR, so clients look the coordinator up again and retry.
//
// Retention (offsets.retention.minutes, checked every offsets.retention.check.interval.ms): offsets of a
// group expire once it has been Empty that long (simple consumers: since the commit), tombstones are
// appended, and an Empty group left without offsets is deleted.
//
// Compaction: cleanup.policy=compact is not implemented, so a shard compacts its partition itself. Once it
// has appended many more records than it holds live state (compactAfterRecords, and twice the live records),
// and none of its appends is waiting to become durable, it appends the live state (each group's metadata and
// committed offsets) and, once that is durable, moves the log start offset to it: loading then starts there,
// and retention removes the segments below. A crash before the log start offset is checkpointed replays the
// older records first, which the live state then overrides. retention.ms=-1 on the topic keeps everything else.

import { randomUUID } from 'node:crypto'
import type { Clock, TimerHandle } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { BrokerConfig } from '../config.ts'
import type { Broker } from '../broker.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { ConsumerProtocolSubscription } from '../protocol/messages/consumer-protocol.ts'
import { decodeRecords, encodeRecordBatch, iterateBatches, type RecordInput } from '../protocol/record-batch.ts'
import type { PartitionLog } from '../storage/log.ts'
import {
  ClassicGroup,
  type CommittedOffset,
  type GroupContext,
  GroupState,
  type GroupStateName,
  type GroupSummary,
  type JoinRequest,
  type JoinResult,
  type LeaveMember,
  type LeaveResult,
  type LoadedGroup,
  NEW_MEMBER_JOIN_TIMEOUT_MS,
  type SyncRequest,
  type SyncResult,
} from './classic-group.ts'
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupKey,
  encodeGroupValue,
  encodeOffsetKey,
  encodeOffsetValue,
  OFFSETS_TOPIC,
  partitionForGroup,
} from './records.ts'

export { OFFSETS_TOPIC } from './records.ts'

/** What the coordinator needs of an offsets partition (the broker's Partition fits). */
export interface OffsetsPartition {
  readonly index: number
  readonly log: PartitionLog
  readonly leaderEpoch: number
  /** After an append: moves the high watermark and wakes fetchers. */
  appended(bytes?: number): void
}

/** How a replicated offsets partition's append ends: once the in-sync replicas have it, or why not. */
export type ReplicationOutcome = 'ok' | 'timeout' | 'not-leader' | 'not-enough-replicas-after-append'

export interface CoordinatorConfig {
  /** group.initial.rebalance.delay.ms */
  readonly initialRebalanceDelayMs: number
  /** group.min.session.timeout.ms, group.max.session.timeout.ms */
  readonly minSessionTimeoutMs: number
  readonly maxSessionTimeoutMs: number
  /** group.max.size */
  readonly maxSize: number
  /** offsets.retention.minutes, in ms */
  readonly offsetsRetentionMs: number
  /** offsets.retention.check.interval.ms */
  readonly retentionCheckIntervalMs: number
  /** offsets.commit.timeout.ms */
  readonly commitTimeoutMs: number
  /** offset.metadata.max.bytes */
  readonly metadataMaxBytes: number
  readonly newMemberJoinTimeoutMs?: number
  /** Compact a shard once its partition holds this many records (and twice its live state). */
  readonly compactAfterRecords?: number
}

export function coordinatorConfig(config: BrokerConfig): CoordinatorConfig {
  return {
    initialRebalanceDelayMs: config.int('group.initial.rebalance.delay.ms'),
    minSessionTimeoutMs: config.int('group.min.session.timeout.ms'),
    maxSessionTimeoutMs: config.int('group.max.session.timeout.ms'),
    maxSize: config.int('group.max.size'),
    offsetsRetentionMs: config.int('offsets.retention.minutes') * 60_000,
    retentionCheckIntervalMs: config.int('offsets.retention.check.interval.ms'),
    commitTimeoutMs: config.int('offsets.commit.timeout.ms'),
    metadataMaxBytes: config.int('offset.metadata.max.bytes'),
  }
}

export interface CommitRequest {
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  /** OffsetCommit v2-4 retentionTimeMs; -1 = the broker's retention. */
  readonly retentionTimeMs: number
  readonly apiVersion: number
}

export interface CommitEntry {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly leaderEpoch: number
  readonly metadata: string
  /** OffsetCommit v1's commitTimestamp; absent or -1: the time of the commit. */
  readonly commitTimestamp?: number
}

export interface FetchedPartition {
  readonly partitionIndex: number
  readonly committedOffset: number
  readonly committedLeaderEpoch: number
  readonly metadata: string
  readonly errorCode: number
}

export interface FetchedOffsets {
  readonly errorCode: number
  readonly topics: readonly { readonly name: string; readonly partitions: readonly FetchedPartition[] }[]
}

export interface ListedGroup {
  readonly groupId: string
  readonly protocolType: string
  readonly groupState: GroupStateName
}

type ShardState = 'loading' | 'active' | 'failed' | 'unloaded'

interface Shard {
  /** Undefined when this broker hosts no replica of the partition. */
  readonly partition: OffsetsPartition | undefined
  state: ShardState
  /** Bumped on every load and unload, so a load that finishes after an unload is dropped. */
  epoch: number
  groups: Map<string, ClassicGroup>
  /** The last durable GroupMetadataValue of each group, rewritten by compaction. */
  groupValues: Map<string, Buffer>
  /** Appends not yet durable (or failed). */
  pendingAppends: number
  /** Records from the log start offset on, as far as this shard knows. */
  records: number
  /** Not worth compacting below this many records: twice the live state when last counted. */
  compactAt: number
  compacting: boolean
}

const READ_CHUNK_BYTES = 1024 * 1024
const COMPACT_AFTER_RECORDS = 20_000
const COMPACT_BATCH_RECORDS = 5000
const NO_OFFSET: Omit<FetchedPartition, 'partitionIndex'> = { committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE }

export interface GroupCoordinatorOptions {
  readonly clock: Clock
  readonly config: CoordinatorConfig
  readonly log: Logger
  /** Indexed by partition number; holes (or undefined) where this broker hosts no replica. Read when used, so
   *  the caller may fill it later. */
  readonly partitions: readonly (OffsetsPartition | undefined)[]
  /** Partitions of the offsets topic (default: partitions.length). */
  readonly partitionCount?: number
  /** Whether this broker leads a partition, so startup() loads it (default: every hosted partition). Later
   *  leadership changes call load() and unload(). */
  readonly isLeader?: (index: number) => boolean
  /**
   * Replication (acks=all for the coordinator's own writes): resolves once the high watermark passes
   * `lastOffset`. Without it an append counts once durable on this broker.
   */
  readonly waitReplicated?: (p: OffsetsPartition, lastOffset: number, timeoutMs: number) => Promise<ReplicationOutcome>
  /** Unique suffixes for member ids. */
  readonly newMemberIdSuffix: () => string
}

export class GroupCoordinator {
  readonly config: CoordinatorConfig
  private readonly clock: Clock
  private readonly log: Logger
  private readonly newMemberIdSuffix: () => string
  private readonly shards: Shard[]
  private retentionTimer: TimerHandle | null = null
  private stopped = false
  private readonly isLeader: (index: number) => boolean
  private readonly waitReplicated: GroupCoordinatorOptions['waitReplicated'] | null

  constructor(opts: GroupCoordinatorOptions) {
    this.config = opts.config
    this.clock = opts.clock
    this.log = opts.log
    this.newMemberIdSuffix = opts.newMemberIdSuffix
    this.isLeader = opts.isLeader ?? (() => true)
    this.waitReplicated = opts.waitReplicated ?? null
    const parts = opts.partitions
    this.shards = Array.from({ length: opts.partitionCount ?? parts.length }, (_, i): Shard => ({
      get partition() {
        return parts[i]
      },
      state: 'unloaded',
      epoch: 0,
      groups: new Map(),
      groupValues: new Map(),
      pendingAppends: 0,
      records: 0,
      compactAt: 0,
      compacting: false,
    }))
  }

  get partitionCount(): number {
    return this.shards.length
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.shards.length)
  }

  /** Loads every partition (in the background from the caller's point of view) and starts retention. */
  async startup(): Promise<void> {
    if (this.retentionTimer === null && !this.stopped) {
      this.retentionTimer = this.clock.setInterval(() => this.expireOffsets(), this.config.retentionCheckIntervalMs)
    }
    const started = this.clock.monotonic()
    await Promise.all(this.shards.map((s, i) => (s.partition && this.isLeader(i) ? this.load(i) : undefined)))
    const groups = this.shards.reduce((n, s) => n + s.groups.size, 0)
    this.log.info('group coordinator loaded', { partitions: this.shards.length, groups, ms: Math.round(this.clock.monotonic() - started) })
  }

  /** Reads a partition from its log start and then serves its groups. */
  async load(index: number): Promise<void> {
    const shard = this.shards[index]
    if (!shard || !shard.partition || this.stopped || shard.state === 'loading' || shard.state === 'active') return
    const epoch = ++shard.epoch
    shard.state = 'loading'
    const started = this.clock.monotonic()
    try {
      const { groups, groupValues, records } = await this.readPartition(shard)
      if (shard.epoch !== epoch || this.stopped) {
        for (const g of groups.values()) g.markDead()
        return
      }
      shard.groups = groups
      shard.groupValues = groupValues
      shard.records = records
      shard.compactAt = 0
      shard.state = 'active'
      this.log.debug('loaded offsets partition', { partition: index, groups: groups.size, records, ms: Math.round(this.clock.monotonic() - started) })
    } catch (err) {
      if (shard.epoch !== epoch) return
      shard.state = 'failed'
      this.log.error('loading offsets partition failed', { partition: index, err })
    }
  }

  /** Stops serving a partition's groups; their waiting requests get NOT_COORDINATOR. */
  unload(index: number): void {
    const shard = this.shards[index]
    if (!shard) return
    shard.epoch++
    shard.state = 'unloaded'
    for (const g of shard.groups.values()) g.markDead(ErrorCode.NOT_COORDINATOR)
    shard.groups = new Map()
    shard.groupValues = new Map()
  }

  shutdown(): void {
    if (this.stopped) return
    this.stopped = true
    this.retentionTimer?.cancel()
    this.retentionTimer = null
    for (let i = 0; i < this.shards.length; i++) this.unload(i)
  }

  /** Whether a partition is being loaded (for tests and ListGroups). */
  isLoading(index: number): boolean {
    return this.shards[index]?.state === 'loading'
  }

  /** The group, if this coordinator has it loaded (tests, DescribeGroups). */
  group(groupId: string): ClassicGroup | undefined {
    const shard = this.shards[this.partitionFor(groupId)]
    return shard?.state === 'active' ? shard.groups.get(groupId) : undefined
  }

  // ---- the APIs ----

  joinGroup(groupId: string, req: JoinRequest): Promise<JoinResult> {
    const fail = (errorCode: number, memberId = req.memberId): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] })
    const status = this.status(groupId, true)
    if (typeof status === 'number') return fail(status)
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
    }
    let group = status.groups.get(groupId)
    if (!group) {
      // A member id for a group we do not know: it belonged to a group that is gone.
      if (req.memberId !== '') return fail(ErrorCode.UNKNOWN_MEMBER_ID)
      group = this.createGroup(status, groupId)
    }
    const g = group
    return new Promise((resolve) => g.join(req, resolve))
  }

  syncGroup(groupId: string, req: SyncRequest): Promise<SyncResult> {
    const fail = (errorCode: number): Promise<SyncResult> => Promise.resolve({ errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) })
    const status = this.status(groupId, true)
    // A loading coordinator has lost the rebalance in flight: rejoining is the way on (older clients do
    // not expect COORDINATOR_LOAD_IN_PROGRESS here).
    if (status === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return fail(ErrorCode.REBALANCE_IN_PROGRESS)
    if (typeof status === 'number') return fail(status)
    const group = status.groups.get(groupId)
    if (!group) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    return new Promise((resolve) => group.sync(req, resolve))
  }

  heartbeat(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    const status = this.status(groupId, true)
    // While loading, the member cannot be checked: let it carry on.
    if (status === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return ErrorCode.NONE
    if (typeof status === 'number') return status
    const group = status.groups.get(groupId)
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID
    return group.heartbeat(generationId, memberId, groupInstanceId)
  }

  leaveGroup(groupId: string, members: readonly LeaveMember[]): LeaveResult {
    const status = this.status(groupId, true)
    if (typeof status === 'number') return { errorCode: status, members: [] }
    const group = status.groups.get(groupId)
    if (!group) return { errorCode: ErrorCode.NONE, members: members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) }
    return group.leave(members)
  }

  /**
   * Validates against the group, appends one record per entry and resolves once durable; the error codes
   * come back in the entries' order. Everything up to the append happens before this returns.
   */
  commitOffsets(groupId: string, req: CommitRequest, entries: readonly CommitEntry[]): Promise<number[]> {
    const all = (errorCode: number) => Promise.resolve(entries.map(() => errorCode))
    const status = this.status(groupId, false)
    if (typeof status === 'number') return all(status)
    if (entries.length === 0) return all(ErrorCode.NONE)
    let group = status.groups.get(groupId)
    if (!group) {
      // generation -1: a consumer that uses Kafka only to store offsets, which needs no group.
      if (req.generationId < 0) group = this.createGroup(status, groupId)
      else return all(req.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION)
    }
    const error = group.validateOffsetCommit(req.generationId, req.memberId, req.groupInstanceId)
    if (error !== ErrorCode.NONE) return all(error)
    const now = this.clock.now()
    const expireTimestamp = req.retentionTimeMs >= 0 ? now + req.retentionTimeMs : -1
    const values = entries.map((e) => ({ offset: e.offset, leaderEpoch: e.leaderEpoch, metadata: e.metadata, commitTimestamp: (e.commitTimestamp ?? -1) === -1 ? now : e.commitTimestamp!, expireTimestamp }))
    const records = entries.map((e, i) => ({ key: encodeOffsetKey(groupId, e.topic, e.partition), value: encodeOffsetValue(values[i]!) }))
    const g = group
    g.pendingOffsetWrites++
    const settled = () => void g.pendingOffsetWrites--
    return this.append(
      status,
      records,
      (firstOffset) => entries.forEach((e, i) => g.applyOffset(e.topic, e.partition, { ...values[i]!, recordOffset: firstOffset + i })),
      settled,
    ).then((errorCode) => entries.map(() => errorCode))
  }

  /** `topics` null: every committed offset of the group. */
  fetchOffsets(groupId: string, topics: readonly { readonly name: string; readonly partitionIndexes: readonly number[] }[] | null, _requireStable: boolean): FetchedOffsets {
    // requireStable (v7+) waits out pending transactional commits; there are no transactions yet.
    const status = this.status(groupId, false)
    if (typeof status === 'number') return { errorCode: status, topics: [] }
    const group = status.groups.get(groupId)
    const entry = (offset: CommittedOffset | undefined, partitionIndex: number): FetchedPartition =>
      offset
        ? { partitionIndex, committedOffset: offset.offset, committedLeaderEpoch: offset.leaderEpoch, metadata: offset.metadata, errorCode: ErrorCode.NONE }
        : { partitionIndex, ...NO_OFFSET }
    if (topics === null) {
      if (!group) return { errorCode: ErrorCode.NONE, topics: [] }
      return {
        errorCode: ErrorCode.NONE,
        topics: [...group.offsets].map(([name, parts]) => ({ name, partitions: [...parts].map(([p, o]) => entry(o, p)) })),
      }
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => entry(group?.offsets.get(t.name)?.get(p), p)) })),
    }
  }

  /** Groups of every loaded partition; COORDINATOR_LOAD_IN_PROGRESS (with what is loaded) while any loads. */
  listGroups(statesFilter: readonly string[]): { errorCode: number; groups: ListedGroup[] } {
    if (this.stopped) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] }
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()))
    const groups: ListedGroup[] = []
    let loading = false
    for (const shard of this.shards) {
      if (shard.state === 'loading') loading = true
      if (shard.state !== 'active') continue
      for (const g of shard.groups.values()) {
        if (wanted.size > 0 && !wanted.has(g.state.toLowerCase())) continue
        groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state })
      }
    }
    return { errorCode: loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE, groups }
  }

  describeGroup(groupId: string): { errorCode: number; summary: GroupSummary } {
    const status = this.status(groupId, false)
    if (typeof status === 'number') return { errorCode: status, summary: { state: 'Dead', protocolType: '', protocolData: '', members: [] } }
    const group = status.groups.get(groupId)
    // Kafka describes a group it does not know as Dead, without an error.
    if (!group) return { errorCode: ErrorCode.NONE, summary: { state: 'Dead', protocolType: '', protocolData: '', members: [] } }
    return { errorCode: ErrorCode.NONE, summary: group.summary() }
  }

  // ---- internals ----

  /** The shard serving the group, or the error to answer (Kafka's validateGroupStatus). */
  private status(groupId: string, membership: boolean): Shard | number {
    // Offset and describe APIs accept the empty group id, for old simple consumers; membership APIs do not.
    if (membership && groupId === '') return ErrorCode.INVALID_GROUP_ID
    if (this.stopped || this.shards.length === 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    const shard = this.shards[this.partitionFor(groupId)]!
    switch (shard.state) {
      case 'active':
        return shard
      case 'loading':
        return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
      case 'failed':
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
      default:
        return ErrorCode.NOT_COORDINATOR
    }
  }

  private createGroup(shard: Shard, groupId: string, loaded?: LoadedGroup): ClassicGroup {
    const group = new ClassicGroup(groupId, this.contextFor(shard), loaded)
    shard.groups.set(groupId, group)
    return group
  }

  private contextFor(shard: Shard): GroupContext {
    return {
      clock: this.clock,
      config: {
        initialRebalanceDelayMs: this.config.initialRebalanceDelayMs,
        maxSize: this.config.maxSize,
        newMemberJoinTimeoutMs: this.config.newMemberJoinTimeoutMs ?? NEW_MEMBER_JOIN_TIMEOUT_MS,
      },
      newMemberIdSuffix: this.newMemberIdSuffix,
      log: this.log,
      storeGroup: (group, assignments, done) => {
        const value = encodeGroupValue({
          protocolType: group.protocolType ?? '',
          generation: group.generationId,
          protocol: group.protocolName,
          leader: group.leaderId,
          currentStateTimestamp: group.currentStateTimestamp,
          members: group.membersForStore(assignments).map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            rebalanceTimeout: m.rebalanceTimeoutMs,
            sessionTimeout: m.sessionTimeoutMs,
            subscription: m.subscription,
            assignment: m.assignment,
          })),
        })
        if (shard.state !== 'active') {
          done(ErrorCode.NOT_COORDINATOR)
          return
        }
        void this.append(shard, [{ key: encodeGroupKey(group.groupId), value }], () => shard.groupValues.set(group.groupId, value)).then(done)
      },
    }
  }

  /**
   * Appends records to the shard's partition as one batch; resolves with the error code to answer once the
   * batch is durable (and, replicated, below the high watermark) or offsets.commit.timeout.ms has passed.
   * `onDurable` runs when the batch is durable, even after a timeout, with the offset of the first record;
   * `onSettled` once it is durable or has failed. A replicated append that does not reach the high watermark in
   * time (or whose leadership moved) does not run onDurable: a later load reads it if it survived.
   */
  private append(shard: Shard, records: RecordInput[], onDurable?: (firstOffset: number) => void, onSettled?: () => void): Promise<number> {
    const p = shard.partition!
    let appended
    try {
      const batch = encodeRecordBatch(records, { timestamp: this.clock.now() })
      appended = p.log.appendAsLeader(batch, p.leaderEpoch)
      p.appended(batch.length)
    } catch (err) {
      this.log.error('appending to the offsets log failed', { partition: p.index, err })
      onSettled?.()
      return Promise.resolve(ErrorCode.NOT_COORDINATOR)
    }
    const { firstOffset, lastOffset, durable } = appended
    const epoch = shard.epoch
    shard.pendingAppends++
    shard.records += records.length
    return new Promise<number>((resolve) => {
      let answered = false
      const answer = (errorCode: number) => {
        if (answered) return
        answered = true
        resolve(errorCode)
      }
      const timer = this.clock.setTimeout(() => answer(ErrorCode.REQUEST_TIMED_OUT), this.config.commitTimeoutMs)
      durable
        .then(
          () => this.replicated(p, lastOffset),
          (err: unknown) => {
            this.log.error('flushing the offsets log failed', { partition: p.index, err })
            return ErrorCode.NOT_COORDINATOR
          },
        )
        .then((errorCode) => {
          timer.cancel()
          shard.pendingAppends--
          if (errorCode === ErrorCode.NONE && shard.epoch === epoch) onDurable?.(firstOffset)
          onSettled?.()
          answer(errorCode)
          if (errorCode === ErrorCode.NONE) this.maybeCompact(shard)
        })
    })
  }

  /** Waits for the in-sync replicas when the partition is replicated; the error code to answer. */
  private async replicated(p: OffsetsPartition, lastOffset: number): Promise<number> {
    if (!this.waitReplicated) return ErrorCode.NONE
    const outcome = await this.waitReplicated(p, lastOffset, this.config.commitTimeoutMs)
    switch (outcome) {
      case 'ok':
        return ErrorCode.NONE
      case 'not-leader':
        return ErrorCode.NOT_COORDINATOR
      case 'timeout':
        return ErrorCode.REQUEST_TIMED_OUT
      case 'not-enough-replicas-after-append':
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    }
  }

  /** See the header: rewrites the live state and moves the log start offset to it. */
  private maybeCompact(shard: Shard): void {
    const threshold = this.config.compactAfterRecords ?? COMPACT_AFTER_RECORDS
    if (shard.records < Math.max(threshold, shard.compactAt) || shard.compacting || shard.pendingAppends > 0 || shard.state !== 'active') return
    const live: RecordInput[] = []
    for (const [groupId, value] of shard.groupValues) live.push({ key: encodeGroupKey(groupId), value })
    for (const g of shard.groups.values()) {
      for (const [topic, parts] of g.offsets) {
        for (const [partition, o] of parts) live.push({ key: encodeOffsetKey(g.groupId, topic, partition), value: encodeOffsetValue(o) })
      }
    }
    shard.compactAt = 2 * live.length
    if (shard.records < shard.compactAt) return
    const log = shard.partition!.log
    if (live.length === 0) {
      log.deleteRecordsBefore(Math.min(log.logEndOffset, log.highWatermark))
      shard.records = 0
      return
    }
    const now = this.clock.now()
    const batches: Buffer[] = []
    for (let i = 0; i < live.length; i += COMPACT_BATCH_RECORDS) batches.push(encodeRecordBatch(live.slice(i, i + COMPACT_BATCH_RECORDS), { timestamp: now }))
    const p = shard.partition!
    const buf = Buffer.concat(batches)
    let appended
    try {
      appended = log.appendAsLeader(buf, p.leaderEpoch)
      p.appended(buf.length)
    } catch (err) {
      this.log.error('compacting the offsets log failed', { partition: p.index, err })
      return
    }
    const epoch = shard.epoch
    const before = shard.records
    shard.records = live.length
    shard.compacting = true
    appended.durable.then(
      async () => {
        const code = await this.replicated(p, appended.lastOffset)
        shard.compacting = false
        if (shard.epoch !== epoch || code !== ErrorCode.NONE) return
        log.deleteRecordsBefore(appended.firstOffset)
        this.log.info('compacted offsets partition', { partition: p.index, records: before, live: live.length, logStartOffset: appended.firstOffset })
      },
      (err: unknown) => {
        shard.compacting = false
        this.log.error('compacting the offsets log failed', { partition: p.index, err })
      },
    )
  }

  /** Replays the partition: the last record per key wins, tombstones delete. */
  private async readPartition(shard: Shard): Promise<{ groups: Map<string, ClassicGroup>; groupValues: Map<string, Buffer>; records: number }> {
    const log = shard.partition!.log
    const offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>()
    const metadata = new Map<string, { loaded: LoadedGroup; raw: Buffer } | null>()
    let count = 0
    const end = log.logEndOffset
    let next = log.logStartOffset
    let skipped = 0
    while (next < end) {
      const read = await log.read(next, READ_CHUNK_BYTES, end, true)
      if (read.kind === 'out-of-range') {
        // Retention moved the log start while we read.
        if (read.logStartOffset <= next) break
        next = read.logStartOffset
        continue
      }
      if (read.bytes === 0) break
      for (const buf of read.records) {
        for (const batch of iterateBatches(buf)) {
          if (batch.lastOffset < next) continue
          next = batch.lastOffset + 1
          if (batch.isControl) continue
          let records
          try {
            records = decodeRecords(batch)
          } catch {
            skipped += batch.recordCount
            continue
          }
          count += records.length
          for (const rec of records) {
            try {
              applyRecord(rec.key, rec.value, rec.offset, offsets, metadata)
            } catch {
              skipped++
            }
          }
        }
      }
    }
    if (skipped > 0) this.log.warn('skipped unreadable records in the offsets log', { partition: shard.partition!.index, records: skipped })
    const groups = new Map<string, ClassicGroup>()
    const groupValues = new Map<string, Buffer>()
    for (const id of new Set([...metadata.keys(), ...offsets.keys()])) {
      const meta = metadata.get(id)
      if (meta) groupValues.set(id, meta.raw)
      const loaded = meta?.loaded
      const parts = offsets.get(id)
      // A group whose metadata and offsets were all deleted (tombstones) is gone.
      if (!loaded && ![...(parts?.values() ?? [])].some((byPartition) => byPartition.size > 0)) continue
      const group = new ClassicGroup(id, this.contextFor(shard), loaded)
      for (const [topic, byPartition] of parts ?? []) for (const [p, o] of byPartition) group.applyOffset(topic, p, o)
      groups.set(id, group)
    }
    return { groups, groupValues, records: count }
  }

  /** Expires offsets (see the header) and deletes Empty groups left without offsets. */
  /**
   * OffsetDelete (Kafka's GroupCoordinator.handleDeleteOffsets): an Empty group loses the offsets; a consumer
   * group with members keeps those of topics it subscribes to (GROUP_SUBSCRIBED_TO_TOPIC); any other group with
   * members is NON_EMPTY_GROUP; an unknown group GROUP_ID_NOT_FOUND. An Empty group left without offsets goes.
   */
  async deleteOffsets(groupId: string, partitions: readonly { topic: string; partition: number }[]): Promise<{ errorCode: number; partitionErrors: number[] }> {
    const status = this.status(groupId, true)
    if (typeof status === 'number') return { errorCode: status, partitionErrors: [] }
    const group = status.groups.get(groupId)
    if (!group || group.state === GroupState.Dead) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitionErrors: [] }
    let subscribed: (topic: string) => boolean = () => false
    if (group.state !== GroupState.Empty) {
      if (group.protocolType !== 'consumer') return { errorCode: ErrorCode.NON_EMPTY_GROUP, partitionErrors: [] }
      const topics = group.subscribedTopics((metadata) => {
        try {
          return ConsumerProtocolSubscription.decode(metadata)?.value.topics ?? null
        } catch {
          return null
        }
      })
      subscribed = (topic) => topics === null || topics.has(topic)
    }
    const partitionErrors = partitions.map((p) => (subscribed(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE))
    const tombstones: RecordInput[] = []
    partitions.forEach((p, i) => {
      if (partitionErrors[i] !== ErrorCode.NONE) return
      group.removeOffset(p.topic, p.partition)
      tombstones.push({ key: encodeOffsetKey(groupId, p.topic, p.partition), value: null })
    })
    if (group.state === GroupState.Empty && !group.hasOffsets()) {
      group.markDead(ErrorCode.COORDINATOR_NOT_AVAILABLE)
      status.groups.delete(groupId)
      status.groupValues.delete(groupId)
      tombstones.push({ key: encodeGroupKey(groupId), value: null })
    }
    if (tombstones.length > 0) {
      const code = await this.append(status, tombstones)
      if (code !== ErrorCode.NONE) this.log.warn('writing offset deletions failed', { group: groupId, errorCode: code })
    }
    return { errorCode: ErrorCode.NONE, partitionErrors }
  }

  expireOffsets(): void {
    const now = this.clock.now()
    const retention = this.config.offsetsRetentionMs
    for (const shard of this.shards) {
      if (shard.state !== 'active') continue
      const tombstones: RecordInput[] = []
      for (const group of [...shard.groups.values()]) {
        if (group.state !== 'Empty') continue
        const since = (o: CommittedOffset) => (group.protocolType === null ? o.commitTimestamp : group.currentStateTimestamp)
        for (const [topic, parts] of [...group.offsets]) {
          for (const [p, o] of [...parts]) {
            const expired = o.expireTimestamp >= 0 ? now >= o.expireTimestamp : now - since(o) >= retention
            if (!expired) continue
            group.removeOffset(topic, p)
            tombstones.push({ key: encodeOffsetKey(group.groupId, topic, p), value: null })
          }
        }
        if (!group.hasOffsets()) {
          group.markDead(ErrorCode.COORDINATOR_NOT_AVAILABLE)
          shard.groups.delete(group.groupId)
          shard.groupValues.delete(group.groupId)
          tombstones.push({ key: encodeGroupKey(group.groupId), value: null })
          this.log.info('deleted empty group', { group: group.groupId })
        }
      }
      if (tombstones.length > 0) void this.append(shard, tombstones)
    }
  }
}

function applyRecord(
  key: Buffer | null,
  value: Buffer | null,
  recordOffset: number,
  offsets: Map<string, Map<string, Map<number, CommittedOffset>>>,
  metadata: Map<string, { loaded: LoadedGroup; raw: Buffer } | null>,
): void {
  if (key === null) return
  const k = decodeKey(key)
  if (k.kind === 'offset') {
    let byTopic = offsets.get(k.group)
    if (value === null) {
      byTopic?.get(k.topic)?.delete(k.partition)
      return
    }
    const v = decodeOffsetValue(value)
    if (!byTopic) offsets.set(k.group, (byTopic = new Map()))
    let byPartition = byTopic.get(k.topic)
    if (!byPartition) byTopic.set(k.topic, (byPartition = new Map()))
    byPartition.set(k.partition, {
      offset: v.offset,
      leaderEpoch: v.leaderEpoch,
      metadata: v.metadata,
      commitTimestamp: v.commitTimestamp,
      expireTimestamp: v.expireTimestamp,
      recordOffset,
    })
  } else if (k.kind === 'group') {
    if (value === null) {
      metadata.set(k.group, null)
      return
    }
    const v = decodeGroupValue(value)
    const loaded: LoadedGroup = {
      protocolType: v.protocolType,
      generationId: v.generation,
      protocolName: v.protocol,
      leaderId: v.leader,
      currentStateTimestamp: v.currentStateTimestamp,
      members: v.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeout,
        sessionTimeoutMs: m.sessionTimeout,
        subscription: Buffer.from(m.subscription),
        assignment: Buffer.from(m.assignment),
      })),
    }
    metadata.set(k.group, { loaded, raw: Buffer.from(value) })
  }
}

/**
 * Creates __consumer_offsets if it is missing (offsets.topic.num.partitions partitions, never deleted by
 * retention), builds the coordinator over its partitions and starts loading them.
 */
export async function startGroupCoordinator(broker: Broker): Promise<GroupCoordinator> {
  if (!broker.topic(OFFSETS_TOPIC)) {
    const res = await broker.createTopic({
      name: OFFSETS_TOPIC,
      partitions: broker.config.int('offsets.topic.num.partitions'),
      replicationFactor: 1,
      configs: { 'retention.ms': '-1', 'retention.bytes': '-1', 'segment.bytes': String(broker.config.int('offsets.topic.segment.bytes')) },
    })
    if (res.errorCode !== ErrorCode.NONE) throw new Error(`cannot create ${OFFSETS_TOPIC}: ${res.errorMessage}`)
  }
  const topic = broker.topic(OFFSETS_TOPIC)!
  const coordinator = new GroupCoordinator({
    clock: broker.clock,
    config: coordinatorConfig(broker.config),
    log: broker.log.child({ component: 'group-coordinator' }),
    partitions: topic.partitions,
    partitionCount: topic.record.partitions,
    isLeader: (index) => broker.leads(OFFSETS_TOPIC, index),
    waitReplicated: (p, lastOffset, timeoutMs) => {
      const partition = broker.partition(OFFSETS_TOPIC, p.index)
      return partition ? broker.replicas.waitForAcks(partition, lastOffset, timeoutMs) : Promise.resolve('not-leader')
    },
    newMemberIdSuffix: () => randomUUID(),
  })
  void coordinator.startup()
  return coordinator
}
