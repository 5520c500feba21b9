// Merging the histories of one run written by several processes (the runner and its load workers) into one
// file, which the checker and the metrics then read as if one process had written it.
//
// The inputs must share one time base (the run's origin) and one value-id space (ids unique across them). The
// output is a k-way merge by event time that keeps each input's own order, so a value's send still precedes its
// ack and the metrics' phase markers land among the events of their time. A read of a value whose send has not
// been written yet (its producer ran on another clock, or on this machine's clock read with an error larger than
// the record's end-to-end latency) holds back its whole input until that send is written: the checker needs a
// value's send before its reads, and it judges a member's reads in the order the member made them (holding the
// one read alone put it after the member's next reads: poll skips and rewinds that never happened). Only sends
// some input holds are waited for (a first pass over the inputs finds them), so a read of another run's value
// or of a send lost with a crashed writer never holds anything up.

import { EventKind, type HistoryEvent } from './events.ts'
import { readHistory, scanHistory, type ScanSummary } from './reader.ts'
import { HistoryWriter } from './writer.ts'

export interface MergeSummary {
  readonly events: number
  /** Inputs that did not end cleanly (a crashed writer): their events up to the cut are merged. */
  readonly incomplete: readonly string[]
}

/** Value ids beyond this are not dense (the checker does not track them either): written as they come. */
const MAX_TRACKED = 1 << 30
const SENT = 1
const WRITTEN = 2

interface Head {
  readonly path: string
  readonly it: AsyncGenerator<HistoryEvent, ScanSummary, undefined>
  event: HistoryEvent
}

/** Writes the events of every input history to `out`, ordered by time (stable per input). */
export async function mergeHistories(inputs: readonly string[], out: string): Promise<MergeSummary> {
  // Per tracked value id: SENT when some input sends it, WRITTEN once that send is in the output.
  let state = new Uint8Array(1 << 16)
  const mark = (value: number, s: number): void => {
    if (value >= state.length) {
      const grown = new Uint8Array(Math.max(state.length * 2, value + 1))
      grown.set(state)
      state = grown
    }
    state[value] = s
  }
  for (const path of inputs) {
    await scanHistory(path, (rec) => {
      if (rec.kind === EventKind.send && rec.value >= 0 && rec.value < MAX_TRACKED) mark(rec.value, SENT)
    })
  }
  /** A read whose value's send is in some input but not yet in the output. */
  const waiting = (e: HistoryEvent): boolean => e.type === 'recv' && e.value >= 0 && e.value < MAX_TRACKED && state[e.value] === SENT

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
      let min = -1
      for (let i = 0; i < heads.length; i++) {
        if (waiting(heads[i]!.event)) continue
        if (min < 0 || heads[i]!.event.time < heads[min]!.event.time) min = i
      }
      // Every input waits on another's send: only histories whose own order is not causal (value ids reused
      // across runs on one topic) get here; the earliest head goes first.
      if (min < 0) {
        min = 0
        for (let i = 1; i < heads.length; i++) if (heads[i]!.event.time < heads[min]!.event.time) min = i
      }
      const h = heads[min]!
      const e = h.event
      if (e.type === 'send' && e.value >= 0 && e.value < MAX_TRACKED) mark(e.value, WRITTEN)
      w.append(e)
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
