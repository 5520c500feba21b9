// `faultline cleanup [RUN_DIR] [--force]`: undoes what a killed run left behind, from its ledger
// (chaos/ledger.ts): broker processes (paused ones too), the cluster's data, iptables chains and rules, and
// later proxies and containers. Without RUN_DIR it finds every ledger whose run is no longer running through
// the state directory. A run still in progress is left alone unless --force.
// Exit codes: 0 nothing left behind, 2 bad input (no ledger there, or its run is still running), 3 something
// could not be undone.

import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupLedger, cleanupStale, LEDGER_FILE, LedgerError, readLedger, type UndoOutcome } from './ledger.ts'

export interface CleanupIo {
  readonly stdout: { write(s: string): unknown }
  readonly stderr: { write(s: string): unknown }
  readonly env?: Readonly<Record<string, string | undefined>>
}

export function cleanupCommand(runDir: string | undefined, opts: { force?: boolean }, io: CleanupIo = { stdout: process.stdout, stderr: process.stderr }): number {
  const say = (line: string): void => void io.stdout.write(`${line}\n`)
  const fail = (line: string): void => void io.stderr.write(`faultline cleanup: ${line}\n`)
  let reports: readonly { readonly path: string; readonly outcomes: readonly UndoOutcome[] }[]
  if (runDir !== undefined) {
    const path = existsSync(join(runDir, LEDGER_FILE)) ? join(runDir, LEDGER_FILE) : runDir.endsWith(LEDGER_FILE) ? runDir : null
    if (path === null || !existsSync(path)) {
      if (!existsSync(runDir)) {
        fail(`${runDir}: no such directory; expected the output directory of a run (results/<name>-<time>)`)
        return 2
      }
      say(`${runDir}: nothing to clean up (no ${LEDGER_FILE}: the run ended cleanly or was cleaned up already)`)
      return 0
    }
    try {
      const state = readLedger(path)
      const r = cleanupLedger(path, { force: opts.force, env: io.env })
      if (r.skipped) {
        fail(`${runDir}: its run is still in progress (pid ${state.owner}); stop it first (Ctrl-C undoes everything), or pass --force`)
        return 2
      }
      reports = [{ path, outcomes: r.outcomes }]
    } catch (err) {
      if (err instanceof LedgerError) {
        fail(`${err.message}; expected the ledger.jsonl a run writes`)
        return 2
      }
      throw err
    }
  } else {
    const r = cleanupStale(io.env)
    reports = r.ledgers
    for (const s of r.skipped) say(`${s}: left alone, its run is still in progress`)
  }
  let failed = 0
  for (const r of reports) {
    if (r.outcomes.length === 0) say(`${r.path}: nothing was left behind`)
    for (const o of r.outcomes) {
      if (o.state === 'failed') failed++
      say(`${r.path}: ${o.detail}`)
    }
  }
  if (reports.length === 0) say('nothing to clean up: no killed run left anything behind')
  if (failed > 0) {
    fail(`${failed} resource(s) could not be undone; the ledger is kept, fix the cause and run cleanup again`)
    return 3
  }
  return 0
}
