import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { FindCoordinator } from '../../../broker/protocol/messages/find-coordinator.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'
import { GROUP_TEST_CONFIG } from './group-wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker(GROUP_TEST_CONFIG)
  c = await b.client()
})
afterAll(async () => b.stop())

describe('FindCoordinator', () => {
  test('v0-3 answer this broker for a group key, at the listener the request came in on', async () => {
    for (let v = 0; v <= 3; v++) {
      const res = await c.request(FindCoordinator, v, { key: 'some-group', keyType: 0 })
      expect(res).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 1, host: b.host, port: b.port })
      if (v >= 1) expect(res.errorMessage).toBeNull()
    }
  })

  test('v4-6 answer each key of the batch, transactional ids too', async () => {
    for (let v = 4; v <= 6; v++) {
      const res = await c.request(FindCoordinator, v, { keyType: 0, coordinatorKeys: ['a', 'b', ''] })
      expect(res.coordinators).toEqual(['a', 'b', ''].map((key) => ({ key, nodeId: 1, host: b.host, port: b.port, errorCode: ErrorCode.NONE, errorMessage: null })))
      const txn = await c.request(FindCoordinator, v, { keyType: 1, coordinatorKeys: ['tx'] })
      expect(txn.coordinators[0]).toMatchObject({ key: 'tx', nodeId: 1, errorCode: ErrorCode.NONE })
    }
  })

  test('share groups (key type 2): COORDINATOR_NOT_AVAILABLE from v6, as Kafka 3.9 without KIP-932; INVALID_REQUEST before', async () => {
    expect((await c.request(FindCoordinator, 6, { keyType: 2, coordinatorKeys: ['sg'] })).coordinators[0]).toMatchObject({ key: 'sg', nodeId: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE })
    expect((await c.request(FindCoordinator, 5, { keyType: 2, coordinatorKeys: ['sg'] })).coordinators[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST)
  })

  test('an unknown key type is INVALID_REQUEST', async () => {
    expect((await c.request(FindCoordinator, 2, { key: 'g', keyType: 7 })).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await c.request(FindCoordinator, 4, { keyType: 7, coordinatorKeys: ['g'] })).coordinators[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST)
  })
})
