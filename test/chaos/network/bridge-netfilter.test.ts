// Partitions between containers rely on the kernel handing bridged packets to iptables: without bridge
// netfilter the rules would be in place and cut nothing, so preflight refuses, saying how to turn it on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bridgeNetfilterProblem } from '../../../chaos/network/iptables.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-bridge-nf-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('bridgeNetfilterProblem', () => {
  it('is null when bridged packets pass iptables, and says what to do when they do not', () => {
    const on = join(dir, 'on')
    const off = join(dir, 'off')
    writeFileSync(on, '1\n')
    writeFileSync(off, '0\n')
    expect(bridgeNetfilterProblem(on)).toBeNull()
    expect(bridgeNetfilterProblem(off)).toMatch(/bridge netfilter, which is off \(.*off: 0\); expected it on \(as root: modprobe br_netfilter; sysctl -w net\.bridge\.bridge-nf-call-iptables=1\)/)
    expect(bridgeNetfilterProblem(join(dir, 'missing'))).toMatch(/missing: absent/)
  })
})
