// A broker container's resource counters from the Docker Engine's stats (GET /containers/ID/stats, one-shot),
// for `faultline sweep` on the docker backend (chaos/cluster/usage.ts CounterUsageSampler samples them):
//   CPU seconds   cpu_stats.cpu_usage.total_usage (ns, the container's cgroup since it started)
//   memory        usage without the reclaimable page cache, as `docker stats` shows it: usage - inactive_file
//                 (cgroup v2), usage - total_inactive_file (v1; - cache on engines without it)
//   bytes written blkio_stats.io_service_bytes_recursive, op Write (v1) or write (v2), summed over devices.
//                 The engine lists none under cgroup v1, which does not charge buffered writes to the container
//                 when the kernel writes them back; an engine on this host then still shows the broker as a
//                 process of ours (State.Pid, checked to be in the container's cgroup), whose /proc/PID/io
//                 write_bytes is what usage.ts reads for local brokers. Otherwise null: not measured.

import { readFileSync } from 'node:fs'
import type Docker from 'dockerode'
import { readProcess, type UsageCounters } from './usage.ts'

/** The counters of one stats answer; null for a container that is not running (the engine answers zeros). */
export function countersFromStats(s: Docker.ContainerStats): UsageCounters | null {
  const cpuNs = s.cpu_stats?.cpu_usage?.total_usage
  const usage = s.memory_stats?.usage
  if (typeof cpuNs !== 'number' || typeof usage !== 'number' || cpuNs <= 0) return null
  const m = (s.memory_stats.stats ?? {}) as unknown as Record<string, number | undefined>
  const cache = m['inactive_file'] ?? m['total_inactive_file'] ?? m['cache'] ?? 0
  const io = s.blkio_stats?.io_service_bytes_recursive
  const writes = Array.isArray(io) ? io.filter((e) => e.op.toLowerCase() === 'write') : []
  return {
    cpuSeconds: cpuNs / 1e9,
    memoryBytes: Math.max(0, usage - cache),
    writeBytes: writes.length === 0 ? null : writes.reduce((n, e) => n + e.value, 0),
  }
}

/** One stats reading of a container, without the second sample the engine otherwise waits a second for. */
export async function readContainerUsage(container: Docker.Container): Promise<UsageCounters | null> {
  const counters = countersFromStats(await container.stats({ stream: false, 'one-shot': true }))
  if (counters === null || counters.writeBytes !== null) return counters
  return { ...counters, writeBytes: await writeBytesOnThisHost(container) }
}

/** The container's main process's write_bytes from our /proc, when that process is visible here and is the container's. */
async function writeBytesOnThisHost(container: Docker.Container): Promise<number | null> {
  const pid = (await container.inspect()).State.Pid
  if (!(pid > 0)) return null
  try {
    if (!readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(container.id)) return null
  } catch {
    return null
  }
  return readProcess(pid)?.writeBytes ?? null
}
