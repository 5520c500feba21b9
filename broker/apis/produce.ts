// Produce: v0-11
//
// Behavior:
// * Each partition's records must be exactly one RecordBatch v2 (as Kafka requires from v3): framing, magic,
//   CRC-32C and record count are checked; zstd needs v7+ (UNSUPPORTED_COMPRESSION_TYPE below). v0-2 may
//   instead carry a message set of magic 0 or 1, which is converted to one v2 batch (no producer id;
//   gzip-compressed if its messages were) and then handled like one (broker/protocol/legacy-records.ts); the batch is appended as sent (compressed batches stay
//   compressed) after its baseOffset and partitionLeaderEpoch are patched in place.
// * acks=0 gets no response; acks=1 is answered after the append, acks=-1 once the high watermark passes the
//   batch (every in-sync replica has it: broker/replication/leader-state.ts), both after the fsync when the
//   topic's flush.messages is 1. acks=-1 fails before the append with NOT_ENOUGH_REPLICAS when the ISR is
//   smaller than min.insync.replicas (capped to the replication factor), and after it with REQUEST_TIMED_OUT
//   (the request's timeout), NOT_ENOUGH_REPLICAS_AFTER_APPEND or NOT_LEADER_OR_FOLLOWER (leadership moved).
//   A retried idempotent batch waits the same way for the high watermark to pass its original offsets.
// * message.timestamp.type=LogAppendTime rewrites maxTimestamp and recomputes the CRC.
// * Needs WRITE on the topic: else TOPIC_AUTHORIZATION_FAILED for its partitions, whether the topic exists or not.
// * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, CORRUPT_MESSAGE (framing, CRC), INVALID_RECORD (more
//   than one batch, bad count, magic < 2 from v3 on), UNSUPPORTED_COMPRESSION_TYPE (zstd below v7; a message
//   set compressed with other than gzip, which this broker cannot convert where Kafka would), MESSAGE_TOO_LARGE
//   (max.message.bytes), NOT_ENOUGH_REPLICAS, INVALID_TXN_STATE (transactional batch: no transactions yet),
//   KAFKA_STORAGE_ERROR (the disk failed; nothing was appended), INVALID_TOPIC_EXCEPTION for internal topics. INVALID_REQUIRED_ACKS for acks outside -1, 0, 1.
// * Idempotent batches (producerId >= 0) go through the partition's producer state (broker/producers): a retried
//   batch still in the five-batch window is acknowledged with its original base offset and not written again;
//   OUT_OF_ORDER_SEQUENCE_NUMBER and INVALID_PRODUCER_EPOCH otherwise, as Kafka does.
//
// Version notes:
// * v0-2: message sets (magic 0/1) or, as Kafka lets them, a v2 batch; v1: throttleTimeMs; v2: logAppendTimeMs
// * v3: RecordBatch v2 only, transactionalId
// * v5: logStartOffset in the response
// * v8: recordErrors, errorMessage
// * v7: zstd; v9: flexible; v10: tagged currentLeader and nodeEndpoints (left at their defaults: the client
//   refreshes metadata after NOT_LEADER_OR_FOLLOWER, as before KIP-951); v11: may answer TRANSACTION_ABORTABLE

import { ErrorCode } from '../protocol/errors.ts'
import { Produce } from '../protocol/messages/produce.ts'
import { magicOf, readMessageSet, upConvert } from '../protocol/legacy-records.ts'
import { checkBatchFrame, Compression, RecordBatchView } from '../protocol/record-batch.ts'
import type { In } from '../protocol/schema.ts'
import type { Broker } from '../broker.ts'
import { ackErrorCode } from '../replication/leader-state.ts'
import type { Partition } from '../replication/partition.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, ResourceType } from '../security/authorizer.ts'
import { NO_RESPONSE, register } from './registry.ts'

type PartitionResponse = NonNullable<NonNullable<In<typeof Produce.response.fields>['responses']>[number]['partitionResponses']>[number]

register(Produce, async (req, ctx) => {
  const { broker } = ctx
  const acks = req.acks
  const pending: Promise<unknown>[] = []
  const responses = req.topicData.map((topic) => {
    const mayWrite = allowed(ctx, AclOperation.WRITE, ResourceType.TOPIC, topic.name)
    return {
      name: topic.name,
      partitionResponses: topic.partitionData.map((p): PartitionResponse => {
        if (!mayWrite) return fail(p.index, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
        if (acks !== 0 && acks !== 1 && acks !== -1) return fail(p.index, ErrorCode.INVALID_REQUIRED_ACKS)
        const r = appendOne(broker, topic.name, p.index, p.records, acks, req.timeoutMs, ctx.version)
        if ('wait' in r) {
          pending.push(r.wait)
          return r.response
        }
        return r
      }),
    }
  })
  burnCpu(broker, req.topicData)
  if (pending.length) await Promise.all(pending)
  if (acks === 0) return NO_RESPONSE
  return { responses, throttleTimeMs: 0 }
})

/** The faultline.test.produce.cpu.burn.us.per.kib test knob: a known slowdown for the A/B regression bench. */
function burnCpu(broker: Broker, topics: readonly { partitionData: readonly { records: Buffer | null }[] }[]): void {
  const perKiB = broker.config.int('faultline.test.produce.cpu.burn.us.per.kib')
  if (perKiB <= 0) return
  let bytes = 0
  for (const t of topics) for (const p of t.partitionData) bytes += p.records?.length ?? 0
  // Wall time on purpose: the knob models a handler that got slower, whatever the clock seam says.
  const until = performance.now() + (perKiB * bytes) / 1024 / 1000
  while (performance.now() < until) {
    // spin
  }
}

function fail(index: number, errorCode: number, errorMessage: string | null = null): PartitionResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage }
}

function appendOne(broker: Broker, topicName: string, index: number, records: Buffer | null, acks: number, timeoutMs: number, version: number): PartitionResponse | { response: PartitionResponse; wait: Promise<void> } {
  const topic = broker.topic(topicName)
  const partition = topic?.partitions[index]
  if (!topic || index < 0 || index >= topic.record.partitions) return fail(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  // A replica elsewhere, a follower here, or no leader at all: the client refreshes metadata and retries.
  if (!partition || !partition.isLeader) return fail(index, ErrorCode.NOT_LEADER_OR_FOLLOWER)
  // Internal topics (__consumer_offsets) are written by their coordinators only, as in Kafka.
  if (topic.record.internal) return fail(index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topicName}`)
  if (!records || records.length === 0) return fail(index, ErrorCode.CORRUPT_MESSAGE, 'empty records')
  const magic = magicOf(records)
  const onlyV2 = `Produce requests with version ${version} are only allowed to contain record batches with magic version 2`
  if (magic === 0 || magic === 1) {
    if (version >= 3) return fail(index, ErrorCode.INVALID_RECORD, onlyV2)
    const set = readMessageSet(records)
    if ('kind' in set) {
      if (set.kind === 'unsupported-codec') return fail(index, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `message sets compressed with codec ${set.codec} cannot be converted by this broker`)
      return fail(index, set.kind === 'corrupt' ? ErrorCode.CORRUPT_MESSAGE : ErrorCode.INVALID_RECORD, set.message)
    }
    records = upConvert(set.messages, set.compression)
  }
  const framed = checkBatchFrame(records, 0)
  if ('kind' in framed) {
    if (framed.kind === 'bad-magic') return fail(index, ErrorCode.INVALID_RECORD, onlyV2)
    return fail(index, ErrorCode.CORRUPT_MESSAGE, `malformed record batch (${framed.kind})`)
  }
  if (framed.size !== records.length) return fail(index, ErrorCode.INVALID_RECORD, 'Produce requests v3+ must carry exactly one record batch per partition')
  const maxBytes = Number(broker.topicConfigValue(topic.record, 'max.message.bytes'))
  if (records.length > maxBytes) {
    return fail(index, ErrorCode.MESSAGE_TOO_LARGE, `batch of ${records.length} bytes is larger than max.message.bytes ${maxBytes}`)
  }
  const batch = new RecordBatchView(records, 0)
  if (version < 7 && batch.compression === Compression.zstd) return fail(index, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Produce requests with version ${version} are not allowed to use ZStandard compression`)
  if (!batch.isCrcValid()) return fail(index, ErrorCode.CORRUPT_MESSAGE, 'record batch CRC-32C mismatch')
  if (batch.recordCount <= 0 || batch.lastOffsetDelta !== batch.recordCount - 1) {
    return fail(index, ErrorCode.INVALID_RECORD, `record count ${batch.recordCount} does not match lastOffsetDelta ${batch.lastOffsetDelta}`)
  }
  if (batch.isTransactional) return fail(index, ErrorCode.INVALID_TXN_STATE, 'transactions are not supported by this broker yet')
  const enough = broker.replicas.checkEnoughReplicas(partition, acks)
  if (enough === ErrorCode.NOT_ENOUGH_REPLICAS) {
    const minIsr = Number(broker.topicConfigValue(topic.record, 'min.insync.replicas'))
    return fail(index, enough, `The size of the current ISR ${partition.isr.length} is insufficient to satisfy the min.isr requirement of ${minIsr}`)
  }
  if (enough !== ErrorCode.NONE) return fail(index, enough)
  const producerBatch = { producerId: batch.producerId, producerEpoch: batch.producerEpoch, baseSequence: batch.baseSequence, recordCount: batch.recordCount, maxTimestamp: batch.maxTimestamp }
  const seq = partition.producers.check(producerBatch)
  if (seq.kind === 'error') return fail(index, seq.errorCode, seq.message)
  if (seq.kind === 'duplicate') {
    const response: PartitionResponse = { index, errorCode: ErrorCode.NONE, baseOffset: seq.firstOffset, logAppendTimeMs: -1, logStartOffset: partition.log.logStartOffset, errorMessage: null }
    if (acks !== -1) return response
    return { response, wait: waitReplicated(broker, partition, seq.lastOffset, timeoutMs, response) }
  }
  let logAppendTimeMs = -1
  if (broker.topicConfigValue(topic.record, 'message.timestamp.type') === 'LogAppendTime') {
    logAppendTimeMs = broker.clock.now()
    batch.setLogAppendTime(logAppendTimeMs)
  }
  let appended
  try {
    appended = partition.log.appendAsLeader(records, partition.leaderEpoch)
  } catch (err) {
    broker.log.error('append failed', { topic: topicName, partition: index, err })
    return fail(index, ErrorCode.KAFKA_STORAGE_ERROR, `append failed: ${(err as Error).message}`)
  }
  if (producerBatch.producerId >= 0) {
    partition.producers.update(producerBatch, appended.firstOffset, appended.lastOffset, broker.clock.now())
    partition.producersDirty = true
  }
  partition.appended(records.length)
  const response: PartitionResponse = {
    index,
    errorCode: ErrorCode.NONE,
    baseOffset: appended.firstOffset,
    logAppendTimeMs,
    logStartOffset: partition.log.logStartOffset,
    errorMessage: null,
  }
  const lastOffset = appended.lastOffset
  const wait = appended.durable.then(
    () => (acks === -1 ? waitReplicated(broker, partition, lastOffset, timeoutMs, response) : undefined),
    (err: unknown) => {
      // The fsync failed: the write may not survive a crash, so do not acknowledge it as durable.
      broker.log.error('fsync failed', { topic: topicName, partition: index, err })
      Object.assign(response, fail(index, ErrorCode.KAFKA_STORAGE_ERROR, `fsync failed: ${(err as Error).message}`))
    },
  )
  return { response, wait }
}

/** acks=all: waits until the high watermark passes `lastOffset`, then turns the outcome into the response's error. */
async function waitReplicated(broker: Broker, partition: Partition, lastOffset: number, timeoutMs: number, response: PartitionResponse): Promise<void> {
  const result = await broker.replicas.waitForAcks(partition, lastOffset, Math.max(0, timeoutMs))
  const errorCode = ackErrorCode(result)
  if (errorCode !== ErrorCode.NONE) Object.assign(response, fail(response.index ?? -1, errorCode, `acks=all: ${result}`))
}
