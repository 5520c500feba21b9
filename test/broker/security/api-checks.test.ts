// The API checks against ACLs, in process: User:ANONYMOUS (PLAINTEXT) is not a super user here, and the ACLs
// are written through the controller as CreateAcls would.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../../broker/protocol/errors.ts'
import { CreateTopics } from '../../../broker/protocol/messages/create-topics.ts'
import { DescribeConfigs } from '../../../broker/protocol/messages/describe-configs.ts'
import { DescribeGroups } from '../../../broker/protocol/messages/describe-groups.ts'
import { InitProducerId } from '../../../broker/protocol/messages/init-producer-id.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { OffsetCommit } from '../../../broker/protocol/messages/offset-commit.ts'
import { AclOperation as Op, PatternType, Permission, ResourceType, type Acl } from '../../../broker/security/authorizer.ts'
import { startInProcessBroker, type InProcessBroker, type WireClient } from '../../helpers/wire.ts'

let b: InProcessBroker
let c: WireClient
const anon = (resourceType: number, resourceName: string, operation: number, patternType: number = PatternType.LITERAL): Acl => ({
  resourceType,
  resourceName,
  patternType,
  principal: 'User:ANONYMOUS',
  host: '*',
  operation,
  permissionType: Permission.ALLOW,
})
const grant = async (...acls: Acl[]) => {
  const r = await b.broker.controllerClient.call('createAcls', acls, 5000)
  if ('offset' in r && r.offset >= 0) await b.broker.waitForMetadata(r.offset, 5000)
}
const bit = (...ops: number[]) => ops.reduce((n, op) => n | (1 << op), 0)

beforeAll(async () => {
  b = await startInProcessBroker({ 'authorizer.class.name': 'x', 'auto.create.topics.enable': 'true' })
  c = await b.client()
  await b.broker.createTopic({ name: 'pub-a', partitions: 1, replicationFactor: 1, configs: {} })
  await b.broker.createTopic({ name: 'hidden', partitions: 1, replicationFactor: 1, configs: {} })
})
afterAll(async () => b.stop())

describe('API authorization', () => {
  test('Metadata: hidden when listing, refused by name, auto-create needs CREATE; authorized operations computed', async () => {
    await grant(anon(ResourceType.TOPIC, 'pub-', Op.READ, PatternType.PREFIXED), anon(ResourceType.CLUSTER, 'kafka-cluster', Op.DESCRIBE))
    const all = await c.request(Metadata, 10, { topics: null, includeClusterAuthorizedOperations: true, includeTopicAuthorizedOperations: true })
    expect(all.topics.map((t) => [t.name, t.topicAuthorizedOperations])).toEqual([['pub-a', bit(Op.READ, Op.DESCRIBE)]])
    expect(all.clusterAuthorizedOperations).toBe(bit(Op.DESCRIBE))
    const named = await c.request(Metadata, 12, { topics: [{ name: 'hidden' }, { name: 'pub-new' }], allowAutoTopicCreation: true })
    expect(named.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['hidden', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ['pub-new', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    ])
    expect(b.broker.image.topic('pub-new')).toBeUndefined()
    expect((await c.request(Metadata, 4, { topics: null })).topics.map((t) => t.topicAuthorizedOperations)).toEqual([-2147483648])
  })

  test('CreateTopics needs CREATE; DescribeConfigs DESCRIBE_CONFIGS (ALTER_CONFIGS implies it)', async () => {
    const r = await c.request(CreateTopics, 7, { topics: [{ name: 'made', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
    expect(r.topics[0]!.errorCode).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED)
    await grant(anon(ResourceType.TOPIC, 'made', Op.CREATE), anon(ResourceType.TOPIC, 'pub-a', Op.ALTER_CONFIGS))
    expect((await c.request(CreateTopics, 7, { topics: [{ name: 'made', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })).topics[0]!.errorCode).toBe(0)
    const d = await c.request(DescribeConfigs, 4, {
      resources: [
        { resourceType: 2, resourceName: 'pub-a', configurationKeys: ['retention.ms'] },
        { resourceType: 2, resourceName: 'hidden', configurationKeys: null },
        { resourceType: 4, resourceName: '1', configurationKeys: null },
      ],
    })
    expect(d.results.map((x) => x.errorCode)).toEqual([0, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED])
  })

  test('groups: DescribeGroups and OffsetCommit need the group; authorized operations of a group', async () => {
    const g = await c.request(DescribeGroups, 5, { groups: ['g1'], includeAuthorizedOperations: true })
    expect(g.groups[0]!.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED)
    await grant(anon(ResourceType.GROUP, 'g1', Op.READ))
    const ok = await c.request(DescribeGroups, 5, { groups: ['g1'], includeAuthorizedOperations: true })
    expect([ok.groups[0]!.errorCode, ok.groups[0]!.authorizedOperations]).toEqual([0, bit(Op.READ, Op.DESCRIBE)])
    const commit = await c.request(OffsetCommit, 8, {
      groupId: 'g2',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: 'pub-a', partitions: [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null }] }],
    })
    expect(commit.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED)
  })

  test('InitProducerId: IDEMPOTENT_WRITE on the cluster or WRITE on some topic', async () => {
    expect((await c.request(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 1000 })).errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    await grant(anon(ResourceType.TOPIC, 'pub-a', Op.WRITE))
    expect((await c.request(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 1000 })).errorCode).toBe(0)
  })
})
