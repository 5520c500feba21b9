// Shared steps of the group API tests: a member that joins a group over its own connection (JoinGroup
// waits for the rebalance, so each member needs one) and syncs it.
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { JoinGroup } from '../../../broker/protocol/messages/join-group.ts'
import { SyncGroup } from '../../../broker/protocol/messages/sync-group.ts'
import type { InProcessBroker, WireClient } from '../../helpers/wire.ts'

/** Broker settings for the group API tests: no initial rebalance delay, few offsets partitions. */
export const GROUP_TEST_CONFIG = { 'group.initial.rebalance.delay.ms': '0', 'offsets.topic.num.partitions': '4' }

export const protocols = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(`sub:${name}`) }))

export interface Member {
  readonly c: WireClient
  readonly memberId: string
  readonly generationId: number
  readonly leader: string
  readonly members: readonly { memberId: string }[]
}

/** Joins with JoinGroup v5 (through MEMBER_ID_REQUIRED when dynamic); resolves once the rebalance completes. */
export async function joinMember(b: InProcessBroker, groupId: string, opts: { groupInstanceId?: string | null; sessionTimeoutMs?: number } = {}): Promise<Member> {
  const c = await b.client()
  const body = { groupId, sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: opts.groupInstanceId ?? null, protocolType: 'consumer', protocols: protocols('range') }
  let res = await c.request(JoinGroup, 5, body)
  if (res.errorCode === ErrorCode.MEMBER_ID_REQUIRED) res = await c.request(JoinGroup, 5, { ...body, memberId: res.memberId })
  if (res.errorCode !== ErrorCode.NONE) throw new Error(`JoinGroup failed with ${res.errorCode}`)
  return { c, memberId: res.memberId, generationId: res.generationId, leader: res.leader, members: res.members }
}

/** One member, joined and synced (its assignment is "all"). */
export async function stableMember(b: InProcessBroker, groupId: string, opts: { groupInstanceId?: string | null } = {}): Promise<Member> {
  const m = await joinMember(b, groupId, opts)
  const s = await m.c.request(SyncGroup, 3, { groupId, generationId: m.generationId, memberId: m.memberId, groupInstanceId: opts.groupInstanceId ?? null, assignments: [{ memberId: m.memberId, assignment: Buffer.from('all') }] })
  if (s.errorCode !== ErrorCode.NONE) throw new Error(`SyncGroup failed with ${s.errorCode}`)
  return m
}
