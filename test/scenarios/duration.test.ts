import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { validateCommand } from '../../scenarios/commands.ts'
import { durationAdjustment, overrideDuration, parseDurationFlag } from '../../scenarios/duration.ts'
import { runCommand, type RunIo } from '../../scenarios/runner-command.ts'
import { loadScenario, parseScenario, ScenarioError } from '../../scenarios/schema.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-duration-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const scenario = (workload: string, extra = '') =>
  parseScenario(`name: t\ncluster: { backend: local, brokers: 2 }\ntopics: [ { name: a, partitions: 2 } ]\nworkload:\n  ${workload}\n${extra}`, 'test.yaml')

function capture() {
  const out = { stdout: '', stderr: '' }
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => ((out.stderr += s), true) } } }
}

describe('--duration', () => {
  it('shortens a run keeping its shape: warmup and backlog scale with it', () => {
    const o = overrideDuration(loadScenario('scenarios/backlog-drain.yaml'), 10_000)
    expect(o.problems).toEqual([])
    expect(o.scenario.workload).toMatchObject({ durationMs: 10_000, warmupMs: 833, backlog: { bytes: 10_923 * 1024, drainFraction: 1 } })
    expect(o.notes).toEqual([
      '--duration 10s: workload.duration 2m -> 10s',
      '--duration 10s: workload.warmup 10s -> 833ms',
      '--duration 10s: workload.backlog.size 128MiB -> 10923KiB',
    ])
    const quick = overrideDuration(loadScenario('scenarios/quickstart.yaml'), 15_000)
    expect(quick.scenario.workload).toMatchObject({ durationMs: 15_000, warmupMs: 3750 })
  })

  it('keeps the warmup under half of the run, a quarter when scaling alone would not', () => {
    const long = scenario('duration: 20s\n  warmup: 15s\n  producers: { rate: 10/s }')
    expect(overrideDuration(long, 10_000).scenario.workload.warmupMs).toBe(2500)
    expect(overrideDuration(long, 25_000).scenario.workload.warmupMs).toBe(6250)
    expect(overrideDuration(long, 25_000).notes).toContain('--duration 25s: workload.warmup 15s -> 6s250ms')
  })

  it('lengthens a run without touching the warmup or the backlog', () => {
    const s = loadScenario('scenarios/backlog-drain.yaml')
    const o = overrideDuration(s, 600_000)
    expect(o.scenario.workload).toEqual({ ...s.workload, durationMs: 600_000 })
    expect(o.notes).toEqual(['--duration 10m: workload.duration 2m -> 10m'])
    expect(overrideDuration(s, s.workload.durationMs)).toEqual({ scenario: s, notes: [], problems: [] })
  })

  it('keeps faults at their times and refuses one that no longer fits, naming the duration that would', () => {
    const s = scenario('duration: 1m\n  producers: { rate: 10/s }', 'faults:\n  - { at: 5s, kill: 1, restartAfter: 3s }\n  - { name: late, at: 20s, pause: 2, duration: 10s }\n  - { at: 40s, kill: 2 }\n')
    const fits = overrideDuration(s, 45_000)
    expect(fits.problems).toEqual([])
    expect(fits.scenario.faults).toEqual(s.faults)
    const o = overrideDuration(s, 25_000)
    expect(o.problems).toEqual([
      { path: ['faults', 1, 'at'], message: 'late (from 20s to 30s) does not fit in a run of --duration 25s; faults keep their times, so expected --duration 41s or more, or no --duration' },
      { path: ['faults', 2, 'at'], message: 'kill-2 (from 40s) does not fit in a run of --duration 25s; faults keep their times, so expected --duration 41s or more, or no --duration' },
    ])
    expect(o.scenario).toBe(s)
  })

  it('is judged by the cross-field rules like a written file, with positions in the file', () => {
    const notes: string[] = []
    let err: unknown
    try {
      loadScenario('scenarios/leader-kill.yaml', { adjust: durationAdjustment(10_000, notes) })
    } catch (e) {
      err = e
    }
    expect(ScenarioError.is(err)).toBe(true)
    expect((err as ScenarioError).message).toMatch(/^scenarios\/leader-kill\.yaml:23:11: faults\[0\]\.at: kill-0 \(from 20s to 30s\) does not fit in a run of --duration 10s; .* expected --duration 45s or more/m)
    expect(notes).toEqual([])
    // A backlog that only just fits, rounded up to whole KiB when halved, no longer does.
    const edge = 'name: t\ntopics: [ { name: a } ]\nworkload: { duration: 10s, producers: { rate: 1000/s, messageSize: 1KiB }, consumers: { groups: 1 }, backlog: { size: 10239000B } }\n'
    expect(parseScenario(edge, 'edge.yaml').workload.backlog?.bytes).toBe(10_239_000)
    expect(() => parseScenario(edge, 'edge.yaml', { adjust: durationAdjustment(5000, notes) })).toThrow(/^edge\.yaml:3:\d+: workload\.backlog\.size: takes about 5s to pile up .* longer than the 5s after warmup/)
    notes.length = 0
    // A file that is invalid as written is reported as written, before any override.
    expect(() => parseScenario('name: t\ntopics: [ { name: a } ]\nworkload: { duration: 10s, warmup: 20s, producers: { rate: 1/s } }\n', 'w.yaml', { adjust: durationAdjustment(100_000, notes) })).toThrow(
      /workload\.warmup: got 20s with workload\.duration 10s/,
    )
    expect(notes).toEqual([])
  })

  it('parses the flag: a duration with a unit, above zero', () => {
    expect(parseDurationFlag('1m30s')).toEqual({ ok: true, ms: 90_000 })
    expect(parseDurationFlag('10')).toMatchObject({ ok: false, message: expect.stringMatching(/^--duration "10" has no unit/) })
    expect(parseDurationFlag('0s')).toMatchObject({ ok: false, message: expect.stringMatching(/is zero/) })
  })

  it('validate --duration judges what run --duration would run', () => {
    const ok = capture()
    expect(validateCommand('scenarios/quickstart.yaml', ok.io, { duration: '10s' })).toBe(0)
    expect(ok.out.stdout).toBe(
      '--duration 10s: workload.duration 20s -> 10s\n--duration 10s: workload.warmup 5s -> 2s500ms\nok scenarios/quickstart.yaml: quickstart (local, 1 broker); 1 topic, 3 partitions; 10s with 2s500ms warmup; 1 producer group at 1000/s; 1 consumer group; 0 faults; 5 delivery checks, 4 SLOs\n',
    )
    const bad = capture()
    expect(validateCommand('scenarios/leader-kill.yaml', bad.io, { duration: '10s' })).toBe(2)
    expect(bad.out.stderr).toMatch(/leader-kill\.yaml with --duration 10s: 2 problems; nothing was run/)
    const flag = capture()
    expect(validateCommand('scenarios/quickstart.yaml', flag.io, { duration: 'soon' })).toBe(2)
    expect(flag.out.stderr).toMatch(/^faultline validate: --duration "soon" /)
  })

  it('run --duration refuses a fault that does not fit with exit 2, running nothing', async () => {
    const c = capture()
    const out = join(tmp, 'never')
    expect(await runCommand('scenarios/leader-kill.yaml', { out, duration: '10s', quiet: true }, c.io as unknown as { stdout: RunIo['stdout']; stderr: RunIo['stderr'] })).toBe(2)
    expect(c.out.stderr).toMatch(/faults\[1\]\.at: partition-1 \(from 35s to 45s\) does not fit/)
    expect(c.out.stderr).toMatch(/leader-kill\.yaml with --duration 10s is not a valid scenario; nothing was run \(`faultline validate scenarios\/leader-kill\.yaml --duration 10s` checks it/)
    expect(existsSync(out)).toBe(false)
    const flag = capture()
    expect(await runCommand('scenarios/quickstart.yaml', { out, duration: '-1s' }, flag.io as unknown as { stdout: RunIo['stdout']; stderr: RunIo['stderr'] })).toBe(2)
    expect(flag.out.stderr).toMatch(/^faultline run: --duration "-1s" is negative/)
  })
})
