// A Kafka-aware TCP proxy for fault tests: forwards frames both ways and, for chosen requests, lets the
// request reach the broker but cuts the client's connection instead of delivering the response, which is
// what a client sees when a broker appends and then dies or the network drops the answer.

import { createServer, connect, type Server, type Socket } from 'node:net'

export interface DropProxy {
  readonly host: string
  readonly port: number
  /** Responses dropped so far. */
  readonly dropped: number
  /** Where new connections go (the broker may start after the proxy, to advertise the proxy's address). */
  setUpstream(host: string, port: number): void
  close(): Promise<void>
}

export interface DropProxyOptions {
  /** Listen address (a loopback address of the test's). */
  readonly host: string
  /** Decides per request (api key, the request's index on this proxy) whether its response is dropped. */
  readonly drop: (apiKey: number, index: number) => boolean
}

/** Splits a byte stream into size-prefixed frames. */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0)
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    while (buf.length >= 4) {
      const size = buf.readInt32BE(0)
      if (buf.length < 4 + size) break
      onFrame(buf.subarray(0, 4 + size))
      buf = buf.subarray(4 + size)
    }
  }
}

export async function startDropProxy(opts: DropProxyOptions): Promise<DropProxy> {
  let dropped = 0
  let index = 0
  let upstreamHost = ''
  let upstreamPort = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect({ host: upstreamHost, port: upstreamPort })
    sockets.add(client)
    sockets.add(upstream)
    const kill = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', () => {
      sockets.delete(client)
      upstream.destroy()
    })
    upstream.on('close', () => {
      sockets.delete(upstream)
      client.destroy()
    })
    client.on('error', kill)
    upstream.on('error', kill)
    const doomed = new Set<number>()
    client.on(
      'data',
      framer((frame) => {
        const apiKey = frame.readInt16BE(4)
        const correlationId = frame.readInt32BE(8)
        if (opts.drop(apiKey, index++)) doomed.add(correlationId)
        upstream.write(frame)
      }),
    )
    upstream.on(
      'data',
      framer((frame) => {
        if (doomed.has(frame.readInt32BE(4))) {
          dropped++
          kill()
          return
        }
        client.write(frame)
      }),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: opts.host, port: 0 }, () => resolve())
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    host: opts.host,
    port,
    get dropped() {
      return dropped
    },
    setUpstream(host, port) {
      upstreamHost = host
      upstreamPort = port
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
