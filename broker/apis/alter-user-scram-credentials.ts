// AlterUserScramCredentials: v0
//
// Behavior:
// * Needs ALTER on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED for every user).
// * Checked here, per user, all or nothing (as Kafka): an empty name or an empty salt or salted password is
//   UNACCEPTABLE_CREDENTIAL; a mechanism other than 1 (SCRAM-SHA-256) or 2 (SCRAM-SHA-512)
//   UNSUPPORTED_SASL_MECHANISM; iterations outside 4096..16384 UNACCEPTABLE_CREDENTIAL; one user and mechanism
//   altered twice DUPLICATE_RESOURCE. The rest go to the controller with StoredKey and ServerKey derived from
//   the salted password, which is then dropped: the metadata log holds UserScramCredentialRecords (salt,
//   StoredKey, ServerKey, iterations). Deleting a credential that does not exist is RESOURCE_NOT_FOUND.
// * One result per user, in the order users first appear; answered once this broker's image has the change.
//
// Version notes:
// * v0: flexible (KIP-554).

import { ErrorCode } from '../protocol/errors.ts'
import { AlterUserScramCredentials } from '../protocol/messages/alter-user-scram-credentials.ts'
import type { ScramAlteration, ScramAlterationResult } from '../controller/quorum-controller.ts'
import { credentialFromSalted, MAX_ITERATIONS, MIN_ITERATIONS, scramMechanismOfType } from '../sasl/scram.ts'
import { clusterAllowed } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

const CONTROLLER_TIMEOUT_MS = 30_000

type Refusal = { errorCode: number; errorMessage: string }

register(AlterUserScramCredentials, async (req, ctx) => {
  const users = [...new Set([...req.deletions.map((d) => d.name), ...req.upsertions.map((u) => u.name)])]
  const refused = new Map<string, Refusal>()
  const refuse = (user: string, errorCode: number, errorMessage: string) => {
    if (!refused.has(user)) refused.set(user, { errorCode, errorMessage })
  }
  if (!clusterAllowed(ctx, AclOperation.ALTER)) for (const u of users) refuse(u, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const seen = new Set<string>()
  const check = (name: string, mechanism: number) => {
    if (name === '') refuse(name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty')
    if (scramMechanismOfType(mechanism) === null) refuse(name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism')
    const key = `${mechanism}:${name}`
    if (seen.has(key)) refuse(name, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request')
    seen.add(key)
  }
  for (const d of req.deletions) check(d.name, d.mechanism)
  for (const u of req.upsertions) {
    check(u.name, u.mechanism)
    if (u.iterations < MIN_ITERATIONS) refuse(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too few iterations (at least ${MIN_ITERATIONS})`)
    if (u.iterations > MAX_ITERATIONS) refuse(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too many iterations (at most ${MAX_ITERATIONS})`)
    if (u.salt.length === 0 || u.saltedPassword.length === 0) refuse(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt and salted password must not be empty')
  }
  const ok = (name: string) => !refused.has(name)
  const alteration: ScramAlteration = {
    deletions: req.deletions.filter((d) => ok(d.name)).map((d) => ({ name: d.name, mechanism: d.mechanism })),
    upsertions: req.upsertions
      .filter((u) => ok(u.name))
      .map((u) => {
        const c = credentialFromSalted(scramMechanismOfType(u.mechanism)!, u.saltedPassword, u.salt, u.iterations)
        return { name: u.name, mechanism: u.mechanism, salt: c.salt.toString('base64'), storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64'), iterations: u.iterations }
      }),
  }
  const answered = new Map<string, ScramAlterationResult>()
  if (alteration.deletions.length + alteration.upsertions.length > 0) {
    const r = await ctx.broker.controllerClient.call('alterUserScramCredentials', alteration, CONTROLLER_TIMEOUT_MS)
    if ('results' in r) for (const x of r.results) answered.set(x.user, x)
    else for (const u of users) if (ok(u)) answered.set(u, { user: u, errorCode: r.errorCode, errorMessage: 'The controller did not answer in time.' })
    if ('offset' in r && r.offset >= 0) await ctx.broker.waitForMetadata(r.offset, 5000)
  }
  const results = users.map((user) => {
    const bad = refused.get(user)
    if (bad) return { user, ...bad }
    const a = answered.get(user)
    return a ? { user, errorCode: a.errorCode, errorMessage: a.errorMessage } : { user, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'The controller gave no result for this user.' }
  })
  return { throttleTimeMs: 0, results }
})
