// A connection from this broker to another one (the follower fetcher's link to a leader): requests encoded
// with our own message declarations, answered in order, each failing after requestTimeoutMs. Any failure
// (connect, socket error, timeout, undecodable response) closes the channel and fails everything in flight, as
// Kafka's NetworkClient does; the owner opens a new one. Failures are values, never exceptions.
//
// On a SASL inter-broker listener the channel authenticates (SaslHandshake v1, SaslAuthenticate) with this
// broker's own credentials before it is handed out; a refusal is a failed connect.
//
// The replication code takes a ConnectChannel, so tests can hand in anything that answers requests.

import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { Clock, TimerHandle } from '../clock.ts'
import { localAddressFor } from '../local-address.ts'
import { beginFrame, FrameDecoder, FrameSizeError } from '../protocol/framing.ts'
import { readResponseHeader, responseHeaderIsFlexible, writeRequestHeader } from '../protocol/header.ts'
import { Reader } from '../protocol/reader.ts'
import type { ApiDecl, Fields, In, Out } from '../protocol/schema.ts'
import { Writer } from '../protocol/writer.ts'
import { SaslAuthenticate } from '../protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../protocol/messages/sasl-handshake.ts'
import { errorName } from '../protocol/errors.ts'
import type { ClientSasl } from '../listener-security.ts'
import { ScramClient } from '../sasl/scram.ts'

export type ChannelResult<T> = { ok: true; body: T } | { ok: false; error: string }

export interface BrokerChannel {
  request<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, version: number, body: In<Req>): Promise<ChannelResult<Out<Res>>>
  readonly closed: boolean
  close(): void
}

export type ConnectChannel = (endpoint: { host: string; port: number }) => Promise<ChannelResult<BrokerChannel>>

export interface TcpChannelOptions {
  clock: Clock
  clientId: string
  requestTimeoutMs: number
  connectTimeoutMs: number
  /** This broker's own address: connections are bound to it (broker/local-address.ts). */
  localHost?: string
  /** The inter-broker listener is SSL: dial with TLS (our certificate, the truststore) and wait for the handshake. */
  tls?: ConnectionOptions
  /** The inter-broker listener is SASL: authenticate with these credentials before the channel is used. */
  sasl?: ClientSasl
}

const MAX_FRAME = 256 * 1024 * 1024

export function tcpChannel(opts: TcpChannelOptions): ConnectChannel {
  return (endpoint) =>
    new Promise((resolve) => {
      const localAddress = localAddressFor(opts.localHost, endpoint.host)
      const bind = localAddress === undefined ? {} : { localAddress }
      const socket = opts.tls ? tlsConnect({ ...opts.tls, host: endpoint.host, port: endpoint.port, ...bind }) : netConnect({ host: endpoint.host, port: endpoint.port, ...bind })
      socket.setNoDelay(true)
      const timer = opts.clock.setTimeout(() => {
        socket.destroy()
        resolve({ ok: false, error: `connecting to ${endpoint.host}:${endpoint.port} timed out` })
      }, opts.connectTimeoutMs)
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        timer.cancel()
        const channel = new TcpChannel(socket, opts)
        if (!opts.sasl) return resolve({ ok: true, body: channel })
        void authenticate(channel, opts.sasl).then((error) => {
          if (error === null) return resolve({ ok: true, body: channel })
          channel.close()
          resolve({ ok: false, error: `SASL ${opts.sasl!.mechanism} authentication to ${endpoint.host}:${endpoint.port} failed: ${error}` })
        })
      })
      socket.once('error', (e) => {
        timer.cancel()
        resolve({ ok: false, error: `cannot connect to ${endpoint.host}:${endpoint.port}: ${e.message}` })
      })
    })
}

/** Runs the client side of a SASL exchange; null on success, else what went wrong. */
async function authenticate(channel: BrokerChannel, sasl: ClientSasl): Promise<string | null> {
  const hs = await channel.request(SaslHandshake, 1, { mechanism: sasl.mechanism })
  if (!hs.ok) return hs.error
  if (hs.body.errorCode !== 0) return `${errorName(hs.body.errorCode)} (the listener offers ${hs.body.mechanisms.join(', ')})`
  const step = async (token: Buffer): Promise<{ ok: true; bytes: Buffer } | { ok: false; error: string }> => {
    const r = await channel.request(SaslAuthenticate, 1, { authBytes: token })
    if (!r.ok) return r
    if (r.body.errorCode !== 0) return { ok: false, error: `${errorName(r.body.errorCode)}: ${r.body.errorMessage ?? ''}` }
    return { ok: true, bytes: r.body.authBytes }
  }
  if (sasl.mechanism === 'PLAIN') {
    const r = await step(Buffer.from(`\u0000${sasl.username}\u0000${sasl.password}`, 'utf8'))
    return r.ok ? null : r.error
  }
  const client = new ScramClient(sasl.mechanism, sasl.username, sasl.password)
  const first = await step(client.first())
  if (!first.ok) return first.error
  try {
    const last = await step(client.final(first.bytes))
    if (!last.ok) return last.error
    client.verify(last.bytes)
    return null
  } catch (e) {
    return (e as Error).message
  }
}

interface Pending {
  correlationId: number
  decode(r: Reader): unknown
  flexibleHeader: boolean
  resolve(r: ChannelResult<unknown>): void
  timer: TimerHandle
}

class TcpChannel implements BrokerChannel {
  readonly #socket: Socket
  readonly #o: TcpChannelOptions
  readonly #frames = new FrameDecoder(MAX_FRAME)
  #pending: Pending[] = []
  #correlation = 0
  #closed = false

  constructor(socket: Socket, opts: TcpChannelOptions) {
    this.#socket = socket
    this.#o = opts
    socket.removeAllListeners('error')
    socket.on('error', (e) => this.#fail(`socket error: ${e.message}`))
    socket.on('close', () => this.#fail('connection closed'))
    socket.on('data', (d: Buffer) => this.#onData(d))
  }

  get closed(): boolean {
    return this.#closed
  }

  request<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, version: number, body: In<Req>): Promise<ChannelResult<Out<Res>>> {
    if (this.#closed) return Promise.resolve({ ok: false, error: 'channel closed' })
    const correlationId = this.#correlation++
    const w = new Writer()
    const endFrame = beginFrame(w)
    let frame: Buffer
    try {
      writeRequestHeader(w, { apiKey: api.key, apiVersion: version, correlationId, clientId: this.#o.clientId }, api.isFlexible(version))
      api.request.encode(version, body, w)
      endFrame()
      frame = w.toBuffer()
    } catch (e) {
      return Promise.resolve({ ok: false, error: `cannot encode ${api.name} v${version}: ${(e as Error).message}` })
    }
    return new Promise((resolve) => {
      const timer = this.#o.clock.setTimeout(() => this.#fail(`${api.name} timed out after ${this.#o.requestTimeoutMs} ms`), this.#o.requestTimeoutMs)
      this.#pending.push({
        correlationId,
        decode: (r) => api.response.decode(version, r),
        flexibleHeader: responseHeaderIsFlexible(api.key, api.isFlexible(version)),
        resolve: resolve as (r: ChannelResult<unknown>) => void,
        timer,
      })
      this.#socket.write(frame)
    })
  }

  #onData(d: Buffer): void {
    this.#frames.push(d)
    while (!this.#closed) {
      let frame: Buffer | null
      try {
        frame = this.#frames.next()
      } catch (e) {
        if (!(e instanceof FrameSizeError)) throw e
        return this.#fail(`bad response frame size ${e.size}`)
      }
      if (frame === null) return
      const p = this.#pending.shift()
      if (!p) return this.#fail('a response nobody asked for')
      p.timer.cancel()
      try {
        const r = new Reader(frame)
        const id = readResponseHeader(r, p.flexibleHeader)
        if (id !== p.correlationId) throw new Error(`correlation id ${id}, expected ${p.correlationId}`)
        p.resolve({ ok: true, body: p.decode(r) })
      } catch (e) {
        p.resolve({ ok: false, error: `bad response: ${(e as Error).message}` })
        this.#fail('undecodable response')
      }
    }
  }

  #fail(reason: string): void {
    if (!this.#closed) {
      this.#closed = true
      this.#socket.destroy()
      this.#frames.clear()
    }
    for (const p of this.#pending.splice(0)) {
      p.timer.cancel()
      p.resolve({ ok: false, error: reason })
    }
  }

  close(): void {
    this.#fail('closed by the owner')
  }
}
