import { describe, expect, it } from 'vitest'
import { consoleProgress, formatStatus, LiveStats, type RunStatus } from '../../reports/progress.ts'
import type { HistoryEvent } from '../../workloads/history/events.ts'

const status: RunStatus = {
  phase: 'measure',
  elapsedMs: 12_400,
  totalMs: 20_000,
  sentRate: 1000,
  ackedRate: 998,
  consumedRate: 1001,
  produceP99Us: 3200,
  e2eP99Us: 5100,
  errors: 2,
  activeFaults: ['crash node 1'],
}

function stream(isTTY: boolean) {
  let text = ''
  return { s: { isTTY, columns: 200, write: (c: string) => ((text += c), true) } as unknown as NodeJS.WritableStream & { isTTY: boolean }, text: () => text }
}

describe('the status line', () => {
  it('shows elapsed/total, rates, p99s so far, errors and active faults', () => {
    expect(formatStatus(status)).toBe('[12s/20s] | sent 1,000/s acked 998/s consumed 1,001/s | p99 3.20 ms e2e p99 5.10 ms | errors 2 | faults crash node 1')
    expect(formatStatus({ ...status, phase: 'warmup', elapsedMs: 3000, activeFaults: [] })).toMatch(/^\[ 3s\/20s warmup\] .*\| faults -$/)
    expect(formatStatus({ ...status, phase: 'drain', elapsedMs: 21_500, behind: 1234 })).toMatch(/^\[drain 1s\] .*\| behind 1,234$/)
    expect(formatStatus(status, { bar: 10 })).toMatch(/^\[12s\/20s\] ######\.\.\.\. {2}62% \| /)
  })

  it('redraws one line on a terminal and ends it before messages', () => {
    const t = stream(true)
    const p = consoleProgress(t.s)
    p.status(status)
    p.status({ ...status, elapsedMs: 13_000 })
    p.info('crash: restarted node 1')
    p.status(status)
    p.done()
    const text = t.text()
    expect(text.split('\n')).toHaveLength(4)
    expect(text).toMatch(/^\r\[12s\/20s\] #+\.+ +62% \|.*\x1b\[K\r\[13s\/20s\] .*\x1b\[K\ncrash: restarted node 1\n\r\[12s.*\x1b\[K\n$/)
  })

  it('writes plain lines elsewhere (CI logs)', () => {
    const t = stream(false)
    const p = consoleProgress(t.s)
    p.status(status)
    p.info('done')
    p.done()
    expect(t.text()).toBe(`${formatStatus(status)}\ndone\n`)
    expect(t.text()).not.toMatch(/[\r\x1b]/)
  })
})

describe('LiveStats', () => {
  it('passes every event through and keeps live figures', () => {
    const written: HistoryEvent[] = []
    const live = new LiveStats({ append: (e) => written.push(e) })
    live.setMeasureFrom(1_000_000)
    const events: HistoryEvent[] = [
      { type: 'assign', group: 'g0', member: 'm0', topic: 't', partition: 0, time: -5 },
      { type: 'assign', group: 'g0', member: 'm1', topic: 't', partition: 1, time: -5 },
      { type: 'send', value: 0, producer: 'p', topic: 't', key: null, intended: 0, time: 10, size: 100 },
      { type: 'ack', value: 0, topic: 't', partition: 0, offset: 7, time: 500_000, sent: 10, intended: 0, size: 100 },
      { type: 'ack', value: 1, topic: 't', partition: 1, offset: 3, time: 1_500_000, sent: 1_400_000, intended: 1_400_000, size: 100 },
      { type: 'recv', value: 0, group: 'g0', member: 'm0', topic: 't', partition: 0, offset: 5, time: 1_600_000, intended: 0, size: 100 },
      { type: 'fail', value: 2, time: 1_700_000, error: 'TIMEOUT', definite: false },
    ]
    for (const e of events) live.append(e)
    expect(written).toEqual(events)
    expect(live.assignedCount('g0', new Map([['t', 2]]))).toBe(2)
    expect(live.assignedCount('g0', new Map([['t', 3]]))).toBe(2)
    // Offsets 6 and 7 of partition 0, and 0..3 of partition 1 are still unread.
    expect(live.behind('g0', ['t'])).toBe(2 + 4)
    expect(live.behind('g1', ['t'])).toBe(8 + 4)
    expect(live.behind('g0', ['other'])).toBe(0)
    // Only the ack after the measurement start counts: 100 ms.
    expect(live.produceP99()).toBe(100_000)
    expect(live.e2eP99()).toBe(1_600_000)
    expect([live.sent, live.acked, live.failed, live.consumed]).toEqual([1, 2, 1, 1])
    live.append({ type: 'revoke', group: 'g0', member: 'm1', topic: 't', partition: 1, time: 2_000_000 })
    expect(live.assignedCount('g0', new Map([['t', 2]]))).toBe(1)
  })

  it('observes without writing, and writes without observing', () => {
    const written: HistoryEvent[] = []
    const live = new LiveStats({ append: (e) => written.push(e) })
    const e: HistoryEvent = { type: 'assign', group: 'g', member: 'm', topic: 't', partition: 0, time: 0 }
    live.observe(e)
    expect(written).toEqual([])
    expect(live.assignedCount('g', new Map([['t', 1]]))).toBe(1)
    live.write({ type: 'send', value: 0, producer: 'p', topic: 't', key: null, intended: 0, time: 0, size: 1 })
    expect(written).toHaveLength(1)
    expect(live.sent).toBe(0)
  })
})
