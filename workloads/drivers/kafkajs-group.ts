// Removing a group member that kafkajs abandoned, over our own protocol client.
//
// kafkajs 2.2.4 caches the group coordinator and never looks it up again on a connection error; once the
// coordinator is dead its consumer retries the dead node until its retries run out, then restarts as a new
// member (a fresh member id). Its LeaveGroup for the old id went to the dead node, so the new coordinator
// keeps the old member until its session times out, and no generation can form before then: the whole
// group reads nothing for up to a session timeout (docs/upstream/kafkajs-coordinator-failover.md).
// A careful user leaves the group on the old member's behalf at the coordinator the group has now.

import { ErrorCode, errorName } from '../../broker/protocol/errors.ts'
import { FindCoordinator } from '../../broker/protocol/messages/find-coordinator.ts'
import { LeaveGroup } from '../../broker/protocol/messages/leave-group.ts'
import type { ConnectOptions } from '../driver.ts'
import { RawCluster } from './raw/cluster.ts'

export type LeaveOutcome =
  /** The coordinator removed the member (`gone`: it had already, UNKNOWN_MEMBER_ID). */
  | { readonly state: 'left' | 'gone'; readonly coordinator: number }
  | { readonly state: 'failed'; readonly reason: string }

/** Errors after which the group's coordinator is looked up again. */
const COORDINATOR_MOVING: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR])

/**
 * Sends LeaveGroup for `memberId` to the group's current coordinator, finding it again (and retrying every
 * `pauseMs`) while the coordinator moves or cannot be reached, until `giveUpMs` has passed or `stopped()`.
 */
export async function leaveGroupAs(
  connect: ConnectOptions,
  groupId: string,
  memberId: string,
  opts: { giveUpMs: number; pauseMs?: number; reason?: string; stopped?: () => boolean },
): Promise<LeaveOutcome> {
  const deadline = performance.now() + opts.giveUpMs
  let last = 'no attempt'
  for (;;) {
    if (opts.stopped?.()) return { state: 'failed', reason: `stopped (${last})` }
    const cluster = new RawCluster({ ...connect, requestTimeoutMs: Math.min(connect.requestTimeoutMs ?? 5000, 5000), connectTimeoutMs: Math.min(connect.connectTimeoutMs ?? 5000, 5000) }, 1)
    try {
      const any = await cluster.any()
      const found = await any.call(FindCoordinator, { key: groupId, keyType: 0, coordinatorKeys: [groupId] })
      const entry = found.coordinators.length > 0 ? found.coordinators[0]! : found
      if (entry.errorCode !== ErrorCode.NONE) {
        last = `FindCoordinator: ${errorName(entry.errorCode)}`
      } else {
        await cluster.refresh()
        const conn = await cluster.node(entry.nodeId)
        const res = await conn.call(LeaveGroup, { groupId, memberId, members: [{ memberId, groupInstanceId: null, reason: opts.reason ?? null }] })
        const code = res.errorCode !== ErrorCode.NONE ? res.errorCode : (res.members[0]?.errorCode ?? ErrorCode.NONE)
        if (code === ErrorCode.NONE) return { state: 'left', coordinator: entry.nodeId }
        if (code === ErrorCode.UNKNOWN_MEMBER_ID) return { state: 'gone', coordinator: entry.nodeId }
        last = `LeaveGroup at node ${entry.nodeId}: ${errorName(code)}`
        if (!COORDINATOR_MOVING.has(code)) return { state: 'failed', reason: last }
      }
    } catch (e) {
      last = e instanceof Error ? e.message : String(e)
    } finally {
      cluster.close()
    }
    if (performance.now() >= deadline) return { state: 'failed', reason: `gave up after ${Math.round(opts.giveUpMs / 1000)} s (${last})` }
    await new Promise((r) => setTimeout(r, opts.pauseMs ?? 250))
  }
}
