import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clientError, missingCapability, murmur2, parseHostPort, partitionForKey, produceErrorFromCode } from '../../workloads/driver.ts'
import { kafkajsCapabilities } from '../../workloads/drivers/kafkajs.ts'
import { rawCapabilities } from '../../workloads/drivers/raw.ts'

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
console.log(`driver.test.ts fast-check seed ${seed} (rerun with FC_SEED=${seed})`)

const require = createRequire(import.meta.url)
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number

describe('partitioning', () => {
  it("matches Kafka's murmur2 test vectors (UtilsTest.testMurmur2)", () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ]
    for (const [key, h] of cases) expect(murmur2(Buffer.from(key))).toBe(h)
  })

  it("agrees with kafkajs's DefaultPartitioner hash on any key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 1, max: 1000 }), (bytes, n) => {
        const key = Buffer.from(bytes)
        expect(murmur2(key)).toBe(kafkajsMurmur2(key))
        const p = partitionForKey(key, n)
        expect(p).toBe((kafkajsMurmur2(key) & 0x7fffffff) % n)
        expect(p >= 0 && p < n).toBe(true)
      }),
      { seed },
    )
  })
})

describe('errors', () => {
  it('is definite only for codes that mean not appended, after a single attempt', () => {
    expect(produceErrorFromCode(6, 'NOT_LEADER_OR_FOLLOWER', true, 'one').definite).toBe(true)
    expect(produceErrorFromCode(19, 'NOT_ENOUGH_REPLICAS', true, 'one').definite).toBe(true)
    expect(produceErrorFromCode(6, 'NOT_LEADER_OR_FOLLOWER', true, 'maybe-many').definite).toBe(false)
    // Appended on the leader, then the wait for replicas failed.
    expect(produceErrorFromCode(7, 'REQUEST_TIMED_OUT', true, 'one').definite).toBe(false)
    expect(produceErrorFromCode(20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', true, 'one').definite).toBe(false)
    expect(produceErrorFromCode(46, 'DUPLICATE_SEQUENCE_NUMBER', false, 'one').definite).toBe(false)
    expect(produceErrorFromCode(-1, 'UNKNOWN_SERVER_ERROR', false, 'one').definite).toBe(false)
    expect(clientError('TIMEOUT', 'x', false)).toMatchObject({ code: null, name: 'TIMEOUT', definite: false, retriable: true })
  })
})

describe('capabilities', () => {
  it('names what a driver lacks', () => {
    expect(missingCapability(kafkajsCapabilities, { manual: true })).toBe('manual partition assignment')
    expect(missingCapability({ ...rawCapabilities, consumerGroups: false }, { groups: true })).toBe('consumer groups')
    expect(missingCapability(rawCapabilities, { groups: true })).toBeNull()
    expect(missingCapability(rawCapabilities, { compression: 'zstd' })).toBe('zstd compression')
    expect(missingCapability(rawCapabilities, { manual: true, acks: 0, compression: 'gzip', sasl: 'SCRAM-SHA-512', tls: true })).toBeNull()
  })
})

describe('parseHostPort', () => {
  it('parses host:port and bracketed IPv6, and rejects the rest', () => {
    expect(parseHostPort('127.0.0.1:9092')).toEqual({ host: '127.0.0.1', port: 9092 })
    expect(parseHostPort('[::1]:19092')).toEqual({ host: '::1', port: 19092 })
    expect(() => parseHostPort('localhost')).toThrow(/host:port/)
    expect(() => parseHostPort('h:0')).toThrow(/port/)
  })
})
