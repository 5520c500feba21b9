// One node of the metadata quorum as the broker runs it: the Raft node, the metadata image it feeds, and the
// quorum controller that acts while this node leads. Time, disk, network and randomness come in through the
// same seams as the Raft node's, so tests assemble it over a ManualClock, a SimFileSystem and an in-memory
// transport exactly as the broker does over sockets.

import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { FileSystem } from '../storage/file-system.ts'
import { MetadataStateMachine } from './metadata-image.ts'
import { QuorumController } from './quorum-controller.ts'
import { RaftNode } from './raft.ts'
import { defaultRaftConfig, type LogEntry, type RaftConfig, type RaftTransport, type Random, type SnapshotId } from './raft-types.ts'

export interface MetadataQuorumOptions {
  readonly nodeId: number
  readonly voters: readonly number[]
  readonly clock: Clock
  readonly fs: FileSystem
  /** DATA_DIR/__cluster_metadata-0 */
  readonly dir: string
  readonly transport: RaftTransport
  readonly random: Random
  readonly randomBytes: (n: number) => Buffer
  readonly logger: Logger
  readonly raft?: Partial<Omit<RaftConfig, 'nodeId' | 'voters'>>
  readonly sessionTimeoutMs: number
  readonly topicValue: (name: string, overrides: Readonly<Record<string, string>>) => string
  readonly deleteTopicEnable: boolean
  /** auto.leader.rebalance.enable: leader.imbalance.check.interval.seconds in ms; absent: no rebalancing. */
  readonly leaderImbalanceCheckIntervalMs?: number
  readonly onFatal?: (error: unknown) => void
}

/** Remembers the last applied leader-change entry: a new leader acts only once its own one is applied. */
class TrackingStateMachine extends MetadataStateMachine {
  appliedLeader: { leaderId: number; epoch: number } | null = null
  override apply(entry: LogEntry): void {
    if (entry.kind === 'leader-change') this.appliedLeader = { leaderId: entry.leaderId, epoch: entry.epoch }
    super.apply(entry)
  }
  override restore(data: Buffer, id: SnapshotId): void {
    this.appliedLeader = null
    super.restore(data, id)
  }
}

export class MetadataQuorum {
  readonly nodeId: number
  readonly sm: TrackingStateMachine
  readonly raft: RaftNode
  readonly controller: QuorumController

  private constructor(nodeId: number, sm: TrackingStateMachine, raft: RaftNode, controller: QuorumController) {
    this.nodeId = nodeId
    this.sm = sm
    this.raft = raft
    this.controller = controller
  }

  static async open(o: MetadataQuorumOptions): Promise<MetadataQuorum> {
    const sm = new TrackingStateMachine()
    const single = o.voters.length === 1 && o.voters[0] === o.nodeId
    const config: RaftConfig = {
      ...defaultRaftConfig,
      // A quorum of one has nobody to wait for: campaign at once, so a single broker starts as fast as before.
      ...(single ? { electionTimeoutMs: 1, electionBackoffMaxMs: 1 } : {}),
      snapshotEveryEntries: 10_000,
      ...o.raft,
      nodeId: o.nodeId,
      voters: [...o.voters],
    }
    const raft = await RaftNode.open({
      config,
      clock: o.clock,
      transport: o.transport,
      fs: o.fs,
      dir: o.dir,
      random: o.random,
      stateMachine: sm,
      logger: o.logger.child({ component: 'raft' }),
      onFatal: o.onFatal,
    })
    const isActive = () => {
      const s = raft.status()
      const a = sm.appliedLeader
      return s.role === 'leader' && a !== null && a.leaderId === o.nodeId && a.epoch === s.epoch
    }
    const controller = new QuorumController({
      nodeId: o.nodeId,
      clock: o.clock,
      logger: o.logger.child({ component: 'controller' }),
      image: sm.image,
      isActive,
      term: () => raft.status().epoch,
      propose: (records) => raft.propose(records),
      randomBytes: o.randomBytes,
      sessionTimeoutMs: o.sessionTimeoutMs,
      topicValue: o.topicValue,
      deleteTopicEnable: o.deleteTopicEnable,
      leaderImbalanceCheckIntervalMs: o.leaderImbalanceCheckIntervalMs,
    })
    return new MetadataQuorum(o.nodeId, sm, raft, controller)
  }

  get image() {
    return this.sm.image
  }

  /** The quorum leader (the active controller) as this node knows it. */
  get leaderId(): number | null {
    return this.raft.status().leaderId
  }

  async close(): Promise<void> {
    this.controller.close()
    await this.raft.close()
  }

  halt(): void {
    this.controller.close()
    this.raft.halt()
  }
}
