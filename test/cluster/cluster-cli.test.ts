// faultline cluster up --detach / cluster down on real processes: four brokers (three voters, one broker-only
// node) come up and list each other, the CLI exits and leaves them running, and down stops every one of them
// and removes cluster.json.
import { execa } from 'execa'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { BROKER_NODE_FLAGS } from '../../broker/node-flags.ts'
import { CLI_PATH } from '../../chaos/cluster/broker-process.ts'
import { removeDir, tempDir } from '../helpers/broker-process.ts'

const dir = tempDir('faultline-cluster-cli-')
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
let pids: number[] = []
afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
  removeDir(dir)
})

describe('faultline cluster', () => {
  test('up --detach starts brokers that outlive the CLI; down stops them all', async () => {
    const basePort = 20_000 + Math.floor(Math.random() * 20_000)
    const up = await execa(process.execPath, [CLI_PATH, 'cluster', 'up', '--brokers', '4', '--data-dir', dir, '--base-port', String(basePort), '--detach'], { reject: false, timeout: 90_000 })
    expect(up.exitCode, up.stderr).toBe(0)
    const bootstrap = up.stdout.trim()
    expect(bootstrap.split(',')).toHaveLength(4)
    const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { bootstrap: string; brokers: { id: number; pid: number; address: string }[] }
    expect(file.bootstrap).toBe(bootstrap)
    pids = file.brokers.map((b) => b.pid)
    expect(pids.every(alive)).toBe(true)
    // Every broker runs with the broker's V8 flags (broker/node-flags.ts).
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...BROKER_NODE_FLAGS]))
    const { stdout } = await execa('kcat', ['-b', bootstrap, '-L', '-J'])
    const md = JSON.parse(stdout) as { brokers: { id: number }[] }
    expect(md.brokers.map((b) => b.id).sort()).toEqual([1, 2, 3, 4])
    // A second up on the same directory is refused while cluster.json is there.
    const again = await execa(process.execPath, [CLI_PATH, 'cluster', 'up', '--brokers', '1', '--data-dir', dir, '--detach'], { reject: false })
    expect(again.exitCode).toBe(2)
    const down = await execa(process.execPath, [CLI_PATH, 'cluster', 'down', '--data-dir', dir], { reject: false, timeout: 60_000 })
    expect(down.exitCode, down.stderr).toBe(0)
    expect(pids.filter(alive)).toEqual([])
    expect(existsSync(join(dir, 'cluster.json'))).toBe(false)
    const none = await execa(process.execPath, [CLI_PATH, 'cluster', 'down', '--data-dir', dir], { reject: false })
    expect(none.exitCode).toBe(2)
  })

  test('bad flags exit 2 naming the flag', async () => {
    const r = await execa(process.execPath, [CLI_PATH, 'cluster', 'up', '--brokers', 'three', '--data-dir', dir], { reject: false })
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('--brokers')
    const s = await execa(process.execPath, [CLI_PATH, 'cluster', 'sideways'], { reject: false })
    expect(s.exitCode).toBe(2)
  })
})
