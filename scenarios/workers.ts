// Load workers, the runner's side (`workload.workers`; the worker itself is scenarios/worker.ts).
//
// workers: N starts N `faultline worker` processes on this machine (127.0.0.1, OS-chosen ports; each on the
// run's teardown stack and in its ledger, and each exits when its stdin closes, i.e. when the runner dies);
// workers: [ "host:port", ... ] uses `faultline worker --listen` processes started elsewhere. Either way the
// runner drives them over HTTP/JSON: a plan each (planWorkers: producer clients split among them, or each
// running every client at 1/N of the rate when there are fewer clients than workers; consumer group members
// split among them; value ids in blocks so they stay unique), the origin, a status poll twice a second that
// is also their heartbeat, the producers' summaries, and finally their history files, which merge() joins with
// the runner's own (phases, faults) into the one history.bin the checker reads.
//
// Clocks: a worker with the runner's boot id shares its monotonic clock; another one gets the origin on its own
// clock (offset measured over /info, the round trip with the shortest time), and end-to-end latency is kept
// only for records consumed on the clock they were produced on (results.json's loadGenerator.clocks says so).
// A worker that exits or stops answering fails the run (exit 3) with a message naming it.

import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { CLI_PATH } from '../chaos/cluster/broker-process.ts'
import { type LedgerResource, processStartTime } from '../chaos/ledger.ts'
import type { TeardownStack } from '../chaos/teardown.ts'
import type { MergedLiveStats } from '../reports/progress.ts'
import type { ProcessLoadInput } from '../reports/saturation.ts'
import type { ConnectOptions, TlsOptions } from '../workloads/driver.ts'
import { deriveSeed, sizeBounds } from '../workloads/generators.ts'
import { mergeHistories } from '../workloads/history/merge.ts'
import type { ProcessLoad } from '../workloads/load-monitor.ts'
import type { ProducerSummary } from '../workloads/producer.ts'
import { monotonicNow } from '../workloads/rate.ts'
import type { Scenario, Workers } from './schema.ts'
import { bootId, type WorkerConsumers, type WorkerInfo, type WorkerPlan, type WorkerProducers, type WorkerStatus, type WorkerStopped } from './worker.ts'

/** Value ids per block (scenarios/worker.ts BlockValueIds). */
const VALUE_BLOCK = 4096
const POLL_MS = 500
/** A worker that has not answered for this long is lost; a worker that has not heard its runner for this long stops. */
const HEARTBEAT_MS = 5000

export class WorkerLost extends Error {
  readonly code = 'ERR_RUN_WORKER'
  constructor(message: string) {
    super(message)
    this.name = 'WorkerLost'
  }
}

interface Member {
  readonly index: number
  /** host:port of its control API. */
  readonly address: string
  readonly local: ChildProcess | null
  pid: number
  /** Its clock minus the runner's, ms (0 when shared), and the uncertainty of that. */
  offsetMs: number
  offsetErrorMs: number
  sameClockAsRunner: boolean
  domain: string
  stopped: WorkerStopped | null
  /** Monotonic ms of its last answer. */
  answeredAt: number
  /** The newest status absorbed. */
  seq: number
}

const describe = (m: Member): string => `worker ${m.index} (${m.address}${m.local ? `, pid ${m.pid}` : ''})`

/** Spawns `faultline worker` on 127.0.0.1 and waits for its listening line. */
async function spawnLocal(index: number, dir: string, timeoutMs = 20_000): Promise<{ proc: ChildProcess; address: string; pid: number }> {
  mkdirSync(dir, { recursive: true })
  const proc = spawn(process.execPath, [CLI_PATH, 'worker', '--listen', '127.0.0.1:0', '--dir', dir, '--exit-with-parent'], { stdio: ['pipe', 'pipe', 'pipe'] })
  proc.stdin!.on('error', () => {})
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const address = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new WorkerLost(`load worker ${index} did not start within ${timeoutMs} ms: ${stderr.trim() || '(no output)'}`))
    }, timeoutMs)
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      try {
        resolve((JSON.parse(buf.slice(0, nl)) as { address: string }).address)
      } catch {
        reject(new WorkerLost(`load worker ${index} said ${JSON.stringify(buf.slice(0, nl))}, expected its listening line`))
      }
    })
    proc.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new WorkerLost(`load worker ${index} exited (${signal ?? `code ${code}`}) before it started: ${stderr.trim() || '(no output)'}`))
    })
  })
  return { proc, address, pid: proc.pid! }
}

async function call<T>(m: Member, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs: number | null = 10_000): Promise<T> {
  let res: Response
  try {
    res = await fetch(`http://${m.address}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs),
    })
  } catch (err) {
    const cause = (err as Error).cause as NodeJS.ErrnoException | undefined
    throw new WorkerLost(`${describe(m)} did not answer ${method} ${path}: ${cause?.code ?? (err as Error).message}`)
  }
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new WorkerLost(`${describe(m)} answered ${method} ${path} with ${res.status} and no JSON: ${text.slice(0, 200)}`)
  }
  if (!res.ok) throw new WorkerLost(`${describe(m)} refused ${method} ${path}: ${(json as { error?: string }).error ?? res.status}`)
  return json as T
}

/** Preflight: a problem line for each address where no idle `faultline worker` answers. */
export async function unreachableWorkers(addresses: readonly string[], timeoutMs = 3000): Promise<string[]> {
  const problems = await Promise.all(
    addresses.map(async (address, i) => {
      try {
        const res = await fetch(`http://${address}/info`, { signal: AbortSignal.timeout(timeoutMs) })
        const info = (await res.json()) as Partial<WorkerInfo>
        if (typeof info.faultline !== 'string') return `workload.workers[${i}]: ${address} answers, but not as a faultline worker; expected \`faultline worker --listen ${address}\` there`
        if (info.busy) return `workload.workers[${i}]: the faultline worker at ${address} is part of another run; expected an idle worker`
        return null
      } catch (err) {
        const c = (err as Error).cause as NodeJS.ErrnoException | undefined
        const cause = c?.code ?? c?.message ?? (err as Error).message
        return `workload.workers[${i}]: no faultline worker answers at ${address} (${cause}); expected \`faultline worker --listen ${address}\` running there`
      }
    }),
  )
  return problems.filter((p): p is string => p !== null)
}

/** PEM as text, so the connect options travel as JSON. */
function wireConnect(c: ConnectOptions): ConnectOptions {
  const tls = c.tls
  if (tls === undefined || tls === true) return { ...c, logger: undefined }
  const text = (v: string | Buffer | undefined): string | undefined => (v === undefined ? undefined : v.toString('utf8'))
  const t: TlsOptions = { ...tls, ca: text(tls.ca), cert: text(tls.cert), key: text(tls.key) }
  return { ...c, tls: t, logger: undefined }
}

/** What each of `n` workers runs (see the header); the rates add up to the scenario's. */
export function planWorkers(s: Scenario, n: number, base: { connect: ConnectOptions; seed: number; groupPrefix: string; sameClock: readonly (readonly boolean[])[] }): WorkerPlan[] {
  const w = s.workload
  const partitionsOf = new Map(s.topics.map((t) => [t.name, t.partitions]))
  const producers: WorkerProducers[][] = Array.from({ length: n }, () => [])
  for (const [gi, pg] of w.producers.entries()) {
    const perLoop = pg.count * pg.topics.length
    const maxSize = sizeBounds(pg.messageSize).max
    const poolSize = Math.max(8, Math.min(1000, Math.floor((64 << 20) / maxSize)))
    const split = pg.count >= n
    for (let k = 0; k < n; k++) {
      for (let c = 0; c < pg.count; c++) {
        if (split && c % n !== k) continue
        const share = split ? perLoop : perLoop * n
        const suffix = split ? '' : `@w${k}`
        producers[k]!.push({
          client: `${pg.name}-${c}${suffix}`,
          options: { acks: pg.acks, idempotent: pg.idempotent, compression: pg.compression, lingerMs: pg.lingerMs, batchBytes: pg.batchBytes, maxInFlight: pg.maxInFlight, deliveryTimeoutMs: pg.deliveryTimeoutMs },
          loops: pg.topics.map((topic) => ({
            name: `${perLoop === 1 ? pg.name : `${pg.name}-${c}${pg.topics.length > 1 ? `-${topic}` : ''}`}${suffix}`,
            topic,
            partitions: partitionsOf.get(topic)!,
            rate: pg.rate.kind === 'max' ? { kind: 'max' as const } : { kind: 'fixed' as const, perSecond: pg.rate.perSecond / share },
            keys: pg.keys,
            sizes: pg.messageSize,
            batchBytes: pg.batchBytes,
            payload: { randomBytesRatio: pg.randomness, poolSize },
            seed: split ? deriveSeed(base.seed, 'producer', gi, c, topic) : deriveSeed(base.seed, 'producer', gi, c, topic, 'worker', k),
          })),
        })
      }
    }
  }
  return Array.from({ length: n }, (_, k): WorkerPlan => ({
    index: k,
    count: n,
    driver: w.driver,
    connect: wireConnect(base.connect),
    durationMs: w.durationMs,
    warmupMs: w.warmupMs,
    heartbeatMs: HEARTBEAT_MS,
    valueBlock: VALUE_BLOCK,
    sameClock: base.sameClock[k]!,
    consumers: w.consumers.map((cg): WorkerConsumers => ({
      name: cg.name,
      topics: cg.topics,
      groups: cg.groups,
      membersPerGroup: cg.membersPerGroup,
      members: Array.from({ length: cg.membersPerGroup }, (_, m) => m).filter((m) => m % n === k),
      from: cg.from,
      groupIdPrefix: `${base.groupPrefix}-${cg.name}`,
    })),
    producers: producers[k]!,
  }))
}

export interface FleetOptions {
  readonly outDir: string
  readonly teardown: TeardownStack
  readonly live: MergedLiveStats
  readonly log: (line: string) => void
  /** A local worker's own messages (stderr), for the run's log file. */
  readonly logQuietly?: (line: string) => void
  /** A worker exited or stopped answering: the run must stop (exit 3). */
  readonly onLost: (err: WorkerLost) => void
}

/** The run's load workers, from start to their merged history. */
export class WorkerFleet {
  private readonly o: FleetOptions
  private readonly members: Member[] = []
  private readonly dir: string
  private poller: NodeJS.Timeout | null = null
  private closing = false
  private lost: WorkerLost | null = null
  /** The run's origin on the runner's clock, once started. */
  private originMs: number | null = null
  private readonly histories: string[] = []

  private constructor(o: FleetOptions) {
    this.o = o
    this.dir = join(o.outDir, 'workers')
  }

  get size(): number {
    return this.members.length
  }

  /** Starts (local) or reaches (remote) every worker; each local one joins the teardown stack and the ledger. */
  static async open(spec: Workers, o: FleetOptions): Promise<WorkerFleet> {
    const fleet = new WorkerFleet(o)
    const runnerBoot = bootId()
    const count = spec.kind === 'local' ? spec.count : spec.addresses.length
    // Started side by side: a process takes seconds to load on a busy machine.
    const spawning = spec.kind === 'local' ? Array.from({ length: count }, (_, i) => spawnLocal(i, join(fleet.dir, `w${i}`))) : []
    // Whatever started is stopped even when another one failed to.
    spawning.forEach((p, i) => o.teardown.add(`load worker ${i} process`, async () => {
      const started = await p.catch(() => null)
      if (started) await stopProcess(started.proc)
    }))
    for (let i = 0; i < count; i++) {
      let m: Member
      if (spec.kind === 'local') {
        const { proc, address, pid } = await spawning[i]!
        let partial = ''
        proc.stderr!.on('data', (d: Buffer) => {
          const lines = (partial + d.toString()).split('\n')
          partial = lines.pop()!
          for (const l of lines) if (l !== '') o.logQuietly?.(`worker ${i}: ${l}`)
        })
        const resource: LedgerResource = { kind: 'process', pid, startTime: processStartTime(pid), marker: 'worker --listen', description: `faultline load worker ${i}` }
        // In the ledger once its pid is known; its teardown step above stops it.
        o.teardown.add(`load worker ${i} ledger entry`, () => stopProcess(proc), { ledger: resource })
        m = { index: i, address, local: proc, pid, offsetMs: 0, offsetErrorMs: 0, sameClockAsRunner: true, domain: runnerBoot ?? 'local', stopped: null, answeredAt: monotonicNow(), seq: 0 }
        proc.once('exit', (code, signal) => fleet.fail(m, `exited (${signal ?? `code ${code}`})`))
      } else {
        m = { index: i, address: spec.addresses[i]!, local: null, pid: 0, offsetMs: 0, offsetErrorMs: 0, sameClockAsRunner: false, domain: '', stopped: null, answeredAt: monotonicNow(), seq: 0 }
      }
      fleet.members.push(m)
      await fleet.measureClock(m, runnerBoot)
    }
    // After the processes' own steps, so it unwinds first: histories are collected before the processes stop.
    o.teardown.add('load workers', () => fleet.close(), { timeoutMs: 60_000 })
    o.log(`workers: ${fleet.members.map((m) => `${describe(m)}${m.sameClockAsRunner ? '' : `, clock offset ${m.offsetMs.toFixed(1)} ± ${m.offsetErrorMs.toFixed(1)} ms`}`).join('; ')}`)
    return fleet
  }

  /** Boot ids decide whether the worker shares the runner's clock; otherwise the offset from the fastest of 5 round trips. */
  private async measureClock(m: Member, runnerBoot: string | null): Promise<void> {
    let best: { rtt: number; offset: number } | null = null
    let info: WorkerInfo | null = null
    for (let i = 0; i < 5; i++) {
      const t0 = monotonicNow()
      info = await call<WorkerInfo>(m, 'GET', '/info')
      const t1 = monotonicNow()
      if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: info.clockMs - (t0 + t1) / 2 }
    }
    if (info!.busy) throw new WorkerLost(`${describe(m)} is already part of another run; expected an idle worker`)
    m.pid = info!.pid
    m.sameClockAsRunner = runnerBoot !== null && info!.bootId === runnerBoot
    m.domain = info!.bootId ?? `unknown-${m.index}`
    if (!m.sameClockAsRunner) {
      m.offsetMs = best!.offset
      m.offsetErrorMs = best!.rtt / 2
    }
  }

  /** Sends each worker its plan; resolves when every worker's clients are up (consumers started). */
  async prepare(s: Scenario, base: { connect: ConnectOptions; seed: number; groupPrefix: string }): Promise<void> {
    const sameClock = this.members.map((a) => this.members.map((b) => a.domain === b.domain))
    const plans = planWorkers(s, this.members.length, { ...base, sameClock })
    await Promise.all(this.members.map((m, i) => call(m, 'POST', '/prepare', plans[i], 120_000)))
    // From here on a worker answers its status at once; before, preparing may keep it busy for seconds.
    for (const m of this.members) m.answeredAt = monotonicNow()
    this.poller = setInterval(() => this.poll(), POLL_MS)
    const loops = plans.map((p) => p.producers.reduce((n, c) => n + c.loops.length, 0))
    const members = plans.map((p) => p.consumers.reduce((n, c) => n + c.members.length * c.groups, 0))
    this.o.log(`workers: ${plans.map((_, k) => `worker ${k}: ${loops[k]} producer loops, ${members[k]} consumer members`).join('; ')}`)
  }

  /** Starts every worker's load on the origin (runner's clock); resolves with the producers' summaries. */
  startLoad(originMs: number): Promise<ProducerSummary[]> {
    this.originMs = originMs
    const started = Promise.all(this.members.map((m) => call(m, 'POST', '/start', { originMs: originMs + m.offsetMs })))
    const finish = (m: Member): Promise<ProducerSummary[]> =>
      call<{ summaries: ProducerSummary[] }>(m, 'POST', '/finish', undefined, null).then(
        (r) => r.summaries,
        async (err: WorkerLost) => {
          // A local worker that died: its exit (with the signal) says more than the broken connection.
          if (m.local) await new Promise((r) => setTimeout(r, 1000))
          this.fail(m, `failed: ${err.message}`)
          throw this.lost ?? err
        },
      )
    return started.then(async () => {
      const summaries = (await Promise.all(this.members.map(finish))).flat()
      // The drain compares reads with the last acked offsets: a snapshot from before the last acks would let it
      // end early, with records still unread. Later snapshots can only show more reads.
      await Promise.all(this.members.map(async (m) => this.absorb(m, await call<WorkerStatus>(m, 'GET', '/status'))))
      return summaries
    })
  }

  private poll(): void {
    if (this.closing) return
    for (const m of this.members) {
      call<WorkerStatus>(m, 'GET', '/status', undefined, POLL_MS * 4).then(
        (st) => this.absorb(m, st),
        (err: Error) => {
          if (monotonicNow() - m.answeredAt > HEARTBEAT_MS) this.fail(m, `stopped answering for ${HEARTBEAT_MS / 1000} s (${err.message})`)
        },
      )
    }
  }

  private absorb(m: Member, st: WorkerStatus): void {
    m.answeredAt = monotonicNow()
    if (st.seq <= m.seq) return
    m.seq = st.seq
    this.o.live.absorb(`w${m.index}`, st.live)
  }

  private fail(m: Member, what: string): void {
    if (this.closing || this.lost) return
    const at = this.originMs === null ? 'before the load started' : `${((monotonicNow() - this.originMs) / 1000).toFixed(1)} s into the run`
    this.lost = new WorkerLost(`load ${describe(m)} ${what} ${at}; the run stopped, since its figures would leave out that worker's load`)
    this.o.onLost(this.lost)
  }

  /** Teardown: every worker closes its clients and hands over its history; local processes stop. */
  async close(): Promise<void> {
    this.closing = true
    if (this.poller) clearInterval(this.poller)
    mkdirSync(this.dir, { recursive: true })
    await Promise.all(
      this.members.map(async (m) => {
        if (m.local && (m.local.exitCode !== null || m.local.signalCode !== null)) return
        try {
          m.stopped = await call<WorkerStopped>(m, 'POST', '/stop', undefined, 30_000)
          const path = join(this.dir, `w${m.index}-history.bin`)
          const res = await fetch(`http://${m.address}/history`, { signal: AbortSignal.timeout(300_000) })
          if (!res.ok || !res.body) throw new Error(`GET /history answered ${res.status}`)
          await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(path))
          this.histories.push(path)
          await call(m, 'POST', '/release').catch(() => {})
        } catch (err) {
          this.o.log(`workers: ${describe(m)}: could not collect its history: ${(err as Error).message}`)
        }
      }),
    )
  }

  /** Consumer errors and client exceptions the workers counted, to add to the run's. */
  errors(): { consume: Record<string, number>; client: Record<string, number> } {
    const consume: Record<string, number> = {}
    const client: Record<string, number> = {}
    for (const m of this.members) {
      for (const [k, v] of Object.entries(m.stopped?.consumeErrors ?? {})) consume[k] = (consume[k] ?? 0) + v
      for (const [k, v] of Object.entries(m.stopped?.clientErrors ?? {})) client[k] = (client[k] ?? 0) + v
    }
    return { consume, client }
  }

  /** The workers' load samples, their times as history µs. */
  loads(): ProcessLoadInput[] {
    if (this.originMs === null) return []
    return this.members.flatMap((m) => (m.stopped ? [toInput(m.stopped.load, `${describe(m)}`, this.originMs! + m.offsetMs)] : []))
  }

  /** A sentence when some records cross clocks (their end-to-end latency is left out), else null. */
  clocks(): string | null {
    const domains = new Set(this.members.map((m) => m.domain))
    if (domains.size <= 1) return null
    const other = this.members.filter((m) => !m.sameClockAsRunner)
    return `the workers run on ${domains.size} clocks (${other.map((m) => `${describe(m)} offset ${m.offsetMs.toFixed(1)} ± ${m.offsetErrorMs.toFixed(1)} ms`).join(', ')}); end-to-end latency counts only records consumed on the clock they were produced on`
  }

  /** Joins the runner's own history (phases, faults) with every worker's into `historyPath`. */
  async merge(historyPath: string): Promise<string[]> {
    const own = join(this.dir, 'runner-history.bin')
    mkdirSync(this.dir, { recursive: true })
    renameSync(historyPath, own)
    const r = await mergeHistories([own, ...this.histories.sort()], historyPath)
    // The merged file holds every event: the parts would only double the disk a run takes.
    for (const p of [own, ...this.histories]) rmSync(p, { force: true })
    const problems = r.incomplete.map((p) => `the history of ${p} was cut short`)
    if (this.histories.length < this.members.length) problems.push(`${this.members.length - this.histories.length} of ${this.members.length} load workers' histories are missing`)
    return problems
  }
}

function toInput(load: ProcessLoad, name: string, originOnItsClock: number): ProcessLoadInput {
  return { name, pid: load.pid, samples: load.samples.map((s) => ({ atUs: Math.round((s.atMs - originOnItsClock) * 1000), cpu: s.cpu, busy: s.busy, loopP99Ms: s.loopP99Ms, loopMaxMs: s.loopMaxMs })) }
}

/** The harness's own samples as history µs. */
export function harnessLoad(load: ProcessLoad, originMs: number): ProcessLoadInput {
  return toInput(load, 'harness', originMs)
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}
