import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type HistoryEvent, HistoryError, phaseNames } from '../../../workloads/history/events.ts'
import { historyToNdjson, readHistory, readHistoryTrailer, scanHistory } from '../../../workloads/history/reader.ts'
import { HistoryWriter } from '../../../workloads/history/writer.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
console.log(`reader.test.ts: FC_SEED=${seed}`)

const dir = mkdtempSync(join(tmpdir(), 'faultline-history-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let fileNo = 0
const nextPath = (): string => join(dir, `h${fileNo++}.bin`)

// Integers of every varint length, negative where the format allows it.
const time = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -(2 ** 50), max: 2 ** 50 }))
const nat = fc.oneof(fc.nat(300), fc.nat(), fc.integer({ min: 0, max: 2 ** 52 }))
const str = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 60 }), fc.constantFrom('orders', 'NOT_LEADER_OR_FOLLOWER', ''))
const key = fc.option(fc.oneof(fc.string({ maxLength: 41 }), fc.string({ unit: 'grapheme', minLength: 30, maxLength: 200 })), { nil: null })

const eventArb: fc.Arbitrary<HistoryEvent> = fc.oneof(
  fc.record({ type: fc.constant('send' as const), value: nat, producer: str, topic: str, key, intended: time, time, size: nat }),
  fc.record({ type: fc.constant('ack' as const), value: nat, topic: str, partition: time, offset: time, time, sent: time, intended: time, size: nat }),
  fc.record({ type: fc.constant('fail' as const), value: nat, time, error: str, definite: fc.boolean() }),
  fc.record({ type: fc.constant('recv' as const), value: fc.oneof(nat, fc.constant(-1)), group: str, member: str, topic: str, partition: time, offset: time, time, intended: time, size: nat }),
  fc.record({ type: fc.constantFrom('assign' as const, 'revoke' as const), group: str, member: str, topic: str, partition: time, time }),
  fc.record({ type: fc.constant('phase' as const), phase: fc.constantFrom(...phaseNames), time }),
  fc.record({ type: fc.constant('fault' as const), edge: fc.constantFrom('start' as const, 'end' as const), id: nat, name: str, target: str, time }),
  // A start with what the fault was: trailing fields a reader of older files never sees.
  fc.record({ type: fc.constant('fault' as const), edge: fc.constant('start' as const), id: nat, name: str, target: str, time, kind: str, nodes: fc.array(fc.integer({ min: -1, max: 2 ** 31 - 1 }), { maxLength: 7 }), params: str }),
)

async function write(path: string, events: HistoryEvent[], chunkSize?: number): Promise<void> {
  const w = await HistoryWriter.open(path, { chunkSize, flushIntervalMs: 0 })
  for (const e of events) w.append(e)
  await w.close()
}

async function readAll(path: string, chunkSize?: number): Promise<{ events: HistoryEvent[]; complete: boolean; trailingBytes: number }> {
  const events: HistoryEvent[] = []
  const it = readHistory(path, { chunkSize })
  for (;;) {
    const r = await it.next()
    if (r.done) return { events, complete: r.value.complete, trailingBytes: r.value.trailingBytes }
    events.push(r.value)
  }
}

describe('history write/read', () => {
  it('round-trips any events, whatever the chunk sizes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { maxLength: 300 }), fc.constantFrom(4096, 1 << 20), fc.constantFrom(9, 64, 1000, 1 << 22), async (events, writeChunk, readChunk) => {
        const path = nextPath()
        await write(path, events, writeChunk)
        const back = await readAll(path, readChunk)
        expect(back.events).toEqual(events)
        expect(back.complete).toBe(true)
        expect(back.trailingBytes).toBe(0)
        rmSync(path)
      }),
      { seed, numRuns: 60 },
    )
  })

  it('scanHistory visits the same events as readHistory, and counts them', async () => {
    const events = fc.sample(eventArb, { seed, numRuns: 2000 })
    const path = nextPath()
    await write(path, events)
    const seen: HistoryEvent[] = []
    const summary = await scanHistory(path, (rec) => seen.push(rec.toEvent()), { chunkSize: 777 })
    expect(seen).toEqual(events)
    expect(summary.events).toBe(events.length)
    expect(summary.complete).toBe(true)
  })

  it('rounds fractional times to whole microseconds', async () => {
    const path = nextPath()
    await write(path, [{ type: 'phase', phase: 'warmup-end', time: 1234.6 }])
    expect((await readAll(path)).events).toEqual([{ type: 'phase', phase: 'warmup-end', time: 1235 }])
  })

  it('reads the complete frames of a cut file and says it is incomplete (property)', async () => {
    const events = fc.sample(eventArb, { seed: seed + 1, numRuns: 200 })
    const full = nextPath()
    await write(full, events)
    const bytes = readFileSync(full)
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 8, max: bytes.length - 1 }), async (cut) => {
        const path = nextPath()
        writeFileSync(path, bytes.subarray(0, cut))
        const back = await readAll(path, 100)
        expect(back.complete).toBe(false)
        expect(back.events).toEqual(events.slice(0, back.events.length))
        rmSync(path)
      }),
      { seed, numRuns: 40 },
    )
  })

  it('summarizes values and the end frame', async () => {
    const path = nextPath()
    await write(path, [
      { type: 'send', value: 0, producer: 'p', topic: 't', key: null, intended: 0, time: 1, size: 10 },
      { type: 'send', value: 41, producer: 'p', topic: 't', key: 'k', intended: 0, time: 1, size: 10 },
    ])
    const summary = await scanHistory(path, () => {})
    expect(summary).toMatchObject({ events: 2, complete: true, values: 42 })
    expect(await readHistoryTrailer(path)).toEqual({ events: 2, values: 42 })
    truncateSync(path, summary.bytes - 1)
    expect(await scanHistory(path, () => {})).toMatchObject({ events: 2, complete: false, values: null, trailingBytes: 17 })
    expect(await readHistoryTrailer(path)).toBeNull()
  })

  it('skips frame kinds it does not know (a newer writer)', async () => {
    const path = nextPath()
    const e: HistoryEvent = { type: 'phase', phase: 'measure-end', time: 5 }
    await write(path, [e])
    const bytes = readFileSync(path)
    // An unknown frame kind, and a phase frame with a phase code this reader does not know.
    const unknown = Buffer.from([42, 3, 1, 2, 3, 8, 2, 9, 0])
    writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), unknown, bytes.subarray(8)]))
    expect((await readAll(path)).events).toEqual([e])
  })

  it('rejects a file that is not a history, or from a newer format, with a clear error', async () => {
    const path = nextPath()
    writeFileSync(path, '{"type":"send"}\n')
    await expect(scanHistory(path, () => {})).rejects.toThrow(/not a faultline history file/)
    await expect(scanHistory(path, () => {})).rejects.toBeInstanceOf(HistoryError)
    await write(path, [])
    const bytes = readFileSync(path)
    bytes[7] = 9
    writeFileSync(path, bytes)
    await expect(scanHistory(path, () => {})).rejects.toThrow(/format v9.*upgrade faultline/)
  })

  it('converts to NDJSON for humans', async () => {
    const events = fc.sample(eventArb, { seed: seed + 2, numRuns: 50 })
    const path = nextPath()
    await write(path, events)
    const out = `${path}.ndjson`
    const summary = await historyToNdjson(path, out)
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n')
    expect(summary.events).toBe(events.length)
    expect(lines.map((l) => JSON.parse(l))).toEqual(events)
  })
})
