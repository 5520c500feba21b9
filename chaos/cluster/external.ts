// The external backend: any Kafka-compatible cluster, reached through its bootstrap servers. We start and
// stop nothing; process faults are refused when the scenario is validated.

import type { ClusterTarget } from './types.ts'

export function externalCluster(bootstrap: readonly string[]): ClusterTarget {
  return {
    bootstrap,
    nodes: [],
    describe: () => ({ backend: 'external', bootstrap, nodes: [] }),
    close: async () => {},
  }
}
