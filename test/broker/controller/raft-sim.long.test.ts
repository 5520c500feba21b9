// The Raft simulation of raft-sim.test.ts with longer schedules and many more of them (npm run test:long).
// FC_SEED and FC_RUNS override the seed and the number of schedules.

import fc from 'fast-check'
import { test } from 'vitest'
import { RaftSim, scheduleArb } from './raft-sim-harness.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
const numRuns = Number(process.env.FC_RUNS ?? 20_000)
console.log(`raft-sim.long.test.ts: FC_SEED=${seed} FC_RUNS=${numRuns}`)

test('the quorum keeps its safety and liveness properties over long fault schedules', async () => {
  await fc.assert(
    fc.asyncProperty(scheduleArb(80), async ({ options, events }) => {
      await new RaftSim(options).run(events)
    }),
    { seed, numRuns },
  )
}, 1_800_000)
