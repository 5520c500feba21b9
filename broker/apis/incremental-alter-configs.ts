// IncrementalAlterConfigs: v0-1 (and the checks and writing AlterConfigs shares)
//
// Behavior:
// * Needs ALTER_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED) or, for a broker, the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * TOPIC (2) configs and BROKER (4) configs that may change at run time (the broker-wide defaults of topic
//   configs: log.retention.ms, min.insync.replicas, unclean.leader.election.enable, ...; resource name a broker
//   id, or empty for the cluster-wide default). The change goes to the controller as config records in the
//   metadata log (Kafka's ConfigRecord), so every broker, and one restarted later, applies it: open logs take
//   the new retention and segment settings, acks=all produce the new min.insync.replicas, the controller the
//   new unclean.leader.election.enable (turned on, it elects leaderless partitions' live replicas at once; Kafka
//   3.9 does on its periodic leader check). Answered once this broker applied it. DescribeConfigs shows the source
//   (DYNAMIC_TOPIC_CONFIG, DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG).
// * Operations: 0 SET, 1 DELETE, 2 APPEND and 3 SUBTRACT (list configs only; starting from the topic's own
//   value, else the default).
// * validateOnly checks everything and changes nothing.
// * Errors per resource, in Kafka's order and words (ConfigAdminManager.preprocess, then the controller):
//   INVALID_REQUEST (a resource twice, a key twice, a null value outside DELETE, an unknown operation, APPEND or
//   SUBTRACT on a non-list config, a broker config that is not dynamic, a broker name that is not an id, an
//   unsupported resource type), INVALID_CONFIG (unknown topic config, bad value), UNKNOWN_TOPIC_OR_PARTITION.
//
// Version notes:
// * v1: flexible

import { checkTopicConfig, dynamicBrokerConfigs, topicDefsByName } from '../config.ts'
import type { ConfigChange } from '../controller/quorum-controller.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { IncrementalAlterConfigs } from '../protocol/messages/incremental-alter-configs.ts'
import type { Broker } from '../broker.ts'
import { configResourceRefusal } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

const TOPIC = 2
const BROKER = 4
const SET = 0
const DELETE = 1
const APPEND = 2
const SUBTRACT = 3
const CONTROLLER_TIMEOUT_MS = 30_000

export interface ConfigResourceRequest {
  readonly resourceType: number
  readonly resourceName: string
  readonly configs: readonly { readonly name: string; readonly op: number; readonly value: string | null }[]
}
export interface ConfigResourceResult {
  errorCode: number
  errorMessage: string | null
  resourceType: number
  resourceName: string
}

type Planned = { change: ConfigChange } | { errorCode: number; errorMessage: string }

function invalid(errorMessage: string): Planned {
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage }
}

/** Checks one resource's changes and turns APPEND/SUBTRACT into values (against this broker's image). */
function plan(broker: Broker, r: ConfigResourceRequest, replace: boolean, validateOnly: boolean): Planned {
  const names = r.configs.map((c) => c.name)
  if (new Set(names).size !== names.length) return invalid('Error due to duplicate config keys')
  const nulls = r.configs.filter((c) => c.op !== DELETE && c.value === null).map((c) => c.name)
  if (nulls.length > 0) return invalid(`Null value not supported for : ${nulls.join(', ')}`)
  const unknownOp = r.configs.find((c) => c.op < SET || c.op > SUBTRACT)
  if (unknownOp) return invalid(`Unknown operation type ${unknownOp.op}`)
  const set: Record<string, string> = {}
  const remove: string[] = []
  if (r.resourceType === TOPIC) {
    const current = broker.image.topic(r.resourceName)?.configs ?? {}
    for (const c of r.configs) {
      const def = topicDefsByName.get(c.name)
      if ((c.op === APPEND || c.op === SUBTRACT) && def && def.type !== 'list') {
        return invalid(`Config value ${c.op === APPEND ? 'append' : 'subtract'} is not allowed for config key: ${c.name}`)
      }
      const err = checkTopicConfig(c.name, c.op === DELETE ? null : c.value)
      if (err) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: err }
      if (c.op === DELETE) remove.push(c.name)
      else if (c.op === SET) set[c.name] = c.value!
      else {
        const list = (current[c.name] ?? def!.default ?? '').split(',').map((x) => x.trim()).filter(Boolean)
        const given = c.value!.split(',').map((x) => x.trim()).filter(Boolean)
        const next = c.op === APPEND ? [...list, ...given.filter((x) => !list.includes(x))] : list.filter((x) => !given.includes(x))
        const value = next.join(',')
        const bad = checkTopicConfig(c.name, value)
        if (bad) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: bad }
        set[c.name] = value
      }
    }
    return { change: { resourceType: 'topic', resourceName: r.resourceName, set, remove, replace, validateOnly } }
  }
  if (r.resourceType === BROKER) {
    if (r.resourceName !== '' && !/^\d{1,9}$/.test(r.resourceName)) return invalid(`Invalid broker name ${r.resourceName}`)
    const fixed = r.configs.filter((c) => !dynamicBrokerConfigs.has(c.name)).map((c) => c.name)
    if (fixed.length > 0) return invalid(`Cannot update these configs dynamically: Set(${fixed.join(', ')})`)
    for (const c of r.configs) {
      if (c.op === APPEND || c.op === SUBTRACT) return invalid(`Config value ${c.op === APPEND ? 'append' : 'subtract'} is not allowed for config key: ${c.name}`)
      // A broker default's values are its topic config's values.
      const topicName = [...topicDefsByName.values()].find((d) => d.broker === c.name)!.name
      const err = c.op === DELETE ? null : checkTopicConfig(topicName, c.value)
      if (err) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: err.replace(topicName, c.name) }
      if (c.op === DELETE) remove.push(c.name)
      else set[c.name] = c.value!
    }
    return { change: { resourceType: 'broker', resourceName: r.resourceName, set, remove, replace, validateOnly } }
  }
  return invalid(`Unsupported resource type ${r.resourceType}: use 2 (TOPIC) or 4 (BROKER)`)
}

/** IncrementalAlterConfigs and AlterConfigs (replace: every key not named goes). */
export async function alterConfigs(broker: Broker, resources: readonly ConfigResourceRequest[], replace: boolean, validateOnly: boolean, refusal: (r: ConfigResourceRequest) => number | null = () => null): Promise<ConfigResourceResult[]> {
  const seen = new Map<string, number>()
  const key = (r: ConfigResourceRequest) => `${r.resourceType}:${r.resourceName}`
  for (const r of resources) seen.set(key(r), (seen.get(key(r)) ?? 0) + 1)
  const results: ConfigResourceResult[] = resources.map((r) => ({ errorCode: ErrorCode.NONE, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName }))
  const changes: ConfigChange[] = []
  const asked: number[] = []
  resources.forEach((r, i) => {
    const refused = refusal(r)
    const p = refused !== null ? { errorCode: refused, errorMessage: null } : seen.get(key(r))! > 1 ? invalid('Each resource must appear at most once.') : plan(broker, r, replace, validateOnly)
    if ('change' in p) {
      changes.push(p.change)
      asked.push(i)
    } else Object.assign(results[i]!, p)
  })
  if (changes.length === 0) return results
  const r = await broker.controllerClient.call('alterConfigs', changes, CONTROLLER_TIMEOUT_MS)
  const answered = 'results' in r && r.errorCode === ErrorCode.NONE ? r.results : null
  asked.forEach((i, k) => {
    const res = answered?.[k] ?? { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: 'The controller did not answer in time.' }
    Object.assign(results[i]!, { errorCode: res.errorCode, errorMessage: res.errorMessage })
  })
  if ('offset' in r && r.offset >= 0) await broker.waitForMetadata(r.offset, 5000)
  return results
}

register(IncrementalAlterConfigs, async (req, ctx) => {
  const resources = req.resources.map((r) => ({ resourceType: r.resourceType, resourceName: r.resourceName, configs: r.configs.map((c) => ({ name: c.name, op: c.configOperation, value: c.value })) }))
  return { throttleTimeMs: 0, responses: await alterConfigs(ctx.broker, resources, false, req.validateOnly, (r) => configResourceRefusal(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName)) }
})
