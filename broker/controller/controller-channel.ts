// The CONTROLLER listener: Raft messages between quorum nodes and broker-to-controller requests (register,
// heartbeat, AlterPartition, CreateTopics/DeleteTopics forwarding, producer id blocks), over TCP.
//
// This is an internal framing of our own, never seen by clients: [u32 length][UTF-8 JSON], Buffers as
// {"$b": base64}. Kafka carries the same exchanges as Kafka APIs (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch,
// FetchSnapshot, BrokerRegistration, BrokerHeartbeat, AlterPartition, Envelope, AllocateProducerIds); the Raft
// messages here are those APIs' fields as plain objects (raft-types.ts), so moving to Kafka's wire later changes
// this file only.
//
// Each node dials every peer it sends to once (a first 'hello' frame names it) and keeps that connection; a
// peer without a known address (an observer) is answered on the connection it dialled in on. Raft tolerates
// loss, so a message for a peer that is unreachable is dropped; requests fail with a value the caller retries.

import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Logger } from '../logger.ts'
import type { RaftMessage, RaftTransport } from './raft-types.ts'

export interface PeerAddress {
  readonly host: string
  readonly port: number
}

type Frame =
  | { k: 'hello'; from: number }
  | { k: 'raft'; m: RaftMessage }
  | { k: 'req'; id: number; method: string; args: unknown }
  | { k: 'res'; id: number; ok: boolean; result: unknown }

/** Requests a node serves: method name -> handler (values in, values out). */
export type RequestHandler = (method: string, args: unknown) => Promise<unknown>

const MAX_FRAME = 64 << 20
const MAX_QUEUED = 10_000

function encode(f: Frame): Buffer {
  const body = Buffer.from(
    JSON.stringify(f, function (this: Record<string, unknown>, key, value: unknown) {
      const orig = this[key]
      return Buffer.isBuffer(orig) ? { $b: orig.toString('base64') } : value
    }),
    'utf8',
  )
  const head = Buffer.allocUnsafe(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

function decode(body: Buffer): Frame {
  return JSON.parse(body.toString('utf8'), (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && typeof (v as { $b?: unknown }).$b === 'string') return Buffer.from((v as { $b: string }).$b, 'base64')
    return v
  }) as Frame
}

function frames(sock: Socket, onFrame: (f: Frame) => void): void {
  let buf: Buffer = Buffer.alloc(0)
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    while (buf.length >= 4) {
      const size = buf.readUInt32BE(0)
      if (size > MAX_FRAME) {
        sock.destroy()
        return
      }
      if (buf.length < 4 + size) break
      const body = buf.subarray(4, 4 + size)
      buf = buf.subarray(4 + size)
      let f: Frame
      try {
        f = decode(body)
      } catch {
        sock.destroy()
        return
      }
      onFrame(f)
    }
  })
}

interface Outgoing {
  sock: Socket | null
  connected: boolean
  queue: Buffer[]
  pending: Map<number, (r: { ok: boolean; result: unknown }) => void>
}

export class ControllerChannel implements RaftTransport {
  readonly #nodeId: number
  readonly #peers: Map<number, PeerAddress>
  readonly #log: Logger
  readonly #out = new Map<number, Outgoing>()
  readonly #in = new Map<number, Socket>()
  readonly #sockets = new Set<Socket>()
  #server: Server | null = null
  #raftHandler: ((from: number, m: RaftMessage) => void) | null = null
  #requestHandler: RequestHandler | null = null
  #nextId = 1
  #closed = false

  constructor(nodeId: number, peers: ReadonlyMap<number, PeerAddress>, log: Logger) {
    this.#nodeId = nodeId
    this.#peers = new Map(peers)
    this.#log = log
  }

  /** Binds the CONTROLLER listener; resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    const server = createServer((sock) => this.#accept(sock))
    this.#server = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        const addr = server.address()
        resolve(typeof addr === 'object' && addr ? addr.port : port)
      })
    })
  }

  /** Where a voter listens (learned once our own port is bound, for port 0). */
  setPeer(id: number, addr: PeerAddress): void {
    this.#peers.set(id, addr)
  }

  onMessage(handler: (from: number, message: RaftMessage) => void): void {
    this.#raftHandler = handler
  }

  onRequest(handler: RequestHandler): void {
    this.#requestHandler = handler
  }

  send(to: number, message: RaftMessage): void {
    if (this.#closed) return
    const frame = encode({ k: 'raft', m: message })
    if (!this.#peers.has(to)) {
      const inbound = this.#in.get(to)
      if (inbound && !inbound.destroyed) inbound.write(frame)
      return
    }
    this.#write(to, frame)
  }

  /** A request to node `to`; resolves with its result or rejects when the connection fails or time runs out. */
  request<T>(to: number, method: string, args: unknown, timeoutMs: number): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('channel closed'))
    if (!this.#peers.has(to)) return Promise.reject(new Error(`no controller address for node ${to}`))
    const id = this.#nextId++
    const out = this.#outgoing(to)
    return new Promise<T>((resolve, reject) => {
      // Wall-clock timer on purpose: this guards a socket, not broker logic, like the socket server's timers.
      const timer = setTimeout(() => {
        out.pending.delete(id)
        reject(new Error(`controller request ${method} to node ${to} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref?.()
      out.pending.set(id, (r) => {
        clearTimeout(timer)
        if (r.ok) resolve(r.result as T)
        else reject(new Error(String(r.result)))
      })
      this.#write(to, encode({ k: 'req', id, method, args }))
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const out of this.#out.values()) {
      for (const fn of out.pending.values()) fn({ ok: false, result: 'channel closed' })
      out.sock?.destroy()
    }
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()))
  }

  #outgoing(to: number): Outgoing {
    let out = this.#out.get(to)
    if (!out) {
      out = { sock: null, connected: false, queue: [], pending: new Map() }
      this.#out.set(to, out)
    }
    if (!out.sock) this.#dial(to, out)
    return out
  }

  #write(to: number, frame: Buffer): void {
    const out = this.#outgoing(to)
    if (out.connected && out.sock) out.sock.write(frame)
    else if (out.queue.length < MAX_QUEUED) out.queue.push(frame)
  }

  #dial(to: number, out: Outgoing): void {
    const addr = this.#peers.get(to)!
    const sock = connect({ host: addr.host, port: addr.port })
    sock.setNoDelay(true)
    out.sock = sock
    this.#sockets.add(sock)
    sock.on('connect', () => {
      out.connected = true
      sock.write(encode({ k: 'hello', from: this.#nodeId }))
      for (const f of out.queue) sock.write(f)
      out.queue = []
    })
    frames(sock, (f) => {
      if (f.k === 'res') {
        const fn = out.pending.get(f.id)
        out.pending.delete(f.id)
        fn?.({ ok: f.ok, result: f.result })
      } else if (f.k === 'raft') this.#raftHandler?.(to, f.m)
    })
    const drop = () => {
      this.#sockets.delete(sock)
      if (out.sock !== sock) return
      out.sock = null
      out.connected = false
      out.queue = []
      for (const fn of out.pending.values()) fn({ ok: false, result: `connection to node ${to} lost` })
      out.pending.clear()
    }
    sock.on('error', () => sock.destroy())
    sock.on('close', drop)
  }

  #accept(sock: Socket): void {
    if (this.#closed) {
      sock.destroy()
      return
    }
    this.#sockets.add(sock)
    sock.setNoDelay(true)
    let from: number | null = null
    frames(sock, (f) => {
      if (f.k === 'hello') {
        from = f.from
        this.#in.set(f.from, sock)
        return
      }
      if (from === null) {
        sock.destroy()
        return
      }
      if (f.k === 'raft') this.#raftHandler?.(from, f.m)
      else if (f.k === 'req') {
        const handler = this.#requestHandler
        const reply = (ok: boolean, result: unknown) => {
          if (!sock.destroyed) sock.write(encode({ k: 'res', id: f.id, ok, result }))
        }
        if (!handler) reply(false, 'this node serves no controller requests')
        else {
          handler(f.method, f.args).then(
            (r) => reply(true, r),
            (err: unknown) => {
              this.#log.warn('controller request failed', { method: f.method, err })
              reply(false, (err as Error).message)
            },
          )
        }
      }
    })
    sock.on('error', () => sock.destroy())
    sock.on('close', () => {
      this.#sockets.delete(sock)
      if (from !== null && this.#in.get(from) === sock) this.#in.delete(from)
    })
  }
}
