// Deterministic simulation of the Raft quorum (see raft-sim-harness.ts for the model and the checks): fast-check
// generates schedules of proposals, crashes with lost unsynced writes, graceful restarts, partitions, one-way
// link cuts, loss, duplication, delays, slow disks and resignations for clusters of 3 and 5 voters (sometimes
// with an observer), and shrinks a failing one to a short schedule. FC_SEED and FC_RUNS override the seed and
// the number of schedules.

import fc from 'fast-check'
import { expect, test } from 'vitest'
import { RaftSim, scheduleArb } from './raft-sim-harness.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
const numRuns = Number(process.env.FC_RUNS ?? 2000)
console.log(`raft-sim.test.ts: FC_SEED=${seed} FC_RUNS=${numRuns}`)

test('the quorum keeps election safety, log matching, leader completeness and committed entries under faults, and recovers once healed', async () => {
  await fc.assert(
    fc.asyncProperty(scheduleArb(30), async ({ options, events }) => {
      await new RaftSim(options).run(events)
    }),
    { seed, numRuns },
  )
}, 300_000)

// KIP-996 in the simulation: a voter cut off from the quorum for ten fetch timeouts (6 s simulated) comes back
// without deposing the leader. The same schedule with pre-votes off shows what they prevent: the cut-off voter
// ran its epoch up while alone, and on heal the leader stepped down to it.
const isolatedFollower = async (seed: number, preVote: boolean) => {
  const sim = new RaftSim({ voters: 3, observers: 0, seed, snapshotEvery: 0, chunkBytes: 1 << 20, fetchMaxEntries: 1000, diskLatency: [1, 1, 1], preVote })
  await sim.play([{ t: 'run', ms: 3000 }])
  const leader = [...sim.statuses().values()].find((s) => s.role === 'leader')
  if (!leader) throw new Error(`seed ${seed}: no leader after 3 s\n${sim.describe()}`)
  const isolated = leader.nodeId === 1 ? 2 : 1
  await sim.play([{ t: 'partition', sides: [1, 2, 3].map((id) => id === isolated) }, { t: 'run', ms: 6000 }])
  const cutOff = sim.statuses().get(isolated)!
  await sim.play([{ t: 'heal' }, { t: 'run', ms: 3000 }])
  return { leader, isolated, cutOff, after: sim.statuses() }
}

test('pre-vote: a voter cut off from the quorum keeps its epoch and follows the same leader after heal', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const { leader, isolated, cutOff, after } = await isolatedFollower(seed, true)
    expect(cutOff.epoch, `seed ${seed}: the cut-off voter's epoch`).toBe(leader.epoch)
    for (const s of after.values()) {
      expect({ seed, node: s.nodeId, epoch: s.epoch, leader: s.leaderId }).toEqual({ seed, node: s.nodeId, epoch: leader.epoch, leader: leader.nodeId })
    }
    expect(after.get(isolated)!.role).toBe('follower')
  }
})

test('pre-vote: a voter that lost only its link to the leader does not take over through the other follower', async () => {
  // The other follower still fetches from the leader, so it refuses the pre-vote; it would grant a real vote.
  for (let seed = 1; seed <= 20; seed++) {
    const sim = new RaftSim({ voters: 3, observers: 0, seed, snapshotEvery: 0, chunkBytes: 1 << 20, fetchMaxEntries: 1000, diskLatency: [1, 1, 1], preVote: true })
    await sim.play([{ t: 'run', ms: 3000 }])
    const leader = [...sim.statuses().values()].find((s) => s.role === 'leader')!
    const cut = leader.nodeId === 1 ? 2 : 1
    await sim.play([{ t: 'cut', from: cut - 1, to: leader.nodeId - 1 }, { t: 'cut', from: leader.nodeId - 1, to: cut - 1 }, { t: 'run', ms: 6000 }])
    const during = sim.statuses()
    expect({ seed, leader: during.get(leader.nodeId)!.role, epochs: [...during.values()].map((s) => s.epoch) }).toEqual({ seed, leader: 'leader', epochs: [leader.epoch, leader.epoch, leader.epoch] })
  }
})

test('without pre-vote the same schedule deposes the leader (what the test above guards against)', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const { leader, cutOff, after } = await isolatedFollower(seed, false)
    expect(cutOff.epoch, `seed ${seed}`).toBeGreaterThan(leader.epoch)
    expect(Math.max(...[...after.values()].map((s) => s.epoch)), `seed ${seed}`).toBeGreaterThan(leader.epoch)
  }
})
