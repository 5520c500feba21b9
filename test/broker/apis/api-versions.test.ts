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
    for (let v = 0; v <= 4; v++) {
      const res = await c.request(ApiVersions, v, { clientSoftwareName: 'faultline-test', clientSoftwareVersion: '1.0' })
      expect(res.errorCode).toBe(0)
      expect(res.apiKeys).toEqual(want)
    }
  })

  test("each API's range is the one Apache Kafka 3.9 advertises (clients/src/main/resources/common/message at 3.9)", async () => {
    const kafka39: Record<string, [number, number]> = {
      Produce: [0, 11],
      Fetch: [0, 17],
      ListOffsets: [0, 9],
      Metadata: [0, 12],
      OffsetCommit: [0, 9],
      OffsetFetch: [0, 9],
      FindCoordinator: [0, 6],
      JoinGroup: [0, 9],
      Heartbeat: [0, 4],
      LeaveGroup: [0, 5],
      SyncGroup: [0, 5],
      DescribeGroups: [0, 5],
      ListGroups: [0, 5],
      ApiVersions: [0, 4],
      CreateTopics: [0, 7],
      DeleteTopics: [0, 6],
      InitProducerId: [0, 5],
      OffsetForLeaderEpoch: [0, 4],
      DescribeConfigs: [0, 4],
      ElectLeaders: [0, 2],
      AlterPartitionReassignments: [0, 0],
      ListPartitionReassignments: [0, 0],
      CreatePartitions: [0, 3],
      DescribeCluster: [0, 1],
      IncrementalAlterConfigs: [0, 1],
      AlterConfigs: [0, 2],
      DescribeLogDirs: [0, 4],
      DeleteRecords: [0, 2],
      OffsetDelete: [0, 0],
      SaslHandshake: [0, 1],
      SaslAuthenticate: [0, 2],
      DescribeUserScramCredentials: [0, 0],
      AlterUserScramCredentials: [0, 0],
      DescribeAcls: [0, 3],
      CreateAcls: [0, 3],
      DeleteAcls: [0, 3],
    }
    const res = await c.request(ApiVersions, 4, {})
    const got = Object.fromEntries(res.apiKeys.map((k) => [registrations().find((r) => r.api.key === k.apiKey)!.api.name, [k.minVersion, k.maxVersion]]))
    expect(got).toEqual(Object.fromEntries(Object.keys(got).map((n) => [n, kafka39[n] ?? 'not an API of Kafka 3.9'])))
  })
})
