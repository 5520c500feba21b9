// Every registered API has its own test file here, named after its handler file; a new API without one fails.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import '../../../broker/apis/index.ts'
import { registrations } from '../../../broker/apis/registry.ts'

const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()

test('every registered API has a handler file and a test file', () => {
  const regs = registrations()
  expect(regs.length).toBeGreaterThan(5)
  const missing = regs
    .map((r) => kebab(r.api.name))
    .filter((file) => !existsSync(join(import.meta.dirname, `${file}.test.ts`)) || !existsSync(join(import.meta.dirname, '../../../broker/apis', `${file}.ts`)))
  expect(missing).toEqual([])
})
