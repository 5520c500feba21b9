// Types of the Raft metadata quorum (KRaft flavour: KIP-595 elections, pull-based replication, KIP-630
// snapshots). The node (raft.ts) is driven only through what is declared here: messages in and out through a
// RaftTransport, time through a Clock, randomness through a Random, disk through a FileSystem, and committed
// entries out through a RaftStateMachine. Nothing here does I/O.
//
// Messages are plain objects, one per Kafka API so the broker can carry them on the wire later:
//   vote-*                  Vote (52), v2's PreVote included (KIP-996)
//   begin-quorum-epoch-*    BeginQuorumEpoch (53)
//   end-quorum-epoch-*      EndQuorumEpoch (54)
//   fetch-*                 Fetch (1) with ReplicaId, FetchOffset, LastFetchedEpoch; DivergingEpoch, SnapshotId
//   fetch-snapshot-*        FetchSnapshot (59)
// Every request is answered by exactly one response (possibly an error, possibly later: a caught-up Fetch is
// held up to its maxWaitMs). Responses echo the request fields the node matches them by (fetchOffset,
// lastFetchedEpoch, snapshot position); on Kafka's wire those live in the request, and the integration
// restores them from the request it is answering.

/** An offset in the metadata log with the epoch of the leader that wrote the entry before it. */
export interface OffsetAndEpoch {
  readonly offset: number
  readonly epoch: number
}

/** A snapshot covers every entry below endOffset; epoch is the epoch of the entry at endOffset - 1 (Kafka's SnapshotId). */
export interface SnapshotId {
  readonly endOffset: number
  readonly epoch: number
}

/**
 * One entry of the metadata log. An entry occupies one offset, is written by the leader of its epoch and is
 * committed and applied as a whole: a proposal of several records is one entry, so it commits atomically.
 */
export type LogEntry =
  | { readonly offset: number; readonly epoch: number; readonly kind: 'data'; readonly records: readonly Buffer[] }
  /** Written by every new leader first (Kafka's LeaderChangeMessage); once it commits, earlier epochs are committed too. */
  | { readonly offset: number; readonly epoch: number; readonly kind: 'leader-change'; readonly leaderId: number }

export interface VoteRequest {
  readonly type: 'vote-request'
  /** The candidate's epoch; a prospective candidate's unchanged epoch for a pre-vote (Kafka's ReplicaEpoch). */
  readonly epoch: number
  readonly candidateId: number
  readonly lastEpoch: number
  readonly endOffset: number
  /** KIP-996: would the voter grant a vote? Nothing changes on either side; the real election follows only if a
   * majority would. */
  readonly preVote: boolean
}

export interface VoteResponse {
  readonly type: 'vote-response'
  readonly errorCode: number
  readonly epoch: number
  readonly leaderId: number | null
  readonly granted: boolean
  /** Echo of the request, so a late answer to a real vote is not counted as a pre-vote (or the other way). */
  readonly preVote: boolean
}

export interface BeginQuorumEpochRequest {
  readonly type: 'begin-quorum-epoch-request'
  readonly epoch: number
  readonly leaderId: number
}

export interface BeginQuorumEpochResponse {
  readonly type: 'begin-quorum-epoch-response'
  readonly errorCode: number
  readonly epoch: number
  readonly leaderId: number | null
}

export interface EndQuorumEpochRequest {
  readonly type: 'end-quorum-epoch-request'
  readonly epoch: number
  readonly leaderId: number
  /** Voters most caught up first: the first campaigns at once, the others back off by their position. */
  readonly preferredSuccessors: readonly number[]
}

export interface EndQuorumEpochResponse {
  readonly type: 'end-quorum-epoch-response'
  readonly errorCode: number
  readonly epoch: number
  readonly leaderId: number | null
}

export interface FetchRequest {
  readonly type: 'fetch-request'
  /** The epoch the fetcher believes current (CurrentLeaderEpoch). */
  readonly epoch: number
  readonly replicaId: number
  /** The fetcher's log end offset: it holds, durably, every entry below it. */
  readonly fetchOffset: number
  /** Epoch of the entry at fetchOffset - 1 (the snapshot's epoch when the log is empty). */
  readonly lastFetchedEpoch: number
  /** The fetcher's high watermark (as in KIP-1166): a leader answers at once when it knows a newer one. */
  readonly highWatermark: number
  readonly maxWaitMs: number
  /** Names this request; the response echoes it, so a late or duplicated response to an earlier fetch is told
   * apart from the answer to the one outstanding fetch (a follower has one in flight). */
  readonly correlationId: number
}

export interface FetchResponse {
  readonly type: 'fetch-response'
  readonly errorCode: number
  readonly epoch: number
  readonly leaderId: number | null
  /** Echo of the request. */
  readonly correlationId: number
  /** Echo of the request. */
  readonly fetchOffset: number
  /** Echo of the request. */
  readonly lastFetchedEpoch: number
  readonly highWatermark: number
  readonly logStartOffset: number
  /** Set when the fetcher's log diverges: truncate to the end of this epoch (at most endOffset) and fetch again. */
  readonly divergingEpoch: { readonly epoch: number; readonly endOffset: number } | null
  /** Set when the fetcher is behind the log start (or diverges below it): fetch this snapshot first. */
  readonly snapshotId: SnapshotId | null
  readonly entries: readonly LogEntry[]
}

export interface FetchSnapshotRequest {
  readonly type: 'fetch-snapshot-request'
  readonly epoch: number
  readonly replicaId: number
  readonly snapshotId: SnapshotId
  readonly position: number
  readonly correlationId: number
}

export interface FetchSnapshotResponse {
  readonly type: 'fetch-snapshot-response'
  readonly errorCode: number
  readonly epoch: number
  readonly leaderId: number | null
  readonly snapshotId: SnapshotId
  /** Total size of the snapshot file in bytes. */
  readonly size: number
  /** Echo of the request. */
  readonly position: number
  /** Echo of the request. */
  readonly correlationId: number
  readonly bytes: Buffer
}

export type RaftRequest = VoteRequest | BeginQuorumEpochRequest | EndQuorumEpochRequest | FetchRequest | FetchSnapshotRequest
export type RaftResponse = VoteResponse | BeginQuorumEpochResponse | EndQuorumEpochResponse | FetchResponse | FetchSnapshotResponse
export type RaftMessage = RaftRequest | RaftResponse

/**
 * How messages reach other nodes. send() must not deliver synchronously (the node may be in the middle of a
 * state change); delivery may be late, duplicated, reordered or never.
 */
export interface RaftTransport {
  send(to: number, message: RaftMessage): void
  onMessage(handler: (from: number, message: RaftMessage) => void): void
}

/** Uniform numbers in [0, 1): election timeouts and backoffs. */
export type Random = () => number

/** What the metadata layer implements. Called in offset order, only with committed entries. */
export interface RaftStateMachine {
  /** Every committed entry in order, control entries included (the state machine may ignore them). */
  apply(entry: LogEntry): void
  /** The state after every entry applied so far, as bytes. */
  snapshot(): Buffer
  /** Replaces the whole state with a snapshot's; the next apply() is at id.endOffset. */
  restore(data: Buffer, id: SnapshotId): void
  /** The leader changed or became unknown (null); leaderId === this node means it may propose. */
  onLeaderChange?(leaderId: number | null, epoch: number): void
}

export interface RaftConfig {
  readonly nodeId: number
  /** Ids of the voters (controller.quorum.voters); a node not among them is an observer: it fetches, never votes. */
  readonly voters: readonly number[]
  /** quorum.election.timeout.ms: an unattached voter waits this long plus a random part of it before campaigning. */
  readonly electionTimeoutMs: number
  /** KIP-996: campaign with pre-votes first (prospective, epoch unchanged); off: every campaign bumps the epoch. */
  readonly preVote: boolean
  /** quorum.election.backoff.max.ms: the most a failed candidate waits before its next election. */
  readonly electionBackoffMaxMs: number
  /** quorum.fetch.timeout.ms: a follower that has not heard from its leader this long campaigns; a leader
   * that has not heard from a majority for 1.5 times this resigns. */
  readonly fetchTimeoutMs: number
  /** quorum.request.timeout.ms: an unanswered request is sent again after this. */
  readonly requestTimeoutMs: number
  /** quorum.retry.backoff.ms */
  readonly retryBackoffMs: number
  /** How long a leader holds a Fetch that has nothing new to return. */
  readonly fetchMaxWaitMs: number
  /** Most entries in one Fetch response. */
  readonly fetchMaxEntries: number
  /** Most bytes in one FetchSnapshot response. */
  readonly snapshotChunkBytes: number
  /** Take a snapshot (and drop the log below it) once this many entries were applied since the last; 0: never. */
  readonly snapshotEveryEntries: number
}

export const defaultRaftConfig = {
  electionTimeoutMs: 1000,
  preVote: true,
  electionBackoffMaxMs: 1000,
  fetchTimeoutMs: 2000,
  requestTimeoutMs: 2000,
  retryBackoffMs: 20,
  fetchMaxWaitMs: 500,
  fetchMaxEntries: 1000,
  snapshotChunkBytes: 1 << 20,
  snapshotEveryEntries: 0,
} as const satisfies Omit<RaftConfig, 'nodeId' | 'voters'>

/** Kafka's quorum states; a voted voter is 'unattached' with votedId set, and a voter asking for pre-votes is
 * 'prospective' (as in KIP-996). */
export type RaftRole = 'unattached' | 'prospective' | 'candidate' | 'leader' | 'follower' | 'resigned' | 'stopped' | 'failed'

export interface RaftStatus {
  readonly nodeId: number
  readonly role: RaftRole
  readonly voter: boolean
  readonly epoch: number
  readonly leaderId: number | null
  readonly votedId: number | null
  readonly highWatermark: number
  /** Next offset to apply; every entry below it was handed to the state machine (or came with a snapshot). */
  readonly appliedOffset: number
  readonly logStartOffset: number
  readonly logEndOffset: number
  readonly lastEpoch: number
  /** Log end offset known to be on disk. */
  readonly durableEndOffset: number
  readonly snapshotId: SnapshotId | null
}

/**
 * A proposal's outcome. NOT_LEADER: never appended, safe to send again to the leader. LEADERSHIP_LOST: appended
 * at `offset`, but this node stopped being leader before it committed; it may still commit or vanish, and
 * only the state machine will tell.
 */
export type ProposeResult =
  | { readonly ok: true; readonly offset: number; readonly epoch: number }
  | { readonly ok: false; readonly error: 'NOT_LEADER'; readonly leaderId: number | null; readonly epoch: number }
  | { readonly ok: false; readonly error: 'LEADERSHIP_LOST'; readonly offset: number; readonly epoch: number }
