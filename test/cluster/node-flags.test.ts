// The broker's V8 flags (broker/node-flags.ts) are on every command line that starts a broker without going
// through chaos/cluster/broker-process.ts (whose started processes cluster-cli.test.ts checks): the faultline
// bin's shebang and `npm run broker`.
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { BROKER_NODE_FLAGS } from '../../broker/node-flags.ts'

const root = new URL('../../', import.meta.url)

describe('broker node flags', () => {
  test('the bin shebang passes them to node', () => {
    const shebang = readFileSync(new URL('bin/faultline.ts', root), 'utf8').split('\n')[0]!
    expect(shebang.startsWith('#!/usr/bin/env -S node ')).toBe(true)
    expect(shebang.split(' ').slice(3)).toEqual([...BROKER_NODE_FLAGS])
  })

  test('npm run broker passes them to node', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.broker!.startsWith(`node ${BROKER_NODE_FLAGS.join(' ')} dist/bin/faultline.js broker `)).toBe(true)
  })
})
