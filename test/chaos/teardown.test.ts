import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Ledger, readLedger } from '../../chaos/ledger.ts'
import { TeardownStack } from '../../chaos/teardown.ts'

const root = mkdtempSync(join(tmpdir(), 'faultline-teardown-'))
const env = { FAULTLINE_STATE_DIR: join(root, 'state') }
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('TeardownStack', () => {
  it('undoes in reverse order of acquisition, each once, and logs every step', async () => {
    const order: string[] = []
    const lines: string[] = []
    const t = new TeardownStack({ log: (l) => lines.push(l) })
    for (const n of ['cluster', 'client', 'producer']) t.add(n, () => void order.push(n))
    const steps = await t.unwind()
    expect(order).toEqual(['producer', 'client', 'cluster'])
    expect(steps.map((s) => s.state)).toEqual(['done', 'done', 'done'])
    expect(lines).toHaveLength(3)
    expect(await t.unwind()).toEqual(steps)
    expect(order).toHaveLength(3)
  })

  it('goes on past a failing step and bounds a hung one by its timeout', async () => {
    const order: string[] = []
    const t = new TeardownStack()
    t.add('first', () => void order.push('first'))
    t.add('hangs', () => new Promise(() => {}), { timeoutMs: 50 })
    t.add('throws', () => {
      throw new Error('boom')
    })
    const steps = await t.unwind()
    expect(steps.map((s) => [s.name, s.state])).toEqual([
      ['throws', 'failed'],
      ['hangs', 'timed-out'],
      ['first', 'done'],
    ])
    expect(steps[0]!.error).toBe('boom')
    expect(order).toEqual(['first'])
  })

  it('a release runs the undo early and only once; one added during the unwind runs at once', async () => {
    let healed = 0
    const t = new TeardownStack()
    const release = t.add('fault', () => void healed++)
    expect((await release())?.state).toBe('done')
    expect(await release()).toBeNull()
    await t.unwind()
    expect(healed).toBe(1)
    let late = false
    t.add('late', () => void (late = true))
    await Promise.resolve()
    await Promise.resolve()
    expect(late).toBe(true)
  })

  it('keeps a resource in the ledger until its undo has succeeded', async () => {
    const dir = join(root, 'run-1')
    const ledger = Ledger.create(dir, env)
    const t = new TeardownStack({ ledger })
    t.add('ok', () => {}, { ledger: { kind: 'directory', path: join(dir, 'a'), description: 'a' } })
    t.add('broken', () => {
      throw new Error('cannot')
    }, { ledger: { kind: 'directory', path: join(dir, 'b'), description: 'b' } })
    expect(readLedger(ledger.path).outstanding).toHaveLength(2)
    await t.unwind()
    expect(readLedger(ledger.path).outstanding.map((o) => o.resource.description)).toEqual(['b'])
    expect(ledger.close()).toHaveLength(1)
    expect(readFileSync(ledger.path, 'utf8')).toContain('"release"')
  })
})
