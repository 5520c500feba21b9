// Merging several processes' histories into one: by time, each file's order kept, and a read never before the
// send of its value (a producer on another clock can seem to send after the read).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { HistoryEvent } from '../../../workloads/history/events.ts'
import { mergeHistories } from '../../../workloads/history/merge.ts'
import { readHistory } from '../../../workloads/history/reader.ts'
import { HistoryWriter } from '../../../workloads/history/writer.ts'

const tmp = mkdtempSync(join(tmpdir(), 'faultline-merge-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

async function write(name: string, events: HistoryEvent[]): Promise<string> {
  const path = join(tmp, name)
  const w = await HistoryWriter.open(path)
  for (const e of events) w.append(e)
  await w.close()
  return path
}

const send = (value: number, time: number): HistoryEvent => ({ type: 'send', value, producer: `p${value >> 12}`, topic: 't', key: null, intended: time, time, size: 1 })
const ack = (value: number, time: number): HistoryEvent => ({ type: 'ack', value, topic: 't', partition: 0, offset: value, time, sent: time - 1, intended: time - 1, size: 1 })
const recv = (value: number, time: number): HistoryEvent => ({ type: 'recv', value, group: 'g', member: 'm', topic: 't', partition: 0, offset: value, time, intended: -1, size: 1 })

async function merged(inputs: string[]): Promise<string[]> {
  const out = join(tmp, `merged-${inputs.length}-${Math.random()}`)
  await mergeHistories(inputs, out)
  const seen: string[] = []
  for await (const e of readHistory(out)) seen.push(`${e.type}${'value' in e ? e.value : ''}@${e.time}`)
  return seen
}

describe('mergeHistories', () => {
  it('orders by time across files and keeps each file\'s own order', async () => {
    const a = await write('a.bin', [send(0, 10), ack(0, 30), send(1, 50)])
    const b = await write('b.bin', [send(4096, 20), { type: 'phase', phase: 'warmup-end', time: 40 }, ack(4096, 35)])
    expect(await merged([a, b])).toEqual(['send0@10', 'send4096@20', 'ack0@30', 'phase@40', 'ack4096@35', 'send1@50'])
  })

  it('holds a read that comes before its value\'s send (another clock) and writes it right after the send', async () => {
    const producer = await write('p.bin', [send(4096, 100), ack(4096, 120)])
    const consumer = await write('c.bin', [recv(4096, 90), recv(7, 95), recv(-1, 96)])
    expect(await merged([consumer, producer])).toEqual(['recv-1@96', 'send4096@100', 'recv4096@90', 'ack4096@120', 'recv7@95'])
  })
})
