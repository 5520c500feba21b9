// `faultline proxy`: faultline's proxy server in the foreground (a Toxiproxy API server, chaos/proxy/server.ts).
// It prints one JSON line when its API listens ({"msg":"proxy server started","api":"http://host:port"}) and stops
// on SIGTERM/SIGINT, or when stdin closes with --exit-with-parent (the harness that started it died).

import { ProxyServer } from './server.ts'

export interface ProxyFlags {
  /** host:port of the HTTP API; default 127.0.0.1:8474, Toxiproxy's. */
  readonly listen?: string
  readonly exitWithParent?: boolean
}

export async function runProxyServer(flags: ProxyFlags): Promise<number> {
  const listen = flags.listen ?? '127.0.0.1:8474'
  const i = listen.lastIndexOf(':')
  const port = Number(listen.slice(i + 1))
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`faultline proxy: --listen ${listen}: expected host:port, like 127.0.0.1:8474\n`)
    return 2
  }
  const server = new ProxyServer()
  let url: string
  try {
    url = await server.listen(listen.slice(0, i) || '127.0.0.1', port)
  } catch (err) {
    process.stderr.write(`faultline proxy: cannot listen on ${listen}: ${(err as Error).message}\n`)
    return 2
  }
  process.stdout.write(`${JSON.stringify({ msg: 'proxy server started', api: url, pid: process.pid })}\n`)
  // Output goes to the harness; once it is gone, writes fail with EPIPE, which must not take the proxies down.
  process.stdout.on('error', () => {})
  process.stderr.on('error', () => {})
  return new Promise<number>((resolve) => {
    const stop = (): void => void server.close().then(() => resolve(0))
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    if (flags.exitWithParent) {
      process.stdin.on('end', stop)
      process.stdin.on('error', stop)
      process.stdin.resume()
    }
  })
}
