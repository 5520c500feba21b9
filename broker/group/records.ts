// The records of __consumer_offsets, in Kafka's own formats, so the log can be read with Kafka's tools and a
// later replication of the topic carries committed offsets and group metadata with no extra work.
//
// Every key and value starts with an int16 version followed by a classic (version 4: flexible) struct.
// Keys: version 0 or 1 = OffsetCommitKey (group, topic, partition); version 2 = GroupMetadataKey (group);
// higher versions are KIP-848 record types, which this broker neither writes nor reads. Values:
// OffsetCommitValue v0-4 (we write v3, or v1 when the commit carried an explicit retention time) and
// GroupMetadataValue v0-4 (we write v3). A null value is a tombstone: the offset or the group is deleted.
//
// Which offsets partition holds a group: abs(String.hashCode(groupId)) % partitions, as Kafka computes it,
// so a group lives on the same partition number here as on a Kafka cluster with as many partitions.

import { DecodeError, Reader } from '../protocol/reader.ts'
import { type Codec, compileStruct, f, type Fields, type In, type Out } from '../protocol/schema.ts'
import { Writer } from '../protocol/writer.ts'

export const OFFSETS_TOPIC = '__consumer_offsets'

/** Java's String.hashCode over UTF-16 code units, with int32 overflow. */
export function javaStringHashCode(s: string): number {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
  return h
}

/** Kafka's Utils.abs(groupId.hashCode) % partitions (abs of INT32_MIN is 0 there). */
export function partitionForGroup(groupId: string, partitions: number): number {
  const h = javaStringHashCode(groupId)
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions
}

const offsetCommitKeyFields = {
  group: f.string(),
  topic: f.string(),
  partition: f.int32(),
}

const groupMetadataKeyFields = {
  group: f.string(),
}

const offsetCommitValueFields = {
  offset: f.int64(),
  leaderEpoch: f.int32({ versions: '3+', default: -1 }),
  metadata: f.string(),
  commitTimestamp: f.int64(),
  expireTimestamp: f.int64({ versions: '1', default: -1 }),
}

const groupMetadataValueFields = {
  protocolType: f.string(),
  generation: f.int32(),
  protocol: f.string({ nullableVersions: '0+' }),
  leader: f.string({ nullableVersions: '0+' }),
  currentStateTimestamp: f.int64({ versions: '2+', default: -1 }),
  members: f.array({
    memberId: f.string(),
    groupInstanceId: f.string({ versions: '3+', nullableVersions: '3+', default: null }),
    clientId: f.string(),
    clientHost: f.string(),
    rebalanceTimeout: f.int32({ versions: '1+', default: -1 }),
    sessionTimeout: f.int32(),
    subscription: f.bytes(),
    assignment: f.bytes(),
  }),
}

export type OffsetCommitValue = Out<typeof offsetCommitValueFields>
export type GroupMetadataValue = Out<typeof groupMetadataValueFields>
export type GroupMetadataValueIn = In<typeof groupMetadataValueFields>

interface Versioned<F extends Fields> {
  encode(version: number, value: In<F>): Buffer
  decode(version: number, r: Reader): Out<F>
}

function versioned<F extends Fields>(name: string, fields: F, maxVersion: number, flexibleFrom: number): Versioned<F> {
  const codecs: Codec[] = []
  for (let v = 0; v <= maxVersion; v++) codecs[v] = compileStruct(fields, name, v, v >= flexibleFrom)
  return {
    encode(version, value) {
      const w = new Writer(64).int16(version)
      codecs[version]!.enc(w, value)
      return w.toBuffer()
    },
    decode(version, r) {
      const c = codecs[version]
      if (!c) throw new DecodeError(`${name} version ${version} is not supported (0-${maxVersion})`)
      return c.dec(r) as Out<F>
    },
  }
}

const offsetCommitKey = versioned('OffsetCommitKey', offsetCommitKeyFields, 1, Number.POSITIVE_INFINITY)
const groupMetadataKey = versioned('GroupMetadataKey', groupMetadataKeyFields, 2, Number.POSITIVE_INFINITY)
const offsetCommitValue = versioned('OffsetCommitValue', offsetCommitValueFields, 4, 4)
const groupMetadataValue = versioned('GroupMetadataValue', groupMetadataValueFields, 4, 4)

export type RecordKey =
  | { readonly kind: 'offset'; readonly group: string; readonly topic: string; readonly partition: number }
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'other'; readonly version: number }

export function encodeOffsetKey(group: string, topic: string, partition: number): Buffer {
  return offsetCommitKey.encode(1, { group, topic, partition })
}

export function encodeGroupKey(group: string): Buffer {
  return groupMetadataKey.encode(2, { group })
}

export function decodeKey(buf: Buffer): RecordKey {
  const r = new Reader(buf)
  const version = r.int16()
  if (version === 0 || version === 1) return { kind: 'offset', ...offsetCommitKey.decode(1, r) }
  if (version === 2) return { kind: 'group', ...groupMetadataKey.decode(2, r) }
  return { kind: 'other', version }
}

export interface OffsetValueIn {
  offset: number
  leaderEpoch: number
  metadata: string
  commitTimestamp: number
  /** -1 unless the commit carried an explicit retention time (OffsetCommit v2-4). */
  expireTimestamp: number
}

/** v3, or v1 when an expire timestamp must be kept (v1 is the only version that has one). */
export function encodeOffsetValue(v: OffsetValueIn): Buffer {
  return v.expireTimestamp >= 0 ? offsetCommitValue.encode(1, v) : offsetCommitValue.encode(3, v)
}

export function decodeOffsetValue(buf: Buffer): OffsetCommitValue {
  const r = new Reader(buf)
  return offsetCommitValue.decode(r.int16(), r)
}

export function encodeGroupValue(v: GroupMetadataValueIn): Buffer {
  return groupMetadataValue.encode(3, v)
}

export function decodeGroupValue(buf: Buffer): GroupMetadataValue {
  const r = new Reader(buf)
  return groupMetadataValue.decode(r.int16(), r)
}
