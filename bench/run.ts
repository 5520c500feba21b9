// `npm run bench`: runs the bench sections, prints each as a table, writes bench/results/<YYYY-MM-DD>.json and
// compares its same-run ratios with the newest committed result file (per-repetition ratios, when both files
// keep them, with the statistics of `faultline compare`: bench/lib/report.ts).
//
//   node dist/bench/run.js [--only micro,kcat,raw,drivers,checker,replication,proxy,regression,security] [--quick] [--reps N] [--profile DIR] [--out FILE]
//                          [--fail-on-regression]
//
// A section is one Section object in its own file (bench/<name>.ts), listed in SECTIONS below; adding one is a
// new file and one line here. --quick is a smoke run: short runs, one repetition, written to the temp dir
// instead of bench/results/ so it never replaces a real result. --only merges the sections it ran into today's
// file, keeping the others. Exit code 0, 1 when --fail-on-regression and a figure regressed, 2 bad flags,
// 3 a section failed (the others still run and the file is still written).

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, platform, release, arch, totalmem, tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { crc32cImplementation } from '../broker/protocol/crc32c.ts'
import { checkerSection } from './checker-section.ts'
import { driversSection } from './drivers.ts'
import { kcatSection, kcatVersion } from './kcat.ts'
import { cleanupAll } from './lib/proc.ts'
import { compare, formatComparison, formatSection, type BenchContext, type ResultFile, type Section, type SectionResult } from './lib/report.ts'
import { microSection } from './micro.ts'
import { proxySection } from './proxy.ts'
import { rawSection } from './raw-producer.ts'
import { regressionSection } from './regression-section.ts'
import { replicationSection } from './replication.ts'
import { securitySection } from './security.ts'

const SECTIONS: readonly Section[] = [microSection, kcatSection, rawSection, driversSection, checkerSection, replicationSection, proxySection, regressionSection, securitySection]

const ROOT = resolve(import.meta.dirname, '../..')
const RESULTS_DIR = join(ROOT, 'bench/results')
const RESULT_NAME = /^\d{4}-\d{2}-\d{2}\.json$/

const USAGE = `usage: npm run bench -- [--only ${SECTIONS.map((s) => s.name).join(',')}] [--quick] [--reps N] [--profile DIR] [--out FILE] [--fail-on-regression]
sections:
${SECTIONS.map((s) => `  ${s.name.padEnd(8)} ${s.summary}`).join('\n')}`

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string' },
      'fail-on-regression': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  const names = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
  for (const n of names) {
    if (!SECTIONS.some((s) => s.name === n)) throw new FlagError(`--only ${n}: no such section; use ${SECTIONS.map((s) => s.name).join(', ')}`)
  }
  const reps = values.reps === undefined ? (values.quick ? 1 : 5) : Number(values.reps)
  if (!Number.isInteger(reps) || reps < 1 || reps > 50) throw new FlagError(`--reps ${values.reps}: a whole number from 1 to 50`)
  return {
    sections: names.length ? SECTIONS.filter((s) => names.includes(s.name)) : SECTIONS,
    quick: values.quick,
    reps,
    profileDir: values.profile ? resolve(values.profile) : null,
    out: values.out ? resolve(values.out) : null,
    failOnRegression: values['fail-on-regression'],
    help: values.help,
  }
}

class FlagError extends Error {}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  } catch {
    return null
  }
}

function localDate(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`
}

async function machineInfo(): Promise<Record<string, unknown>> {
  const c = cpus()
  const head = git(['rev-parse', 'HEAD'])?.trim() ?? null
  const dirty = git(['status', '--porcelain', '--untracked-files=no'])
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    kcat: await kcatVersion(),
    crc32c: crc32cImplementation,
    commit: head,
    workingTreeDirty: dirty === null ? null : dirty.trim().length > 0,
  }
}

/** The newest result file committed at HEAD, read from git (the working-tree copy may be today's new run). */
function committedBaseline(): { name: string; file: ResultFile } | null {
  const listed = git(['ls-tree', '--name-only', 'HEAD', `${relative(ROOT, RESULTS_DIR)}/`])
  if (listed !== null) {
    const names = listed.split('\n').map((p) => p.trim().split('/').pop()!).filter((n) => RESULT_NAME.test(n)).sort()
    const newest = names.at(-1)
    if (!newest) return null
    const text = git(['show', `HEAD:${relative(ROOT, RESULTS_DIR)}/${newest}`])
    return text === null ? null : { name: `${newest} (committed at HEAD)`, file: JSON.parse(text) as ResultFile }
  }
  // Not a git checkout: the newest file before today's.
  if (!existsSync(RESULTS_DIR)) return null
  const today = `${localDate()}.json`
  const names = readdirSync(RESULTS_DIR).filter((n) => RESULT_NAME.test(n) && n < today).sort()
  const newest = names.at(-1)
  return newest ? { name: newest, file: JSON.parse(readFileSync(join(RESULTS_DIR, newest), 'utf8')) as ResultFile } : null
}

async function main(): Promise<number> {
  let flags
  try {
    flags = parseFlags(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (flags.profileDir) mkdirSync(flags.profileDir, { recursive: true })
  const t0 = performance.now()
  const log = (msg: string): void => {
    process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`)
  }
  const ctx: BenchContext = { quick: flags.quick, reps: flags.reps, profileDir: flags.profileDir, log }
  const date = localDate()
  const outPath = flags.out ?? (flags.quick ? join(tmpdir(), `faultline-bench-${date}.quick.json`) : join(RESULTS_DIR, `${date}.json`))
  const result: ResultFile = { schema: 1, date, createdAt: new Date().toISOString(), quick: flags.quick, machine: await machineInfo(), sections: {} }
  if (!flags.quick && existsSync(outPath)) {
    // --only re-runs some sections: keep the others from today's earlier run.
    try {
      const earlier = JSON.parse(readFileSync(outPath, 'utf8')) as ResultFile
      if (earlier.schema === 1 && !earlier.quick) for (const [k, v] of Object.entries(earlier.sections)) result.sections[k] = v
    } catch {
      log(`ignoring unreadable ${outPath}`)
    }
  }
  let failed = 0
  for (const section of flags.sections) {
    log(`section ${section.name}: ${section.summary}`)
    const started = performance.now()
    const load0 = loadavg()[0]!
    try {
      const out = await section.run(ctx)
      const res: SectionResult = {
        section: section.name,
        startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
        seconds: (performance.now() - started) / 1000,
        loadavg: [load0, loadavg()[0]!],
        quick: flags.quick,
        ...out,
      }
      result.sections[section.name] = res
      process.stdout.write(`\n${formatSection(res)}\n\n`)
    } catch (err) {
      failed++
      log(`section ${section.name} FAILED: ${(err as Error).stack ?? String(err)}`)
    } finally {
      cleanupAll()
    }
  }
  const baseline = committedBaseline()
  if (baseline) {
    result.comparison = compare(baseline.name, baseline.file, result)
    process.stdout.write(`${formatComparison(result.comparison)}\n`)
  } else {
    process.stdout.write('== no committed result in bench/results/ to compare with\n')
  }
  mkdirSync(resolve(outPath, '..'), { recursive: true })
  writeFileSync(outPath, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`\nwrote ${relative(process.cwd(), outPath) || outPath}\n`)
  if (failed) return 3
  if (flags.failOnRegression && result.comparison?.rows.some((r) => r.verdict === 'regressed')) return 1
  return 0
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    cleanupAll()
    process.exit(130)
  })
}

main().then(
  (code) => {
    cleanupAll()
    process.exit(code)
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
    cleanupAll()
    process.exit(3)
  },
)
