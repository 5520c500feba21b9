// The regression verdict's A/A false-alarm rate as a bench section (bench/regression.ts does the work and also
// runs the A/B measurement on its own): a pool of runs of bench/scenarios/regression-short.yaml, then 20
// comparisons of 5 against 5 runs drawn from it at the default thresholds.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadRunSet } from '../reports/compare.ts'
import { type BenchContext, ratioFigure, type Section, type SectionOutput } from './lib/report.ts'
import { AA_SCENARIO, formatRates, makePool, measureRates } from './regression.ts'

const GOAL = 0.01

export const regressionSection: Section = {
  name: 'regression',
  summary: 'faultline compare A/A false alarms: 20 comparisons of 5 vs 5 runs of a short scenario (goal under 1% of metric verdicts)',
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const runs = ctx.quick ? 10 : 20
    const pool = join(mkdtempSync(join(tmpdir(), 'faultline-bench-regression-')), 'pool')
    const command = makePool(AA_SCENARIO, pool, runs, 1, ctx.log)
    const r = measureRates('aa', loadRunSet(pool), null, { comparisons: 20, repeat: 5, seed: 1, burn: null, commands: [command], scenario: AA_SCENARIO })
    return {
      figures: [
        {
          ...ratioFigure({
            key: 'regression.aa.falseAlarms',
            label: 'A/A metric verdicts regressed',
            unit: 'fraction',
            value: r.falseAlarmRate,
            ceiling: { label: 'goal', value: GOAL },
            lowerIsBetter: true,
            goal: 1,
          }),
          detail: { verdicts: r.verdicts, runs, comparisons: r.comparisons },
        },
      ],
      notes: formatRates(r).split('\n').slice(1).map((l) => l.trim()),
    }
  },
}
