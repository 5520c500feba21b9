// DeleteAcls: v0-3
//
// Behavior:
// * Needs ALTER on the CLUSTER (else every filter result is CLUSTER_AUTHORIZATION_FAILED); without an authorizer
//   SECURITY_DISABLED.
// * Each filter (Kafka's AclBindingFilter, as in DescribeAcls; UNKNOWN codes INVALID_REQUEST) removes the ACLs
//   it matches, through the controller (RemoveAccessControlEntryRecords); its result lists them. An ACL matched
//   by two filters is listed under the first. Answered once this broker's image no longer has them.
//
// Version notes:
// * v0 has no pattern type (LITERAL); v1 adds it (KIP-290); v2 is flexible; v3 allows the USER resource type.

import { ErrorCode } from '../protocol/errors.ts'
import { DeleteAcls } from '../protocol/messages/delete-acls.ts'
import type { AclDeletionResult } from '../controller/quorum-controller.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, invalidFilter, ResourceType, type AclFilter } from '../security/authorizer.ts'
import { register } from './registry.ts'

const CONTROLLER_TIMEOUT_MS = 30_000

register(DeleteAcls, async (req, ctx) => {
  const all = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })) })
  if (ctx.broker.authorizer === null) return all(ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured on the broker')
  if (!allowed(ctx, AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME)) return all(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const filters: AclFilter[] = req.filters.map((f) => ({
    resourceType: f.resourceTypeFilter,
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter,
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation,
    permissionType: f.permissionType,
  }))
  const problems = filters.map(invalidFilter)
  const valid = filters.filter((_, i) => problems[i] === null)
  const answers: AclDeletionResult[] = []
  if (valid.length > 0) {
    const r = await ctx.broker.controllerClient.call('deleteAcls', valid, CONTROLLER_TIMEOUT_MS)
    if ('results' in r && r.errorCode === ErrorCode.NONE) answers.push(...r.results)
    else answers.push(...valid.map(() => ({ errorCode: r.errorCode, errorMessage: 'The controller did not delete the ACLs.', acls: [] })))
    if ('offset' in r && r.offset >= 0) await ctx.broker.waitForMetadata(r.offset, 5000)
  }
  let next = 0
  return {
    throttleTimeMs: 0,
    filterResults: problems.map((p) => {
      if (p !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: p, matchingAcls: [] }
      const a = answers[next++] ?? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null, acls: [] }
      return {
        errorCode: a.errorCode,
        errorMessage: a.errorMessage,
        matchingAcls: a.acls.map((x) => ({ errorCode: ErrorCode.NONE, errorMessage: null, resourceType: x.resourceType, resourceName: x.resourceName, patternType: x.patternType, principal: x.principal, host: x.host, operation: x.operation, permissionType: x.permissionType })),
      }
    }),
  }
})
