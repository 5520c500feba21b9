// SaslHandshake: v0-1
//
// Behavior:
// * On a SASL listener before authentication: picks the mechanism (broker/sasl/session.ts) and answers the
//   listener's enabled mechanisms. A mechanism that is not enabled is UNSUPPORTED_SASL_MECHANISM and the
//   connection closes after the answer (as Kafka's SaslServerAuthenticator).
// * After authentication with a session lifetime (connections.max.reauth.ms > 0): begins re-authentication
//   (KIP-368); another mechanism than the session's is UNSUPPORTED_SASL_MECHANISM and the connection closes.
// * Anywhere else (a PLAINTEXT or SSL listener, or after authentication without a session lifetime):
//   ILLEGAL_SASL_STATE, as KafkaApis.
//
// Version notes:
// * v0: the SASL tokens that follow are raw int32-framed bytes; v1: they are SaslAuthenticate requests (KIP-152).

import { ErrorCode } from '../protocol/errors.ts'
import { SaslHandshake } from '../protocol/messages/sasl-handshake.ts'
import { register } from './registry.ts'

register(SaslHandshake, (req, ctx) => {
  const sasl = ctx.connection.sasl
  if (!sasl) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] }
  const res = sasl.handshake(req.mechanism, ctx.version)
  if (res.closeReason) ctx.connection.close(res.closeReason)
  return { errorCode: res.errorCode, mechanisms: res.mechanisms }
})
