// InitProducerId: v0-5
//
// Behavior:
// * Needs idempotent: IDEMPOTENT_WRITE on the CLUSTER or WRITE on some topic (CLUSTER_AUTHORIZATION_FAILED, Kafka 3.x); transactional: WRITE on the transactional id.
// * Idempotent producers (transactionalId null) get a fresh producer id with epoch 0 on every call, as in
//   Kafka; ids come from persisted blocks and are never reused across restarts.
// * Transactional producers are not supported yet: INVALID_TXN_STATE, with a warning in the broker log.
//
// Version notes:
// * v2: flexible; v3: producerId/producerEpoch in the request (KIP-360 epoch bump, ignored for idempotent
//   producers, which always get a new id); v4: PRODUCER_FENCED may be returned (transactions only);
//   v5: TRANSACTION_ABORTABLE may be returned (transactions only)

import { ErrorCode } from '../protocol/errors.ts'
import { InitProducerId } from '../protocol/messages/init-producer-id.ts'
import { allowed, allowedOnAny, clusterAllowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(InitProducerId, async (req, ctx) => {
  const { broker } = ctx
  const refuse = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 })
  if (req.transactionalId !== null && !allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return refuse(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
  // Kafka 3.x: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic.
  if (req.transactionalId === null && !clusterAllowed(ctx, AclOperation.IDEMPOTENT_WRITE) && !allowedOnAny(ctx, AclOperation.WRITE, ResourceType.TOPIC)) return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
  if (req.transactionalId !== null) {
    broker.log.warn('transactional producer refused: transactions are not supported yet', { transactionalId: req.transactionalId, client: ctx.header.clientId })
    return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_TXN_STATE, producerId: -1, producerEpoch: -1 }
  }
  try {
    const producerId = await broker.producerIds.allocate()
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 }
  } catch (err) {
    broker.log.error('producer id allocation failed', { err })
    return { throttleTimeMs: 0, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, producerId: -1, producerEpoch: -1 }
  }
})
