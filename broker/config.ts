// Broker and topic configuration: one table of definitions (Kafka's names, types, defaults and docs), one
// validation path for the config file, the command-line flags and CreateTopics/IncrementalAlterConfigs
// values, and the source of truth for DescribeConfigs ("every config with its default").
//
// Config files use Kafka's server.properties syntax (`key=value`, `#` comments). Unknown keys and bad values
// are errors that name the file, the line and what would be accepted.

import { readFileSync } from 'node:fs'

export type ConfigType = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'password'

/** DescribeConfigs v3+ ConfigType codes. */
export const configTypeCode: Record<ConfigType, number> = {
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  double: 6,
  list: 7,
  password: 9,
}

export interface ConfigDef {
  readonly name: string
  readonly type: ConfigType
  /** Default as Kafka prints it; null = no default (required or absent). */
  readonly default: string | null
  readonly doc: string
  /** Accepted values (for strings) or a numeric range. */
  readonly oneOf?: readonly string[]
  readonly min?: number
  readonly max?: number
  readonly sensitive?: boolean
}

const LONG_MAX = '9223372036854775807'
const DAY = 24 * 60 * 60 * 1000

// Why flush.ms defaults to 1000 and flush.messages to "never": a SIGKILLed broker loses nothing that was
// written (the page cache survives the process), so per-write fsync only guards against a machine crash,
// and on this broker it costs most of the produce throughput the benchmarks measure. Apache Kafka relies
// on replication and never fsyncs by default; a single reference broker has no replicas, so we bound the
// window instead: at most about a second of acknowledged writes is at risk on power loss. Scenarios that
// verify durability against machine crashes set flush.messages=1 (group-committed fsync before the ack).
export const brokerConfigDefs: readonly ConfigDef[] = [
  { name: 'node.id', type: 'int', default: null, doc: 'The broker id.', min: 0 },
  { name: 'listeners', type: 'list', default: 'PLAINTEXT://127.0.0.1:9092', doc: 'Comma-separated listener URIs: NAME://host:port.' },
  { name: 'advertised.listeners', type: 'list', default: null, doc: 'Listeners to publish to clients; defaults to listeners.' },
  { name: 'log.dirs', type: 'string', default: null, doc: 'The directory holding the log data.' },
  { name: 'broker.rack', type: 'string', default: null, doc: 'Rack of the broker.' },
  { name: 'cluster.id', type: 'string', default: null, doc: 'Cluster id; generated on first start and kept in meta.properties.' },
  { name: 'process.roles', type: 'list', default: 'broker,controller', doc: 'broker, controller, or both (combined mode): a controller is a voter of the metadata quorum.', oneOf: ['broker', 'controller'] },
  { name: 'controller.quorum.voters', type: 'list', default: '', doc: 'Voters of the metadata quorum: id@host:port,... (their CONTROLLER listeners); empty: this node alone, on its controller listener.' },
  { name: 'controller.listener.names', type: 'list', default: 'CONTROLLER', doc: 'Listeners that carry the metadata quorum and broker-to-controller requests, never client traffic.' },
  { name: 'broker.session.timeout.ms', type: 'int', default: '9000', doc: 'A broker without a heartbeat for this long is fenced and its leaderships move.', min: 1 },
  { name: 'broker.heartbeat.interval.ms', type: 'int', default: '2000', doc: 'How often a broker heartbeats to the controller.', min: 1 },
  { name: 'controller.quorum.election.timeout.ms', type: 'int', default: '1000', doc: 'A voter without a leader waits this long (plus a random part) before it campaigns.', min: 1 },
  { name: 'controller.quorum.fetch.timeout.ms', type: 'int', default: '2000', doc: 'A voter that has not heard from the leader this long campaigns.', min: 1 },
  { name: 'controller.quorum.request.timeout.ms', type: 'int', default: '2000', doc: 'An unanswered quorum request is sent again after this.', min: 1 },
  { name: 'offsets.topic.replication.factor', type: 'short', default: '3', doc: 'Replication factor of __consumer_offsets, capped to the live brokers when it is created.', min: 1 },
  { name: 'num.partitions', type: 'int', default: '1', doc: 'Default partition count of auto-created topics.', min: 1 },
  { name: 'default.replication.factor', type: 'int', default: '1', doc: 'Default replication factor of auto-created topics.', min: 1 },
  { name: 'auto.create.topics.enable', type: 'boolean', default: 'true', doc: 'Create a topic when Metadata names an unknown one.' },
  { name: 'delete.topic.enable', type: 'boolean', default: 'true', doc: 'Allow DeleteTopics.' },
  { name: 'socket.request.max.bytes', type: 'int', default: '104857600', doc: 'Largest request frame accepted; larger frames close the connection.', min: 1 },
  { name: 'queued.max.requests', type: 'int', default: '500', doc: 'Requests in flight per connection before the broker stops reading from it.', min: 1 },
  { name: 'queued.max.request.bytes', type: 'long', default: '-1', doc: 'Bytes of requests in flight per connection before the broker stops reading from it (-1: 4 x socket.request.max.bytes).' },
  { name: 'connections.max.idle.ms', type: 'long', default: '600000', doc: 'Idle connections are closed after this long.', min: 1 },
  { name: 'message.max.bytes', type: 'int', default: '1048588', doc: 'Largest record batch a topic accepts, unless its max.message.bytes says otherwise.', min: 0 },
  { name: 'log.segment.bytes', type: 'int', default: '1073741824', doc: 'Segment size.', min: 14 },
  { name: 'log.roll.ms', type: 'long', default: String(7 * DAY), doc: 'Roll a segment after this long.', min: 1 },
  { name: 'log.index.size.max.bytes', type: 'int', default: '10485760', doc: 'Maximum size of an offset index.', min: 4 },
  { name: 'log.index.interval.bytes', type: 'int', default: '4096', doc: 'Bytes between offset index entries.', min: 0 },
  { name: 'log.retention.ms', type: 'long', default: String(7 * DAY), doc: 'Delete segments older than this (-1: never).', min: -1 },
  { name: 'log.retention.bytes', type: 'long', default: '-1', doc: 'Delete old segments beyond this size per partition (-1: never).', min: -1 },
  { name: 'log.flush.interval.messages', type: 'long', default: LONG_MAX, doc: 'Fsync after this many messages; 1 = fsync every write before acknowledging it.', min: 1 },
  { name: 'log.flush.interval.ms', type: 'long', default: '1000', doc: 'Fsync data older than this (background). See the comment in broker/config.ts for why 1000.', min: 0 },
  { name: 'log.retention.check.interval.ms', type: 'long', default: '300000', doc: 'How often retention runs.', min: 1 },
  { name: 'log.flush.offset.checkpoint.interval.ms', type: 'int', default: '60000', doc: 'How often the recovery point is checkpointed.', min: 0 },
  { name: 'log.flush.start.offset.checkpoint.interval.ms', type: 'int', default: '60000', doc: 'How often log start offsets are checkpointed.', min: 0 },
  { name: 'log.message.timestamp.type', type: 'string', default: 'CreateTime', doc: 'CreateTime or LogAppendTime.', oneOf: ['CreateTime', 'LogAppendTime'] },
  { name: 'file.delete.delay.ms', type: 'long', default: '60000', doc: 'Delay before a deleted segment file is removed.', min: 0 },
  { name: 'min.insync.replicas', type: 'int', default: '1', doc: 'Replicas that must acknowledge an acks=all write.', min: 1 },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', doc: 'Allow an out-of-sync replica to become leader.' },
  { name: 'auto.leader.rebalance.enable', type: 'boolean', default: 'true', doc: 'The active controller moves leadership back to each partition\'s preferred (first) replica once it is in the ISR, checking every leader.imbalance.check.interval.seconds.' },
  { name: 'leader.imbalance.check.interval.seconds', type: 'long', default: '300', doc: 'How often the active controller looks for partitions not led by their preferred replica.', min: 1 },
  { name: 'leader.imbalance.per.broker.percentage', type: 'int', default: '10', doc: 'Accepted for compatibility; as in Kafka 3.9\'s KRaft controller, every imbalanced partition is rebalanced regardless of it.', min: 0, max: 100 },
  { name: 'compression.type', type: 'string', default: 'producer', doc: 'Broker-side compression; only producer (keep as sent) is implemented.', oneOf: ['producer'] },
  { name: 'log.cleanup.policy', type: 'list', default: 'delete', doc: 'Only delete is implemented.', oneOf: ['delete'] },
  { name: 'fetch.max.bytes', type: 'int', default: '57671680', doc: 'Largest Fetch response.', min: 0 },
  { name: 'producer.snapshot.interval.ms', type: 'long', default: '60000', doc: 'How often changed idempotent-producer state is snapshotted (also at clean shutdown); recovery replays the log after the newest snapshot.', min: 1 },
  { name: 'producer.id.expiration.ms', type: 'int', default: '86400000', doc: 'An idempotent producer with no write for this long is forgotten by a partition.', min: 1 },
  { name: 'replica.lag.time.max.ms', type: 'long', default: '30000', doc: 'A follower that has not caught up for this long leaves the ISR.', min: 1 },
  { name: 'replica.high.watermark.checkpoint.interval.ms', type: 'long', default: '5000', doc: 'How often high watermarks are checkpointed to replication-offset-checkpoint (also at clean shutdown); a restart resumes from them.', min: 1 },
  { name: 'replica.fetch.wait.max.ms', type: 'int', default: '500', doc: 'Longest a follower fetch waits at the leader for new records.', min: 0 },
  { name: 'replica.fetch.min.bytes', type: 'int', default: '1', doc: 'Bytes a follower fetch waits for at the leader.', min: 1 },
  { name: 'replica.fetch.max.bytes', type: 'int', default: '1048576', doc: 'Bytes a follower fetches per partition (at least one batch).', min: 0 },
  { name: 'replica.fetch.response.max.bytes', type: 'int', default: '10485760', doc: 'Bytes a follower fetches per request (at least one batch).', min: 0 },
  { name: 'replica.fetch.backoff.ms', type: 'int', default: '1000', doc: 'How long a follower waits after a fetch error before fetching that partition again.', min: 0 },
  { name: 'replica.socket.timeout.ms', type: 'int', default: '30000', doc: 'Timeout of a follower fetch request (on top of replica.fetch.wait.max.ms) and of its connect.', min: 1 },
  { name: 'group.initial.rebalance.delay.ms', type: 'int', default: '3000', doc: 'How long the first rebalance of an empty group waits for more members (again for each newcomer, up to the rebalance timeout).', min: 0 },
  { name: 'group.min.session.timeout.ms', type: 'int', default: '6000', doc: 'Smallest session timeout a group member may ask for.', min: 0 },
  { name: 'group.max.session.timeout.ms', type: 'int', default: '1800000', doc: 'Largest session timeout a group member may ask for.', min: 0 },
  { name: 'group.max.size', type: 'int', default: '2147483647', doc: 'Most members a consumer group may have.', min: 1 },
  { name: 'offsets.topic.num.partitions', type: 'int', default: '50', doc: 'Partitions of __consumer_offsets when the broker creates it (an existing topic keeps its count).', min: 1 },
  { name: 'offsets.topic.segment.bytes', type: 'int', default: '104857600', doc: 'Segment size of __consumer_offsets.', min: 14 },
  { name: 'offsets.retention.minutes', type: 'int', default: '10080', doc: 'Committed offsets of a group that has been empty this long are deleted.', min: 1 },
  { name: 'offsets.retention.check.interval.ms', type: 'long', default: '600000', doc: 'How often expired offsets are looked for.', min: 1 },
  { name: 'offsets.commit.timeout.ms', type: 'int', default: '5000', doc: 'An offset commit not durable within this long is answered REQUEST_TIMED_OUT.', min: 1 },
  { name: 'offset.metadata.max.bytes', type: 'int', default: '4096', doc: 'Largest metadata string an offset commit may carry.', min: 0 },
  // A test knob, used only by bench/regression-ab.ts to inject a known slowdown; never set it in production.
  { name: 'faultline.test.produce.cpu.burn.us.per.kib', type: 'long', default: '0', doc: 'TEST KNOB (bench/regression.ts ab only): a leader busy-spins this many microseconds per KiB of records it appends, to inject a known slowdown. 0 = off.', min: 0 },
  { name: 'listener.security.protocol.map', type: 'list', default: 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL', doc: 'Security protocol of each listener name: NAME:PROTOCOL,... (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; controller listeners: PLAINTEXT or SSL). Unset, controller listeners not in it are PLAINTEXT.' },
  { name: 'inter.broker.listener.name', type: 'string', default: null, doc: 'The listener brokers fetch from each other on (replication); defaults to the listener named by security.inter.broker.protocol.' },
  { name: 'security.inter.broker.protocol', type: 'string', default: 'PLAINTEXT', doc: 'The inter-broker listener by protocol name (used when inter.broker.listener.name is unset; not both).', oneOf: ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] },
  { name: 'ssl.keystore.type', type: 'string', default: 'PEM', doc: 'Only PEM.', oneOf: ['PEM'] },
  { name: 'ssl.keystore.location', type: 'string', default: null, doc: 'PEM file with the private key and the certificate chain of an SSL listener.' },
  { name: 'ssl.keystore.certificate.chain', type: 'password', default: null, doc: 'The certificate chain as inline PEM (with ssl.keystore.key, instead of ssl.keystore.location).', sensitive: true },
  { name: 'ssl.keystore.key', type: 'password', default: null, doc: 'The private key as inline PEM (with ssl.keystore.certificate.chain).', sensitive: true },
  { name: 'ssl.key.password', type: 'password', default: null, doc: 'Password of an encrypted private key.', sensitive: true },
  { name: 'ssl.truststore.type', type: 'string', default: 'PEM', doc: 'Only PEM.', oneOf: ['PEM'] },
  { name: 'ssl.truststore.location', type: 'string', default: null, doc: 'PEM file of the CA certificates that client (and peer broker) certificates must chain to.' },
  { name: 'ssl.truststore.certificates', type: 'password', default: null, doc: 'The trusted CA certificates as inline PEM (instead of ssl.truststore.location).' },
  { name: 'ssl.client.auth', type: 'string', default: 'none', doc: 'Client certificates: none, requested (verified when presented) or required. A controller listener on SSL always requires them.', oneOf: ['none', 'requested', 'required'] },
  { name: 'ssl.enabled.protocols', type: 'list', default: 'TLSv1.2,TLSv1.3', doc: 'TLS versions accepted and offered.', oneOf: ['TLSv1.2', 'TLSv1.3'] },
  { name: 'ssl.endpoint.identification.algorithm', type: 'string', default: 'https', doc: 'https: a broker dialling another checks its host or address against the certificate; empty: no check.', oneOf: ['https', ''] },
  { name: 'ssl.principal.mapping.rules', type: 'string', default: 'DEFAULT', doc: 'Only DEFAULT: the principal is User: and the certificate subject in RFC 2253 form.', oneOf: ['DEFAULT'] },
  { name: 'sasl.enabled.mechanisms', type: 'list', default: 'GSSAPI', doc: 'SASL mechanisms of SASL listeners (listener.name.<name>.sasl.enabled.mechanisms overrides it per listener): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. The default is Kafka\'s GSSAPI, which is not implemented: a SASL listener must set it.' },
  { name: 'sasl.mechanism.inter.broker.protocol', type: 'string', default: 'GSSAPI', doc: 'The mechanism brokers authenticate with to each other on a SASL inter-broker listener, with the username and password of that listener\'s listener.name.<name>.<mechanism>.sasl.jaas.config.' },
  { name: 'sasl.server.max.receive.size', type: 'int', default: '524288', doc: 'Largest frame a SASL listener reads before the client has authenticated (socket.request.max.bytes applies after).', min: 0 },
  { name: 'connection.failed.authentication.delay.ms', type: 'int', default: '100', doc: 'A failed SASL authentication is answered (SASL_AUTHENTICATION_FAILED) and the connection closed after this delay.', min: 0 },
  { name: 'connections.max.reauth.ms', type: 'long', default: '0', doc: 'SASL session lifetime (KIP-368), answered as SaslAuthenticate sessionLifetimeMs: a client re-authenticates on its connection (SaslHandshake, SaslAuthenticate, same principal) before it ends, and a connection whose session has ended is closed at its next other request. Per listener and mechanism: listener.name.<name>.<mechanism>.connections.max.reauth.ms. 0 = sessions never end.', min: 0 },
  { name: 'authorizer.class.name', type: 'string', default: '', doc: 'Any non-empty value (Kafka\'s org.apache.kafka.metadata.authorizer.StandardAuthorizer, say) turns on the built-in ACL authorizer; empty: every request is allowed.' },
  { name: 'super.users', type: 'string', default: null, doc: 'Principals allowed everything by the authorizer, semicolon-separated (User:admin;User:broker). The brokers\' own inter-broker principals belong here.' },
  { name: 'allow.everyone.if.no.acl.found', type: 'boolean', default: 'false', doc: 'With the authorizer on: a resource that no ACL matches is open to everyone (true) or to super users only (false).' },
  { name: 'sasl.jaas.config', type: 'password', default: null, doc: 'Only as listener.name.<name>.<mechanism>.sasl.jaas.config (as on Kafka brokers): PLAIN users as user_<name>="password", and the broker\'s own username and password for inter-broker SASL.', sensitive: true },
]

/** Topic-level configs and the broker config each one falls back to. */
export const topicConfigDefs: readonly (ConfigDef & { readonly broker: string | null })[] = [
  { name: 'cleanup.policy', type: 'list', default: 'delete', doc: 'Only delete is implemented.', oneOf: ['delete'], broker: 'log.cleanup.policy' },
  { name: 'compression.type', type: 'string', default: 'producer', doc: 'Only producer is implemented.', oneOf: ['producer'], broker: 'compression.type' },
  { name: 'delete.retention.ms', type: 'long', default: String(DAY), doc: 'Tombstone retention (compaction is not implemented).', min: 0, broker: null },
  { name: 'file.delete.delay.ms', type: 'long', default: '60000', doc: 'Delay before a deleted segment file is removed.', min: 0, broker: 'file.delete.delay.ms' },
  { name: 'flush.messages', type: 'long', default: LONG_MAX, doc: 'Fsync after this many messages; 1 = every write.', min: 1, broker: 'log.flush.interval.messages' },
  { name: 'flush.ms', type: 'long', default: '1000', doc: 'Fsync data older than this.', min: 0, broker: 'log.flush.interval.ms' },
  { name: 'index.interval.bytes', type: 'int', default: '4096', doc: 'Bytes between offset index entries.', min: 0, broker: 'log.index.interval.bytes' },
  { name: 'max.message.bytes', type: 'int', default: '1048588', doc: 'Largest record batch accepted.', min: 0, broker: 'message.max.bytes' },
  { name: 'message.timestamp.type', type: 'string', default: 'CreateTime', doc: 'CreateTime or LogAppendTime.', oneOf: ['CreateTime', 'LogAppendTime'], broker: 'log.message.timestamp.type' },
  { name: 'min.insync.replicas', type: 'int', default: '1', doc: 'Replicas that must acknowledge an acks=all write.', min: 1, broker: 'min.insync.replicas' },
  { name: 'retention.bytes', type: 'long', default: '-1', doc: 'Partition size kept (-1: unlimited).', min: -1, broker: 'log.retention.bytes' },
  { name: 'retention.ms', type: 'long', default: String(7 * DAY), doc: 'Time data is kept (-1: unlimited).', min: -1, broker: 'log.retention.ms' },
  { name: 'segment.bytes', type: 'int', default: '1073741824', doc: 'Segment size.', min: 14, broker: 'log.segment.bytes' },
  { name: 'segment.index.bytes', type: 'int', default: '10485760', doc: 'Offset index size.', min: 4, broker: 'log.index.size.max.bytes' },
  { name: 'segment.ms', type: 'long', default: String(7 * DAY), doc: 'Roll a segment after this long.', min: 1, broker: 'log.roll.ms' },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', doc: 'Allow an out-of-sync replica to become leader.', broker: 'unclean.leader.election.enable' },
]

const brokerDefsByName = new Map(brokerConfigDefs.map((d) => [d.name, d]))
export const topicDefsByName = new Map(topicConfigDefs.map((d) => [d.name, d]))

/** Checks a value against its definition; returns an error message or null. */
export function checkValue(def: ConfigDef, value: string): string | null {
  const expect = (what: string) => `${def.name}=${JSON.stringify(value)} is not valid: expected ${what}`
  switch (def.type) {
    case 'boolean':
      return value === 'true' || value === 'false' ? null : expect('true or false')
    case 'int':
    case 'short':
    case 'long': {
      if (!/^-?\d+$/.test(value)) return expect(`an integer${rangeText(def)}`)
      const n = Number(value)
      if (def.type === 'int' && (n < -2147483648 || n > 2147483647)) return expect('a 32-bit integer')
      if (def.min !== undefined && n < def.min) return expect(`an integer${rangeText(def)}`)
      if (def.max !== undefined && n > def.max) return expect(`an integer${rangeText(def)}`)
      return null
    }
    case 'double':
      return Number.isFinite(Number(value)) && value.trim() !== '' ? null : expect('a number')
    case 'list':
      if (def.oneOf) {
        const bad = value.split(',').map((s) => s.trim()).filter((s) => !def.oneOf!.includes(s))
        if (bad.length) return expect(`a list of ${def.oneOf.join(', ')}`)
      }
      return null
    default:
      if (def.oneOf && !def.oneOf.includes(value)) return expect(`one of ${def.oneOf.join(', ')}`)
      return null
  }
}

function rangeText(def: ConfigDef): string {
  if (def.min !== undefined && def.max !== undefined) return ` between ${def.min} and ${def.max}`
  if (def.min !== undefined) return ` >= ${def.min}`
  return ''
}

/** Longs beyond 2^53 (Long.MAX_VALUE defaults) become MAX_SAFE_INTEGER: "never" either way. */
export function toNumber(value: string): number {
  const n = Number(value)
  return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n
}

export class ConfigError extends Error {
  readonly code = 'ERR_FAULTLINE_CONFIG'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

export interface Listener {
  readonly name: string
  readonly host: string
  readonly port: number
}

/** Parses controller.quorum.voters: `id@host:port[,id@host:port]`. */
export function parseVoters(value: string): Map<number, { host: string; port: number }> {
  const out = new Map<number, { host: string; port: number }>()
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)@(\[[^\]]+\]|[^:/@]+):(\d+)$/.exec(part)
    if (!m) throw new ConfigError(`controller.quorum.voters: ${JSON.stringify(part)} is not a voter; expected id@host:port, e.g. 1@127.0.0.1:19092`)
    const id = Number(m[1])
    if (out.has(id)) throw new ConfigError(`controller.quorum.voters: node ${id} is listed twice`)
    out.set(id, { host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) })
  }
  return out
}

/** Parses `NAME://host:port[,NAME://host:port]`. */
export function parseListeners(value: string, key = 'listeners'): Listener[] {
  const out: Listener[] = []
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*):\/\/(\[[^\]]+\]|[^:/]*):(\d+)$/.exec(part)
    if (!m) throw new ConfigError(`${key}: ${JSON.stringify(part)} is not a listener; expected NAME://host:port, e.g. PLAINTEXT://127.0.0.1:9092`)
    const port = Number(m[3])
    if (port > 65535) throw new ConfigError(`${key}: port ${port} in ${JSON.stringify(part)} is out of range 0-65535`)
    out.push({ name: m[1]!.toUpperCase(), host: m[2]!.replace(/^\[|\]$/g, ''), port })
  }
  if (out.length === 0) throw new ConfigError(`${key} is empty; expected NAME://host:port`)
  return out
}

/** The broker's effective configuration: string values by Kafka name, plus typed accessors. */
/** A dynamic broker config's value and whether it is this broker's own (else the cluster-wide default). */
export interface DynamicValue {
  readonly value: string
  readonly perBroker: boolean
}

/** Broker configs that may change at run time (IncrementalAlterConfigs / AlterConfigs on a BROKER resource):
 *  the broker-wide defaults of topic configs, as Kafka's DynamicLogConfig. */
export const dynamicBrokerConfigs: ReadonlySet<string> = new Set(topicConfigDefs.flatMap((d) => (d.broker ? [d.broker] : [])))

export class BrokerConfig {
  readonly values: ReadonlyMap<string, string>
  /** Keys set explicitly (file or flags), for DescribeConfigs' source field. */
  readonly explicit: ReadonlySet<string>

  #dynamic: ReadonlyMap<string, DynamicValue> = new Map()

  constructor(values: Map<string, string>, explicit: Set<string>) {
    this.values = values
    this.explicit = explicit
  }

  /** Dynamic broker configs from the metadata log (this broker's over the cluster default); they win over the
   *  static ones everywhere a value is read. */
  setDynamic(dynamic: ReadonlyMap<string, DynamicValue>): void {
    this.#dynamic = dynamic
  }
  dynamic(name: string): DynamicValue | undefined {
    return this.#dynamic.get(name)
  }

  get(name: string): string | null {
    return this.#dynamic.get(name)?.value ?? this.values.get(name) ?? null
  }
  int(name: string): number {
    return toNumber(this.get(name) ?? 'NaN')
  }
  bool(name: string): boolean {
    return this.get(name) === 'true'
  }
  get nodeId(): number {
    return this.int('node.id')
  }
  get dataDir(): string {
    return this.values.get('log.dirs')!
  }
  get listeners(): Listener[] {
    return parseListeners(this.values.get('listeners')!)
  }
  get controllerListenerNames(): string[] {
    return (this.values.get('controller.listener.names') ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)
  }
  /** Listeners for Kafka clients (everything but the controller listeners). */
  get clientListeners(): Listener[] {
    const names = this.controllerListenerNames
    return this.listeners.filter((l) => !names.includes(l.name))
  }
  get controllerListeners(): Listener[] {
    const names = this.controllerListenerNames
    return this.listeners.filter((l) => names.includes(l.name))
  }
  get roles(): { broker: boolean; controller: boolean } {
    const r = (this.values.get('process.roles') ?? '').split(',').map((s) => s.trim())
    return { broker: r.includes('broker'), controller: r.includes('controller') }
  }
  /** controller.quorum.voters; null when unset (this node alone). */
  get voters(): Map<number, { host: string; port: number }> | null {
    const v = this.values.get('controller.quorum.voters') ?? ''
    return v.trim() === '' ? null : parseVoters(v)
  }
  get advertisedListeners(): Listener[] {
    const adv = this.values.get('advertised.listeners')
    return adv ? parseListeners(adv, 'advertised.listeners') : this.listeners
  }

  /** A topic's effective config: explicit topic value, else the broker's synonym, else the default. */
  topicValue(name: string, overrides: Readonly<Record<string, string>>): string {
    const def = topicDefsByName.get(name)
    if (!def) throw new TypeError(`unknown topic config ${name}`)
    return overrides[name] ?? (def.broker ? (this.get(def.broker) ?? undefined) : undefined) ?? def.default ?? ''
  }
}

export interface ConfigInput {
  /** key=value pairs from the file, with their line numbers. */
  file?: { path: string; entries: { key: string; value: string; line: number }[] }
  /** From flags; `where` names the flag for error messages. */
  flags?: { key: string; value: string; where: string }[]
}

/** Validates and merges file and flags (flags win) over the defaults. Throws ConfigError listing every problem. */
export function buildBrokerConfig(input: ConfigInput): BrokerConfig {
  const values = new Map<string, string>()
  const explicit = new Set<string>()
  for (const d of brokerConfigDefs) if (d.default !== null) values.set(d.name, d.default)
  const problems: string[] = []
  const known = () => `known keys: ${brokerConfigDefs.map((d) => d.name).join(', ')}`
  const apply = (key: string, value: string, where: string) => {
    const def = brokerDefsByName.get(key) ?? listenerPrefixedDef(key)
    if (!def) {
      const near = brokerConfigDefs.find((d) => editDistance(d.name, key) <= 2)
      problems.push(`${where}: unknown config ${JSON.stringify(key)}${near ? ` (did you mean ${near.name}?)` : ''}; ${known()}`)
      return
    }
    const err = checkValue(def, value)
    if (err) {
      problems.push(`${where}: ${err}`)
      return
    }
    values.set(key, value)
    explicit.add(key)
  }
  for (const e of input.file?.entries ?? []) apply(e.key, e.value, `${input.file!.path}:${e.line}`)
  for (const fl of input.flags ?? []) apply(fl.key, fl.value, fl.where)
  for (const required of ['node.id', 'log.dirs']) {
    if (!values.has(required)) problems.push(`${required} is required (flag --${required === 'node.id' ? 'node-id' : 'data-dir'} or the config file)`)
  }
  for (const key of ['listeners', 'advertised.listeners']) {
    const v = values.get(key)
    if (v) {
      try {
        parseListeners(v, key)
      } catch (e) {
        problems.push((e as Error).message)
      }
    }
  }
  const voters = values.get('controller.quorum.voters')
  if (voters) {
    try {
      parseVoters(voters)
    } catch (e) {
      problems.push((e as Error).message)
    }
  }
  if (!problems.length) {
    const c = new BrokerConfig(values, explicit)
    const roles = c.roles
    if (!roles.broker) problems.push('process.roles must include broker: controller-only nodes are not supported yet')
    else if (c.clientListeners.length === 0) problems.push(`listeners has no client listener (all are in controller.listener.names ${c.controllerListenerNames.join(',')})`)
    const v = voters ? parseVoters(voters) : null
    if (roles.controller && v && v.has(c.nodeId) && c.controllerListeners.length === 0) {
      problems.push(`node ${c.nodeId} is a voter in controller.quorum.voters but listeners has no ${c.controllerListenerNames.join('/')} listener`)
    }
    if (v && roles.controller && !v.has(c.nodeId)) problems.push(`process.roles includes controller but node ${c.nodeId} is not in controller.quorum.voters`)
    if (v && !roles.controller && v.has(c.nodeId)) problems.push(`node ${c.nodeId} is in controller.quorum.voters but process.roles does not include controller`)
  }
  if (problems.length) throw new ConfigError(problems.join('\n'))
  return new BrokerConfig(values, explicit)
}

/** `listener.name.<name>.ssl.*` (and `.<mechanism>.sasl.jaas.config`, `.<mechanism>.connections.max.reauth.ms`): a listener's own value of a key, checked as that key (Kafka's prefixes). */
function listenerPrefixedDef(key: string): ConfigDef | undefined {
  const m = /^listener\.name\.([A-Za-z_][A-Za-z0-9_]*)\.(ssl\..+|sasl\.enabled\.mechanisms|(?:plain|scram-sha-256|scram-sha-512)\.(?:sasl\.jaas\.config|connections\.max\.reauth\.ms))$/.exec(key)
  const def = m ? brokerDefsByName.get(m[2]!.replace(/^[a-z0-9-]+\.(?=sasl\.jaas\.config$|connections\.max\.reauth\.ms$)/, '')) : undefined
  return def ? { ...def, name: key } : undefined
}

/** Parses server.properties syntax. */
export function readPropertiesFile(path: string): { path: string; entries: { key: string; value: string; line: number }[] } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const entries: { key: string; value: string; line: number }[] = []
  const problems: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith('!')) return
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line)
    if (!m) {
      problems.push(`${path}:${i + 1}: expected key=value, got ${JSON.stringify(line)}`)
      return
    }
    entries.push({ key: m[1]!, value: m[2]!.trim(), line: i + 1 })
  })
  if (problems.length) throw new ConfigError(problems.join('\n'))
  return { path, entries }
}

/** Validates topic config overrides (CreateTopics, IncrementalAlterConfigs); returns an error message or null. */
export function checkTopicConfig(name: string, value: string | null): string | null {
  const def = topicDefsByName.get(name)
  if (!def) return `Unknown topic config name: ${name}`
  if (value === null) return null
  return checkValue(def, value)
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return dp[a.length]![b.length]!
}
