import { defineConfig } from 'vitest/config'

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
  },
})
