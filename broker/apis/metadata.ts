// Metadata: v1-12
//
// Behavior:
// * Brokers: this broker, at the advertised address of the listener the request came in on.
// * Topics: null = all topics; named topics that do not exist are created when auto.create.topics.enable is
//   on and the request allows it (always before v4), with num.partitions and default.replication.factor,
//   and are returned ready (our creation is synchronous, so no LEADER_NOT_AVAILABLE round trip).
// * Illegal names get INVALID_TOPIC_EXCEPTION; unknown names UNKNOWN_TOPIC_OR_PARTITION; unknown ids (v10+)
//   UNKNOWN_TOPIC_ID.
// * Authorized operations are not computed yet: INT32_MIN ("not requested / unknown").
//
// Version notes:
// * v4: allowAutoTopicCreation
// * v7: leaderEpoch per partition
// * v9: flexible
// * v10: topic ids; v12: topics may be named by id only, name nullable in the response

import { checkTopicName, type Broker, type TopicState } from '../broker.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { Metadata } from '../protocol/messages/metadata.ts'
import { ZERO_UUID } from '../protocol/schema.ts'
import { register } from './registry.ts'

const UNKNOWN_OPERATIONS = -2147483648

register(Metadata, async (req, ctx) => {
  const { broker } = ctx
  const endpoint = broker.endpointFor(ctx.connection.listenerName)
  const autoCreate = broker.config.bool('auto.create.topics.enable') && (ctx.version < 4 || req.allowAutoTopicCreation)

  const topics = []
  if (req.topics === null) {
    for (const t of broker.topics()) if (broker.isReady(t)) topics.push(describe(broker, t))
  } else {
    for (const want of req.topics) {
      if (want.name === null || want.name === undefined) {
        const t = want.topicId && want.topicId !== ZERO_UUID ? broker.topicById(want.topicId) : undefined
        topics.push(t ? describe(broker, t) : missing(null, want.topicId, ErrorCode.UNKNOWN_TOPIC_ID))
        continue
      }
      const name = want.name
      let t = broker.topic(name)
      if (!t) {
        const illegal = checkTopicName(name)
        if (illegal) {
          topics.push(missing(name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION))
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
          t = broker.topic(name)
        }
      }
      if (!t) topics.push(missing(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
      else if (!broker.isReady(t)) topics.push(missing(name, t.record.topicId, ErrorCode.LEADER_NOT_AVAILABLE))
      else topics.push(describe(broker, t))
    }
  }

  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: broker.nodeId, host: endpoint.host, port: endpoint.port, rack: broker.config.get('broker.rack') }],
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    topics,
    clusterAuthorizedOperations: UNKNOWN_OPERATIONS,
  }
})

function describe(broker: Broker, t: TopicState) {
  return {
    errorCode: ErrorCode.NONE,
    name: t.record.name,
    topicId: t.record.topicId,
    isInternal: t.record.internal,
    partitions: t.partitions.map((p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p.index,
      leaderId: broker.nodeId,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: [broker.nodeId],
      isrNodes: [broker.nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: UNKNOWN_OPERATIONS,
  }
}

function missing(name: string | null, topicId: string, errorCode: number) {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: UNKNOWN_OPERATIONS }
}
