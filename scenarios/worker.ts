// `faultline worker --listen HOST:PORT`: a load worker. It runs its share of a run's producers and consumers
// (a WorkerPlan the runner computes, scenarios/workers.ts) and is driven over a small HTTP/JSON control API,
// as OpenMessaging Benchmark's workers are:
//
//   GET  /info      version, pid, boot id (same boot id: same machine, so one monotonic clock), clock (ms)
//   POST /prepare   a WorkerPlan: clients up, consumers started (the runner waits for their assignments)
//   POST /start     { originMs }: the run's origin on this worker's clock; producer loops start on it
//   GET  /status    live figures (reports/progress.ts LiveSnapshot), the latest load sample, pending sends
//   POST /finish    waits until the producer loops learned their last outcomes; their summaries
//   POST /stop      closes every client and the history file; this process's load samples
//   GET  /history   the history file (the runner merges every worker's with its own)
//   POST /release   forgets the run and deletes its files
//
// A worker never outlives its runner: every request is a heartbeat, and a run whose runner has not been heard
// for the plan's heartbeatMs is stopped (its clients closed); a worker the runner started itself
// (--exit-with-parent) also exits when its stdin closes, which happens when the runner dies.
// History times are the run's: µs since the origin the runner sends, on this worker's monotonic clock (which
// is the runner's when they share a machine; otherwise the runner converts its origin with a measured offset).

import { createReadStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LiveSnapshot, LiveStats } from '../reports/progress.ts'
import { ConsumerSet } from '../workloads/consumer.ts'
import type { ConnectOptions, Driver, DriverProducer, ProducerOptions, StartFrom } from '../workloads/driver.ts'
import { createDriver } from '../workloads/drivers/registry.ts'
import type { DriverName } from '../workloads/drivers/registry.ts'
import { ValueIds, type KeySpec, type SizeSpec } from '../workloads/generators.ts'
import type { HistoryEvent } from '../workloads/history/events.ts'
import { HistoryWriter } from '../workloads/history/writer.ts'
import { type LoadSample, LoadMonitor, type ProcessLoad } from '../workloads/load-monitor.ts'
import { ProducerLoop, type ProducerSummary } from '../workloads/producer.ts'
import { monotonicNow, type RateSpec, systemScheduler } from '../workloads/rate.ts'
import { faultlineVersion, OriginShift } from './runner.ts'

/** What one worker runs; JSON (TLS material as PEM text). */
export interface WorkerPlan {
  /** This worker's index among the run's workers, and their count. */
  readonly index: number
  readonly count: number
  readonly driver: DriverName
  readonly connect: ConnectOptions
  readonly durationMs: number
  readonly warmupMs: number
  /** The run is stopped when the runner is not heard for this long. */
  readonly heartbeatMs: number
  /** Value ids come in blocks of this many: block b belongs to worker b mod count, so ids stay unique. */
  readonly valueBlock: number
  /** Per worker index: whether it shares this worker's clock. End-to-end latency is kept only for records
   *  produced on a worker that does. */
  readonly sameClock: readonly boolean[]
  readonly consumers: readonly WorkerConsumers[]
  readonly producers: readonly WorkerProducers[]
}

export interface WorkerConsumers {
  readonly name: string
  readonly topics: readonly string[]
  readonly groups: number
  readonly membersPerGroup: number
  /** The member indexes this worker runs. */
  readonly members: readonly number[]
  readonly from: StartFrom
  readonly groupIdPrefix: string
}

/** One producer client and its loops (one per topic). */
export interface WorkerProducers {
  readonly client: string
  readonly options: ProducerOptions
  readonly requestTimeoutMs?: number
  readonly loops: readonly {
    readonly name: string
    readonly topic: string
    readonly partitions: number
    readonly rate: RateSpec
    readonly keys: KeySpec
    readonly sizes: SizeSpec
    readonly batchBytes: number
    readonly payload: { readonly randomBytesRatio: number; readonly poolSize: number }
    readonly seed: number
  }[]
}

export interface WorkerInfo {
  readonly faultline: string
  readonly pid: number
  readonly bootId: string | null
  /** This worker's monotonic clock, ms. */
  readonly clockMs: number
  readonly busy: boolean
}

export interface WorkerStatus {
  /** Grows with every status: answers that arrive out of order are told apart. */
  readonly seq: number
  readonly live: LiveSnapshot
  readonly load: LoadSample | null
  readonly pending: number
  readonly consumeErrors: Record<string, number>
}

export interface WorkerStopped {
  readonly load: ProcessLoad
  readonly events: number
  readonly consumeErrors: Record<string, number>
  readonly clientErrors: Record<string, number>
}

/** This machine's boot id: two processes with the same one share CLOCK_MONOTONIC. FAULTLINE_BOOT_ID stands in
 *  for it, so a test can play a worker on another machine. */
export function bootId(): string | null {
  const stand = process.env.FAULTLINE_BOOT_ID
  if (stand) return stand
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return null
  }
}

/** Value ids in blocks: worker k of n takes blocks k, k + n, k + 2n, ... (dense enough for the checker). */
export class BlockValueIds extends ValueIds {
  private readonly block: number
  private readonly stride: number
  private base: number
  private used = 0
  private count = 0

  constructor(index: number, workers: number, block: number) {
    super()
    this.block = block
    this.stride = block * workers
    this.base = index * block
  }

  override next(): number {
    if (this.used === this.block) {
      this.base += this.stride
      this.used = 0
    }
    this.count++
    return this.base + this.used++
  }

  override get issued(): number {
    return this.count
  }
}

const CLOSE_MS = 10_000

async function bounded(p: Promise<unknown>, ms = CLOSE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
}

class WorkerRun {
  readonly plan: WorkerPlan
  private readonly sched = systemScheduler({ spinBelowMs: 0 })
  private readonly history: HistoryWriter
  private readonly live: LiveStats
  private readonly sink: OriginShift
  private readonly consumerOrigin: number
  private readonly drivers: Driver[] = []
  private readonly producers: DriverProducer[] = []
  private readonly consumerSets: ConsumerSet[] = []
  private readonly loops: ProducerLoop[] = []
  private readonly monitor = new LoadMonitor('worker')
  private runsDone: Promise<ProducerSummary[]> | null = null
  private origin: number | null = null
  readonly consumeErrors: Record<string, number> = {}
  readonly clientErrors: Record<string, number> = {}
  private open = true
  private statusSeq = 0

  private constructor(plan: WorkerPlan, history: HistoryWriter) {
    this.plan = plan
    this.history = history
    this.live = new LiveStats({ append: (e) => this.open && history.append(e) })
    this.consumerOrigin = this.sched.now()
    this.sink = new OriginShift(this.live, this.consumerOrigin)
  }

  static async prepare(plan: WorkerPlan, historyPath: string): Promise<WorkerRun> {
    const run = new WorkerRun(plan, await HistoryWriter.open(historyPath))
    try {
      await run.startClients()
    } catch (err) {
      await run.stop()
      throw err
    }
    return run
  }

  private async driver(requestTimeoutMs?: number): Promise<Driver> {
    const d = await createDriver(this.plan.driver, { ...this.plan.connect, requestTimeoutMs })
    this.drivers.push(d)
    return d
  }

  private async startClients(): Promise<void> {
    const plan = this.plan
    const n = plan.count
    const producedHere = (v: number): boolean => plan.sameClock[Math.floor(v / plan.valueBlock) % n] === true
    // Records produced on another clock keep their value (the checker needs it) but lose their intended time.
    const consumerSink = plan.sameClock.every(Boolean)
      ? this.sink
      : { append: (e: HistoryEvent) => this.sink.append(e.type === 'recv' && e.value >= 0 && !producedHere(e.value) ? { ...e, intended: -1 } : e) }
    if (plan.consumers.some((c) => c.members.length > 0)) {
      const main = await this.driver()
      for (const c of plan.consumers) {
        if (c.members.length === 0) continue
        const set = new ConsumerSet({
          name: c.name,
          driver: main,
          topics: c.topics,
          groups: c.groups,
          membersPerGroup: c.membersPerGroup,
          members: c.members,
          from: c.from,
          groupIdPrefix: c.groupIdPrefix,
          scheduler: this.sched,
          runOriginMs: this.consumerOrigin,
          history: consumerSink,
          onError: (_member, e) => (this.consumeErrors[e.name] = (this.consumeErrors[e.name] ?? 0) + 1),
        })
        this.consumerSets.push(set)
      }
      await Promise.all(this.consumerSets.map((s) => s.start()))
    }
    const ids = new BlockValueIds(plan.index, n, plan.valueBlock)
    const groups = this.consumerSets.reduce((k, s) => k + s.groupCount, 0)
    const received = groups === 0 ? undefined : (): number => this.consumerSets.reduce((k, s) => k + s.records, 0) / groups / Math.max(1, this.loops.length)
    const run = this
    for (const p of plan.producers) {
      const driver = await this.driver(p.requestTimeoutMs)
      const producer = await driver.producer(p.options)
      this.producers.push(producer)
      for (const l of p.loops) {
        this.loops.push(
          new ProducerLoop({
            name: l.name,
            producer,
            topic: l.topic,
            partitions: l.partitions,
            rate: l.rate,
            durationMs: plan.durationMs,
            warmupMs: plan.warmupMs,
            keys: l.keys,
            sizes: l.sizes,
            batchBytes: l.batchBytes,
            payload: l.payload,
            seed: l.seed,
            valueIds: ids,
            scheduler: this.sched,
            history: this.live,
            get runOriginMs() {
              return run.origin ?? undefined
            },
            received: l.rate.kind === 'max' ? received : undefined,
          }),
        )
      }
    }
  }

  /** Starts the loops on the run's origin (this worker's clock); a late start shortens their schedule to match. */
  start(originMs: number): void {
    if (this.runsDone) return
    this.origin = originMs
    this.sink.setOrigin(originMs)
    this.live.setMeasureFrom(this.plan.warmupMs * 1000)
    this.monitor.start()
    this.runsDone = Promise.all(this.loops.map((l) => l.run()))
    this.runsDone.catch(() => {})
  }

  status(): WorkerStatus {
    const nowUs = this.origin === null ? 0 : Math.round((this.sched.now() - this.origin) * 1000)
    return { seq: ++this.statusSeq, live: this.live.snapshot(nowUs), load: this.monitor.latest(), pending: this.loops.reduce((k, l) => k + l.pending, 0), consumeErrors: { ...this.consumeErrors } }
  }

  finish(): Promise<ProducerSummary[]> {
    return this.runsDone ?? Promise.resolve([])
  }

  /** Closes every client (each kind within CLOSE_MS: a client of a dead cluster may never finish closing) and the history. */
  async stop(): Promise<WorkerStopped> {
    for (const l of this.loops) l.stop()
    await bounded(Promise.allSettled(this.consumerSets.map((s) => s.close())))
    await bounded(Promise.allSettled(this.producers.map((p) => p.close())))
    await bounded(Promise.allSettled(this.drivers.map((d) => d.close())))
    const load = this.monitor.stop()
    let events = 0
    if (this.open) {
      this.open = false
      events = (await this.history.close()).events
    }
    return { load, events, consumeErrors: { ...this.consumeErrors }, clientErrors: { ...this.clientErrors } }
  }
}

export interface WorkerFlags {
  readonly listen?: string
  /** Where history files go; default a directory under the system's temporary directory. */
  readonly dir?: string
  readonly exitWithParent?: boolean
}

class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  if (text === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'expected a JSON body')
  }
}

/** `faultline worker`: serves the control API until SIGTERM/SIGINT (or, with --exit-with-parent, stdin's end). */
export async function runWorker(flags: WorkerFlags): Promise<number> {
  const listen = flags.listen ?? '127.0.0.1:7070'
  const i = listen.lastIndexOf(':')
  const port = Number(listen.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`faultline worker: --listen ${listen}: expected host:port, like 127.0.0.5:7070\n`)
    return 2
  }
  const host = listen.slice(0, i)
  const dir = flags.dir ?? join(tmpdir(), `faultline-worker-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  const historyPath = join(dir, 'history.bin')
  let run: WorkerRun | null = null
  let preparing: Promise<unknown> | null = null
  let heard = monotonicNow()
  // A runner that died took the read ends of our stdout and stderr with it: writing there fails with EPIPE, and
  // an unhandled stream error would come back through `caught` below, which writes again (a busy loop that kept
  // orphaned workers alive at full CPU). Once a write fails, the worker stops writing.
  let muted = false
  const mute = (): void => {
    muted = true
  }
  process.stdout.on('error', mute)
  process.stderr.on('error', mute)
  const say = (line: string): void => {
    if (!muted) process.stderr.write(`faultline worker: ${line}\n`)
  }

  const drop = async (why: string): Promise<void> => {
    const r = run
    run = null
    if (r) {
      say(why)
      await r.stop().catch(() => {})
    }
  }
  const heartbeat = setInterval(() => {
    if (run && monotonicNow() - heard > run.plan.heartbeatMs) void drop(`the runner was not heard for ${run.plan.heartbeatMs} ms: run stopped, clients closed`)
  }, 250)
  // Client libraries may throw from their own timers: counted, never fatal to the worker.
  const caught = (err: unknown): void => {
    const code = err instanceof Error ? err.name : typeof err
    if (run) run.clientErrors[code] = (run.clientErrors[code] ?? 0) + 1
    say(`client: ${err instanceof Error ? err.message : String(err)}`)
  }
  process.on('uncaughtException', caught)
  process.on('unhandledRejection', caught)

  const need = (): WorkerRun => {
    if (!run) throw new HttpError(409, 'no run is prepared on this worker (POST /prepare first)')
    return run
  }
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    heard = monotonicNow()
    const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`
    switch (route) {
      case 'GET /info':
        return { faultline: faultlineVersion(), pid: process.pid, bootId: bootId(), clockMs: monotonicNow(), busy: run !== null || preparing !== null } satisfies WorkerInfo
      case 'POST /prepare': {
        if (run || preparing) throw new HttpError(409, 'this worker is already part of a run; expected one runner at a time')
        const plan = (await body(req)) as WorkerPlan
        rmSync(historyPath, { force: true })
        const p = WorkerRun.prepare(plan, historyPath)
        preparing = p
        try {
          run = await p
        } finally {
          preparing = null
        }
        return { ok: true }
      }
      case 'POST /start': {
        const { originMs } = (await body(req)) as { originMs: number }
        need().start(originMs)
        return { ok: true }
      }
      case 'GET /status':
        return need().status()
      case 'POST /finish':
        return { summaries: await need().finish() }
      case 'POST /stop':
        // A runner that gives up while this worker still prepares: wait for the clients, then close them.
        if (preparing) await preparing.catch(() => {})
        return need().stop()
      case 'GET /history': {
        need()
        const size = statSync(historyPath).size
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
        await new Promise<void>((resolve, reject) => createReadStream(historyPath).on('error', reject).pipe(res).on('finish', resolve).on('error', reject))
        return undefined
      }
      case 'POST /release':
        await drop('run released')
        rmSync(historyPath, { force: true })
        return { ok: true }
      default:
        throw new HttpError(404, `no route ${route}`)
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).then(
      (out) => {
        // A long request (prepare, finish) counts as hearing the runner until it is answered.
        heard = monotonicNow()
        if (out === undefined) return
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(out))
      },
      (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500
        if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }))
      },
    )
  })
  // /finish waits as long as the run's schedule: no request timeout.
  server.requestTimeout = 0
  server.headersTimeout = 0
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()))
  } catch (err) {
    process.stderr.write(`faultline worker: cannot listen on ${listen}: ${(err as Error).message}\n`)
    clearInterval(heartbeat)
    return 2
  }
  const addr = server.address()
  const bound = typeof addr === 'object' && addr !== null ? `${host}:${addr.port}` : listen
  process.stdout.write(`${JSON.stringify({ msg: 'worker listening', address: bound, pid: process.pid })}\n`)
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      clearInterval(heartbeat)
      server.closeAllConnections()
      void bounded(drop('stopping'), 5000).finally(() => server.close(() => resolve(0)))
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    if (flags.exitWithParent) {
      process.stdin.on('end', stop)
      process.stdin.on('error', stop)
      process.stdin.resume()
    }
  })
}
