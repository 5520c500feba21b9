// The bad-scenario suite: every file in test/scenarios/bad/ is a broken scenario. `faultline validate`
// must exit 2 for each, print nothing on stdout, and print every expected fragment on stderr.
//
// Expectations live in the file as `# expect: <fragment>` lines (or, for a file that cannot hold a
// comment, one fragment per line in a sibling .expect file). A fragment starting with `:` is anchored to the
// file name, so `# expect: :8:16: workload.producers.rtae: unknown key` pins the line, column and path.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { validateCommand } from '../../scenarios/commands.ts'

const BAD_DIR = join('test', 'scenarios', 'bad')
const files = readdirSync(BAD_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => join(BAD_DIR, f))

function expectations(file: string): string[] {
  const sibling = file.replace(/\.yaml$/, '.expect')
  if (existsSync(sibling)) return readFileSync(sibling, 'utf8').split('\n').filter((l) => l.trim() !== '')
  return [...readFileSync(file, 'utf8').matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!)
}

function validate(file: string) {
  let stdout = ''
  let stderr = ''
  const code = validateCommand(file, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } })
  return { code, stdout, stderr }
}

describe('bad scenarios', () => {
  it('there are at least 15, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(15)
    for (const file of files) expect(expectations(file), file).not.toEqual([])
  })

  it.each(files)('%s: exit 2, and the messages name the path', (file) => {
    const { code, stdout, stderr } = validate(file)
    expect(code).toBe(2)
    expect(stdout).toBe('')
    for (const fragment of expectations(file)) {
      expect(stderr).toContain(fragment.startsWith(':') ? `${file}${fragment}` : fragment)
    }
    const lines = stderr.trimEnd().split('\n')
    const summary = lines.pop()
    expect(summary).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}: \\d+ problems?; nothing was run`))
    // Every problem line: file:line:col: path: what is wrong; expected what would be accepted.
    for (const line of lines) expect(line).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: \\S.*?: .+; expected .+`))
  })

  it('the suite can fail: a catalog scenario passes validation', () => {
    expect(validate(join('scenarios', 'quickstart.yaml')).code).toBe(0)
  })
})
