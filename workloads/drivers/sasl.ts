// Client side of SASL PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC 7677) for the raw driver.
// Each mechanism is a short conversation of byte strings; the connection carries them in SaslAuthenticate.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'
import type { SaslOptions } from '../driver.ts'

export interface SaslConversation {
  /** The first message. */
  first(): Buffer
  /** Given the server's answer, the next message, or null when the exchange is complete. Throws on a bad server. */
  next(server: Buffer): Buffer | null
}

export function saslConversation(opts: SaslOptions, nonce?: string): SaslConversation {
  if (opts.mechanism === 'PLAIN') {
    return {
      first: () => Buffer.from(`\u0000${opts.username}\u0000${opts.password}`),
      next: () => null,
    }
  }
  return new ScramClient(opts.mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512', opts.username, opts.password, nonce)
}

/** RFC 5802 "saslname": ',' and '=' are escaped. */
function saslName(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C')
}

function parseAttributes(msg: string): Map<string, string> {
  const m = new Map<string, string>()
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=')
    if (eq > 0) m.set(part.slice(0, eq), part.slice(eq + 1))
  }
  return m
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

export class ScramClient implements SaslConversation {
  private readonly hash: 'sha256' | 'sha512'
  private readonly username: string
  private readonly password: string
  private readonly clientNonce: string
  private clientFirstBare = ''
  private serverSignature: Buffer | null = null
  private step = 0

  constructor(hash: 'sha256' | 'sha512', username: string, password: string, nonce?: string) {
    this.hash = hash
    this.username = username
    this.password = password
    this.clientNonce = nonce ?? randomBytes(24).toString('base64')
  }

  first(): Buffer {
    this.clientFirstBare = `n=${saslName(this.username)},r=${this.clientNonce}`
    this.step = 1
    return Buffer.from(`n,,${this.clientFirstBare}`)
  }

  next(server: Buffer): Buffer | null {
    const msg = server.toString('utf8')
    const attrs = parseAttributes(msg)
    if (attrs.has('e')) throw new Error(`SCRAM server error: ${attrs.get('e')}`)
    if (this.step === 1) {
      const nonce = attrs.get('r')
      const salt = attrs.get('s')
      const iterations = Number(attrs.get('i'))
      if (!nonce || !nonce.startsWith(this.clientNonce)) throw new Error('SCRAM server nonce does not extend ours')
      if (!salt || !Number.isInteger(iterations) || iterations < 1) throw new Error('SCRAM server-first message lacks salt or iterations')
      const keyLen = this.hash === 'sha256' ? 32 : 64
      const salted = pbkdf2Sync(this.password, Buffer.from(salt, 'base64'), iterations, keyLen, this.hash)
      const clientKey = createHmac(this.hash, salted).update('Client Key').digest()
      const storedKey = createHash(this.hash).update(clientKey).digest()
      const finalBare = `c=biws,r=${nonce}`
      const authMessage = `${this.clientFirstBare},${msg},${finalBare}`
      const clientSignature = createHmac(this.hash, storedKey).update(authMessage).digest()
      const serverKey = createHmac(this.hash, salted).update('Server Key').digest()
      this.serverSignature = createHmac(this.hash, serverKey).update(authMessage).digest()
      this.step = 2
      return Buffer.from(`${finalBare},p=${xor(clientKey, clientSignature).toString('base64')}`)
    }
    if (this.step === 2) {
      const v = attrs.get('v')
      if (!v || !this.serverSignature) throw new Error('SCRAM server-final message lacks its signature')
      const got = Buffer.from(v, 'base64')
      if (got.length !== this.serverSignature.length || !timingSafeEqual(got, this.serverSignature)) {
        throw new Error('SCRAM server signature does not match: the server does not know the password')
      }
      this.step = 3
      return null
    }
    throw new Error('SCRAM exchange is already complete')
  }
}
