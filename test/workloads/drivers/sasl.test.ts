import { describe, expect, it } from 'vitest'
import { saslConversation, ScramClient } from '../../../workloads/drivers/sasl.ts'

describe('SCRAM', () => {
  it('follows the RFC 7677 SCRAM-SHA-256 example exchange', () => {
    const c = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO')
    expect(c.first().toString()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')
    const final = c.next(Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'))
    expect(final?.toString()).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=')
    expect(c.next(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='))).toBeNull()
  })

  it('refuses a server that does not prove it knows the password', () => {
    const c = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO')
    c.first()
    c.next(Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'))
    expect(() => c.next(Buffer.from('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='))).toThrow(/signature/)
  })

  it('refuses a server nonce that does not extend ours, and reports server errors', () => {
    const c = new ScramClient('sha512', 'user', 'pencil', 'abc')
    c.first()
    expect(() => c.next(Buffer.from('r=xyz,s=AAAA,i=4096'))).toThrow(/nonce/)
    const d = new ScramClient('sha512', 'user', 'pencil', 'abc')
    d.first()
    expect(() => d.next(Buffer.from('e=unknown-user'))).toThrow(/unknown-user/)
  })

  it('escapes , and = in user names', () => {
    const c = new ScramClient('sha256', 'a,b=c', 'p', 'n')
    expect(c.first().toString()).toBe('n,,n=a=2Cb=3Dc,r=n')
  })
})

describe('PLAIN', () => {
  it('sends authzid-less credentials in one message', () => {
    const c = saslConversation({ mechanism: 'PLAIN', username: 'alice', password: 'secret' })
    expect(c.first()).toEqual(Buffer.from('\u0000alice\u0000secret'))
    expect(c.next(Buffer.alloc(0))).toBeNull()
  })
})
