// DescribeLogDirs: v0-4
//
// Behavior:
// * Needs DESCRIBE on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
// * One log dir (this broker's log.dirs) with the size in bytes of every partition log it holds (all of them
//   for a null topic list, else the named partitions it has; others are left out, as Kafka does). offsetLag is
//   0 and isFutureKey false: there are no future logs (no moves between log dirs).
// * v4: the file system's total and usable bytes under the log dir (-1 when they cannot be read).
//
// Version notes:
// * v1: same as v0; v2: flexible; v3: top-level errorCode; v4: totalBytes, usableBytes

import { statfsSync } from 'node:fs'
import { ErrorCode } from '../protocol/errors.ts'
import { DescribeLogDirs } from '../protocol/messages/describe-log-dirs.ts'
import { clusterAllowed } from '../security/access.ts'
import { AclOperation } from '../security/authorizer.ts'
import { register } from './registry.ts'

function diskBytes(dir: string): { totalBytes: number; usableBytes: number } {
  try {
    const s = statfsSync(dir)
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize }
  } catch {
    return { totalBytes: -1, usableBytes: -1 }
  }
}

register(DescribeLogDirs, (req, ctx) => {
  const { broker } = ctx
  if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] }
  const wanted = req.topics === null ? null : new Map(req.topics.map((t) => [t.topic, new Set(t.partitions)]))
  const topics = []
  for (const t of broker.topics()) {
    const parts = wanted === null ? null : wanted.get(t.record.name)
    if (parts === undefined) continue
    const partitions = t.partitions
      .filter((p) => p !== undefined && (parts === null || parts.has(p.index)))
      .map((p) => ({ partitionIndex: p.index, partitionSize: p.log.sizeInBytes(), offsetLag: 0, isFutureKey: false }))
    if (partitions.length > 0) topics.push({ name: t.record.name, partitions })
  }
  const dir = broker.config.dataDir
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    results: [{ errorCode: ErrorCode.NONE, logDir: dir, topics, ...diskBytes(dir) }],
  }
})
