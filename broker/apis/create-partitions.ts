// CreatePartitions: v0-3
//
// Behavior:
// * Needs ALTER on the topic (TOPIC_AUTHORIZATION_FAILED).
// * Raises each topic's partition count through the controller (Kafka's ReplicationControlManager): the new
//   partitions get replicas round robin over the unfenced brokers (or the request's assignments, one replica
//   list per new partition), their live replicas as ISR and the first of them as leader; every broker hosting
//   one opens its log when it applies the records. Answered once this broker applied them.
// * validateOnly checks everything and creates nothing.
// * Errors per topic: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (a count not above the current one),
//   INVALID_REPLICA_ASSIGNMENT (wrong number of lists, an empty list, a broker twice or unknown, a replication
//   factor unlike the topic's, every replica fenced), INVALID_REPLICATION_FACTOR (fewer live brokers than the
//   topic's replication factor), INVALID_REQUEST (a topic twice in one request), REQUEST_TIMED_OUT.
//
// Version notes:
// * v1: same as v0; v2: flexible; v3: may answer THROTTLING_QUOTA_EXCEEDED (this broker has no quotas)

import { ErrorCode } from '../protocol/errors.ts'
import { CreatePartitions } from '../protocol/messages/create-partitions.ts'
import type { CreatePartitionsSpec } from '../controller/quorum-controller.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

const CONTROLLER_TIMEOUT_MS = 30_000

register(CreatePartitions, async (req, ctx) => {
  const { broker } = ctx
  const count = new Map<string, number>()
  for (const t of req.topics) count.set(t.name, (count.get(t.name) ?? 0) + 1)
  const results: { name: string; errorCode: number; errorMessage: string | null }[] = req.topics.map((t) => ({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null }))
  const specs: CreatePartitionsSpec[] = []
  const asked: number[] = []
  req.topics.forEach((t, i) => {
    if (count.get(t.name)! > 1) {
      results[i] = { name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' }
      return
    }
    if (!allowed(ctx, AclOperation.ALTER, ResourceType.TOPIC, t.name)) {
      results[i] = { name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null }
      return
    }
    specs.push({ topic: t.name, count: t.count, assignments: t.assignments === null ? null : t.assignments.map((a) => [...a.brokerIds]), validateOnly: req.validateOnly })
    asked.push(i)
  })
  if (specs.length > 0) {
    const r = await broker.controllerClient.call('createPartitions', specs, req.timeoutMs > 0 ? req.timeoutMs : CONTROLLER_TIMEOUT_MS)
    const answered = 'results' in r && r.errorCode === ErrorCode.NONE ? r.results : null
    asked.forEach((i, k) => {
      const res = answered?.[k]
      results[i] = res
        ? { name: req.topics[i]!.name, errorCode: res.errorCode, errorMessage: res.errorMessage }
        : { name: req.topics[i]!.name, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: 'The controller did not answer in time.' }
    })
    if ('offset' in r && r.offset >= 0) await broker.waitForMetadata(r.offset, 5000)
  }
  return { throttleTimeMs: 0, results }
})
