import { describe, expect, it } from 'vitest'
import { localAddressFor } from '../../broker/local-address.ts'

describe('localAddressFor', () => {
  it('binds to the listener address when it can route to the peer', () => {
    expect(localAddressFor('127.0.0.7', '127.0.0.9')).toBe('127.0.0.7')
    expect(localAddressFor('127.0.0.7', 'localhost')).toBe('127.0.0.7')
    expect(localAddressFor('10.0.0.5', '10.0.0.6')).toBe('10.0.0.5')
    expect(localAddressFor('::1', '::1')).toBe('::1')
  })

  it('lets the OS choose for wildcards, host names, other families and loopback towards the outside', () => {
    expect(localAddressFor(undefined, '127.0.0.9')).toBeUndefined()
    expect(localAddressFor('0.0.0.0', '127.0.0.9')).toBeUndefined()
    expect(localAddressFor('::', '::1')).toBeUndefined()
    expect(localAddressFor('broker-1', '127.0.0.9')).toBeUndefined()
    expect(localAddressFor('127.0.0.7', '::1')).toBeUndefined()
    expect(localAddressFor('127.0.0.7', '10.0.0.6')).toBeUndefined()
    expect(localAddressFor('127.0.0.7', 'kafka.example.com')).toBeUndefined()
  })
})
