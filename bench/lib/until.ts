// Waiting for a condition instead of for a fixed time, for the tests (test/helpers/until.ts re-exports this) and
// the bench, which may not import test/. `until(what, probe)` calls probe (sync or async) every intervalMs
// until it returns something other than undefined or false, and returns that; after timeoutMs it fails naming
// `what` and the probe's last error. A probe that throws counts as "not yet".
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export interface UntilOptions {
  /** Default 30 s. */
  readonly timeoutMs?: number
  /** Default 100 ms, for probes that ask a cluster; in-process state can be polled every few ms. */
  readonly intervalMs?: number
}

export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, options: number | UntilOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 100 } = typeof options === 'number' ? { timeoutMs: options } : options
  // Monotonic, so a test that fakes Date still gets its timeout.
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    const v = await Promise.resolve()
      .then(probe)
      .catch((e: unknown) => {
        last = e
        return undefined
      })
    if (v !== undefined && v !== false) return v
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`)
    await sleep(intervalMs)
  }
}
