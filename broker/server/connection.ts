// One client connection: size-prefixed framing, request-header rules, dispatch to the registry, and
// responses written strictly in request order even though handlers run concurrently (a Fetch long poll
// does not hold up the Produce pipelined behind it from being appended, only its response).
//
// Handlers are started in arrival order and do their state changes before their first await, so the
// order of effects matches the order of requests on the connection, as in Kafka.
//
// Back-pressure: we stop reading from the socket while more than `maxQueuedRequests` requests or
// `maxQueuedBytes` request bytes are unanswered, or while the socket's write buffer is full (a client that
// does not read its responses cannot make us buffer without bound).
//
// On a SASL listener the connection serves only ApiVersions and the SASL APIs until the client has
// authenticated (broker/sasl/session.ts); any other request closes it, as in Kafka. After a v0 SaslHandshake
// the frames are raw SASL tokens, answered by raw int32-framed tokens. A session past its lifetime
// (connections.max.reauth.ms, KIP-368) is closed at its next request that is not a SaslHandshake (which begins
// re-authentication), as Kafka's Processor does ("expired session"); responses already due are still written.
//
// Bad input never throws out of here: an oversized or malformed frame, an unknown API or version, or a
// handler failure is logged with the connection's address, and the connection is closed after the
// responses already due are written. The broker keeps serving everyone else.

import type { Socket } from 'node:net'
import { ErrorCode } from '../protocol/errors.ts'
import { beginFrame, FrameDecoder, FrameSizeError } from '../protocol/framing.ts'
import {
  API_VERSIONS_KEY,
  readRequestHeader,
  responseHeaderIsFlexible,
  skipTaggedFields,
  writeResponseHeader,
  type RequestHeader,
} from '../protocol/header.ts'
import { SaslHandshake } from '../protocol/messages/sasl-handshake.ts'
import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import { NO_RESPONSE, registration, supportedApiKeys, type ConnectionInfo, type NoResponse, type Registration } from '../apis/registry.ts'
import type { SaslSettings } from '../listener-security.ts'
import { SaslSession } from '../sasl/session.ts'
import type { Broker } from '../broker.ts'
import type { Logger } from '../logger.ts'

export interface ConnectionLimits {
  /** socket.request.max.bytes */
  readonly maxRequestBytes: number
  /** queued.max.requests, per connection */
  readonly maxQueuedRequests: number
  readonly maxQueuedBytes: number
  /** connections.max.idle.ms */
  readonly idleMs: number
  /** connection.failed.authentication.delay.ms */
  readonly failedAuthenticationDelayMs: number
  /** sasl.server.max.receive.size: the frame limit on a SASL listener until the client has authenticated. */
  readonly saslMaxReceiveBytes: number
}

interface Slot {
  /** Null for a raw SASL token (after a v0 SaslHandshake). */
  readonly header: RequestHeader | null
  readonly bytes: number
  done: boolean
  out: Buffer[] | null
}

const SASL_HANDSHAKE_KEY = SaslHandshake.key

let nextConnectionId = 0

export class Connection {
  readonly info: ConnectionInfo
  private readonly socket: Socket
  private readonly broker: Broker
  private readonly limits: ConnectionLimits
  private readonly log: Logger
  private readonly onClosed: (c: Connection) => void
  private readonly sasl: SaslSession | null

  private readonly frames: FrameDecoder
  private readonly queue: Slot[] = []
  private queuedBytes = 0
  private readPausedForQueue = false
  private readPausedForWrite = false
  private closing = false
  private closed = false

  constructor(
    socket: Socket,
    listenerName: string,
    broker: Broker,
    limits: ConnectionLimits,
    log: Logger,
    onClosed: (c: Connection) => void,
    principal = 'User:ANONYMOUS',
    sasl: SaslSettings | null = null,
  ) {
    this.socket = socket
    this.broker = broker
    this.limits = limits
    this.frames = new FrameDecoder(limits.maxRequestBytes)
    this.onClosed = onClosed
    const id = `${listenerName}-${nextConnectionId++}`
    this.log = log.child({ conn: id, remote: `${socket.remoteAddress}:${socket.remotePort}` })
    this.sasl = sasl
      ? new SaslSession({
          settings: sasl,
          scramCredential: (user, m) => broker.image.scramCredential(user, m),
          failureDelayMs: limits.failedAuthenticationDelayMs,
          clock: broker.clock,
          log: this.log,
        })
      : null
    this.info = {
      id,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      listenerName,
      principal,
      sasl: this.sasl,
      clientSoftwareName: null,
      clientSoftwareVersion: null,
      close: (reason) => this.closeAfterFlush(reason),
    }
    socket.setNoDelay(true)
    socket.setTimeout(limits.idleMs, () => this.closeAfterFlush('idle for connections.max.idle.ms', 'debug'))
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => {
      this.readPausedForWrite = false
      this.updateReading()
    })
    socket.on('error', (err) => this.log.debug('socket error', { err }))
    socket.on('close', () => {
      this.closed = true
      this.frames.clear()
      this.onClosed(this)
    })
  }

  /** Closes the socket now (broker shutdown). */
  destroy(): void {
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return
    this.frames.push(chunk)
    while (!this.closing) {
      // An unauthenticated client cannot make us buffer a large frame (Kafka's sasl.server.max.receive.size).
      const preAuth = this.sasl !== null && !this.sasl.authenticated
      this.frames.maxFrameBytes = preAuth ? Math.min(this.limits.saslMaxReceiveBytes, this.limits.maxRequestBytes) : this.limits.maxRequestBytes
      let frame: Buffer | null
      try {
        frame = this.frames.next()
      } catch (err) {
        if (!(err instanceof FrameSizeError)) throw err
        const limit = preAuth ? `sasl.server.max.receive.size (${this.frames.maxFrameBytes}) before authentication` : `socket.request.max.bytes (${this.limits.maxRequestBytes})`
        this.protocolError(`request size ${err.size} is outside 0..${limit}`)
        return
      }
      if (frame === null) break
      this.onFrame(frame)
    }
    this.updateReading()
  }

  private onFrame(frame: Buffer): void {
    if (this.sasl?.stage === 'raw') {
      this.onRawToken(frame)
      return
    }
    const r = new Reader(frame)
    let header: RequestHeader
    try {
      header = readRequestHeader(r)
    } catch (err) {
      this.protocolError('malformed request header', err)
      return
    }
    const reg = registration(header.apiKey)
    if (this.sasl?.expired && header.apiKey !== SASL_HANDSHAKE_KEY) {
      this.closeAfterFlush(`expired SASL session (connections.max.reauth.ms) at a ${reg?.api.name ?? `API key ${header.apiKey}`} request`)
      return
    }
    if (this.sasl && !this.sasl.allows(header.apiKey)) {
      this.protocolError(`${reg?.api.name ?? `API key ${header.apiKey}`} request in SASL state ${this.sasl.stage} (only ApiVersions and the SASL APIs are served before authentication)`)
      return
    }
    if (header.apiKey === API_VERSIONS_KEY && reg && header.apiVersion > reg.maxVersion) {
      // KIP-511: a client newer than us gets a v0 body with UNSUPPORTED_VERSION and our ranges, and retries.
      const slot = this.enqueue(header, frame.length)
      this.finish(slot, reg, 0, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: supportedApiKeys() })
      return
    }
    if (!reg) {
      this.protocolError(`unknown API key ${header.apiKey}`)
      return
    }
    const version = header.apiVersion
    if (version < reg.minVersion || version > reg.maxVersion) {
      this.protocolError(`unsupported ${reg.api.name} version ${version} (supported ${reg.minVersion}-${reg.maxVersion})`)
      return
    }
    let body: unknown
    try {
      if (reg.api.isFlexible(version)) skipTaggedFields(r)
      body = reg.api.request.decode(version, r)
    } catch (err) {
      this.protocolError(`malformed ${reg.api.name} v${version} request`, err)
      return
    }
    const slot = this.enqueue(header, frame.length)
    let result: ReturnType<Registration['handle']>
    try {
      result = reg.handle(body as never, { header, version, connection: this.info, broker: this.broker })
    } catch (err) {
      this.handlerFailed(slot, reg, version, err)
      return
    }
    if (result instanceof Promise) {
      result.then(
        (res) => this.finish(slot, reg, version, res),
        (err: unknown) => this.handlerFailed(slot, reg, version, err),
      )
    } else {
      this.finish(slot, reg, version, result)
    }
  }

  /** A raw SASL token: answered by a raw token, or, when refused, by closing after the failure delay. */
  private onRawToken(frame: Buffer): void {
    const slot = this.enqueue(null, frame.length)
    const answer = (res: Awaited<ReturnType<SaslSession['authenticate']>>) => {
      if (this.closed) return
      if (res.ok) {
        if (res.principal) this.info.principal = res.principal
        const w = new Writer(res.bytes.length + 4)
        w.int32(res.bytes.length)
        w.raw(res.bytes)
        slot.out = w.chunksOut()
      } else this.closeAfterFlush(`SASL authentication failed: ${res.message}`)
      slot.done = true
      this.flush()
    }
    const res = this.sasl!.authenticate(frame)
    if (res instanceof Promise) void res.then(answer)
    else answer(res)
  }

  private enqueue(header: RequestHeader | null, bytes: number): Slot {
    const slot: Slot = { header, bytes, done: false, out: null }
    this.queue.push(slot)
    this.queuedBytes += bytes
    return slot
  }

  private finish(slot: Slot, reg: Registration, version: number, res: unknown): void {
    if (this.closed) return
    if (res !== NO_RESPONSE) {
      try {
        const w = new Writer(256)
        const endFrame = beginFrame(w)
        writeResponseHeader(w, slot.header!.correlationId, responseHeaderIsFlexible(reg.api.key, reg.api.isFlexible(version)))
        reg.api.response.encode(version, res as Exclude<typeof res, NoResponse> as never, w)
        endFrame()
        slot.out = w.chunksOut()
      } catch (err) {
        this.handlerFailed(slot, reg, version, err)
        return
      }
    }
    slot.done = true
    this.flush()
  }

  private flush(): void {
    if (this.closed) return
    let wrote = false
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const slot = this.queue.shift()!
      this.queuedBytes -= slot.bytes
      if (slot.out) {
        if (!wrote) this.socket.cork()
        wrote = true
        for (const c of slot.out) {
          if (!this.socket.write(c)) this.readPausedForWrite = true
        }
      }
    }
    if (wrote) this.socket.uncork()
    if (this.closing && this.queue.length === 0) this.socket.end()
    this.updateReading()
  }

  private updateReading(): void {
    if (this.closed) return
    this.readPausedForQueue = this.queue.length >= this.limits.maxQueuedRequests || this.queuedBytes >= this.limits.maxQueuedBytes
    if (this.closing || this.readPausedForQueue || this.readPausedForWrite) this.socket.pause()
    else this.socket.resume()
  }

  private handlerFailed(slot: Slot, reg: Registration, version: number, err: unknown): void {
    slot.done = true
    slot.out = null
    this.log.error('request handler failed; closing connection', { api: reg.api.name, version, err, stack: (err as Error)?.stack })
    this.closeAfterFlush('handler failure')
    this.flush()
  }

  private protocolError(what: string, err?: unknown): void {
    this.log.warn(`${what}; closing connection`, err ? { err } : undefined)
    this.closeAfterFlush(what)
  }

  /** Stops reading; ends the socket once every response due before this point has been written. */
  private closeAfterFlush(reason: string, level: 'debug' | 'info' = 'info'): void {
    if (this.closing || this.closed) return
    this.closing = true
    this.frames.clear()
    // Requests already accepted still get their responses (a produce may be appended already); no new ones are read.
    this.log[level]('closing connection', { reason })
    this.flush()
  }
}
