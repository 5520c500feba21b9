// CreateAcls: v0-3
//
// Behavior:
// * Needs ALTER on the CLUSTER (else every result is CLUSTER_AUTHORIZATION_FAILED); without an authorizer every
//   result is SECURITY_DISABLED, as in Kafka.
// * Each creation is checked here (Kafka's validateNewAcl: INVALID_REQUEST naming what is wrong); the rest go to
//   the controller, which writes AccessControlEntryRecords to the metadata log. Creating an ACL that exists
//   changes nothing and succeeds. Answered once this broker's image has the ACLs, so they are in force here.
//
// Version notes:
// * v0 has no pattern type (LITERAL); v1 adds it (KIP-290); v2 is flexible; v3 allows the USER resource type.

import { ErrorCode } from '../protocol/errors.ts'
import { CreateAcls } from '../protocol/messages/create-acls.ts'
import { allowed } from '../security/access.ts'
import { AclOperation, CLUSTER_NAME, invalidAcl, ResourceType, type Acl } from '../security/authorizer.ts'
import { register } from './registry.ts'

const CONTROLLER_TIMEOUT_MS = 30_000

register(CreateAcls, async (req, ctx) => {
  const all = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode, errorMessage })) })
  if (ctx.broker.authorizer === null) return all(ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured on the broker')
  if (!allowed(ctx, AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME)) return all(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const acls: Acl[] = req.creations.map((c) => ({
    resourceType: c.resourceType,
    resourceName: c.resourceName,
    patternType: c.resourcePatternType,
    principal: c.principal,
    host: c.host,
    operation: c.operation,
    permissionType: c.permissionType,
  }))
  const problems = acls.map(invalidAcl)
  const valid = acls.filter((_, i) => problems[i] === null)
  const answers: { errorCode: number; errorMessage: string | null }[] = []
  if (valid.length > 0) {
    const r = await ctx.broker.controllerClient.call('createAcls', valid, CONTROLLER_TIMEOUT_MS)
    if ('results' in r && r.errorCode === ErrorCode.NONE) answers.push(...r.results)
    else answers.push(...valid.map(() => ({ errorCode: r.errorCode, errorMessage: 'The controller did not create the ACL.' })))
    if ('offset' in r && r.offset >= 0) await ctx.broker.waitForMetadata(r.offset, 5000)
  }
  let next = 0
  return {
    throttleTimeMs: 0,
    results: problems.map((p) => (p !== null ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: p } : (answers[next++] ?? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null }))),
  }
})
