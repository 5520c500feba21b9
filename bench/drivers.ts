// Section "drivers": the harness's own producer (workloads/producer.ts's ProducerLoop, writing its history as
// `faultline run` does) through each driver, beside kcat -P (librdkafka) into the same broker in the same run,
// for 1 KiB and 100 B records. The figure is records/s and its ratio to kcat's: how close the harness gets to
// a C client when it is the one generating the load. Goal: the default driver at 80% or more of kcat.
//
// Each run sends N records to a fresh single-partition topic as fast as they are acknowledged (a fixed rate far
// above what any client reaches, so the open-loop schedule is always behind and sends whenever the in-flight
// window allows), timed from start to the last acknowledgement. Settings are librdkafka's defaults for both
// sides: acks=1, no idempotence, linger 5 ms, batches up to 1 MB; the harness keeps 5 requests in flight (kcat has
// librdkafka's default, 1000000; 20 for the harness measured the same: platformatic 165k vs 168k records/s at
// 1 KiB, so the window is not what limits it). "raw pre-encoded" is
// the raw driver sending pre-encoded batch templates (the loop's preEncoded mode), the harness without its
// per-record client cost. Runs alternate kcat, kafkajs, platformatic, raw, raw pre-encoded, ... so drift in
// the shared machine's load hits all alike; medians of the repetitions are reported.

import { createWriteStream, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createDriver, DEFAULT_DRIVER, type Driver, type DriverName } from '../workloads/driver.ts'
import { ValueIds } from '../workloads/generators.ts'
import { HistoryWriter } from '../workloads/history.ts'
import { ProducerLoop } from '../workloads/producer.ts'
import { systemScheduler } from '../workloads/rate.ts'
import { KCAT, kcatVersion } from './kcat.ts'
import { removeTempDir, run, startBroker, stopGracefully, tempDir, type BrokerHandle } from './lib/proc.ts'
import { median, ratioFigure, relativeSpread, type BenchContext, type Figure, type Section, type SectionOutput } from './lib/report.ts'

/** The harness producers measured: a driver, optionally with pre-encoded batches (raw only). */
export const benchedProducers = ['kafkajs', 'platformatic', 'raw', 'raw-preencoded'] as const
export type BenchedProducer = (typeof benchedProducers)[number]

export interface BenchDriversOptions {
  /** A smoke run: fewer records, one repetition. */
  readonly quick?: boolean
  /** Repetitions of each pairing; default 3 (1 when quick). */
  readonly reps?: number
  /** Progress messages. */
  readonly log?: (msg: string) => void
}

interface Size {
  readonly name: '1KiB' | '100B'
  readonly bytes: number
  readonly records: number
}

function sizes(quick: boolean): Size[] {
  return [
    { name: '1KiB', bytes: 1024, records: quick ? 10_000 : 300_000 },
    { name: '100B', bytes: 100, records: quick ? 30_000 : 1_000_000 },
  ]
}

const LINGER_MS = 5
const BATCH_BYTES = 1_000_000
const MAX_IN_FLIGHT = 5
/** Far above any client on this machine: the schedule is always behind, so the loop sends as fast as it may. */
const UNBOUNDED_RATE = 50_000_000
const KCAT_SETTINGS = ['-X', 'topic.request.required.acks=1', '-X', 'linger.ms=5', '-X', 'enable.idempotence=false']

/** N lines of exactly `bytes` printable bytes (kcat strips the newline). */
async function writeRecordFile(path: string, s: Size): Promise<void> {
  const out = createWriteStream(path)
  const line = Buffer.alloc(s.bytes + 1, 0x61)
  line[s.bytes] = 0x0a
  const perChunk = Math.max(1, Math.floor((1 << 22) / line.length))
  for (let n = 0; n < s.records; ) {
    const k = Math.min(perChunk, s.records - n)
    const chunk = Buffer.allocUnsafe(k * line.length)
    for (let i = 0; i < k; i++) {
      line.copy(chunk, i * line.length)
      chunk.write(String(n + i).padStart(10, '0'), i * line.length, 'latin1')
    }
    n += k
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())))
}

async function createTopic(driver: Driver, name: string): Promise<void> {
  const admin = await driver.admin()
  try {
    await admin.createTopics([{ name, partitions: 1, replicationFactor: 1 }])
  } finally {
    await admin.close()
  }
}

/** Seconds kcat takes to produce the file's records (spawn to exit: it exits once every record is acked). */
async function kcatSeconds(bootstrap: string, topic: string, file: string, s: Size): Promise<number> {
  const r = await run(KCAT, ['-b', bootstrap, '-P', '-t', topic, ...KCAT_SETTINGS, '-l', file], { timeoutMs: 120_000 + s.records / 10 })
  if (r.code !== 0 || /ERROR|[Ff]ailed/.test(r.stderr)) throw new Error(`kcat -P to ${bootstrap} exited with ${r.code}: ${r.stderr.trim().slice(-2000)}`)
  return r.wallMs / 1000
}

/** Records/s of the harness's producer loop, from its start to the last acknowledgement of N records (pre-encoded
 *  runs round N up to whole batches). */
async function loopRate(which: BenchedProducer, bootstrap: string, topic: string, s: Size, dir: string): Promise<number> {
  const name: DriverName = which === 'raw-preencoded' ? 'raw' : which
  const driver = await createDriver(name, { bootstrap: [bootstrap], clientId: `faultline-bench-${which}` })
  const historyPath = join(dir, `${topic}.history`)
  try {
    await createTopic(driver, topic)
    const producer = await driver.producer({ acks: 1, idempotent: false, lingerMs: LINGER_MS, batchBytes: BATCH_BYTES, maxInFlight: MAX_IN_FLIGHT })
    const history = await HistoryWriter.open(historyPath)
    const sched = systemScheduler({ spinBelowMs: 0 })
    const loop = new ProducerLoop({
      name: which,
      producer,
      topic,
      partitions: 1,
      rate: { kind: 'fixed', perSecond: UNBOUNDED_RATE },
      count: s.records,
      sizes: { kind: 'fixed', bytes: s.bytes },
      seed: 1,
      valueIds: new ValueIds(),
      scheduler: sched,
      history,
      preEncoded: which === 'raw-preencoded' ? { recordsPerBatch: Math.max(1, Math.floor((64 << 10) / s.bytes)) } : undefined,
    })
    const t0 = performance.now()
    const summary = await loop.run()
    const seconds = (performance.now() - t0) / 1000
    await history.close()
    await producer.close()
    if (summary.failed > 0 || summary.acked < s.records) throw new Error(`${which} ${s.name}: ${summary.acked} of ${s.records} records acked (${JSON.stringify(summary.errors)})`)
    return summary.acked / seconds
  } finally {
    await driver.close()
    rmSync(historyPath, { force: true })
  }
}

/**
 * Records/s of the harness producer per driver beside kcat -P on the same broker, medians of `reps` rounds.
 * Figures: `drivers.<producer>.<size>`, value records/s, ceiling kcat's records/s, ratio value / kcat.
 */
export async function benchDrivers(opts: BenchDriversOptions = {}): Promise<SectionOutput> {
  const quick = opts.quick ?? false
  const reps = opts.reps ?? (quick ? 1 : 3)
  const log = opts.log ?? (() => {})
  const version = await kcatVersion()
  if (version === 'not installed') throw new Error(`${KCAT} is not installed (Debian: apt-get install kcat); set KCAT=/path/to/kcat`)
  const dir = tempDir('faultline-bench-drivers-')
  let broker: BrokerHandle | null = null
  try {
    broker = await startBroker()
    const figures: Figure[] = []
    const notes: string[] = [
      `${version}; both sides: acks=1, no idempotence, linger ${LINGER_MS} ms, batches up to ${BATCH_BYTES} B, one partition; harness ${MAX_IN_FLIGHT} requests in flight, kcat librdkafka's default; ` +
        `${reps} rounds (kcat, ${benchedProducers.join(', ')}), medians; the harness writes its history as in a run`,
    ]
    for (const s of sizes(quick)) {
      const file = join(dir, `${s.name}.txt`)
      await writeRecordFile(file, s)
      const kcat: number[] = []
      const loops = new Map<BenchedProducer, number[]>(benchedProducers.map((p) => [p, []]))
      for (let rep = 0; rep < reps; rep++) {
        kcat.push(s.records / (await kcatSeconds(broker.bootstrap, `drivers-kcat-${s.name}-${rep}`, file, s)))
        const line = [`kcat ${Math.round(kcat.at(-1)!)}/s`]
        for (const p of benchedProducers) {
          const rate = await loopRate(p, broker.bootstrap, `drivers-${p}-${s.name}-${rep}`, s, dir)
          loops.get(p)!.push(rate)
          line.push(`${p} ${Math.round(rate)}/s`)
        }
        log(`drivers ${s.name}: rep ${rep + 1}/${reps}: ${line.join(', ')}`)
      }
      const kcatRate = median(kcat)
      for (const p of benchedProducers) {
        const rates = loops.get(p)!
        const rate = median(rates)
        const isDefault = p === DEFAULT_DRIVER
        figures.push(
          ratioFigure({
            key: `drivers.${p}.${s.name}`,
            label: `harness producer, ${p}${isDefault ? ' (default)' : ''}, ${s.name === '1KiB' ? '1 KiB' : '100 B'} records`,
            unit: 'records/s',
            value: rate,
            ceiling: { label: 'kcat -P, same broker, same run', value: kcatRate },
            goal: isDefault ? 0.8 : undefined,
            recordsPerSec: rate,
            ceilingRecordsPerSec: kcatRate,
            spread: relativeSpread(rates.map((x, i) => x / kcat[i]!)),
            detail: { records: s.records, recordBytes: s.bytes, recordsPerSec: rates.map(Math.round), kcatRecordsPerSec: kcat.map(Math.round) },
          }),
        )
      }
    }
    return { figures, notes }
  } finally {
    if (broker) await stopGracefully(broker)
    removeTempDir(dir)
  }
}

export const driversSection: Section = {
  name: 'drivers',
  summary: 'the harness producer per driver (kafkajs, platformatic, raw, raw pre-encoded) beside kcat -P on the same broker, 1 KiB and 100 B',
  run: (ctx: BenchContext) => benchDrivers({ quick: ctx.quick, reps: ctx.quick ? 1 : Math.min(ctx.reps, 3), log: (m) => ctx.log(m) }),
}
