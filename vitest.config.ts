import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

// The longest files first, so that the scenario catalog (a third of the suite's time in one file) does not start
// last and leave one worker idle at the end: a fresh clone has no timing cache, and vitest then starts the
// largest files first, which the catalog is not. The rest keep vitest's order.
const FIRST = ['test/e2e/scenarios.test.ts', 'test/scenarios/leader-kill-recovery.test.ts', 'test/e2e/quickstart.test.ts', 'test/scenarios/workers.test.ts', 'test/e2e/explore.test.ts', 'test/scenarios/security.test.ts']
class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const rank = (f: TestSpecification) => {
      const i = FIRST.findIndex((p) => f.moduleId.endsWith(p))
      return i < 0 ? FIRST.length : i
    }
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((x) => x.f)
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.long.test.ts', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    // vitest's default is one worker per core minus one: a single worker on a 2-core machine. Most files wait
    // on brokers, clients and schedules (the whole suite used under half a core on average), so two share the
    // cores without crowding each other.
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    // Concurrent tests (only the scenario catalog) run two at a time; each one's timeout starts when it runs.
    maxConcurrency: 2,
    hookTimeout: 60_000,
    reporters: ['default'],
    sequence: { sequencer: SlowFirst },
  },
})
