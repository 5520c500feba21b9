// Test helpers around chaos/cluster's BrokerProcess: a reference broker as a real process on its own
// loopback address, with a port chosen by the OS.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BrokerProcess, randomLoopbackHost } from '../../chaos/cluster/broker-process.ts'

export type { BrokerProcess } from '../../chaos/cluster/broker-process.ts'

export interface StartOptions {
  host?: string
  /** Port to bind; 0 (default) lets the OS choose. Restarts should pass the previous port. */
  port?: number
  nodeId?: number
  dataDir?: string
  overrides?: Record<string, string | number | boolean>
  timeoutMs?: number
}

export const loopbackHost = randomLoopbackHost

export function tempDir(prefix = 'faultline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export async function startBroker(opts: StartOptions = {}): Promise<BrokerProcess> {
  const b = new BrokerProcess({
    nodeId: opts.nodeId ?? 1,
    host: opts.host ?? loopbackHost(),
    port: opts.port ?? 0,
    dataDir: opts.dataDir ?? tempDir(),
    overrides: opts.overrides,
    startTimeoutMs: opts.timeoutMs,
  })
  await b.start()
  return b
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
