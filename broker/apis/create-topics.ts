// CreateTopics: v0-7
//
// Behavior:
// * Needs CREATE on the CLUSTER or on the topic (TOPIC_AUTHORIZATION_FAILED).
// * Creates each topic with its partition count, replication factor and config overrides; numPartitions or
//   replicationFactor -1 (v4+) take num.partitions / default.replication.factor. The controller assigns
//   replicas round robin over the unfenced brokers; manual assignments may name any registered broker.
// * Answered once the controller committed the topic and this broker applied it.
// * validateOnly (v1+) checks everything and creates nothing.
// * Errors per topic: TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
//   INVALID_REPLICATION_FACTOR (more replicas than live brokers), INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG
//   (unknown key or bad value, with the reason), INVALID_REQUEST (a name twice in one request).
// * v5+ returns the topic's partition count, replication factor and every config with its source.
//
// Version notes:
// * v1: validateOnly, errorMessage; v2: throttleTimeMs; v4: -1 defaults; v5: flexible, configs in the
//   response; v7: topicId

import { checkTopicConfig, topicConfigDefs } from '../config.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { CreateTopics } from '../protocol/messages/create-topics.ts'
import { ZERO_UUID } from '../protocol/schema.ts'
import type { Broker } from '../broker.ts'
import { allowed, clusterAllowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'
import { configSource } from './describe-configs.ts'

register(CreateTopics, async (req, ctx) => {
  const { broker } = ctx
  const seen = new Map<string, number>()
  for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1)
  const topics = []
  const clusterCreate = clusterAllowed(ctx, AclOperation.CREATE)
  for (const t of req.topics) {
    const base = { name: t.name, topicId: ZERO_UUID, numPartitions: -1, replicationFactor: -1, configs: null }
    const fail = (errorCode: number, errorMessage: string) => ({ ...base, errorCode, errorMessage })
    if ((seen.get(t.name) ?? 0) > 1) {
      topics.push(fail(ErrorCode.INVALID_REQUEST, `Create topics request from client ${ctx.header.clientId} contains multiple entries for the following topics: ${t.name}`))
      continue
    }
    if (!clusterCreate && !allowed(ctx, AclOperation.CREATE, ResourceType.TOPIC, t.name)) {
      topics.push(fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.'))
      continue
    }
    let partitions = t.numPartitions === -1 ? broker.config.int('num.partitions') : t.numPartitions
    let rf = t.replicationFactor === -1 ? broker.config.int('default.replication.factor') : t.replicationFactor
    let assignments: number[][] | undefined
    if (t.assignments.length > 0) {
      if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
        topics.push(fail(ErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.'))
        continue
      }
      const indexes = t.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b)
      if (indexes.some((v, i) => v !== i)) {
        topics.push(fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'Replica assignment must name partitions 0..n-1, each once'))
        continue
      }
      assignments = [...t.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex).map((a) => [...a.brokerIds])
      partitions = assignments.length
      rf = assignments[0]!.length
    }
    const configs: Record<string, string> = {}
    let configError: string | null = null
    for (const c of t.configs) {
      const err = checkTopicConfig(c.name, c.value)
      if (err) {
        configError = err
        break
      }
      if (c.value !== null) configs[c.name] = c.value
    }
    if (configError) {
      topics.push(fail(ErrorCode.INVALID_CONFIG, configError))
      continue
    }
    const res = await broker.createTopic({ name: t.name, partitions, replicationFactor: rf, configs, assignments, validateOnly: req.validateOnly, timeoutMs: req.timeoutMs > 0 ? req.timeoutMs : undefined })
    if (res.errorCode !== ErrorCode.NONE) {
      topics.push(fail(res.errorCode, res.errorMessage ?? ''))
      continue
    }
    topics.push({
      name: t.name,
      topicId: res.topicId ?? ZERO_UUID,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      numPartitions: partitions,
      replicationFactor: rf,
      configs: describeAll(broker, configs),
    })
  }
  return { throttleTimeMs: 0, topics }
})

function describeAll(broker: Broker, overrides: Record<string, string>) {
  return topicConfigDefs.map((d) => ({
    name: d.name,
    value: broker.config.topicValue(d.name, overrides),
    readOnly: false,
    configSource: configSource(broker, d, overrides),
    isSensitive: d.sensitive === true,
  }))
}
