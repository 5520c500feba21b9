// DeleteTopics: v0-6
//
// Behavior:
// * Needs DELETE on the topic (TOPIC_AUTHORIZATION_FAILED).
// * Deletes each named topic (v6+: by name or by id) through the controller; every broker deletes its
//   partition logs when it applies the removal, and fetchers waiting on them wake up and see
//   UNKNOWN_TOPIC_OR_PARTITION. Answered once this broker applied the removal.
// * Errors per topic: UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID (v6+), TOPIC_DELETION_DISABLED
//   (delete.topic.enable=false), INVALID_REQUEST (both name and id, or neither; an internal topic).
//
// Version notes:
// * v1: throttleTimeMs; v4: flexible; v5: errorMessage; v6: topics by name or id

import { ErrorCode } from '../protocol/errors.ts'
import { DeleteTopics } from '../protocol/messages/delete-topics.ts'
import { ZERO_UUID } from '../protocol/schema.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(DeleteTopics, async (req, ctx) => {
  const { broker } = ctx
  const wanted: { name: string | null; topicId: string }[] =
    ctx.version >= 6 ? req.topics.map((t) => ({ name: t.name, topicId: t.topicId })) : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }))
  const responses = []
  for (const w of wanted) {
    const byId = w.topicId !== ZERO_UUID
    if ((w.name === null) === !byId) {
      responses.push({ name: w.name, topicId: w.topicId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Name a topic by name or by id, not both or neither' })
      continue
    }
    const name = byId ? broker.image.topicById(w.topicId)?.name : w.name!
    if (name === undefined) {
      responses.push({ name: null, topicId: w.topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: 'This server does not host this topic ID.' })
      continue
    }
    if (!allowed(ctx, AclOperation.DELETE, ResourceType.TOPIC, name)) {
      responses.push({ name: byId ? null : name, topicId: w.topicId, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.' })
      continue
    }
    const res = await broker.deleteTopic(name, req.timeoutMs > 0 ? req.timeoutMs : undefined)
    responses.push({ name, topicId: res.topicId ?? w.topicId, errorCode: res.errorCode, errorMessage: res.errorMessage })
  }
  return { throttleTimeMs: 0, responses }
})
