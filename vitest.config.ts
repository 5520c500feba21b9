import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.long.test.ts', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    // Concurrent tests (only the scenario catalog) run two at a time; each one's timeout starts when it runs.
    maxConcurrency: 2,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
})
