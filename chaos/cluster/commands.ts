// faultline cluster up / down: a local cluster of reference brokers outside any scenario, for manual tests and
// for tools that want a cluster to point at. `up` stays in the foreground until Ctrl-C, or with --detach
// leaves the brokers running and writes DATA_DIR/cluster.json (pids and addresses) for `down`.

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { startLocalCluster } from './local.ts'
import { ClusterError } from './types.ts'

export interface ClusterFile {
  readonly version: 1
  readonly bootstrap: string
  readonly brokers: readonly { readonly id: number; readonly pid: number; readonly address: string; readonly dataDir: string }[]
}

const CLUSTER_FILE = 'cluster.json'
const GRACE_MS = 15_000

type Out = { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } }

export async function clusterUp(opts: { brokers?: string; dataDir?: string; basePort?: string; detach?: boolean }, io: Out = process): Promise<number> {
  const brokers = Number(opts.brokers ?? '1')
  if (!Number.isInteger(brokers) || brokers < 1 || brokers > 64) {
    io.stderr.write(`faultline cluster up: --brokers ${opts.brokers} is not valid; expected an integer from 1 to 64\n`)
    return 2
  }
  if (!opts.dataDir) {
    io.stderr.write('faultline cluster up: --data-dir DIR is required (broker data goes to DIR/broker-N)\n')
    return 2
  }
  const basePort = opts.basePort === undefined ? 9092 : Number(opts.basePort)
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65535 - brokers) {
    io.stderr.write(`faultline cluster up: --base-port ${opts.basePort} is not valid; expected a port from 1 to ${65535 - brokers}\n`)
    return 2
  }
  const dataDir = resolve(opts.dataDir)
  if (existsSync(join(dataDir, CLUSTER_FILE))) {
    io.stderr.write(`faultline cluster up: ${join(dataDir, CLUSTER_FILE)} exists: a detached cluster may be running there; run faultline cluster down --data-dir ${opts.dataDir} first\n`)
    return 2
  }
  let cluster
  try {
    cluster = await startLocalCluster({ brokers, dataDir, basePort, keepData: true, detached: opts.detach === true })
  } catch (err) {
    io.stderr.write(`faultline cluster up: ${(err as Error).message}\n`)
    return err instanceof ClusterError && err.code === 'ERR_CLUSTER_SIZE' ? 2 : 3
  }
  const bootstrap = cluster.bootstrap.join(',')
  io.stdout.write(`${bootstrap}\n`)
  if (opts.detach) {
    const file: ClusterFile = {
      version: 1,
      bootstrap,
      brokers: cluster.nodes.map((n) => ({ id: n.id, pid: n.pid ?? -1, address: n.address, dataDir: join(dataDir, `broker-${n.id}`) })),
    }
    writeFileSync(join(dataDir, CLUSTER_FILE), `${JSON.stringify(file, null, 1)}\n`)
    io.stderr.write(`${brokers} broker(s) running in the background; stop them with: faultline cluster down --data-dir ${opts.dataDir}\n`)
    return 0
  }
  io.stderr.write(`${brokers} broker(s) running; Ctrl-C stops them\n`)
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done())
    process.once('SIGTERM', () => done())
  })
  await cluster.close()
  return 0
}

export async function clusterDown(opts: { dataDir?: string }, io: Out = process): Promise<number> {
  if (!opts.dataDir) {
    io.stderr.write('faultline cluster down: --data-dir DIR is required (the directory given to cluster up --detach)\n')
    return 2
  }
  const path = join(resolve(opts.dataDir), CLUSTER_FILE)
  let file: ClusterFile
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as ClusterFile
  } catch (err) {
    io.stderr.write(`faultline cluster down: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it is written by faultline cluster up --detach\n`)
    return 2
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  const pids = file.brokers.map((b) => b.pid).filter((pid) => pid > 0 && alive(pid))
  for (const pid of pids) process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + GRACE_MS
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const stuck = pids.filter(alive)
  for (const pid of stuck) process.kill(pid, 'SIGKILL')
  if (stuck.length) io.stderr.write(`faultline cluster down: killed ${stuck.length} broker(s) that did not stop within ${GRACE_MS} ms: ${stuck.join(', ')}\n`)
  rmSync(path, { force: true })
  io.stderr.write(`stopped ${pids.length} broker(s)\n`)
  return 0
}
