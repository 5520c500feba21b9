// `--duration D` for `faultline run` and `faultline validate`: the scenario, shorter or longer.
//
// D replaces workload.duration. A shorter run keeps its shape: the warmup and the backlog size scale by
// D / duration, so the backlog still piles up and drains within the run. The warmup always stays under half
// of D (a quarter of D when scaling alone would not get it there). Faults keep their times, because when
// and how long a fault lasts is the experiment (a 10 s outage scaled to 2 s no longer outlasts failure
// detection): a fault that does not end within D is refused, naming the shortest D that keeps every fault.
// The result goes through the scenario's cross-field rules like a written file (schema.ts ParseOptions).

import { faultEndMs } from '../chaos/faults.ts'
import { faultEntryIndex, type Scenario, type ScenarioAdjustment } from './schema.ts'
import { formatDuration, formatSize, parseDuration } from './units.ts'

export interface DurationOverride {
  readonly scenario: Scenario
  /** What changed, one line each, for the user. */
  readonly notes: readonly string[]
  readonly problems: readonly { readonly path: readonly (string | number)[]; readonly message: string }[]
}

/** The shortest --duration that keeps every fault (a fault that lasts until the end gets 1 s); 0 without faults. */
export function faultsNeedMs(s: Scenario): number {
  return Math.max(0, ...s.faults.map((f) => faultEndMs(f) ?? f.atMs + 1000))
}

export function overrideDuration(s: Scenario, durationMs: number): DurationOverride {
  const w = s.workload
  const flag = `--duration ${formatDuration(durationMs)}`
  const fmt = formatDuration
  if (durationMs === w.durationMs) return { scenario: s, notes: [], problems: [] }

  const problems: { path: (string | number)[]; message: string }[] = []
  const need = faultsNeedMs(s)
  s.faults.forEach((f, i) => {
    const end = faultEndMs(f)
    if (f.atMs < durationMs && (end === null || end <= durationMs)) return
    const span = end === null ? `from ${fmt(f.atMs)}` : `from ${fmt(f.atMs)} to ${fmt(end)}`
    problems.push({
      path: ['faults', faultEntryIndex(s, i), 'at'],
      message: `${f.name} (${span}) does not fit in a run of ${flag}; faults keep their times, so expected --duration ${fmt(need)} or more, or no --duration`,
    })
  })
  if (problems.length > 0) return { scenario: s, notes: [], problems }

  const factor = durationMs / w.durationMs
  const notes = [`${flag}: workload.duration ${fmt(w.durationMs)} -> ${fmt(durationMs)}`]
  let warmupMs = factor < 1 ? Math.round(w.warmupMs * factor) : w.warmupMs
  if (warmupMs >= durationMs / 2) warmupMs = Math.round(durationMs / 4)
  if (warmupMs !== w.warmupMs) notes.push(`${flag}: workload.warmup ${fmt(w.warmupMs)} -> ${fmt(warmupMs)}`)
  let backlog = w.backlog
  if (backlog !== null && factor < 1) {
    // Whole KiB, so it prints as a size a user would write.
    const bytes = Math.max(1024, Math.round((backlog.bytes * factor) / 1024) * 1024)
    notes.push(`${flag}: workload.backlog.size ${formatSize(backlog.bytes)} -> ${formatSize(bytes)}`)
    backlog = { ...backlog, bytes }
  }
  return { scenario: { ...s, workload: { ...w, durationMs, warmupMs, backlog } }, notes, problems: [] }
}

/** The override as a schema adjustment; `notes` collects what it changed. */
export function durationAdjustment(durationMs: number, notes: string[]): ScenarioAdjustment {
  return (s) => {
    const o = overrideDuration(s, durationMs)
    notes.push(...o.notes)
    return o
  }
}

/** The --duration flag's value in ms, or what is wrong with it. */
export function parseDurationFlag(text: string): { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly message: string } {
  const r = parseDuration(text)
  if (!r.ok) return { ok: false, message: `--duration ${JSON.stringify(text)} ${r.problem}; expected ${r.expected}` }
  if (r.value === 0) return { ok: false, message: `--duration ${JSON.stringify(text)} is zero; expected a run length above 0, like 10s` }
  return { ok: true, ms: r.value }
}

/** For usage texts. */
export const DURATION_FLAG_HELP = [
  '  --duration D  run for D (like 10s) instead of workload.duration. A shorter run keeps its shape: the',
  '                warmup and the backlog size scale by D/duration, and the warmup stays under half of D.',
  '                Faults keep their times: a fault that does not end within D is refused (exit 2).',
].join('\n')
