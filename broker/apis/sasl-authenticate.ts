// SaslAuthenticate: v0-2
//
// Behavior:
// * After a v1 SaslHandshake: one SASL token of the chosen mechanism per request, the server's token back.
//   The exchange's last step records the principal User:<name> on the connection.
// * A refused client: SASL_AUTHENTICATION_FAILED with the reason, answered after
//   connection.failed.authentication.delay.ms, then the connection closes.
// * Without a SASL exchange in progress (non-SASL listener, already authenticated): ILLEGAL_SASL_STATE.
// * Re-authentication (KIP-368, after a SaslHandshake on an authenticated connection): the same exchange; a
//   different principal is SASL_AUTHENTICATION_FAILED, after the delay, then the connection closes.
//
// Version notes:
// * v1: sessionLifetimeMs (KIP-368): the mechanism's connections.max.reauth.ms on the exchange's last step, else 0
//   (v0 clients are not told; their session ends all the same, see broker/sasl/session.ts); v2: flexible.

import { ErrorCode } from '../protocol/errors.ts'
import { SaslAuthenticate } from '../protocol/messages/sasl-authenticate.ts'
import type { AuthenticateResult } from '../sasl/session.ts'
import { register, type RequestContext } from './registry.ts'

const EMPTY = Buffer.alloc(0)

function answer(r: AuthenticateResult, ctx: RequestContext) {
  if (!r.ok) {
    if (r.errorCode === ErrorCode.SASL_AUTHENTICATION_FAILED) ctx.connection.close('SASL authentication failed')
    return { errorCode: r.errorCode, errorMessage: r.message, authBytes: EMPTY, sessionLifetimeMs: 0 }
  }
  if (r.principal) ctx.connection.principal = r.principal
  return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: r.bytes, sessionLifetimeMs: r.sessionLifetimeMs }
}

register(SaslAuthenticate, (req, ctx) => {
  const sasl = ctx.connection.sasl
  if (!sasl) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate request received after successful authentication', authBytes: EMPTY }
  // A success is answered synchronously, so the principal is in place before the next pipelined request runs.
  const r = sasl.authenticate(req.authBytes)
  return r instanceof Promise ? r.then((x) => answer(x, ctx)) : answer(r, ctx)
})
