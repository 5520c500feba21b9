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
//
// Nothing a peer sends reaches Raft or the controller unchecked (wire-validate.ts): a frame that is not JSON,
// not of a known shape, or breaks a sender rule (a vote from a non-voter, a fetch naming another replica) is
// logged (one warn line, the peer's address and what was wrong) and its connection closed; frames after it on
// that connection are dropped too. A response of the wrong shape fails the request it answers. A request whose
// handler throws is answered with the error.

import { connect, createServer, type Server, type Socket } from 'node:net'
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket, type TlsOptions } from 'node:tls'
import { encodeFrame, FrameDecoder, FrameSizeError } from '../protocol/framing.ts'
import { localAddressFor } from '../local-address.ts'
import type { Logger } from '../logger.ts'
import type { RaftMessage, RaftTransport } from './raft-types.ts'
import { checkControllerArgs, checkControllerResult, checkFrame, checkRaftMessage, type ControllerMethod, type Frame, MAX_FRAME, raftMessage, showValue } from './wire-validate.ts'

export interface PeerAddress {
  readonly host: string
  readonly port: number
}

/** Requests a node serves: method name -> handler (values in, values out). Arguments arrive checked. */
export type RequestHandler = (method: ControllerMethod, args: unknown) => Promise<unknown>

/** A request the peer answered with an error (as opposed to a lost connection or a timeout). */
export class ControllerRequestError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ControllerRequestError'
  }
}

const MAX_QUEUED = 10_000
/** Longest error text sent back or logged. */
const MAX_TEXT = 1000
/** Invalid frames from one host are logged at most this often (the rest counted), so a peer that reconnects
 *  and repeats itself does not flood the log. */
const WARN_INTERVAL_MS = 1000

const clip = (s: string, max = MAX_TEXT): string => (s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s)
const errorText = (err: unknown): string => clip(err instanceof Error ? err.message : typeof err === 'string' ? err : showValue(err))

function encode(f: Frame): Buffer {
  return encodeFrame(
    JSON.stringify(f, function (this: Record<string, unknown>, key, value: unknown) {
      const orig = this[key]
      return Buffer.isBuffer(orig) ? { $b: orig.toString('base64') } : value
    }),
  )
}

function decode(body: Buffer): unknown {
  return JSON.parse(body.toString('utf8'), (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && typeof (v as { $b?: unknown }).$b === 'string') return Buffer.from((v as { $b: string }).$b, 'base64')
    return v
  })
}

/**
 * Reads frames off a socket and hands each well-formed one to onFrame, in order. A frame too large, not JSON
 * or not a frame, or one onFrame rejects (by returning a reason), goes to onInvalid and ends the connection:
 * nothing after it is read.
 */
function frames(sock: Socket, onFrame: (f: Frame) => string | null, onInvalid: (reason: string) => void): void {
  const decoder = new FrameDecoder(MAX_FRAME)
  const invalid = (reason: string): void => {
    decoder.clear()
    if (sock.destroyed) return
    sock.destroy()
    onInvalid(reason)
  }
  sock.on('data', (chunk: Buffer) => {
    decoder.push(chunk)
    while (!sock.destroyed) {
      let body: Buffer | null
      try {
        body = decoder.next()
      } catch (err) {
        if (!(err instanceof FrameSizeError)) throw err
        // The prefix is a u32 here: a size with the top bit set reads as what it says, not negative.
        return invalid(`frame of ${err.size >>> 0} bytes, more than ${MAX_FRAME}`)
      }
      if (body === null) return
      let f: unknown
      try {
        f = decode(body)
      } catch (err) {
        return invalid(`not JSON (${errorText(err)}): ${clip(body.toString('utf8', 0, 80), 80)}`)
      }
      const bad = checkFrame(f)
      if (bad !== null) return invalid(`frame${bad}`)
      let rejected: string | null
      try {
        rejected = onFrame(f as Frame)
      } catch (err) {
        // A bug of ours, not the peer's; still not worth the process.
        rejected = `failed to handle a ${(f as Frame).k} frame: ${errorText(err)}`
      }
      if (rejected !== null) return invalid(rejected)
    }
  })
}

interface Pending {
  readonly method: ControllerMethod
  readonly args: unknown
  readonly settle: (r: { ok: true; result: unknown } | { ok: false; error: Error }) => void
}

interface Outgoing {
  sock: Socket | null
  connected: boolean
  queue: Buffer[]
  pending: Map<number, Pending>
}

/** `root` followed by a check's answer (a path, or ': ...'). */
const at = (root: string, e: string): string => `${root}${e}`

export interface ControllerChannelOptions {
  /** Invalid frames from one host are logged at most once per this many ms (default 1000); the rest are counted. */
  readonly warnIntervalMs?: number
  /** This broker's own address: connections to peers are bound to it (broker/local-address.ts). */
  readonly localHost?: string
  /** The CONTROLLER listener is SSL: mutual TLS both ways (the server requires a client certificate), so a node
   *  without a certificate from the truststore's CA can neither dial in nor be dialled. */
  readonly tls?: { readonly server: TlsOptions; readonly client: ConnectionOptions }
}

export class ControllerChannel implements RaftTransport {
  readonly #nodeId: number
  readonly #peers: Map<number, PeerAddress>
  /** The voters: every node with a CONTROLLER address (controller.quorum.voters, or this node alone). */
  readonly #voters = new Set<number>()
  readonly #log: Logger
  readonly #warnIntervalMs: number
  readonly #localHost: string | undefined
  readonly #tls: ControllerChannelOptions['tls']
  readonly #warned = new Map<string, { last: number; suppressed: number }>()
  readonly #out = new Map<number, Outgoing>()
  readonly #in = new Map<number, Socket>()
  readonly #sockets = new Set<Socket>()
  #server: Server | null = null
  #raftHandler: ((from: number, m: RaftMessage) => void) | null = null
  #requestHandler: RequestHandler | null = null
  #nextId = 1
  #closed = false

  constructor(nodeId: number, peers: ReadonlyMap<number, PeerAddress>, log: Logger, options: ControllerChannelOptions = {}) {
    this.#nodeId = nodeId
    this.#peers = new Map(peers)
    for (const id of peers.keys()) this.#voters.add(id)
    this.#log = log
    this.#warnIntervalMs = options.warnIntervalMs ?? WARN_INTERVAL_MS
    this.#localHost = options.localHost
    this.#tls = options.tls
  }

  /** Binds the CONTROLLER listener; resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    const tls = this.#tls
    const server = tls ? createTlsServer({ ...tls.server, requestCert: true, rejectUnauthorized: true }, (sock) => this.#accept(sock)) : createServer((sock) => this.#accept(sock))
    if (tls) {
      server.on('tlsClientError', (err: Error, sock: TLSSocket) => {
        this.#warnOnce(`tls:${sock.remoteAddress}`, 'controller channel: TLS handshake refused; connection closed', err.message, 'warn', { peer: `${sock.remoteAddress}:${sock.remotePort}` })
        sock.destroy()
      })
    }
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
    this.#voters.add(id)
  }

  onMessage(handler: (from: number, message: RaftMessage) => void): void {
    this.#raftHandler = handler
  }

  onRequest(handler: RequestHandler): void {
    this.#requestHandler = handler
  }

  send(to: number, message: RaftMessage): void {
    if (this.#closed) return
    // Ours, so a bug if wrong: the peer would close the connection on it; dropping it here says why.
    const bad = raftMessage(message)
    if (bad !== null) return this.#warnOnce('outgoing', `controller channel: dropped an invalid raft message of ours to node ${to}`, at('message', bad), 'error')
    const frame = encode({ k: 'raft', m: message })
    if (!this.#peers.has(to)) {
      const inbound = this.#in.get(to)
      if (inbound && !inbound.destroyed) inbound.write(frame)
      return
    }
    this.#write(to, frame)
  }

  /**
   * A request to node `to`; resolves with its result (checked against the method's answer) or rejects: with a
   * ControllerRequestError when the peer answered with an error, with an Error when the connection failed,
   * time ran out or the answer was not one.
   */
  request<T>(to: number, method: ControllerMethod, args: unknown, timeoutMs: number): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('channel closed'))
    if (!this.#peers.has(to)) return Promise.reject(new Error(`no controller address for node ${to}`))
    const bad = checkControllerArgs(method, args)
    if (bad !== null) return Promise.reject(new Error(`invalid controller request: ${at('request', bad)}`))
    let frame: Buffer
    try {
      frame = encode({ k: 'req', id: this.#nextId, method, args })
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(errorText(err)))
    }
    const id = this.#nextId++
    const out = this.#outgoing(to)
    return new Promise<T>((resolve, reject) => {
      // Wall-clock timer on purpose: this guards a socket, not broker logic, like the socket server's timers.
      const timer = setTimeout(() => {
        out.pending.delete(id)
        reject(new Error(`controller request ${method} to node ${to} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref?.()
      out.pending.set(id, {
        method,
        args,
        settle: (r) => {
          clearTimeout(timer)
          if (r.ok) resolve(r.result as T)
          else reject(r.error)
        },
      })
      this.#write(to, frame)
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const out of this.#out.values()) {
      for (const p of out.pending.values()) p.settle({ ok: false, error: new Error('channel closed') })
      out.pending.clear()
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

  /** One log line per invalid frame, at most one per host per interval (the rest are counted into the next). */
  #warnOnce(key: string, msg: string, reason: string, level: 'warn' | 'error' = 'warn', fields: Record<string, unknown> = {}): void {
    const now = Date.now()
    const w = this.#warned.get(key)
    if (w && now - w.last < this.#warnIntervalMs) {
      w.suppressed++
      return
    }
    if (this.#warned.size >= 1000) this.#warned.clear()
    this.#warned.set(key, { last: now, suppressed: 0 })
    this.#log[level](msg, { ...fields, reason: clip(reason), ...(w && w.suppressed > 0 ? { suppressedSinceLast: w.suppressed } : {}) })
  }

  #invalid(host: string, peer: string, reason: string): void {
    this.#warnOnce(host, 'controller channel: invalid frame; connection closed', reason, 'warn', { peer })
  }

  #dial(to: number, out: Outgoing): void {
    const addr = this.#peers.get(to)!
    const localAddress = localAddressFor(this.#localHost, addr.host)
    const bind = localAddress === undefined ? {} : { localAddress }
    const sock = this.#tls ? tlsConnect({ ...this.#tls.client, host: addr.host, port: addr.port, ...bind }) : connect({ host: addr.host, port: addr.port, ...bind })
    sock.setNoDelay(true)
    out.sock = sock
    this.#sockets.add(sock)
    sock.on(this.#tls ? 'secureConnect' : 'connect', () => {
      out.connected = true
      sock.write(encode({ k: 'hello', from: this.#nodeId }))
      for (const f of out.queue) sock.write(f)
      out.queue = []
    })
    const drop = (): void => {
      this.#sockets.delete(sock)
      if (out.sock !== sock) return
      out.sock = null
      out.connected = false
      out.queue = []
      const pending = [...out.pending.values()]
      out.pending.clear()
      for (const p of pending) p.settle({ ok: false, error: new Error(`connection to node ${to} lost`) })
    }
    frames(
      sock,
      (f) => {
        if (f.k === 'raft') {
          const bad = checkRaftMessage(f.m, to, this.#voters)
          if (bad !== null) return at('frame.m', bad)
          this.#raftHandler?.(to, f.m)
          return null
        }
        if (f.k !== 'res') return `a ${f.k} frame on a connection this node dialled`
        const p = out.pending.get(f.id)
        // A late answer to a request that timed out.
        if (!p) return null
        out.pending.delete(f.id)
        let bad: string | null
        if (!f.ok) bad = typeof f.result === 'string' ? null : at('frame.result', `: expected an error message, got ${showValue(f.result)}`)
        else bad = checkControllerResult(p.method, f.result, p.args)
        if (bad !== null) {
          const reason = f.ok ? at(`answer to ${p.method}: result`, bad) : bad
          p.settle({ ok: false, error: new Error(`invalid answer from node ${to}: ${clip(reason)}`) })
          return reason
        }
        p.settle(f.ok ? { ok: true, result: f.result } : { ok: false, error: new ControllerRequestError(clip(f.result as string)) })
        return null
      },
      (reason) => {
        this.#invalid(addr.host, `node ${to} at ${addr.host}:${addr.port}`, reason)
        // At once, not on 'close': a request made meanwhile dials a new connection instead of this dead one.
        drop()
      },
    )
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
    const host = sock.remoteAddress ?? 'unknown'
    const address = `${host}:${sock.remotePort ?? '?'}`
    let from: number | null = null
    frames(
      sock,
      (f) => {
        if (f.k === 'hello') {
          if (from !== null) return `a second hello (node ${f.from}) from node ${from}`
          if (f.from === this.#nodeId) return `hello from node ${f.from}, which is this node`
          from = f.from
          this.#in.set(from, sock)
          return null
        }
        if (from === null) return `a ${f.k} frame before hello`
        if (f.k === 'raft') {
          const bad = checkRaftMessage(f.m, from, this.#voters)
          if (bad !== null) return at('frame.m', bad)
          this.#raftHandler?.(from, f.m)
          return null
        }
        if (f.k === 'res') return `a res frame (id ${f.id}) on a connection node ${from} dialled`
        const bad = checkControllerArgs(f.method, f.args, from)
        if (bad !== null) return at(`frame (req ${f.id})`, bad)
        this.#serve(sock, f.id, f.method, f.args)
        return null
      },
      (reason) => this.#invalid(host, from === null ? address : `node ${from} at ${address}`, reason),
    )
    sock.on('error', () => sock.destroy())
    sock.on('close', () => {
      this.#sockets.delete(sock)
      if (from !== null && this.#in.get(from) === sock) this.#in.delete(from)
    })
  }

  /** Runs a checked request and answers it; a handler that throws or rejects is answered with its error. */
  #serve(sock: Socket, id: number, method: ControllerMethod, args: unknown): void {
    const reply = (ok: boolean, result: unknown): void => {
      if (sock.destroyed) return
      let frame: Buffer
      try {
        frame = encode({ k: 'res', id, ok, result })
      } catch (err) {
        const text = `${method}: the answer could not be encoded: ${errorText(err)}`
        this.#log.warn('controller request failed', { method, err: text })
        frame = encode({ k: 'res', id, ok: false, result: text })
      }
      sock.write(frame)
    }
    const handler = this.#requestHandler
    if (!handler) return reply(false, 'this node serves no controller requests')
    let answer: Promise<unknown>
    try {
      answer = Promise.resolve(handler(method, args))
    } catch (err) {
      answer = Promise.reject(err)
    }
    answer
      .then(
        (r) => reply(true, r),
        (err: unknown) => {
          this.#log.warn('controller request failed', { method, err: errorText(err) })
          reply(false, errorText(err))
        },
      )
      .catch((err: unknown) => this.#log.error('controller channel: could not answer a request', { method, err: errorText(err) }))
  }
}
