// The run ledger: what a run acquired that would outlive the harness if it were killed (SIGKILL leaves no
// chance to undo anything): broker processes (a SIGSTOPped broker cannot notice that its parent died), the
// cluster's data directory, proxies on a Toxiproxy server the scenario named, iptables chains and rules
// (partitions), and later containers. See docs/architecture.md.
//
// One file per run, RUN_DIR/ledger.jsonl, appended and fsynced as each resource is acquired and released, so
// it is right whenever the harness dies. Each run also leaves a pointer to its ledger in the state directory
// (FAULTLINE_STATE_DIR, default ~/.local/state/faultline/runs), so the next `faultline run` or a bare
// `faultline cleanup` finds ledgers whose owner is dead without being told where the run wrote. A ledger whose
// resources were all released is deleted with its pointer when the run ends.
//
// Undoing is careful about identity: a process is killed only if the pid still belongs to the process that
// was recorded (same start time in /proc, or the recorded marker in its command line), never a recycled pid;
// a directory is removed only if it lies inside the run's directory.

import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { deleteRulesSync, removeChainSync } from './network/iptables.ts'
import { describeDockerResource, type DockerLedgerResource, undoDockerResource } from './cluster/docker-ledger.ts'

/** Something a run holds that must be undone even if the run's process is killed. */
export type LedgerResource =
  | {
      readonly kind: 'process'
      readonly pid: number
      /** /proc/PID/stat start time (clock ticks since boot); null where /proc is missing. */
      readonly startTime: string | null
      /** A string the process's command line contains (e.g. its data directory): the identity check without /proc. */
      readonly marker: string
      readonly description: string
    }
  | { readonly kind: 'directory'; readonly path: string; readonly description: string }
  /** A proxy on a Toxiproxy server that outlives the run (a server the scenario named, not faultline's own). */
  | { readonly kind: 'toxiproxy'; readonly api: string; readonly proxy: string; readonly description: string }
  /** A run's own iptables chain (faultline-<hex>) and the jump to it from OUTPUT (chaos/network/iptables.ts). */
  | { readonly kind: 'iptables-chain'; readonly chain: string; readonly description: string }
  /** A partition's DROP rules in that chain, each as iptables takes it after `-A CHAIN`. */
  | { readonly kind: 'iptables-rules'; readonly chain: string; readonly rules: readonly (readonly string[])[]; readonly description: string }
  | DockerLedgerResource

type Line =
  | { readonly op: 'open'; readonly owner: number; readonly ownerStart: string | null; readonly runDir: string; readonly at: string }
  | { readonly op: 'acquire'; readonly id: number; readonly resource: LedgerResource }
  | { readonly op: 'release'; readonly id: number }

export const LEDGER_FILE = 'ledger.jsonl'

export function stateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.FAULTLINE_STATE_DIR ?? join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'faultline')
}

/** Start time of a process from /proc (field 22 of stat), or null without /proc or when it is gone. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

/** A zombie (exited, not yet reaped: its parent died under an init that does not reap, as in some CI containers) is gone. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return true
  }
}

function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return null
  }
}

/** Whether pid is still the process that was recorded. */
function sameProcess(r: Extract<LedgerResource, { kind: 'process' }>): boolean {
  if (!processAlive(r.pid)) return false
  const now = processStartTime(r.pid)
  if (r.startTime !== null && now !== null) return now === r.startTime
  const cmd = commandLine(r.pid)
  return cmd !== null && cmd.includes(r.marker)
}

function appendSynced(path: string, line: Line): void {
  const fd = openSync(path, 'a')
  try {
    appendFileSync(fd, `${JSON.stringify(line)}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function pointerPath(runDir: string, env?: Readonly<Record<string, string | undefined>>): string {
  const name = createHash('sha256').update(resolve(runDir)).digest('hex').slice(0, 16)
  return join(stateDir(env), 'runs', `${name}.json`)
}

/** The ledger of a run in progress. Acquire when a resource exists, release when it has been undone. */
export class Ledger {
  readonly path: string
  readonly runDir: string
  private nextId = 1
  private readonly open = new Map<number, LedgerResource>()
  private readonly pointer: string
  private closed = false

  private constructor(runDir: string, env?: Readonly<Record<string, string | undefined>>) {
    this.runDir = resolve(runDir)
    this.path = join(this.runDir, LEDGER_FILE)
    this.pointer = pointerPath(this.runDir, env)
  }

  /** Starts the run's ledger (an older one in the same directory must have been cleaned up first). */
  static create(runDir: string, env?: Readonly<Record<string, string | undefined>>): Ledger {
    const l = new Ledger(runDir, env)
    mkdirSync(l.runDir, { recursive: true })
    writeFileSync(l.path, '')
    appendSynced(l.path, { op: 'open', owner: process.pid, ownerStart: processStartTime(process.pid), runDir: l.runDir, at: new Date().toISOString() })
    mkdirSync(join(l.pointer, '..'), { recursive: true })
    writeFileSync(l.pointer, `${JSON.stringify({ ledger: l.path })}\n`)
    return l
  }

  /** Records a resource; returns its id for release(). */
  acquire(resource: LedgerResource): number {
    const id = this.nextId++
    this.open.set(id, resource)
    if (!this.closed) appendSynced(this.path, { op: 'acquire', id, resource })
    return id
  }

  release(id: number): void {
    if (!this.open.delete(id) || this.closed) return
    appendSynced(this.path, { op: 'release', id })
  }

  get outstanding(): readonly LedgerResource[] {
    return [...this.open.values()]
  }

  /** At the end of the run: deletes the ledger and its pointer when nothing is outstanding; otherwise keeps both
   *  so `faultline cleanup` can finish the job. Returns what is still outstanding. */
  close(): readonly LedgerResource[] {
    if (this.closed) return this.outstanding
    this.closed = true
    if (this.open.size === 0) {
      rmSync(this.path, { force: true })
      rmSync(this.pointer, { force: true })
    }
    return this.outstanding
  }
}

export interface LedgerState {
  readonly path: string
  readonly runDir: string
  readonly owner: number
  /** The process that wrote it is still running (its run is in progress). */
  readonly ownerAlive: boolean
  readonly outstanding: readonly { readonly id: number; readonly resource: LedgerResource }[]
}

export class LedgerError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'LedgerError'
    this.code = code
  }
}

/** Reads a ledger file; a torn last line (the harness died mid-write) is ignored. */
export function readLedger(path: string): LedgerState {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new LedgerError('ERR_LEDGER_READ', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let head: Extract<Line, { op: 'open' }> | null = null
  const open = new Map<number, LedgerResource>()
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue
    let line: Line
    try {
      line = JSON.parse(raw) as Line
    } catch {
      continue
    }
    if (line.op === 'open') head = line
    else if (line.op === 'acquire') open.set(line.id, line.resource)
    else if (line.op === 'release') open.delete(line.id)
  }
  if (head === null) throw new LedgerError('ERR_LEDGER_FORMAT', `${path} is not a faultline ledger (no header line)`)
  const ownerAlive = processAlive(head.owner) && (head.ownerStart === null || processStartTime(head.owner) === head.ownerStart)
  return { path, runDir: head.runDir, owner: head.owner, ownerAlive, outstanding: [...open].map(([id, resource]) => ({ id, resource })) }
}

export interface UndoOutcome {
  readonly resource: LedgerResource
  readonly state: 'undone' | 'gone' | 'failed'
  readonly detail: string
}

function describe(r: LedgerResource): string {
  if (r.kind === 'toxiproxy') return `${r.description} (proxy ${r.proxy} at ${r.api})`
  if (r.kind === 'iptables-chain' || r.kind === 'iptables-rules') return r.description
  if (r.kind === 'docker-container' || r.kind === 'docker-network' || r.kind === 'docker-image') return describeDockerResource(r)
  return r.kind === 'process' ? `${r.description} (pid ${r.pid})` : `${r.description} (${r.path})`
}

/** DELETE /proxies/NAME on a Toxiproxy API, synchronously (cleanup is synchronous): 'deleted', 'gone' (404) or an error. */
function deleteToxiproxy(api: string, proxy: string): string {
  const script = `fetch(process.argv[1], { method: 'DELETE' }).then((r) => console.log(r.status), (e) => console.log('error ' + e.message))`
  const r = spawnSync(process.execPath, ['-e', script, `${api.replace(/\/$/, '')}/proxies/${encodeURIComponent(proxy)}`], { encoding: 'utf8', timeout: 10_000 })
  const out = (r.stdout ?? '').trim()
  if (out === '204' || out === '200') return 'deleted'
  if (out === '404') return 'gone'
  return out || r.error?.message || `exit ${r.status}`
}

/** Undoes one resource; never throws. */
export function undoResource(r: LedgerResource, runDir: string): UndoOutcome {
  try {
    if (r.kind === 'toxiproxy') {
      const res = deleteToxiproxy(r.api, r.proxy)
      if (res === 'deleted') return { resource: r, state: 'undone', detail: `${describe(r)}: deleted` }
      if (res === 'gone') return { resource: r, state: 'gone', detail: `${describe(r)}: already gone` }
      return { resource: r, state: 'failed', detail: `${describe(r)}: not deleted: ${res}` }
    }
    if (r.kind === 'process') {
      if (!sameProcess(r)) return { resource: r, state: 'gone', detail: `${describe(r)}: already gone` }
      // SIGKILL ends a stopped (SIGSTOPped) process too, without resuming it first.
      process.kill(r.pid, 'SIGKILL')
      return { resource: r, state: 'undone', detail: `${describe(r)}: killed` }
    }
    // A chain is ours by its name (faultline-<hex>, drawn per run); a rule only ever lives in such a chain.
    if (r.kind === 'iptables-chain') {
      return removeChainSync(r.chain) ? { resource: r, state: 'undone', detail: `${describe(r)}: removed` } : { resource: r, state: 'gone', detail: `${describe(r)}: already gone` }
    }
    if (r.kind === 'iptables-rules') {
      const n = deleteRulesSync(r.chain, r.rules)
      return n > 0 ? { resource: r, state: 'undone', detail: `${describe(r)}: ${n} deleted` } : { resource: r, state: 'gone', detail: `${describe(r)}: already gone` }
    }
    if (r.kind === 'docker-container' || r.kind === 'docker-network' || r.kind === 'docker-image') return { resource: r, ...undoDockerResource(r) }
    const rel = relative(runDir, resolve(r.path))
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      return { resource: r, state: 'failed', detail: `${describe(r)}: not removed: it lies outside the run's directory ${runDir}` }
    }
    if (!existsSync(r.path)) return { resource: r, state: 'gone', detail: `${describe(r)}: already gone` }
    rmSync(r.path, { recursive: true, force: true })
    return { resource: r, state: 'undone', detail: `${describe(r)}: removed` }
  } catch (err) {
    return { resource: r, state: 'failed', detail: `${describe(r)}: ${(err as Error).message}` }
  }
}

export interface CleanupReport {
  readonly ledgers: readonly { readonly path: string; readonly outcomes: readonly UndoOutcome[] }[]
  /** Ledgers left alone because their run is still in progress. */
  readonly skipped: readonly string[]
}

/** Undoes every outstanding resource of one ledger (in reverse order of acquisition) and deletes the ledger when
 *  all went well. A ledger whose owner still runs is left alone unless `force`. */
export function cleanupLedger(path: string, opts: { force?: boolean; env?: Readonly<Record<string, string | undefined>> } = {}): { outcomes: UndoOutcome[]; skipped: boolean } {
  const state = readLedger(path)
  if (state.ownerAlive && !opts.force) return { outcomes: [], skipped: true }
  const outcomes = [...state.outstanding].reverse().map((o) => undoResource(o.resource, state.runDir))
  if (outcomes.every((o) => o.state !== 'failed')) {
    rmSync(path, { force: true })
    rmSync(pointerPath(state.runDir, opts.env), { force: true })
  }
  return { outcomes, skipped: false }
}

/** Every ledger the state directory points at whose run is no longer running. */
export function cleanupStale(env?: Readonly<Record<string, string | undefined>>): CleanupReport {
  const dir = join(stateDir(env), 'runs')
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'))
  } catch {
    return { ledgers: [], skipped: [] }
  }
  const ledgers: { path: string; outcomes: UndoOutcome[] }[] = []
  const skipped: string[] = []
  for (const n of names) {
    const pointer = join(dir, n)
    let ledgerPath: string
    try {
      ledgerPath = (JSON.parse(readFileSync(pointer, 'utf8')) as { ledger: string }).ledger
    } catch {
      rmSync(pointer, { force: true })
      continue
    }
    if (!existsSync(ledgerPath)) {
      // The run's directory was deleted by hand: nothing left to read, so nothing can be undone from here.
      rmSync(pointer, { force: true })
      continue
    }
    try {
      const r = cleanupLedger(ledgerPath, { env })
      if (r.skipped) skipped.push(ledgerPath)
      else ledgers.push({ path: ledgerPath, outcomes: r.outcomes })
    } catch {
      rmSync(pointer, { force: true })
    }
  }
  return { ledgers, skipped }
}
