// Group membership over Kafka's classic protocol, as the Java consumer's ConsumerCoordinator does it with the
// eager range assignor:
//
// - FindCoordinator (any broker), then a connection of its own to the coordinator (another RawCluster), so
//   heartbeats never queue behind a long-polling Fetch.
// - JoinGroup with protocol type "consumer" and one protocol, "range" (subscription v0: the topics); a v4+
//   join without a member id is answered MEMBER_ID_REQUIRED with one to join again with (KIP-394).
// - The leader computes the assignment (Kafka's RangeAssignor: per topic, the partitions in ranges over the
//   subscribed members sorted by id) and sends it in SyncGroup; every member gets its own.
// - OffsetFetch for the assigned partitions; those without a committed offset start at `from` (ListOffsets).
// - Heartbeat every heartbeatMs; REBALANCE_IN_PROGRESS (or ILLEGAL_GENERATION) means rejoin, UNKNOWN_MEMBER_ID
//   rejoin as a new member. Before rejoining the partitions are given up (eager): fetching stops, the
//   positions are committed and onRevoke runs.
// - Positions handed to onRecords are committed every heartbeat (auto-commit of what the harness saw).
// - NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, a lost connection or a
//   coordinator request unanswered within its timeout: find the coordinator again and carry on as the same
//   member.
// - close(): commit, LeaveGroup, onRevoke.

import { ErrorCode, errorName } from '../../../broker/protocol/errors.ts'
import { ConsumerProtocolAssignment, ConsumerProtocolSubscription } from '../../../broker/protocol/messages/consumer-protocol.ts'
import { FindCoordinator } from '../../../broker/protocol/messages/find-coordinator.ts'
import { Heartbeat } from '../../../broker/protocol/messages/heartbeat.ts'
import { JoinGroup } from '../../../broker/protocol/messages/join-group.ts'
import { LeaveGroup } from '../../../broker/protocol/messages/leave-group.ts'
import { OffsetCommit } from '../../../broker/protocol/messages/offset-commit.ts'
import { OffsetFetch } from '../../../broker/protocol/messages/offset-fetch.ts'
import { SyncGroup } from '../../../broker/protocol/messages/sync-group.ts'
import type { ApiDecl, Fields, In, Out } from '../../../broker/protocol/schema.ts'
import { clientError, DriverFailure, type ConsumerOptions, type DriverConsumer } from '../../driver.ts'
import type { RawCluster } from './cluster.ts'
import { asDriverError, kafkaError } from './common.ts'
import type { RawConnection } from './connection.ts'
import { Fetcher, partitionsOf, type Position } from './consumer.ts'

export const DEFAULT_SESSION_TIMEOUT_MS = 10_000
const PROTOCOL = 'range'

/** Errors after which the coordinator is looked up again. */
const COORDINATOR_MOVED: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR])
/** The coordinator telling a member to join again: normal group life, not errors to report. */
const REJOIN: ReadonlySet<number> = new Set([ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.MEMBER_ID_REQUIRED])

export interface GroupTimings {
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  readonly heartbeatMs: number
  /** Coordinator requests other than JoinGroup (which waits for the rebalance). */
  readonly requestTimeoutMs: number
}

export function groupTimings(sessionTimeoutMs: number | undefined, requestTimeoutMs: number | undefined): GroupTimings {
  const session = sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS
  return { sessionTimeoutMs: session, rebalanceTimeoutMs: session, heartbeatMs: Math.max(100, Math.floor(session / 10)), requestTimeoutMs: Math.min(requestTimeoutMs ?? 30_000, session) }
}

/** Kafka's RangeAssignor: per topic, members subscribed to it sorted by id, consecutive ranges, the first ones one longer. */
export function rangeAssign(subscriptions: ReadonlyMap<string, readonly string[]>, partitionCounts: ReadonlyMap<string, number>): Map<string, Map<string, number[]>> {
  const out = new Map<string, Map<string, number[]>>()
  for (const m of subscriptions.keys()) out.set(m, new Map())
  for (const [topic, n] of partitionCounts) {
    const members = [...subscriptions].filter(([, topics]) => topics.includes(topic)).map(([m]) => m).sort()
    if (members.length === 0) continue
    const per = Math.floor(n / members.length)
    const extra = n % members.length
    members.forEach((m, i) => {
      const start = per * i + Math.min(i, extra)
      const len = per + (i < extra ? 1 : 0)
      if (len > 0) out.get(m)!.set(topic, Array.from({ length: len }, (_, k) => start + k))
    })
  }
  return out
}

function groupFailure(api: string, code: number): DriverFailure {
  return new DriverFailure(`${api}: ${errorName(code)}`, { error: kafkaError(code) })
}

export class RawGroupConsumer implements DriverConsumer {
  private readonly data: RawCluster
  private readonly coord: RawCluster
  private readonly o: ConsumerOptions
  private readonly groupId: string
  private readonly topics: readonly string[]
  private readonly t: GroupTimings
  private readonly fetcher: Fetcher
  private memberId = ''
  private generationId = -1
  private coordinator: RawConnection | null = null
  private needJoin = true
  private assigned = false
  private readonly committed = new Map<string, number>()
  private running = false
  private loop: Promise<void> | null = null
  private wakeLoop: (() => void) | null = null
  private startWaiters: (() => void)[] = []

  constructor(data: RawCluster, coord: RawCluster, opts: ConsumerOptions, timings: GroupTimings) {
    if (!opts.group) throw new Error('RawGroupConsumer needs opts.group')
    if (opts.group.topics.length === 0) throw new DriverFailure('a consumer group needs at least one topic', { code: 'ERR_FAULTLINE_BAD_INPUT' })
    this.data = data
    this.coord = coord
    this.o = opts
    this.groupId = opts.group.groupId
    this.topics = opts.group.topics
    this.t = timings
    this.fetcher = new Fetcher(data, opts)
  }

  get paused(): boolean {
    return this.fetcher.paused
  }

  /** The member id the coordinator gave this consumer ('' before the first join). */
  get member(): string {
    return this.memberId
  }

  get generation(): number {
    return this.generationId
  }

  /** Joins the group (retrying while the cluster cannot serve it, as the Java consumer's poll does); resolves after the first assignment. */
  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    this.fetcher.start()
    const first = new Promise<void>((r) => this.startWaiters.push(r))
    this.loop = this.run()
    await first
  }

  pause(): void {
    this.fetcher.pause()
  }

  resume(): void {
    this.fetcher.resume()
  }

  async close(): Promise<void> {
    const wasRunning = this.running
    this.running = false
    this.wakeLoop?.()
    await this.fetcher.stop()
    if (wasRunning && this.coordinator?.ready && this.memberId !== '') {
      const owned = this.fetcher.owned
      if (!this.needJoin) await this.commit(owned, 2000).catch(() => {})
      await this.leave().catch(() => {})
    }
    if (this.assigned) {
      this.assigned = false
      this.o.onRevoke?.(partitionsOf(this.fetcher.owned))
    }
    this.coord.close()
    this.data.close()
    await this.loop?.catch(() => {})
    this.released()
  }

  private released(): void {
    const w = this.startWaiters
    this.startWaiters = []
    for (const f of w) f()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wakeLoop = done
    })
  }

  private async run(): Promise<void> {
    let backoff = 0
    while (this.running) {
      try {
        if (backoff > 0) await this.sleep(backoff)
        if (!this.running) break
        await this.ensureCoordinator()
        if (this.needJoin) {
          await this.joinAndSync()
        } else {
          await this.sleep(this.t.heartbeatMs)
          if (!this.running || this.needJoin) continue
          await this.heartbeat()
          await this.commit(this.fetcher.owned)
        }
        backoff = 0
      } catch (e) {
        if (!this.running) break
        const err = asDriverError(e, true)
        if (err.code !== null && REJOIN.has(err.code)) {
          this.rejoinAfter(err.code)
          backoff = 0
          continue
        }
        if (err.code === null || COORDINATOR_MOVED.has(err.code)) this.dropCoordinator()
        this.o.onError?.(err)
        backoff = Math.min(1000, Math.max(100, backoff * 2))
      }
    }
  }

  private rejoinAfter(code: number): void {
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
    if (code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.ILLEGAL_GENERATION) this.generationId = -1
    this.needJoin = true
  }

  private dropCoordinator(): void {
    this.coordinator?.close()
    this.coordinator = null
  }

  private async ensureCoordinator(): Promise<void> {
    if (this.coordinator?.ready) return
    this.coordinator = null
    const conn = await this.coord.any()
    const v = conn.version(FindCoordinator)
    const res = await conn.call(FindCoordinator, { key: this.groupId, keyType: 0, coordinatorKeys: [this.groupId] }, v)
    const found = v >= 4 ? res.coordinators[0] : { errorCode: res.errorCode, nodeId: res.nodeId, host: res.host, port: res.port }
    if (!found) throw new DriverFailure('FindCoordinator: no answer for the group', { error: clientError('CLIENT', 'FindCoordinator answered no coordinator', true) })
    if (found.errorCode !== 0) throw groupFailure('FindCoordinator', found.errorCode)
    this.coord.brokers.set(found.nodeId, { host: found.host, port: found.port })
    this.coordinator = await this.coord.node(found.nodeId)
  }

  /** A request to the coordinator; unanswered within `timeoutMs`, its connection is closed (the coordinator is found again). */
  private async call<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, body: In<Req>, timeoutMs = this.t.requestTimeoutMs, cap = api.maxVersion): Promise<{ res: Out<Res>; version: number }> {
    const conn = this.coordinator
    if (!conn?.ready) throw new DriverFailure(`${api.name}: no coordinator`, { error: clientError('NOT_CONNECTED', 'no coordinator connection', true) })
    const version = Math.min(cap, conn.version(api))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      conn.close()
    }, timeoutMs)
    try {
      return { res: await conn.call(api, body, version), version }
    } catch (e) {
      if (timedOut) throw new DriverFailure(`${api.name}: no answer from the coordinator within ${timeoutMs} ms`, { error: clientError('TIMEOUT', `${api.name} unanswered for ${timeoutMs} ms`, false) })
      throw e
    } finally {
      clearTimeout(timer)
    }
  }

  /** Eager rebalancing: stop fetching, commit and revoke everything before joining again. */
  private async revoke(): Promise<void> {
    if (!this.assigned) return
    const owned = this.fetcher.owned
    this.fetcher.assign([])
    this.assigned = false
    if (this.generationId >= 0 && this.memberId !== '') await this.commit(owned).catch((e: unknown) => this.reportUnlessRejoin(e))
    this.o.onRevoke?.(partitionsOf(owned))
  }

  private reportUnlessRejoin(e: unknown): void {
    const err = asDriverError(e, false)
    if (err.code === null || !REJOIN.has(err.code)) this.o.onError?.(err)
  }

  private async joinAndSync(): Promise<void> {
    await this.revoke()
    const metadata = ConsumerProtocolSubscription.encode(0, { topics: [...this.topics], userData: null, ownedPartitions: [], generationId: -1, rackId: null })
    const { res: join } = await this.call(
      JoinGroup,
      {
        groupId: this.groupId,
        sessionTimeoutMs: this.t.sessionTimeoutMs,
        rebalanceTimeoutMs: this.t.rebalanceTimeoutMs,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: PROTOCOL, metadata }],
        reason: null,
      },
      // The coordinator answers when the rebalance completes: up to the rebalance timeout (Java adds 5 s).
      this.t.rebalanceTimeoutMs + 5000,
    )
    if (join.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      this.memberId = join.memberId
      return
    }
    if (join.errorCode !== 0) throw groupFailure('JoinGroup', join.errorCode)
    this.memberId = join.memberId
    this.generationId = join.generationId
    const assignments = join.leader === join.memberId ? await this.leaderAssign(join.members) : []
    const { res: sync } = await this.call(SyncGroup, {
      groupId: this.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: join.protocolName ?? PROTOCOL,
      assignments,
    })
    if (sync.errorCode !== 0) throw groupFailure('SyncGroup', sync.errorCode)
    const mine = ConsumerProtocolAssignment.decode(sync.assignment)?.value.assignedPartitions ?? []
    const positions: Position[] = []
    for (const a of mine) for (const partition of a.partitions) positions.push({ topic: a.topic, partition, offset: -1 })
    await this.startPositions(positions)
    this.needJoin = false
    this.assigned = true
    this.o.onAssign?.(partitionsOf(positions))
    this.fetcher.assign(positions)
    this.released()
  }

  private async leaderAssign(members: readonly { memberId: string; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = new Map<string, readonly string[]>()
    for (const m of members) subscriptions.set(m.memberId, ConsumerProtocolSubscription.decode(m.metadata)?.value.topics ?? [])
    const counts = new Map<string, number>()
    for (const topic of new Set([...subscriptions.values()].flat())) counts.set(topic, (await this.data.ensureTopic(topic, 10_000)).length)
    const plan = rangeAssign(subscriptions, counts)
    return [...plan].map(([memberId, topics]) => ({
      memberId,
      assignment: ConsumerProtocolAssignment.encode(0, { assignedPartitions: [...topics].map(([topic, partitions]) => ({ topic, partitions })), userData: null }),
    }))
  }

  /** Committed offsets where there are some, else `from`. */
  private async startPositions(positions: Position[]): Promise<void> {
    if (positions.length === 0) return
    // The fetcher routes by the data connection's metadata, which must know these topics even when every
    // position comes from a commit.
    for (const t of new Set(positions.map((p) => p.topic))) await this.data.ensureTopic(t, 10_000)
    const byTopic = new Map<string, number[]>()
    for (const p of positions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition])
    // v8+ batches groups; one group needs only the v7 form (Kafka 3.9 speaks both).
    const { res } = await this.call(OffsetFetch, { groupId: this.groupId, topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })), groups: [], requireStable: false }, undefined, 7)
    if (res.errorCode !== 0) throw groupFailure('OffsetFetch', res.errorCode)
    for (const t of res.topics) {
      for (const pr of t.partitions) {
        if (pr.errorCode !== 0) throw groupFailure('OffsetFetch', pr.errorCode)
        const pos = positions.find((p) => p.topic === t.name && p.partition === pr.partitionIndex)
        if (pos && pr.committedOffset >= 0) {
          pos.offset = pr.committedOffset
          this.committed.set(`${pos.topic}\u0000${pos.partition}`, pr.committedOffset)
        }
      }
    }
    const fresh = positions.filter((p) => p.offset < 0)
    if (fresh.length > 0) await this.fetcher.reset(fresh, this.o.from ?? 'earliest')
  }

  private async heartbeat(): Promise<void> {
    const { res } = await this.call(Heartbeat, { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null })
    if (res.errorCode !== 0) throw groupFailure('Heartbeat', res.errorCode)
  }

  /** Commits the positions that moved since their last commit. */
  private async commit(positions: readonly Position[], timeoutMs = this.t.requestTimeoutMs): Promise<void> {
    const moved = positions.filter((p) => p.offset >= 0 && this.committed.get(`${p.topic}\u0000${p.partition}`) !== p.offset)
    if (moved.length === 0) return
    const offsets = moved.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset }))
    const byTopic = new Map<string, { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; commitTimestamp: number; committedMetadata: string | null }[]>()
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? []
      list.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null })
      byTopic.set(o.topic, list)
    }
    const { res } = await this.call(OffsetCommit, {
      groupId: this.groupId,
      generationIdOrMemberEpoch: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    }, timeoutMs)
    let failed = 0
    for (const t of res.topics) {
      for (const pr of t.partitions) {
        const o = offsets.find((x) => x.topic === t.name && x.partition === pr.partitionIndex)
        if (pr.errorCode === 0 && o) this.committed.set(`${o.topic}\u0000${o.partition}`, o.offset)
        else if (pr.errorCode !== 0) failed ||= pr.errorCode
      }
    }
    if (failed !== 0) throw groupFailure('OffsetCommit', failed)
  }

  private async leave(): Promise<void> {
    const { res, version } = await this.call(LeaveGroup, { groupId: this.groupId, memberId: this.memberId, members: [{ memberId: this.memberId, groupInstanceId: null, reason: 'the consumer is closing' }] }, 2000)
    const code = res.errorCode !== 0 ? res.errorCode : version >= 3 ? (res.members[0]?.errorCode ?? 0) : 0
    this.memberId = ''
    this.generationId = -1
    if (code !== 0 && code !== ErrorCode.UNKNOWN_MEMBER_ID) throw groupFailure('LeaveGroup', code)
  }
}
