// The cluster as one client object sees it: bootstrap, metadata (brokers, leaders, the controller), one
// connection per broker; and ListOffsets fanned out to the partitions' leaders.

import { errorName } from '../../../broker/protocol/errors.ts'
import { ListOffsets } from '../../../broker/protocol/messages/list-offsets.ts'
import { Metadata } from '../../../broker/protocol/messages/metadata.ts'
import { clientError, DriverFailure, parseHostPort, silentLogger, type ConnectOptions, type Logger, type StartFrom, type TopicPartition } from '../../driver.ts'
import { kafkaError } from './common.ts'
import { RawConnection, type ConnectionSettings } from './connection.ts'

export interface PartitionInfo {
  readonly leader: number
  readonly leaderEpoch: number
  readonly replicas: readonly number[]
  readonly isr: readonly number[]
}

export class RawCluster {
  private readonly settings: ConnectionSettings
  private readonly bootstrap: { host: string; port: number }[]
  private bootstrapIndex = 0
  private readonly nodes = new Map<number, RawConnection>()
  private readonly connecting = new Map<number, Promise<RawConnection>>()
  private bootstrapConn: RawConnection | null = null
  private refreshing: Promise<void> | null = null
  private readonly wanted = new Set<string>()
  private closed = false
  readonly brokers = new Map<number, { host: string; port: number }>()
  readonly topics = new Map<string, PartitionInfo[]>()
  controllerId = -1

  constructor(opts: ConnectOptions, window: number) {
    this.bootstrap = opts.bootstrap.map(parseHostPort)
    this.settings = {
      clientId: opts.clientId ?? 'faultline',
      tls: opts.tls,
      sasl: opts.sasl,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      window,
      logger: opts.logger ?? silentLogger,
    }
  }

  get logger(): Logger {
    return this.settings.logger
  }

  /**
   * A ready connection to any broker, the least loaded first (Java's leastLoadedNode): a broker that went silent
   * holds its requests in flight, and a request queued behind them would wait for the same timeout. Else the
   * bootstrap servers in turn.
   */
  async any(): Promise<RawConnection> {
    let best: RawConnection | null = null
    for (const c of [...this.nodes.values(), this.bootstrapConn]) if (c?.ready && (best === null || c.inFlight < best.inFlight)) best = c
    if (best) return best
    const errors: string[] = []
    for (let i = 0; i < this.bootstrap.length; i++) {
      const addr = this.bootstrap[(this.bootstrapIndex + i) % this.bootstrap.length]!
      const conn = new RawConnection(addr.host, addr.port, this.settings)
      try {
        await conn.open()
        this.bootstrapIndex = (this.bootstrapIndex + i) % this.bootstrap.length
        this.bootstrapConn = conn
        return conn
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e))
        if (e instanceof DriverFailure && e.code === 'ERR_FAULTLINE_AUTH') throw e
      }
    }
    throw new DriverFailure(`no bootstrap server answered: ${errors.join('; ')}`, { code: 'ERR_FAULTLINE_CONNECT', error: clientError('NOT_CONNECTED', errors.join('; '), true) })
  }

  /** The connection to a broker if it is open right now (the hot path). */
  readyNode(nodeId: number): RawConnection | undefined {
    const c = this.nodes.get(nodeId)
    return c?.ready ? c : undefined
  }

  async node(nodeId: number): Promise<RawConnection> {
    const ready = this.readyNode(nodeId)
    if (ready) return ready
    const pending = this.connecting.get(nodeId)
    if (pending) return pending
    const addr = this.brokers.get(nodeId)
    if (!addr) throw new DriverFailure(`broker ${nodeId} is not in the metadata`, { error: clientError('NOT_CONNECTED', `unknown broker ${nodeId}`, true) })
    const conn = new RawConnection(addr.host, addr.port, this.settings)
    const p = conn.open().then(
      () => {
        this.connecting.delete(nodeId)
        if (this.closed) {
          conn.close()
          throw new DriverFailure('client closed', { error: clientError('NOT_CONNECTED', 'client closed', true) })
        }
        this.nodes.set(nodeId, conn)
        conn.onClose(() => {
          if (this.nodes.get(nodeId) === conn) this.nodes.delete(nodeId)
        })
        return conn
      },
      (e: unknown) => {
        this.connecting.delete(nodeId)
        throw e
      },
    )
    this.connecting.set(nodeId, p)
    return p
  }

  leaderOf(topic: string, partition: number): number {
    return this.topics.get(topic)?.[partition]?.leader ?? -1
  }

  /** Refreshes metadata for `topics` (and every topic asked for before); concurrent calls share one request. */
  async refresh(topics: readonly string[] = []): Promise<void> {
    for (const t of topics) this.wanted.add(t)
    if (this.refreshing) {
      await this.refreshing
      if (topics.every((t) => this.topics.has(t))) return
    }
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null
    })
    await this.refreshing
  }

  /** Marks metadata stale (a leader moved) and refreshes in the background. */
  invalidate(): void {
    if (this.refreshing || this.closed) return
    this.refreshing = this.doRefresh()
      .catch((e: unknown) => this.logger.debug('metadata refresh failed', { err: e instanceof Error ? e.message : String(e) }))
      .finally(() => {
        this.refreshing = null
      })
  }

  get refreshPending(): boolean {
    return this.refreshing !== null
  }

  /** Waits for a refresh under way, if any (its failure included): a send routed now would use the old leader. */
  async settled(): Promise<void> {
    await this.refreshing?.catch(() => undefined)
  }

  private async doRefresh(): Promise<void> {
    const conn = await this.any()
    const names = [...this.wanted]
    const res = await conn.call(Metadata, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: false })
    this.brokers.clear()
    for (const b of res.brokers) this.brokers.set(b.nodeId, { host: b.host, port: b.port })
    this.controllerId = res.controllerId
    for (const t of res.topics) {
      if (t.name === null) continue
      if (t.errorCode !== 0) {
        this.topics.delete(t.name)
        continue
      }
      const known = this.topics.get(t.name)
      const parts: PartitionInfo[] = []
      for (const p of t.partitions) {
        const had = known?.[p.partitionIndex]
        // KIP-320: a broker that has not yet heard of a newer leader epoch (one resumed after a pause) answers
        // with the old leader; keep what we know rather than going back to it.
        if (had && p.leaderEpoch >= 0 && p.leaderEpoch < had.leaderEpoch) {
          parts[p.partitionIndex] = had
          continue
        }
        parts[p.partitionIndex] = { leader: p.errorCode === 0 ? p.leaderId : -1, leaderEpoch: p.leaderEpoch, replicas: p.replicaNodes, isr: p.isrNodes }
      }
      this.topics.set(t.name, parts)
    }
  }

  /** Metadata for a topic, waiting (up to `waitMs`) until every partition has a leader. */
  async ensureTopic(topic: string, waitMs = 0): Promise<PartitionInfo[]> {
    const deadline = performance.now() + waitMs
    for (;;) {
      const parts = this.topics.get(topic)
      if (parts && parts.length > 0 && parts.every((p) => p && p.leader >= 0)) return parts
      await this.refresh([topic])
      const again = this.topics.get(topic)
      if (again && again.length > 0 && again.every((p) => p && p.leader >= 0)) return again
      if (performance.now() >= deadline) {
        const why = again ? 'a partition has no leader' : 'it does not exist'
        throw new DriverFailure(`topic ${topic} is not usable: ${why}`, { error: { code: again ? 5 : 3, name: again ? 'LEADER_NOT_AVAILABLE' : 'UNKNOWN_TOPIC_OR_PARTITION', definite: true, retriable: true, message: why } })
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  close(): void {
    this.closed = true
    for (const c of this.nodes.values()) c.close()
    this.nodes.clear()
    this.bootstrapConn?.close()
    this.bootstrapConn = null
  }
}

export async function listOffsetsOf(cluster: RawCluster, ps: readonly TopicPartition[], which: StartFrom): Promise<Map<string, number>> {
  const byLeader = new Map<number, TopicPartition[]>()
  for (const p of ps) {
    const leader = cluster.leaderOf(p.topic, p.partition)
    if (leader < 0) throw new DriverFailure(`${p.topic}/${p.partition} has no leader`, { error: { code: 5, name: 'LEADER_NOT_AVAILABLE', definite: true, retriable: true, message: 'no leader' } })
    const list = byLeader.get(leader) ?? []
    list.push(p)
    byLeader.set(leader, list)
  }
  const out = new Map<string, number>()
  for (const [leader, list] of byLeader) {
    const conn = await cluster.node(leader)
    const topics = new Map<string, number[]>()
    for (const p of list) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition])
    const res = await conn.call(ListOffsets, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [...topics].map(([name, parts]) => ({ name, partitions: parts.map((partitionIndex) => ({ partitionIndex, timestamp: which === 'earliest' ? -2 : -1 })) })),
    })
    for (const t of res.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) throw new DriverFailure(`ListOffsets ${t.name}/${p.partitionIndex}: ${errorName(p.errorCode)}`, { error: kafkaError(p.errorCode) })
        out.set(`${t.name}\u0000${p.partitionIndex}`, p.offset)
      }
    }
  }
  return out
}
