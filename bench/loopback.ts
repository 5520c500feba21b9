// Raw loopback TCP throughput, the ceiling of the raw-producer runs: a Node client writing big buffers to a Node
// server that discards them. Both ends use plain net sockets and the same write loop as the raw producer, so the
// only difference between the two runs is the Kafka broker on the receiving side.

import { connect, createServer, type Server, type Socket } from 'node:net'
import { deadline, pump } from './lib/pump.ts'

/** A server that counts and drops every byte; when a client ends, it answers with the count (8 bytes). */
export async function startDiscardServer(host: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    let bytes = 0
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length
    })
    socket.on('end', () => {
      const out = Buffer.allocUnsafe(8)
      out.writeBigUInt64BE(BigInt(bytes))
      socket.end(out)
    })
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((res, rej) => {
    server.once('error', rej)
    server.listen({ host, port: 0 }, () => {
      server.off('error', rej)
      res()
    })
  })
  const addr = server.address()
  return {
    port: addr && typeof addr === 'object' ? addr.port : 0,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy()
        server.close(() => res())
      }),
  }
}

export interface TcpClientOptions {
  host: string
  port: number
  seconds: number
  chunkBytes: number
  queueBytes: number
}

export interface TcpClientResult {
  bytes: number
  ms: number
  cpu: { user: number; system: number }
}

/** Writes `chunkBytes` buffers for `seconds`, then waits until the server has counted every byte. */
export async function tcpClient(o: TcpClientOptions): Promise<TcpClientResult> {
  const socket = await new Promise<Socket>((res, rej) => {
    const s = connect({ host: o.host, port: o.port }, () => res(s))
    s.once('error', rej)
  })
  socket.setNoDelay(true)
  const chunk = Buffer.alloc(o.chunkBytes, 0x61)
  const counted = new Promise<number>((res, rej) => {
    const got: Buffer[] = []
    socket.on('data', (d: Buffer) => got.push(d))
    socket.on('end', () => res(Number(Buffer.concat(got).readBigUInt64BE(0))))
    socket.on('error', rej)
  })
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const over = deadline(o.seconds)
  let sent = 0
  await pump(socket, () => (over() ? null : ((sent += chunk.length), chunk)), o.queueBytes)
  socket.end()
  const bytes = await counted
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (bytes !== sent) throw new Error(`loopback: sent ${sent} bytes, the server counted ${bytes}`)
  return { bytes, ms, cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 } }
}
