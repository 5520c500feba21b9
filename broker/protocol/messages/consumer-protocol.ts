// Consumer protocol: the bytes a "consumer" group carries inside JoinGroup (a member's subscription, in
// protocols[].metadata) and SyncGroup (a member's assignment). Each is an int16 version followed by a
// classic (never flexible) struct. Subscription: v1 adds ownedPartitions (cooperative rebalancing,
// KIP-429); v2 adds generationId (KIP-792); v3 adds rackId (KIP-881). Assignment v1-3 carry the same
// fields as v0, bumped alongside the subscription.
//
// Like Kafka's ConsumerProtocol, a version above the newest we know is read as the newest (later versions
// may only append fields) and bytes after the struct are ignored. An empty buffer decodes as null: the
// coordinator hands empty assignment bytes to members the leader left out.

import { DecodeError, Reader } from '../reader.ts'
import { type Codec, compileStruct, EncodeError, type Fields, f, type In, type Out } from '../schema.ts'
import { Writer } from '../writer.ts'

export interface VersionedStruct<F extends Fields> {
  readonly name: string
  readonly fields: F
  readonly minVersion: number
  readonly maxVersion: number
  /** The struct as `version`, after its int16 version. */
  encode(version: number, value: In<F>): Buffer
  /** The int16 version as written, and the struct read as min(version, maxVersion); null for no bytes. */
  decode(buf: Buffer): { version: number; value: Out<F> } | null
}

function versionedStruct<F extends Fields>(name: string, fields: F, minVersion: number, maxVersion: number): VersionedStruct<F> {
  const codecs: Codec[] = []
  for (let v = minVersion; v <= maxVersion; v++) codecs[v] = compileStruct(fields, '', v, false)
  return {
    name,
    fields,
    minVersion,
    maxVersion,
    encode(version, value) {
      const c = Number.isInteger(version) ? codecs[version] : undefined
      if (!c) throw new EncodeError(`${name} has no version ${version} (${minVersion}-${maxVersion})`)
      const w = new Writer(64).int16(version)
      c.enc(w, value)
      return w.toBuffer()
    },
    decode(buf) {
      if (buf.length === 0) return null
      const r = new Reader(buf)
      const version = r.int16()
      if (version < minVersion) throw new DecodeError(`${name} version ${version} is not supported`)
      const value = codecs[Math.min(version, maxVersion)]!.dec(r) as Out<F>
      return { version, value }
    },
  }
}

export const ConsumerProtocolSubscription = versionedStruct(
  'ConsumerProtocolSubscription',
  {
    topics: f.array(f.string()),
    userData: f.bytes({ nullableVersions: '0+', default: null }),
    ownedPartitions: f.array(
      {
        topic: f.string({ versions: '1+' }),
        partitions: f.array(f.int32(), { versions: '1+' }),
      },
      { versions: '1+' },
    ),
    generationId: f.int32({ versions: '2+', default: -1 }),
    rackId: f.string({ versions: '3+', nullableVersions: '3+', default: null }),
  },
  0,
  3,
)

export const ConsumerProtocolAssignment = versionedStruct(
  'ConsumerProtocolAssignment',
  {
    assignedPartitions: f.array({
      topic: f.string(),
      partitions: f.array(f.int32()),
    }),
    userData: f.bytes({ nullableVersions: '0+', default: null }),
  },
  0,
  3,
)

export type Subscription = Out<typeof ConsumerProtocolSubscription.fields>
export type SubscriptionIn = In<typeof ConsumerProtocolSubscription.fields>
export type Assignment = Out<typeof ConsumerProtocolAssignment.fields>
export type AssignmentIn = In<typeof ConsumerProtocolAssignment.fields>
