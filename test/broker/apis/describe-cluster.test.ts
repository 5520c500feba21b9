import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { DescribeCluster } from '../../../broker/protocol/messages/describe-cluster.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
beforeAll(async () => {
  b = await startInProcessBroker({ 'broker.rack': 'r1' })
  c = await b.client()
})
afterAll(async () => b.stop())

describe('DescribeCluster', () => {
  test('cluster id, this broker at the address the client used, and the controller, in both versions', async () => {
    for (const v of [0, 1]) {
      const res = await c.request(DescribeCluster, v, { includeClusterAuthorizedOperations: false, endpointType: 1 })
      expect(res).toMatchObject({ errorCode: 0, errorMessage: null, clusterId: b.broker.clusterId, controllerId: 1, clusterAuthorizedOperations: -2147483648 })
      expect(res.brokers).toEqual([{ brokerId: 1, host: b.host, port: b.port, rack: 'r1' }])
      if (v === 1) expect(res.endpointType).toBe(1)
    }
  })

  test('includeClusterAuthorizedOperations: what Kafka grants without an authorizer', async () => {
    const res = await c.request(DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 })
    // ALTER, ALTER_CONFIGS, CLUSTER_ACTION, CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE
    expect(res.clusterAuthorizedOperations).toBe(8096)
  })

  test('a controller or unknown endpoint type is refused (v1; v0 cannot name one)', async () => {
    const ctl = await c.request(DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 })
    expect(ctl).toMatchObject({ errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE, errorMessage: 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER', brokers: [], clusterId: '' })
    const unknown = await c.request(DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 7 })
    expect(unknown).toMatchObject({ errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: 'Unsupported endpoint type 7' })
    // v0 has no endpointType on the wire: it always asks a broker.
    const v0 = await c.request(DescribeCluster, 0, { includeClusterAuthorizedOperations: false, endpointType: 2 })
    expect(v0.errorCode).toBe(0)
  })
})
