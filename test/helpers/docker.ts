// The Docker engine for the Docker backend's tests: a real one. When none answers, this starts dockerd (as
// root, when it is installed) and waits for it; it says why when it cannot, and the tests that need an engine
// are skipped with that reason in their names, so a skip is visible in the test output.

import { execFileSync, spawn } from 'node:child_process'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { dockerEngine } from '../../chaos/cluster/docker.ts'
import { bridgeNetfilterProblem } from '../../chaos/network/iptables.ts'
import { until } from './until.ts'

export type Engine = { ok: true; docker: Docker } | { ok: false; reason: string }

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => {
    try {
      closeSync(openSync(join(d, cmd), 'r'))
      return true
    } catch {
      return false
    }
  })
}

let engine: Promise<Engine> | null = null

/** Bridge netfilter on, as on a Docker host, so docker partitions can act (dockerd usually turns it on; a fresh
 *  VM whose dockerd did not is prepared here, as root). Without it the docker partition runs are refused, saying
 *  how to turn it on. */
function prepareBridgeNetfilter(): void {
  if (bridgeNetfilterProblem() === null || process.getuid?.() !== 0) return
  try {
    execFileSync('modprobe', ['br_netfilter'], { stdio: 'ignore' })
  } catch {
    // built in, or no modprobe: the sysctl says
  }
  try {
    writeFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', '1')
  } catch {
    // left to the refusal's message
  }
}

/** A Docker engine that answers, started here if needed; or why there is none. */
export function ensureDockerEngine(): Promise<Engine> {
  engine ??= (async (): Promise<Engine> => {
    const e = await startEngine()
    if (e.ok) prepareBridgeNetfilter()
    return e
  })()
  return engine
}

async function startEngine(): Promise<Engine> {
  const first = await dockerEngine()
  if (first.ok || process.env.DOCKER_HOST) return first
  if (process.getuid?.() !== 0) return { ok: false, reason: `${first.reason}; the tests start dockerd only as root` }
  if (!onPath('dockerd')) return { ok: false, reason: `${first.reason}; dockerd is not installed (apt-get install docker.io)` }
  const log = join(tmpdir(), 'faultline-dockerd.log')
  const fd = openSync(log, 'a')
  // Outlives the test process on purpose: other test files share it, and it holds no test's resources.
  const d = spawn('dockerd', [], { stdio: ['ignore', fd, fd], detached: true })
  closeSync(fd)
  d.unref()
  try {
    return await until('dockerd to answer', async () => {
      const e = await dockerEngine()
      return e.ok ? e : undefined
    }, 60_000)
  } catch {
    return { ok: false, reason: `${first.reason}; dockerd was started but did not answer within 60 s (see ${log})` }
  }
}

/** A test title that carries the reason of a skip. */
export function dockerTitle(title: string, e: Engine): string {
  return e.ok ? title : `${title} (skipped: ${e.reason})`
}
