import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { type AckResult, ackErrorCode, LeaderState } from '../../../broker/replication/leader-state.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`leader-state properties: FC_SEED=${seed}`)

const LAG = 10_000

function leader(opts: { leo?: number; isr?: number[]; replicas?: number[]; minIsr?: number; hw?: number; hold?: boolean; eligible?: (id: number) => boolean } = {}) {
  const clock = new ManualClock()
  const log = { leo: opts.leo ?? 0 }
  const hws: number[] = []
  const s = new LeaderState(
    {
      clock,
      localId: 1,
      logEndOffset: () => log.leo,
      replicaLagTimeMaxMs: LAG,
      minInsyncReplicas: opts.minIsr ?? 1,
      isEligible: opts.eligible,
      onHighWatermark: (hw) => hws.push(hw),
      holdHighWatermarkUnderMinIsr: opts.hold,
    },
    { leaderEpoch: 4, epochStartOffset: log.leo, replicas: opts.replicas ?? [1, 2, 3], isr: opts.isr ?? [1, 2, 3], highWatermark: opts.hw ?? 0 },
  )
  return { s, clock, log, hws }
}

describe('LeaderState: high watermark', () => {
  it('is the smallest log end offset in the ISR and waits for every ISR member to fetch', () => {
    const { s, log, hws } = leader({ leo: 10, hw: 4 })
    expect(s.highWatermark).toBe(4)
    expect(s.updateFollowerFetch(2, 10).highWatermarkChanged).toBe(false) // 3 has not fetched yet
    expect(s.updateFollowerFetch(3, 7).highWatermarkChanged).toBe(true)
    expect(s.highWatermark).toBe(7)
    log.leo = 15
    s.updateFollowerFetch(3, 12)
    expect(s.highWatermark).toBe(10) // 2 is at 10
    s.updateFollowerFetch(2, 15)
    expect(s.highWatermark).toBe(12)
    expect(hws).toEqual([7, 10, 12])
    // Never backwards, even if a follower reports less.
    s.updateFollowerFetch(3, 11)
    expect(s.highWatermark).toBe(12)
  })

  it('follows the log end with the leader alone in the ISR, and waits for a caught-up follower outside it', () => {
    const { s, log, clock } = leader({ isr: [1] })
    log.leo = 5
    expect(s.onLeaderAppend()).toBe(true)
    expect(s.highWatermark).toBe(5)
    // Follower 2 catches up (fetches at the log end): it now holds the high watermark back so it can join.
    s.updateFollowerFetch(2, 5)
    log.leo = 9
    s.onLeaderAppend()
    expect(s.highWatermark).toBe(5)
    expect(s.expandCandidates()).toEqual([2])
    // Once it has lagged for longer than replica.lag.time.max.ms it no longer holds it back.
    clock.advance(LAG + 1)
    s.onLeaderAppend()
    expect(s.highWatermark).toBe(9)
  })

  it('does not move while the ISR is below min.insync.replicas (Kafka 4), and does with the Kafka 3 rule', () => {
    const held = leader({ isr: [1], minIsr: 2 })
    held.log.leo = 5
    expect(held.s.onLeaderAppend()).toBe(false)
    expect(held.s.highWatermark).toBe(0)
    expect(held.s.checkEnoughReplicas(-1)).toBe(ErrorCode.NOT_ENOUGH_REPLICAS)
    expect(held.s.checkEnoughReplicas(1)).toBe(ErrorCode.NONE)
    const k3 = leader({ isr: [1], minIsr: 2, hold: false })
    k3.log.leo = 5
    expect(k3.s.onLeaderAppend()).toBe(true)
    // min.insync.replicas above the replication factor counts as the replication factor.
    const rf1 = leader({ isr: [1], replicas: [1], minIsr: 2 })
    rf1.log.leo = 3
    rf1.s.onLeaderAppend()
    expect(rf1.s.highWatermark).toBe(3)
    expect(rf1.s.checkEnoughReplicas(-1)).toBe(ErrorCode.NONE)
  })

  it('a pending expansion widens the ISR the high watermark waits for; a pending shrink keeps the old one', () => {
    const { s, log } = leader({ isr: [1, 2], leo: 10 })
    s.updateFollowerFetch(2, 10)
    expect(s.highWatermark).toBe(10)
    log.leo = 20
    s.updateFollowerFetch(3, 12)
    s.proposeIsr([1, 2, 3])
    s.updateFollowerFetch(2, 20)
    expect(s.highWatermark).toBe(12)
    s.commitIsr([1, 2, 3])
    s.proposeIsr([1, 2])
    s.updateFollowerFetch(3, 15)
    expect(s.highWatermark).toBe(15) // 3 still counts until the shrink commits
    s.commitIsr([1, 2])
    expect(s.highWatermark).toBe(20)
  })
})

describe('LeaderState: ISR changes', () => {
  it('a follower is caught up when it reaches the log end, or the log end as of its previous fetch', () => {
    const { s, clock, log } = leader({ leo: 10 })
    s.updateFollowerFetch(2, 10) // caught up at t=0
    s.updateFollowerFetch(3, 4) // behind at t=0 (leader at 10)
    clock.advance(6000)
    log.leo = 30
    s.updateFollowerFetch(3, 10) // reaches the leader's end as of its previous fetch: caught up as of t=0
    expect(s.follower(3)!.lastCaughtUpTime).toBe(0)
    clock.advance(6000)
    s.updateFollowerFetch(3, 30) // at the log end: caught up now
    expect(s.follower(3)!.lastCaughtUpTime).toBe(12_000)
    expect(s.shrinkCandidates()).toEqual([2]) // 2 last caught up 12 s ago and is behind
    s.updateFollowerFetch(2, 20) // reaches 10 (the end at its previous fetch): caught up as of t=0, still lagging
    expect(s.shrinkCandidates()).toEqual([2])
    s.updateFollowerFetch(2, 30)
    expect(s.shrinkCandidates()).toEqual([])
  })

  it('a follower joins only at or past both the high watermark and the leader epoch start offset', () => {
    const { s, log } = leader({ leo: 50, isr: [1, 2], hw: 40, eligible: (id) => id !== 4, replicas: [1, 2, 3, 4] })
    expect(s.updateFollowerFetch(3, 45).expand).toBe(false) // past the high watermark (40) but not the epoch start (50)
    expect(s.updateFollowerFetch(3, 50).expand).toBe(true)
    expect(s.updateFollowerFetch(4, 50).expand).toBe(false) // not eligible (fenced)
    log.leo = 60
    s.updateFollowerFetch(2, 60)
    expect(s.highWatermark).toBe(50) // 3 is caught up and eligible: the high watermark waits for it
    expect(s.expandCandidates()).toEqual([3])
    s.proposeIsr([1, 2, 3])
    expect(s.expandCandidates()).toEqual([]) // one change at a time
  })
})

describe('LeaderState: acks=all', () => {
  it('resolves ok once the high watermark passes the offset, timeout on the clock, not-leader on resign', async () => {
    const { s, log, clock } = leader({ leo: 0, isr: [1, 2] })
    log.leo = 3
    const a = s.waitForHighWatermark(2, 1000)
    log.leo = 5
    const b = s.waitForHighWatermark(4, 1000)
    const c = s.waitForHighWatermark(4, 50)
    s.updateFollowerFetch(2, 3)
    expect(await a).toBe('ok')
    clock.advance(60)
    expect(await c).toBe('timeout')
    s.resign()
    expect(await b).toBe('not-leader')
    expect(await s.waitForHighWatermark(9, 10)).toBe('not-leader')
    expect(s.waiting).toBe(0)
    expect(clock.pending).toBe(0)
    expect(['ok', 'timeout', 'not-leader', 'not-enough-replicas-after-append'].map((r) => ackErrorCode(r as AckResult))).toEqual([0, 7, 6, 20])
  })

  it('NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below the minimum while waiting (Kafka 3 rule)', async () => {
    const { s, log, clock } = leader({ leo: 0, isr: [1, 2], minIsr: 2, hold: false })
    expect(s.checkEnoughReplicas(-1)).toBe(ErrorCode.NONE)
    log.leo = 4
    const w = s.waitForHighWatermark(3, 100_000)
    clock.advance(LAG + 1) // follower 2 stops fetching and is shrunk out
    expect(s.shrinkCandidates()).toEqual([2])
    s.proposeIsr([1])
    s.commitIsr([1])
    expect(await w).toBe('not-enough-replicas-after-append')
    expect(s.checkEnoughReplicas(-1)).toBe(ErrorCode.NOT_ENOUGH_REPLICAS)
  })

  it('with the Kafka 4 rule the same write times out instead', async () => {
    const { s, log, clock } = leader({ leo: 0, isr: [1, 2], minIsr: 2 })
    log.leo = 4
    const w = s.waitForHighWatermark(3, 1000)
    s.commitIsr([1])
    clock.advance(1000)
    expect(await w).toBe('timeout')
  })
})

// ---- properties over random schedules ----

type Step =
  | { kind: 'append'; n: number; acks: boolean }
  | { kind: 'fetch'; replica: 2 | 3; delta: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'shrink' }
  | { kind: 'expand' }
  | { kind: 'abort' }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 5 }), acks: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('fetch' as const), replica: fc.constantFrom(2 as const, 3 as const), delta: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 8000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'shrink' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expand' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
)

describe('LeaderState properties', () => {
  it('the high watermark never decreases, never passes an ISR member, and acks=all ok means the ISR holds the write', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.subarray([2, 3]),
        async (steps, minIsr, hold, followersInIsr) => {
          const { s, log, clock } = leader({ leo: 0, isr: [1, ...followersInIsr], minIsr, hold })
          // Correct followers: their log end only grows, up to the leader's.
          const followerLeo = new Map<number, number>([
            [2, 0],
            [3, 0],
          ])
          const leoOf = (id: number) => (id === 1 ? log.leo : followerLeo.get(id)!)
          let lastHw = s.highWatermark
          const failures: string[] = []
          let pendingShrink = false
          for (const step of steps) {
            switch (step.kind) {
              case 'append': {
                if (step.acks && s.checkEnoughReplicas(-1) !== ErrorCode.NONE) break
                log.leo += step.n
                s.onLeaderAppend()
                if (step.acks) {
                  const offset = log.leo - 1
                  void s.waitForHighWatermark(offset, 20_000).then((r) => {
                    const isr = s.isr
                    if (r === 'ok' && !isr.every((id) => leoOf(id) > offset)) failures.push(`ack of ${offset} with ISR ${isr} at ${isr.map(leoOf)}`)
                    if (r === 'ok' && isr.length < s.effectiveMinIsr) failures.push(`ok below min ISR`)
                  })
                }
                break
              }
              case 'fetch': {
                const next = Math.min(log.leo, followerLeo.get(step.replica)! + step.delta)
                followerLeo.set(step.replica, next)
                s.updateFollowerFetch(step.replica, next)
                break
              }
              case 'advance':
                clock.advance(step.ms)
                break
              case 'shrink': {
                const out = s.shrinkCandidates()
                if (out.length > 0) {
                  s.proposeIsr(s.isr.filter((id) => !out.includes(id)))
                  pendingShrink = true
                }
                break
              }
              case 'expand': {
                if (pendingShrink) {
                  s.commitIsr(s.pendingIsr!)
                  pendingShrink = false
                  break
                }
                const join = s.expandCandidates()
                if (join.length > 0) s.commitIsr([...s.isr, join[0]!])
                break
              }
              case 'abort':
                s.abortIsrChange()
                pendingShrink = false
                break
            }
            await Promise.resolve()
            const hw = s.highWatermark
            if (hw < lastHw) failures.push(`high watermark went back from ${lastHw} to ${hw}`)
            lastHw = hw
            for (const id of s.maximalIsr()) if (leoOf(id) < hw) failures.push(`high watermark ${hw} past ISR member ${id} at ${leoOf(id)}`)
            expect(failures).toEqual([])
          }
          s.resign()
          await Promise.resolve()
          expect(s.waiting).toBe(0)
        },
      ),
      { seed, numRuns: 400 },
    )
  })
})
