import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkpointKey, formatCheckpoint, parseCheckpoint, readCheckpoint, writeCheckpoint } from '../../../broker/storage/checkpoint.ts'
import { SimFileSystem } from '../../../broker/storage/file-system.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`checkpoint properties: FC_SEED=${seed}`)

const entryArb = fc.record({
  topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,30}$/),
  partition: fc.integer({ min: 0, max: 100_000 }),
  offset: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
})

describe('offset checkpoint files', () => {
  it('uses Kafka format: version, count, then "topic partition offset" lines', () => {
    expect(formatCheckpoint([{ topic: 'a.b-c', partition: 3, offset: 42 }])).toBe('0\n1\na.b-c 3 42\n')
  })

  it('round-trips any entries', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 20 }), (entries) => {
        expect(parseCheckpoint(formatCheckpoint(entries))).toEqual({ entries })
      }),
      { seed, numRuns: 200 },
    )
  })

  it('reports malformed files instead of throwing', () => {
    expect(parseCheckpoint('1\n0\n')).toHaveProperty('problem')
    expect(parseCheckpoint('0\n2\nt 0 5\n')).toHaveProperty('problem')
    expect(parseCheckpoint('0\n1\nt x 5\n')).toHaveProperty('problem')
    expect(parseCheckpoint('')).toHaveProperty('problem')
  })

  it('is replaced atomically: a crash leaves the old or the new file, never a mix', async () => {
    for (let i = 0; i < 50; i++) {
      const fs = new SimFileSystem()
      fs.mkdirp('/data')
      await fs.syncDir('/')
      await writeCheckpoint(fs, '/data/cp', [{ topic: 't', partition: 0, offset: 1 }])
      fs.autoSync = false
      void writeCheckpoint(fs, '/data/cp', [{ topic: 't', partition: 0, offset: 2 }, { topic: 'u', partition: 1, offset: 7 }])
      await Promise.resolve()
      fs.completeSyncs(i % 3)
      await new Promise((resolve) => setImmediate(resolve))
      fs.crash(() => ((i * 7919) % 100) / 100)
      fs.autoSync = true
      const read = await readCheckpoint(fs, '/data/cp')
      expect('offsets' in read).toBe(true)
      if (!('offsets' in read)) return
      expect([1, 2]).toContain(read.offsets.get(checkpointKey('t', 0)))
    }
  })

  it('reads a missing file as empty', async () => {
    const fs = new SimFileSystem()
    fs.mkdirp('/data')
    expect(await readCheckpoint(fs, '/data/none')).toEqual({ offsets: new Map() })
  })
})
