// Section "micro": tinybench on the broker's hot paths, each beside the cheapest thing that does the same
// amount of raw work in the same process and run:
//   CRC-32C native        beside memcpy of the buffer (how close to memory bandwidth)
//   CRC-32C JS fallback   beside CRC-32C native (what losing the native binary costs)
//   batch validate        beside CRC-32C native over the same bytes (validation = CRC + header checks)
//   batch header parse    beside the same fields read with bare readInt32BE (cost of the view and checks)
//   PartitionLog append   beside fs.writeSync of the same bytes at the end of a file in the same directory
//   offset index lookup   beside a bare binary search over an Int32Array of the same entries
// Every task does at least ~64 KiB or 1024 operations per call, so the timer's own cost stays out of the figures.
// Rounds: each pairing runs in 3 fresh benches in turn and the ratio is taken per round (see runRounds).

import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { Bench, type Task } from 'tinybench'
import { systemClock } from '../broker/clock.ts'
import { crc32c, crc32cImplementation, crc32cJs } from '../broker/protocol/crc32c.ts'
import { checkBatchFrame, encodeRecordBatch, RecordBatchView, validateBatches } from '../broker/protocol/record-batch.ts'
import { defaultLogConfig, silentLogger } from '../broker/storage/config.ts'
import { NodeFileSystem, type FileHandle } from '../broker/storage/file-system.ts'
import { PartitionLog } from '../broker/storage/log.ts'
import { OffsetIndex } from '../broker/storage/offset-index.ts'
import { removeTempDir, tempDir } from './lib/proc.ts'
import { median, ratioFigure, repetitions, type BenchContext, type Figure, type Section, type SectionOutput } from './lib/report.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** Per-round rates (units of work per second, from each round's median sample) of one task. */
type Rates = number[]

/**
 * Runs `rounds` fresh tinybench instances in turn (tasks alternate within each), so a burst of load on the shared
 * machine lands on one round, not on one task; returns each task's median latency per round, in ms.
 */
async function runRounds(ctx: BenchContext, ms: number, add: (b: Bench) => void): Promise<(name: string, unitsPerCall: number) => Rates> {
  const rounds = ctx.quick ? 1 : 3
  const p50s = new Map<string, number[]>()
  for (let r = 0; r < rounds; r++) {
    const b = new Bench({
      time: ctx.quick ? Math.max(50, ms / 5) : ms / rounds,
      warmupTime: ctx.quick ? 20 : 100,
      iterations: ctx.quick ? 16 : 32,
      throws: true,
    })
    add(b)
    await b.run()
    for (const task of b.tasks) p50s.set(task.name, [...(p50s.get(task.name) ?? []), p50Of(task)])
  }
  return (name, unitsPerCall) => {
    const xs = p50s.get(name)
    if (!xs) throw new Error(`micro: no task ${name}`)
    return xs.map((p50) => unitsPerCall / (p50 / 1000))
  }
}

function p50Of(task: Task): number {
  const r = task.result
  if (r.state !== 'completed' && r.state !== 'aborted-with-statistics') {
    const why = r.state === 'errored' ? r.error.message : r.state
    throw new Error(`micro: task ${task.name} did not complete: ${why}`)
  }
  return r.latency.p50
}

const sizeName = (n: number): string => (n >= MiB ? `${n / MiB}MiB` : `${n / KiB}KiB`)

function pair(key: string, label: string, unit: string, value: Rates, ceilingLabel: string, ceiling: Rates, detail?: Record<string, unknown>): Figure {
  return ratioFigure({
    key,
    label,
    unit,
    value: median(value),
    ceiling: { label: ceilingLabel, value: median(ceiling) },
    ...repetitions(value.map((v, i) => v / ceiling[i]!)),
    detail,
  })
}

async function crcFigures(ctx: BenchContext): Promise<Figure[]> {
  const out: Figure[] = []
  for (const size of [KiB, 64 * KiB, MiB]) {
    const buf = Buffer.alloc(size)
    for (let i = 0; i < size; i++) buf[i] = (i * 2654435761) >>> 24
    const dst = Buffer.alloc(size)
    const loops = Math.max(1, (64 * KiB) / size)
    let sink = 0
    const rates = await runRounds(ctx, 600, (b) => {
      b.add('memcpy', () => {
        for (let i = 0; i < loops; i++) buf.copy(dst)
      })
      b.add('native', () => {
        for (let i = 0; i < loops; i++) sink ^= crc32c(buf)
      })
      b.add('js', () => {
        for (let i = 0; i < loops; i++) sink ^= crc32cJs(buf)
      })
    })
    if (sink === 0.5) ctx.log('unreachable')
    const perCall = (size * loops) / 1e6
    const memcpy = rates('memcpy', perCall)
    const native = rates('native', perCall)
    const js = rates('js', perCall)
    const s = sizeName(size)
    out.push(pair(`micro.crc32c.native.${s}`, `CRC-32C ${crc32cImplementation} ${s}`, 'MB/s', native, `memcpy ${s}`, memcpy))
    out.push(pair(`micro.crc32c.js.${s}`, `CRC-32C JS fallback ${s}`, 'MB/s', js, `CRC-32C ${crc32cImplementation} ${s}`, native))
  }
  return out
}

function batchOf(records: number, valueBytes: number): Buffer {
  const value = Buffer.alloc(valueBytes, 0x62)
  return encodeRecordBatch(Array.from({ length: records }, (_, i) => ({ key: `k${i}`, value })), { timestamp: 1_700_000_000_000 })
}

async function batchFigures(ctx: BenchContext): Promise<Figure[]> {
  const batch = batchOf(16, 1000) // ~16 KiB: 16 records of 1 KiB with keys
  const loops = 4
  // Header parse: the fields the produce path reads, over a ring of batches so the reads are not all cached lines.
  const ring = Array.from({ length: 64 }, (_, i) => batchOf(1 + (i % 8), 100))
  const parses = 1024
  let sink = 0
  const rates = await runRounds(ctx, 800, (b) => {
    b.add('crc', () => {
      for (let i = 0; i < loops; i++) sink ^= crc32c(batch, 21)
    })
    b.add('validate', () => {
      for (let i = 0; i < loops; i++) {
        const v = validateBatches(batch)
        if ('kind' in v) throw new Error(`bench batch is invalid: ${v.kind}`)
        sink ^= v.recordCount
      }
    })
    b.add('bare-header', () => {
      for (let i = 0; i < parses; i++) {
        const buf = ring[i & 63]!
        sink ^= buf.readInt32BE(8) ^ buf.readInt8(16) ^ buf.readInt16BE(21) ^ buf.readInt32BE(23) ^ buf.readInt32BE(35) ^ buf.readInt32BE(39)
        sink ^= buf.readInt32BE(43) ^ buf.readInt32BE(47) ^ buf.readInt16BE(51) ^ buf.readInt32BE(53) ^ buf.readInt32BE(57)
      }
    })
    b.add('view-header', () => {
      for (let i = 0; i < parses; i++) {
        const buf = ring[i & 63]!
        const framed = checkBatchFrame(buf, 0)
        if ('kind' in framed) throw new Error('bad frame')
        const v = new RecordBatchView(buf, 0)
        sink ^= v.attributes ^ v.lastOffsetDelta ^ v.maxTimestamp ^ v.producerId ^ v.producerEpoch ^ v.baseSequence ^ v.recordCount ^ framed.size
      }
    })
  })
  if (sink === 0.5) ctx.log('unreachable')
  const perCall = (batch.length * loops) / 1e6
  const kb = (batch.length / KiB).toFixed(0)
  return [
    pair('micro.batch.validate', `batch validate (${kb} KiB, CRC + checks)`, 'MB/s', rates('validate', perCall), `CRC-32C ${crc32cImplementation} same bytes`, rates('crc', perCall)),
    pair(
      'micro.batch.header',
      'batch header parse (frame check + view fields)',
      'M op/s',
      rates('view-header', parses / 1e6),
      'bare readInt32BE of the same fields',
      rates('bare-header', parses / 1e6),
    ),
  ]
}

async function appendFigures(ctx: BenchContext): Promise<Figure[]> {
  const dir = tempDir('faultline-bench-micro-')
  try {
    const log = PartitionLog.create(new NodeFileSystem(), systemClock, join(dir, 'bench-0'), 'bench', 0, { ...defaultLogConfig }, { logger: silentLogger })
    const batch = batchOf(16, 1000)
    const fd = openSync(join(dir, 'raw.log'), 'w')
    let rawPos = 0
    // Both sides append at a growing position, so both allocate new page-cache pages: like for like.
    // The log keeps a reference to what it appended (tail cache) and patches offsets in place; re-appending the
    // same buffer is fine for timing and keeps allocation out of the figure.
    const rates = await runRounds(ctx, 600, (b) => {
      b.add('write', () => {
        writeSync(fd, batch, 0, batch.length, rawPos)
        rawPos += batch.length
      })
      b.add('append', () => {
        log.appendAsLeader(batch, 0)
      })
    })
    closeSync(fd)
    await log.close()
    const perCall = batch.length / 1e6
    const kb = (batch.length / KiB).toFixed(0)
    return [
      pair(
        'micro.log.append',
        `PartitionLog.appendAsLeader ${kb} KiB batch (default flush policy)`,
        'MB/s',
        rates('append', perCall),
        `fs.writeSync ${kb} KiB at end of file`,
        rates('write', perCall),
        { appendsPerSec: median(rates('append', 1)) },
      ),
    ]
  } finally {
    removeTempDir(dir)
  }
}

async function indexFigures(ctx: BenchContext): Promise<Figure[]> {
  // A full-size segment's index: 1 GiB segment, an entry every 4 KiB.
  const entries = 256 * 1024
  const noFile = {} as FileHandle // lookups never touch the file
  const idx = new OffsetIndex(noFile, 1_000_000, entries * 8)
  const rel = new Int32Array(entries)
  const pos = new Int32Array(entries)
  for (let i = 0; i < entries; i++) {
    rel[i] = i * 4 + (i % 3)
    pos[i] = i * 4096
    idx.append(1_000_000 + rel[i]!, pos[i]!)
  }
  const lookups = 1024
  const targets = Int32Array.from({ length: lookups }, (_, i) => ((i * 2654435761) >>> 0) % (entries * 4))
  let sink = 0
  const rates = await runRounds(ctx, 600, (b) => {
    b.add('bare', () => {
      for (let k = 0; k < lookups; k++) {
        const t = targets[k]!
        let lo = 0
        let hi = entries - 1
        let found = -1
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1
          if (rel[mid]! <= t) {
            found = mid
            lo = mid + 1
          } else hi = mid - 1
        }
        sink ^= found < 0 ? 0 : pos[found]!
      }
    })
    b.add('lookup', () => {
      for (let k = 0; k < lookups; k++) sink ^= idx.lookup(1_000_000 + targets[k]!).position
    })
  })
  if (sink === 0.5) ctx.log('unreachable')
  return [
    pair(
      'micro.index.lookup',
      `OffsetIndex.lookup (${entries / 1024}k entries)`,
      'M op/s',
      rates('lookup', lookups / 1e6),
      'bare binary search, Int32Array',
      rates('bare', lookups / 1e6),
    ),
  ]
}

export const microSection: Section = {
  name: 'micro',
  summary: 'tinybench: CRC-32C, batch validate/parse, log append, offset index lookup',
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const figures: Figure[] = []
    for (const [what, fn] of [
      ['crc32c', crcFigures],
      ['batch', batchFigures],
      ['append', appendFigures],
      ['index', indexFigures],
    ] as const) {
      ctx.log(`micro: ${what}`)
      figures.push(...(await fn(ctx)))
    }
    return {
      figures,
      notes: [
        `CRC-32C implementation in use: ${crc32cImplementation}. ${ctx.quick ? 1 : 3} rounds of fresh tinybench runs, tasks alternating; ` +
          "rates from each round's median sample, medians over rounds; ± is the spread of the per-round ratios.",
      ],
    }
  },
}
