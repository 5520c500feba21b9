// raw: our own Kafka client on broker/protocol, the load generator for raw-ingest runs and benchmarks, so that
// the client is never what gets measured. The same message declarations the broker decodes encode our requests.
//
// - One connection per broker per client object (a producer, a consumer and an admin each have their own, as
//   Java clients do, so a consumer's long poll never sits in front of a producer's acks).
// - ApiVersions on connect picks, per API, the highest version both sides speak; SASL PLAIN/SCRAM and TLS.
// - Requests are pipelined: up to `window` in flight per connection, responses matched by correlation id in
//   order (Kafka answers a connection's requests in order); more wait in a local queue, unwritten.
// - A request older than requestTimeoutMs (request.timeout.ms, default 30 s) fails every outstanding request of
//   its connection (TIMEOUT, not definite) and closes it; the next use reconnects. Requests never written fail
//   definitely (NOT_CONNECTED). A producer's send is bounded by its deliveryTimeoutMs (delivery.timeout.ms,
//   default 2 min): one still waiting for metadata or a connection then fails (TIMEOUT, definite), and its
//   requests time out at min(request timeout, delivery timeout).
// - Produce: batches encoded with encodeRecordBatch, one partition per request, not retried (the outcome
//   of each attempt stays exact for the checker) except by an idempotent producer, which resends the same
//   bytes (producer id and sequence, so the broker drops a copy) within the delivery timeout. Under acks=all NOT_LEADER_OR_FOLLOWER is not definite (a
//   leader deposed while waiting for its ISR answers it after the append). A failure (a timeout, a stale
//   leader, REQUEST_TIMED_OUT) refreshes metadata, and sends wait for that refresh before they are routed.
//   A retry waits ahead of its partition's later sends, so a partition's batches take their sequence numbers,
//   and reach the leader, in the order they were sent (the Java producer's re-enqueue in sequence order).
// - Metadata comes from the least loaded connection, and a partition's leader is replaced only by one of an
//   equal or newer leader epoch (KIP-320): a broker resumed after a pause still names itself for a while. BatchTemplate pre-encodes a batch once and stamps a copy
//   per send (value headers, then restampBatch: timestamps, producer id and sequence, CRC), for
//   raw-ingest load; the harness reaches it as DriverProducer.preEncoded.
// - Fetch by partition (the Fetcher), with manual assignment or as a member of a consumer group over the
//   classic protocol (raw/group.ts: coordinator, join/sync with the range assignor, heartbeats, commits,
//   rebalances, coordinator failover); ListOffsets, Metadata, CreateTopics, DeleteTopics.
// Not done: transactions, fetch sessions, cooperative rebalancing, static membership, compression other than gzip.
//
// The parts, by role, in raw/: connection.ts (one broker), cluster.ts (metadata, a connection per broker),
// producer.ts (with BatchTemplate), consumer.ts (Fetcher, manual assignment), group.ts, admin.ts, common.ts (capabilities, error mapping). This file
// assembles the Driver and re-exports what the rest of the harness uses.

import type { ConnectOptions, ConsumerOptions, Driver, ProducerOptions } from '../driver.ts'
import { RawAdmin } from './raw/admin.ts'
import { RawCluster } from './raw/cluster.ts'
import { rawCapabilities } from './raw/common.ts'
import { RawConsumer } from './raw/consumer.ts'
import { groupTimings, RawGroupConsumer } from './raw/group.ts'
import { RawProducer } from './raw/producer.ts'

export { RawCluster } from './raw/cluster.ts'
export { rawCapabilities } from './raw/common.ts'
export { RawConnection } from './raw/connection.ts'
export { BatchTemplate, RawProducer } from './raw/producer.ts'

export interface RawDriver extends Driver {
  producer(opts?: ProducerOptions): Promise<RawProducer>
}

export function rawDriver(opts: ConnectOptions): RawDriver {
  const clients = new Set<{ close(): Promise<void> }>()
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    clients.add(c)
    return c
  }
  return {
    name: 'raw',
    capabilities: rawCapabilities,
    async producer(p: ProducerOptions = {}) {
      // As Java's producer: a request never outlives the delivery timeout of the send it carries.
      const requestTimeoutMs = Math.min(opts.requestTimeoutMs ?? 30_000, p.deliveryTimeoutMs ?? Number.POSITIVE_INFINITY)
      const cluster = new RawCluster({ ...opts, requestTimeoutMs }, p.maxInFlight ?? 5)
      const producer = new RawProducer(cluster, p)
      await cluster.any()
      await producer.init()
      return track(producer)
    },
    async consumer(c: ConsumerOptions) {
      if (!c.group) return track(new RawConsumer(new RawCluster(opts, 2), c))
      const t = groupTimings(c.group.sessionTimeoutMs, opts.requestTimeoutMs)
      // The coordinator's connections: JoinGroup waits out the rebalance; other calls have their own timeout.
      const coord = new RawCluster({ ...opts, requestTimeoutMs: t.rebalanceTimeoutMs + 10_000 }, 4)
      return track(new RawGroupConsumer(new RawCluster(opts, 2), coord, c, t))
    },
    async admin() {
      const cluster = new RawCluster(opts, 5)
      await cluster.any()
      return track(new RawAdmin(cluster))
    },
    async close() {
      const all = [...clients]
      clients.clear()
      await Promise.allSettled(all.map((c) => c.close()))
    },
  }
}

