// Crash recovery as a property over the simulated disk: random appends, flushes, fsync completions, rolls,
// retention, truncations, checkpoints and time, then a power loss (torn writes, garbage, lost directory entries), then reopen;
// up to three such epochs in a row. After each crash the recovered log must be a byte-identical prefix of what
// was appended, hold every batch known durable (its durable promise resolved, a flush() covering it completed,
// or the recovery point passed it), answer timestamp queries from its indexes like a scan would, and recover
// to the same state when it crashes again before doing anything. Its leader-epoch cache must match the batches. At the end offsets continue at the log end
// and a clean restart keeps everything.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../../broker/clock.ts'
import { encodeRecordBatch, iterateBatches } from '../../../broker/protocol/record-batch.ts'
import { defaultLogConfig, type LogConfig } from '../../../broker/storage/config.ts'
import { seededRandom, SimFileSystem } from '../../../broker/storage/file-system.ts'
import type { PartitionLog } from '../../../broker/storage/log.ts'
import { LogManager, type LogManagerDefaults } from '../../../broker/storage/log-manager.ts'
import { readAll, recordingLogger, settle } from './helpers.ts'

const seed = Number(process.env.FC_SEED ?? Date.now())
const numRuns = Number(process.env.FC_RUNS ?? 200)
console.log(`log-crash property: FC_SEED=${seed} FC_RUNS=${numRuns}`)

const DATA = '/data'
const TOPIC = 'crash.topic-a_b'

type Command =
  | { kind: 'append'; batches: { records: number; valueBytes: number }[] }
  | { kind: 'flush' }
  | { kind: 'sync'; count: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'roll' }
  | { kind: 'retention' }
  | { kind: 'checkpoint' }
  | { kind: 'truncate'; at: number }

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      batches: fc.array(fc.record({ records: fc.integer({ min: 1, max: 4 }), valueBytes: fc.integer({ min: 0, max: 180 }) }), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), count: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 700 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'roll' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'retention' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }) },
)

const configArb: fc.Arbitrary<LogConfig> = fc.record({
  segmentBytes: fc.integer({ min: 200, max: 3000 }),
  segmentMs: fc.integer({ min: 100, max: 5000 }),
  segmentIndexBytes: fc.integer({ min: 16, max: 240 }),
  indexIntervalBytes: fc.integer({ min: 1, max: 800 }),
  retentionMs: fc.oneof(fc.constant(-1), fc.integer({ min: 200, max: 3000 })),
  retentionBytes: fc.oneof(fc.constant(-1), fc.integer({ min: 300, max: 4000 })),
  flushMessages: fc.constantFrom(1, 3, Number.MAX_SAFE_INTEGER),
  flushMs: fc.oneof(fc.integer({ min: 10, max: 600 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  fileDeleteDelayMs: fc.integer({ min: 0, max: 300 }),
})

function managerDefaults(config: LogConfig): LogManagerDefaults {
  return { ...config, flushCheckpointMs: 250, startOffsetCheckpointMs: 400, retentionCheckMs: 900, tailCacheBytes: 1500 }
}

interface Appended {
  base: number
  last: number
  bytes: Buffer
}

/** A broker process: its own clock (a crashed one's timers must never fire again), same wall time. */
async function open(sim: SimFileSystem, previous: ManualClock | null, config: LogConfig) {
  sim.autoSync = true
  const clock = new ManualClock(0, previous ? previous.now() : undefined)
  const mgr = await LogManager.open(sim, clock, DATA, managerDefaults(config), recordingLogger())
  return { mgr, log: mgr.getOrCreate(TOPIC, 0, config), clock }
}

async function snapshot(log: PartitionLog) {
  return { logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset, batches: await readAll(log) }
}

async function scenario(config: LogConfig, epochs: Command[][], diskSeed: number): Promise<void> {
  const rng = seededRandom(diskSeed)
  const sim = new SimFileSystem()
  let { mgr, log, clock } = await open(sim, null, config)

  let appended: Appended[] = []
  let durableEnd = 0
  let claimedRecoveryPoint = 0
  let fill = 0
  let epoch = 0
  // Durability learnt before a truncation started does not cover what the truncation removes.
  let truncations = 0
  let truncating = false
  for (const commands of epochs) {
    epoch++
    sim.autoSync = false
    truncating = false
    const current = log
    for (const cmd of commands) {
      switch (cmd.kind) {
        case 'append': {
          if (truncating) break // no appends until a truncation resolves (the contract)
          const buf = Buffer.concat(
            cmd.batches.map((b) =>
              encodeRecordBatch(
                Array.from({ length: b.records }, (_, i) => ({ value: Buffer.alloc(b.valueBytes, fill++ & 0xff), key: `k${i}` })),
                { timestamp: clock.now() },
              ),
            ),
          )
          const r = current.appendAsLeader(buf, epoch)
          for (const v of iterateBatches(buf)) appended.push({ base: v.baseOffset, last: v.lastOffset, bytes: Buffer.from(v.bytes()) })
          current.highWatermark = current.logEndOffset
          const gen = truncations
          if (config.flushMessages === 1) void r.durable.then(() => gen === truncations && (durableEnd = Math.max(durableEnd, r.lastOffset + 1)))
          break
        }
        case 'flush': {
          // While a truncation runs, the end offset seen now may be cut before the flush starts.
          const target = truncating ? 0 : current.logEndOffset
          const gen = truncations
          void current.flush().then(() => gen === truncations && (durableEnd = Math.max(durableEnd, target)))
          break
        }
        case 'sync':
          sim.completeSyncs(cmd.count, rng)
          break
        case 'advance':
          clock.advance(cmd.ms)
          break
        case 'roll':
          current.roll()
          break
        case 'retention':
          current.applyRetention(clock.now())
          break
        case 'checkpoint':
          void mgr.checkpoint().catch(() => {})
          break
        case 'truncate': {
          const lo = current.logStartOffset
          const hi = current.logEndOffset
          if (truncating || hi <= lo) break
          const target = lo + Math.floor(cmd.at * (hi - lo))
          const cut = appended.find((a) => a.base <= target && target <= a.last)?.base ?? target
          truncations++
          truncating = true
          durableEnd = Math.min(durableEnd, cut)
          claimedRecoveryPoint = Math.min(claimedRecoveryPoint, cut)
          const gen = truncations
          void current.truncateTo(target).then(
            () => {
              if (gen !== truncations) return
              truncating = false
              appended = appended.filter((a) => a.last < cut)
            },
            () => {},
          )
          break
        }
      }
      await settle()
      claimedRecoveryPoint = Math.max(claimedRecoveryPoint, current.recoveryPoint)
    }

    sim.crash(rng)
    truncations++ // a crash abandons whatever was in flight
    const first = await open(sim, clock, config)
    const recovered = await snapshot(first.log)
    const leo = recovered.logEndOffset
    const modelEnd = appended.length > 0 ? appended[appended.length - 1]!.last + 1 : 0

    // A prefix of what was appended, byte for byte, from the batch holding the log start.
    expect(leo).toBeLessThanOrEqual(Math.max(modelEnd, recovered.logStartOffset))
    expect(recovered.logStartOffset).toBeLessThanOrEqual(leo)
    const expected = appended.filter((a) => a.last >= recovered.logStartOffset && a.base < leo)
    expect(expected.every((a) => a.last < leo)).toBe(true)
    expect(recovered.batches).toEqual(expected.map((a) => a.bytes))
    // Everything known durable survived.
    expect(leo).toBeGreaterThanOrEqual(durableEnd)
    expect(leo).toBeGreaterThanOrEqual(claimedRecoveryPoint)
    await checkTimestamps(first.log, expected)
    checkEpochCache(first.log, recovered.batches)

    // A second crash before any new write recovers the same log.
    sim.crash(rng)
    ;({ mgr, log, clock } = await open(sim, first.clock, config))
    expect(await snapshot(log)).toEqual(recovered)
    appended = appended.filter((a) => a.last < leo)
  }

  // Offsets continue at the end, and a clean restart keeps everything.
  const before = await snapshot(log)
  const next = encodeRecordBatch([{ value: 'after-recovery' }], { timestamp: clock.now() })
  expect(log.appendAsLeader(next, 99).firstOffset).toBe(before.logEndOffset)
  await mgr.shutdown()
  const last = await open(sim, clock, config)
  const final = await snapshot(last.log)
  expect(final.logEndOffset).toBe(before.logEndOffset + 1)
  expect(final.batches).toEqual([...before.batches, next])
  checkEpochCache(last.log, final.batches)
  await last.mgr.shutdown()
}

/** The leader-epoch cache says what the recovered batches say: each epoch's first offset, from the log start. */
function checkEpochCache(log: PartitionLog, batches: readonly Buffer[]): void {
  const want: { epoch: number; startOffset: number }[] = []
  for (const b of batches) {
    const v = [...iterateBatches(b)][0]!
    if (want[want.length - 1]?.epoch !== v.partitionLeaderEpoch) want.push({ epoch: v.partitionLeaderEpoch, startOffset: Math.max(v.baseOffset, log.logStartOffset) })
  }
  const got = log.epochCache.entries()
  // With every record gone by retention Kafka keeps the last epoch, moved to the log start.
  if (batches.length === 0 && got.length === 1) expect(got[0]!.startOffset).toBe(log.logStartOffset)
  else expect(got).toEqual(want)
}

/** The indexes answer timestamp queries like a scan of the batches would (batch timestamps never decrease here). */
async function checkTimestamps(log: PartitionLog, batches: readonly Appended[]): Promise<void> {
  if (batches.length === 0) return
  const views = batches.map((a) => [...iterateBatches(a.bytes)][0]!)
  const max = Math.max(...views.map((v) => v.maxTimestamp))
  expect(log.maxTimestampAndOffset().timestamp).toBe(max)
  for (const ts of new Set(views.flatMap((v) => [v.maxTimestamp, v.maxTimestamp + 1]))) {
    const first = views.find((v) => v.maxTimestamp >= ts)
    const want = first ? { offset: Math.max(first.baseOffset, log.logStartOffset), timestamp: first.maxTimestamp } : null
    expect(await log.offsetForTimestamp(ts)).toEqual(want)
  }
}

describe('PartitionLog crash recovery (SimFileSystem)', () => {
  it('recovers a durable, byte-identical prefix of the appended batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(fc.array(commandArb, { maxLength: 30 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        scenario,
      ),
      { seed, numRuns },
    )
  })

  it('an example with every kind of step', async () => {
    const config: LogConfig = {
      segmentBytes: 600,
      segmentMs: 1000,
      segmentIndexBytes: 48,
      indexIntervalBytes: 100,
      retentionMs: -1,
      retentionBytes: 1500,
      flushMessages: 1,
      flushMs: 100,
      fileDeleteDelayMs: 50,
    }
    const append = (n: number): Command => ({ kind: 'append', batches: [{ records: n, valueBytes: 90 }] })
    const commands: Command[] = []
    for (let i = 0; i < 12; i++) commands.push(append(1 + (i % 3)), { kind: 'sync', count: 3 }, { kind: 'advance', ms: 120 })
    commands.push({ kind: 'retention' }, { kind: 'roll' }, { kind: 'flush' }, append(2), append(1))
    await scenario(config, [commands, commands.slice(0, 10)], 7)
  })

  it('a crash in the middle of a truncation leaves a prefix of the log', async () => {
    const config: LogConfig = { ...defaultLogConfig, segmentBytes: 3 * 100, indexIntervalBytes: 50, flushMs: Number.MAX_SAFE_INTEGER }
    for (let diskSeed = 0; diskSeed < 150; diskSeed++) {
      const sim = new SimFileSystem()
      const { mgr, log, clock } = await open(sim, null, config)
      const batches: Buffer[] = []
      for (let i = 0; i < 12; i++) {
        const b = encodeRecordBatch([{ value: Buffer.alloc(20, i) }], { timestamp: clock.now() })
        log.appendAsLeader(b, 0)
        batches.push(Buffer.from(b))
      }
      expect(log.segmentCount).toBeGreaterThan(3)
      await log.flush()
      await mgr.checkpoint()
      sim.autoSync = false
      void log.truncateTo(2)
      // Let the truncation write its checkpoint and cut the files, but not make the cut durable.
      while (log.logEndOffset !== 2) {
        sim.completeSyncs(1)
        await settle()
      }
      sim.crash(seededRandom(diskSeed))
      const after = await open(sim, clock, config)
      const recovered = await readAll(after.log)
      expect(after.log.logEndOffset).toBeGreaterThanOrEqual(2)
      expect(recovered).toEqual(batches.slice(0, recovered.length))
    }
  })
})

