import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderConsole } from '../../reports/render-console.ts'
import { renderMarkdown } from '../../reports/render-markdown.ts'
import { reportCommand } from '../../reports/report.ts'
import { buildResults, type Results, writeResults } from '../../reports/results.ts'
import { fixtureInputs, writeFixtureHistory } from './fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-report-test-'))
const failedPath = join(dir, 'failed.json')
const passedPath = join(dir, 'passed.json')
let failed: Results

beforeAll(async () => {
  const history = join(dir, 'history.bin')
  await writeFixtureHistory(history)
  failed = await buildResults(history, fixtureInputs)
  writeResults(failedPath, failed)
  writeResults(passedPath, await buildResults(history, { ...fixtureInputs, slo: {}, delivery: { limits: { lost: null, pollSkips: null } } }))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function run(file: string, format?: string, out?: string): { code: number; stdout: string; stderr: string } {
  let stdout = ''
  let stderr = ''
  const code = reportCommand(file, format, out, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) })
  return { code, stdout, stderr }
}

describe('reportCommand', () => {
  it('renders each format from the file, with the verdict as exit code', () => {
    expect(run(failedPath)).toEqual({ code: 1, stdout: renderConsole(failed), stderr: '' })
    expect(run(failedPath, 'md').stdout).toBe(renderMarkdown(failed))
    expect(run(failedPath, 'markdown').stdout).toBe(renderMarkdown(failed))
    expect(JSON.parse(run(failedPath, 'json').stdout)).toEqual(failed)
    expect(run(passedPath).code).toBe(0)
  })

  it('writes to a file when asked', () => {
    const out = join(dir, 'results.md')
    expect(run(failedPath, 'md', out)).toEqual({ code: 1, stdout: '', stderr: '' })
    expect(readFileSync(out, 'utf8')).toBe(renderMarkdown(failed))
  })

  it('exits 2 with a message for bad input', () => {
    const badFormat = run(failedPath, 'pdf')
    expect(badFormat.code).toBe(2)
    expect(badFormat.stderr).toMatch(/--format "pdf" is not one of console, md, json/)
    const notResults = join(dir, 'not.json')
    writeFileSync(notResults, '{"hello": 1}')
    expect(run(notResults)).toMatchObject({ code: 2, stderr: expect.stringMatching(/not\.json: no schemaVersion/) })
    expect(run(join(dir, 'missing.json')).code).toBe(2)
    expect(run(failedPath, 'md', join(dir, 'no', 'such', 'dir.md'))).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot write/) })
  })

  it('exits 3 for a run whose harness failed', () => {
    const path = join(dir, 'errored.json')
    writeResults(path, { ...failed, verdict: { state: 'errored', reasons: ['harness: cluster did not start'] } })
    expect(run(path).code).toBe(3)
  })
})
