// The scenario file: one YAML document saying which cluster, which topics, what load, which faults and
// which checks. It is validated here once; the runner only ever sees a Scenario with every default filled.
//
// Three passes, each reporting every problem it finds rather than the first:
//   1. YAML syntax (yaml's parser; duplicate keys are errors),
//   2. shape and units (a zod schema; the same schema emits the JSON Schema for editors),
//   3. cross-field rules that need the whole file (warmup < duration, faults inside the run, targets that
//      exist, replication factor <= brokers, ...).
// Every problem is reported as `file:line:col: path.to.field: what is wrong; expected ...`; the line comes
// from mapping the path back onto the YAML node it names.

import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml'
import { z } from 'zod'
import { brokerConfigDefs, checkValue, topicConfigDefs, topicDefsByName } from '../broker/config.ts'
import { type CompressionName, compressionNames } from '../broker/protocol/record-batch.ts'
import { ACTIONS_FOR_FAULT, COMMAND_PLACEHOLDERS, type ExternalNodeSpec, NODE_ACTIONS } from '../chaos/cluster/external.ts'
import { ACL_OPERATIONS, ACL_RESOURCES, type AclSpec, aclMatches, ADMIN_USER, BROKER_USER, SECURITY_PROTOCOLS, type SecuritySpec } from '../chaos/cluster/security.ts'
import { DIRECTIONS, FAULT_KINDS, type Fault, faultEndMs, isProxyFault, isSecurityFault, type PartitionFault, type PartitionSide, PROCESS_FAULT_KINDS, isProxyKind, type Target } from '../chaos/faults.ts'
import { expandNemesis, type MsRange, type NemesisSpec, nemesisKinds, repeatFault } from '../chaos/nemesis.ts'
import { type AnomalyKind, anomalyKinds, jepsenNames } from '../reports/checker.ts'
import { anomalyMeaning } from '../reports/describe.ts'
import { defaultRegressionThresholds, type RegressionThresholds, regressionMetrics } from '../reports/compare.ts'
import { type Acks, type SaslMechanism, saslMechanisms, type StartFrom } from '../workloads/driver.ts'
import { DEFAULT_DRIVER, describeDrivers, type DriverName, driverNames } from '../workloads/drivers/registry.ts'
import { type KeySpec, sizeBounds, type SizeSpec } from '../workloads/generators.ts'
import type { RateSpec } from '../workloads/rate.ts'
import {
  EXPECTED,
  formatDuration,
  formatSize,
  type ParseResult,
  parseDuration,
  parsePercent,
  parseRate,
  parseSize,
  PATTERNS,
  type Rate,
} from './units.ts'

// ---------------------------------------------------------------------------------------------------------
// The validated scenario. Durations are milliseconds, sizes bytes, rates per second, percentages fractions.
// It composes the types of the layers that own them (faults: chaos/faults.ts; drivers, keys, sizes, rates:
// workloads/; anomaly kinds: reports/checker.ts) and defines only what is the scenario's own.

export interface Scenario {
  readonly name: string
  readonly description: string
  readonly cluster: Cluster
  readonly topics: readonly Topic[]
  readonly workload: Workload
  /** Every fault in the order written, `every`/`count` expanded (<name>#1, <name>#2, ...). */
  readonly faults: readonly Fault[]
  /** Expanded with the run's seed when the run starts (chaos/nemesis.ts expandNemesis). */
  readonly nemesis: NemesisSpec | null
  readonly checks: Checks
  /** The run's seed when `faultline run` gets no --seed (explore pins the seed of a counterexample this way). */
  readonly seed?: number
}

export type Cluster = LocalCluster | DockerCluster | ExternalCluster

/** Reference brokers started as processes on this machine; node ids are 1..brokers. */
export interface LocalCluster {
  readonly backend: 'local'
  readonly brokers: number
  /** Broker config overrides (Kafka names), already checked against the broker's config table. */
  readonly config: Readonly<Record<string, string>>
  /** Proxies in front of every listener even without network-quality faults. */
  readonly proxies?: boolean
  /** A Toxiproxy server's API URL to create the proxies on, instead of faultline's own proxy server. */
  readonly toxiproxy?: string
  /** TLS, SASL and ACLs the cluster is set up with (chaos/cluster/security.ts); absent: PLAINTEXT, no authorizer. */
  readonly security?: SecuritySpec
}

/** Reference brokers started as containers on a Docker network of the run's own; node ids are 1..brokers. */
export interface DockerCluster {
  readonly backend: 'docker'
  readonly brokers: number
  readonly config: Readonly<Record<string, string>>
  /** Proxies in front of every listener even without network-quality faults. */
  readonly proxies?: boolean
  /** A Toxiproxy server's API URL to create the proxies on (it must listen on the run's bridge too). */
  readonly toxiproxy?: string
}

/** A cluster faultline does not run: it only connects, so process faults are not available. */
export interface ExternalCluster {
  readonly backend: 'external'
  /** host:port pairs. */
  readonly bootstrap: readonly string[]
  readonly sasl: Sasl | null
  readonly tls: Tls | null
  /** Nodes that process faults can act on, each with its commands (cluster.commands merged with its own). */
  readonly nodes: readonly ExternalNodeSpec[]
  readonly commandTimeoutMs: number
}

export interface Sasl {
  readonly mechanism: SaslMechanism
  readonly username: string
  readonly password: Secret
}

/** A secret is either in the file or named by an environment variable read when the run connects. */
export type Secret = { readonly from: 'literal'; readonly value: string } | { readonly from: 'env'; readonly name: string }

export interface Tls {
  /** Absolute paths (relative ones in the file are resolved against the scenario file's folder). */
  readonly ca: string | null
  readonly cert: string | null
  readonly key: string | null
  readonly servername: string | null
  readonly rejectUnauthorized: boolean
}

export interface Topic {
  readonly name: string
  readonly partitions: number
  readonly replicationFactor: number
  /** Topic config overrides (Kafka names), values as Kafka prints them. */
  readonly config: Readonly<Record<string, string>>
}

export interface Workload {
  readonly driver: DriverName
  /** Whole run, warmup included. Fault times count from its start. */
  readonly durationMs: number
  /** The first part of the run, excluded from measurements. */
  readonly warmupMs: number
  readonly producers: readonly ProducerGroup[]
  readonly consumers: readonly ConsumerGroup[]
  readonly backlog: Backlog | null
  /** Load workers (scenarios/workers.ts): absent runs the load in the runner's own process. */
  readonly workers?: Workers
}

/** `workload.workers`: N local worker processes, or `faultline worker` processes at these host:port addresses. */
export type Workers = { readonly kind: 'local'; readonly count: number } | { readonly kind: 'remote'; readonly addresses: readonly string[] }

export interface ProducerGroup {
  readonly name: string
  readonly topics: readonly string[]
  /** Producer instances (clients) in the group. */
  readonly count: number
  /** Open-loop rate of the whole group in messages, or max-rate discovery. */
  readonly rate: RateSpec
  readonly messageSize: SizeSpec
  readonly keys: KeySpec
  /** Fraction of each payload that is random bytes; the rest repeats, so it compresses. */
  readonly randomness: number
  /** Kafka's values: -1 is all. */
  readonly acks: Acks
  readonly idempotent: boolean
  readonly compression: CompressionName
  readonly batchBytes: number
  readonly lingerMs: number
  readonly maxInFlight: number
  readonly deliveryTimeoutMs: number
}

export interface ConsumerGroup {
  readonly name: string
  readonly topics: readonly string[]
  /** Independent consumer groups, each reading everything. */
  readonly groups: number
  readonly membersPerGroup: number
  readonly from: StartFrom
}

/** Consumers start paused until `bytes` are unconsumed, then resume; the run measures how fast they drain. */
export interface Backlog {
  readonly bytes: number
  /** Fraction of the backlog to consume before the drain counts as done. */
  readonly drainFraction: number
}

export interface Checks {
  /** Allowed count per anomaly kind; null = counted and reported, never fails the run. */
  readonly delivery: Readonly<Record<AnomalyKind, number | null>>
  readonly slo: readonly SloCheck[]
  /** `faultline compare` thresholds (fractions) per metric; metrics left out keep the defaults. */
  readonly regression: RegressionThresholds
}

export type SloCheck =
  | {
      readonly key: string
      readonly kind: 'latency'
      readonly metric: 'produce' | 'e2e' | 'sendDelay'
      /** As written: p50, p99.9, max, mean. */
      readonly stat: string
      /** 0.999 for p99.9, 1 for max, null for mean. */
      readonly quantile: number | null
      readonly maxMs: number
    }
  | { readonly key: string; readonly kind: 'throughput' | 'drainRate'; readonly min: Rate }
  | { readonly key: string; readonly kind: 'errors'; readonly max: { readonly unit: 'count' | 'fraction'; readonly value: number } }
  | { readonly key: string; readonly kind: 'unavailability'; readonly maxMs: number }
  | { readonly key: string; readonly kind: 'recovery'; readonly maxMs: number }

// ---------------------------------------------------------------------------------------------------------
// Errors

export interface ScenarioProblem {
  readonly file: string
  /** 1-based; null when the problem is not inside the file (it could not be read). */
  readonly line: number | null
  readonly column: number | null
  /** `workload.producers.rate`, `faults[1].at`, `(root)`. */
  readonly path: string
  readonly message: string
}

export function formatProblem(p: ScenarioProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}:${p.column ?? 1}`
  return `${where}: ${p.path}: ${p.message}`
}

const scenarioErrorBrand = Symbol.for('faultline.ScenarioError')

/** Thrown by loadScenario/parseScenario; lists every problem, one per line. */
export class ScenarioError extends Error {
  readonly code = 'ERR_SCENARIO'
  readonly file: string
  readonly problems: readonly ScenarioProblem[]

  constructor(file: string, problems: readonly ScenarioProblem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join('\n'), options)
    this.name = 'ScenarioError'
    this.file = file
    this.problems = problems
    Object.defineProperty(this, scenarioErrorBrand, { value: true })
  }

  /** Works across module copies, unlike instanceof. */
  static is(err: unknown): err is ScenarioError {
    return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[scenarioErrorBrand] === true
  }
}

// ---------------------------------------------------------------------------------------------------------
// Messages

type Path = readonly PropertyKey[]

function show(v: unknown): string {
  if (v === null) return 'an empty value'
  if (typeof v === 'string') return JSON.stringify(v)
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return String(v)
}

/** `got X (why); expected Y`, or `missing; expected Y`. */
function problem(input: unknown, expected: string, why?: string): string {
  if (input === undefined) return `missing; expected ${expected}`
  return `got ${show(input)}${why === undefined ? '' : ` (${why})`}; expected ${expected}`
}

/** A schema's own error message. Unknown keys are left to the error map, which lists the known ones. */
function expecting(expected: string, why?: (input: unknown) => string | undefined) {
  return (iss: { readonly code?: string; readonly input?: unknown }): string | undefined =>
    iss.code === 'unrecognized_keys' ? undefined : problem(iss.input, expected, why?.(iss.input))
}

// Optimal string alignment distance: a transposition ("rtae") costs one edit, like a typo does.
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

/** The closest candidate to a typo, if one is close enough to be what was meant. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_.\s]/g, '')
  const same = candidates.find((c) => norm(c) === norm(input))
  if (same !== undefined) return same
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const dist = editDistance(input.toLowerCase(), c.toLowerCase())
    if (dist < bestDistance) {
      best = c
      bestDistance = dist
    }
  }
  const limit = input.length <= 3 ? 1 : input.length <= 6 ? 2 : 3
  return bestDistance <= limit ? best : undefined
}

function didYouMean(input: unknown, candidates: readonly string[]): string | undefined {
  if (typeof input !== 'string') return undefined
  const c = closest(input, candidates)
  return c === undefined ? undefined : `did you mean ${c}?`
}

/** Jepsen's name for an anomaly kind where faultline's is expected (checks.delivery: { G1a: 0 }). */
function jepsenHint(key: string, known: readonly string[]): string | undefined {
  const kind = anomalyKinds.find((k) => jepsenNames[k] === key)
  return kind !== undefined && known.includes(kind) ? `Jepsen's ${key} is ${kind} here` : undefined
}

function formatPath(path: Path): string {
  if (path.length === 0) return '(root)'
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (typeof seg === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(String(seg))}]`
  }
  return out
}

const list = (values: readonly unknown[]): string =>
  values.length <= 1 ? values.map(String).join('') : `${values.slice(0, -1).map(String).join(', ')} or ${String(values.at(-1))}`

/** Marks a custom issue about a key itself (an unknown record key), so its position is the key's. */
const AT_KEY = { atKey: true } as const

// ---------------------------------------------------------------------------------------------------------
// Leaf schemas. Each names what it accepts, so every message can say so.

function int(min: number, max: number, what = 'an integer'): z.ZodNumber {
  const expected = max >= Number.MAX_SAFE_INTEGER ? `${what} >= ${min}` : `${what} from ${min} to ${max}`
  const e = { error: expecting(expected, (v) => (typeof v === 'string' && /^\d+$/.test(v) ? 'a quoted number; remove the quotes' : undefined)) }
  return z.number(e).int(e).min(min, e).max(max, e)
}

function positiveNumber(what: string): z.ZodNumber {
  const e = { error: expecting(what) }
  return z.number(e).positive(e)
}

const bool = () => z.boolean({ error: expecting('true or false') })

function text(expected: string, pattern?: RegExp): z.ZodString {
  const e = { error: expecting(expected) }
  const s = z.string(e).min(1, e)
  return pattern === undefined ? s : s.regex(pattern, e)
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (iss: { readonly input?: unknown }) => problem(iss.input, `one of ${list(values)}`, didYouMean(iss.input, values)) })
}

const BARE_NUMBER_HINT = {
  duration: (n: number) => `a bare number has no unit; write ${n}s or ${n}ms`,
  size: (n: number) => `a bare number has no unit; write ${n}B`,
  messageRate: (n: number) => `a bare number has no time unit; write ${n}/s`,
  byteRate: (n: number) => `a bare number has no unit; write ${n}B/s`,
  rate: (n: number) => `a bare number has no time unit; write ${n}/s`,
  percent: (n: number) => `a bare number has no %; write ${n}%${n <= 1 ? ` (or ${n * 100}% if it is a fraction)` : ''}`,
} as const

/** A quantity written as text (`30s`, `1KiB`, `5000/s`, `50%`), parsed by units.ts and checked by `accept`. */
function quantity<T>(
  kind: keyof typeof PATTERNS,
  expected: string,
  parse: (s: string) => ParseResult<T>,
  accept?: (value: T) => string | undefined,
) {
  const hint = (v: unknown) => (typeof v === 'number' ? BARE_NUMBER_HINT[kind](v) : undefined)
  return z
    .string({ error: expecting(expected, hint) })
    .meta({ pattern: PATTERNS[kind] })
    .transform((s, ctx): T => {
      const r = parse(s)
      const why = r.ok ? accept?.(r.value) : r.problem
      if (why !== undefined || !r.ok) {
        ctx.addIssue({ code: 'custom', message: problem(s, expected, why), input: s })
        return z.NEVER
      }
      return r.value
    })
}

const duration = (positive = false) =>
  quantity('duration', positive ? `${EXPECTED.duration}, above 0` : EXPECTED.duration, parseDuration, (ms) => (positive && ms === 0 ? 'is zero' : undefined))
const size = (positive = false) =>
  quantity('size', positive ? `${EXPECTED.size}, above 0` : EXPECTED.size, parseSize, (b) => (positive && b === 0 ? 'is zero' : undefined))
const percent = () => quantity('percent', EXPECTED.percent, parsePercent)
const byteRate = () =>
  quantity('byteRate', EXPECTED.byteRate, parseRate, (r) => (r.unit === 'bytes' ? undefined : 'counts messages, not bytes'))

const producerRate = () =>
  quantity(
    'messageRate',
    `${EXPECTED.messageRate}, or max to find the highest sustainable rate`,
    (s): ParseResult<RateSpec> => {
      if (s === 'max') return { ok: true, value: { kind: 'max' } }
      const r = parseRate(s)
      if (!r.ok) return r
      if (r.value.unit === 'bytes') return { ok: false, problem: 'is a byte rate; producer rates count messages (size them with messageSize)', expected: '' }
      return { ok: true, value: { kind: 'fixed', perSecond: r.value.perSecond } }
    },
  ).meta({ pattern: `^(?:max|${PATTERNS.messageRate.slice(1, -1)})$` })

/** One item or a list of them; the output is always a list. */
function oneOrMany<T extends z.ZodType>(item: T, expected: string) {
  return z
    .union([item, z.array(item, { error: expecting(expected) })], { error: expecting(expected) })
    .transform((v) => (Array.isArray(v) ? (v as z.output<T>[]) : [v as z.output<T>]))
}

// Kafka's legal topic characters; '/' is not one, which keeps `leaderOf: topic/partition` unambiguous.
const TOPIC_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$/
const topicName = () => text('a topic name (letters, digits, ., _ and -; at most 249)', TOPIC_NAME)

const configValue = () =>
  z
    .union([z.string(), z.number(), z.boolean()], { error: expecting('a value: text, a number or true/false') })
    .transform((v) => String(v))

// ---------------------------------------------------------------------------------------------------------
// Structure

const TARGET_EXPECTED = 'a node id, controller, random, minority, majority, all, clients, { leaderOf: topic/partition } or { coordinatorOf: group }'
const TARGET_WORDS = ['controller', 'random', 'minority', 'majority', 'all', 'clients'] as const

const target = () =>
  z
    .union(
      [
        int(0, 2 ** 31 - 1, 'a node id: an integer'),
        z.enum(TARGET_WORDS),
        z.strictObject({
          leaderOf: z
            .string({ error: expecting('topic/partition, like orders/0') })
            .meta({ pattern: '^[A-Za-z0-9._-]+/\\d+$' })
            .transform((s, ctx) => {
              const m = /^([A-Za-z0-9._-]+)\/(\d+)$/.exec(s)
              if (m === null) {
                ctx.addIssue({ code: 'custom', message: problem(s, 'topic/partition, like orders/0'), input: s })
                return z.NEVER
              }
              return { topic: m[1]!, partition: Number(m[2]) }
            }),
        }),
        z.strictObject({ coordinatorOf: text('a consumer group name from workload.consumers') }),
      ],
      { error: expecting(TARGET_EXPECTED, (v) => didYouMean(v, [...TARGET_WORDS, 'leaderOf', 'coordinatorOf'])) },
    )
    .transform((t): Target => {
      if (typeof t === 'number') return { kind: 'node', node: t }
      if (typeof t === 'string') return { kind: t }
      if ('coordinatorOf' in t) return { kind: 'coordinatorOf', group: t.coordinatorOf }
      return { kind: 'leaderOf', topic: t.leaderOf.topic, partition: t.leaderOf.partition }
    })
    .describe(`Which nodes: ${TARGET_EXPECTED}.`)

const direction = () => oneOf(DIRECTIONS).default('both').describe('upstream: traffic to the target; downstream: from it.')

const nodeId = () => int(0, 2 ** 31 - 1, 'a node id: an integer')
const CLIENTS = z.literal('clients', { error: expecting('clients') }).describe("The harness's clients (they connect from 127.0.0.1).")
const SIDE_WORDS = ['clients', 'controller', 'random', 'all', 'leaderOf']
// One end of a one-way cut: a target, a list of node ids, or the clients.
const partitionSide = () =>
  z
    .union([CLIENTS, z.array(nodeId(), { error: expecting('a list of node ids') }).min(1, { error: expecting('a non-empty list of node ids') }), target()], {
      error: expecting(`clients, a list of node ids or ${TARGET_EXPECTED}`, (v) => didYouMean(v, SIDE_WORDS)),
    })
    .transform((v): PartitionSide => (v === 'clients' ? { kind: 'clients' } : Array.isArray(v) ? { kind: 'nodes', nodes: v } : v))

const PARTITION_SPLITS = ['isolate', 'groups', 'halves', 'bridge', 'cut'] as const
const partitionSpec = z
  .strictObject({
    // target() takes clients too; one union (not a union around it) reports a bad { leaderOf } at leaderOf.
    isolate: target()
      .optional()
      .describe('Cut these nodes off from the other brokers and the clients; or `clients`: cut the clients off from every broker.'),
    groups: z
      .array(z.array(z.union([CLIENTS, nodeId()], { error: expecting('a node id or clients') }), { error: expecting('a list of node ids') }).min(1, { error: expecting('a non-empty list of node ids') }), {
        error: expecting('a list of node groups, like [[1], [2, 3]]'),
      })
      .min(2, { error: expecting('at least two groups, like [[1], [2, 3]]') })
      .optional()
      .describe('Split the brokers into groups that cannot reach each other; every node in exactly one group. `clients` may join a group; unlisted, they reach every broker.'),
    halves: z.literal('random', { error: expecting('random') }).optional().describe('A random minority (floor(n/2) brokers) and majority, drawn from the run\'s seed.'),
    clients: oneOf(['majority', 'minority', 'both']).optional().describe('halves: the side the clients are on; both (default): they reach every broker.'),
    bridge: target().optional().describe('Two halves that cannot reach each other, both reaching this node (Jepsen\'s bridge).'),
    cut: z
      .strictObject({ from: partitionSide(), to: partitionSide() }, { error: expecting('{ from, to }, like { from: 1, to: [2, 3] }') })
      .optional()
      .describe('One way only: connections opened from `from` to `to` time out; `to` still reaches `from`.'),
  }, { error: expecting('{ isolate: <target> }, { groups: [[1], [2, 3]] }, { halves: random }, { bridge: <target> } or { cut: { from, to } }') })
  .meta({ oneOf: PARTITION_SPLITS.map((k) => ({ required: [k] })) })
  .superRefine((p, ctx) => {
    const present = PARTITION_SPLITS.filter((k) => p[k] !== undefined)
    if (present.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `${present.length === 0 ? 'is empty' : `has ${present.join(' and ')}`}; expected exactly one of ${list(PARTITION_SPLITS)}`, path: [] })
    }
    if (p.clients !== undefined && p.halves === undefined) {
      ctx.addIssue({ code: 'custom', message: 'applies to halves only; expected clients as a member of a group in groups, or isolate: clients', path: ['clients'] })
    }
    if (p.cut !== undefined && p.cut.to.kind === 'clients') {
      ctx.addIssue({ code: 'custom', message: 'got clients, which accept no connections; expected brokers to cut off from `from`', path: ['cut', 'to'] })
    }
  })
  .transform((p): PartitionFault['split'] => {
    if (p.groups !== undefined) return { kind: 'groups', groups: p.groups }
    if (p.halves !== undefined) return { kind: 'halves', clients: p.clients ?? 'both' }
    if (p.bridge !== undefined) return { kind: 'bridge', bridge: p.bridge }
    if (p.cut !== undefined) return { kind: 'cut', from: p.cut.from, to: p.cut.to }
    if (p.isolate!.kind === 'clients') return { kind: 'clients' }
    return { kind: 'isolate', target: p.isolate as Target }
  })

const toxicity = () => percent().optional().describe('Share of connections affected, rolled per connection (Toxiproxy\'s toxicity); default 100%.')

/** The network-quality faults beyond latency and bandwidth, each through the target's proxies for `duration`. */
const proxyFault = <T extends z.ZodRawShape>(shape: T, example: string) =>
  z.strictObject({ target: target().prefault('all'), direction: direction(), toxicity: toxicity(), ...shape }, { error: expecting(`{ target, direction, toxicity${Object.keys(shape).map((k) => `, ${k}`).join('')} }, like ${example}`) }).optional()

const FAULT_MODIFIER = {
  kill: 'restartAfter',
  pause: 'duration',
  partition: 'heal',
  latency: 'duration',
  bandwidth: 'duration',
  reset: 'duration',
  timeout: 'duration',
  slowClose: 'duration',
  slicer: 'duration',
  limitData: 'duration',
  down: 'duration',
  revokeUser: 'duration',
  removeAcl: 'duration',
} as const
const FAULT_EXPECTED = `exactly one of ${list(FAULT_KINDS)} per fault`

const faultSchema = z
  .strictObject({
    at: duration().describe('When the fault starts, from the start of the run.'),
    name: text('a name').optional().describe('Label in reports; defaults to <kind>-<index>.'),
    kill: target().optional().describe('SIGKILL the target.'),
    restartAfter: duration().optional().describe('kill: restart the killed nodes after this long (default: never).'),
    pause: target().optional().describe('SIGSTOP the target, SIGCONT after `duration`.'),
    partition: partitionSpec.optional().describe('Network partition, healed after `heal`.'),
    heal: duration(true).optional().describe('partition: heal after this long.'),
    latency: z
      .strictObject({
        target: target().prefault('all'),
        delay: duration(true).describe('Added one-way delay.'),
        jitter: duration().prefault('0ms').describe('Random extra delay, up to this much.'),
        direction: direction(),
        toxicity: toxicity(),
      }, { error: expecting('{ target, delay, jitter, direction }, like { target: 1, delay: 100ms }') })
      .optional()
      .describe('Slow the network to and from the target for `duration`.'),
    bandwidth: z
      .strictObject({ target: target().prefault('all'), rate: byteRate().describe('Cap, like 1MiB/s.'), direction: direction(), toxicity: toxicity() }, { error: expecting('{ target, rate, direction }, like { target: all, rate: 1MiB/s }') })
      .optional()
      .describe('Cap the bandwidth to and from the target for `duration`.'),
    reset: proxyFault({ after: duration().prefault('0ms').describe('How long after its first data a connection is reset.') }, '{ target: 1, after: 100ms, toxicity: 30% }')
      .describe('Reset connections to the target (TCP RST) for `duration`.'),
    timeout: proxyFault({ after: duration().prefault('0ms').describe('Close connections this long after the fault reaches them; 0: they hang.') }, '{ target: 1, after: 2s }')
      .describe('Stop all data to and from the target for `duration`; connections close after `after`.'),
    slowClose: proxyFault({ delay: duration(true).describe('Extra time a close takes.') }, '{ target: all, delay: 1s }')
      .describe('Delay the close of connections to the target for `duration`.'),
    slicer: proxyFault({
      averageSize: size(true).describe('Average piece size.'),
      sizeVariation: size().prefault('0B').describe('Pieces vary by up to this much.'),
      delay: duration().prefault('0ms').describe('Time between pieces.'),
    }, '{ target: all, averageSize: 64B, delay: 1ms }')
      .describe('Cut the byte stream into small pieces for `duration`.'),
    limitData: proxyFault({ bytes: size(true).describe('Bytes a connection may carry before it is closed.') }, '{ target: 1, bytes: 64KiB }')
      .describe('Close each connection to the target after it carried `bytes`, for `duration`.'),
    down: proxyFault({}, '{ target: 2 }').describe('Take the target\'s proxies down (no new connections, open ones cut) for `duration`.'),
    revokeUser: text('a user name').optional().describe('Delete the SCRAM user\'s credential (cluster.security) for `duration`, then add it back.'),
    removeAcl: z
      .strictObject({ principal: text('a principal, like User:alice').optional(), operation: oneOf(ACL_OPERATIONS).optional(), resource: oneOf(ACL_RESOURCES).optional(), name: text('a resource name').optional() }, { error: expecting('{ principal, operation, resource, name }, like { principal: User:alice, operation: WRITE }') })
      .optional()
      .describe('Delete the ACLs of cluster.security.acls that match for `duration`, then create them again.'),
    duration: duration(true).optional().describe('pause and network-quality faults (latency, bandwidth, reset, timeout, slowClose, slicer, limitData, down): how long the fault lasts.'),
    every: duration(true).optional().describe('Repeat the fault this often (with count): at, at + every, ...'),
    count: int(1, 10_000, 'a number of repeats').optional().describe('How many times the fault happens (with every).'),
  }, { error: expecting('a fault, like { at: 20s, kill: 1, restartAfter: 10s }') })
  .meta({ oneOf: FAULT_KINDS.map((k) => ({ required: [k] })) })
  .superRefine((f, ctx) => {
    const present = FAULT_KINDS.filter((k) => f[k] !== undefined)
    if (present.length === 0) {
      ctx.addIssue({ code: 'custom', message: `has no fault; expected ${FAULT_EXPECTED}`, path: [] })
      return
    }
    if (present.length > 1) {
      ctx.addIssue({ code: 'custom', message: `is a second fault in the same entry (${present.join(' and ')}); expected ${FAULT_EXPECTED}: write one entry each`, path: [present[1]!] })
      return
    }
    const kind = present[0]!
    const wanted = FAULT_MODIFIER[kind]
    for (const modifier of ['restartAfter', 'duration', 'heal'] as const) {
      if (modifier !== wanted && f[modifier] !== undefined) {
        const owners = FAULT_KINDS.filter((k) => FAULT_MODIFIER[k] === modifier)
        ctx.addIssue({ code: 'custom', message: `applies to ${list(owners)} faults, not ${kind}; expected ${wanted} here`, path: [modifier] })
      }
    }
    if (wanted !== 'restartAfter' && f[wanted] === undefined) {
      ctx.addIssue({ code: 'custom', message: `missing; expected how long the ${kind} lasts, ${EXPECTED.duration}`, path: [wanted] })
    }
    if ((f.every === undefined) !== (f.count === undefined)) {
      const [has, lacks] = f.every === undefined ? ['count', 'every'] : ['every', 'count']
      ctx.addIssue({ code: 'custom', message: `is set without ${lacks}; expected both, like { every: 30s, count: 3 }`, path: [has] })
    }
  })
  .transform((f): FaultDraft => {
    const base = { name: f.name, atMs: f.at, repeat: f.every === undefined || f.count === undefined ? null : { everyMs: f.every, count: f.count } }
    if (f.kill !== undefined) return { ...base, kind: 'kill', target: f.kill, restartAfterMs: f.restartAfter ?? null }
    if (f.pause !== undefined) return { ...base, kind: 'pause', target: f.pause, durationMs: f.duration! }
    if (f.partition !== undefined) return { ...base, kind: 'partition', split: f.partition, healAfterMs: f.heal! }
    if (f.latency !== undefined) {
      const l = f.latency
      return { ...base, kind: 'latency', target: l.target, delayMs: l.delay, jitterMs: l.jitter, direction: l.direction, durationMs: f.duration!, ...tox(l.toxicity) }
    }
    const net = { durationMs: f.duration! }
    if (f.reset !== undefined) return { ...base, ...net, kind: 'reset', target: f.reset.target, direction: f.reset.direction, afterMs: f.reset.after, ...tox(f.reset.toxicity) }
    if (f.timeout !== undefined) return { ...base, ...net, kind: 'timeout', target: f.timeout.target, direction: f.timeout.direction, afterMs: f.timeout.after, ...tox(f.timeout.toxicity) }
    if (f.slowClose !== undefined) return { ...base, ...net, kind: 'slowClose', target: f.slowClose.target, direction: f.slowClose.direction, delayMs: f.slowClose.delay, ...tox(f.slowClose.toxicity) }
    if (f.slicer !== undefined) {
      const c = f.slicer
      return { ...base, ...net, kind: 'slicer', target: c.target, direction: c.direction, averageBytes: c.averageSize, variationBytes: c.sizeVariation, delayUs: c.delay * 1000, ...tox(c.toxicity) }
    }
    if (f.limitData !== undefined) return { ...base, ...net, kind: 'limitData', target: f.limitData.target, direction: f.limitData.direction, bytes: f.limitData.bytes, ...tox(f.limitData.toxicity) }
    if (f.revokeUser !== undefined) return { ...base, kind: 'revokeUser', user: f.revokeUser, durationMs: f.duration! }
    if (f.removeAcl !== undefined) return { ...base, kind: 'removeAcl', match: stripUndefined(f.removeAcl), durationMs: f.duration! }
    if (f.down !== undefined) return { ...base, ...net, kind: 'down', target: f.down.target, direction: f.down.direction, ...tox(f.down.toxicity) }
    const b = f.bandwidth!
    return { ...base, kind: 'bandwidth', target: b.target, bytesPerSecond: b.rate.perSecond, direction: b.direction, durationMs: f.duration!, ...tox(b.toxicity) }
  })

/** toxicity only when written, so scenarios without it compare equal to before. */
const tox = (t: number | undefined): { toxicity?: number } => (t === undefined ? {} : { toxicity: t })

const RANGE_EXPECTED = `a duration or a range of them, like 10s-30s (${EXPECTED.duration})`

/** `10s-30s` (inclusive bounds, drawn uniformly) or one duration. */
const msRange = (zero: 'zero allowed' | 'positive') =>
  z
    .string({ error: expecting(RANGE_EXPECTED, (v) => (typeof v === 'number' ? BARE_NUMBER_HINT.duration(v) : undefined)) })
    .meta({ pattern: `^${PATTERNS.duration.slice(1, -1)}(?:-${PATTERNS.duration.slice(1, -1)})?$` })
    .transform((text, ctx): MsRange => {
      const parts = text.split('-').map((p) => parseDuration(p.trim()))
      const bad = (why: string) => {
        ctx.addIssue({ code: 'custom', message: problem(text, RANGE_EXPECTED, why), input: text })
        return z.NEVER
      }
      if (parts.length > 2) return bad('has more than two bounds')
      const ms: number[] = []
      for (const r of parts) {
        if (!r.ok) return bad(r.problem)
        ms.push(r.value)
      }
      const [minMs, maxMs = minMs] = ms as [number, number?]
      if (maxMs < minMs) return bad(`its upper bound is below its lower bound`)
      if (zero === 'positive' && minMs === 0) return bad('starts at zero; a fault takes some time')
      return { minMs, maxMs }
    })

const nemesisSchema = z
  .strictObject({
    kinds: oneOrMany(oneOf(nemesisKinds() as [string, ...string[]]), `a list of fault kinds: ${list(nemesisKinds())}`).describe('Fault kinds the nemesis mixes, one drawn per fault.'),
    interval: msRange('zero allowed').describe('Quiet time before each fault, drawn from the range (10s-30s).'),
    duration: msRange('positive').describe('How long each fault lasts, drawn from the range (5s-15s).'),
    targets: oneOrMany(target(), `a target or a list of them: ${TARGET_EXPECTED}`).prefault(['random']).describe('Targets, one drawn per fault (default random).'),
    from: duration().prefault('0s').describe('The nemesis starts this long into the run.'),
    until: duration(true).optional().describe('No nemesis fault ends after this (default: the end of the run).'),
  }, { error: expecting('{ kinds, interval, duration, targets }, like { kinds: [kill, pause], interval: 10s-30s, duration: 5s-15s }') })
  .transform((n): NemesisSpec => ({ kinds: n.kinds, interval: n.interval, duration: n.duration, targets: n.targets, fromMs: n.from, untilMs: n.until ?? null }))
  .describe('A seeded random nemesis: faults of the given kinds on the given targets, one at a time; `faultline validate --seed S` prints its schedule.')

type Draft<T> = T extends unknown ? Omit<T, 'name'> & { readonly name: string | undefined; readonly repeat: { readonly everyMs: number; readonly count: number } | null } : never
type FaultDraft = Draft<Fault>

const SIZE_EXPECTED = `${EXPECTED.size}, { uniform: { min, max } } or { weighted: [{ size, weight }, ...] }`

const messageSize = () =>
  z
    .union(
      [
        size(),
        z
          .strictObject({
            uniform: z
              .strictObject({ min: size(), max: size() }, { error: expecting('{ min, max }, like { min: 100B, max: 10KiB }') })
              .superRefine((u, ctx) => {
                if (u.min > u.max) ctx.addIssue({ code: 'custom', message: `is below min ${formatSize(u.min)}; expected max >= min`, path: ['max'] })
              })
              .optional()
              .describe('Every size from min to max equally likely.'),
            weighted: z
              .array(z.strictObject({ size: size(), weight: positiveNumber('a weight above 0') }, { error: expecting('{ size, weight }, like { size: 1KiB, weight: 3 }') }), { error: expecting('a list of { size, weight }') })
              .min(1, { error: expecting('at least one { size, weight }') })
              .optional()
              .describe('Sizes drawn with the given relative weights.'),
          })
          .meta({ oneOf: [{ required: ['uniform'] }, { required: ['weighted'] }] })
          .superRefine((d, ctx) => {
            if ((d.uniform === undefined) === (d.weighted === undefined)) {
              ctx.addIssue({ code: 'custom', message: `${d.uniform === undefined ? 'is empty' : 'has both uniform and weighted'}; expected exactly one of uniform or weighted`, path: [] })
            }
          }),
      ],
      { error: expecting(SIZE_EXPECTED) },
    )
    .transform((d): SizeSpec => {
      if (typeof d === 'number') return { kind: 'fixed', bytes: d }
      if (d.uniform !== undefined) return { kind: 'uniform', min: d.uniform.min, max: d.uniform.max }
      return { kind: 'weighted', choices: d.weighted!.map((c) => ({ bytes: c.size, weight: c.weight })) }
    })
    .describe(`Payload size: ${SIZE_EXPECTED}.`)

const KEY_KINDS = ['none', 'round-robin', 'uniform', 'zipf'] as const
const KEYS_EXPECTED = `${list(KEY_KINDS)}, { distribution, count, exponent } or { zipf: exponent, count }`
const DEFAULT_KEY_COUNT = 1000

const keys = () =>
  z
    .union(
      [
        oneOf(KEY_KINDS),
        z
          .strictObject({
            distribution: oneOf(KEY_KINDS).optional(),
            zipf: positiveNumber('a zipf exponent above 0, like 1.1').optional().describe('Shorthand: { zipf: <exponent>, count }.'),
            count: int(1, 100_000_000, 'a number of distinct keys').optional(),
            exponent: positiveNumber('a zipf exponent above 0, like 1.1').optional(),
          })
          .superRefine((k, ctx) => {
            if ((k.distribution === undefined) === (k.zipf === undefined)) {
              ctx.addIssue({ code: 'custom', message: `${k.zipf === undefined ? 'has no distribution' : 'has both distribution and zipf'}; expected ${KEYS_EXPECTED}`, path: [] })
            }
            if (k.exponent !== undefined && k.distribution !== 'zipf') {
              ctx.addIssue({ code: 'custom', message: `applies to distribution zipf only${k.zipf !== undefined ? ' (zipf: already gives the exponent)' : ''}; expected no exponent here`, path: ['exponent'] })
            }
            if (k.count !== undefined && k.distribution === 'none') {
              ctx.addIssue({ code: 'custom', message: 'applies to keyed distributions only; expected no count with distribution none', path: ['count'] })
            }
          }),
      ],
      { error: expecting(KEYS_EXPECTED) },
    )
    .transform((k): KeySpec => {
      const kind = typeof k === 'string' ? k : (k.distribution ?? 'zipf')
      const count = (typeof k === 'string' ? undefined : k.count) ?? DEFAULT_KEY_COUNT
      if (kind === 'none') return { kind }
      if (kind === 'zipf') return { kind, count, exponent: (typeof k === 'string' ? undefined : (k.zipf ?? k.exponent)) ?? 1 }
      return { kind, count }
    })
    .describe(`Record keys: ${KEYS_EXPECTED}. count defaults to ${DEFAULT_KEY_COUNT}, exponent to 1.`)

const acks = () =>
  z
    .union([z.literal(0), z.literal(1), z.literal(-1), z.literal('all'), z.literal('-1')], { error: expecting('0, 1 or all (-1 is all)') })
    .transform((a): Acks => (a === 0 || a === 1 ? a : -1))

const producerSchema = z
  .strictObject({
    name: text('a name').optional().describe('Label in reports; defaults to producer-<index>.'),
    topics: oneOrMany(topicName(), 'a topic name or a list of them').optional().describe('Topics to write; defaults to all topics.'),
    count: int(1, 10_000).default(1).describe('Producer clients in this group.'),
    rate: producerRate().describe('Open-loop rate of the whole group (5000/s), or max to find the highest sustainable rate.'),
    messageSize: messageSize().prefault('1KiB'),
    keys: keys().prefault('none'),
    randomness: percent().prefault('100%').describe('Share of each payload that is random; the rest repeats and compresses.'),
    acks: acks().prefault('all').describe('0, 1 or all (-1).'),
    idempotent: bool().optional().describe('Defaults to true when acks is all and maxInFlight <= 5, as in Kafka 3+.'),
    compression: oneOf(compressionNames).default('none'),
    batchSize: size(true).prefault('16KiB').describe('batch.size'),
    linger: duration().prefault('5ms').describe('linger.ms'),
    maxInFlight: int(1, 1000).default(5).describe('max.in.flight.requests.per.connection'),
    deliveryTimeout: duration(true).prefault('2m').describe('delivery.timeout.ms: how long a send may retry before it fails.'),
  }, { error: expecting('a producer group: a mapping with rate and optionally count, messageSize, keys, acks, ...') })
  .superRefine((p, ctx) => {
    if (p.idempotent === true && p.acks !== -1) {
      ctx.addIssue({ code: 'custom', message: `is true with acks ${p.acks}; expected acks: all for an idempotent producer, or idempotent: false`, path: ['idempotent'] })
    }
    if (p.idempotent === true && p.maxInFlight > 5) {
      ctx.addIssue({ code: 'custom', message: `is true with maxInFlight ${p.maxInFlight}; expected maxInFlight <= 5 for an idempotent producer`, path: ['idempotent'] })
    }
  })
  .transform((p) => ({
    name: p.name,
    topics: p.topics,
    count: p.count,
    rate: p.rate,
    messageSize: p.messageSize,
    keys: p.keys,
    randomness: p.randomness,
    acks: p.acks,
    idempotent: p.idempotent ?? (p.acks === -1 && p.maxInFlight <= 5),
    compression: p.compression,
    batchBytes: p.batchSize,
    lingerMs: p.linger,
    maxInFlight: p.maxInFlight,
    deliveryTimeoutMs: p.deliveryTimeout,
  }))

const consumerSchema = z.strictObject({
  name: text('a name').optional().describe('Label in reports; defaults to consumer-<index>.'),
  topics: oneOrMany(topicName(), 'a topic name or a list of them').optional().describe('Topics to read; defaults to all topics.'),
  groups: int(1, 1000).default(1).describe('Independent consumer groups; each reads everything.'),
  membersPerGroup: int(1, 10_000).default(1),
  from: oneOf(['earliest', 'latest']).default('earliest').describe('Where a group with no committed offset starts.'),
}, { error: expecting('a consumer group: a mapping like { groups: 1, membersPerGroup: 3 }') })

const workloadSchema = z.strictObject({
  driver: oneOf(driverNames).default(DEFAULT_DRIVER).describe(`Client library: ${describeDrivers()}.`),
  duration: duration(true).describe('Whole run, warmup included; fault times count from its start.'),
  warmup: duration().prefault('0s').describe('First part of the run, excluded from measurements.'),
  producers: oneOrMany(producerSchema, 'a producer group (a mapping) or a list of them'),
  consumers: oneOrMany(consumerSchema, 'a consumer group (a mapping) or a list of them').prefault([]),
  backlog: z
    .strictObject({
      size: size(true).describe('Unconsumed bytes to pile up before consumers resume.'),
      drain: percent().prefault('100%').describe('Share of the backlog to consume before the drain counts as done.'),
    }, { error: expecting('{ size, drain }, like { size: 1GiB }') })
    .optional()
    .describe('Backlog mode: consumers start paused until `size` is unconsumed, then drain it while producers go on.'),
  workers: z
    .union([
      int(1, 64),
      z.array(text('a worker address host:port, like 10.0.0.5:7070', /^[^\s:]+:\d{1,5}$/), { error: expecting('a list of host:port addresses') }).min(1, { error: expecting('a non-empty list of host:port addresses') }),
    ], { error: expecting('a number of local worker processes (1 to 64) or a list of `faultline worker` addresses, like [ "10.0.0.5:7070" ]') })
    .optional()
    .describe('Load workers: N local processes, or the host:port of `faultline worker --listen` processes; producers and consumers are split among them.'),
}, { error: expecting('a mapping with duration, producers and optionally warmup, consumers, backlog, driver and workers') })

const RESERVED_BROKER_KEYS = ['node.id', 'listeners', 'advertised.listeners', 'log.dirs']
const BROKER_KEYS = brokerConfigDefs.map((d) => d.name).filter((n) => !RESERVED_BROKER_KEYS.includes(n))

const RESERVED_USERS = [BROKER_USER, ADMIN_USER]
const aclSchema = z
  .strictObject({
    principal: text('a principal, like User:alice', /^[A-Za-z]+:.+$/),
    operation: oneOf(ACL_OPERATIONS),
    topic: text('a topic name').optional(),
    group: text('a group name').optional(),
    transactionalId: text('a transactional id').optional(),
    cluster: z.literal(true, { error: expecting('true') }).optional(),
    pattern: oneOf(['literal', 'prefixed']).default('literal').describe('prefixed: every name that starts with the given one.'),
    permission: oneOf(['allow', 'deny']).default('allow'),
    host: text('a host address, or *').default('*'),
  }, { error: expecting('an ACL, like { principal: User:alice, operation: WRITE, topic: orders }') })
  .superRefine((a, ctx) => {
    const given = ACL_RESOURCES.filter((r) => a[r] !== undefined)
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `${given.length === 0 ? 'names no resource' : `names ${given.join(' and ')}`}; expected exactly one of topic, group, transactionalId or cluster: true`, path: [] })
  })
  .transform((a): AclSpec => {
    const resource = ACL_RESOURCES.find((r) => a[r] !== undefined)!
    return { principal: a.principal, operation: a.operation, resource, name: resource === 'cluster' ? 'kafka-cluster' : (a[resource] as string), pattern: a.pattern, permission: a.permission, host: a.host }
  })

const securitySchema = z
  .strictObject({
    protocol: oneOf(SECURITY_PROTOCOLS).describe('The brokers\' listener for clients and replication: SSL (client certificates), SASL_PLAINTEXT or SASL_SSL.'),
    mechanism: oneOf(saslMechanisms).optional().describe('SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.'),
    users: z
      .array(z.strictObject({ name: text('a user name (letters, digits, _ . -)', /^[A-Za-z0-9_.-]+$/), password: text('a password').optional() }, { error: expecting('{ name, password }') }), { error: expecting('a list of { name, password }') })
      .min(1, { error: expecting('at least one user') })
      .optional()
      .describe('SASL users (default one, faultline), or under SSL the client certificates faultline makes (CN=name). Default password: faultline-<name>.'),
    user: text('a user name').optional().describe('Who the workload connects as; default the first user.'),
    acls: z.array(aclSchema, { error: expecting('a list of ACLs') }).optional().describe('Turns the authorizer on: only what these allow is allowed (the harness\'s own setup runs as a super user).'),
  }, { error: expecting('{ protocol, mechanism, users, user, acls }, like { protocol: SASL_SSL, mechanism: SCRAM-SHA-512 }') })
  .superRefine((sec, ctx) => {
    const sasl = sec.protocol !== 'SSL'
    if (sasl && sec.mechanism === undefined) ctx.addIssue({ code: 'custom', message: `missing; expected the SASL mechanism for ${sec.protocol}: ${list(saslMechanisms)}`, path: ['mechanism'] })
    if (!sasl && sec.mechanism !== undefined) ctx.addIssue({ code: 'custom', message: 'applies to SASL_PLAINTEXT and SASL_SSL; under SSL clients are known by their certificates: expected no mechanism', path: ['mechanism'] })
    const names = (sec.users ?? [{ name: 'faultline' }]).map((u) => u.name)
    names.forEach((n, i) => {
      if (RESERVED_USERS.includes(n)) ctx.addIssue({ code: 'custom', message: `${n} is the harness's own account; expected another name`, path: ['users', i, 'name'] })
      else if (names.indexOf(n) !== i) ctx.addIssue({ code: 'custom', message: `${n} again; expected unique user names`, path: ['users', i, 'name'] })
    })
    if (!sasl) (sec.users ?? []).forEach((u, i) => u.password !== undefined && ctx.addIssue({ code: 'custom', message: 'under SSL users are certificates and have no password; expected none', path: ['users', i, 'password'] }))
    if (sec.user !== undefined && !names.includes(sec.user)) ctx.addIssue({ code: 'custom', message: `${sec.user} is not one of users (${names.join(', ')}); expected one of them`, path: ['user'] })
  })
  .transform((sec): SecuritySpec => {
    const users = (sec.users ?? [{ name: 'faultline' }]).map((u) => ({ name: u.name, password: u.password ?? `faultline-${u.name}` }))
    return { protocol: sec.protocol, mechanism: sec.mechanism ?? null, users, user: sec.user ?? users[0]!.name, acls: sec.acls ?? null }
  })

const localCluster = z.strictObject({
  backend: z.literal('local'),
  brokers: int(1, 64).default(1).describe('Reference brokers to start, node ids 1..brokers, on 127.0.0.<id>.'),
  config: z
    .record(z.string(), configValue(), { error: expecting('a mapping of broker config names to values') })
    .default({})
    .superRefine((config, ctx) => {
      for (const [key, value] of Object.entries(config)) {
        if (RESERVED_BROKER_KEYS.includes(key)) {
          ctx.addIssue({ code: 'custom', message: `is set by the local backend; expected one of the other broker configs: ${BROKER_KEYS.join(', ')}`, path: [key], params: AT_KEY })
          continue
        }
        const def = brokerConfigDefs.find((d) => d.name === key)
        if (def === undefined) {
          const hint = didYouMean(key, BROKER_KEYS)
          ctx.addIssue({ code: 'custom', message: `unknown broker config${hint === undefined ? '' : ` (${hint})`}; expected one of ${BROKER_KEYS.join(', ')}`, path: [key], params: AT_KEY })
          continue
        }
        const err = checkValue(def, value)
        if (err !== null) ctx.addIssue({ code: 'custom', message: err, path: [key] })
      }
    })
    .describe('Broker config overrides (Kafka names), for every broker.'),
  proxies: bool().optional().describe('Put a proxy in front of every broker listener even without network-quality faults; default: only when the scenario has some.'),
  toxiproxy: text('a Toxiproxy API URL, like http://127.0.0.1:8474', /^https?:\/\/[^\s/]+\/?$/).optional().describe('A Toxiproxy server to create the proxies on; default: faultline starts its own proxy server (the same API).'),
  security: securitySchema.optional().describe('TLS, SASL users and ACLs: faultline makes the certificates and users, and every client connects with them.'),
})

const dockerCluster = localCluster.extend({
  backend: z.literal('docker'),
  security: z.never({ error: expecting('no security here: the docker backend does not set up TLS, SASL or ACLs yet; expected backend: local (or external with sasl and tls)') }).optional(),
  brokers: int(1, 64).default(3).describe('Reference brokers to start as containers, node ids 1..brokers, each at its own address on the run\'s Docker network.'),
})

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/
const hostPort = () =>
  text('host:port, like kafka-1.example.com:9092', HOST_PORT).refine((s) => {
    const port = Number(HOST_PORT.exec(s)?.[1])
    return port >= 1 && port <= 65535
  }, { error: expecting('host:port with a port from 1 to 65535') })

const secret = () =>
  z
    .union([text('a secret'), z.strictObject({ env: text('an environment variable name', /^[A-Za-z_][A-Za-z0-9_]*$/) })], {
      error: expecting('a string, or { env: VARIABLE } to read it from the environment when the run connects'),
    })
    .transform((s): Secret => (typeof s === 'string' ? { from: 'literal', value: s } : { from: 'env', name: s.env }))

const tlsObject = z
  .strictObject({
    ca: text('a file path').optional().describe('CA bundle (PEM); relative to the scenario file.'),
    cert: text('a file path').optional().describe('Client certificate (PEM), with key.'),
    key: text('a file path').optional().describe('Client key (PEM), with cert.'),
    servername: text('a host name').optional(),
    rejectUnauthorized: bool().default(true),
  })
  .superRefine((t, ctx) => {
    if ((t.cert === undefined) !== (t.key === undefined)) {
      const missing = t.cert === undefined ? 'cert' : 'key'
      ctx.addIssue({ code: 'custom', message: `missing; expected ${missing} together with ${missing === 'cert' ? 'key' : 'cert'}`, path: [missing] })
    }
  })

const PLACEHOLDER_LIST = COMMAND_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')
const shellCommand = () =>
  text('a shell command, like "ssh {host} sudo systemctl kill -s KILL kafka"').superRefine((cmd, ctx) => {
    for (const m of cmd.matchAll(/\{(\w*)\}/g)) {
      if (!(COMMAND_PLACEHOLDERS as readonly string[]).includes(m[1]!)) ctx.addIssue({ code: 'custom', message: `has the unknown placeholder ${m[0]}; expected ${PLACEHOLDER_LIST}` })
    }
  })
const nodeCommands = z.strictObject(Object.fromEntries(NODE_ACTIONS.map((a) => [a, shellCommand().optional()])) as Record<(typeof NODE_ACTIONS)[number], z.ZodOptional<ReturnType<typeof shellCommand>>>, {
  error: expecting(`a mapping of ${list(NODE_ACTIONS)} to shell commands`),
})

const externalCluster = z.strictObject({
  backend: z.literal('external'),
  commands: nodeCommands
    .extend({ timeout: duration(true).prefault('30s').describe('How long each command may run.') })
    .optional()
    .describe(`Commands that act on every node in nodes (process faults), with ${PLACEHOLDER_LIST} replaced per node, run by a shell.`),
  nodes: z
    .array(
      z.strictObject({
        id: int(0, 2_147_483_647).describe('The broker\'s node.id, as fault targets name it.'),
        address: hostPort().describe('host:port of its client listener.'),
        commands: nodeCommands.optional().describe('This node\'s commands, over cluster.commands.'),
      }, { error: expecting('{ id, address, commands }') }),
      { error: expecting('a list of { id, address, commands }') },
    )
    .default([])
    .describe('Brokers that kill and pause faults can act on, through commands.'),
  bootstrap: oneOrMany(hostPort(), 'host:port or a list of them').describe('Bootstrap servers.'),
  sasl: z
    .strictObject({ mechanism: oneOf(saslMechanisms), username: text('a user name'), password: secret() }, { error: expecting('{ mechanism, username, password }') })
    .optional(),
  tls: z.union([bool(), tlsObject], { error: expecting('true, false or { ca, cert, key, servername, rejectUnauthorized }') }).default(false),
})

const clusterSchema = z
  .discriminatedUnion('backend', [localCluster, dockerCluster, externalCluster], {
    error: (iss: { readonly input?: unknown }) => {
      const input = iss.input
      if (typeof input !== 'object' || input === null || Array.isArray(input)) return problem(input, 'a mapping with backend: local, docker or external')
      const backend = (input as Record<string, unknown>).backend
      return problem(backend, 'local, docker or external', didYouMean(backend, ['local', 'docker', 'external']))
    },
  })
  .prefault({ backend: 'local' })
  .describe('local: reference brokers started here; docker: reference brokers in Docker containers; external: an existing Kafka-compatible cluster.')

const topicSchema = z.strictObject({
  name: topicName(),
  partitions: int(1, 100_000).default(1),
  replicationFactor: int(1, 64).default(1),
  config: z
    .record(z.string(), configValue(), { error: expecting('a mapping of topic config names to values, like { min.insync.replicas: 2 }') })
    .default({})
    .describe('Topic config overrides (Kafka names).'),
}, { error: expecting('a topic, like { name: orders, partitions: 6, replicationFactor: 3 }') })

// SLO keys: <metric>.<stat> latencies, plus throughput, errors, unavailability, drainRate.
const LATENCY_KEY = /^(produce|e2e|sendDelay)\.(p(\d{1,2}(?:\.\d+)?)|max|mean)$/
const LATENCY_METRICS = ['produce', 'e2e', 'sendDelay'] as const
const SLO_EXAMPLES = [
  ...LATENCY_METRICS.flatMap((m) => ['p50', 'p90', 'p95', 'p99', 'p99.9', 'p99.99', 'max', 'mean'].map((s) => `${m}.${s}`)),
  'throughput',
  'errors',
  'unavailability',
  'recovery',
  'drainRate',
]
const SLO_KEYS_EXPECTED = 'produce.<stat>, e2e.<stat> or sendDelay.<stat> (stat p50, p95, p99, p99.9, any pN, max, mean), throughput, errors, unavailability, recovery or drainRate'
/** What each SLO measures, for the JSON Schema (editors show it). Thresholds apply to the measured window, after warmup. */
const LATENCY_MEANING = {
  produce: 'produce latency, from the send to its ack',
  e2e: 'end-to-end latency, from the scheduled send to its receipt by a consumer',
  sendDelay: 'send delay, how late a send left against the open-loop schedule (the load generator falling behind)',
} as const
const SLO_DESCRIPTIONS: Readonly<Record<string, string>> = {
  throughput:
    'The lowest allowed acknowledged rate in the measured window: records (4500/s) or record value bytes (40MiB/s; keys, headers and batch overhead not counted).',
  errors:
    'The most failed sends allowed, as a count (0) or a share (0.1%) of the sends made in the measured window. A send counts when it was made in the window and the client reported it failed (any error, retriable or not, delivery timeouts included), even if that was reported after the window; retries that end in an ack are not failures. The share is Kafka\'s record-error-total over record-send-total for those sends.',
  unavailability: 'The longest allowed time without an acknowledged write while producing, in the measured window.',
  recovery:
    'The longest allowed time, after each fault heals, until the acknowledged rate is back to at least 90% of its level in the 10 s before the fault; a fault after which it never is fails.',
  drainRate:
    'The lowest allowed rate at which the consumers read while draining the backlog (backlog mode; from their resume until it is drained), in records (5000/s) or record value bytes (15MiB/s); with several consumer sets, the slowest.',
}
function sloDescription(key: string): string {
  const latency = LATENCY_KEY.exec(key)
  if (latency === null) return SLO_DESCRIPTIONS[key] ?? ''
  const stat = latency[2] === 'mean' ? 'mean' : latency[2] === 'max' ? 'maximum' : `${latency[2]} (${latency[3]}% of samples at or below it)`
  return `The highest allowed ${stat} of ${LATENCY_MEANING[latency[1] as (typeof LATENCY_METRICS)[number]]}, in the measured window.`
}

function sloKeyHint(key: string): string | undefined {
  const m = /^(produce|e2e)\.(?:p)?(\d+)$/.exec(key)
  if (m !== null && /^9{3,}$/.test(m[2]!)) return `write ${m[1]}.p99.${m[2]!.slice(2)}`
  if (m !== null && !key.includes('.p')) return `write ${m[1]}.p${m[2]}`
  if (/^p\d/.test(key) || key === 'max' || key === 'mean') return `say which latency: produce.${key}, e2e.${key} or sendDelay.${key}`
  return didYouMean(key, SLO_EXAMPLES)
}

function parseSlo(key: string, value: string | number): { ok: true; check: SloCheck } | { ok: false; path: Path; message: string; atKey?: boolean } {
  const asText = (kind: keyof typeof BARE_NUMBER_HINT) =>
    typeof value === 'string' ? { text: value, why: undefined } : { text: undefined, why: BARE_NUMBER_HINT[kind](value) }
  const bad = (expected: string, why?: string) => ({ ok: false as const, path: [key], message: problem(value, expected, why) })
  const latency = LATENCY_KEY.exec(key)
  if (latency !== null) {
    const [, metric, stat, q] = latency
    // toPrecision drops the noise of dividing by 100 (99.99 / 100 is 0.9998999999999999).
    const quantile = q === undefined ? (stat === 'max' ? 1 : null) : Number((Number(q) / 100).toPrecision(12))
    if (quantile !== null && !(quantile > 0 && quantile <= 1)) return { ok: false, path: [key], message: `has a percentile outside 0-100; expected ${SLO_KEYS_EXPECTED}`, atKey: true }
    const v = asText('duration')
    const r = v.text === undefined ? undefined : parseDuration(v.text)
    if (r === undefined || !r.ok) return bad(`the highest allowed latency, ${EXPECTED.duration}`, v.why ?? r?.problem)
    return { ok: true, check: { key, kind: 'latency', metric: metric as (typeof LATENCY_METRICS)[number], stat: stat!, quantile, maxMs: r.value } }
  }
  switch (key) {
    case 'throughput':
    case 'drainRate': {
      const v = asText('rate')
      const r = v.text === undefined ? undefined : parseRate(v.text)
      if (r === undefined || !r.ok) return bad(`the lowest allowed rate, ${EXPECTED.rate}`, v.why ?? r?.problem)
      return { ok: true, check: { key, kind: key, min: r.value } }
    }
    case 'unavailability': {
      const v = asText('duration')
      const r = v.text === undefined ? undefined : parseDuration(v.text)
      if (r === undefined || !r.ok) return bad(`the longest allowed time without acknowledged writes, ${EXPECTED.duration}`, v.why ?? r?.problem)
      return { ok: true, check: { key, kind: 'unavailability', maxMs: r.value } }
    }
    case 'recovery': {
      const v = asText('duration')
      const r = v.text === undefined ? undefined : parseDuration(v.text)
      if (r === undefined || !r.ok) return bad(`the longest allowed time to recover after a fault, ${EXPECTED.duration}`, v.why ?? r?.problem)
      return { ok: true, check: { key, kind: 'recovery', maxMs: r.value } }
    }
    case 'errors': {
      const expected = 'the most failed sends allowed: a count (0) or a share of all sends (0.1%)'
      if (typeof value === 'number') {
        if (!Number.isInteger(value) || value < 0) return bad(expected)
        return { ok: true, check: { key, kind: 'errors', max: { unit: 'count', value } } }
      }
      const r = parsePercent(value)
      if (!r.ok) return bad(expected, r.problem)
      return { ok: true, check: { key, kind: 'errors', max: { unit: 'fraction', value: r.value } } }
    }
    default: {
      const hint = sloKeyHint(key)
      return { ok: false, path: [key], message: `unknown SLO${hint === undefined ? '' : ` (${hint})`}; expected ${SLO_KEYS_EXPECTED}`, atKey: true }
    }
  }
}

const sloSchema = z
  .record(
    z.string().meta({ pattern: '^(?:(?:produce|e2e|sendDelay)\\.(?:p\\d{1,2}(?:\\.\\d+)?|max|mean)|throughput|errors|unavailability|recovery|drainRate)$' }),
    z.union([z.string(), z.number()], { error: expecting('a threshold, like 50ms, 4500/s or 0') }),
    { error: expecting(`a mapping of ${SLO_KEYS_EXPECTED} to thresholds`) },
  )
  .meta({
    properties: Object.fromEntries(SLO_EXAMPLES.map((k) => [k, { type: k === 'errors' ? ['string', 'integer'] : 'string', description: sloDescription(k) }])),
  })
  .transform((slo, ctx): SloCheck[] => {
    const out: SloCheck[] = []
    for (const [key, value] of Object.entries(slo)) {
      const r = parseSlo(key, value)
      if (r.ok) out.push(r.check)
      else ctx.addIssue({ code: 'custom', message: r.message, path: [...r.path], input: value, ...(r.atKey === true ? { params: AT_KEY } : {}) })
    }
    return out
  })
  .describe(`Service-level objectives: ${SLO_KEYS_EXPECTED}.`)

const allowedCount = () =>
  z
    .union([int(0, Number.MAX_SAFE_INTEGER, 'an allowed count: an integer'), z.literal('any')], {
      error: expecting('an allowed count (an integer >= 0), or any to report without failing'),
    })
    .optional()
    .transform((v) => (v === undefined || v === 'any' ? null : v))

const regressionSchema = z
  .record(z.string(), z.union([z.string(), z.number()], { error: expecting('a percentage, like 5%') }), { error: expecting(`a mapping of ${list(regressionMetrics)} to percentages`) })
  .transform((raw, ctx): RegressionThresholds => {
    const out: RegressionThresholds = {}
    for (const [key, value] of Object.entries(raw)) {
      if (!(regressionMetrics as readonly string[]).includes(key)) {
        const hint = didYouMean(key, regressionMetrics)
        ctx.addIssue({ code: 'custom', message: `unknown regression metric${hint === undefined ? '' : ` (${hint})`}; expected ${list(regressionMetrics)}`, path: [key], input: value, params: AT_KEY })
        continue
      }
      const r = parsePercent(String(value))
      if (r.ok && typeof value === 'string') out[key as keyof RegressionThresholds] = r.value
      else ctx.addIssue({ code: 'custom', message: problem(value, 'the largest change that is not a regression, a percentage like 5% (errors: a share of sends, like 0.1%)', r.ok ? `write ${value}%` : r.problem), path: [key], input: value })
    }
    return out
  })
  .describe(`Regression thresholds for faultline compare: the largest worse change per metric that is not a regression. Defaults: ${regressionMetrics.map((m) => `${m} ${Number((defaultRegressionThresholds[m] * 100).toFixed(3))}%`).join(', ')}.`)

const checksSchema = z.strictObject({
  delivery: z
    .strictObject(Object.fromEntries(anomalyKinds.map((k) => [k, allowedCount().describe(anomalyMeaning[k])])) as Record<AnomalyKind, ReturnType<typeof allowedCount>>, { error: expecting(`a mapping of ${list(anomalyKinds)} to allowed counts`) })
    .prefault({})
    .describe('Allowed anomalies per kind; a kind left out is reported but never fails the run.'),
  slo: sloSchema.prefault({}),
  regression: regressionSchema.prefault({}),
}, { error: expecting('a mapping with delivery, slo and regression') })

const SCENARIO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

const scenarioSchema = z
  .strictObject({
    name: text('a name of letters, digits, ., _ and - (it names the output files)', SCENARIO_NAME),
    description: z.string({ error: expecting('text') }).default(''),
    cluster: clusterSchema,
    topics: z.array(topicSchema, { error: expecting('a list of topics, like [{ name: orders, partitions: 6 }]') }).min(1, { error: expecting('at least one topic') }),
    workload: workloadSchema,
    faults: z.array(faultSchema, { error: expecting('a list of faults, like [{ at: 20s, kill: 1, restartAfter: 10s }]') }).default([]),
    nemesis: nemesisSchema.optional(),
    checks: checksSchema.prefault({}),
    seed: int(0, 2 ** 32 - 1, 'a seed: an integer').optional().describe('The run seed when `faultline run` gets no --seed, so the file replays the same run.'),
  }, { error: expecting('a scenario: a mapping with name, cluster, topics, workload, faults and checks') })
  .meta({ title: 'faultline scenario', description: 'A faultline scenario: cluster, topics, workload, faults and checks. See scenarios/schema.ts.' })

/** The JSON Schema (draft-07) of a scenario file, for editors (`faultline schema`). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input', target: 'draft-7' }) as Record<string, unknown>
}

// ---------------------------------------------------------------------------------------------------------
// From zod issues to problems with a path

interface PathProblem {
  readonly path: Path
  readonly message: string
  /** Point at the key rather than its value (unknown keys). */
  readonly atKey?: boolean
}

function shapeKeys(inst: unknown): string[] | undefined {
  const shape = (inst as { shape?: unknown } | undefined)?.shape
  return typeof shape === 'object' && shape !== null ? Object.keys(shape) : undefined
}

/** The per-parse error map: the fallback message for issues a schema does not word itself. */
function errorMap(knownKeys: WeakMap<object, string[]>) {
  return (iss: z.core.$ZodRawIssue): string | undefined => {
    switch (iss.code) {
      case 'unrecognized_keys': {
        const known = shapeKeys(iss.inst)
        if (known !== undefined && typeof iss.input === 'object' && iss.input !== null) knownKeys.set(iss.input, known)
        return 'unknown key'
      }
      case 'invalid_union': {
        if ('discriminator' in iss && typeof iss.discriminator === 'string') {
          const options = (iss as { options?: unknown[] }).options ?? []
          const got = typeof iss.input === 'object' && iss.input !== null ? (iss.input as Record<string, unknown>)[iss.discriminator] : undefined
          return problem(got, list(options), didYouMean(got, options.map(String)))
        }
        return undefined
      }
      case 'invalid_type':
        return problem(iss.input, { object: 'a mapping', array: 'a list', string: 'text', number: 'a number', boolean: 'true or false' }[iss.expected as string] ?? String(iss.expected))
      case 'invalid_value':
        return problem(iss.input, `one of ${list(iss.values)}`, didYouMean(iss.input, iss.values.map(String)))
      default:
        return undefined
    }
  }
}

/** A union failed in every branch: report the branch the input was closest to, or the union's own message. */
function bestBranch(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  let best: readonly z.core.$ZodIssue[] | undefined
  let bestScore = Infinity
  for (const issues of branches) {
    const wrongShape = issues.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value' || i.code === 'invalid_union'))
    if (wrongShape || issues.length === 0) continue
    const score = issues.reduce((n, i) => n + (i.code === 'unrecognized_keys' ? i.keys.length : 1), 0)
    if (score < bestScore) {
      best = issues
      bestScore = score
    }
  }
  return best
}

function toProblems(issues: readonly z.core.$ZodIssue[], base: Path, knownKeys: WeakMap<object, string[]>, out: PathProblem[]): void {
  for (const iss of issues) {
    const path = [...base, ...iss.path]
    if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      const branch = bestBranch(iss.errors)
      if (branch !== undefined) toProblems(branch, path, knownKeys, out)
      else out.push({ path, message: iss.message })
    } else if (iss.code === 'unrecognized_keys') {
      const known = typeof iss.input === 'object' && iss.input !== null ? knownKeys.get(iss.input) : undefined
      for (const key of iss.keys) {
        const hint = known === undefined ? undefined : (didYouMean(key, known) ?? jepsenHint(key, known))
        const expected = known === undefined ? '' : `; expected one of ${known.join(', ')}`
        out.push({ path: [...path, key], message: `unknown key${hint === undefined ? '' : ` (${hint})`}${expected}`, atKey: true })
      }
    } else {
      out.push({ path, message: iss.message, atKey: iss.code === 'custom' && iss.params?.atKey === true })
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// From a path to a line

/**
 * Drops list indexes where the file has a single mapping instead of a list (`producers: { ... }` is
 * producers[0] once validated), so the path reads as the file is written.
 */
function asWritten(doc: Document, path: Path): Path {
  const out: PropertyKey[] = []
  let node: unknown = doc.contents
  for (const seg of path) {
    while (isAlias(node)) node = node.resolve(doc)
    if (isMap(node)) {
      if (typeof seg === 'number') continue
      node = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg))?.value
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg]
    } else {
      node = undefined
    }
    out.push(seg)
  }
  return out
}

interface Located {
  readonly line: number
  readonly column: number
}

type Ranged = { readonly range?: readonly [number, number, number] | null } | null | undefined

/**
 * Walks the path through the YAML nodes. A value points at its value, an unknown key at the key, and a
 * missing field at the key of the deepest part that exists (its parent).
 */
function locate(doc: Document, lines: LineCounter, path: Path, atKey: boolean): Located {
  let node: unknown = doc.contents
  let offset = (node as Ranged)?.range?.[0] ?? 0
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]
    while (isAlias(node)) node = node.resolve(doc)
    let value: unknown
    let keyStart: number | undefined
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg))
      if (pair === undefined) break
      value = pair.value
      keyStart = (pair.key as Ranged)?.range?.[0]
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      value = node.items[seg]
    } else {
      break
    }
    const valueStart = (value as Ranged)?.range?.[0]
    offset = (i === path.length - 1 && !atKey ? valueStart : undefined) ?? keyStart ?? valueStart ?? offset
    node = value
  }
  const pos = lines.linePos(offset)
  return { line: pos.line, column: pos.col }
}

// ---------------------------------------------------------------------------------------------------------
// Cross-field rules

type RawScenario = z.output<typeof scenarioSchema>

/** Where an expanded fault came from in the file (`every`/`count` make several of one entry). */
const faultSources = new WeakMap<Fault, { readonly index: number; readonly repeat: { readonly everyMs: number; readonly count: number } | null }>()

/** The index in the file's faults list of scenario.faults[i] (they differ after an every/count). */
export function faultEntryIndex(s: Scenario, i: number): number {
  return faultSources.get(s.faults[i]!)?.index ?? i
}

/** Every kind of fault a run may apply, whatever its seed: the scenario's faults' and its nemesis's. */
export function faultKindsOf(s: Scenario): Set<string> {
  return new Set([...s.faults.map((f) => f.kind), ...(s.nemesis?.kinds ?? [])])
}

/** The faults a run with `seed` applies: the scenario's, then its nemesis's (chaos/nemesis.ts), ids in that order. */
export function scheduledFaults(s: Scenario, seed: number): Fault[] {
  return [...s.faults, ...(s.nemesis === null ? [] : expandNemesis(s.nemesis, { seed, durationMs: s.workload.durationMs }))]
}

function buildScenario(raw: RawScenario, file: string): Scenario {
  const allTopics = raw.topics.map((t) => t.name)
  const base = dirname(resolve(file))
  const cluster: Cluster =
    raw.cluster.backend === 'local'
      ? {
          backend: 'local',
          brokers: raw.cluster.brokers,
          config: raw.cluster.config,
          ...(raw.cluster.proxies === undefined ? {} : { proxies: raw.cluster.proxies }),
          ...(raw.cluster.toxiproxy === undefined ? {} : { toxiproxy: raw.cluster.toxiproxy }),
          ...(raw.cluster.security === undefined ? {} : { security: raw.cluster.security }),
        }
      : raw.cluster.backend === 'docker'
      ? {
          backend: 'docker',
          brokers: raw.cluster.brokers,
          config: raw.cluster.config,
          ...(raw.cluster.proxies === undefined ? {} : { proxies: raw.cluster.proxies }),
          ...(raw.cluster.toxiproxy === undefined ? {} : { toxiproxy: raw.cluster.toxiproxy }),
        }
      : {
          backend: 'external',
          bootstrap: raw.cluster.bootstrap,
          nodes: raw.cluster.nodes.map((n): ExternalNodeSpec => {
            const { timeout: _, ...shared } = (raw.cluster.backend === 'external' ? raw.cluster.commands : undefined) ?? { timeout: 0 }
            return { id: n.id, address: n.address, commands: { ...stripUndefined(shared), ...stripUndefined(n.commands ?? {}) } }
          }),
          commandTimeoutMs: raw.cluster.commands?.timeout ?? 30_000,
          sasl: raw.cluster.sasl ?? null,
          tls:
            raw.cluster.tls === false
              ? null
              : raw.cluster.tls === true
                ? { ca: null, cert: null, key: null, servername: null, rejectUnauthorized: true }
                : {
                    ca: raw.cluster.tls.ca === undefined ? null : resolve(base, raw.cluster.tls.ca),
                    cert: raw.cluster.tls.cert === undefined ? null : resolve(base, raw.cluster.tls.cert),
                    key: raw.cluster.tls.key === undefined ? null : resolve(base, raw.cluster.tls.key),
                    servername: raw.cluster.tls.servername ?? null,
                    rejectUnauthorized: raw.cluster.tls.rejectUnauthorized,
                  },
        }
  const { backlog } = raw.workload
  // workers: 1 is the runner's own process, exactly as when workers is absent.
  const workersOf = (w: number | string[] | undefined): { workers?: Workers } =>
    w === undefined || w === 1 ? {} : typeof w === 'number' ? { workers: { kind: 'local', count: w } } : { workers: { kind: 'remote', addresses: w } }
  return {
    name: raw.name,
    description: raw.description,
    cluster,
    topics: raw.topics,
    workload: {
      driver: raw.workload.driver,
      durationMs: raw.workload.duration,
      warmupMs: raw.workload.warmup,
      producers: raw.workload.producers.map((p, i): ProducerGroup => ({ ...p, name: p.name ?? `producer-${i}`, topics: p.topics ?? allTopics })),
      consumers: raw.workload.consumers.map((c, i): ConsumerGroup => ({ ...c, name: c.name ?? `consumer-${i}`, topics: c.topics ?? allTopics })),
      backlog: backlog === undefined ? null : { bytes: backlog.size, drainFraction: backlog.drain },
      ...workersOf(raw.workload.workers),
    },
    faults: raw.faults.flatMap((draft, i): Fault[] => {
      const { repeat, ...f } = draft
      const fault = { ...f, name: f.name ?? `${f.kind}-${i}` } as Fault
      const copies = repeat === null ? [fault] : repeatFault(fault, repeat.everyMs, repeat.count)
      for (const c of copies) faultSources.set(c, { index: i, repeat })
      return copies
    }),
    nemesis: raw.nemesis ?? null,
    checks: raw.checks,
    ...(raw.seed === undefined ? {} : { seed: raw.seed }),
  }
}

/** A bound on a nemesis's schedule, so a typo (interval: 0s-1ms) cannot schedule millions of faults. */
const MAX_NEMESIS_FAULTS = 10_000

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** What stops a kill or pause fault from acting on an external cluster, or null: the commands it needs. */
function missingCommands(nodes: readonly ExternalNodeSpec[], kind: 'kill' | 'pause', t: Target): string | null {
  const actions = ACTIONS_FOR_FAULT[kind]
  const needs = `a ${kind} on an external cluster runs the ${actions.join(' and ')} commands of its node`
  if (nodes.length === 0) return `${needs}, and cluster.nodes lists none; expected cluster.nodes: [{ id, address }] and cluster.commands: { ${actions.map((a) => `${a}: ...`).join(', ')} }`
  const targets = t.kind === 'node' ? nodes.filter((n) => n.id === t.node) : nodes
  if (t.kind === 'node' && targets.length === 0) return `${needs}, and node ${t.node} is not in cluster.nodes (${nodes.map((n) => n.id).join(', ')}); expected a node listed there`
  for (const n of targets) {
    const missing = actions.filter((a) => n.commands[a] === undefined)
    if (missing.length > 0) {
      const i = nodes.indexOf(n)
      return `${needs}; node ${n.id} has no ${missing.join(' or ')} command; expected ${missing.map((a) => `cluster.commands.${a} or cluster.nodes[${i}].commands.${a}`).join(', and ')}`
    }
  }
  return null
}

function crossCheck(s: Scenario): PathProblem[] {
  const out: PathProblem[] = []
  const add = (path: Path, message: string) => out.push({ path, message })
  const brokers = s.cluster.backend === 'external' ? null : s.cluster.brokers
  const topics = new Map(s.topics.map((t) => [t.name, t]))
  const topicNames = [...topics.keys()]
  const d = s.workload.durationMs
  const fmt = formatDuration

  // Topics
  s.topics.forEach((t, i) => {
    const first = s.topics.findIndex((o) => o.name === t.name)
    if (first !== i) add(['topics', i, 'name'], `got ${JSON.stringify(t.name)}, already declared at topics[${first}]; expected unique topic names`)
    if (brokers !== null && t.replicationFactor > brokers) {
      add(['topics', i, 'replicationFactor'], `got ${t.replicationFactor} with cluster.brokers ${brokers}; expected at most ${brokers} (one replica per broker)`)
    }
    for (const [key, value] of Object.entries(t.config)) {
      const path = ['topics', i, 'config', key]
      if (s.cluster.backend !== 'external') {
        const def = topicDefsByName.get(key)
        if (def === undefined) {
          const hint = didYouMean(key, topicConfigDefs.map((c) => c.name))
          out.push({ path, message: `unknown topic config${hint === undefined ? '' : ` (${hint})`}; expected one of ${topicConfigDefs.map((c) => c.name).join(', ')}`, atKey: true })
          continue
        }
        const err = checkValue(def, value)
        if (err !== null) add(path, err)
      }
      if (key === 'min.insync.replicas' && Number(value) > t.replicationFactor) {
        add(path, `got ${value} with replicationFactor ${t.replicationFactor}, so no acks=all write could succeed; expected at most ${t.replicationFactor}`)
      }
    }
  })

  // Workload
  const w = s.workload
  if (w.warmupMs >= d) add(['workload', 'warmup'], `got ${fmt(w.warmupMs)} with workload.duration ${fmt(d)}; expected a warmup shorter than the duration (it is the first part of it)`)
  const checkGroups = (kind: 'producers' | 'consumers', groups: readonly { name: string; topics: readonly string[] }[]) => {
    groups.forEach((g, i) => {
      const first = groups.findIndex((o) => o.name === g.name)
      if (first !== i) add(['workload', kind, i, 'name'], `got ${JSON.stringify(g.name)}, already used by workload.${kind}[${first}]; expected unique names`)
      g.topics.forEach((t, j) => {
        if (!topics.has(t)) {
          const hint = didYouMean(t, topicNames)
          add(['workload', kind, i, 'topics', j], `got ${JSON.stringify(t)}, which is not in topics${hint === undefined ? '' : ` (${hint})`}; expected one of ${list(topicNames)}`)
        }
      })
    })
  }
  checkGroups('producers', w.producers)
  checkGroups('consumers', w.consumers)
  if (w.workers !== undefined && w.backlog !== null) add(['workload', 'workers'], 'is set with workload.backlog, which pauses consumers in the runner\'s own process; expected no workers (or workers: 1) for backlog mode')
  if (w.backlog !== null) {
    if (w.consumers.length === 0) add(['workload', 'backlog'], 'is set without consumers; expected workload.consumers to drain the backlog')
    if (w.producers.every((p) => p.rate.kind === 'fixed')) {
      const bytesPerSecond = w.producers.reduce((n, p) => n + (p.rate.kind === 'fixed' ? p.rate.perSecond * sizeBounds(p.messageSize).mean : 0), 0)
      const fillMs = (w.backlog.bytes / bytesPerSecond) * 1000
      if (fillMs >= d - w.warmupMs) {
        add(['workload', 'backlog', 'size'], `takes about ${fmt(Math.ceil(fillMs / 1000) * 1000)} to pile up at the producers' ${formatSize(Math.round(bytesPerSecond))}/s, longer than the ${fmt(d - w.warmupMs)} after warmup; expected a smaller backlog, a higher rate or a longer duration`)
      }
    }
  }

  // Faults
  const nodeRange = brokers === null ? '' : `a node id from 1 to ${brokers} (cluster.brokers), `
  const consumerNames = w.consumers.map((c) => c.name)
  const checkTarget = (t: Target, path: Path, kind?: string) => {
    if (t.kind === 'node' && brokers !== null && (t.node < 1 || t.node > brokers)) {
      add(path, `names node ${t.node}, which does not exist; expected ${nodeRange}leaderOf: topic/partition, controller, random or all`)
    }
    if (t.kind === 'clients' && kind !== undefined && PROCESS_FAULT_KINDS.includes(kind as Fault['kind'])) {
      add(path, `got clients with a ${kind} fault; clients (the harness's own) are a side for network faults only and have no broker process to ${kind}; expected a broker target: ${nodeRange}controller, random, minority, majority, all, leaderOf or coordinatorOf`)
    }
    if (t.kind === 'minority' && brokers !== null && brokers < 3) {
      add(path, `got minority with cluster.brokers ${brokers}, which has no minority (fewer than half the brokers, at least one); expected 3 or more brokers, or another target`)
    }
    if (t.kind === 'coordinatorOf' && !consumerNames.includes(t.group)) {
      const hint = didYouMean(t.group, consumerNames)
      add([...path, 'coordinatorOf'], `names group ${JSON.stringify(t.group)}, which is not in workload.consumers${hint === undefined ? '' : ` (${hint})`}; expected ${consumerNames.length === 0 ? 'workload.consumers (no consumer groups are declared)' : `one of ${list(consumerNames)}`}`)
    }
    if (t.kind === 'leaderOf') {
      const topic = topics.get(t.topic)
      if (topic === undefined) {
        const hint = didYouMean(t.topic, topicNames)
        add([...path, 'leaderOf'], `names topic ${JSON.stringify(t.topic)}, which is not in topics${hint === undefined ? '' : ` (${hint})`}; expected topic/partition with one of ${list(topicNames)}`)
      } else if (t.partition >= topic.partitions) {
        add([...path, 'leaderOf'], `names partition ${t.partition} of ${t.topic}, which has ${topic.partitions}; expected a partition from 0 to ${topic.partitions - 1}`)
      }
    }
  }
  s.faults.forEach((f, i) => {
    const source = faultSources.get(f)
    const at = ['faults', source?.index ?? i]
    const repeat = source?.repeat ?? null
    const end = faultEndMs(f)
    if (repeat !== null) {
      if (f.name.endsWith('#1') && (end === null || end - f.atMs > repeat.everyMs)) {
        add([...at, 'every'], `got ${fmt(repeat.everyMs)}, shorter than the fault lasts (${end === null ? 'until the run ends' : fmt(end - f.atMs)}), so its repeats would overlap; expected every >= the fault's length${end === null ? ' and restartAfter set' : ''}`)
      }
      if (f.atMs >= d || (end !== null && end > d)) {
        add([...at, 'count'], `repeats ${f.name} from ${fmt(f.atMs)}${end === null ? '' : ` to ${fmt(end)}`}, past the end of the run at ${fmt(d)} (workload.duration); expected at + (count - 1) * every + the fault's length <= workload.duration`)
        return
      }
    }
    if (f.atMs >= d) add([...at, 'at'], `got ${fmt(f.atMs)}, not before the end of the run (workload.duration ${fmt(d)}); expected a time from 0s to below ${fmt(d)}`)
    if (f.atMs < d && end !== null && end > d) {
      const modifier = FAULT_MODIFIER[f.kind]
      add([...at, modifier], `ends the fault at ${fmt(end)}, after the run ends at ${fmt(d)}; expected at + ${modifier} <= workload.duration`)
    }
    if (s.cluster.backend === 'external' && (f.kind === 'kill' || f.kind === 'pause')) {
      const missing = missingCommands(s.cluster.nodes, f.kind, f.target)
      if (missing !== null) add([...at, f.kind], missing)
      return
    }
    if (s.cluster.backend === 'external' && f.kind === 'partition') {
      add([...at, f.kind], `needs control of the brokers' network; expected cluster.backend: local (an external cluster takes kill and pause faults through cluster.commands, and latency and bandwidth faults)`)
      return
    }
    if (f.kind === 'partition') {
      const sp = f.split
      const here = [...at, 'partition']
      if (brokers !== null && brokers < 2 && sp.kind !== 'clients' && !(sp.kind === 'cut' && sp.from.kind === 'clients')) {
        add(here, `needs at least 2 brokers, got cluster.brokers ${brokers}; expected more brokers, isolate: clients, or another fault`)
      }
      if (sp.kind === 'isolate') {
        if (sp.target.kind === 'all') add([...here, 'isolate'], 'got all; expected the nodes to cut off: a node id, leaderOf, controller or random (or clients)')
        else checkTarget(sp.target, [...here, 'isolate'])
      } else if (sp.kind === 'bridge') {
        if (sp.bridge.kind === 'all') add([...here, 'bridge'], 'got all; expected one node both halves reach: a node id, leaderOf, controller or random')
        else checkTarget(sp.bridge, [...here, 'bridge'])
        if (brokers !== null && brokers < 3) add([...here, 'bridge'], `needs at least 3 brokers (two halves and the bridge), got cluster.brokers ${brokers}; expected more brokers`)
      } else if (sp.kind === 'cut') {
        for (const end of ['from', 'to'] as const) {
          const side = sp[end]
          if (side.kind === 'nodes') {
            side.nodes.forEach((n, ni) => {
              if (brokers !== null && (n < 1 || n > brokers)) add([...here, 'cut', end, ni], `names node ${n}, which does not exist; expected ${nodeRange.slice(0, -2)}`)
            })
          } else if (side.kind !== 'clients') checkTarget(side, [...here, 'cut', end])
        }
      } else if (sp.kind === 'groups') {
        const seen = new Map<number | 'clients', number>()
        sp.groups.forEach((g, gi) =>
          g.forEach((n, ni) => {
            const path = [...here, 'groups', gi, ni]
            if (n !== 'clients' && brokers !== null && (n < 1 || n > brokers)) add(path, `names node ${n}, which does not exist; expected ${nodeRange.slice(0, -2)}`)
            else if (seen.has(n)) add(path, `names ${n === 'clients' ? 'clients' : `node ${n}`} again (also in group ${seen.get(n)}); expected every node in exactly one group`)
            seen.set(n, gi)
          }),
        )
        if (brokers !== null) {
          const left = Array.from({ length: brokers }, (_, k) => k + 1).filter((n) => !seen.has(n))
          if (left.length > 0) add([...here, 'groups'], `leaves out node${left.length > 1 ? 's' : ''} ${left.join(', ')}; expected every node in exactly one group`)
        }
      }
      return
    }
    if (isSecurityFault(f)) {
      const sec = s.cluster.backend === 'local' ? s.cluster.security : undefined
      if (sec === undefined) {
        add([...at, f.kind], `acts on the cluster's security, which this scenario does not declare; expected cluster.security on a local cluster`)
      } else if (f.kind === 'revokeUser') {
        if (!sec.users.some((u) => u.name === f.user)) add([...at, f.kind], `${f.user} is not one of cluster.security.users (${sec.users.map((u) => u.name).join(', ')}); expected one of them`)
        else if (sec.mechanism !== 'SCRAM-SHA-256' && sec.mechanism !== 'SCRAM-SHA-512') add([...at, f.kind], `needs SCRAM users (their credentials live in the cluster's metadata), got ${sec.mechanism === null ? `protocol ${sec.protocol}` : `mechanism ${sec.mechanism}`}; expected cluster.security.mechanism SCRAM-SHA-256 or SCRAM-SHA-512`)
      } else if (!(sec.acls ?? []).some((a) => aclMatches(a, f.match))) {
        add([...at, f.kind], `matches no ACL of cluster.security.acls; expected fields that match at least one`)
      }
      return
    }
    checkTarget(f.target, [...at, f.kind, ...(isProxyFault(f) ? ['target'] : [])], f.kind)
  })
  const n = s.nemesis
  if (n !== null) {
    const at = ['nemesis']
    const until = n.untilMs ?? d
    if (s.cluster.backend === 'external') {
      const process = n.kinds.filter((k) => PROCESS_FAULT_KINDS.includes(k as Fault['kind']))
      if (process.length > 0) add([...at, 'kinds'], `has ${list(process)}, which need control of the broker processes; expected cluster.backend: local`)
    }
    n.targets.forEach((t, ti) => {
      for (const k of new Set(n.kinds)) {
        checkTarget(t, [...at, 'targets', ti], k)
        if (k === 'partition' && t.kind === 'all') add([...at, 'targets', ti], 'got all with a partition: the nemesis isolates its target, and all leaves nothing on the other side; expected a node id, leaderOf, controller, random, minority, majority or clients')
        if (isProxyKind(k) && t.kind === 'clients') add([...at, 'targets', ti], `got clients with a ${k} fault, which acts in the proxies in front of brokers; expected a broker target, or partition to cut the clients off`)
      }
    })
    const most = Math.floor((until - n.fromMs) / Math.max(1, n.interval.minMs + n.duration.minMs))
    if (most > MAX_NEMESIS_FAULTS) {
      add([...at, 'interval'], `with duration ${fmt(n.duration.minMs)} at the least could inject up to ${most} faults from ${fmt(n.fromMs)} to ${fmt(until)}; expected at most ${MAX_NEMESIS_FAULTS}: a longer interval or duration`)
    }
    if (n.untilMs !== null && n.untilMs > d) add([...at, 'until'], `got ${fmt(n.untilMs)}, after the run ends at ${fmt(d)}; expected at most workload.duration`)
    else if (n.fromMs + n.interval.minMs + n.duration.minMs > until) {
      add([...at, 'from'], `leaves ${fmt(Math.max(0, until - n.fromMs))} from ${fmt(n.fromMs)} to ${fmt(until)}, less than the shortest interval plus the shortest duration (${fmt(n.interval.minMs + n.duration.minMs)}), so the nemesis would inject nothing; expected a longer run, an earlier from or shorter ranges`)
    }
  }

  // Checks
  const enforced = anomalyKinds.filter((k) => s.checks.delivery[k] !== null)
  if (enforced.length > 0 && w.consumers.length === 0) {
    add(['checks', 'delivery', enforced[0]!], 'needs records read back; expected workload.consumers (at least one consumer group)')
  }
  for (const slo of s.checks.slo) {
    if (slo.kind === 'latency' && slo.metric === 'e2e' && w.consumers.length === 0) add(['checks', 'slo', slo.key], 'needs consumers to measure end-to-end latency; expected workload.consumers')
    if (slo.kind === 'drainRate' && w.backlog === null) add(['checks', 'slo', slo.key], 'needs backlog mode; expected workload.backlog')
    if (slo.kind === 'recovery' && s.faults.length === 0 && s.nemesis === null) add(['checks', 'slo', slo.key], 'judges how fast throughput recovers after each fault, and the scenario has none; expected faults or a nemesis')
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/**
 * A change to the validated scenario before the cross-field rules judge it (`--duration`), so a changed
 * scenario is held to the same rules as a written one. Its problems name paths in the file.
 */
export type ScenarioAdjustment = (s: Scenario) => {
  readonly scenario: Scenario
  readonly problems: readonly { readonly path: readonly (string | number)[]; readonly message: string }[]
}

export interface ParseOptions {
  readonly adjust?: ScenarioAdjustment
}

/** `--driver`: the same scenario through another client library (the cross-field rules then judge it, e.g. a
 *  driver without idempotence for an idempotent producer). */
export function driverAdjustment(driver: DriverName, notes: string[]): ScenarioAdjustment {
  return (s) => {
    if (s.workload.driver !== driver) notes.push(`--driver ${driver}: workload.driver ${s.workload.driver} replaced`)
    return { scenario: { ...s, workload: { ...s.workload, driver } }, problems: [] }
  }
}

/** Adjustments applied in order; the first with problems stops the chain. */
export function composeAdjustments(adjustments: readonly ScenarioAdjustment[]): ScenarioAdjustment {
  return (s) => {
    let scenario = s
    for (const a of adjustments) {
      const r = a(scenario)
      if (r.problems.length > 0) return r
      scenario = r.scenario
    }
    return { scenario, problems: [] }
  }
}

/** Parses and validates scenario text; `fileName` names the file in messages and anchors relative paths. */
export function parseScenario(text: string, fileName: string, options: ParseOptions = {}): Scenario {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true })
  const at = (offset: number) => lines.linePos(offset)
  const syntax: ScenarioProblem[] = [...doc.errors, ...doc.warnings].map((e) => {
    const pos = at(e.pos[0])
    return {
      file: fileName,
      line: pos.line,
      column: pos.col,
      path: '(yaml)',
      message: `${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')} [${e.code}]; expected valid YAML (check indentation, colons and quotes)`,
    }
  })
  if (syntax.length > 0) throw new ScenarioError(fileName, syntax)

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new ScenarioError(fileName, [
      { file: fileName, line: 1, column: 1, path: '(root)', message: 'the file is empty; expected a scenario: a mapping with name, cluster, topics, workload, faults and checks (see scenarios/quickstart.yaml)' },
    ])
  }

  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: 1000 })
  } catch (err) {
    throw new ScenarioError(fileName, [{ file: fileName, line: 1, column: 1, path: '(yaml)', message: `${(err as Error).message}; expected a document without alias loops` }], { cause: err })
  }

  const knownKeys = new WeakMap<object, string[]>()
  const parsed = scenarioSchema.safeParse(data, { error: errorMap(knownKeys), reportInput: true })
  let problems: PathProblem[] = []
  let scenario: Scenario | undefined
  if (parsed.success) {
    scenario = buildScenario(parsed.data, fileName)
    problems = crossCheck(scenario)
    if (problems.length === 0 && options.adjust !== undefined) {
      const adjusted = options.adjust(scenario)
      scenario = adjusted.scenario
      problems = adjusted.problems.length > 0 ? [...adjusted.problems] : crossCheck(scenario)
    }
  } else {
    toProblems(parsed.error.issues, [], knownKeys, problems)
  }
  if (problems.length === 0 && scenario !== undefined) return scenario

  const seen = new Set<string>()
  const located = problems
    .map((p): ScenarioProblem => {
      const path = asWritten(doc, p.path)
      const pos = locate(doc, lines, path, p.atKey === true)
      return { file: fileName, line: pos.line, column: pos.column, path: formatPath(path), message: p.message }
    })
    .filter((p) => {
      const k = `${p.path}\0${p.message}`
      if (seen.has(k)) return false
      seen.add(k)
      return true
    })
    .sort((a, b) => a.line! - b.line! || a.column! - b.column!)
  throw new ScenarioError(fileName, located)
}

/** Reads and validates a scenario file. Throws ScenarioError (code ERR_SCENARIO) listing every problem. */
export function loadScenario(path: string, options: ParseOptions = {}): Scenario {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? (err as Error).message)
    throw new ScenarioError(path, [{ file: path, line: null, column: null, path: '(file)', message: `cannot read it (${why}); expected a scenario YAML file, like scenarios/quickstart.yaml` }], { cause: err })
  }
  return parseScenario(text, path, options)
}
