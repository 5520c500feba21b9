// `faultline report RESULTS.json [--format console|md|json|html|junit] [--out FILE]`: re-renders a run from its
// results.json. The exit code follows the run's verdict (0 passed, 1 failed, 3 errored), or 2 for bad input,
// so CI can gate on a report as well as on the run.

import { writeFileSync } from 'node:fs'
import { renderConsole } from './render-console.ts'
import { renderHtml } from './render-html.ts'
import { renderJunit } from './render-junit.ts'
import { renderMarkdown } from './render-markdown.ts'
import { exitCodeOf, readResults, type Results, ResultsError } from './results.ts'

export const reportFormats = ['console', 'md', 'json', 'html', 'junit'] as const
export type ReportFormat = (typeof reportFormats)[number]

export function render(results: Results, format: ReportFormat): string {
  if (format === 'console') return renderConsole(results)
  if (format === 'md') return renderMarkdown(results)
  if (format === 'html') return renderHtml(results)
  if (format === 'junit') return renderJunit(results)
  return `${JSON.stringify(results, null, 2)}\n`
}

export interface ReportIo {
  stdout: (s: string) => void
  stderr: (s: string) => void
}

const processIo: ReportIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
}

/** Renders `file` in `format` to `out` (a path; stdout when absent or "-"). Returns the exit code. */
export function reportCommand(file: string, format = 'console', out?: string, io: ReportIo = processIo): number {
  const fmt = format === 'markdown' ? 'md' : format
  if (!(reportFormats as readonly string[]).includes(fmt)) {
    io.stderr(`faultline report: --format ${JSON.stringify(format)} is not one of ${reportFormats.join(', ')}\n`)
    return 2
  }
  let results: Results
  try {
    results = readResults(file)
  } catch (err) {
    if (err instanceof ResultsError) {
      io.stderr(`faultline report: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const text = render(results, fmt as ReportFormat)
  if (out === undefined || out === '-') io.stdout(text)
  else {
    try {
      writeFileSync(out, text)
    } catch (err) {
      io.stderr(`faultline report: cannot write ${out}: ${(err as Error).message}\n`)
      return 2
    }
  }
  return exitCodeOf(results)
}
