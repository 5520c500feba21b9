// One consumer group under the classic rebalance protocol (Kafka's GroupMetadata plus the parts of its
// GroupCoordinator that drive it): members, generations, the leader's assignment, and every timer, all on
// the Clock it is given. No I/O: persisting the group goes through ctx.storeGroup, whose completion may come
// at once or later, and answers to JoinGroup and SyncGroup (which wait for the rest of the group) go to the
// callbacks passed in. The coordinator wraps all this in promises; the model-based test drives it directly.
//
// States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, back to PreparingRebalance when
// membership or subscriptions change, and Dead once the group is unloaded or deleted.
// * PreparingRebalance waits for every known member to send JoinGroup, up to the largest rebalance timeout
//   of the members; members that did not rejoin are dropped (static members are kept). A group coming out
//   of Empty first waits group.initial.rebalance.delay.ms, again while new members keep arriving, up to the
//   rebalance timeout, so a whole fleet of consumers starting at once lands in one generation.
// * Completing the join bumps the generation, picks the protocol most members prefer among those all of
//   them support, answers every waiting JoinGroup (only the leader gets the member list) and waits for the
//   leader's SyncGroup; members that do not sync within the rebalance timeout are removed.
// * The leader's assignment is stored, then handed to every member waiting in SyncGroup: Stable.
// Members that stop heartbeating for their session timeout are removed. A member waiting in JoinGroup or
// SyncGroup is not expired (its rebalance timeout governs it), except a new member that waits longer than
// five minutes for its first generation.
//
// Member ids (KIP-394): a JoinGroup v4+ without a member id is answered MEMBER_ID_REQUIRED with a fresh id
// that stays pending for a session timeout; only joining with it makes a member. Static members (KIP-345,
// group.instance.id) keep their assignment across restarts: a new member id for a known instance replaces the
// old one without a rebalance while the group is Stable, and the old id is fenced (FENCED_INSTANCE_ID).

import type { Clock, TimerHandle } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode } from '../protocol/errors.ts'

export const GroupState = {
  Empty: 'Empty',
  PreparingRebalance: 'PreparingRebalance',
  CompletingRebalance: 'CompletingRebalance',
  Stable: 'Stable',
  Dead: 'Dead',
} as const
export type GroupStateName = (typeof GroupState)[keyof typeof GroupState]

/** States each state may be entered from (Kafka's GroupMetadata.validPreviousStates). */
export const validPreviousStates: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'],
}

export interface GroupConfig {
  /** group.initial.rebalance.delay.ms */
  readonly initialRebalanceDelayMs: number
  /** group.max.size */
  readonly maxSize: number
  /** How long a new member may wait for its first generation (Kafka: five minutes). */
  readonly newMemberJoinTimeoutMs: number
}

export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000

export interface GroupContext {
  readonly clock: Clock
  readonly config: GroupConfig
  /** A fresh unique suffix for member ids: a UUID in the broker, a counter in tests. */
  newMemberIdSuffix(): string
  /**
   * Persists the group (generation, protocol, leader, members with their subscriptions and the given
   * assignments). Must capture the group's state before returning; calls done with NONE or the error to
   * answer, at once or later.
   */
  storeGroup(group: ClassicGroup, assignments: ReadonlyMap<string, Buffer>, done: (errorCode: number) => void): void
  readonly log?: Logger
}

export interface Protocol {
  readonly name: string
  readonly metadata: Buffer
}

export interface JoinRequest {
  /** '' for a member that has no id yet. */
  readonly memberId: string
  readonly groupInstanceId: string | null
  /** JoinGroup v4+ from a dynamic member: an unknown member first gets MEMBER_ID_REQUIRED. */
  readonly requireKnownMemberId: boolean
  readonly clientId: string
  readonly clientHost: string
  readonly rebalanceTimeoutMs: number
  readonly sessionTimeoutMs: number
  readonly protocolType: string
  readonly protocols: readonly Protocol[]
}

export interface JoinMember {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly metadata: Buffer
}

export interface JoinResult {
  readonly errorCode: number
  readonly generationId: number
  readonly protocolType: string | null
  readonly protocolName: string | null
  readonly leader: string
  readonly memberId: string
  /** Filled in for the leader only. */
  readonly members: readonly JoinMember[]
}

export interface SyncRequest {
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  /** SyncGroup v5+ names them; checked when given. */
  readonly protocolType?: string | null
  readonly protocolName?: string | null
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Buffer }[]
}

export interface SyncResult {
  readonly errorCode: number
  readonly protocolType: string | null
  readonly protocolName: string | null
  readonly assignment: Buffer
}

export interface LeaveMember {
  readonly memberId: string
  readonly groupInstanceId: string | null
}

export interface LeaveResult {
  readonly errorCode: number
  readonly members: readonly (LeaveMember & { readonly errorCode: number })[]
}

export interface MemberSummary {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly metadata: Buffer
  readonly assignment: Buffer
}

export interface GroupSummary {
  readonly state: GroupStateName
  readonly protocolType: string
  readonly protocolData: string
  readonly members: readonly MemberSummary[]
}

/** A committed offset as __consumer_offsets keeps it. */
export interface CommittedOffset {
  readonly offset: number
  readonly leaderEpoch: number
  readonly metadata: string
  readonly commitTimestamp: number
  /** -1 unless the commit asked for a retention time (OffsetCommit v2-4). */
  readonly expireTimestamp: number
  /** Where the record sits in the offsets log: a late completion never overwrites a newer commit. */
  readonly recordOffset: number
}

/** A member as loaded from the offsets log. */
export interface LoadedMember {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly rebalanceTimeoutMs: number
  readonly sessionTimeoutMs: number
  readonly subscription: Buffer
  readonly assignment: Buffer
}

export interface LoadedGroup {
  readonly protocolType: string
  readonly generationId: number
  readonly protocolName: string | null
  readonly leaderId: string | null
  readonly currentStateTimestamp: number
  readonly members: readonly LoadedMember[]
}

type JoinResponder = (r: JoinResult) => void
type SyncResponder = (r: SyncResult) => void

class Member {
  memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly protocolType: string
  rebalanceTimeoutMs: number
  sessionTimeoutMs: number
  protocols: readonly Protocol[]
  assignment: Buffer = EMPTY
  /** Joined and never part of a completed generation yet. */
  isNew = false
  joinResponder: JoinResponder | null = null
  syncResponder: SyncResponder | null = null
  sessionTimer: TimerHandle | null = null

  constructor(init: {
    memberId: string
    groupInstanceId: string | null
    clientId: string
    clientHost: string
    protocolType: string
    rebalanceTimeoutMs: number
    sessionTimeoutMs: number
    protocols: readonly Protocol[]
  }) {
    this.memberId = init.memberId
    this.groupInstanceId = init.groupInstanceId
    this.clientId = init.clientId
    this.clientHost = init.clientHost
    this.protocolType = init.protocolType
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs
    this.sessionTimeoutMs = init.sessionTimeoutMs
    this.protocols = init.protocols
  }

  metadataFor(protocol: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY
  }

  matches(protocols: readonly Protocol[]): boolean {
    return protocols.length === this.protocols.length && protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata))
  }
}

const EMPTY: Buffer = Buffer.alloc(0)

function joinError(memberId: string, errorCode: number): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] }
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY }
}

export class ClassicGroup {
  readonly groupId: string
  private readonly ctx: GroupContext
  private _state: GroupStateName
  private _generationId: number
  private _protocolType: string | null
  private _protocolName: string | null
  private _leaderId: string | null = null
  /** Wall-clock time of the last state change (GroupMetadataValue's currentStateTimestamp). */
  currentStateTimestamp: number
  private readonly members = new Map<string, Member>()
  /** group.instance.id -> its current member id. */
  private readonly staticMembers = new Map<string, string>()
  /** Ids handed out with MEMBER_ID_REQUIRED and not joined with yet. */
  private readonly pendingMembers = new Map<string, TimerHandle>()
  /** Members of the current generation that have not sent SyncGroup yet. */
  private readonly pendingSyncMembers = new Set<string>()
  private joinTimer: TimerHandle | null = null
  private syncTimer: TimerHandle | null = null
  /** The initial delay (out of Empty) is running: the join does not complete early. */
  private initialDelayActive = false
  private newMemberAdded = false
  /** Committed offsets: topic -> partition -> offset. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>()
  /** Offset commits appended and not yet durable (the group must not be deleted under them). */
  pendingOffsetWrites = 0

  constructor(groupId: string, ctx: GroupContext, loaded?: LoadedGroup) {
    this.groupId = groupId
    this.ctx = ctx
    this._state = GroupState.Empty
    this._generationId = 0
    this._protocolType = null
    this._protocolName = null
    this.currentStateTimestamp = ctx.clock.now()
    if (loaded) this.restore(loaded)
  }

  private restore(loaded: LoadedGroup): void {
    this._generationId = loaded.generationId
    this._protocolType = loaded.protocolType === '' ? null : loaded.protocolType
    this._protocolName = loaded.protocolName
    if (loaded.currentStateTimestamp >= 0) this.currentStateTimestamp = loaded.currentStateTimestamp
    for (const m of loaded.members) {
      const member = new Member({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        protocolType: loaded.protocolType,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs >= 0 ? m.rebalanceTimeoutMs : m.sessionTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        protocols: [{ name: loaded.protocolName ?? '', metadata: m.subscription }],
      })
      member.assignment = m.assignment
      this.members.set(m.memberId, member)
      if (m.groupInstanceId !== null) this.staticMembers.set(m.groupInstanceId, m.memberId)
    }
    if (this.members.size > 0) {
      this._state = GroupState.Stable
      this._leaderId = loaded.leaderId !== null && this.members.has(loaded.leaderId) ? loaded.leaderId : this.members.keys().next().value!
      for (const m of this.members.values()) this.scheduleSession(m, m.sessionTimeoutMs)
      if (this.members.size > this.ctx.config.maxSize) this.prepareRebalance('loaded group is over group.max.size')
    }
  }

  // ---- observers ----

  get state(): GroupStateName {
    return this._state
  }

  get generationId(): number {
    return this._generationId
  }

  get protocolType(): string | null {
    return this._protocolType
  }

  get protocolName(): string | null {
    return this._protocolName
  }

  get leaderId(): string | null {
    return this._leaderId
  }

  get size(): number {
    return this.members.size
  }

  memberIds(): string[] {
    return [...this.members.keys()]
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId)
  }

  isPending(memberId: string): boolean {
    return this.pendingMembers.has(memberId)
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId)
  }

  assignmentOf(memberId: string): Buffer | undefined {
    return this.members.get(memberId)?.assignment
  }

  isAwaitingJoin(memberId: string): boolean {
    return this.members.get(memberId)?.joinResponder != null
  }

  isAwaitingSync(memberId: string): boolean {
    return this.members.get(memberId)?.syncResponder != null
  }

  /** The largest rebalance timeout among the members: how long a rebalance may wait for them. */
  get rebalanceTimeoutMs(): number {
    let max = 0
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs)
    return max
  }

  hasOffsets(): boolean {
    for (const parts of this.offsets.values()) if (parts.size > 0) return true
    return this.pendingOffsetWrites > 0
  }

  /** Members with their subscription (the selected protocol's metadata) and assignment, for storing. */
  membersForStore(assignments: ReadonlyMap<string, Buffer>): LoadedMember[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      subscription: m.metadataFor(this._protocolName),
      assignment: assignments.get(m.memberId) ?? EMPTY,
    }))
  }

  currentAssignments(): Map<string, Buffer> {
    return new Map([...this.members.values()].map((m) => [m.memberId, m.assignment]))
  }

  /** DescribeGroups: metadata and assignments only while Stable, as Kafka reports them. */
  summary(): GroupSummary {
    const stable = this._state === GroupState.Stable
    return {
      state: this._state,
      protocolType: this._protocolType ?? '',
      protocolData: stable ? (this._protocolName ?? '') : '',
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadataFor(this._protocolName) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    }
  }

  // ---- JoinGroup ----

  /** The session timeout bounds and the group id were checked by the caller. */
  join(req: JoinRequest, respond: JoinResponder): void {
    const isUnknown = req.memberId === ''
    if (!this.acceptJoiningMember(req.memberId)) {
      const existing = this.members.get(req.memberId)
      if (existing) this.removeMemberAndUpdateGroup(existing, 'group.max.size reached')
      respond(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED))
    } else if (isUnknown) {
      this.joinNewMember(req, respond)
    } else {
      this.joinCurrentMember(req, respond)
    }
    if (this._state === GroupState.PreparingRebalance) this.tryCompleteJoin()
  }

  private acceptJoiningMember(memberId: string): boolean {
    const max = this.ctx.config.maxSize
    switch (this._state) {
      case GroupState.Empty:
      case GroupState.Dead:
        return true
      case GroupState.PreparingRebalance: {
        // Counting the members awaiting join (not all members) lets a shrunken group.max.size evict the
        // last members to rejoin.
        const m = this.members.get(memberId)
        return (m !== undefined && m.joinResponder !== null) || this.numAwaitingJoin() < max
      }
      default:
        return this.members.has(memberId) || this.members.size < max
    }
  }

  private numAwaitingJoin(): number {
    let n = 0
    for (const m of this.members.values()) if (m.joinResponder !== null) n++
    return n
  }

  /**
   * Kafka's supportsProtocols: an Empty group takes any non-empty offer; otherwise the protocol type must
   * match and one offered protocol must be supported by every other member.
   */
  private supportsProtocols(memberId: string, protocolType: string, protocols: readonly Protocol[]): boolean {
    if (this._state === GroupState.Empty) return protocolType !== '' && protocols.length > 0
    if (this._protocolType !== protocolType) return false
    return protocols.some((p) => {
      for (const m of this.members.values()) {
        if (m.memberId !== memberId && !m.protocols.some((q) => q.name === p.name)) return false
      }
      return true
    })
  }

  private joinNewMember(req: JoinRequest, respond: JoinResponder): void {
    if (this._state === GroupState.Dead) {
      respond(joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE))
      return
    }
    const instance = req.groupInstanceId
    const oldId = instance === null ? undefined : this.staticMembers.get(instance)
    if (!this.supportsProtocols(oldId ?? '', req.protocolType, req.protocols)) {
      respond(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
      return
    }
    const newId = `${instance ?? req.clientId}-${this.ctx.newMemberIdSuffix()}`
    if (instance !== null && oldId !== undefined) {
      this.replaceStaticMember(instance, oldId, newId, req, respond)
    } else if (instance === null && req.requireKnownMemberId) {
      const timer = this.ctx.clock.setTimeout(() => this.expirePendingMember(newId), req.sessionTimeoutMs)
      this.pendingMembers.set(newId, timer)
      respond(joinError(newId, ErrorCode.MEMBER_ID_REQUIRED))
    } else {
      this.addMemberAndRebalance(req, newId, respond)
    }
  }

  private joinCurrentMember(req: JoinRequest, respond: JoinResponder): void {
    const memberId = req.memberId
    if (this._state === GroupState.Dead) {
      respond(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE))
      return
    }
    if (!this.supportsProtocols(memberId, req.protocolType, req.protocols)) {
      respond(joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
      return
    }
    if (this.pendingMembers.has(memberId)) {
      // Pending ids are only handed to dynamic members.
      if (req.groupInstanceId !== null) {
        respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID))
        return
      }
      this.addMemberAndRebalance(req, memberId, respond)
      return
    }
    const error = this.validateCurrentMember(memberId, req.groupInstanceId)
    if (error !== ErrorCode.NONE) {
      respond(joinError(memberId, error))
      return
    }
    const member = this.members.get(memberId)!
    switch (this._state) {
      case GroupState.PreparingRebalance:
        this.updateMemberAndRebalance(member, req, respond)
        return
      case GroupState.CompletingRebalance:
        if (member.matches(req.protocols)) {
          // It probably missed the JoinGroup response: repeat it.
          respond(this.joinResultFor(member))
        } else {
          this.updateMemberAndRebalance(member, req, respond)
        }
        return
      case GroupState.Stable:
        // The leader rejoining forces a rebalance (its view of the topics changed); a follower with the
        // same subscription just gets the current generation back.
        if (this._leaderId === memberId || !member.matches(req.protocols)) this.updateMemberAndRebalance(member, req, respond)
        else respond({ ...this.joinResultFor(member), members: [] })
        return
      default:
        respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID))
    }
  }

  private joinResultFor(member: Member): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: this._generationId,
      protocolType: this._protocolType,
      protocolName: this._protocolName,
      leader: this._leaderId ?? '',
      memberId: member.memberId,
      members: this._leaderId === member.memberId ? this.currentMemberMetadata() : [],
    }
  }

  /** The topics the members subscribe to (consumer protocol), null when unknown (Kafka's subscribedTopics). */
  subscribedTopics(decode: (metadata: Buffer) => readonly string[] | null): Set<string> | null {
    if (this._protocolType !== 'consumer' || this._protocolName === null) return null
    const topics = new Set<string>()
    for (const m of this.members.values()) {
      const t = decode(m.metadataFor(this._protocolName))
      if (t === null) return null
      for (const name of t) topics.add(name)
    }
    return topics
  }

  private currentMemberMetadata(): JoinMember[] {
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(this._protocolName) }))
  }

  private addMemberAndRebalance(req: JoinRequest, memberId: string, respond: JoinResponder): void {
    const member = new Member({
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      protocolType: req.protocolType,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocols: req.protocols,
    })
    member.isNew = true
    member.joinResponder = respond
    if (this._state === GroupState.PreparingRebalance && this._generationId === 0) this.newMemberAdded = true
    if (this.members.size === 0) this._protocolType = req.protocolType
    if (this._leaderId === null) this._leaderId = memberId
    this.members.set(memberId, member)
    if (req.groupInstanceId !== null) this.staticMembers.set(req.groupInstanceId, memberId)
    const pending = this.pendingMembers.get(memberId)
    if (pending) {
      pending.cancel()
      this.pendingMembers.delete(memberId)
    }
    // New members cannot heartbeat until their first generation: they get a long deadline instead.
    this.scheduleSession(member, this.ctx.config.newMemberJoinTimeoutMs)
    this.maybePrepareRebalance(`adding member ${memberId}`)
  }

  private updateMember(member: Member, req: JoinRequest, respond: JoinResponder): void {
    member.protocols = req.protocols
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs
    member.sessionTimeoutMs = req.sessionTimeoutMs
    // A second JoinGroup from the same member supersedes the first; the first must still be answered or
    // the connection it came on would hold every later response behind it.
    const previous = member.joinResponder
    member.joinResponder = respond
    previous?.(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS))
  }

  private updateMemberAndRebalance(member: Member, req: JoinRequest, respond: JoinResponder): void {
    this.updateMember(member, req, respond)
    this.maybePrepareRebalance(`member ${member.memberId} rejoined`)
  }

  private replaceStaticMember(instance: string, oldId: string, newId: string, req: JoinRequest, respond: JoinResponder): void {
    const old = this.members.get(oldId)!
    const currentLeader = this._leaderId
    const oldProtocols = old.protocols
    const oldRebalanceTimeout = old.rebalanceTimeoutMs
    const oldSessionTimeout = old.sessionTimeoutMs
    this.swapMemberId(old, newId)
    this.updateMember(old, req, respond)
    this.scheduleSession(old, old.sessionTimeoutMs)
    const member = old
    switch (this._state) {
      case GroupState.Stable: {
        if (this.selectProtocol() !== this._protocolName) {
          this.maybePrepareRebalance(`static member ${instance} rejoined with a change of protocol`)
          return
        }
        // The same protocol stays selected: keep the assignment, persist the new member id, no rebalance.
        this.ctx.storeGroup(this, this.currentAssignments(), (errorCode) => {
          if (member.joinResponder !== respond) return
          if (errorCode !== ErrorCode.NONE) {
            member.joinResponder = null
            member.protocols = oldProtocols
            member.rebalanceTimeoutMs = oldRebalanceTimeout
            member.sessionTimeoutMs = oldSessionTimeout
            if (this.members.get(newId) === member) this.swapMemberId(member, oldId)
            this.scheduleSession(member, member.sessionTimeoutMs)
            respond({ ...joinError('', errorCode), generationId: this._generationId, protocolType: this._protocolType, protocolName: this._protocolName, leader: currentLeader ?? '' })
            return
          }
          member.joinResponder = null
          // The old leader id goes back, so a rejoining leader does not compute an assignment that a Stable
          // group would never hand out.
          respond({
            errorCode: ErrorCode.NONE,
            generationId: this._generationId,
            protocolType: this._protocolType,
            protocolName: this._protocolName,
            leader: currentLeader ?? '',
            memberId: newId,
            members: [],
          })
        })
        return
      }
      case GroupState.CompletingRebalance:
        // The leader may already be assigning to the old member id: start over.
        this.prepareRebalance(`static member ${instance} rejoined while the group was completing a rebalance`)
        return
      default:
        // PreparingRebalance: the member now simply awaits the join.
        return
    }
  }

  /** Moves a member to a new id, fencing requests still waiting under the old one. */
  private swapMemberId(member: Member, newId: string): void {
    const oldId = member.memberId
    const join = member.joinResponder
    const sync = member.syncResponder
    member.joinResponder = null
    member.syncResponder = null
    join?.(joinError(oldId, ErrorCode.FENCED_INSTANCE_ID))
    sync?.(syncError(ErrorCode.FENCED_INSTANCE_ID))
    const entries = [...this.members.entries()].map(([id, m]): [string, Member] => (id === oldId ? [newId, m] : [id, m]))
    this.members.clear()
    for (const [id, m] of entries) this.members.set(id, m)
    member.memberId = newId
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, newId)
    if (this._leaderId === oldId) this._leaderId = newId
    if (this.pendingSyncMembers.delete(oldId)) this.pendingSyncMembers.add(newId)
  }

  // ---- rebalancing ----

  private canRebalance(): boolean {
    return this._state === GroupState.Stable || this._state === GroupState.CompletingRebalance || this._state === GroupState.Empty
  }

  private maybePrepareRebalance(reason: string): void {
    if (this.canRebalance()) this.prepareRebalance(reason)
  }

  private prepareRebalance(reason: string): void {
    if (this._state === GroupState.CompletingRebalance) this.resetAndPropagateAssignmentError(ErrorCode.REBALANCE_IN_PROGRESS)
    this.clearPendingSync()
    const fromEmpty = this._state === GroupState.Empty
    this.transitionTo(GroupState.PreparingRebalance)
    this.ctx.log?.info('preparing to rebalance group', { group: this.groupId, generation: this._generationId, reason })
    this.joinTimer?.cancel()
    if (fromEmpty) {
      const delay = this.ctx.config.initialRebalanceDelayMs
      this.initialDelayActive = true
      this.newMemberAdded = false
      this.scheduleInitialDelay(delay, Math.max(this.rebalanceTimeoutMs - delay, 0))
    } else {
      this.initialDelayActive = false
      this.joinTimer = this.ctx.clock.setTimeout(() => this.completeJoin(), this.rebalanceTimeoutMs)
      this.tryCompleteJoin()
    }
  }

  private scheduleInitialDelay(delay: number, remaining: number): void {
    this.joinTimer = this.ctx.clock.setTimeout(() => {
      this.joinTimer = null
      if (this._state !== GroupState.PreparingRebalance) return
      if (this.newMemberAdded && remaining > 0) {
        this.newMemberAdded = false
        const step = this.ctx.config.initialRebalanceDelayMs
        this.scheduleInitialDelay(Math.min(step, remaining), Math.max(remaining - step, 0))
        return
      }
      this.initialDelayActive = false
      this.completeJoin()
    }, delay)
  }

  private hasAllMembersJoined(): boolean {
    return this.pendingMembers.size === 0 && this.numAwaitingJoin() === this.members.size
  }

  private tryCompleteJoin(): void {
    if (this._state === GroupState.PreparingRebalance && !this.initialDelayActive && this.hasAllMembersJoined()) this.completeJoin()
  }

  private completeJoin(): void {
    if (this._state !== GroupState.PreparingRebalance) return
    this.joinTimer?.cancel()
    this.joinTimer = null
    this.initialDelayActive = false
    for (const m of [...this.members.values()]) {
      if (m.joinResponder === null && m.groupInstanceId === null) {
        this.ctx.log?.info('removing member that did not rejoin', { group: this.groupId, member: m.memberId })
        this.removeMember(m, ErrorCode.UNKNOWN_MEMBER_ID)
      }
    }
    if (this.members.size > 0 && !this.electJoinedLeader()) {
      // Only static members that have not rejoined are left: wait for them (or their session timeouts).
      this.joinTimer = this.ctx.clock.setTimeout(() => this.completeJoin(), this.rebalanceTimeoutMs)
      return
    }
    this.initNextGeneration()
    if (this.state === GroupState.Empty) {
      this.ctx.storeGroup(this, new Map(), (errorCode) => {
        // Nothing waits on it: if it is lost, the previous generation comes back after a restart and
        // its members time out.
        if (errorCode !== ErrorCode.NONE) this.ctx.log?.warn('storing empty group failed', { group: this.groupId, errorCode })
      })
      return
    }
    this.ctx.log?.info('group stabilizing', { group: this.groupId, generation: this._generationId, members: this.members.size, protocol: this._protocolName })
    for (const m of [...this.members.values()]) {
      const respond = m.joinResponder
      m.joinResponder = null
      this.scheduleSession(m, m.sessionTimeoutMs)
      m.isNew = false
      this.pendingSyncMembers.add(m.memberId)
      respond?.(this.joinResultFor(m))
    }
    const generation = this._generationId
    this.syncTimer = this.ctx.clock.setTimeout(() => this.expirePendingSync(generation), this.rebalanceTimeoutMs)
  }

  /** Makes a member that has rejoined the leader if the current one has not; false when nobody rejoined. */
  private electJoinedLeader(): boolean {
    const leader = this._leaderId === null ? undefined : this.members.get(this._leaderId)
    if (leader?.joinResponder) return true
    for (const m of this.members.values()) {
      if (m.joinResponder !== null) {
        this._leaderId = m.memberId
        return true
      }
    }
    return false
  }

  private initNextGeneration(): void {
    this._generationId++
    if (this.members.size > 0) {
      this._protocolName = this.selectProtocol()
      this.transitionTo(GroupState.CompletingRebalance)
    } else {
      this._protocolName = null
      this.transitionTo(GroupState.Empty)
    }
  }

  /**
   * Among the protocols every member supports, each member votes for the first in its own order of
   * preference; most votes wins, ties go to the protocol voted for first.
   */
  selectProtocol(): string | null {
    const all = [...this.members.values()]
    if (all.length === 0) return null
    const candidates = new Set(all[0]!.protocols.map((p) => p.name).filter((name) => all.every((m) => m.protocols.some((q) => q.name === name))))
    const votes = new Map<string, number>()
    for (const m of all) {
      const choice = m.protocols.find((p) => candidates.has(p.name))
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1)
    }
    let best: string | null = null
    let bestVotes = 0
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name
        bestVotes = n
      }
    }
    return best
  }

  private expirePendingSync(generation: number): void {
    this.syncTimer = null
    if (generation !== this._generationId) return
    if (this._state !== GroupState.CompletingRebalance && this._state !== GroupState.Stable) return
    if (this.pendingSyncMembers.size === 0) return
    const late = [...this.pendingSyncMembers]
    for (const id of late) {
      const m = this.members.get(id)
      if (m) this.removeMember(m, ErrorCode.UNKNOWN_MEMBER_ID)
    }
    this.ctx.log?.info('removed members that did not sync', { group: this.groupId, members: late })
    this.prepareRebalance('members did not send SyncGroup within the rebalance timeout')
  }

  private clearPendingSync(): void {
    this.pendingSyncMembers.clear()
    this.syncTimer?.cancel()
    this.syncTimer = null
  }

  // ---- SyncGroup ----

  sync(req: SyncRequest, respond: SyncResponder): void {
    if (this._state === GroupState.Dead) {
      respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE))
      return
    }
    let error = this.validateCurrentMember(req.memberId, req.groupInstanceId)
    if (error === ErrorCode.NONE && req.generationId !== this._generationId) error = ErrorCode.ILLEGAL_GENERATION
    if (error === ErrorCode.NONE && req.protocolType != null && req.protocolType !== this._protocolType) error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    if (error === ErrorCode.NONE && req.protocolName != null && req.protocolName !== this._protocolName) error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    if (error !== ErrorCode.NONE) {
      respond(syncError(error))
      return
    }
    const member = this.members.get(req.memberId)!
    switch (this._state) {
      case GroupState.Empty:
        respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID))
        return
      case GroupState.PreparingRebalance:
        respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS))
        return
      case GroupState.CompletingRebalance: {
        const previous = member.syncResponder
        member.syncResponder = respond
        previous?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS))
        this.pendingSyncMembers.delete(member.memberId)
        if (this._leaderId === member.memberId) this.storeAssignment(req)
        return
      }
      default:
        this.pendingSyncMembers.delete(member.memberId)
        this.scheduleSession(member, member.sessionTimeoutMs)
        respond({ errorCode: ErrorCode.NONE, protocolType: this._protocolType, protocolName: this._protocolName, assignment: member.assignment })
    }
  }

  private storeAssignment(req: SyncRequest): void {
    const assignments = new Map<string, Buffer>()
    for (const a of req.assignments) if (this.members.has(a.memberId)) assignments.set(a.memberId, a.assignment)
    for (const id of this.members.keys()) if (!assignments.has(id)) assignments.set(id, EMPTY)
    const generation = this._generationId
    this.ctx.storeGroup(this, assignments, (errorCode) => {
      // Another member may have joined meanwhile: only the same generation, still completing, moves on.
      if (this._state !== GroupState.CompletingRebalance || this._generationId !== generation) return
      if (errorCode !== ErrorCode.NONE) {
        this.resetAndPropagateAssignmentError(errorCode)
        this.maybePrepareRebalance('storing the assignment failed')
        return
      }
      for (const m of this.members.values()) m.assignment = assignments.get(m.memberId) ?? EMPTY
      this.transitionTo(GroupState.Stable)
      this.propagateAssignment(ErrorCode.NONE)
    })
  }

  private resetAndPropagateAssignmentError(errorCode: number): void {
    for (const m of this.members.values()) m.assignment = EMPTY
    this.propagateAssignment(errorCode)
  }

  private propagateAssignment(errorCode: number): void {
    for (const m of [...this.members.values()]) {
      const respond = m.syncResponder
      if (!respond) continue
      m.syncResponder = null
      // The session clock restarts once the member has its answer: it could not heartbeat while waiting.
      this.scheduleSession(m, m.sessionTimeoutMs)
      respond(
        errorCode === ErrorCode.NONE
          ? { errorCode, protocolType: this._protocolType, protocolName: this._protocolName, assignment: m.assignment }
          : syncError(errorCode),
      )
    }
  }

  // ---- Heartbeat, LeaveGroup, OffsetCommit ----

  heartbeat(generationId: number, memberId: string, groupInstanceId: string | null): number {
    if (this._state === GroupState.Dead) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    const error = this.validateCurrentMember(memberId, groupInstanceId)
    if (error !== ErrorCode.NONE) return error
    if (generationId !== this._generationId) return ErrorCode.ILLEGAL_GENERATION
    const member = this.members.get(memberId)!
    switch (this._state) {
      case GroupState.Empty:
        return ErrorCode.UNKNOWN_MEMBER_ID
      case GroupState.PreparingRebalance:
        this.scheduleSession(member, member.sessionTimeoutMs)
        return ErrorCode.REBALANCE_IN_PROGRESS
      default:
        this.scheduleSession(member, member.sessionTimeoutMs)
        return ErrorCode.NONE
    }
  }

  leave(leaving: readonly LeaveMember[]): LeaveResult {
    if (this._state === GroupState.Dead) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] }
    const members = leaving.map((l) => {
      let errorCode: number = ErrorCode.NONE
      if (l.memberId === '') {
        // Removal by group.instance.id alone (an administrator, or a static member without its id).
        const id = l.groupInstanceId === null ? undefined : this.staticMembers.get(l.groupInstanceId)
        const m = id === undefined ? undefined : this.members.get(id)
        if (m) this.removeMemberAndUpdateGroup(m, 'LeaveGroup')
        else errorCode = ErrorCode.UNKNOWN_MEMBER_ID
      } else if (this.pendingMembers.has(l.memberId)) {
        this.removePendingMember(l.memberId)
      } else {
        errorCode = this.validateCurrentMember(l.memberId, l.groupInstanceId)
        if (errorCode === ErrorCode.NONE) this.removeMemberAndUpdateGroup(this.members.get(l.memberId)!, 'LeaveGroup')
      }
      return { memberId: l.memberId, groupInstanceId: l.groupInstanceId, errorCode }
    })
    return { errorCode: ErrorCode.NONE, members }
  }

  /**
   * Whether an OffsetCommit may go ahead (Kafka's validateOffsetCommit). Commits without a member id and
   * generation (simple consumers) are accepted only while the group is Empty; a member's commit counts as
   * a heartbeat.
   */
  validateOffsetCommit(generationId: number, memberId: string, groupInstanceId: string | null): number {
    if (this._state === GroupState.Dead) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      const error = this.validateCurrentMember(memberId, groupInstanceId)
      if (error !== ErrorCode.NONE) return error
      if (generationId !== this._generationId) return ErrorCode.ILLEGAL_GENERATION
    } else if (this._state !== GroupState.Empty) {
      return ErrorCode.UNKNOWN_MEMBER_ID
    }
    switch (this._state) {
      case GroupState.CompletingRebalance:
        // Its generation is current, so it has the JoinGroup answer: it should sync first.
        return ErrorCode.REBALANCE_IN_PROGRESS
      case GroupState.Stable:
      case GroupState.PreparingRebalance: {
        // During PreparingRebalance commits still go through; the heartbeat tells the member to rejoin.
        const member = this.members.get(memberId)
        if (member) this.scheduleSession(member, member.sessionTimeoutMs)
        return ErrorCode.NONE
      }
      default:
        return ErrorCode.NONE
    }
  }

  /** Records a durable commit, unless a newer record for the same partition got there first. */
  applyOffset(topic: string, partition: number, committed: CommittedOffset): void {
    let parts = this.offsets.get(topic)
    if (!parts) {
      parts = new Map()
      this.offsets.set(topic, parts)
    }
    const current = parts.get(partition)
    if (!current || current.recordOffset < committed.recordOffset) parts.set(partition, committed)
  }

  removeOffset(topic: string, partition: number): void {
    const parts = this.offsets.get(topic)
    if (!parts) return
    parts.delete(partition)
    if (parts.size === 0) this.offsets.delete(topic)
  }

  private validateCurrentMember(memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = this.staticMembers.get(groupInstanceId)
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID
    }
    return this.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID
  }

  // ---- removal and timers ----

  private scheduleSession(member: Member, timeoutMs: number): void {
    member.sessionTimer?.cancel()
    member.sessionTimer = this.ctx.clock.setTimeout(() => this.expireSession(member), timeoutMs)
  }

  private expireSession(member: Member): void {
    member.sessionTimer = null
    if (this._state === GroupState.Dead || this.members.get(member.memberId) !== member) return
    // A member waiting in JoinGroup or SyncGroup cannot heartbeat; the rebalance timeout governs it.
    if (!member.isNew && (member.joinResponder !== null || member.syncResponder !== null)) return
    this.ctx.log?.info('member session expired', { group: this.groupId, member: member.memberId })
    this.removeMemberAndUpdateGroup(member, 'session timeout')
  }

  private expirePendingMember(memberId: string): void {
    if (!this.pendingMembers.has(memberId)) return
    this.pendingMembers.delete(memberId)
    if (this._state === GroupState.PreparingRebalance) this.tryCompleteJoin()
  }

  private removePendingMember(memberId: string): void {
    this.pendingMembers.get(memberId)?.cancel()
    this.pendingMembers.delete(memberId)
    if (this._state === GroupState.PreparingRebalance) this.tryCompleteJoin()
  }

  /** Takes a member out, answering whatever it still waits on with `errorCode`. */
  private removeMember(member: Member, errorCode: number): void {
    const join = member.joinResponder
    const sync = member.syncResponder
    member.joinResponder = null
    member.syncResponder = null
    member.sessionTimer?.cancel()
    member.sessionTimer = null
    this.members.delete(member.memberId)
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === member.memberId) this.staticMembers.delete(member.groupInstanceId)
    if (this._leaderId === member.memberId) this._leaderId = this.members.keys().next().value ?? null
    this.pendingSyncMembers.delete(member.memberId)
    join?.(joinError('', errorCode))
    sync?.(syncError(errorCode))
  }

  private removeMemberAndUpdateGroup(member: Member, reason: string): void {
    this.removeMember(member, ErrorCode.UNKNOWN_MEMBER_ID)
    switch (this._state) {
      case GroupState.Stable:
      case GroupState.CompletingRebalance:
        this.maybePrepareRebalance(`removing member ${member.memberId}: ${reason}`)
        return
      case GroupState.PreparingRebalance:
        this.tryCompleteJoin()
        return
      default:
    }
  }

  private transitionTo(state: GroupStateName): void {
    if (!validPreviousStates[state].includes(this._state)) {
      throw new Error(`group ${this.groupId}: illegal transition ${this._state} -> ${state}`)
    }
    this._state = state
    this.currentStateTimestamp = this.ctx.clock.now()
  }

  /**
   * The group leaves this coordinator (its offsets partition is unloaded) or is deleted: Dead, timers
   * cancelled, and every waiting request answered with `errorCode` so clients look for the coordinator again.
   */
  markDead(errorCode: number = ErrorCode.NOT_COORDINATOR): void {
    if (this._state === GroupState.Dead) return
    this.transitionTo(GroupState.Dead)
    this.joinTimer?.cancel()
    this.joinTimer = null
    this.clearPendingSync()
    for (const t of this.pendingMembers.values()) t.cancel()
    this.pendingMembers.clear()
    for (const m of this.members.values()) {
      m.sessionTimer?.cancel()
      m.sessionTimer = null
      const join = m.joinResponder
      const sync = m.syncResponder
      m.joinResponder = null
      m.syncResponder = null
      join?.(joinError(m.memberId, errorCode))
      sync?.(syncError(errorCode))
    }
  }
}
