// DescribeAcls: v0-3
//
// Behavior:
// * Needs DESCRIBE on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED); without an authorizer SECURITY_DISABLED.
// * The filter is Kafka's AclBindingFilter (null strings and ANY match all; pattern type MATCH matches the
//   LITERAL, `*` and PREFIXED patterns that apply to the named resource); UNKNOWN codes are INVALID_REQUEST.
//   Answered from this broker's metadata image, grouped by resource pattern in creation order.
//
// Version notes:
// * v0 has no pattern type (LITERAL); v1 adds it (KIP-290); v2 is flexible; v3 allows the USER resource type.

import { ErrorCode } from '../protocol/errors.ts'
import { DescribeAcls } from '../protocol/messages/describe-acls.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, filterMatches, invalidFilter, ResourceType, type AclFilter } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(DescribeAcls, (req, ctx) => {
  const fail = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, errorCode, errorMessage, resources: [] })
  if (ctx.broker.authorizer === null) return fail(ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured on the broker')
  if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)) return fail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const filter: AclFilter = {
    resourceType: req.resourceTypeFilter,
    resourceName: req.resourceNameFilter,
    patternType: req.patternTypeFilter,
    principal: req.principalFilter,
    host: req.hostFilter,
    operation: req.operation,
    permissionType: req.permissionType,
  }
  const bad = invalidFilter(filter)
  if (bad !== null) return fail(ErrorCode.INVALID_REQUEST, bad)
  const byPattern = new Map<string, { resourceType: number; resourceName: string; patternType: number; acls: { principal: string; host: string; operation: number; permissionType: number }[] }>()
  for (const a of ctx.broker.quorum.image.acls()) {
    if (!filterMatches(filter, a)) continue
    const key = JSON.stringify([a.resourceType, a.resourceName, a.patternType])
    let r = byPattern.get(key)
    if (!r) byPattern.set(key, (r = { resourceType: a.resourceType, resourceName: a.resourceName, patternType: a.patternType, acls: [] }))
    r.acls.push({ principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permissionType })
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...byPattern.values()] }
})
