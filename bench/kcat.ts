// Section "kcat": librdkafka (kcat -P) producing 1 KiB and 100 B records with acks=1 into the broker, beside
// the same kcat run into the null sink (null-sink.ts), which acknowledges without storing. The null-sink rate is
// what kcat itself can push on this machine, so the ratio says whether the broker is librdkafka's bottleneck.
// Goal: 90% or more of the null-sink rate. A third target, the storing sink (the null sink appending each batch
// to a file), splits the gap into the machine's file-write cost and what the broker adds on top.
//
// Each run is `kcat -P -l FILE` over a pre-generated file of N records, timed from spawn to exit (kcat exits
// once every message is acknowledged; a 1-record run takes ~50 ms, against 1-5 s for the full files).
// Settings: librdkafka's defaults plus acks=1, the same for every target (linger.ms, batch.size, Nagle and queue
// sizes made no difference beyond the noise). Rounds go null sink, storing sink, broker, so load drift on the
// shared machine hits all alike; medians are reported. CPU seconds of kcat (bash `times`) and of each server
// process (/proc) are recorded so the bottleneck is visible; the `.cpu` figures compare CPU per byte.
//
// Every round writes a fresh topic, and the round's data is deleted before the next one (the broker's topic with
// DeleteTopics, the storing sink's file when kcat disconnects). On this VM file writes slow down 2-3x as
// the data written and kept piles up: with one topic kept for all rounds, the storing sink (nothing but
// writeSync) fell from 475 to 200 MB/s over 5 rounds and the broker, which always ran after it, with it, so the
// figure said more about the rounds before than about the target. Each round now starts from the same state:
// at most one round's data (400 MB at 1 KiB) on disk, as a topic with retention would keep. A run that keeps
// gigabytes is a capacity question for a scenario, not this figure.

import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { cpuDelta, cpuTotal, deleteTopic, loopbackHost, processCpu, run, startBroker, startWorker, stopGracefully, tempDir, removeTempDir, type BrokerHandle, type WorkerHandle } from './lib/proc.ts'
import { median, ratioFigure, repetitions, type BenchContext, type Figure, type Section, type SectionOutput } from './lib/report.ts'

export const KCAT = process.env.KCAT ?? 'kcat'

/** librdkafka settings of every run: defaults (linger.ms 5, batch.size 1 MB, batch.num.messages 10000) + acks=1. */
export const KCAT_SETTINGS = ['-X', 'topic.request.required.acks=1']

export interface Size {
  name: string
  recordBytes: number
  records: number
}

function sizes(quick: boolean): Size[] {
  return [
    { name: '1KiB', recordBytes: 1024, records: quick ? 50_000 : 400_000 },
    { name: '100B', recordBytes: 100, records: quick ? 300_000 : 3_000_000 },
  ]
}

/** N lines of `recordBytes` printable bytes each (kcat strips the newline, so each value is exactly that size). */
export async function writeRecordFile(path: string, s: Size): Promise<void> {
  const line = Buffer.alloc(s.recordBytes + 1)
  const perChunk = Math.max(1, Math.floor((4 * 1024 * 1024) / line.length))
  const out = createWriteStream(path)
  let n = 0
  while (n < s.records) {
    const k = Math.min(perChunk, s.records - n)
    const chunk = Buffer.allocUnsafe(k * line.length)
    for (let i = 0; i < k; i++) {
      const at = i * line.length
      // Distinct contents per record (a counter and filler) without a costly random generator.
      chunk.fill(0x61 + ((n + i) % 26), at, at + s.recordBytes)
      chunk.write(String(n + i).padStart(10, '0'), at, 'latin1')
      chunk[at + s.recordBytes] = 0x0a
    }
    n += k
    if (!out.write(chunk)) await new Promise<void>((res) => out.once('drain', () => res()))
  }
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())))
}

export interface Sample {
  seconds: number
  kcatUser: number
  kcatSystem: number
  serverCpu: number
}

const TIMES_LINE = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/

/** One timed `kcat -P` run; `extraSettings` (-X ...) go after the section's own, so they win (bench/replication.ts: acks=all). */
export async function kcatRun(bootstrap: string, topic: string, file: string, serverPid: number, timeoutMs: number, extraSettings: readonly string[] = []): Promise<Sample> {
  const before = processCpu(serverPid)
  // bash's `times` prints the CPU time of its children: kcat's user and system seconds, exactly, after it exits.
  const r = await run('bash', ['-c', `"$0" "$@"; rc=$?; times; exit $rc`, KCAT, '-b', bootstrap, '-P', '-t', topic, ...KCAT_SETTINGS, ...extraSettings, '-l', file], { timeoutMs })
  const server = cpuDelta(before, processCpu(serverPid))
  if (r.code !== 0) throw new Error(`kcat -P to ${bootstrap} exited with ${r.code}: ${r.stderr.trim().slice(-2000)}`)
  if (/ERROR|[Ff]ailed/.test(r.stderr)) throw new Error(`kcat -P to ${bootstrap} reported errors: ${r.stderr.trim().slice(-2000)}`)
  const lines = r.stdout.trim().split('\n')
  const m = TIMES_LINE.exec(lines[lines.length - 1] ?? '')
  const user = m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN
  const system = m ? Number(m[3]) * 60 + Number(m[4]) : Number.NaN
  return { seconds: r.wallMs / 1000, kcatUser: user, kcatSystem: system, serverCpu: cpuTotal(server) }
}

/** The broker's last offset of partition 0, read back with kcat: every acknowledged record must be there. */
export async function lastOffset(bootstrap: string, topic: string): Promise<number> {
  const r = await run(KCAT, ['-b', bootstrap, '-C', '-t', topic, '-p', '0', '-o', '-1', '-c', '1', '-e', '-q', '-f', '%o\\n'], { timeoutMs: 30_000 })
  const n = Number(r.stdout.trim().split('\n').pop())
  if (r.code !== 0 || !Number.isInteger(n)) throw new Error(`kcat -C ${topic}: exit ${r.code}, output ${JSON.stringify(r.stdout.slice(0, 200))} ${r.stderr.slice(-500)}`)
  return n
}

export async function kcatVersion(): Promise<string> {
  try {
    const r = await run(KCAT, ['-V'], { timeoutMs: 5000 })
    const m = /Version (\S+) .*librdkafka (\S+)/.exec(r.stdout + r.stderr)
    return m ? `kcat ${m[1]}, librdkafka ${m[2]}` : 'unknown'
  } catch {
    return 'not installed'
  }
}

export const kcatSection: Section = {
  name: 'kcat',
  summary: 'kcat -P 1 KiB and 100 B records, acks=1, into the broker beside the null sink and a storing sink',
  async run(ctx: BenchContext): Promise<SectionOutput> {
    const version = await kcatVersion()
    if (version === 'not installed') throw new Error(`${KCAT} is not installed (Debian: apt-get install kcat); set KCAT=/path/to/kcat`)
    const dir = tempDir('faultline-bench-kcat-')
    const storeDir = tempDir('faultline-bench-store-')
    const servers: WorkerHandle[] = []
    let broker: BrokerHandle | null = null
    try {
      const all = sizes(ctx.quick)
      for (const s of all) await writeRecordFile(join(dir, `${s.name}.txt`), s)
      const sink = startWorker('null-sink', { host: loopbackHost() })
      const storing = startWorker('null-sink', { host: loopbackHost(), storeDir })
      servers.push(sink, storing)
      const bootstrapOf = (r: Record<string, unknown>): string => `${r.host as string}:${r.port as number}`
      const sinkBootstrap = bootstrapOf(await sink.ready)
      const storingBootstrap = bootstrapOf(await storing.ready)
      broker = await startBroker({ nodeFlags: ctx.profileDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [] })
      const figures: Figure[] = []
      const notes: string[] = []
      for (const s of all) {
        const file = join(dir, `${s.name}.txt`)
        const topic = `kcat-${s.name}`
        const timeoutMs = 120_000 + s.records / 10
        const onSink: Sample[] = []
        const onStoring: Sample[] = []
        const onBroker: Sample[] = []
        const bytes = s.records * s.recordBytes
        const mbps = (x: Sample): number => bytes / 1e6 / x.seconds
        for (let rep = 0; rep < ctx.reps; rep++) {
          const roundTopic = `${topic}-${rep}`
          onSink.push(await kcatRun(sinkBootstrap, roundTopic, file, sink.pid, timeoutMs))
          onStoring.push(await kcatRun(storingBootstrap, roundTopic, file, storing.pid, timeoutMs))
          onBroker.push(await kcatRun(broker.bootstrap, roundTopic, file, broker.pid, timeoutMs))
          // Every acknowledged record is there, then the round's data goes (see the header).
          const last = await lastOffset(broker.bootstrap, roundTopic)
          if (last !== s.records - 1) throw new Error(`kcat ${s.name}: broker's last offset is ${last}, expected ${s.records - 1}`)
          await deleteTopic(broker.bootstrap, roundTopic)
          ctx.log(
            `kcat ${s.name}: rep ${rep + 1}/${ctx.reps} null sink ${mbps(onSink.at(-1)!).toFixed(0)} MB/s, ` +
              `storing sink ${mbps(onStoring.at(-1)!).toFixed(0)} MB/s, broker ${mbps(onBroker.at(-1)!).toFixed(0)} MB/s`,
          )
        }
        const rate = (xs: Sample[]): number => bytes / 1e6 / median(xs.map((x) => x.seconds))
        const recs = (xs: Sample[]): number => s.records / median(xs.map((x) => x.seconds))
        const paired = (xs: Sample[], ceil: Sample[]): ReturnType<typeof repetitions> => repetitions(xs.map((x, i) => ceil[i]!.seconds / x.seconds))
        // CPU seconds per wall second (1.0 = one core busy throughout), medians.
        const cores = (xs: Sample[], f: (x: Sample) => number): number => median(xs.map((x) => f(x) / x.seconds))
        const kcatCores = (xs: Sample[]): number => cores(xs, (x) => x.kcatUser + x.kcatSystem)
        const serverCores = (xs: Sample[]): number => cores(xs, (x) => x.serverCpu)
        const size = s.name === '1KiB' ? '1 KiB' : '100 B'
        const nullSink = { label: 'same kcat run -> null sink', value: rate(onSink) }
        figures.push(
          ratioFigure({
            key: `kcat.${s.name}`,
            label: `kcat -P ${size} records, acks=1 -> broker`,
            unit: 'MB/s',
            value: rate(onBroker),
            ceiling: nullSink,
            goal: 0.9,
            recordsPerSec: recs(onBroker),
            ceilingRecordsPerSec: recs(onSink),
            ...paired(onBroker, onSink),
            detail: {
              records: s.records,
              recordBytes: s.recordBytes,
              runsSeconds: {
                nullSink: onSink.map((x) => +x.seconds.toFixed(3)),
                storingSink: onStoring.map((x) => +x.seconds.toFixed(3)),
                broker: onBroker.map((x) => +x.seconds.toFixed(3)),
              },
              kcatCoresToBroker: kcatCores(onBroker),
              kcatCoresToNullSink: kcatCores(onSink),
              kcatCoresToStoringSink: kcatCores(onStoring),
              brokerCores: serverCores(onBroker),
              nullSinkCores: serverCores(onSink),
              storingSinkCores: serverCores(onStoring),
              // CPU seconds per GB of record values: less sensitive to a busy machine than MB/s.
              brokerCpuSecondsPerGB: median(onBroker.map((x) => x.serverCpu)) / (bytes / 1e9),
              nullSinkCpuSecondsPerGB: median(onSink.map((x) => x.serverCpu)) / (bytes / 1e9),
              storingSinkCpuSecondsPerGB: median(onStoring.map((x) => x.serverCpu)) / (bytes / 1e9),
              kcatCpuSecondsPerGBToBroker: median(onBroker.map((x) => x.kcatUser + x.kcatSystem)) / (bytes / 1e9),
              kcatUserSecondsToBroker: median(onBroker.map((x) => x.kcatUser)),
              kcatSystemSecondsToBroker: median(onBroker.map((x) => x.kcatSystem)),
            },
          }),
          ratioFigure({
            key: `kcat.${s.name}.storing-sink`,
            label: '  same -> broker, beside the storing sink',
            unit: 'MB/s',
            value: rate(onBroker),
            ceiling: { label: 'same kcat run -> storing sink', value: rate(onStoring) },
            recordsPerSec: recs(onBroker),
            ceilingRecordsPerSec: recs(onStoring),
            ...paired(onBroker, onStoring),
          }),
          ratioFigure({
            key: `kcat.${s.name}.cpu`,
            label: '  broker CPU efficiency, beside the storing sink',
            unit: 'MB/CPU-s',
            value: bytes / 1e6 / median(onBroker.map((x) => x.serverCpu)),
            ceiling: { label: 'storing sink, same kcat runs', value: bytes / 1e6 / median(onStoring.map((x) => x.serverCpu)) },
            ...repetitions(onBroker.map((x, i) => onStoring[i]!.serverCpu / x.serverCpu)),
          }),
          ratioFigure({
            key: `kcat.${s.name}.storing-sink-vs-null`,
            label: `  storing sink ${size} (the machine's file-write cost)`,
            unit: 'MB/s',
            value: rate(onStoring),
            ceiling: nullSink,
            recordsPerSec: recs(onStoring),
            ceilingRecordsPerSec: recs(onSink),
            ...paired(onStoring, onSink),
          }),
        )
        const c = (x: number): string => x.toFixed(2)
        const perGB = (xs: Sample[]): string => (median(xs.map((x) => x.serverCpu)) / (bytes / 1e9)).toFixed(2)
        notes.push(
          `kcat.${s.name} cores busy: -> broker kcat ${c(kcatCores(onBroker))} + broker ${c(serverCores(onBroker))}; ` +
            `-> null sink kcat ${c(kcatCores(onSink))} + sink ${c(serverCores(onSink))}; ` +
            `-> storing sink kcat ${c(kcatCores(onStoring))} + sink ${c(serverCores(onStoring))}; ` +
            `server CPU s per GB: broker ${perGB(onBroker)}, null sink ${perGB(onSink)}, storing sink ${perGB(onStoring)}`,
        )
      }
      notes.unshift(
        `${version}; settings: librdkafka defaults + ${KCAT_SETTINGS.join(' ')}; ${ctx.reps} rounds of null sink, storing sink, broker, each round a fresh topic and the previous round's data deleted; medians; ` +
          'wall time from spawn to exit. storing sink: the null sink appending each batch to a file with one writeSync.',
      )
      return { figures, notes }
    } finally {
      if (broker) await stopGracefully(broker)
      for (const w of servers) await w.kill()
      removeTempDir(dir)
      removeTempDir(storeDir)
    }
  },
}
