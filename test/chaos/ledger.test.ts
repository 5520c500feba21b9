import { spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupLedger, cleanupStale, Ledger, processStartTime, readLedger, stateDir, undoResource } from '../../chaos/ledger.ts'
import { until } from '../helpers/until.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-ledger-'))
const env = { FAULTLINE_STATE_DIR: join(root, 'state') }
afterAll(() => rmSync(root, { recursive: true, force: true }))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function sleeper(marker: string): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)', marker], { stdio: 'ignore' })
}

describe('the run ledger', () => {
  it('records acquisitions and releases durably and removes itself and its pointer when all were released', () => {
    const dir = join(root, 'clean')
    const l = Ledger.create(dir, env)
    const a = l.acquire({ kind: 'directory', path: join(dir, 'x'), description: 'x' })
    l.acquire({ kind: 'directory', path: join(dir, 'y'), description: 'y' })
    l.release(a)
    expect(readLedger(l.path).outstanding.map((o) => o.resource.description)).toEqual(['y'])
    expect(readdirSync(join(stateDir(env), 'runs'))).toHaveLength(1)
    l.release(2)
    expect(l.close()).toEqual([])
    expect(existsSync(l.path)).toBe(false)
    expect(readdirSync(join(stateDir(env), 'runs'))).toHaveLength(0)
  })

  it('ignores a torn last line (the harness died mid-write)', () => {
    const dir = join(root, 'torn')
    const l = Ledger.create(dir, env)
    l.acquire({ kind: 'directory', path: join(dir, 'x'), description: 'x' })
    appendFileSync(l.path, '{"op":"release","i')
    expect(readLedger(l.path).outstanding).toHaveLength(1)
  })

  it('kills a recorded process that is still the same process, and leaves a recycled pid alone', async () => {
    const child = sleeper('faultline-ledger-test-1')
    await until('the child to start', async () => child.pid !== undefined && processStartTime(child.pid) !== null)
    const pid = child.pid!
    const other = undoResource({ kind: 'process', pid, startTime: '1', marker: 'x', description: 'a pid reused by another process' }, root)
    expect(other.state).toBe('gone')
    expect(alive(pid)).toBe(true)
    const r = undoResource({ kind: 'process', pid, startTime: processStartTime(pid), marker: 'x', description: 'sleeper' }, root)
    expect(r.state).toBe('undone')
    await new Promise((resolve) => child.once('exit', resolve))
  })

  it('never removes a directory outside the run directory', () => {
    const outside = join(root, 'outside')
    mkdirSync(outside)
    const r = undoResource({ kind: 'directory', path: outside, description: 'evil' }, join(root, 'run'))
    expect(r.state).toBe('failed')
    expect(existsSync(outside)).toBe(true)
  })

  it('cleanupStale undoes ledgers of dead owners only', async () => {
    const dir = join(root, 'stale')
    mkdirSync(join(dir, 'cluster'), { recursive: true })
    const live = Ledger.create(join(root, 'live'), env)
    // A ledger written by a process that has exited (the built module: tests run before dist/ is imported by them).
    const writer = spawn(process.execPath, ['--input-type=module', '-e', `
      const { Ledger } = await import(${JSON.stringify(new URL('../../dist/chaos/ledger.js', import.meta.url).href)});
      const l = Ledger.create(${JSON.stringify(dir)}, ${JSON.stringify(env)});
      l.acquire({ kind: 'directory', path: ${JSON.stringify(join(dir, 'cluster'))}, description: 'data' });
    `], { stdio: 'inherit' })
    const code = await new Promise((resolve) => writer.once('exit', resolve))
    expect(code).toBe(0)
    const report = cleanupStale(env)
    expect(report.ledgers.map((l) => l.path)).toEqual([join(dir, 'ledger.jsonl')])
    expect(report.skipped).toContain(live.path)
    expect(existsSync(join(dir, 'cluster'))).toBe(false)
    expect(cleanupLedger(live.path, { env }).skipped).toBe(true)
  })
})
