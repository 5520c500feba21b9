// Broker resource use from /proc (chaos/cluster/usage.ts) on a real process that burns CPU and writes a file.

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cpuSecondsFromStat, NodeUsageSampler, readProcess } from '../../chaos/cluster/usage.ts'
import { until } from '../helpers/until.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-usage-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('process usage from /proc', () => {
  it('reads utime + stime after the command name, whatever the name holds', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    expect(cpuSecondsFromStat('42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0', 100)).toBeCloseTo(3, 9)
    expect(cpuSecondsFromStat('garbage', 100)).toBeNull()
  })

  it('samples a process\'s CPU seconds, peak RSS and bytes written from start to stop', async () => {
    // Burns about 0.4 s of CPU, writes 4 MiB with fsync, says "done" and waits to be killed.
    const script = `
      const fs = require('node:fs')
      const t = process.hrtime.bigint(); let x = 0
      while (process.hrtime.bigint() - t < 400_000_000n) x += Math.sqrt(x + 1)
      const fd = fs.openSync(${JSON.stringify(join(dir, 'data'))}, 'w')
      fs.writeSync(fd, Buffer.alloc(4 * 1024 * 1024, 1)); fs.fsyncSync(fd); fs.closeSync(fd)
      process.stdout.write('done\\n'); setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      let out = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      const sampler = new NodeUsageSampler(() => [{ id: 7, pid: child.pid }, { id: 8 }], { intervalMs: 100 }).start()
      await until('the child burned its CPU and wrote its file', () => out.includes('done'), { timeoutMs: 20_000, intervalMs: 20 })
      const [u, ...rest] = sampler.stop()
      expect(rest).toEqual([])
      expect(u!.id).toBe(7)
      expect(u!.pids).toEqual([child.pid])
      expect(u!.cpuSeconds).toBeGreaterThan(0.25)
      expect(u!.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024)
      if (readProcess(process.pid)?.writeBytes !== null) expect(u!.writeBytes).toBeGreaterThanOrEqual(4 * 1024 * 1024)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('has no reading for a process that is gone', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await new Promise((r) => child.on('exit', r))
    expect(readProcess(child.pid!)).toBeNull()
  })
})
