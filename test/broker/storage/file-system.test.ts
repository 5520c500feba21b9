import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NodeFileSystem, seededRandom, SimFileSystem, StorageError } from '../../../broker/storage/file-system.ts'
import { tempDir } from './helpers.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`file-system properties: FC_SEED=${seed}`)

describe('NodeFileSystem', () => {
  let tmp: ReturnType<typeof tempDir>
  beforeEach(() => {
    tmp = tempDir()
  })
  afterEach(() => tmp.cleanup())

  it('writes synchronously, reads asynchronously, truncates, renames and lists', async () => {
    const fs = new NodeFileSystem()
    const dir = join(tmp.path, 'a', 'b')
    fs.mkdirp(dir)
    const f = fs.open(join(dir, 'x'), { create: true })
    f.write(Buffer.from('hello'), 0)
    f.append([Buffer.from(' '), Buffer.from('world')])
    expect(f.size()).toBe(11)
    expect((await f.read(6, 100)).toString()).toBe('world')
    f.truncate(5)
    expect((await f.read(0, 100)).toString()).toBe('hello')
    await f.sync()
    await f.close()
    fs.rename(join(dir, 'x'), join(dir, 'y'))
    expect(fs.list(dir)).toEqual(['y'])
    await fs.syncDir(dir)
    expect(fs.exists(join(dir, 'y'))).toBe(true)
    fs.unlink(join(dir, 'y'))
    await fs.rmrf(join(tmp.path, 'a'))
    expect(fs.exists(join(tmp.path, 'a'))).toBe(false)
  })

  it('reports errors as StorageError with the errno name', () => {
    const fs = new NodeFileSystem()
    let err: unknown
    try {
      fs.open(join(tmp.path, 'missing'))
    } catch (e) {
      err = e
    }
    expect(StorageError.is(err) && err.code).toBe('ENOENT')
  })

  it('close waits for reads in flight', async () => {
    const fs = new NodeFileSystem()
    const f = fs.open(join(tmp.path, 'r'), { create: true })
    f.write(Buffer.alloc(1 << 20, 7), 0)
    const read = f.read(0, 1 << 20)
    await f.close()
    expect((await read).length).toBe(1 << 20)
  })
})

describe('SimFileSystem', () => {
  it('keeps synced content and loses unsynced content when the rng says so', async () => {
    const fs = new SimFileSystem()
    fs.mkdirp('/d')
    await fs.syncDir('/')
    const f = fs.open('/d/f', { create: true })
    f.write(Buffer.from('durable'), 0)
    await f.sync()
    await fs.syncDir('/d')
    f.append(Buffer.from('-volatile'))
    fs.crash(() => 0, { keep: 'none', tear: false, garbage: false })
    expect(fs.readFile('/d/f').toString()).toBe('durable')
  })

  it('loses files whose directory entry was never synced', async () => {
    const fs = new SimFileSystem()
    fs.mkdirp('/d')
    await fs.syncDir('/')
    const f = fs.open('/d/f', { create: true })
    f.write(Buffer.from('x'), 0)
    await f.sync()
    fs.crash(() => 0, { keep: 'none', tear: false, garbage: false })
    expect(fs.exists('/d/f')).toBe(false)
    expect(fs.exists('/d')).toBe(true)
  })

  it('undoes an unsynced rename as a whole', async () => {
    const fs = new SimFileSystem()
    fs.mkdirp('/d')
    const f = fs.open('/d/a', { create: true })
    await f.sync()
    await fs.syncDir('/d')
    await fs.syncDir('/')
    fs.rename('/d/a', '/d/b')
    fs.crash(() => 0, { keep: 'none', tear: false, garbage: false })
    expect(fs.list('/d')).toEqual(['a'])
  })

  it('completes fsyncs only when told to in manual mode, and a crash forgets them', async () => {
    const fs = new SimFileSystem()
    fs.autoSync = false
    fs.mkdirp('/d')
    const f = fs.open('/d/f', { create: true })
    f.write(Buffer.from('abc'), 0)
    let done = false
    void f.sync().then(() => (done = true))
    await Promise.resolve()
    expect([done, fs.pendingSyncs]).toEqual([false, 1])
    expect(fs.completeSyncs()).toBe(1)
    await Promise.resolve()
    expect(done).toBe(true)
    const g = fs.open('/d/g', { create: true })
    let gDone = false
    void g.sync().then(() => (gDone = true))
    fs.crash(() => 0.9, { keep: 'all' })
    await Promise.resolve()
    expect(gDone).toBe(false)
    expect(() => f.write(Buffer.from('z'), 0)).toThrow(StorageError)
  })

  it('fails operations through the fault hook', () => {
    const fs = new SimFileSystem()
    fs.mkdirp('/d')
    const f = fs.open('/d/f', { create: true })
    fs.faults = (op) => (op === 'write' ? 'ENOSPC' : undefined)
    expect(() => f.write(Buffer.from('x'), 0)).toThrow(expect.objectContaining({ code: 'ENOSPC' }))
    expect(f.size()).toBe(0)
  })

  it('after a crash an appended file is its durable content, then a prefix of the later writes (maybe torn), then maybe garbage', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }), sync: fc.boolean() }), { maxLength: 12 }),
        fc.integer(),
        async (writes, crashSeed) => {
          const fs = new SimFileSystem()
          fs.mkdirp('/d')
          await fs.syncDir('/')
          const f = fs.open('/d/f', { create: true })
          await fs.syncDir('/d')
          let durable = Buffer.alloc(0)
          let all = Buffer.alloc(0)
          for (const w of writes) {
            f.append(Buffer.from(w.bytes))
            all = Buffer.concat([all, Buffer.from(w.bytes)])
            if (w.sync) {
              await f.sync()
              durable = all
            }
          }
          fs.crash(seededRandom(crashSeed))
          const after = fs.readFile('/d/f')
          expect(after.subarray(0, durable.length)).toEqual(durable)
          // Past the durable part: some prefix of what was written, then possibly bytes that were never written.
          let same = durable.length
          while (same < after.length && same < all.length && after[same] === all[same]) same++
          expect(after.length - same).toBeLessThanOrEqual(96)
        },
      ),
      { seed, numRuns: 200 },
    )
  })
})
