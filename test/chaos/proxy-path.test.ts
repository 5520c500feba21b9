// The proxy path end to end: faultline's proxy server as a child process, a proxy in front of each listener of a
// real 2-broker cluster, driven with toxiproxy-node-client (ClusterProxies). The brokers advertise the proxies,
// so metadata never names a broker's own port; faults applied through the proxies reach a real Kafka client as
// they should (latency as slower answers, reset as a dropped connection, timeout as a request timeout), and
// healing restores it. Time is asserted only as a lower bound; the bench measures how close to the set delay.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalCluster, startLocalCluster } from '../../chaos/cluster/local.ts'
import type { ProxyFault } from '../../chaos/faults.ts'
import { checkToxiproxy, ClusterProxies, type ProxyServerProcess, startProxyServer } from '../../chaos/proxy/network.ts'
import { RawCluster } from '../../workloads/drivers/raw.ts'
import { until } from '../helpers/until.ts'

let server: ProxyServerProcess
let proxies: ClusterProxies
let cluster: LocalCluster

beforeAll(async () => {
  server = await startProxyServer()
  proxies = new ClusterProxies(await checkToxiproxy(server.url))
  cluster = await startLocalCluster({ brokers: 2, front: proxies })
}, 90_000)

afterAll(async () => {
  await cluster?.close()
  await proxies?.close()
  await server?.stop()
})

/** One Metadata round trip to node `id` through its proxy; resolves to its duration or rejects with the client's error. */
async function metadataVia(id: number, requestTimeoutMs = 5000): Promise<{ ms: number; brokers: Map<number, { host: string; port: number }> }> {
  const c = new RawCluster({ bootstrap: [cluster.nodes.find((n) => n.id === id)!.address], requestTimeoutMs, connectTimeoutMs: 2000 }, 1)
  const t0 = performance.now()
  try {
    await c.refresh()
    return { ms: performance.now() - t0, brokers: new Map(c.brokers) }
  } finally {
    c.close()
  }
}

const fault = (f: Partial<ProxyFault> & Pick<ProxyFault, 'kind'>): ProxyFault => ({ name: f.kind, atMs: 0, target: { kind: 'all' }, direction: 'both', durationMs: 1000, ...f }) as ProxyFault

describe('brokers behind proxies', () => {
  it('advertise the proxies on their own addresses, never their own ports', async () => {
    const api = (await (await fetch(`${server.url}/proxies`)).json()) as Record<string, { listen: string; upstream: string }>
    const { brokers } = await metadataVia(1)
    expect(brokers.size).toBe(2)
    for (const n of cluster.nodes) {
      const front = api[`${proxies.prefix}-broker-${n.id}`]!
      expect(front.upstream).toBe(`${n.host}:${n.port}`)
      expect(front.listen).toBe(n.address)
      expect(brokers.get(n.id)).toEqual({ host: n.host, port: Number(front.listen.split(':')[1]) })
      expect(brokers.get(n.id)!.port).not.toBe(n.port)
      // The quorum's traffic too: a CONTROLLER proxy per voter, on the same address.
      expect(api[`${proxies.prefix}-controller-${n.id}`]!.listen.startsWith(`${n.host}:`)).toBe(true)
    }
  })

  it('latency on a node delays its answers by at least the delay each way, until healed', async () => {
    const heal = await proxies.apply(fault({ kind: 'latency', delayMs: 150, jitterMs: 0 }), [1], 1)
    const slow = await metadataVia(1)
    // Connect (through the proxy, not delayed) then ApiVersions and Metadata: two round trips of >= 300 ms.
    expect(slow.ms).toBeGreaterThanOrEqual(600)
    await heal()
    expect((await metadataVia(1)).brokers.size).toBe(2)
  })

  it('reset drops the client\'s connection; timeout leaves its request unanswered; healing restores both', async () => {
    const reset = await proxies.apply(fault({ kind: 'reset', afterMs: 0 }), [2], 2)
    // The raw client reports a reset (ECONNRESET, checked at the socket in proxy-server.test.ts) as a disconnect.
    await expect(metadataVia(2)).rejects.toThrow(/closed with the request in flight/)
    await reset()
    await until('node 2 to answer again', () => metadataVia(2).then(() => true))

    const timeout = await proxies.apply(fault({ kind: 'timeout', afterMs: 0 }), [2], 3)
    await expect(metadataVia(2, 800)).rejects.toThrow(/no response from .* within 800 ms/)
    await timeout()
    await until('node 2 to answer again', () => metadataVia(2).then(() => true))
  })

  it('down refuses connections to the node until healed', async () => {
    const heal = await proxies.apply(fault({ kind: 'down' }), [1], 4)
    await expect(metadataVia(1)).rejects.toThrow(/ECONNREFUSED/)
    await heal()
    await until('node 1 to answer again', () => metadataVia(1).then(() => true))
  })
})
