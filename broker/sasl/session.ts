// The SASL state of one connection on a SASL listener, as Kafka's SaslServerAuthenticator:
//
//   ApiVersions (optional) -> SaslHandshake -> SaslAuthenticate... (v1 handshake, KIP-152)
//                                           -> raw int32-framed tokens  (v0 handshake)
//
// Until the exchange completes only ApiVersions and the SASL APIs are served; the connection closes on anything
// else. A refused client gets SASL_AUTHENTICATION_FAILED with a message (no answer on raw tokens, which have
// no room for one) after connection.failed.authentication.delay.ms, and the connection closes.
//
// Session lifetime (KIP-368, Kafka's ReauthInfo): with connections.max.reauth.ms > 0 for the mechanism, a
// completed exchange answers sessionLifetimeMs and the session ends that long after. An authenticated client may
// re-authenticate on its connection (SaslHandshake with the same mechanism, then SaslAuthenticate) before or
// after that; the exchange must yield the same principal, or it fails like a wrong password. The connection
// closes an ended session at its next request other than SaslHandshake (broker/server/connection.ts). With
// lifetime 0 there is no re-authentication: a SaslHandshake after authentication is ILLEGAL_SASL_STATE.

import { createHash, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { API_VERSIONS_KEY } from '../protocol/header.ts'
import type { SaslMechanism, SaslSettings } from '../listener-security.ts'
import { type CredentialLookup, ScramError, ScramServer } from './scram.ts'

const SASL_HANDSHAKE_KEY = 17
const SASL_AUTHENTICATE_KEY = 36

export type SaslStage = 'handshake' | 'authenticate' | 'raw' | 'done' | 'failed'

export interface SaslSessionOptions {
  readonly settings: SaslSettings
  readonly scramCredential: CredentialLookup
  readonly failureDelayMs: number
  readonly clock: Clock
  readonly log: Logger
}

export type AuthenticateResult =
  | { readonly ok: true; readonly bytes: Buffer; readonly principal: string | null; readonly sessionLifetimeMs: number }
  | { readonly ok: false; readonly errorCode: number; readonly message: string }

/** One step of a mechanism: the server's answer, whether the exchange is complete and who authenticated. */
interface Mechanism {
  step(token: Buffer): { bytes: Buffer; user: string | null }
}

/** Thrown by a mechanism for a refused client; `message` is what the client is told. */
class Refused extends Error {}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/** RFC 4616 PLAIN against the listener's JAAS users, as Kafka's PlainSaslServer. */
function plain(users: ReadonlyMap<string, string>): Mechanism {
  return {
    step(token) {
      const parts = token.toString('utf8').split('\u0000')
      if (parts.length !== 3) throw new Refused('Invalid SASL/PLAIN response: expected 3 tokens')
      const [authzid, user, password] = parts as [string, string, string]
      if (user === '') throw new Refused('Authentication failed: username not specified')
      if (password === '') throw new Refused('Authentication failed: password not specified')
      if (authzid !== '' && authzid !== user) throw new Refused('Authentication failed: Client requested an authorization id that is different from username')
      const expected = users.get(user)
      // Digests make the comparison constant-time whatever the lengths, and an unknown user costs the same.
      const ok = timingSafeEqual(digest(password), digest(expected ?? `\u0000${password}`)) && expected !== undefined
      if (!ok) throw new Refused('Authentication failed: Invalid username or password')
      return { bytes: Buffer.alloc(0), user }
    },
  }
}

function scram(m: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', lookup: CredentialLookup, phase: string): Mechanism {
  const server = new ScramServer(m, lookup)
  return {
    step(token) {
      try {
        const bytes = server.step(token)
        return { bytes, user: server.done ? server.user : null }
      } catch (e) {
        if (!(e instanceof ScramError)) throw e
        // Kafka tells a wrong proof apart from a malformed exchange only by this message.
        throw new Refused(/invalid SCRAM proof/.test(e.message) ? `Authentication failed during ${phase} due to invalid credentials with SASL mechanism ${m}` : e.message)
      }
    },
  }
}

export class SaslSession {
  readonly #o: SaslSessionOptions
  #stage: SaslStage = 'handshake'
  #mechanism: Mechanism | null = null
  #mechanismName: SaslMechanism | null = null
  #handshakeVersion = -1
  /** Monotonic ms at which the session ends; null: never (lifetime 0). */
  #expiresAt: number | null = null
  /** Set while re-authenticating: what the new exchange must match. */
  #previous: { readonly principal: string; readonly mechanism: SaslMechanism } | null = null
  #principal: string | null = null

  constructor(opts: SaslSessionOptions) {
    this.#o = opts
  }

  get stage(): SaslStage {
    return this.#stage
  }
  get authenticated(): boolean {
    return this.#stage === 'done'
  }

  /** Whether the authenticated session has outlived its lifetime (only SaslHandshake may follow). */
  get expired(): boolean {
    return this.#stage === 'done' && this.#expiresAt !== null && this.#o.clock.monotonic() >= this.#expiresAt
  }

  /** Whether a request with this API key may be served now; the connection closes on one that may not. */
  allows(apiKey: number): boolean {
    switch (this.#stage) {
      case 'handshake':
        return apiKey === API_VERSIONS_KEY || apiKey === SASL_HANDSHAKE_KEY
      case 'authenticate':
        return apiKey === SASL_AUTHENTICATE_KEY
      case 'done':
        return true
      default:
        return false
    }
  }

  /** SaslHandshake: picks the mechanism; v0 switches the connection to raw tokens. */
  handshake(mechanism: string, version: number): { errorCode: number; mechanisms: string[]; closeReason?: string } {
    const mechanisms = [...this.#o.settings.mechanisms]
    if (this.#stage === 'done' && this.#expiresAt !== null) {
      this.#previous = { principal: this.#principal!, mechanism: this.#mechanismName! }
      this.#stage = 'handshake'
      // Debug: a client re-authenticates once a lifetime on every connection; its outcome is logged at info.
      this.#o.log.debug('SASL re-authentication', { mechanism, principal: this.#principal, expired: this.#o.clock.monotonic() >= this.#expiresAt })
    }
    if (this.#stage !== 'handshake') return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms }
    const m = mechanisms.find((x) => x === mechanism)
    if (m && this.#previous && m !== this.#previous.mechanism) {
      // Kafka answers NONE and fails the exchange that follows; UNSUPPORTED_SASL_MECHANISM tells the client why at once.
      this.#stage = 'failed'
      this.#o.log.info('SASL mechanism changed on re-authentication; closing connection', { mechanism, previous: this.#previous.mechanism })
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms, closeReason: `SASL mechanism ${m} requested by client is not supported for re-authentication of mechanism ${this.#previous.mechanism}` }
    }
    if (!m) {
      this.#stage = 'failed'
      this.#o.log.info('SASL mechanism not enabled; closing connection', { mechanism, enabled: mechanisms })
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms, closeReason: `SASL mechanism ${mechanism} is not enabled` }
    }
    this.#mechanismName = m
    this.#handshakeVersion = version
    this.#mechanism = m === 'PLAIN' ? plain(this.#o.settings.plainUsers) : scram(m, this.#o.scramCredential, this.#previous ? 're-authentication' : 'authentication')
    this.#stage = version === 0 ? 'raw' : 'authenticate'
    return { errorCode: ErrorCode.NONE, mechanisms }
  }

  /**
   * One client token (from SaslAuthenticate or a raw frame). The state changes at once; a refusal resolves
   * after connection.failed.authentication.delay.ms.
   */
  authenticate(token: Buffer): AuthenticateResult | Promise<AuthenticateResult> {
    if (this.#stage === 'done') return { ok: false, errorCode: ErrorCode.ILLEGAL_SASL_STATE, message: 'SaslAuthenticate request received after successful authentication' }
    if (this.#stage !== 'authenticate' && this.#stage !== 'raw') return { ok: false, errorCode: ErrorCode.ILLEGAL_SASL_STATE, message: `Unexpected SaslAuthenticate request in SASL state ${this.#stage}` }
    let step: { bytes: Buffer; user: string | null }
    try {
      step = this.#mechanism!.step(token)
      const was = this.#previous?.principal
      // Kafka's message names type and name apart: "from User.alice: User.bob".
      if (step.user !== null && was !== undefined && was !== `User:${step.user}`) throw new Refused(`Cannot change principals during re-authentication from ${was.replace(':', '.')}: User.${step.user}`)
    } catch (e) {
      this.#stage = 'failed'
      const message = e instanceof Refused ? e.message : `Authentication failed: ${(e as Error).message}`
      this.#o.log.info('SASL authentication failed', { mechanism: this.#mechanismName, reason: message, delayMs: this.#o.failureDelayMs, reauthentication: this.#previous !== null })
      const result: AuthenticateResult = { ok: false, errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, message }
      return new Promise((resolve) => this.#o.clock.setTimeout(() => resolve(result), this.#o.failureDelayMs))
    }
    if (step.user === null) return { ok: true, bytes: step.bytes, principal: null, sessionLifetimeMs: 0 }
    this.#stage = 'done'
    const principal = `User:${step.user}`
    const sessionLifetimeMs = this.#o.settings.maxReauthMs[this.#mechanismName!]
    this.#expiresAt = sessionLifetimeMs > 0 ? this.#o.clock.monotonic() + sessionLifetimeMs : null
    this.#principal = principal
    const reauthenticated = this.#previous !== null
    this.#previous = null
    this.#o.log.info(reauthenticated ? 'SASL re-authenticated' : 'SASL authenticated', { mechanism: this.#mechanismName, principal, handshakeVersion: this.#handshakeVersion, sessionLifetimeMs })
    return { ok: true, bytes: step.bytes, principal, sessionLifetimeMs }
  }
}
