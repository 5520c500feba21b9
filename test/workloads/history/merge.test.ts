// Merging several processes' histories into one: by time, each file's order kept, and a read never before the
// send of its value (a producer on another clock can seem to send after the read), which holds back the
// reader's file, so the checker still sees each member's reads in the order it made them.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkHistory } from '../../../reports/checker.ts'
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
const ack = (value: number, time: number, offset = value): HistoryEvent => ({ type: 'ack', value, topic: 't', partition: 0, offset, time, sent: time - 1, intended: time - 1, size: 1 })
const recv = (value: number, time: number, offset = value): HistoryEvent => ({ type: 'recv', value, group: 'g', member: 'm', topic: 't', partition: 0, offset, time, intended: -1, size: 1 })

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

  it('holds back a file whose read comes before its value\'s send (another clock) until that send is written', async () => {
    const producer = await write('p.bin', [send(4096, 100), ack(4096, 120)])
    // 7 is sent by no file (another run's value) and -1 is a foreign record: neither waits for anything.
    const consumer = await write('c.bin', [recv(4096, 90), recv(7, 95), recv(-1, 96)])
    expect(await merged([consumer, producer])).toEqual(['send4096@100', 'recv4096@90', 'recv7@95', 'recv-1@96', 'ack4096@120'])
  })

  it('keeps a member\'s reads in its own order when one of them waits for a send: no poll skip or rewind appears', async () => {
    // Worker 1's consumer reads offsets 0, 1, 2 of one partition; offset 1 holds a value worker 0 produced, whose
    // send worker 0's clock (a few ms ahead) put after the read.
    const w0 = await write('w0.bin', [send(0, 9), ack(0, 12, 1)])
    const w1 = await write('w1.bin', [
      { type: 'assign', group: 'g', member: 'm', topic: 't', partition: 0, time: 1 },
      send(4096, 2),
      ack(4096, 3, 0),
      send(4097, 4),
      recv(4096, 5, 0),
      recv(0, 6, 1),
      ack(4097, 7, 2),
      recv(4097, 8, 2),
    ])
    const out = join(tmp, 'member-order.bin')
    await mergeHistories([w1, w0], out)
    const result = await checkHistory(out)
    expect(result.anomalies.pollSkips.examples).toEqual([])
    expect(result.anomalies.pollRewinds.examples).toEqual([])
    expect(result.stats.consumedValues).toBe(3)
  })
})
