// Polling for tests that wait on a cluster: `until(what, probe)` calls probe every 100 ms until it returns
// something other than undefined or false, and fails naming `what` (and the probe's last error) after timeoutMs.
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    const v = await probe().catch((e: unknown) => {
      last = e
      return undefined
    })
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`)
    await sleep(100)
  }
}
