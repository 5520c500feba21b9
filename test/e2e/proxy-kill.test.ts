// A harness killed with SIGKILL while its proxy server runs (a scenario with a network-quality fault): the proxy
// server is in the run's ledger while it lives, notices that its parent died (stdin closes) and exits, and
// `faultline cleanup` then finds nothing of it left; no proxy keeps listening on the brokers' addresses.

import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import { readLedger } from '../../chaos/ledger.ts'
import { until } from '../helpers/until.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-proxy-kill-'))
const env = { ...process.env, FAULTLINE_STATE_DIR: join(root, 'state') }
const pids: number[] = []
afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  rmSync(root, { recursive: true, force: true })
})

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!)
  } catch {
    return false
  }
}

const refused = (hostPort: string): Promise<boolean> =>
  new Promise((resolve) => {
    const [host, port] = hostPort.split(':')
    const s = connect({ host, port: Number(port) }, () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(true))
  })

describe('a harness killed while its proxies are up', () => {
  it('leaves no proxy server and no listening proxy behind, and cleanup finds nothing left', async () => {
    const out = join(root, 'run')
    const file = join(root, 'slow.yaml')
    writeFileSync(
      file,
      `name: slow
cluster: { backend: local, brokers: 1 }
topics: [ { name: t } ]
workload: { duration: 120s, driver: raw, producers: { rate: 50/s, messageSize: 100B }, consumers: { groups: 1 } }
faults: [ { at: 1s, latency: { target: 1, delay: 5ms }, duration: 60s } ]
`,
    )
    const child = spawn(process.execPath, [CLI_PATH, 'run', file, '--out', out, '--seed', '3'], { stdio: 'ignore', env })
    const ended = new Promise<NodeJS.Signals | null>((r) => child.on('close', (_c, sig) => r(sig)))
    const proxyPid = await until('the proxy server in the ledger and the fault applied', () => {
      if (!existsSync(join(out, 'ledger.jsonl')) || !existsSync(join(out, 'run.log'))) return undefined
      if (!readFileSync(join(out, 'run.log'), 'utf8').includes('latency 5ms')) return undefined
      const r = readLedger(join(out, 'ledger.jsonl')).outstanding.find((o) => o.resource.description === 'faultline proxy server')?.resource
      for (const o of readLedger(join(out, 'ledger.jsonl')).outstanding) if (o.resource.kind === 'process') pids.push(o.resource.pid)
      return r?.kind === 'process' ? r.pid : undefined
    }, 90_000)
    const front = /cluster: up at (\S+)/.exec(readFileSync(join(out, 'run.log'), 'utf8'))![1]!
    expect(await refused(front)).toBe(false)
    child.kill('SIGKILL')
    expect(await ended).toBe('SIGKILL')
    await until(`proxy server pid ${proxyPid} to exit with its parent`, () => !alive(proxyPid), 15_000)
    expect(await refused(front)).toBe(true)
    const cleanup = spawn(process.execPath, [CLI_PATH, 'cleanup', out], { stdio: ['ignore', 'pipe', 'pipe'], env })
    let text = ''
    cleanup.stdout!.on('data', (d: Buffer) => (text += d.toString()))
    const code = await new Promise<number | null>((r) => cleanup.on('close', r))
    expect(code).toBe(0)
    expect(text).toContain(`faultline proxy server (pid ${proxyPid}): already gone`)
  }, 150_000)
})
