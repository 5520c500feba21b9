// The socket server: one net.Server per listener (a tls.Server on SSL and SASL_SSL listeners), a Connection per
// accepted socket. On SSL the Connection starts after the handshake, with the principal of the client's certificate
// (on SASL_SSL the SASL exchange sets it);
// a failed handshake (plaintext on a TLS port, garbage, an untrusted certificate) only ever closes that socket.

import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import type { Listener } from '../config.ts'
import { principalFromSubject, tlsServerOptions, type ListenerSecurity } from '../listener-security.ts'
import type { Broker } from '../broker.ts'
import type { Logger } from '../logger.ts'
import { Connection, type ConnectionLimits } from './connection.ts'

export class SocketServer {
  private readonly servers: { listener: Listener; server: Server }[] = []
  private readonly connections = new Set<Connection>()
  private readonly broker: Broker
  private readonly limits: ConnectionLimits
  private readonly log: Logger
  /** Sockets accepted before open(): held paused, as Kafka's acceptors leave connections in the backlog until the
   *  broker has caught up with the metadata log, so no client is answered from a stale image. */
  private held: { l: ListenerSecurity; socket: Socket; principal?: string; drop: () => void }[] | null = []

  constructor(broker: Broker, limits: ConnectionLimits, log: Logger) {
    this.broker = broker
    this.limits = limits
    this.log = log
  }

  /** Binds every listener; rejects with a clear message if one cannot bind (the others are closed again). */
  async start(listeners: readonly ListenerSecurity[]): Promise<void> {
    for (const l of listeners) {
      const server = l.tls
        ? createTlsServer({ ...tlsServerOptions(l.tls), noDelay: true }, (socket: TLSSocket) => this.acceptTls(l, socket))
        : createServer({ noDelay: true }, (socket: Socket) => this.accept(l, socket))
      if (l.tls) {
        server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
          this.log.info('TLS handshake failed; connection closed', { listener: l.name, remote: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message })
          socket.destroy()
        })
      }
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen({ host: l.host, port: l.port, backlog: 1024 }, () => {
            server.off('error', reject)
            resolve()
          })
        })
      } catch (err) {
        await this.stop()
        const code = (err as NodeJS.ErrnoException).code
        throw Object.assign(new Error(`cannot listen on ${l.name}://${l.host}:${l.port}: ${code ?? (err as Error).message}`), { code, cause: err })
      }
      server.on('error', (err) => this.log.error('listener error', { listener: l.name, err }))
      this.servers.push({ listener: l, server })
      this.log.info('listening', { listener: l.name, protocol: l.protocol, host: l.host, port: this.boundPort(l) })
    }
  }

  /** The port actually bound (differs from the configured one when that was 0). */
  boundPort(l: Listener): number {
    const s = this.servers.find((x) => x.listener === l)
    const addr = s?.server.address()
    return addr && typeof addr === 'object' ? addr.port : l.port
  }

  get boundListeners(): Listener[] {
    return this.servers.map(({ listener }) => ({ ...listener, port: this.boundPort(listener) }))
  }

  /** Starts serving the connections held since start() and every later one. */
  open(): void {
    const held = this.held
    if (held === null) return
    this.held = null
    for (const h of held) {
      h.drop()
      if (h.socket.destroyed) continue
      this.accept(h.l, h.socket, h.principal)
      h.socket.resume()
    }
  }

  private accept(l: ListenerSecurity, socket: Socket, principal?: string): void {
    if (this.held !== null) {
      socket.pause()
      const onError = (err: Error) => this.log.debug('socket error before the broker opened', { err: err.message })
      socket.on('error', onError)
      const entry = { l, socket, principal, drop: () => socket.off('error', onError) }
      this.held.push(entry)
      socket.once('close', () => {
        if (this.held) this.held = this.held.filter((h) => h !== entry)
      })
      return
    }
    const conn = new Connection(socket, l.name, this.broker, this.limits, this.log, (c) => this.connections.delete(c), principal, l.sasl)
    this.connections.add(conn)
  }

  /** After the handshake: a certificate that was presented must have verified (ssl.client.auth=requested lets
   *  the handshake finish without one, so this is where a bad one is refused); its subject is the principal. */
  private acceptTls(l: ListenerSecurity, socket: TLSSocket): void {
    const cert = socket.getPeerX509Certificate()
    if (cert && !socket.authorized) {
      this.log.info('client certificate not trusted; connection closed', { listener: l.name, remote: `${socket.remoteAddress}:${socket.remotePort}`, err: String(socket.authorizationError) })
      socket.destroy()
      return
    }
    const principal = cert ? principalFromSubject(cert.subject) : undefined
    this.log.debug('TLS connection', { listener: l.name, remote: `${socket.remoteAddress}:${socket.remotePort}`, protocol: socket.getProtocol(), principal: principal ?? 'User:ANONYMOUS' })
    this.accept(l, socket, principal)
  }

  async stop(): Promise<void> {
    const closing = this.servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())))
    for (const c of this.connections) c.destroy()
    this.connections.clear()
    for (const h of this.held ?? []) h.socket.destroy()
    if (this.held) this.held = []
    this.servers.length = 0
    await Promise.all(closing)
  }
}
