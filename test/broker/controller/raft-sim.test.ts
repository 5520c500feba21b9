// Deterministic simulation of the Raft quorum (see raft-sim-harness.ts for the model and the checks): fast-check
// generates schedules of proposals, crashes with lost unsynced writes, graceful restarts, partitions, one-way
// link cuts, loss, duplication, delays, slow disks and resignations for clusters of 3 and 5 voters (sometimes
// with an observer), and shrinks a failing one to a short schedule. FC_SEED and FC_RUNS override the seed and
// the number of schedules.

import fc from 'fast-check'
import { test } from 'vitest'
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
