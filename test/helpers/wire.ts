// A minimal Kafka wire client for tests: sends requests encoded with our own declarations and reads the
// framed responses in order. Also starts an in-process broker on a random loopback address.

import { connect, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { Broker } from '../../broker/broker.ts'
import { buildBrokerConfig } from '../../broker/config.ts'
import { createLogger, silentLogger, type Logger } from '../../broker/logger.ts'
import { readResponseHeader, responseHeaderIsFlexible, writeRequestHeader } from '../../broker/protocol/header.ts'
import { Reader } from '../../broker/protocol/reader.ts'
import type { ApiDecl, Fields, In, Out } from '../../broker/protocol/schema.ts'
import { Writer } from '../../broker/protocol/writer.ts'
import { loopbackHost, tempDir } from './broker-process.ts'

export class WireClient {
  private readonly socket: Socket
  private buf = Buffer.alloc(0)
  private waiting: ((frame: Buffer | null) => void)[] = []
  private frames: (Buffer | null)[] = []
  private correlation = 0
  closed = false

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d])
      while (this.buf.length >= 4) {
        const size = this.buf.readInt32BE(0)
        if (this.buf.length < 4 + size) break
        this.deliver(this.buf.subarray(4, 4 + size))
        this.buf = this.buf.subarray(4 + size)
      }
    })
    socket.on('close', () => {
      this.closed = true
      for (const w of this.waiting.splice(0)) w(null)
      this.frames.push(null)
    })
    socket.on('error', () => {})
  }

  static connect(host: string, port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => resolve(new WireClient(s)))
      s.once('error', reject)
    })
  }

  /** Over TLS (an SSL listener); resolves after the handshake. */
  static connectTls(host: string, port: number, options: ConnectionOptions): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ ...options, host, port }, () => resolve(new WireClient(s)))
      s.once('error', reject)
    })
  }

  private deliver(frame: Buffer | null): void {
    const w = this.waiting.shift()
    if (w) w(frame)
    else this.frames.push(frame)
  }

  /** The next response frame (without its size), or null once the connection is closed. */
  nextFrame(timeoutMs = 10_000): Promise<Buffer | null> {
    const f = this.frames.shift()
    if (f !== undefined) return Promise.resolve(f)
    if (this.closed) return Promise.resolve(null)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms`)), timeoutMs)
      this.waiting.push((fr) => {
        clearTimeout(t)
        resolve(fr)
      })
    })
  }

  /** Writes raw bytes (for malformed-input tests). */
  writeRaw(b: Buffer): void {
    this.socket.write(b)
  }

  /** Encodes a request frame; returns it with its correlation id. */
  encode<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, version: number, body: In<Req>): { frame: Buffer; correlationId: number } {
    const correlationId = this.correlation++
    const w = new Writer()
    const setSize = w.reserveInt32()
    writeRequestHeader(w, { apiKey: api.key, apiVersion: version, correlationId, clientId: 'wire-test' }, api.isFlexible(version))
    api.request.encode(version, body, w)
    setSize(w.length - 4)
    return { frame: w.toBuffer(), correlationId }
  }

  send<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, version: number, body: In<Req>): number {
    const { frame, correlationId } = this.encode(api, version, body)
    this.socket.write(frame)
    return correlationId
  }

  /** Reads the next response and decodes it as `api` at `version`. */
  async receive<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, version: number): Promise<{ correlationId: number; body: Out<Res> }> {
    const frame = await this.nextFrame()
    if (!frame) throw new Error(`connection closed while waiting for ${api.name} v${version}`)
    const r = new Reader(frame)
    const correlationId = readResponseHeader(r, responseHeaderIsFlexible(api.key, api.isFlexible(version)))
    return { correlationId, body: api.response.decode(version, r) }
  }

  async request<Req extends Fields, Res extends Fields>(api: ApiDecl<Req, Res>, version: number, body: In<Req>): Promise<Out<Res>> {
    const id = this.send(api, version, body)
    const res = await this.receive(api, version)
    if (res.correlationId !== id) throw new Error(`correlation id ${res.correlationId}, expected ${id}`)
    return res.body
  }

  close(): void {
    this.socket.destroy()
  }
}

export interface InProcessBroker {
  broker: Broker
  host: string
  port: number
  dataDir: string
  client(): Promise<WireClient>
  stop(): Promise<void>
}

/** Starts a broker inside the test process on its own loopback address. */
export async function startInProcessBroker(overrides: Record<string, string> = {}, opts: { dataDir?: string; logger?: Logger; verbose?: boolean } = {}): Promise<InProcessBroker> {
  const host = loopbackHost()
  const dataDir = opts.dataDir ?? tempDir()
  const config = buildBrokerConfig({
    flags: [
      { key: 'node.id', value: '1', where: 'test' },
      { key: 'listeners', value: `PLAINTEXT://${host}:0`, where: 'test' },
      { key: 'log.dirs', value: dataDir, where: 'test' },
      ...Object.entries(overrides).map(([key, value]) => ({ key, value, where: 'test' })),
    ],
  })
  const broker = await Broker.start(config, { logger: opts.logger ?? (opts.verbose ? createLogger({ level: 'debug' }) : silentLogger) })
  const port = broker.listeners[0]!.port
  const clients: WireClient[] = []
  return {
    broker,
    host,
    port,
    dataDir,
    async client() {
      const c = await WireClient.connect(host, port)
      clients.push(c)
      return c
    },
    async stop() {
      for (const c of clients) c.close()
      await broker.shutdown()
    },
  }
}
