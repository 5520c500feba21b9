// DescribeUserScramCredentials: v0
//
// Behavior:
// * Needs DESCRIBE on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * From this broker's metadata image: each user's SCRAM mechanisms and iterations (never salts or keys).
// * users null or empty: every user with a credential. A named user without one is RESOURCE_NOT_FOUND; a user
//   named twice is DUPLICATE_RESOURCE (once), as Kafka.
//
// Version notes:
// * v0: flexible (KIP-554).

import { ErrorCode } from '../protocol/errors.ts'
import { DescribeUserScramCredentials } from '../protocol/messages/describe-user-scram-credentials.ts'
import { clusterAllowed } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

register(DescribeUserScramCredentials, (req, ctx) => {
  if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', results: [] }
  const users = ctx.broker.image.scramUsers()
  const describe = (user: string) => ({
    user,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    credentialInfos: (users.get(user) ?? []).map((c) => ({ mechanism: c.mechanism, iterations: c.iterations })),
  })
  if (!req.users || req.users.length === 0) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results: [...users.keys()].sort().map(describe) }
  }
  const count = new Map<string, number>()
  for (const u of req.users) count.set(u.name, (count.get(u.name) ?? 0) + 1)
  const results = [...count].map(([user, n]) => {
    if (n > 1) return { user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request', credentialInfos: [] }
    if (!users.has(user)) return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to describe a user credential that does not exist', credentialInfos: [] }
    return describe(user)
  })
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results }
})
