// One proxied connection: the client's socket, the upstream socket, and a Flow per direction (upstream: client
// to server; downstream: back). A flow with no toxic pipes the source into the destination (stream.pipe: no
// allocation or copy of ours per chunk); a toxic switches it to a chain of stages fed by 'data' events, and
// removing the last toxic switches it back once the chain has handed on what it held, so order is kept.
// A FIN on a direct pipe is passed on as a half-close; an end through toxics (a FIN, or a toxic that ends the
// stream) closes the whole connection, as Toxiproxy does.

import type { Socket } from 'node:net'
import { type Attributes, createStage, type LinkControl, type Sink, type Stage, type Stream, type ToxicType } from './toxics.ts'

/** A toxic as one link sees it. */
export interface LinkToxic {
  readonly name: string
  readonly type: ToxicType
  readonly stream: Stream
  readonly toxicity: number
  readonly attributes: Attributes
}

const now = (): number => performance.now()

class Flow implements Sink {
  private readonly src: Socket
  private readonly dst: Socket
  private readonly link: Link
  readonly stages: Stage[] = []
  private piping = false
  private ended = false
  private readonly onData = (chunk: Buffer): void => {
    const first = this.stages[0]
    if (first) {
      first.push(chunk)
      if (this.stages.some((s) => s.full)) this.src.pause()
    } else this.push(chunk)
  }

  constructor(src: Socket, dst: Socket, link: Link) {
    this.src = src
    this.dst = dst
    this.link = link
    dst.on('drain', () => {
      if (!this.piping && !this.stages.some((s) => s.full)) src.resume()
    })
    src.on('end', () => {
      const first = this.stages[0]
      if (first) first.end()
      else this.end()
    })
    this.pipe()
  }

  private pipe(): void {
    if (this.piping || this.ended) return
    this.src.off('data', this.onData)
    this.piping = true
    this.src.pipe(this.dst, { end: false })
  }

  private chain(): void {
    if (!this.piping) return
    this.piping = false
    this.src.unpipe(this.dst)
    this.src.on('data', this.onData)
    if (!this.dst.writableNeedDrain) this.src.resume()
  }

  /** The chain's end: into the destination socket. */
  push(chunk: Buffer): void {
    if (this.ended || this.dst.destroyed) return
    if (!this.dst.write(chunk)) this.src.pause()
  }

  end(): void {
    if (this.ended) return
    this.ended = true
    this.src.unpipe(this.dst)
    this.src.off('data', this.onData)
    // Without toxics an end is a half-close, as TCP has it (the other direction may still answer; the sockets
    // close once both ends are done). Through toxics it closes the whole connection, as Toxiproxy does.
    if (this.stages.length === 0) this.dst.end()
    else this.dst.end(() => this.link.destroy())
  }

  /** A stage's backlog shrank. */
  drained(): void {
    if (!this.piping && !this.stages.some((s) => s.full) && !this.dst.writableNeedDrain) this.src.resume()
  }

  add(t: LinkToxic, control: LinkControl): void {
    const stage = createStage(t.type, t.name, this, control, t.attributes)
    const last = this.stages[this.stages.length - 1]
    if (last) last.next = stage
    this.stages.push(stage)
    this.chain()
  }

  remove(name: string): void {
    const i = this.stages.findIndex((s) => s.name === name)
    if (i < 0) return
    const stage = this.stages[i]!
    const after: Sink = this.stages[i + 1] ?? this
    const before = this.stages[i - 1]
    if (before) before.next = after
    this.stages.splice(i, 1)
    stage.next = after
    stage.flush()
    if (this.stages.length === 0 && this.stages.every((s) => s.queued === 0)) this.pipe()
  }

  update(name: string, attrs: Attributes): void {
    this.stages.find((s) => s.name === name)?.update(attrs)
  }

  has(name: string): boolean {
    return this.stages.some((s) => s.name === name)
  }

  stop(): void {
    this.ended = true
    for (const s of this.stages) s.next = { push() {}, end() {} }
    for (const s of this.stages) s.flush()
  }
}

export class Link {
  readonly client: Socket
  readonly upstream: Socket
  private readonly flows: Record<Stream, Flow>
  private readonly onClose: (l: Link) => void
  private closed = false

  constructor(client: Socket, upstream: Socket, toxics: readonly LinkToxic[], onClose: (l: Link) => void) {
    this.client = client
    this.upstream = upstream
    this.onClose = onClose
    for (const s of [client, upstream]) {
      s.setNoDelay(true)
      s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? this.reset() : this.destroy()))
      s.on('close', () => this.destroy())
    }
    this.flows = { upstream: new Flow(client, upstream, this), downstream: new Flow(upstream, client, this) }
    for (const t of toxics) this.addToxic(t)
  }

  private control(flow: Flow): LinkControl {
    return { reset: () => this.reset(), drained: () => flow.drained(), now }
  }

  /** Rolls the toxic's toxicity for this connection, as Toxiproxy does per link. */
  addToxic(t: LinkToxic): void {
    if (this.closed || !(Math.random() < t.toxicity)) return
    const flow = this.flows[t.stream]
    flow.add(t, this.control(flow))
  }

  updateToxic(t: LinkToxic): void {
    const flow = this.flows[t.stream]
    if (flow.has(t.name)) flow.update(t.name, t.attributes)
    else this.addToxic(t)
  }

  removeToxic(t: Pick<LinkToxic, 'name' | 'stream'>): void {
    this.flows[t.stream].remove(t.name)
  }

  /** RST to both peers (reset_peer, or a peer that reset us). */
  reset(): void {
    if (this.closed) return
    for (const s of [this.client, this.upstream]) if (!s.destroyed) s.resetAndDestroy()
    this.destroy()
  }

  destroy(): void {
    if (this.closed) return
    this.closed = true
    this.flows.upstream.stop()
    this.flows.downstream.stop()
    this.client.destroy()
    this.upstream.destroy()
    this.onClose(this)
  }
}
