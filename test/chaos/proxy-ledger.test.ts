// Proxies on a Toxiproxy server the scenario names outlive a killed harness, so each is in the run's ledger from
// its creation to its deletion, and `faultline cleanup` (cleanupLedger) deletes what a killed run left there.
// faultline's proxy server, as a process of its own, stands in for that Toxiproxy server.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomLoopbackHost } from '../../chaos/cluster/broker-process.ts'
import { cleanupLedger, Ledger } from '../../chaos/ledger.ts'
import { checkToxiproxy, ClusterProxies, type ProxyServerProcess, startProxyServer } from '../../chaos/proxy/network.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-proxy-ledger-'))
const env = { FAULTLINE_STATE_DIR: join(root, 'state') }
let server: ProxyServerProcess
beforeAll(async () => {
  server = await startProxyServer()
})
afterAll(async () => {
  await server.stop()
  rmSync(root, { recursive: true, force: true })
})

const names = async (): Promise<string[]> => Object.keys((await (await fetch(`${server.url}/proxies`)).json()) as object).sort()
const plan = () => [
  { id: 1, host: randomLoopbackHost(), controllerPort: 30_001 },
  { id: 2, host: randomLoopbackHost() },
]

describe('proxies on a named Toxiproxy server', () => {
  it('are in the ledger while they exist, and out of it once close() deleted them', async () => {
    const ledger = Ledger.create(join(root, 'clean'), env)
    const proxies = new ClusterProxies(await checkToxiproxy(server.url), 'clean', ledger)
    await proxies.open(plan())
    expect(await names()).toEqual(['clean-broker-1', 'clean-broker-2', 'clean-controller-1'])
    expect(ledger.outstanding.map((r) => (r.kind === 'toxiproxy' ? r.proxy : r.kind)).sort()).toEqual(['clean-broker-1', 'clean-broker-2', 'clean-controller-1'])
    await proxies.close()
    expect(await names()).toEqual([])
    expect(ledger.outstanding).toEqual([])
    ledger.close()
  })

  it('left by a killed run are deleted by cleanup', async () => {
    const ledger = Ledger.create(join(root, 'killed'), env)
    await new ClusterProxies(await checkToxiproxy(server.url), 'killed', ledger).open(plan())
    expect(await names()).toHaveLength(3)
    const r = cleanupLedger(ledger.path, { force: true, env })
    expect(r.outcomes.map((o) => o.state)).toEqual(['undone', 'undone', 'undone'])
    expect(r.outcomes[0]!.detail).toMatch(/proxy in front of a broker \(proxy killed-broker-2 at http:\/\/127\.0\.0\.1:\d+\): deleted/)
    expect(await names()).toEqual([])
  })
})
