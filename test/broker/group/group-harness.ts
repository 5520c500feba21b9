// Drives a ClassicGroup by hand for the group tests: a ManualClock, member ids from a counter, and a store
// that completes at once or when the test says so (optionally with an error).

import { ManualClock } from '../../../broker/clock.ts'
import { ClassicGroup, type GroupConfig, type JoinRequest, type JoinResult, type SyncResult } from '../../../broker/group/classic-group.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'

export interface PendingStore {
  readonly assignments: ReadonlyMap<string, Buffer>
  complete(errorCode?: number): void
}

export class GroupHarness {
  readonly clock = new ManualClock()
  readonly group: ClassicGroup
  /** When false, stores wait in `pendingStores` until completed. */
  autoStore = true
  storeError: number = ErrorCode.NONE
  readonly pendingStores: PendingStore[] = []
  readonly stored: ReadonlyMap<string, Buffer>[] = []
  private seq = 0

  constructor(config: Partial<GroupConfig> = {}, groupId = 'g') {
    this.group = new ClassicGroup(groupId, {
      clock: this.clock,
      config: { initialRebalanceDelayMs: 0, maxSize: 1000, newMemberJoinTimeoutMs: 300_000, ...config },
      newMemberIdSuffix: () => String(this.seq++),
      storeGroup: (_group, assignments, done) => {
        ;(this.stored as ReadonlyMap<string, Buffer>[]).push(assignments)
        if (this.autoStore) done(this.storeError)
        else this.pendingStores.push({ assignments, complete: (e = ErrorCode.NONE) => done(e) })
      },
    })
  }

  completeStores(errorCode: number = ErrorCode.NONE): void {
    for (const s of this.pendingStores.splice(0)) s.complete(errorCode)
  }

  /** Sends a JoinGroup; the returned box fills in when the group answers. */
  join(req: Partial<JoinRequest> & { memberId?: string }): { result: JoinResult | null } {
    const box: { result: JoinResult | null } = { result: null }
    this.group.join(joinRequest(req), (r) => {
      box.result = r
    })
    return box
  }

  sync(generationId: number, memberId: string, assignments: Record<string, string> = {}, groupInstanceId: string | null = null): { result: SyncResult | null } {
    const box: { result: SyncResult | null } = { result: null }
    this.group.sync(
      { generationId, memberId, groupInstanceId, assignments: Object.entries(assignments).map(([id, a]) => ({ memberId: id, assignment: Buffer.from(a) })) },
      (r) => {
        box.result = r
      },
    )
    return box
  }

  /** Joins a dynamic member through MEMBER_ID_REQUIRED and returns its id (the join is still waiting). */
  joinNew(req: Partial<JoinRequest> = {}): { memberId: string; box: { result: JoinResult | null } } {
    const first = this.join({ ...req, memberId: '', requireKnownMemberId: true })
    if (first.result?.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) throw new Error(`expected MEMBER_ID_REQUIRED, got ${JSON.stringify(first.result)}`)
    const memberId = first.result.memberId
    return { memberId, box: this.join({ ...req, memberId, requireKnownMemberId: true }) }
  }
}

export function joinRequest(req: Partial<JoinRequest>): JoinRequest {
  return {
    memberId: '',
    groupInstanceId: null,
    requireKnownMemberId: false,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    rebalanceTimeoutMs: 20_000,
    sessionTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    ...req,
  }
}
