// DescribeConfigs: v0-4
//
// Behavior:
// * Needs DESCRIBE_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED) or, for a broker, the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * TOPIC (2): every topic config with its effective value and where it came from (the topic's own
//   override, the broker's setting, or the default), with synonyms (v1+) and type and documentation (v3+).
// * BROKER (4): every broker config; the resource name is this broker's id, or empty for cluster defaults.
//   Configs changed at run time (IncrementalAlterConfigs / AlterConfigs) show DYNAMIC_BROKER_CONFIG or
//   DYNAMIC_DEFAULT_BROKER_CONFIG, and only those that may change are not readOnly.
// * BROKER_LOGGER (8) and other types: INVALID_REQUEST. Unknown topic: UNKNOWN_TOPIC_OR_PARTITION. Another
//   broker's id: INVALID_REQUEST. configurationKeys narrows the list; unknown keys are left out, as Kafka does.
//
// Version notes:
// * v1: configSource, synonyms (includeSynonyms); v3: configType, documentation (includeDocumentation);
//   v4: flexible

import { brokerConfigDefs, configTypeCode, dynamicBrokerConfigs, topicConfigDefs, type ConfigDef } from '../config.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { DescribeConfigs } from '../protocol/messages/describe-configs.ts'
import type { Broker } from '../broker.ts'
import { configResourceRefusal } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

const TOPIC = 2
const BROKER = 4
export const ConfigSource = { DYNAMIC_TOPIC_CONFIG: 1, DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const

export function configSource(broker: Broker, def: ConfigDef & { broker?: string | null }, overrides: Readonly<Record<string, string>>): number {
  if (def.name in overrides) return ConfigSource.DYNAMIC_TOPIC_CONFIG
  const key = 'broker' in def ? def.broker : def.name
  const dynamic = key ? broker.config.dynamic(key) : undefined
  if (dynamic) return dynamic.perBroker ? ConfigSource.DYNAMIC_BROKER_CONFIG : ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
  if (key && broker.config.explicit.has(key)) return ConfigSource.STATIC_BROKER_CONFIG
  return ConfigSource.DEFAULT_CONFIG
}

/** A broker config's dynamic value (this broker's, then the cluster default's) as DescribeConfigs synonyms. */
function dynamicSynonyms(broker: Broker, key: string): { name: string; value: string | null; source: number }[] {
  const out = []
  const own = broker.image.brokerConfigs(String(broker.nodeId))[key]
  if (own !== undefined) out.push({ name: key, value: own, source: ConfigSource.DYNAMIC_BROKER_CONFIG })
  const dflt = broker.image.brokerConfigs('')[key]
  if (dflt !== undefined) out.push({ name: key, value: dflt, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG })
  return out
}

register(DescribeConfigs, (req, ctx) => {
  const { broker } = ctx
  const results = req.resources.map((res) => {
    const base = { resourceType: res.resourceType, resourceName: res.resourceName, configs: [] }
    const wanted = (name: string) => res.configurationKeys === null || res.configurationKeys.includes(name)
    const entry = (def: ConfigDef, value: string | null, source: number, synonyms: { name: string; value: string | null; source: number }[]) => ({
      name: def.name,
      value: def.sensitive ? null : value,
      readOnly: res.resourceType === BROKER,
      isDefault: source === ConfigSource.DEFAULT_CONFIG,
      configSource: source,
      isSensitive: def.sensitive === true,
      synonyms: req.includeSynonyms ? synonyms : [],
      configType: configTypeCode[def.type],
      documentation: req.includeDocumentation ? def.doc : null,
    })
    const refused = configResourceRefusal(ctx, AclOperation.DESCRIBE_CONFIGS, res.resourceType, res.resourceName)
    if (refused !== null) return { ...base, errorCode: refused, errorMessage: null }
    if (res.resourceType === TOPIC) {
      const t = broker.topic(res.resourceName)
      if (!t) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${res.resourceName} does not exist` }
      const overrides = t.record.configs
      const configs = topicConfigDefs.filter((d) => wanted(d.name)).map((d) => {
        const synonyms = []
        if (d.name in overrides) synonyms.push({ name: d.name, value: overrides[d.name]!, source: ConfigSource.DYNAMIC_TOPIC_CONFIG })
        if (d.broker) synonyms.push(...dynamicSynonyms(broker, d.broker))
        if (d.broker && broker.config.explicit.has(d.broker)) synonyms.push({ name: d.broker, value: broker.config.values.get(d.broker) ?? null, source: ConfigSource.STATIC_BROKER_CONFIG })
        if (d.default !== null) synonyms.push({ name: d.broker ?? d.name, value: d.default, source: ConfigSource.DEFAULT_CONFIG })
        return entry(d, broker.config.topicValue(d.name, overrides), configSource(broker, d, overrides), synonyms)
      })
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs }
    }
    if (res.resourceType === BROKER) {
      if (res.resourceName !== '' && res.resourceName !== String(broker.nodeId)) {
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `This is broker ${broker.nodeId}; ask broker ${res.resourceName} for its configs` }
      }
      const configs = brokerConfigDefs.filter((d) => wanted(d.name)).map((d) => {
        const source = configSource(broker, d, {})
        const synonyms = [...dynamicSynonyms(broker, d.name)]
        if (broker.config.explicit.has(d.name)) synonyms.push({ name: d.name, value: broker.config.values.get(d.name) ?? null, source: ConfigSource.STATIC_BROKER_CONFIG })
        if (d.default !== null) synonyms.push({ name: d.name, value: d.default, source: ConfigSource.DEFAULT_CONFIG })
        return { ...entry(d, broker.config.get(d.name), source, synonyms), readOnly: !dynamicBrokerConfigs.has(d.name) }
      })
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs }
    }
    return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Resource type ${res.resourceType} is not supported; use 2 (TOPIC) or 4 (BROKER)` }
  })
  return { throttleTimeMs: 0, results }
})
