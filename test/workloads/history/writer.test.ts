import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import type { HistoryEvent } from '../../../workloads/history/events.ts'
import { HistoryWriter } from '../../../workloads/history/writer.ts'

const dir = mkdtempSync(join(tmpdir(), 'faultline-history-writer-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let fileNo = 0
const nextPath = (): string => join(dir, `h${fileNo++}.bin`)

describe('HistoryWriter failures', () => {
  it('fails open() early when the file cannot be created', async () => {
    await expect(HistoryWriter.open(join(dir, 'missing', 'h.bin'))).rejects.toMatchObject({ code: 'HISTORY_WRITE' })
  })

  it('never throws from append on a write error; close() reports it and counts dropped events', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('ENOSPC: no space left on device'))
      },
    })
    const w = new HistoryWriter(broken, { chunkSize: 4096, flushIntervalMs: 0 })
    const e: HistoryEvent = { type: 'fail', value: 1, time: 2, error: 'X', definite: true }
    for (let i = 0; i < 1000; i++) w.append(e)
    w.flush()
    await new Promise((r) => setImmediate(r))
    expect(() => w.append(e)).not.toThrow()
    await expect(w.close()).rejects.toThrow(/history write failed: ENOSPC/)
  })

  it('refuses append after close', async () => {
    const w = await HistoryWriter.open(nextPath())
    await w.close()
    expect(() => w.append({ type: 'phase', phase: 'warmup-end', time: 0 })).toThrow(/after close/)
  })
})
