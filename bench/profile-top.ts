// Summarizes V8 CPU profiles (node --cpu-prof, e.g. from `npm run bench -- --profile DIR`): the functions with
// the most self time and the most total time, mapped back to TypeScript file:line through the source maps tsc
// writes next to dist/. For finding the broker's hotspots without a GUI.
//
//   node dist/bench/profile-top.js FILE.cpuprofile [--top N] [--callers NAME]
// --callers prints the call paths (innermost first) that lead to the samples of functions named NAME.

import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const ROOT = resolve(import.meta.dirname, '../..')
const maps = new Map<string, SourceMap | null>()

function sourceMapFor(file: string): SourceMap | null {
  if (!maps.has(file)) {
    let map: SourceMap | null = null
    const path = `${file}.map`
    if (existsSync(path)) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as ConstructorParameters<typeof SourceMap>[0])
      } catch {
        map = null
      }
    }
    maps.set(file, map)
  }
  return maps.get(file)!
}

/** `broker/server/connection.ts:123` for our own code, `node:net:456` for Node's, the URL otherwise. */
export function where(frame: ProfileNode['callFrame']): string {
  const { url, lineNumber, columnNumber } = frame
  if (!url) return ''
  if (!url.startsWith('file://')) return `${url}:${lineNumber + 1}`
  const file = fileURLToPath(url)
  const map = sourceMapFor(file)
  const entry = map?.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number } | undefined
  if (entry?.originalSource && entry.originalLine !== undefined) {
    const src = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(file), entry.originalSource)
    return `${relative(ROOT, src)}:${entry.originalLine + 1}`
  }
  return `${relative(ROOT, file)}:${lineNumber + 1}`
}

export interface Hotspot {
  name: string
  where: string
  selfMs: number
  totalMs: number
}

export function hotspots(profile: Profile): { totalMs: number; rows: Hotspot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const rows = new Map<string, Hotspot>()
  const keyOf = (n: ProfileNode): string => `${n.callFrame.functionName}\u0000${n.callFrame.url}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`
  let totalUs = 0
  for (const [id, us] of selfUs) {
    totalUs += us
    // Self time to this function; total time to it and each distinct ancestor function (recursion counted once).
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!
      const key = keyOf(n)
      if (seen.has(key)) continue
      seen.add(key)
      let row = rows.get(key)
      if (!row) {
        row = { name: n.callFrame.functionName || '(anonymous)', where: where(n.callFrame), selfMs: 0, totalMs: 0 }
        rows.set(key, row)
      }
      if (cur === id) row.selfMs += us / 1000
      row.totalMs += us / 1000
    }
  }
  return { totalMs: totalUs / 1000, rows: [...rows.values()] }
}

/** Call paths (innermost first, `depth` frames) to the samples inside functions named `name`, by time. */
export function callers(profile: Profile, name: string, depth = 8): { ms: number; path: string[] }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const paths = new Map<string, { ms: number; path: string[] }>()
  for (let i = 0; i < profile.samples.length; i++) {
    let cur: number | undefined = profile.samples[i]!
    // Find the innermost frame named `name` on this sample's stack.
    while (cur !== undefined && byId.get(cur)!.callFrame.functionName !== name) cur = parent.get(cur)
    if (cur === undefined) continue
    const path: string[] = []
    for (; cur !== undefined && path.length < depth; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame
      path.push(`${f.functionName || '(anonymous)'} ${where(f)}`)
    }
    const key = path.join('\n')
    const row = paths.get(key) ?? { ms: 0, path }
    row.ms += (profile.timeDeltas[i] ?? 0) / 1000
    paths.set(key, row)
  }
  return [...paths.values()].sort((a, b) => b.ms - a.ms)
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, callers: { type: 'string' } },
  })
  if (positionals.length === 0) {
    process.stderr.write('usage: node dist/bench/profile-top.js FILE.cpuprofile [--top N] [--callers NAME]\n')
    process.exit(2)
  }
  const top = Number(values.top)
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
    if (values.callers) {
      process.stdout.write(`== ${file}: call paths to ${values.callers}\n`)
      for (const c of callers(profile, values.callers).slice(0, top)) process.stdout.write(`${c.ms.toFixed(1)} ms\n    ${c.path.join('\n    ')}\n`)
      continue
    }
    const { totalMs, rows } = hotspots(profile)
    const pct = (ms: number): string => `${((ms / totalMs) * 100).toFixed(1).padStart(5)}%`
    const line = (r: Hotspot): string => `${pct(r.selfMs)} self ${pct(r.totalMs)} total  ${r.name}  ${r.where}`
    process.stdout.write(`== ${file}: ${(totalMs / 1000).toFixed(2)} s sampled\n-- by self time\n`)
    for (const r of [...rows].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) process.stdout.write(`${line(r)}\n`)
    process.stdout.write('-- by total time (excluding the root)\n')
    for (const r of [...rows].filter((r) => r.name !== '(root)').sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) process.stdout.write(`${line(r)}\n`)
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `| head` closes the pipe early; that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1))
  main()
}
