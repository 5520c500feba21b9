// Example-based tests of the classic group state machine, one behaviour each, on a ManualClock.
import { describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { GroupHarness } from './group-harness.ts'

const NONE = ErrorCode.NONE

/** Two dynamic members joined into generation 1 and synced with `a` as the leader. */
function stableTwo(h: GroupHarness) {
  const a = h.joinNew({ clientId: 'a' })
  const b = h.joinNew({ clientId: 'b' })
  h.clock.advance(0)
  const ra = a.box.result!
  const rb = b.box.result!
  const leader = ra.leader === a.memberId ? a : b
  const follower = leader === a ? b : a
  const sf = h.sync(1, follower.memberId)
  const sl = h.sync(1, leader.memberId, { [leader.memberId]: 'L', [follower.memberId]: 'F' })
  expect([ra.errorCode, rb.errorCode, sl.result?.errorCode, sf.result?.errorCode]).toEqual([NONE, NONE, NONE, NONE])
  return { leader: leader.memberId, follower: follower.memberId }
}

describe('joining', () => {
  test('a v4+ dynamic member first gets MEMBER_ID_REQUIRED with a fresh id, which expires after a session timeout', () => {
    const h = new GroupHarness()
    const r = h.join({ memberId: '', requireKnownMemberId: true, clientId: 'cl' })
    expect(r.result).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'cl-0', generationId: -1 })
    expect(h.group.isPending('cl-0')).toBe(true)
    expect(h.group.state).toBe('Empty')
    h.clock.advance(10_000)
    expect(h.group.isPending('cl-0')).toBe(false)
    expect(h.join({ memberId: 'cl-0', requireKnownMemberId: true }).result?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  test('the first rebalance waits group.initial.rebalance.delay.ms, longer while members keep arriving', () => {
    const h = new GroupHarness({ initialRebalanceDelayMs: 3000 })
    const a = h.join({ clientId: 'a' })
    h.clock.advance(2000)
    const b = h.join({ clientId: 'b' })
    h.clock.advance(1000)
    expect(a.result).toBeNull() // b arrived during the delay: another delay follows
    h.clock.advance(2999)
    expect(a.result).toBeNull()
    h.clock.advance(1)
    expect(a.result).toMatchObject({ errorCode: NONE, generationId: 1 })
    expect(b.result).toMatchObject({ errorCode: NONE, generationId: 1 })
    expect(a.result!.members.map((m) => m.memberId).sort()).toEqual(['a-0', 'b-1'])
    expect(b.result!.members).toEqual([])
    expect(h.group.state).toBe('CompletingRebalance')
  })

  test('the protocol most members prefer among those all support is selected', () => {
    const h = new GroupHarness()
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }))
    const a = h.join({ protocols: p('range', 'roundrobin') })
    h.join({ protocols: p('roundrobin', 'range', 'sticky') })
    h.join({ protocols: p('sticky', 'roundrobin') })
    h.clock.advance(0)
    expect(a.result).toMatchObject({ errorCode: NONE, protocolName: 'roundrobin' })
    expect(a.result!.members.map((m) => m.metadata.toString())).toEqual(['roundrobin', 'roundrobin', 'roundrobin'])
  })

  test('protocols the group cannot share, or another protocol type, are INCONSISTENT_GROUP_PROTOCOL', () => {
    const h = new GroupHarness()
    h.join({ protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })
    expect(h.join({ protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] }).result?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    expect(h.join({ protocolType: 'connect' }).result?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    expect(new GroupHarness().join({ protocols: [] }).result?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  })

  test('group.max.size turns away members beyond it', () => {
    const h = new GroupHarness({ maxSize: 2 })
    h.join({})
    h.join({})
    expect(h.join({}).result).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: '' })
    expect(h.group.size).toBe(2)
  })

  test('a follower rejoining a Stable group with the same subscription gets the generation back without a rebalance', () => {
    const h = new GroupHarness()
    const { leader, follower } = stableTwo(h)
    const r = h.join({ memberId: follower })
    expect(r.result).toMatchObject({ errorCode: NONE, generationId: 1, leader, members: [] })
    expect(h.group.state).toBe('Stable')
  })

  test('the leader rejoining, or a changed subscription, starts a rebalance', () => {
    const h = new GroupHarness()
    const { leader, follower } = stableTwo(h)
    h.join({ memberId: leader })
    expect(h.group.state).toBe('PreparingRebalance')
    expect(h.group.heartbeat(1, follower, null)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    const f = h.join({ memberId: follower, protocols: [{ name: 'range', metadata: Buffer.from('new') }] })
    expect(f.result).toMatchObject({ errorCode: NONE, generationId: 2 })
  })

  test('a second JoinGroup from the same member answers the first one', () => {
    const h = new GroupHarness({ initialRebalanceDelayMs: 100 })
    const first = h.join({})
    const id = h.group.memberIds()[0]!
    const second = h.join({ memberId: id })
    expect(first.result?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    h.clock.advance(100)
    expect(second.result).toMatchObject({ errorCode: NONE, generationId: 1, memberId: id })
  })
})

describe('rebalancing and timeouts', () => {
  test('members that do not rejoin within the rebalance timeout are dropped', () => {
    const h = new GroupHarness()
    const { leader, follower } = stableTwo(h)
    const lj = h.join({ memberId: leader })
    // The follower still heartbeats (and hears REBALANCE_IN_PROGRESS) but never rejoins.
    h.clock.advance(9000)
    expect(h.group.heartbeat(1, follower, null)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    h.clock.advance(9000)
    expect(h.group.heartbeat(1, follower, null)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    h.clock.advance(1999)
    expect(lj.result).toBeNull()
    h.clock.advance(1)
    expect(lj.result).toMatchObject({ errorCode: NONE, generationId: 2, members: [{ memberId: leader }] })
    expect(h.group.hasMember(follower)).toBe(false)
    expect(h.group.heartbeat(1, follower, null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  test('a member that stops heartbeating is removed after its session timeout; heartbeats keep it', () => {
    const h = new GroupHarness()
    const { leader, follower } = stableTwo(h)
    h.clock.advance(9000)
    expect(h.group.heartbeat(1, leader, null)).toBe(NONE)
    expect(h.group.heartbeat(1, follower, null)).toBe(NONE)
    h.clock.advance(9999)
    expect(h.group.heartbeat(1, leader, null)).toBe(NONE)
    expect(h.group.hasMember(follower)).toBe(true)
    h.clock.advance(1)
    expect(h.group.hasMember(follower)).toBe(false)
    expect(h.group.state).toBe('PreparingRebalance')
    expect(h.group.heartbeat(1, leader, null)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
  })

  test('members that do not sync within the rebalance timeout are removed and the group rebalances', () => {
    const h = new GroupHarness()
    const a = h.joinNew({ clientId: 'a' })
    const b = h.joinNew({ clientId: 'b' })
    h.clock.advance(0)
    const leader = a.box.result!.leader
    h.sync(1, leader, {})
    const other = leader === a.memberId ? b.memberId : a.memberId
    expect(h.group.state).toBe('Stable')
    for (let i = 0; i < 2; i++) {
      h.clock.advance(9000)
      expect(h.group.heartbeat(1, other, null)).toBe(NONE)
      expect(h.group.heartbeat(1, leader, null)).toBe(NONE)
    }
    h.clock.advance(1999)
    expect(h.group.hasMember(other)).toBe(true)
    h.clock.advance(1)
    expect(h.group.hasMember(other)).toBe(false)
    expect(h.group.state).toBe('PreparingRebalance')
  })

  test('a rebalance while members wait in SyncGroup answers them REBALANCE_IN_PROGRESS', () => {
    const h = new GroupHarness()
    const a = h.joinNew({})
    const b = h.joinNew({})
    h.clock.advance(0)
    const follower = a.box.result!.leader === a.memberId ? b.memberId : a.memberId
    const s = h.sync(1, follower)
    expect(s.result).toBeNull()
    h.join({}) // a newcomer
    expect(s.result).toMatchObject({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS })
  })

  test('the assignment goes out only once stored; a failed store answers the error and rebalances', () => {
    const h = new GroupHarness()
    h.autoStore = false
    const a = h.joinNew({})
    const b = h.joinNew({})
    h.clock.advance(0)
    const leader = a.box.result!.leader
    const follower = leader === a.memberId ? b.memberId : a.memberId
    const sf = h.sync(1, follower)
    const sl = h.sync(1, leader, { [leader]: 'x', [follower]: 'y' })
    expect([sl.result, sf.result]).toEqual([null, null])
    expect(h.pendingStores[0]!.assignments.get(follower)?.toString()).toBe('y')
    h.completeStores(ErrorCode.NOT_COORDINATOR)
    expect(sl.result?.errorCode).toBe(ErrorCode.NOT_COORDINATOR)
    expect(sf.result?.errorCode).toBe(ErrorCode.NOT_COORDINATOR)
    expect(h.group.state).toBe('PreparingRebalance')
  })

  test('members the leader left out get an empty assignment; a late SyncGroup in Stable gets its own at once', () => {
    const h = new GroupHarness()
    const a = h.joinNew({})
    const b = h.joinNew({})
    h.clock.advance(0)
    const leader = a.box.result!.leader
    const follower = leader === a.memberId ? b.memberId : a.memberId
    h.sync(1, leader, { [leader]: 'mine', nobody: 'x' })
    expect(h.sync(1, follower).result).toMatchObject({ errorCode: NONE, assignment: Buffer.alloc(0) })
    expect(h.sync(1, leader).result?.assignment.toString()).toBe('mine')
  })

  test('SyncGroup with a stale generation is ILLEGAL_GENERATION; from a stranger UNKNOWN_MEMBER_ID', () => {
    const h = new GroupHarness()
    const { leader } = stableTwo(h)
    expect(h.sync(0, leader).result?.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect(h.sync(1, 'who').result?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  test('leaving removes the member at once; the last one out empties the group', () => {
    const h = new GroupHarness()
    const { leader, follower } = stableTwo(h)
    expect(h.group.leave([{ memberId: follower, groupInstanceId: null }, { memberId: 'nobody', groupInstanceId: null }]).members.map((m) => m.errorCode)).toEqual([
      NONE,
      ErrorCode.UNKNOWN_MEMBER_ID,
    ])
    expect(h.group.state).toBe('PreparingRebalance')
    h.group.leave([{ memberId: leader, groupInstanceId: null }])
    expect(h.group.state).toBe('Empty')
    expect(h.group.generationId).toBe(2)
    expect(h.group.leaderId).toBeNull()
  })
})

describe('static membership', () => {
  // Sessions outlast the rebalance timeout, so a missed rebalance is not also a session expiry.
  function staticStable(h: GroupHarness) {
    const a = h.join({ groupInstanceId: 'i-a', clientId: 'a', requireKnownMemberId: true, sessionTimeoutMs: 60_000 })
    const b = h.join({ groupInstanceId: 'i-b', clientId: 'b', requireKnownMemberId: true, sessionTimeoutMs: 60_000 })
    h.clock.advance(0)
    const ida = a.result!.memberId
    const idb = b.result!.memberId
    expect(ida.startsWith('i-a-')).toBe(true)
    const leader = a.result!.leader
    h.sync(1, leader, { [ida]: 'A', [idb]: 'B' }, leader === ida ? 'i-a' : 'i-b')
    h.sync(1, leader === ida ? idb : ida, {}, leader === ida ? 'i-b' : 'i-a')
    expect(h.group.state).toBe('Stable')
    return { ida, idb, leader }
  }

  test('a restarted static member gets a new id and its old assignment without a rebalance; the old id is fenced', () => {
    const h = new GroupHarness()
    const { ida, idb, leader } = staticStable(h)
    const again = h.join({ groupInstanceId: 'i-a', memberId: '', requireKnownMemberId: true })
    const newId = again.result!.memberId
    expect(again.result).toMatchObject({ errorCode: NONE, generationId: 1, leader: leader === ida ? ida : idb, members: [] })
    expect(newId).not.toBe(ida)
    expect(h.group.state).toBe('Stable')
    expect(h.group.heartbeat(1, ida, 'i-a')).toBe(ErrorCode.FENCED_INSTANCE_ID)
    expect(h.sync(1, newId, {}, 'i-a').result).toMatchObject({ errorCode: NONE, assignment: Buffer.from('A') })
    if (leader === ida) expect(h.group.leaderId).toBe(newId)
  })

  test('a static member that misses a rebalance keeps its place; a dynamic one does not', () => {
    const h = new GroupHarness()
    const { ida, idb } = staticStable(h)
    const dyn = h.joinNew({ clientId: 'd' })
    h.clock.advance(20_000)
    expect(dyn.box.result).toMatchObject({ errorCode: NONE, generationId: 2 })
    expect(h.group.memberIds().sort()).toEqual([ida, idb, dyn.memberId].sort())
    // Now the dynamic member misses the next rebalance, while it keeps heartbeating.
    const leader2 = dyn.box.result!.leader
    h.sync(2, leader2, {}, leader2 === ida ? 'i-a' : leader2 === idb ? 'i-b' : null)
    h.join({ memberId: ida, groupInstanceId: 'i-a', protocols: [{ name: 'range', metadata: Buffer.from('changed') }] })
    h.join({ memberId: idb, groupInstanceId: 'i-b' })
    expect(h.group.state).toBe('PreparingRebalance')
    h.clock.advance(9000)
    h.group.heartbeat(2, dyn.memberId, null)
    h.clock.advance(9000)
    h.group.heartbeat(2, dyn.memberId, null)
    h.clock.advance(2000)
    expect(h.group.generationId).toBe(3)
    expect(h.group.memberIds().sort()).toEqual([ida, idb].sort())
  })

  test('LeaveGroup by instance id alone removes the instance', () => {
    const h = new GroupHarness()
    const { ida } = staticStable(h)
    expect(h.group.leave([{ memberId: '', groupInstanceId: 'i-a' }]).members[0]!.errorCode).toBe(NONE)
    expect(h.group.hasMember(ida)).toBe(false)
    expect(h.group.leave([{ memberId: '', groupInstanceId: 'i-zzz' }]).members[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })
})

describe('offset commits', () => {
  test('members of the current generation commit; stale generations and strangers are refused', () => {
    const h = new GroupHarness()
    const { leader, follower } = stableTwo(h)
    expect(h.group.validateOffsetCommit(1, leader, null)).toBe(NONE)
    expect(h.group.validateOffsetCommit(0, leader, null)).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect(h.group.validateOffsetCommit(1, 'x', null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(h.group.validateOffsetCommit(-1, '', null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    h.join({ memberId: leader })
    expect(h.group.validateOffsetCommit(1, follower, null)).toBe(NONE) // PreparingRebalance still commits
  })

  test('a member that has its new generation but has not synced gets REBALANCE_IN_PROGRESS', () => {
    const h = new GroupHarness()
    const a = h.joinNew({})
    h.clock.advance(0)
    expect(h.group.validateOffsetCommit(1, a.memberId, null)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
  })

  test('simple consumers (generation -1, no member id) commit only while the group is Empty', () => {
    const h = new GroupHarness()
    expect(h.group.validateOffsetCommit(-1, '', null)).toBe(NONE)
    h.join({})
    expect(h.group.validateOffsetCommit(-1, '', null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  test('a commit that lands after a newer one for the same partition does not overwrite it', () => {
    const h = new GroupHarness()
    const base = { leaderEpoch: -1, metadata: '', commitTimestamp: 0, expireTimestamp: -1 }
    h.group.applyOffset('t', 0, { ...base, offset: 20, recordOffset: 5 })
    h.group.applyOffset('t', 0, { ...base, offset: 10, recordOffset: 4 })
    expect(h.group.offsets.get('t')?.get(0)?.offset).toBe(20)
  })
})

describe('unloading', () => {
  test('markDead answers everything waiting with NOT_COORDINATOR and cancels timers', () => {
    const h = new GroupHarness({ initialRebalanceDelayMs: 1000 })
    const j = h.join({})
    h.group.markDead()
    expect(j.result?.errorCode).toBe(ErrorCode.NOT_COORDINATOR)
    expect(h.group.state).toBe('Dead')
    expect(h.clock.pending).toBe(0)
    expect(h.join({}).result?.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
  })
})
