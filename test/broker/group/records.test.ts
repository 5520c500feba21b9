// __consumer_offsets record formats: Kafka's byte layout, round trips, and the group -> partition rule.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupKey,
  encodeGroupValue,
  encodeOffsetKey,
  encodeOffsetValue,
  javaStringHashCode,
  partitionForGroup,
} from '../../../broker/group/records.ts'
import { Writer } from '../../../broker/protocol/writer.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`records.test.ts: FC_SEED=${seed}`)

describe('group -> offsets partition', () => {
  test("String.hashCode as Java computes it (values from the JDK), and Kafka's abs (INT32_MIN maps to 0)", () => {
    expect(javaStringHashCode('')).toBe(0)
    expect(javaStringHashCode('abc')).toBe(96354)
    expect(javaStringHashCode('hello world')).toBe(1794106052)
    // The classic string whose hashCode is Integer.MIN_VALUE.
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648)
    expect(partitionForGroup('polygenelubricants', 50)).toBe(0)
    expect(partitionForGroup('hello world', 50)).toBe(1794106052 % 50)
  })
})

describe("Kafka's byte layout", () => {
  test('OffsetCommitKey (version 1) and OffsetCommitValue v3', () => {
    const key = new Writer().int16(1).nullableString('g').nullableString('t').int32(7).toBuffer()
    expect(encodeOffsetKey('g', 't', 7)).toEqual(key)
    const value = new Writer().int16(3).int64(42).int32(5).nullableString('meta').int64(1000).toBuffer()
    expect(encodeOffsetValue({ offset: 42, leaderEpoch: 5, metadata: 'meta', commitTimestamp: 1000, expireTimestamp: -1 })).toEqual(value)
  })

  test('OffsetCommitValue v1 when an expire timestamp is kept', () => {
    const value = new Writer().int16(1).int64(42).nullableString('').int64(1000).int64(5000).toBuffer()
    expect(encodeOffsetValue({ offset: 42, leaderEpoch: 9, metadata: '', commitTimestamp: 1000, expireTimestamp: 5000 })).toEqual(value)
    expect(decodeOffsetValue(value)).toMatchObject({ offset: 42, leaderEpoch: -1, expireTimestamp: 5000 })
  })

  test('GroupMetadataKey (version 2) and GroupMetadataValue v3', () => {
    expect(encodeGroupKey('grp')).toEqual(new Writer().int16(2).nullableString('grp').toBuffer())
    const w = new Writer().int16(3).nullableString('consumer').int32(4).nullableString('range').nullableString('m1').int64(77)
    w.int32(1).nullableString('m1').nullableString('inst').nullableString('cid').nullableString('/1.2.3.4').int32(300).int32(100).nullableBytes(Buffer.from('S')).nullableBytes(Buffer.from('A'))
    const value = encodeGroupValue({
      protocolType: 'consumer',
      generation: 4,
      protocol: 'range',
      leader: 'm1',
      currentStateTimestamp: 77,
      members: [{ memberId: 'm1', groupInstanceId: 'inst', clientId: 'cid', clientHost: '/1.2.3.4', rebalanceTimeout: 300, sessionTimeout: 100, subscription: Buffer.from('S'), assignment: Buffer.from('A') }],
    })
    expect(value).toEqual(w.toBuffer())
  })

  test('older value versions decode (v0 group metadata has no rebalance timeout or instance id)', () => {
    const w = new Writer().int16(0).nullableString('consumer').int32(1).nullableString(null).nullableString(null)
    w.int32(1).nullableString('m').nullableString('c').nullableString('h').int32(10).nullableBytes(Buffer.alloc(0)).nullableBytes(Buffer.alloc(0))
    expect(decodeGroupValue(w.toBuffer())).toMatchObject({ generation: 1, protocol: null, currentStateTimestamp: -1, members: [{ memberId: 'm', groupInstanceId: null, rebalanceTimeout: -1, sessionTimeout: 10 }] })
    expect(decodeKey(new Writer().int16(0).nullableString('g').nullableString('t').int32(1).toBuffer())).toEqual({ kind: 'offset', group: 'g', topic: 't', partition: 1 })
    expect(decodeKey(new Writer().int16(5).nullableString('x').toBuffer())).toEqual({ kind: 'other', version: 5 })
  })
})

describe('round trips', () => {
  const str = fc.string({ maxLength: 20 })
  test('keys and values decode to what was encoded', () => {
    fc.assert(
      fc.property(str, str, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.maxSafeNat(), fc.integer({ min: -1, max: 1000 }), fc.maxSafeNat(), fc.option(fc.maxSafeNat(), { nil: -1 }), (group, topic, partition, offset, leaderEpoch, ts, expire) => {
        expect(decodeKey(encodeOffsetKey(group, topic, partition))).toEqual({ kind: 'offset', group, topic, partition })
        expect(decodeKey(encodeGroupKey(group))).toEqual({ kind: 'group', group })
        const v = decodeOffsetValue(encodeOffsetValue({ offset, leaderEpoch, metadata: topic, commitTimestamp: ts, expireTimestamp: expire }))
        expect(v).toMatchObject({ offset, metadata: topic, commitTimestamp: ts, expireTimestamp: expire, leaderEpoch: expire >= 0 ? -1 : leaderEpoch })
      }),
      { seed },
    )
    const member = fc.record({
      memberId: str,
      groupInstanceId: fc.option(str, { nil: null }),
      clientId: str,
      clientHost: str,
      rebalanceTimeout: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      sessionTimeout: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      subscription: fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
      assignment: fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
    })
    fc.assert(
      fc.property(
        fc.record({ protocolType: str, generation: fc.integer({ min: 0, max: 2 ** 31 - 1 }), protocol: fc.option(str, { nil: null }), leader: fc.option(str, { nil: null }), currentStateTimestamp: fc.maxSafeNat(), members: fc.array(member, { maxLength: 4 }) }),
        (g) => {
          expect(decodeGroupValue(encodeGroupValue(g))).toEqual(g)
        },
      ),
      { seed },
    )
  })
})
