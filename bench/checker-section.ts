// Section "checker": the delivery checker's benchmark (bench/checker.ts, its owner's file) run from `npm run
// bench`. Goal from its issue: 10M operations checked in under 60 s and 1 GiB. The same run's history
// generation rate (HistoryWriter writing the same events) is the machine baseline the check rate is set
// beside, and the 1 GiB budget is the ceiling of the peak-RSS figure.

import { benchChecker } from './checker.ts'
import { ratioFigure, type BenchContext, type Section, type SectionOutput } from './lib/report.ts'

const GOAL_EVENTS = 10_000_000
const GOAL_SECONDS = 60
const GOAL_RSS_BYTES = 1024 ** 3

export const checkerSection: Section = {
  name: 'checker',
  summary: 'delivery checker over a generated history (bench/checker.ts): 10M operations, 60 s, 1 GiB',
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const n = ctx.quick ? 500_000 : GOAL_EVENTS
    ctx.log(`checker: generating and checking ${n.toLocaleString('en-US')} operations`)
    const r = await benchChecker(n)
    const goalRate = GOAL_EVENTS / GOAL_SECONDS
    const mib = (b: number): number => b / 2 ** 20
    return {
      figures: [
        ratioFigure({
          key: 'checker.rate',
          label: `delivery checker, ${r.events.toLocaleString('en-US')} events`,
          unit: 'events/s',
          value: r.eventsPerSecond,
          ceiling: { label: 'HistoryWriter writing them, same run', value: r.writeEventsPerSecond },
          target: { label: `>= ${Math.round(goalRate).toLocaleString('en-US')}/s (10M in 60 s)`, met: r.eventsPerSecond >= goalRate },
          detail: { seconds: r.seconds, cpuSeconds: r.cpuSeconds, eventsPerCpuSecond: r.events / r.cpuSeconds, historyBytes: r.historyBytes, anomaliesFound: r.anomaliesFound, mode: r.mode },
        }),
        ratioFigure({
          key: 'checker.rss',
          label: '  delivery checker peak RSS',
          unit: 'MiB',
          value: mib(r.peakRssBytes),
          ceiling: { label: 'budget', value: mib(GOAL_RSS_BYTES) },
          goal: 1,
          lowerIsBetter: true,
        }),
      ],
      notes: [
        `${r.mode} mode, ${r.values.toLocaleString('en-US')} values, ${(r.historyBytes / 2 ** 20).toFixed(0)} MiB history; check ${r.seconds.toFixed(1)} s wall, ` +
          `${r.cpuSeconds.toFixed(1)} s CPU; generation ${r.writeSeconds.toFixed(1)} s; ${r.anomaliesFound} injected anomalies found.` +
          (ctx.quick ? ' Quick run: fewer operations than the goal, the rate is what is judged.' : ''),
      ],
    }
  },
}
