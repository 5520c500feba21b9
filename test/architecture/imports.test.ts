// The dependency rules of the source tree (docs/architecture.md), checked over every import and export-from
// of every .ts file under the source folders, `import type` and dynamic import() included:
//   - the harness layers point down: no file in chaos/, workloads/ or reports/ imports scenarios/ or bin/;
//   - workloads/ never imports reports/ (both read the history format in workloads/history/);
//   - the broker never imports the harness (chaos/, workloads/, reports/, scenarios/, bench/, bin/);
//   - bench/ and bin/ are leaves: no other folder imports them;
//   - no cycle between top-level folders.
// Specifiers are read with the TypeScript parser, so comments and strings that look like imports do not count.

import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')
const FOLDERS = ['bin', 'broker', 'chaos', 'workloads', 'reports', 'scenarios', 'bench'] as const
type Folder = (typeof FOLDERS)[number]

interface Import {
  /** Repository-relative path of the importing file. */
  readonly file: string
  readonly line: number
  readonly specifier: string
  readonly from: Folder
  readonly to: Folder
}

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) out.push(...sourceFiles(path))
    else if (e.name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Every module specifier a file names: imports, export-from, import-equals, import() calls and import types. */
function specifiers(file: string): { specifier: string; line: number }[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const out: { specifier: string; line: number }[] = []
  const add = (node: ts.Node | undefined): void => {
    if (node && ts.isStringLiteralLike(node)) out.push({ specifier: node.text, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier)
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression)
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0])
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal)
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return out
}

/** The top-level source folder a repository-relative path is in, or null. */
function folderOf(path: string): Folder | null {
  const top = path.split(sep)[0]
  return (FOLDERS as readonly string[]).includes(top ?? '') ? (top as Folder) : null
}

function scan(): { files: string[]; imports: Import[] } {
  const files = FOLDERS.flatMap((f) => sourceFiles(f))
  const imports: Import[] = []
  for (const file of files) {
    const from = folderOf(file) as Folder
    for (const { specifier, line } of specifiers(file)) {
      // Packages and node: builtins are outside the tree.
      if (!specifier.startsWith('.')) continue
      const to = folderOf(relative(ROOT, resolve(ROOT, dirname(file), specifier)))
      if (to !== null) imports.push({ file, line, specifier, from, to })
    }
  }
  return { files, imports }
}

const show = (i: Import): string => `${i.file}:${i.line} imports '${i.specifier}'`

/** Imports between folders that form a cycle (an edge from A to B when B also reaches A), one example per edge. */
function cycles(imports: readonly Import[]): string[] {
  const edges = new Map<Folder, Map<Folder, Import>>()
  for (const i of imports) {
    if (i.from === i.to) continue
    const out = edges.get(i.from) ?? new Map<Folder, Import>()
    if (!out.has(i.to)) out.set(i.to, i)
    edges.set(i.from, out)
  }
  const reaches = (a: Folder, b: Folder): boolean => {
    const seen = new Set<Folder>([a])
    const stack = [a]
    while (stack.length > 0) {
      for (const next of edges.get(stack.pop() as Folder)?.keys() ?? []) {
        if (next === b) return true
        if (!seen.has(next)) {
          seen.add(next)
          stack.push(next)
        }
      }
    }
    return false
  }
  const out: string[] = []
  for (const [from, tos] of edges) {
    for (const [to, example] of tos) if (reaches(to, from)) out.push(`${from} -> ${to} (${show(example)}) and ${to} reaches ${from} again`)
  }
  return out
}

describe('dependency rules', () => {
  const { files, imports } = scan()
  const breaking = (from: readonly Folder[], to: readonly Folder[]): string[] =>
    imports.filter((i) => from.includes(i.from) && to.includes(i.to)).map(show)

  it('reads every source folder and its imports', () => {
    for (const f of FOLDERS) expect(files.some((file) => folderOf(file) === f), `${f}/ has .ts files`).toBe(true)
    // One import of each kind the rules rely on: static, export-from, type-only, dynamic.
    expect(imports.some((i) => i.file === join('bin', 'faultline.ts') && i.to === 'scenarios')).toBe(true)
    expect(imports.some((i) => i.file === join('workloads', 'driver.ts') && i.to === 'broker')).toBe(true)
    expect(imports.some((i) => i.file === join('workloads', 'drivers', 'registry.ts') && i.specifier === './raw.ts')).toBe(true)
  })

  it('chaos/, workloads/ and reports/ import neither scenarios/ nor bin/', () => {
    expect(breaking(['chaos', 'workloads', 'reports'], ['scenarios', 'bin'])).toEqual([])
  })

  it('workloads/ does not import reports/', () => {
    expect(breaking(['workloads'], ['reports'])).toEqual([])
  })

  it('broker/ imports nothing of the harness', () => {
    expect(breaking(['broker'], ['chaos', 'workloads', 'reports', 'scenarios', 'bench', 'bin'])).toEqual([])
  })

  it('bench/ and bin/ are leaves: nothing else imports them', () => {
    expect(imports.filter((i) => (i.to === 'bench' || i.to === 'bin') && i.from !== i.to).map(show)).toEqual([])
  })

  it('has no cycle between top-level folders', () => {
    expect(cycles(imports)).toEqual([])
  })
})
