import { defineConfig } from 'vitest/config'

// Soak and long exploration runs: `npm run test:long`.
export default defineConfig({
  test: {
    include: ['test/**/*.long.test.ts'],
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 120_000,
    passWithNoTests: true,
    // describe.concurrent files (the catalog with every driver): two whole runs at a time on 2 cores.
    maxConcurrency: 2,
  },
})
