// Merging the histories of one run written by several processes (the runner and its load workers) into one
// file, which the checker and the metrics then read as if one process had written it.
//
// The inputs must share one time base (the run's origin on one clock) and one value-id space (ids unique across
// them). The output is a k-way merge by event time that keeps each input's own order, so a value's send still
// precedes its ack and, since a record is read after it was sent, its reads; the metrics' phase markers land
// among the events of their time.

import type { HistoryEvent } from './events.ts'
import { readHistory, type ScanSummary } from './reader.ts'
import { HistoryWriter } from './writer.ts'

export interface MergeSummary {
  readonly events: number
  /** Inputs that did not end cleanly (a crashed writer): their events up to the cut are merged. */
  readonly incomplete: readonly string[]
}

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
  try {
    // Few inputs (one per process): a linear scan for the earliest head beats a heap here.
    while (heads.length > 0) {
      let min = 0
      for (let i = 1; i < heads.length; i++) if (heads[i]!.event.time < heads[min]!.event.time) min = i
      const h = heads[min]!
      w.append(h.event)
      events++
      const next = await advance(h)
      if (next === null) heads.splice(min, 1)
      else h.event = next
    }
  } finally {
    // Only on an error: closes the files of the inputs not read to their end (the summary is not looked at).
    for (const h of heads) await h.it.return({ events: 0, complete: false, values: null, trailingBytes: 0, bytes: 0 })
    await w.close()
  }
  return { events, incomplete }
}
