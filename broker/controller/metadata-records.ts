// The records of the cluster metadata log, Kafka's KRaft record types reduced to what this broker uses
// (RegisterBrokerRecord, FenceBrokerRecord, UnfenceBrokerRecord, TopicRecord, PartitionRecord,
// PartitionChangeRecord, RemoveTopicRecord, ProducerIdsRecord, ConfigRecord, UserScramCredentialRecord,
// RemoveUserScramCredentialRecord, AccessControlEntryRecord, RemoveAccessControlEntryRecord). Each record is one Buffer in a Raft entry:
// UTF-8 JSON with a type tag. Kafka encodes them with its generated message schemas; ours never leave the
// metadata quorum, so readability wins over size.

import type { Acl } from '../security/authorizer.ts'

export interface Endpoint {
  readonly name: string
  readonly host: string
  readonly port: number
}

export type MetadataRecord =
  /** The broker epoch is the offset of this record's entry (as in Kafka). A new registration starts fenced. */
  | { readonly type: 'register-broker'; readonly brokerId: number; readonly incarnationId: string; readonly endpoints: readonly Endpoint[]; readonly rack: string | null }
  | { readonly type: 'fence-broker'; readonly brokerId: number; readonly brokerEpoch: number }
  | { readonly type: 'unfence-broker'; readonly brokerId: number; readonly brokerEpoch: number }
  /** A broker asked for a controlled shutdown: no new leaderships or ISR joins go to it. */
  | { readonly type: 'broker-shutdown'; readonly brokerId: number; readonly brokerEpoch: number }
  | { readonly type: 'topic'; readonly name: string; readonly topicId: string; readonly configs: Readonly<Record<string, string>> }
  | {
      readonly type: 'partition'
      readonly topicId: string
      readonly partition: number
      readonly replicas: readonly number[]
      readonly isr: readonly number[]
      readonly leader: number
      readonly leaderEpoch: number
      readonly partitionEpoch: number
    }
  /**
   * Absent fields do not change. partitionEpoch always goes up by one; leaderEpoch when the leader changes.
   * replicas, addingReplicas and removingReplicas move a partition (Kafka's reassignment state in its
   * PartitionChangeRecord): replicas is the whole set, old and new, while a reassignment is under way.
   */
  | {
      readonly type: 'partition-change'
      readonly topicId: string
      readonly partition: number
      readonly isr?: readonly number[]
      readonly leader?: number
      readonly replicas?: readonly number[]
      readonly addingReplicas?: readonly number[]
      readonly removingReplicas?: readonly number[]
      /** The leader epoch goes up though the leader stays (replicas left the set: they are fenced off). */
      readonly bumpLeaderEpoch?: boolean
    }
  | { readonly type: 'remove-topic'; readonly topicId: string }
  /** Kafka's ConfigRecord: sets (value) or removes (null) one dynamic config of a topic (by name) or of a broker
   *  (resourceName its id, or '' for the cluster-wide default). */
  | { readonly type: 'config'; readonly resourceType: 'topic' | 'broker'; readonly resourceName: string; readonly name: string; readonly value: string | null }
  /** The block [previous next, nextProducerId) goes to brokerId. */
  | { readonly type: 'producer-ids'; readonly brokerId: number; readonly brokerEpoch: number; readonly nextProducerId: number }
  /** Kafka's UserScramCredentialRecord: a user's SCRAM credential for one mechanism (1 SHA-256, 2 SHA-512),
   *  byte fields in base64. Never the password: the salt, StoredKey, ServerKey and iterations. */
  | {
      readonly type: 'user-scram-credential'
      readonly name: string
      readonly mechanism: number
      readonly salt: string
      readonly storedKey: string
      readonly serverKey: string
      readonly iterations: number
    }
  | { readonly type: 'remove-user-scram-credential'; readonly name: string; readonly mechanism: number }
  /** Kafka's AccessControlEntryRecord / RemoveAccessControlEntryRecord. Kafka names an ACL by a Uuid; ours is
   *  named by its content (equal ACLs are one), so the removal carries the ACL itself. */
  | { readonly type: 'access-control-entry'; readonly acl: Acl }
  | { readonly type: 'remove-access-control-entry'; readonly acl: Acl }

export type MetadataRecordType = MetadataRecord['type']

export function encodeRecord(r: MetadataRecord): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8')
}

const TYPES: ReadonlySet<string> = new Set<MetadataRecordType>([
  'register-broker',
  'fence-broker',
  'unfence-broker',
  'broker-shutdown',
  'topic',
  'partition',
  'partition-change',
  'remove-topic',
  'producer-ids',
  'config',
  'user-scram-credential',
  'remove-user-scram-credential',
  'access-control-entry',
  'remove-access-control-entry',
])

/** Throws on bytes that are not a record: the metadata log is written only by controllers, so that is a bug. */
export function decodeRecord(buf: Buffer): MetadataRecord {
  const r = JSON.parse(buf.toString('utf8')) as MetadataRecord
  if (typeof r !== 'object' || r === null || !TYPES.has(r.type)) throw new Error(`not a metadata record: ${buf.toString('utf8', 0, 80)}`)
  return r
}
