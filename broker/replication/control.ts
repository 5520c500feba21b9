// What the replication data path (follower fetchers, ISR changes) needs from the control plane, and nothing
// more: where a live broker listens for inter-broker fetches, and AlterPartition to the controller. The broker
// implements it over its metadata image and its controller client.

export interface PartitionRegistration {
  topic: string
  topicId: string
  partition: number
  replicas: readonly number[]
  isr: readonly number[]
  /** -1: no leader. */
  leader: number
  leaderEpoch: number
  partitionEpoch: number
}

export interface ReplicationControl {
  /** Inter-broker endpoint of a live broker (where followers fetch), or null when unknown or fenced. */
  endpoint(nodeId: number): { host: string; port: number } | null
  /** Whether a broker may join an ISR: registered, not fenced, not in controlled shutdown (the controller refuses
   *  others with INELIGIBLE_REPLICA). Default: it has an endpoint. */
  isEligible?(nodeId: number): boolean
  /** AlterPartition (KIP-497): ask the controller to change the ISR; resolves with the committed registration or an error code. */
  alterPartition(req: { topic: string; partition: number; leaderEpoch: number; partitionEpoch: number; newIsr: readonly number[] }): Promise<{ errorCode: number; registration?: PartitionRegistration }>
}
