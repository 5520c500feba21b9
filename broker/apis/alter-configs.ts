// AlterConfigs: v0-2
//
// Behavior:
// * Needs ALTER_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED) or, for a broker, the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * Replaces a TOPIC's or BROKER's whole set of dynamic configs with the ones named (the others go back to
//   their defaults); otherwise as IncrementalAlterConfigs (incremental-alter-configs.ts): the same resources,
//   checks, errors and replication through the metadata log. A null value is INVALID_REQUEST.
//
// Version notes:
// * v1: same as v0; v2: flexible

import { AlterConfigs } from '../protocol/messages/alter-configs.ts'
import { alterConfigs } from './incremental-alter-configs.ts'
import { configResourceRefusal } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

const SET = 0

register(AlterConfigs, async (req, ctx) => {
  const resources = req.resources.map((r) => ({ resourceType: r.resourceType, resourceName: r.resourceName, configs: r.configs.map((c) => ({ name: c.name, op: SET, value: c.value })) }))
  return { throttleTimeMs: 0, responses: await alterConfigs(ctx.broker, resources, true, req.validateOnly, (r) => configResourceRefusal(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName)) }
})
