// iptables, as partitions use it: one chain of faultline's own per run (named faultline-<12 hex>), jumped to
// from OUTPUT (loopback traffic passes OUTPUT on its way out, then INPUT on lo, so OUTPUT sees it all; the
// docker backend also jumps from FORWARD and INPUT on its bridge, see Jump), holding
// DROP rules. Rules go in and out in one iptables-restore batch, so a partition starts and heals at once.
// DROP (not REJECT): packets vanish, so connections time out rather than fail fast, as in Jepsen's partitions.
//
// The async functions serve a run; the *Sync ones serve the ledger's cleanup, which is synchronous.

import { execFile, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** A rule's match and target, as iptables takes them after `-A CHAIN`. */
export type Rule = readonly string[]

export const CHAIN_PREFIX = 'faultline-'
/** iptables chain names are at most 28 characters. */
const CHAIN_NAME = /^faultline-[0-9a-f]{1,18}$/

export class IptablesError extends Error {
  readonly code = 'ERR_IPTABLES'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'IptablesError'
  }
}

function checkChain(chain: string): void {
  if (!CHAIN_NAME.test(chain)) throw new IptablesError(`${chain} is not a faultline chain name (faultline-<hex>)`)
}

function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new IptablesError(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err }))
      else resolve(stdout)
    })
    // A command that exits before reading its input would make the write fail (EPIPE); its exit code tells.
    child.stdin?.on('error', () => {})
    child.stdin?.end(input ?? '')
  })
}

function runSync(cmd: string, args: readonly string[], input?: string, env?: Readonly<Record<string, string | undefined>>): string {
  try {
    return execFileSync(cmd, args, { input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000, ...(env ? { env: { ...env } } : {}) }).toString()
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim()
    throw new IptablesError(`${cmd} ${args.join(' ')}: ${stderr || (err as Error).message}`, { cause: err })
  }
}

/** Why partitions cannot run here (not root, no iptables, iptables failing), or null when they can; `env` is
 *  where iptables is looked up (its PATH). */
export function iptablesProblem(env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return `partition faults change iptables rules, which needs root (this process runs as uid ${process.getuid()}); expected to run as root (sudo faultline run ...), or remove the partition faults`
  }
  try {
    runSync('iptables', ['-w', '-S', 'OUTPUT'], undefined, env)
    runSync('iptables-restore', ['--version'], undefined, env)
  } catch (err) {
    const missing = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    return missing
      ? 'partition faults need iptables and iptables-restore, which are not installed; expected the iptables package (apt-get install iptables), or remove the partition faults'
      : `partition faults need a working iptables: ${(err as Error).message}; expected iptables to list the OUTPUT chain, or remove the partition faults`
  }
  return null
}

/** Why iptables rules cannot see traffic between a bridge's containers, or null when they can: the kernel hands
 *  bridged packets to iptables only with bridge netfilter on (br_netfilter, which dockerd normally loads). */
export function bridgeNetfilterProblem(sysctl = '/proc/sys/net/bridge/bridge-nf-call-iptables'): string | null {
  let value: string
  try {
    value = readFileSync(sysctl, 'utf8').trim()
  } catch {
    value = 'absent'
  }
  return value === '1'
    ? null
    : `partitions between containers need the kernel's bridge netfilter, which is off (${sysctl}: ${value}); expected it on (as root: modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1), or remove the partition faults`
}

const batch = (op: '-A' | '-D', chain: string, rules: readonly Rule[]): string => `*filter\n${rules.map((r) => `${op} ${chain} ${r.join(' ')}`).join('\n')}\nCOMMIT\n`

/** Where a chain is jumped to from: a built-in chain and the match of the jump (e.g. a bridge's interfaces). */
export interface Jump {
  readonly from: 'OUTPUT' | 'INPUT' | 'FORWARD'
  readonly match: readonly string[]
}

/** Loopback traffic, all of which passes OUTPUT. */
export const LOOPBACK_JUMPS: readonly Jump[] = [{ from: 'OUTPUT', match: [] }]

/** Creates the chain and jumps to it first thing in each of `jumps` (default: OUTPUT). */
export async function createChain(chain: string, jumps: readonly Jump[] = LOOPBACK_JUMPS): Promise<void> {
  checkChain(chain)
  await run('iptables', ['-w', '-N', chain])
  for (const j of jumps) await run('iptables', ['-w', '-I', j.from, '1', ...j.match, '-j', chain])
}

/** Adds the rules to the chain, all at once. */
export async function appendRules(chain: string, rules: readonly Rule[]): Promise<void> {
  checkChain(chain)
  if (rules.length > 0) await run('iptables-restore', ['-w', '--noflush'], batch('-A', chain, rules))
}

/** Deletes the rules from the chain, all at once; rules already gone are deleted one by one, ignoring those. */
export async function deleteRules(chain: string, rules: readonly Rule[]): Promise<void> {
  checkChain(chain)
  if (rules.length === 0) return
  try {
    await run('iptables-restore', ['-w', '--noflush'], batch('-D', chain, rules))
  } catch {
    deleteRulesSync(chain, rules)
  }
}

/** Removes every jump to the chain, its rules and the chain itself. */
export async function removeChain(chain: string): Promise<void> {
  removeChainSync(chain)
}

export function chainExistsSync(chain: string): boolean {
  try {
    runSync('iptables', ['-w', '-S', chain])
    return true
  } catch {
    return false
  }
}

/** Deletes each rule still present; returns how many were. */
export function deleteRulesSync(chain: string, rules: readonly Rule[]): number {
  checkChain(chain)
  if (!chainExistsSync(chain)) return 0
  let deleted = 0
  for (const r of rules) {
    try {
      runSync('iptables', ['-w', '-D', chain, ...r])
      deleted++
    } catch {
      // Already gone (healed before the harness died).
    }
  }
  return deleted
}

/** Removes the chain (every jump to it, whatever chain and match it has; its rules; the chain); false when it
 *  did not exist. */
export function removeChainSync(chain: string): boolean {
  checkChain(chain)
  if (!chainExistsSync(chain)) return false
  const jumps = runSync('iptables', ['-w', '-S'])
    .split('\n')
    .filter((l) => l.startsWith('-A ') && l.endsWith(` -j ${chain}`))
  for (const j of jumps) {
    try {
      runSync('iptables', ['-w', '-D', ...j.slice(3).split(' ')])
    } catch {
      // Gone meanwhile.
    }
  }
  runSync('iptables', ['-w', '-F', chain])
  runSync('iptables', ['-w', '-X', chain])
  return true
}

/** Every faultline chain in the filter table (tests check that none is left). */
export function faultlineChainsSync(): string[] {
  return runSync('iptables', ['-w', '-S'])
    .split('\n')
    .filter((l) => l.startsWith(`-N ${CHAIN_PREFIX}`))
    .map((l) => l.slice(3).trim())
}

/** The rules in a chain, as `iptables -S` prints them (without the -N line). */
export function chainRulesSync(chain: string): string[] {
  checkChain(chain)
  return runSync('iptables', ['-w', '-S', chain])
    .split('\n')
    .filter((l) => l.startsWith('-A '))
}
