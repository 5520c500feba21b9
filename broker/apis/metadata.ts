// Metadata: v0-12
//
// Behavior:
// * Brokers: every registered, unfenced broker, at its endpoint for the listener the request came in on
//   (its first endpoint when it has no listener of that name). controllerId: the active controller (the
//   metadata quorum's leader) in combined mode, -1 while there is none.
// * Topics from this broker's metadata image: per partition the leader (-1 and LEADER_NOT_AVAILABLE when it
//   has none), leader epoch, replicas, ISR and offline replicas (fenced or unregistered brokers).
// * Named topics that do not exist are created through the controller when auto.create.topics.enable is
//   on and the request allows it (always before v4), with num.partitions and default.replication.factor,
//   and are returned once this broker has applied the creation.
// * Illegal names get INVALID_TOPIC_EXCEPTION; unknown names UNKNOWN_TOPIC_OR_PARTITION; unknown ids (v10+)
//   UNKNOWN_TOPIC_ID.
// * Authorization (as Kafka): listing all topics leaves out those the principal may not DESCRIBE; a named one
//   (or one named by id) it may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED (no id, no name for an id), whether
//   it exists or not; auto-creation needs CREATE on the cluster or on the topic (else TOPIC_AUTHORIZATION_FAILED).
// * Authorized operations (v8+, when asked for): the topic's and (v8-10) the cluster's operations the principal
//   may do, as Kafka's bit field; INT32_MIN when not asked for.
//
// Version notes:
// * v0: an empty topic list means all topics (v1+: null does, empty means none); replicas and ISR list only
//   live brokers, and a partition missing some gets REPLICA_NOT_AVAILABLE (Kafka's errorUnavailableEndpoints)
// * v1: null topics, rack, controllerId, isInternal; v2: clusterId; v3: throttleTimeMs
// * v4: allowAutoTopicCreation
// * v7: leaderEpoch per partition
// * v9: flexible
// * v10: topic ids; v12: topics may be named by id only, name nullable in the response

import { checkTopicName, type Broker } from '../broker.ts'
import type { MetadataImage, TopicInfo } from '../controller/metadata-image.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { Metadata } from '../protocol/messages/metadata.ts'
import { ZERO_UUID } from '../protocol/schema.ts'
import { allowed, authorizedOperations } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/authorizer.ts'
import { register, type RequestContext } from './registry.ts'

const UNKNOWN_OPERATIONS = -2147483648

register(Metadata, async (req, ctx) => {
  const { broker } = ctx
  const autoCreate = broker.config.bool('auto.create.topics.enable') && (ctx.version < 4 || req.allowAutoTopicCreation)

  const topics = []
  const v0 = ctx.version === 0
  const mayDescribe = (name: string) => allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name)
  const withOps = ctx.version >= 8 && req.includeTopicAuthorizedOperations ? ctx : null
  if (req.topics === null || (v0 && req.topics.length === 0)) {
    for (const t of broker.image.topics()) if (mayDescribe(t.name)) topics.push(describe(broker.image, t, v0, withOps))
  } else {
    for (const want of req.topics) {
      if (want.name === null || want.name === undefined) {
        const t = want.topicId && want.topicId !== ZERO_UUID ? broker.image.topicById(want.topicId) : undefined
        if (t && !mayDescribe(t.name)) topics.push(missing(null, want.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
        else topics.push(t ? describe(broker.image, t, v0, withOps) : missing(null, want.topicId, ErrorCode.UNKNOWN_TOPIC_ID))
        continue
      }
      const name = want.name
      if (!mayDescribe(name)) {
        topics.push(missing(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
        continue
      }
      let t = broker.image.topic(name)
      if (!t) {
        const illegal = checkTopicName(name)
        if (illegal) {
          topics.push(missing(name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION))
          continue
        }
        if (autoCreate && !allowed(ctx, AclOperation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME) && !allowed(ctx, AclOperation.CREATE, ResourceType.TOPIC, name)) {
          topics.push(missing(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
          continue
        }
        if (autoCreate) {
          const res = await broker.createTopic({
            name,
            partitions: broker.config.int('num.partitions'),
            replicationFactor: broker.config.int('default.replication.factor'),
            configs: {},
          })
          if (res.errorCode !== ErrorCode.NONE && res.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
            broker.log.warn('auto-creation failed', { topic: name, error: res.errorMessage })
          }
          t = broker.image.topic(name)
        }
      }
      if (!t) topics.push(missing(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
      else topics.push(describe(broker.image, t, v0, withOps))
    }
  }

  const listener = ctx.connection.listenerName
  const brokers = broker.image.liveBrokers().map((b) => {
    const e = b.endpoints.find((x) => x.name === listener) ?? b.endpoints[0]
    return { nodeId: b.brokerId, host: e?.host ?? '', port: e?.port ?? -1, rack: b.rack }
  })
  return {
    throttleTimeMs: 0,
    brokers,
    clusterId: broker.clusterId,
    controllerId: broker.controllerId,
    topics,
    clusterAuthorizedOperations: ctx.version >= 8 && ctx.version <= 10 && req.includeClusterAuthorizedOperations ? authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_NAME) : UNKNOWN_OPERATIONS,
  }
})

function describe(image: MetadataImage, t: TopicInfo, onlyLive: boolean, withOps: RequestContext | null) {
  const live = (id: number) => image.broker(id)?.fenced === false
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: t.topicId,
    isInternal: t.name.startsWith('__'),
    partitions: t.partitions.map((p) => {
      const replicaNodes = onlyLive ? p.replicas.filter(live) : [...p.replicas]
      const isrNodes = onlyLive ? p.isr.filter(live) : [...p.isr]
      const partial = replicaNodes.length < p.replicas.length || isrNodes.length < p.isr.length
      return {
        errorCode: p.leader === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : partial ? ErrorCode.REPLICA_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: p.partition,
        leaderId: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicaNodes,
        isrNodes,
        offlineReplicas: p.replicas.filter((r) => !live(r)),
      }
    }),
    topicAuthorizedOperations: withOps ? authorizedOperations(withOps, ResourceType.TOPIC, t.name) : UNKNOWN_OPERATIONS,
  }
}

function missing(name: string | null, topicId: string, errorCode: number) {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: UNKNOWN_OPERATIONS }
}
