import { describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { InitProducerId } from '../../../broker/protocol/messages/init-producer-id.ts'
import { PRODUCER_ID_BLOCK_SIZE } from '../../../broker/producers/producer-ids.ts'
import { tempDir } from '../../helpers/broker-process.ts'
import { startInProcessBroker } from '../../helpers/wire.ts'

describe('InitProducerId', () => {
  test('hands out fresh ids with epoch 0, never reused after a restart; refuses transactional ids', async () => {
    const dataDir = tempDir()
    let b = await startInProcessBroker({}, { dataDir })
    let c = await b.client()
    const ids: number[] = []
    for (let v = 0; v <= InitProducerId.maxVersion; v++) {
      const r = await c.request(InitProducerId, v, { transactionalId: null, transactionTimeoutMs: 60000 })
      expect(r).toMatchObject({ errorCode: 0, producerEpoch: 0 })
      ids.push(r.producerId)
    }
    expect(new Set(ids).size).toBe(ids.length)
    expect((await c.request(InitProducerId, 4, { transactionalId: 'tx', transactionTimeoutMs: 60000 })).errorCode).toBe(ErrorCode.INVALID_TXN_STATE)
    await b.stop()
    b = await startInProcessBroker({}, { dataDir })
    c = await b.client()
    const after = await c.request(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000 })
    expect(after.producerId).toBeGreaterThanOrEqual(PRODUCER_ID_BLOCK_SIZE)
    expect(ids).not.toContain(after.producerId)
    await b.stop()
  })
})
