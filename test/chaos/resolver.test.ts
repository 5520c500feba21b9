// Targets on a real 3-broker cluster: controller, leaderOf and coordinatorOf resolve to the node that really
// holds the role. Killing the resolved controller (or leader) moves the role elsewhere, which only happens when
// it was the one holding it; the coordinator is the leader of the group's __consumer_offsets partition.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalCluster, startLocalCluster } from '../../chaos/cluster/local.ts'
import { clusterResolver, quorumLeader } from '../../chaos/resolver.ts'
import type { TargetResolver } from '../../chaos/scheduler.ts'
import { partitionForGroup } from '../../broker/group/records.ts'
import { rawDriver } from '../../workloads/drivers/raw.ts'
import { until } from '../helpers/until.ts'
import { FAST_FAILOVER } from '../helpers/fast-failover.ts'

const CONFIG = {
  ...FAST_FAILOVER,
  'offsets.topic.num.partitions': '5',
}

let cluster: LocalCluster
let resolver: TargetResolver

beforeAll(async () => {
  cluster = await startLocalCluster({ brokers: 3, config: CONFIG })
  resolver = clusterResolver({ connect: { bootstrap: cluster.bootstrap }, nodes: cluster.nodes, groupId: (name) => `run-${name}-g0`, timeoutMs: 1500 })
}, 90_000)
afterAll(async () => {
  await cluster?.close()
})

const node = (id: number) => cluster.nodes.find((n) => n.id === id)!

describe('target resolution on a real cluster', () => {
  it('controller is the metadata quorum leader: killing it elects another', async () => {
    const controller = await until('a controller', async () => ((await resolver.controller()) > 0 ? resolver.controller() : undefined))
    await node(controller).kill('SIGKILL')
    const next = await until('a new controller', async () => {
      const c = await resolver.controller()
      return c > 0 && c !== controller ? c : undefined
    })
    expect(next).not.toBe(controller)
    await node(controller).start()
    // The restarted node follows the new leader: every node names the same controller again.
    await until('one controller named by every node', async () => ((await resolver.controller()) === next ? true : undefined))
  }, 60_000)

  it('leaderOf is the partition leader: killing it moves the leadership', async () => {
    const driver = rawDriver({ bootstrap: cluster.bootstrap })
    const admin = await driver.admin()
    try {
      await admin.createTopics([{ name: 'targets', partitions: 2, replicationFactor: 3, configs: {} }], { ifNotExists: true })
      const leader = await until('a leader of targets/1', async () => {
        const l = await resolver.leaderOf('targets', 1)
        return l > 0 ? l : undefined
      })
      await node(leader).kill('SIGKILL')
      const next = await until('another leader of targets/1', async () => {
        const l = await resolver.leaderOf('targets', 1)
        return l > 0 && l !== leader ? l : undefined
      })
      expect(next).not.toBe(leader)
      await node(leader).start()
    } finally {
      await admin.close()
      await driver.close()
    }
  }, 60_000)

  it('coordinatorOf is the leader of the group\'s __consumer_offsets partition, for the run\'s group id', async () => {
    const coordinator = await until('a coordinator', async () => {
      const c = await resolver.coordinatorOf('readers')
      return c > 0 ? c : undefined
    })
    const offsetsLeader = await resolver.leaderOf('__consumer_offsets', partitionForGroup('run-readers-g0', 5))
    expect(coordinator).toBe(offsetsLeader)
  }, 60_000)
})

describe('quorumLeader', () => {
  it('takes the id most nodes name, a node naming itself breaking a tie, and -1 without answers', () => {
    expect(quorumLeader([{ node: 1, controller: 2 }, { node: 2, controller: 2 }, { node: 3, controller: 1 }])).toBe(2)
    // A cut-off node still naming the old leader loses to the majority.
    expect(quorumLeader([{ node: 1, controller: 1 }, { node: 2, controller: 3 }, { node: 3, controller: 3 }])).toBe(3)
    expect(quorumLeader([{ node: 1, controller: 2 }, { node: 2, controller: 1 }, { node: 1, controller: 1 }])).toBe(1)
    expect(quorumLeader([{ node: 1, controller: -1 }])).toBe(-1)
    expect(quorumLeader([])).toBe(-1)
  })
})
