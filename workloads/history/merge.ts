// Merging the histories of one run written by several processes (the runner and its load workers) into one
// file, which the checker and the metrics then read as if one process had written it.
//
// The inputs must share one time base (the run's origin) and one value-id space (ids unique across them). The
// output is a k-way merge by event time that keeps each input's own order, so a value's send still precedes its
// ack and the metrics' phase markers land among the events of their time. A read of a value whose send has not
// been written yet (its producer ran on another machine's clock, converted with an offset less exact than the
// record's end-to-end latency) is held and written right after that send: the checker needs a value's send
// before its reads, and an event written later than its time is still placed by its time.

import type { HistoryEvent } from './events.ts'
import { readHistory, type ScanSummary } from './reader.ts'
import { HistoryWriter } from './writer.ts'

export interface MergeSummary {
  readonly events: number
  /** Inputs that did not end cleanly (a crashed writer): their events up to the cut are merged. */
  readonly incomplete: readonly string[]
}

/** Value ids beyond this are not dense (the checker does not track them either): written as they come. */
const MAX_TRACKED = 1 << 30

interface Head {
  readonly path: string
  readonly it: AsyncGenerator<HistoryEvent, ScanSummary, undefined>
  event: HistoryEvent
}

/** Writes the events of every input history to `out`, ordered by time (stable per input). */
export async function mergeHistories(inputs: readonly string[], out: string): Promise<MergeSummary> {
  const incomplete: string[] = []
  const heads: Head[] = []
  const advance = async (h: { path: string; it: Head['it'] }): Promise<HistoryEvent | null> => {
    const r = await h.it.next()
    if (!r.done) return r.value
    if (!r.value.complete) incomplete.push(h.path)
    return null
  }
  for (const path of inputs) {
    const it = readHistory(path)
    const first = await advance({ path, it })
    if (first !== null) heads.push({ path, it, event: first })
  }
  const w = await HistoryWriter.open(out)
  let events = 0
  let sent = new Uint8Array(1 << 16)
  const held = new Map<number, HistoryEvent[]>()
  const emit = (e: HistoryEvent): void => {
    if (e.type === 'send' && e.value >= 0 && e.value < MAX_TRACKED) {
      if (e.value >= sent.length) {
        const grown = new Uint8Array(Math.max(sent.length * 2, e.value + 1))
        grown.set(sent)
        sent = grown
      }
      sent[e.value] = 1
      w.append(e)
      events++
      const waiting = held.get(e.value)
      if (waiting) {
        held.delete(e.value)
        for (const r of waiting) w.append(r)
        events += waiting.length
      }
      return
    }
    if (e.type === 'recv' && e.value >= 0 && e.value < MAX_TRACKED && sent[e.value] !== 1) {
      const waiting = held.get(e.value)
      if (waiting) waiting.push(e)
      else held.set(e.value, [e])
      return
    }
    w.append(e)
    events++
  }
  try {
    // Few inputs (one per process): a linear scan for the earliest head beats a heap here.
    while (heads.length > 0) {
      let min = 0
      for (let i = 1; i < heads.length; i++) if (heads[i]!.event.time < heads[min]!.event.time) min = i
      const h = heads[min]!
      emit(h.event)
      const next = await advance(h)
      if (next === null) heads.splice(min, 1)
      else h.event = next
    }
    // Reads of values no input sent (another run's, or a send lost with a crashed writer): as they came.
    for (const waiting of held.values()) for (const r of waiting) w.append(r)
    for (const waiting of held.values()) events += waiting.length
  } finally {
    // Only on an error: closes the files of the inputs not read to their end (the summary is not looked at).
    for (const h of heads) await h.it.return({ events: 0, complete: false, values: null, trailingBytes: 0, bytes: 0 })
    await w.close()
  }
  return { events, incomplete }
}
