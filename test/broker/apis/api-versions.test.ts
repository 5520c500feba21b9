import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { registrations } from '../../../broker/apis/registry.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker()
  c = await b.client()
})
afterAll(async () => b.stop())

describe('ApiVersions', () => {
  test('every version lists exactly the registered APIs and their ranges', async () => {
    const want = registrations().map((r) => ({ apiKey: r.api.key, minVersion: r.minVersion, maxVersion: r.maxVersion }))
    for (let v = 0; v <= 3; v++) {
      const res = await c.request(ApiVersions, v, { clientSoftwareName: 'faultline-test', clientSoftwareVersion: '1.0' })
      expect(res.errorCode).toBe(0)
      expect(res.apiKeys).toEqual(want)
    }
  })

  test('the ranges real clients need are advertised', async () => {
    const res = await c.request(ApiVersions, 3, {})
    const range = (key: number) => res.apiKeys.find((k) => k.apiKey === key)
    expect(range(0)).toEqual({ apiKey: 0, minVersion: 3, maxVersion: 9 })
    expect(range(1)).toEqual({ apiKey: 1, minVersion: 4, maxVersion: 17 })
    expect(range(3)).toEqual({ apiKey: 3, minVersion: 1, maxVersion: 12 })
    expect(range(18)).toEqual({ apiKey: 18, minVersion: 0, maxVersion: 3 })
  })
})
