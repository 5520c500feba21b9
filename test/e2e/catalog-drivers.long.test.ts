// The whole catalog at full length with every driver that claims consumer groups (npm test runs each file
// once, short, with the drivers taken in turn: test/e2e/scenarios.test.ts). Each run must hold what a
// catalog file promises (test/e2e/catalog.ts). Two runs at a time (maxConcurrency in vitest.long.config.ts).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadScenario } from '../../scenarios/schema.ts'
import { dockerTitle, ensureDockerEngine } from '../helpers/docker.ts'
import { catalogDir, catalogFiles, expectCatalogHolds, groupDrivers, runCatalogFile } from './catalog.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-catalog-drivers-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
// Combinations that fail for a reason found and not yet fixed: skipped with the reason in the test's name, so the
// output says it. Remove an entry once its cause is fixed.
const knownFailures: Record<string, string> = {}

const docker = catalogFiles.some((f) => loadScenario(join(catalogDir, f)).cluster.backend === 'docker') ? await ensureDockerEngine() : null

for (const driver of groupDrivers) {
  describe.concurrent(`the catalog at full length with the ${driver} driver`, () => {
    for (const file of catalogFiles) {
      const needsDocker = loadScenario(join(catalogDir, file)).cluster.backend === 'docker'
      const known = knownFailures[`${driver} ${file}`]
      const title = known ? `${file} (skipped: ${known})` : needsDocker && docker ? dockerTitle(file, docker) : file
      it.skipIf((needsDocker && !docker?.ok) || known !== undefined)(title, async (ctx) => {
        const out = join(root, driver, file.replace(/\.ya?ml$/, ''))
        const { results, refused } = await runCatalogFile(file, out, { driver })
        if (results === null) return ctx.skip(`${file}: the ${driver} driver was refused: ${refused}`)
        expect(results.run.driver).toBe(driver)
        expectCatalogHolds(`${file} (${driver}, full length)`, out, results)
      }, 15 * 60_000)
    }
  })
}
