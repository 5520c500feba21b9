// Every file in scenarios/ runs: `faultline run FILE --duration 10s` as a real process reaches a verdict
// (exit 0 or 1, results.json written), so a shipped example can never again be refused. The directory is
// listed, so a new scenario file is included without touching this test. Files run one after another.
//
// The duration is 10 s, or longer where a file's faults need it (--duration keeps fault times). Backlog
// files need nothing special: a shorter run scales the backlog with the duration (scenarios/duration.ts).

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { readResults } from '../../reports/results.ts'
import { faultsNeedMs } from '../../scenarios/duration.ts'
import { loadScenario } from '../../scenarios/schema.ts'
import { formatDuration } from '../../scenarios/units.ts'
import { cli, processesUsing } from './cli.ts'

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../scenarios')
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
const root = mkdtempSync(join(tmpdir(), 'faultline-scenarios-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const durationFor = (path: string): string => formatDuration(Math.max(10_000, faultsNeedMs(loadScenario(path))))

describe('every shipped scenario', () => {
  for (const file of files) {
    const path = join(dir, file)
    const out = join(root, file.replace(/\.ya?ml$/, ''))

    it(`runs ${file} to a verdict`, async () => {
      const duration = durationFor(path)
      const run = await cli(['run', path, '--duration', duration, '--out', out, '--seed', '1'])
      expect([0, 1], run.stderr).toContain(run.code)
      const r = readResults(join(out, 'results.json'))
      expect(run.code).toBe(r.verdict.state === 'passed' ? 0 : 1)
      if (r.verdict.state !== 'passed') console.log(`${file} at --duration ${duration}: ${r.verdict.state}: ${r.verdict.reasons.join('; ')}`)
      expect(r.scenario.name).toBe(loadScenario(path).name)
      expect(r.history.complete).toBe(true)
      expect(r.metrics.totals.acked).toBeGreaterThan(0)
      expect(existsSync(join(out, 'results.md'))).toBe(true)
      expect(processesUsing(out)).toEqual([])
    }, 180_000)
  }
})
