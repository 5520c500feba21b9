// The teardown stack: every resource a run acquires (a cluster, a topic, a client, an applied fault, later
// iptables rules, proxies and containers) registers its undo the moment it exists, and one unwinder runs the
// undos in reverse order on success, failure, Ctrl-C and timeout. Each step is bounded in time (a hung close
// cannot hold the run forever) and logged with how long it took and how it ended. Resources that would
// outlive a killed harness are also recorded in the run's ledger (chaos/ledger.ts) until their undo has run.
// See docs/architecture.md.

import type { Ledger, LedgerResource } from './ledger.ts'

export interface TeardownStep {
  readonly name: string
  readonly state: 'done' | 'failed' | 'timed-out'
  readonly ms: number
  readonly error?: string
}

export interface TeardownOptions {
  /** Upper bound for this undo; default 10 s. */
  readonly timeoutMs?: number
  /** Also recorded in the ledger until the undo has run (for what outlives a killed harness). */
  readonly ledger?: LedgerResource
}

/** Runs an undo early (a fault healed on schedule); it is then no longer on the stack. */
export type Release = () => Promise<TeardownStep | null>

interface Entry {
  readonly name: string
  readonly undo: () => unknown
  readonly timeoutMs: number
  readonly ledgerId: number | null
  done: boolean
}

const DEFAULT_TIMEOUT_MS = 10_000

export class TeardownStack {
  private readonly entries: Entry[] = []
  private readonly ledger: Ledger | null
  private readonly log: (line: string, step: TeardownStep) => void
  private unwinding: Promise<TeardownStep[]> | null = null

  constructor(opts: { ledger?: Ledger | null; log?: (line: string, step: TeardownStep) => void } = {}) {
    this.ledger = opts.ledger ?? null
    this.log = opts.log ?? (() => {})
  }

  get size(): number {
    return this.entries.filter((e) => !e.done).length
  }

  /** Registers the undo of something just acquired. After unwind() has begun, the undo runs at once. */
  add(name: string, undo: () => unknown, opts: TeardownOptions = {}): Release {
    const entry: Entry = {
      name,
      undo,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ledgerId: opts.ledger && this.ledger ? this.ledger.acquire(opts.ledger) : null,
      done: false,
    }
    if (this.unwinding) {
      // Acquired while the run was already being torn down (a close racing a late start): undo it now.
      void this.runStep(entry)
      return async () => null
    }
    this.entries.push(entry)
    return async () => (entry.done ? null : this.runStep(entry))
  }

  /** Runs every outstanding undo, last acquired first; resolves when all have ended or timed out. Idempotent. */
  unwind(): Promise<TeardownStep[]> {
    this.unwinding ??= (async () => {
      const steps: TeardownStep[] = []
      for (let i = this.entries.length - 1; i >= 0; i--) {
        const e = this.entries[i]!
        if (e.done) continue
        steps.push(await this.runStep(e))
      }
      return steps
    })()
    return this.unwinding
  }

  private async runStep(e: Entry): Promise<TeardownStep> {
    e.done = true
    const t0 = performance.now()
    let timer: NodeJS.Timeout | undefined
    const timedOut = Symbol('timeout')
    let step: TeardownStep
    try {
      const r = await Promise.race([
        Promise.resolve().then(() => e.undo()),
        new Promise<typeof timedOut>((resolve) => (timer = setTimeout(() => resolve(timedOut), e.timeoutMs))),
      ])
      const ms = performance.now() - t0
      step = r === timedOut ? { name: e.name, state: 'timed-out', ms, error: `did not finish within ${e.timeoutMs} ms` } : { name: e.name, state: 'done', ms }
    } catch (err) {
      step = { name: e.name, state: 'failed', ms: performance.now() - t0, error: err instanceof Error ? err.message : String(err) }
    } finally {
      clearTimeout(timer)
    }
    // A resource whose undo did not finish stays in the ledger for `faultline cleanup`.
    if (step.state === 'done' && e.ledgerId !== null) this.ledger!.release(e.ledgerId)
    this.log(`teardown: ${step.name}: ${step.state}${step.error ? ` (${step.error})` : ''} in ${(step.ms / 1000).toFixed(2)} s`, step)
    return step
  }
}
