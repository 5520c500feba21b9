// Builds dist/ once before the suite: interop tests start real broker processes from dist/bin/faultline.js.
// `npm test` already builds in its pretest step; this keeps `npx vitest run <file>` honest too.

import { execFileSync } from 'node:child_process'

export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' })
}
