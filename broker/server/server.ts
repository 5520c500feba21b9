// The socket server: one net.Server per listener, a Connection per accepted socket.

import { createServer, type Server, type Socket } from 'node:net'
import type { Listener } from '../config.ts'
import type { Broker } from '../broker.ts'
import type { Logger } from '../logger.ts'
import { Connection, type ConnectionLimits } from './connection.ts'

export class SocketServer {
  private readonly servers: { listener: Listener; server: Server }[] = []
  private readonly connections = new Set<Connection>()
  private readonly broker: Broker
  private readonly limits: ConnectionLimits
  private readonly log: Logger

  constructor(broker: Broker, limits: ConnectionLimits, log: Logger) {
    this.broker = broker
    this.limits = limits
    this.log = log
  }

  /** Binds every listener; rejects with a clear message if one cannot bind (the others are closed again). */
  async start(listeners: readonly Listener[]): Promise<void> {
    for (const l of listeners) {
      const server = createServer({ noDelay: true }, (socket: Socket) => this.accept(l, socket))
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
      this.log.info('listening', { listener: l.name, host: l.host, port: this.boundPort(l) })
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

  private accept(l: Listener, socket: Socket): void {
    const conn = new Connection(socket, l.name, this.broker, this.limits, this.log, (c) => this.connections.delete(c))
    this.connections.add(conn)
  }

  async stop(): Promise<void> {
    const closing = this.servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())))
    for (const c of this.connections) c.destroy()
    this.connections.clear()
    this.servers.length = 0
    await Promise.all(closing)
  }
}
