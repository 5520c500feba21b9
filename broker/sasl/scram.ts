// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), server side, with the credential derivation used by
// AlterUserScramCredentials. A stored credential is salt, StoredKey, ServerKey and iterations, never the
// password. Nonces come from crypto.randomBytes and proofs are compared with timingSafeEqual.
//
// As Kafka's ScramSaslServer: no channel binding (gs2 "n" or "y"), an authzid must equal the user name, and
// extensions other than Kafka's `tokenauth` are ignored (delegation tokens are not implemented, so
// tokenauth=true is refused). Unlike Kafka, an unknown user goes through the exchange against a made-up
// credential and fails at the proof, so the answer does not tell which user names exist.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512']

/** Kafka's ScramMechanism type ids on the wire (AlterUserScramCredentials, DescribeUserScramCredentials). */
export const SCRAM_TYPE: { readonly [M in ScramMechanism]: number } = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 }
export function scramMechanismOfType(type: number): ScramMechanism | null {
  return type === 1 ? 'SCRAM-SHA-256' : type === 2 ? 'SCRAM-SHA-512' : null
}

/** Kafka's bounds on iterations (ScramMechanism.minIterations, and the 16384 cap of AlterUserScramCredentials). */
export const MIN_ITERATIONS = 4096
export const MAX_ITERATIONS = 16384

export interface ScramCredential {
  readonly salt: Buffer
  readonly storedKey: Buffer
  readonly serverKey: Buffer
  readonly iterations: number
}

const hashOf = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512')
const keyLength = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 32 : 64)
const hmac = (m: ScramMechanism, key: Buffer, data: string | Buffer) => createHmac(hashOf(m), key).update(data).digest()
const h = (m: ScramMechanism, data: Buffer) => createHash(hashOf(m)).update(data).digest()

/** Hi(password, salt, i): PBKDF2 with HMAC of the mechanism's hash. */
export function saltedPassword(m: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, keyLength(m), hashOf(m))
}

/** StoredKey and ServerKey from a salted password (what AlterUserScramCredentials sends). */
export function credentialFromSalted(m: ScramMechanism, salted: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(m, salted, 'Client Key')
  return { salt, storedKey: h(m, clientKey), serverKey: hmac(m, salted, 'Server Key'), iterations }
}

export function credentialFromPassword(m: ScramMechanism, password: string, iterations = MIN_ITERATIONS, salt: Buffer = randomBytes(32)): ScramCredential {
  return credentialFromSalted(m, saltedPassword(m, password, salt, iterations), salt, iterations)
}

/** RFC 5802 attribute list `k=v,k=v`; values may contain '=' but not ','. */
function attributes(s: string): Map<string, string> | null {
  const out = new Map<string, string>()
  for (const part of s.split(',')) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part)
    if (!m || out.has(m[1]!)) return null
    out.set(m[1]!, m[2]!)
  }
  return out
}

/** RFC 5802 saslname: '=2C' is ',' and '=3D' is '='; any other '=' is malformed. */
function unescapeName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=')
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/

export class ScramError extends Error {}

/** What the server needs from the outside: the credential of a user of this mechanism, if any. */
export type CredentialLookup = (user: string, m: ScramMechanism) => ScramCredential | undefined

/**
 * One server-side exchange. `step` takes each client message and returns the server's answer; it throws
 * ScramError when the client is refused. `done` is true after the server-final message, `user` is the
 * authenticated name then.
 */
export class ScramServer {
  readonly mechanism: ScramMechanism
  readonly #lookup: CredentialLookup
  readonly #serverNonce: () => string
  #state: 'first' | 'final' | 'done' | 'failed' = 'first'
  #user = ''
  #credential: ScramCredential | null = null
  #gs2 = ''
  #nonce = ''
  #clientNonce = ''
  #clientFirstBare = ''
  #serverFirst = ''

  /** serverNonce: the server's part of the nonce (a test passes RFC 7677's); printable, no ','. */
  constructor(mechanism: ScramMechanism, lookup: CredentialLookup, serverNonce: () => string = () => randomBytes(24).toString('base64url')) {
    this.mechanism = mechanism
    this.#lookup = lookup
    this.#serverNonce = serverNonce
  }

  get done(): boolean {
    return this.#state === 'done'
  }
  get user(): string {
    return this.#user
  }

  step(message: Buffer): Buffer {
    try {
      if (this.#state === 'first') return this.#first(message.toString('utf8'))
      if (this.#state === 'final') return this.#final(message.toString('utf8'))
      throw new ScramError(`unexpected SCRAM message after the exchange ${this.#state === 'done' ? 'completed' : 'failed'}`)
    } catch (e) {
      this.#state = 'failed'
      throw e instanceof ScramError ? e : new ScramError(`malformed SCRAM message: ${(e as Error).message}`)
    }
  }

  #first(msg: string): Buffer {
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(msg)
    if (!m) throw new ScramError('invalid SCRAM client-first message: expected a gs2 header without channel binding (n,, or y,,)')
    const attrs = attributes(m[3]!)
    const name = attrs?.get('n')
    const nonce = attrs?.get('r')
    if (!attrs || name === undefined || nonce === undefined || m[3]!.indexOf('n=') !== 0) throw new ScramError('invalid SCRAM client-first message: n= and r= are required')
    if (attrs.has('m')) throw new ScramError('SCRAM mandatory extensions (m=) are not supported')
    if (!PRINTABLE_NONCE.test(nonce)) throw new ScramError('invalid SCRAM client nonce')
    const user = unescapeName(name)
    if (user === null || user === '') throw new ScramError('invalid SCRAM user name')
    const authzid = m[2] ? unescapeName(m[2].slice(2)) : null
    if (authzid !== null && authzid !== '' && authzid !== user) throw new ScramError('Authentication failed: Client requested an authorization id that is different from username')
    // Kafka's tokenauth extension appears as an attribute after r= in the client-first message.
    if (msg.includes(',tokenauth=true')) throw new ScramError('Authentication failed: delegation tokens are not supported')
    this.#user = user
    this.#gs2 = `${m[1]},${m[2] ?? ''},`
    this.#clientFirstBare = m[3]!
    // An unknown user meets a credential nobody knows the password of: the exchange fails at the proof.
    this.#credential = this.#lookup(user, this.mechanism) ?? credentialFromSalted(this.mechanism, randomBytes(keyLength(this.mechanism)), randomBytes(32), MIN_ITERATIONS)
    this.#clientNonce = nonce
    this.#nonce = nonce + this.#serverNonce()
    this.#serverFirst = `r=${this.#nonce},s=${this.#credential.salt.toString('base64')},i=${this.#credential.iterations}`
    this.#state = 'final'
    return Buffer.from(this.#serverFirst, 'utf8')
  }

  #final(msg: string): Buffer {
    const proofAt = msg.lastIndexOf(',p=')
    if (proofAt < 0) throw new ScramError('invalid SCRAM client-final message: p= is required')
    const withoutProof = msg.slice(0, proofAt)
    const attrs = attributes(withoutProof)
    if (!attrs || attrs.get('c') === undefined || attrs.get('r') === undefined || !withoutProof.startsWith('c=')) throw new ScramError('invalid SCRAM client-final message: c= and r= are required')
    if (attrs.get('c') !== Buffer.from(this.#gs2, 'utf8').toString('base64')) throw new ScramError('Invalid SCRAM client-final message: channel binding does not match the gs2 header')
    // librdkafka (2.0, Debian's kcat) sends its client nonce twice: client nonce + our whole nonce. Kafka's
    // ScramSaslServer only checks that the nonce ends with ours, so it works there; we accept exactly that form.
    const nonce = attrs.get('r')!
    if (!nonce.endsWith(this.#nonce) || (nonce !== this.#nonce && nonce !== this.#clientNonce + this.#nonce)) throw new ScramError('Invalid SCRAM client-final message: nonce does not match')
    const proof = Buffer.from(msg.slice(proofAt + 3), 'base64')
    const cred = this.#credential!
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`
    const clientSignature = hmac(this.mechanism, cred.storedKey, authMessage)
    if (proof.length !== clientSignature.length) throw new ScramError('Authentication failed: invalid SCRAM proof')
    const clientKey = Buffer.alloc(proof.length)
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!
    if (!timingSafeEqual(h(this.mechanism, clientKey), cred.storedKey)) throw new ScramError('Authentication failed: invalid SCRAM proof')
    this.#state = 'done'
    return Buffer.from(`v=${hmac(this.mechanism, cred.serverKey, authMessage).toString('base64')}`, 'utf8')
  }
}

/** The client side, for a broker authenticating to another one (inter-broker SASL). */
export class ScramClient {
  readonly #m: ScramMechanism
  readonly #user: string
  readonly #password: string
  readonly #nonce: string
  #bare = ''
  #serverSignature: Buffer | null = null

  constructor(m: ScramMechanism, user: string, password: string, nonce: string = randomBytes(24).toString('base64url')) {
    this.#m = m
    this.#user = user
    this.#password = password
    this.#nonce = nonce
  }

  first(): Buffer {
    this.#bare = `n=${this.#user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${this.#nonce}`
    return Buffer.from(`n,,${this.#bare}`, 'utf8')
  }

  /** The client-final message for the server-first one; throws if the server's nonce does not extend ours. */
  final(serverFirst: Buffer): Buffer {
    const sf = serverFirst.toString('utf8')
    const a = attributes(sf)
    const nonce = a?.get('r')
    const salt = a?.get('s')
    const iterations = Number(a?.get('i'))
    if (!nonce?.startsWith(this.#nonce) || salt === undefined || !Number.isInteger(iterations) || iterations < 1) throw new ScramError(`invalid SCRAM server-first message: ${sf.slice(0, 200)}`)
    const salted = saltedPassword(this.#m, this.#password, Buffer.from(salt, 'base64'), iterations)
    const clientKey = hmac(this.#m, salted, 'Client Key')
    const withoutProof = `c=biws,r=${nonce}`
    const authMessage = `${this.#bare},${sf},${withoutProof}`
    const signature = hmac(this.#m, h(this.#m, clientKey), authMessage)
    const proof = Buffer.alloc(clientKey.length)
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!
    this.#serverSignature = hmac(this.#m, hmac(this.#m, salted, 'Server Key'), authMessage)
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8')
  }

  /** Checks the server-final message: the server proves it knows the credential. */
  verify(serverFinal: Buffer): void {
    const v = attributes(serverFinal.toString('utf8'))?.get('v')
    const got = v === undefined ? null : Buffer.from(v, 'base64')
    const want = this.#serverSignature
    if (!got || !want || got.length !== want.length || !timingSafeEqual(got, want)) throw new ScramError('SCRAM server signature does not match')
  }
}
