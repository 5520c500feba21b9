// One connection to one broker: ApiVersions and SASL on open, pipelined requests matched to responses in order,
// timeouts that fail everything outstanding (see raw.ts for the rules).

import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { errorName } from '../../../broker/protocol/errors.ts'
import { beginFrame, FrameDecoder, FrameSizeError } from '../../../broker/protocol/framing.ts'
import { responseHeaderIsFlexible, skipTaggedFields, writeRequestHeader } from '../../../broker/protocol/header.ts'
import { ApiVersions } from '../../../broker/protocol/messages/api-versions.ts'
import { SaslAuthenticate } from '../../../broker/protocol/messages/sasl-authenticate.ts'
import { SaslHandshake } from '../../../broker/protocol/messages/sasl-handshake.ts'
import { Reader } from '../../../broker/protocol/reader.ts'
import type { ApiDecl, Fields, In, Out } from '../../../broker/protocol/schema.ts'
import { Writer } from '../../../broker/protocol/writer.ts'
import { clientError, DriverFailure, produceErrorFromCode, type ConnectOptions, type DriverError, type Logger } from '../../driver.ts'
import { saslConversation } from '../sasl.ts'

const CLIENT_SOFTWARE = { name: 'faultline-raw', version: '0.1.0' } as const

type Done = (err: DriverError | null, body: Reader | null) => void

interface Outstanding {
  readonly correlationId: number
  readonly flexibleHeader: boolean
  sentAt: number
  readonly done: Done
}

interface Queued {
  readonly frame: Buffer[]
  readonly out: Outstanding | null
  readonly onWritten: ((err: DriverError | null) => void) | null
}

export interface ConnectionSettings {
  readonly clientId: string
  readonly tls: ConnectOptions['tls']
  readonly sasl: ConnectOptions['sasl']
  readonly requestTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly window: number
  readonly logger: Logger
}

export class RawConnection {
  readonly host: string
  readonly port: number
  private readonly s: ConnectionSettings
  private socket: Socket | null = null
  private state: 'new' | 'connecting' | 'handshake' | 'ready' | 'closed' = 'new'
  private correlation = 0
  private readonly outstanding: Outstanding[] = []
  private head = 0
  private readonly queue: Queued[] = []
  private queueHead = 0
  private readonly frames = new FrameDecoder()
  private sweep: NodeJS.Timeout | null = null
  private readonly closeListeners: (() => void)[] = []
  readonly versions = new Map<number, { min: number; max: number }>()

  constructor(host: string, port: number, settings: ConnectionSettings) {
    this.host = host
    this.port = port
    this.s = settings
  }

  get ready(): boolean {
    return this.state === 'ready'
  }

  get inFlight(): number {
    return this.outstanding.length - this.head
  }

  onClose(fn: () => void): void {
    this.closeListeners.push(fn)
  }

  async open(): Promise<void> {
    if (this.state !== 'new') throw new Error('a RawConnection opens once')
    this.state = 'connecting'
    const tls = this.s.tls === true ? {} : this.s.tls
    const socket = tls
      ? tlsConnect({
          host: this.host,
          port: this.port,
          servername: tls.servername ?? (/^[\d.]+$|:/.test(this.host) ? undefined : this.host),
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized ?? true,
        })
      : netConnect({ host: this.host, port: this.port })
    this.socket = socket
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new DriverFailure(`connecting to ${this.host}:${this.port} timed out after ${this.s.connectTimeoutMs} ms`, { error: clientError('NOT_CONNECTED', 'connect timeout', true) }))
      }, this.s.connectTimeoutMs)
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        resolve()
      })
      const onError = (err: Error) => {
        clearTimeout(timer)
        reject(new DriverFailure(`cannot connect to ${this.host}:${this.port}: ${err.message}`, { cause: err, error: clientError('NOT_CONNECTED', err.message, true) }))
      }
      socket.once('error', onError)
    })
    socket.on('data', (d: Buffer) => this.onData(d))
    socket.on('error', (err) => this.s.logger.debug('raw connection error', { host: this.host, port: this.port, err: err.message }))
    socket.on('close', () => this.onSocketClose())
    const period = Math.max(10, Math.min(1000, this.s.requestTimeoutMs / 4))
    this.sweep = setInterval(() => this.checkTimeouts(), period)
    this.sweep.unref()
    this.state = 'handshake'
    try {
      await this.negotiateVersions()
      if (this.s.sasl) await this.authenticate()
    } catch (e) {
      this.destroy('handshake failed')
      throw e
    }
    this.state = 'ready'
  }

  /** The version to use for an API: the highest both we and the broker speak. */
  version(api: ApiDecl<Fields, Fields>): number {
    const theirs = this.versions.get(api.key)
    if (!theirs) throw new DriverFailure(`broker ${this.host}:${this.port} does not support ${api.name}`, { code: 'ERR_FAULTLINE_UNSUPPORTED' })
    const v = Math.min(api.maxVersion, theirs.max)
    if (v < Math.max(api.minVersion, theirs.min)) {
      throw new DriverFailure(`no common ${api.name} version: we speak ${api.minVersion}-${api.maxVersion}, the broker ${theirs.min}-${theirs.max}`, { code: 'ERR_FAULTLINE_UNSUPPORTED' })
    }
    return v
  }

  /** Sends a request; `done` gets a reader positioned at the response body. */
  request(apiKey: number, version: number, flexible: boolean, encodeBody: (w: Writer) => void, done: Done): void {
    if (this.state !== 'ready' && this.state !== 'handshake') {
      done(clientError('NOT_CONNECTED', `connection to ${this.host}:${this.port} is ${this.state}`, true), null)
      return
    }
    const correlationId = this.nextCorrelation()
    const frame = this.frame(apiKey, version, flexible, correlationId, encodeBody)
    const out: Outstanding = { correlationId, flexibleHeader: responseHeaderIsFlexible(apiKey, flexible), sentAt: 0, done }
    this.enqueue({ frame, out, onWritten: null })
  }

  /** A request the broker will not answer (Produce with acks 0); `written` runs once it is on the socket. */
  requestNoResponse(apiKey: number, version: number, flexible: boolean, encodeBody: (w: Writer) => void, written: (err: DriverError | null) => void): void {
    if (this.state !== 'ready') {
      written(clientError('NOT_CONNECTED', `connection to ${this.host}:${this.port} is ${this.state}`, true))
      return
    }
    const frame = this.frame(apiKey, version, flexible, this.nextCorrelation(), encodeBody)
    this.enqueue({ frame, out: null, onWritten: written })
  }

  /** Typed request: encodes `body` with the API's declaration and decodes the answer. */
  call<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, body: In<Req>, version = this.version(api)): Promise<Out<Res>> {
    return new Promise((resolve, reject) => {
      this.request(
        api.key,
        version,
        api.isFlexible(version),
        (w) => api.request.encode(version, body, w),
        (err, r) => {
          if (err) return reject(new DriverFailure(`${api.name} to ${this.host}:${this.port} failed: ${err.message}`, { error: err }))
          try {
            resolve(api.response.decode(version, r!))
          } catch (e) {
            reject(new DriverFailure(`malformed ${api.name} v${version} response from ${this.host}:${this.port}`, { cause: e }))
          }
        },
      )
    })
  }

  close(): void {
    this.destroy('closed by the client')
  }

  private nextCorrelation(): number {
    this.correlation = (this.correlation + 1) & 0x7fffffff
    return this.correlation
  }

  private frame(apiKey: number, version: number, flexible: boolean, correlationId: number, encodeBody: (w: Writer) => void): Buffer[] {
    const w = new Writer(256)
    const endFrame = beginFrame(w)
    writeRequestHeader(w, { apiKey, apiVersion: version, correlationId, clientId: this.s.clientId }, flexible)
    encodeBody(w)
    endFrame()
    return w.chunksOut()
  }

  private enqueue(q: Queued): void {
    if (this.queueHead < this.queue.length || (q.out && this.inFlight >= this.s.window)) {
      this.queue.push(q)
      return
    }
    this.write(q)
  }

  private write(q: Queued): void {
    const socket = this.socket!
    if (q.out) {
      q.out.sentAt = performance.now()
      this.outstanding.push(q.out)
    }
    const cb = q.onWritten
      ? (err?: Error | null) => q.onWritten!(err ? clientError('NETWORK', err.message, false) : null)
      : undefined
    if (q.frame.length === 1) {
      socket.write(q.frame[0]!, cb)
      return
    }
    socket.cork()
    for (let i = 0; i < q.frame.length - 1; i++) socket.write(q.frame[i]!)
    socket.write(q.frame[q.frame.length - 1]!, cb)
    socket.uncork()
  }

  private pump(): void {
    while (this.queueHead < this.queue.length && this.state !== 'closed') {
      const next = this.queue[this.queueHead]!
      if (next.out && this.inFlight >= this.s.window) break
      this.queue[this.queueHead++] = undefined as never
      this.write(next)
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead)
      this.queueHead = 0
    }
  }

  private onData(chunk: Buffer): void {
    this.frames.push(chunk)
    while (this.state !== 'closed') {
      let frame: Buffer | null
      try {
        frame = this.frames.next()
      } catch (e) {
        if (!(e instanceof FrameSizeError)) throw e
        return this.destroy(`bad response size ${e.size}`)
      }
      if (frame === null || !this.onFrame(frame)) return
    }
  }

  private onFrame(frame: Buffer): boolean {
    const o = this.outstanding[this.head]
    if (!o) {
      this.destroy('a response arrived with no request outstanding')
      return false
    }
    const r = new Reader(frame)
    let corr: number
    try {
      corr = r.int32()
      if (corr === o.correlationId && o.flexibleHeader) skipTaggedFields(r)
    } catch {
      this.destroy('truncated response header')
      return false
    }
    if (corr !== o.correlationId) {
      this.destroy(`response correlation id ${corr} does not match the oldest request's ${o.correlationId}`)
      return false
    }
    this.outstanding[this.head++] = undefined as never
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding.splice(0, this.head)
      this.head = 0
    }
    o.done(null, r)
    this.pump()
    return this.state !== 'closed'
  }

  private checkTimeouts(): void {
    const o = this.outstanding[this.head]
    if (o && performance.now() - o.sentAt > this.s.requestTimeoutMs) {
      this.destroy('request timed out', clientError('TIMEOUT', `no response from ${this.host}:${this.port} within ${this.s.requestTimeoutMs} ms`, false))
    }
  }

  private failAll(err: DriverError): void {
    const outs = this.outstanding.slice(this.head)
    this.outstanding.length = 0
    this.head = 0
    const queued = this.queue.slice(this.queueHead)
    this.queue.length = 0
    this.queueHead = 0
    for (const o of outs) o.done(err, null)
    const never = clientError('NOT_CONNECTED', `connection to ${this.host}:${this.port} closed before the request was sent`, true)
    for (const q of queued) {
      q.out?.done(never, null)
      q.onWritten?.(never)
    }
  }

  /** Closed before the requests fail: a failure callback that picks a connection (a metadata refresh) must not get this one. */
  private destroy(reason: string, inFlight?: DriverError): void {
    if (this.state === 'closed') return
    this.s.logger.debug('raw connection closing', { host: this.host, port: this.port, reason })
    this.state = 'closed'
    if (this.sweep) clearInterval(this.sweep)
    this.socket?.destroy()
    this.frames.clear()
    for (const fn of this.closeListeners) fn()
    this.failAll(inFlight ?? clientError('NETWORK', `connection to ${this.host}:${this.port} closed with the request in flight (${reason})`, false))
  }

  private onSocketClose(): void {
    this.destroy('closed by the broker')
  }

  private async negotiateVersions(): Promise<void> {
    const ask = (version: number) =>
      new Promise<Out<(typeof ApiVersions)['response']['fields']>>((resolve, reject) => {
        this.request(
          ApiVersions.key,
          version,
          ApiVersions.isFlexible(version),
          (w) => ApiVersions.request.encode(version, { clientSoftwareName: CLIENT_SOFTWARE.name, clientSoftwareVersion: CLIENT_SOFTWARE.version }, w),
          (err, r) => {
            if (err) return reject(new DriverFailure(`ApiVersions to ${this.host}:${this.port} failed: ${err.message}`, { error: err }))
            try {
              // A broker older than our version answers UNSUPPORTED_VERSION with a v0 body (KIP-511).
              const code = r!.buf.readInt16BE(r!.offset)
              resolve(ApiVersions.response.decode(code === 35 ? 0 : version, r!))
            } catch (e) {
              reject(new DriverFailure(`malformed ApiVersions response from ${this.host}:${this.port}`, { cause: e }))
            }
          },
        )
      })
    let res = await ask(ApiVersions.maxVersion)
    if (res.errorCode === 35) {
      const theirs = res.apiKeys.find((k) => k.apiKey === ApiVersions.key)
      res = await ask(Math.min(ApiVersions.maxVersion, theirs?.maxVersion ?? 0))
    }
    if (res.errorCode !== 0) throw new DriverFailure(`ApiVersions failed: ${errorName(res.errorCode)}`)
    for (const k of res.apiKeys) this.versions.set(k.apiKey, { min: k.minVersion, max: k.maxVersion })
  }

  private async authenticate(): Promise<void> {
    const sasl = this.s.sasl!
    const hs = await this.call(SaslHandshake, { mechanism: sasl.mechanism }, Math.min(1, this.version(SaslHandshake)))
    if (hs.errorCode !== 0) {
      throw new DriverFailure(`SASL ${sasl.mechanism} refused by ${this.host}:${this.port} (${errorName(hs.errorCode)}); it offers ${hs.mechanisms.join(', ') || 'nothing'}`, { code: 'ERR_FAULTLINE_AUTH' })
    }
    const conv = saslConversation(sasl)
    let msg: Buffer | null = conv.first()
    while (msg) {
      const res = await this.call(SaslAuthenticate, { authBytes: msg })
      if (res.errorCode !== 0) {
        throw new DriverFailure(`SASL ${sasl.mechanism} authentication failed at ${this.host}:${this.port}: ${errorName(res.errorCode)}${res.errorMessage ? `: ${res.errorMessage}` : ''}`, { code: 'ERR_FAULTLINE_AUTH', error: produceErrorFromCode(res.errorCode, errorName(res.errorCode), false, 'one', res.errorMessage ?? undefined) })
      }
      msg = conv.next(res.authBytes)
    }
  }
}
