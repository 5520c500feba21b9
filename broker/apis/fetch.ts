// Fetch: v0-17
//
// Behavior:
// * Returns whole record batches from the fetch offset on, including a batch that starts before it (the
//   client skips the earlier records), up to partitionMaxBytes per partition and maxBytes overall, but at
//   least one batch for the first partition that has data even if it is larger (KIP-74).
// * Reads stop at the high watermark (read_uncommitted) or the last stable offset (read_committed); without
//   transactions they are equal and abortedTransactions is empty for read_committed, null otherwise.
// * Long poll: when less than minBytes is available, waits up to maxWaitMs for appends to any fetched
//   partition, then answers with whatever is there.
// * v0-3 answer with message sets: the batches read are down-converted to magic 0 (v0-1) or magic 1 (v2-3) as
//   Kafka does (broker/protocol/legacy-records.ts): control batches and headers dropped, records before the
//   fetch offset dropped from uncompressed batches, at least the first converted batch and otherwise no more
//   bytes than were read. A batch compressed with other than gzip cannot be converted here (Kafka converts
//   snappy and lz4 too; zstd it cannot either): UNSUPPORTED_COMPRESSION_TYPE with null records, as Kafka's
//   partitionResponse writes it. v0-2 limits are hard (no first batch beyond partitionMaxBytes, KIP-74 is v3+).
// * Fetch sessions (KIP-227) are declined: the response's sessionId is always 0, so clients send full
//   fetches. A request naming a session we never created gets FETCH_SESSION_ID_NOT_FOUND.
// * Consumers need READ on the topic, followers CLUSTER_ACTION on the cluster: else TOPIC_AUTHORIZATION_FAILED.
// * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (below the log start or past the
//   log end), FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (KIP-320 currentLeaderEpoch, v9+),
//   NOT_LEADER_OR_FOLLOWER on a broker that does not lead the partition, KAFKA_STORAGE_ERROR when the disk
//   read fails (NOT_LEADER_OR_FOLLOWER up to v5, as Kafka sends it). An error partition carries empty records
//   and -1 offsets, with the aborted transactions Kafka sends for that error (see `failed`).
// * Followers (replicaId >= 0; replicaState.replicaId from v15) go to the replication layer's leader side
//   (broker/replication/leader-fetch.ts): they read up to the log end, their fetch offset moves the high
//   watermark and may grow the ISR, and a diverging log gets divergingEpoch (KIP-320) with no records. Their
//   long poll waits for appends; a consumer's waits for bytes below the high watermark.
//
// Version notes:
// * v1: throttleTimeMs; v3: maxBytes; v4: isolationLevel, lastStableOffset, abortedTransactions; v5: logStartOffset; v7: sessions;
//   v9: currentLeaderEpoch; v11: rackId, preferredReadReplica; v12: flexible, lastFetchedEpoch,
//   tagged divergingEpoch/currentLeader/snapshotId (defaults here: no divergence on a single broker; platformatic
//   cannot skip tagged fields inside arrays, so they stay at their defaults); v13: topics by id
//   (UNKNOWN_TOPIC_ID for an id we do not know); v15: replicaState; v16: nodeEndpoints (empty: we never
//   redirect); v17: replicaDirectoryId

import { ErrorCode } from '../protocol/errors.ts'
import { downConvert, UnsupportedCodec } from '../protocol/legacy-records.ts'
import { Fetch } from '../protocol/messages/fetch.ts'
import type { Out } from '../protocol/schema.ts'
import type { Broker } from '../broker.ts'
import type { Partition } from '../replication/partition.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/authorizer.ts'
import { register } from './registry.ts'

type FetchRequest = Out<typeof Fetch.request.fields>
const READ_COMMITTED = 1

register(Fetch, async (req, ctx) => {
  const { broker } = ctx
  if (req.sessionId !== 0) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] }
  }
  const replicaId = ctx.version >= 15 ? req.replicaState.replicaId : req.replicaId
  // Snapshot append counters before reading, so appends that land during the read still wake us.
  const byId = ctx.version >= 13
  const nameOf = (t: FetchRequest['topics'][number]) => (byId ? broker.topicById(t.topicId)?.record.name : t.topic)
  const watched = req.topics.flatMap((t) => t.partitions.map((fp) => broker.partition(nameOf(t) ?? '', fp.partition))).filter((p) => p !== undefined)
  const counter = replicaId >= 0 ? (p: Partition) => p.bytesAppended : (p: Partition) => p.bytesVisible
  const start = watched.map(counter)
  // Followers need CLUSTER_ACTION on the cluster, consumers READ on each topic (as Kafka).
  const follower = replicaId >= 0
  const clusterAction = follower && allowed(ctx, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
  const readable = new Map<string, boolean>()
  const mayRead = (name: string) => {
    if (follower) return clusterAction
    let ok = readable.get(name)
    if (ok === undefined) readable.set(name, (ok = allowed(ctx, AclOperation.READ, ResourceType.TOPIC, name)))
    return ok
  }
  let result = await collect(broker, req, byId, replicaId, ctx.version, mayRead)
  if (result.bytes >= req.minBytes || req.maxWaitMs <= 0 || result.error) return result.response

  const need = req.minBytes - result.bytes
  const grown = () => watched.reduce((sum, w, i) => sum + counter(w) - start[i]!, 0)
  if (grown() < need) {
    await new Promise<void>((resolve) => {
      const unsubscribe: (() => void)[] = []
      const done = () => {
        timer.cancel()
        for (const u of unsubscribe) u()
        resolve()
      }
      const timer = broker.clock.setTimeout(done, req.maxWaitMs)
      for (const p of watched) unsubscribe.push(p.onAppend(() => {
        if (grown() >= need || !broker.topic(p.topic) || !p.isLeader) done()
      }))
    })
  }
  result = await collect(broker, req, byId, replicaId, ctx.version, mayRead)
  return result.response
})

async function collect(broker: Broker, req: FetchRequest, byId: boolean, replicaId: number, version: number, mayRead: (topic: string) => boolean) {
  let remaining = req.maxBytes > 0 ? req.maxBytes : 0
  let bytes = 0
  let error = false
  const committed = req.isolationLevel === READ_COMMITTED
  const responses = []
  for (const t of req.topics) {
    const name = byId ? broker.topicById(t.topicId)?.record.name : t.topic
    const missing = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    const out = []
    for (const fp of t.partitions) {
      // Kafka answers every error with empty (never null) records: librdkafka rejects a whole classic
      // response over one null record set. A partition the metadata does not know is answered by
      // FetchResponse.partitionResponse (aborted transactions: its default, an empty list); one that fails
      // in the read is answered by ReplicaManager.createLogReadResult (offsets unknown, aborted: null).
      const unknown = (errorCode: number) => ({ ...failed(fp.partition, errorCode, version), abortedTransactions: [] })
      const readError = (errorCode: number) => failed(fp.partition, errorCode, version)
      if (name !== undefined && !mayRead(name)) {
        error = true
        out.push(unknown(ErrorCode.TOPIC_AUTHORIZATION_FAILED))
        continue
      }
      const p = name === undefined ? undefined : broker.partition(name, fp.partition)
      if (!p) {
        error = true
        const known = name !== undefined && fp.partition >= 0 && fp.partition < (broker.topic(name)?.record.partitions ?? 0)
        out.push(name === undefined ? unknown(missing) : known ? readError(ErrorCode.NOT_LEADER_OR_FOLLOWER) : unknown(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
        continue
      }
      const base = { partitionIndex: fp.partition, abortedTransactions: committed ? [] : null, preferredReadReplica: -1 }
      const limit = Math.min(fp.partitionMaxBytes, remaining)
      const minOne = bytes === 0 && version >= 3
      if (replicaId >= 0) {
        let r
        try {
          r = await broker.replicas.fetchForFollower(p, replicaId, fp, Math.max(0, limit), minOne)
        } catch (err) {
          broker.log.error('replica fetch read failed', { topic: name, partition: fp.partition, replicaId, err })
          error = true
          out.push(readError(ErrorCode.KAFKA_STORAGE_ERROR))
          continue
        }
        const diverging = r.divergingEpoch.epoch >= 0 || r.divergingEpoch.endOffset >= 0
        if (r.errorCode !== ErrorCode.NONE || diverging) error = true
        bytes += r.bytes
        remaining -= r.bytes
        // Our followers read the leader's log start from an OFFSET_OUT_OF_RANGE answer (broker/replication/
        // fetcher.ts), so follower errors keep the partition state that Kafka would send as -1.
        const { highWatermark, lastStableOffset, logStartOffset, divergingEpoch, errorCode } = r
        out.push({ ...base, errorCode, highWatermark, lastStableOffset, logStartOffset, divergingEpoch, records: r.records ?? [] })
        continue
      }
      const state = { highWatermark: p.highWatermark, lastStableOffset: p.lastStableOffset, logStartOffset: p.log.logStartOffset }
      const epoch = p.checkLeaderEpoch(fp.currentLeaderEpoch)
      if (epoch !== 'ok') {
        error = true
        out.push(readError(epoch === 'fenced' ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH))
        continue
      }
      if (!p.isLeader) {
        error = true
        out.push(readError(ErrorCode.NOT_LEADER_OR_FOLLOWER))
        continue
      }
      if (limit <= 0 && !minOne) {
        out.push({ ...base, ...state, errorCode: ErrorCode.NONE, records: [] })
        continue
      }
      let read
      try {
        read = await p.log.read(fp.fetchOffset, Math.max(0, limit), committed ? p.lastStableOffset : p.highWatermark, minOne)
      } catch (err) {
        broker.log.error('fetch read failed', { topic: name, partition: fp.partition, err })
        error = true
        out.push(readError(ErrorCode.KAFKA_STORAGE_ERROR))
        continue
      }
      if (read.kind === 'out-of-range') {
        error = true
        out.push(readError(ErrorCode.OFFSET_OUT_OF_RANGE))
        continue
      }
      let records: Buffer[] = read.records
      if (version <= 3 && read.bytes > 0) {
        try {
          records = downConvert(read.records, version <= 1 ? 0 : 1, fp.fetchOffset)
        } catch (err) {
          if (!(err instanceof UnsupportedCodec)) throw err
          error = true
          out.push({ ...unknown(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE), records: null })
          continue
        }
      }
      bytes += read.bytes
      remaining -= read.bytes
      out.push({ ...base, ...state, errorCode: ErrorCode.NONE, records })
    }
    responses.push({ topic: t.topic, topicId: t.topicId, partitions: out })
  }
  return { bytes, error, response: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses } }
}

/** A partition that failed in the read, as Kafka's ReplicaManager.createLogReadResult answers it. */
function failed(partitionIndex: number, errorCode: number, version: number) {
  // KafkaApis.maybeDownConvertStorageError: clients of v5 and older may not know KAFKA_STORAGE_ERROR.
  const code = errorCode === ErrorCode.KAFKA_STORAGE_ERROR && version <= 5 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : errorCode
  return { partitionIndex, errorCode: code, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, preferredReadReplica: -1, records: [] }
}
