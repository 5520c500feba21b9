// The fault scheduler's target questions, answered over the Kafka protocol at fault time (chaos/scheduler.ts).
//
//   leaderOf       Metadata from any broker: the partition's leader
//   controller     the metadata quorum's leader: every node is asked (Metadata.controllerId, which a
//                  reference broker answers with its Raft leader), each with a short timeout because a
//                  paused node never answers; the id most of them name wins, a node naming itself breaking a
//                  tie. One broker alone may be stale (a node cut off still names the old leader).
//   coordinatorOf  FindCoordinator for the group's id on the cluster

import type { ConnectOptions } from '../workloads/driver.ts'
import { RawCluster } from '../workloads/drivers/raw.ts'
import { FindCoordinator } from '../broker/protocol/messages/find-coordinator.ts'
import { Metadata } from '../broker/protocol/messages/metadata.ts'
import type { TargetResolver } from './scheduler.ts'

export interface ResolverOptions {
  readonly connect: ConnectOptions
  /** Each node by its own address (a local cluster's); empty: ask the bootstrap servers only. */
  readonly nodes: readonly { readonly id: number; readonly address: string }[]
  /** The group id the run gave a consumer group the scenario names; identity when absent. */
  readonly groupId?: (name: string) => string
  /** Per question and node. Default 3 s. */
  readonly timeoutMs?: number
}

async function withClient<T>(connect: ConnectOptions, timeoutMs: number, fn: (c: RawCluster) => Promise<T>): Promise<T> {
  const c = new RawCluster({ ...connect, requestTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs }, 1)
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      fn(c),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from ${connect.bootstrap.join(', ')} within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
  } finally {
    clearTimeout(timer)
    c.close()
  }
}

/** The id named by most answers; a node naming itself wins a tie; -1 when no node answered with a controller. */
export function quorumLeader(answers: readonly { readonly node: number; readonly controller: number }[]): number {
  const votes = new Map<number, { count: number; self: boolean }>()
  for (const a of answers) {
    if (a.controller < 0) continue
    const v = votes.get(a.controller) ?? { count: 0, self: false }
    v.count++
    if (a.node === a.controller) v.self = true
    votes.set(a.controller, v)
  }
  let best = -1
  let bestVote = { count: 0, self: false }
  for (const [id, v] of votes) {
    if (v.count > bestVote.count || (v.count === bestVote.count && v.self && !bestVote.self)) {
      best = id
      bestVote = v
    }
  }
  return best
}

export function clusterResolver(o: ResolverOptions): TargetResolver {
  const timeoutMs = o.timeoutMs ?? 3000
  return {
    async leaderOf(topic, partition) {
      return withClient(o.connect, timeoutMs, async (c) => {
        await c.refresh([topic])
        return c.leaderOf(topic, partition)
      })
    },
    async controller() {
      if (o.nodes.length === 0) {
        return withClient(o.connect, timeoutMs, async (c) => {
          await c.refresh()
          return c.controllerId
        })
      }
      const answers = await Promise.allSettled(
        o.nodes.map((n) =>
          withClient({ ...o.connect, bootstrap: [n.address] }, timeoutMs, async (c) => {
            const conn = await c.any()
            const res = await conn.call(Metadata, { topics: [], allowAutoTopicCreation: false })
            return { node: n.id, controller: res.controllerId }
          }),
        ),
      )
      return quorumLeader(answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : [])))
    },
    async coordinatorOf(group) {
      const key = o.groupId?.(group) ?? group
      return withClient(o.connect, timeoutMs, async (c) => {
        const conn = await c.any()
        const res = await conn.call(FindCoordinator, { key, keyType: 0, coordinatorKeys: [key] })
        const entry = res.coordinators.length > 0 ? res.coordinators[0]! : res
        return entry.errorCode === 0 ? entry.nodeId : -1
      })
    },
  }
}
