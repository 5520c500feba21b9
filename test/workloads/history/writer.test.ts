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

describe('HistoryWriter fast paths', () => {
  it('appendSend and appendAck write the same bytes as append() of the same events', async () => {
    const events: HistoryEvent[] = []
    for (let i = 0; i < 300; i++) {
      const topic = i % 3 === 0 ? 'orders' : 'audit'
      const key = i % 5 === 0 ? null : i % 7 === 0 ? 'k'.repeat(60 + i) : `key-${i}`
      events.push({ type: 'send', value: i, producer: i % 2 ? 'p-0' : 'p-1', topic, key, intended: i * 1000 - 7, time: i * 1000 + 3, size: 100 + i })
      events.push({ type: 'ack', value: i, topic, partition: i % 4, offset: i % 9 === 0 ? -1 : i * 2, time: i * 1000 + 500, sent: i * 1000 + 3, intended: i * 1000 - 7, size: 100 + i })
    }
    const bytes = async (write: (w: HistoryWriter) => void): Promise<Buffer> => {
      const chunks: Buffer[] = []
      const out = new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk)
          cb()
        },
      })
      const w = new HistoryWriter(out, { chunkSize: 4096, flushIntervalMs: 0 })
      write(w)
      await w.close()
      return Buffer.concat(chunks)
    }
    const viaAppend = await bytes((w) => events.forEach((e) => w.append(e)))
    const viaFast = await bytes((w) => {
      for (const e of events) {
        if (e.type === 'send') w.appendSend(e.value, e.producer, e.topic, e.key, e.intended, e.time, e.size)
        else if (e.type === 'ack') w.appendAck(e.value, e.topic, e.partition, e.offset, e.time, e.sent, e.intended, e.size)
      }
    })
    expect(viaFast.equals(viaAppend)).toBe(true)
  })
})
