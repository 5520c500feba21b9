// faultline's proxy server: Toxiproxy's HTTP API (same routes, JSON shapes and status codes, so
// toxiproxy-node-client and every other Toxiproxy client drive it) over TCP proxies with Toxiproxy's toxics.
//
//   GET    /version                          {"version": "..."}
//   POST   /reset                            every proxy enabled, every toxic removed; 204
//   GET    /proxies                          { name: proxy, ... }
//   POST   /proxies                          create { name, listen, upstream, enabled? }; 201; 409 if it exists
//   POST   /populate                         create or replace a list of proxies; 201 { proxies: [...] }
//   GET    /proxies/{name}                   the proxy with its toxics
//   POST   /proxies/{name}  (or PATCH)       update listen, upstream, enabled (false = down: listener closed,
//                                            connections cut)
//   DELETE /proxies/{name}                   204
//   GET    /proxies/{name}/toxics            [toxic, ...]
//   POST   /proxies/{name}/toxics            create { name?, type, stream?, toxicity?, attributes }; 200
//   GET    /proxies/{name}/toxics/{toxic}    the toxic
//   POST   /proxies/{name}/toxics/{toxic}    update attributes and toxicity (or PATCH)
//   DELETE /proxies/{name}/toxics/{toxic}    204
//
// Errors are {"error": message, "status": code}: 400 bad body or field, 404 no such proxy or toxic, 409 exists,
// 500 a listener that could not be opened. A proxy is { name, listen, upstream, enabled, toxics }; its listen is
// the bound address once listening (host:0 becomes host:port). See docs/architecture.md (the proxy path).

import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { Link, type LinkToxic } from './link.ts'
import { type Attributes, type Stream, TOXIC_ATTRIBUTES, TOXIC_TYPES, type ToxicType } from './toxics.ts'

export const PROXY_SERVER_VERSION = 'faultline-proxy-1 (Toxiproxy API 2)'

class ApiError extends Error {
  readonly status: number
  constructor(message: string, status: number) {
    super(message)
    this.status = status
  }
}

const badBody = (why: string) => new ApiError(`bad request body: ${why}`, 400)
const missing = (field: string) => new ApiError(`missing required field: ${field}`, 400)

interface ProxyJson {
  name: string
  listen: string
  upstream: string
  enabled: boolean
  toxics: ToxicJson[]
}
interface ToxicJson {
  name: string
  type: ToxicType
  stream: Stream
  toxicity: number
  attributes: Attributes
}

function splitHostPort(addr: string, what: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':')
  const host = i < 0 ? '' : addr.slice(0, i).replace(/^\[(.*)\]$/, '$1')
  const port = Number(addr.slice(i + 1))
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new ApiError(`${what} ${JSON.stringify(addr)}: expected host:port`, 400)
  return { host: host === '' ? '0.0.0.0' : host === 'localhost' ? '127.0.0.1' : host, port }
}

const joinHostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)

class Proxy {
  readonly name: string
  listen: string
  upstream: string
  enabled = false
  readonly toxics: ToxicJson[] = []
  private server: Server | null = null
  private readonly links = new Set<Link>()

  constructor(name: string, listen: string, upstream: string) {
    this.name = name
    this.listen = listen
    this.upstream = upstream
  }

  json(): ProxyJson {
    return { name: this.name, listen: this.listen, upstream: this.upstream, enabled: this.enabled, toxics: this.toxics.map((t) => ({ ...t })) }
  }

  async start(): Promise<void> {
    if (this.enabled) return
    const { host, port } = splitHostPort(this.listen, 'listen')
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client))
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ApiError(`listen ${this.listen}: ${err.message}`, 500)))
      server.listen({ host, port }, () => resolve())
    })
    const a = server.address()
    if (a && typeof a === 'object') this.listen = joinHostPort(a.address, a.port)
    this.server = server
    this.enabled = true
  }

  /** Stops listening and cuts every connection (the proxy is down). */
  stop(): void {
    if (!this.enabled) return
    this.enabled = false
    this.server?.close()
    this.server = null
    for (const l of [...this.links]) l.destroy()
  }

  private accept(client: Socket): void {
    let target: { host: string; port: number }
    try {
      target = splitHostPort(this.upstream, 'upstream')
    } catch {
      client.destroy()
      return
    }
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true })
    const link = new Link(client, upstream, this.toxics.map(linkToxic), (l) => this.links.delete(l))
    this.links.add(link)
  }

  addToxic(t: ToxicJson): void {
    this.toxics.push(t)
    for (const l of this.links) l.addToxic(linkToxic(t))
  }

  updateToxic(t: ToxicJson): void {
    for (const l of this.links) l.updateToxic(linkToxic(t))
  }

  removeToxic(name: string): void {
    const i = this.toxics.findIndex((t) => t.name === name)
    if (i < 0) throw new ApiError('toxic not found', 404)
    const [t] = this.toxics.splice(i, 1)
    for (const l of this.links) l.removeToxic(t!)
  }
}

const linkToxic = (t: ToxicJson): LinkToxic => t

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function str(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw badBody(`${key}: expected a string`)
  return v
}

function parseAttributes(type: ToxicType, raw: unknown, base: Attributes): Attributes {
  if (raw === undefined || raw === null) return base
  if (!isObject(raw)) throw badBody('attributes: expected an object')
  const out: Record<string, number> = { ...base }
  for (const key of TOXIC_ATTRIBUTES[type]) {
    const v = raw[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badBody(`attributes.${key}: expected a number`)
    out[key] = v
  }
  return out
}

function parseToxicity(raw: unknown, fallback: number): number {
  if (raw === undefined || raw === null) return fallback
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw badBody('toxicity: expected a number from 0 to 1')
  return raw
}

export class ProxyServer {
  private readonly proxies = new Map<string, Proxy>()
  private http: HttpServer | null = null
  /** Requests run one at a time, as Toxiproxy's collection lock makes them. */
  private queue: Promise<unknown> = Promise.resolve()

  /** Starts the HTTP API; resolves to its URL. */
  async listen(host = '127.0.0.1', port = 0): Promise<string> {
    const http = createHttpServer((req, res) => void this.serve(req, res))
    // Toxiproxy keeps idle API connections 60 s; with Node's 5 s a client's pooled connection can be closed
    // under it between two calls (a client busy elsewhere then gets "other side closed").
    http.keepAliveTimeout = 60_000
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen({ host, port }, () => resolve())
    })
    this.http = http
    const a = http.address()
    if (!a || typeof a !== 'object') throw new Error('the API server has no address')
    return `http://${joinHostPort(a.address, a.port)}`
  }

  async close(): Promise<void> {
    for (const p of this.proxies.values()) p.stop()
    this.proxies.clear()
    const http = this.http
    this.http = null
    if (http) {
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const run = this.queue.then(() => this.route(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8')))
    this.queue = run.catch(() => {})
    let status: number
    let body: unknown
    try {
      ;({ status, body } = await run)
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError((err as Error).message, 500)
      status = e.status
      body = { error: e.message, status: e.status }
    }
    if (body === undefined) {
      res.writeHead(status).end()
      return
    }
    const text = JSON.stringify(body)
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text)
  }

  private async route(method: string, url: string, text: string): Promise<{ status: number; body?: unknown }> {
    const path = decodeURIComponent(url.split('?')[0]!).replace(/\/+$/, '') || '/'
    const parts = path.split('/').slice(1)
    const json = (): unknown => {
      if (text.trim() === '') throw badBody('empty')
      try {
        return JSON.parse(text)
      } catch (err) {
        throw badBody((err as Error).message)
      }
    }
    const update = method === 'POST' || method === 'PATCH'
    if (path === '/version' && method === 'GET') return { status: 200, body: { version: PROXY_SERVER_VERSION } }
    if (path === '/reset' && method === 'POST') {
      for (const p of this.proxies.values()) {
        await p.start()
        for (const t of [...p.toxics]) p.removeToxic(t.name)
      }
      return { status: 204 }
    }
    if (path === '/populate' && method === 'POST') return this.populate(json())
    if (parts[0] !== 'proxies') throw new ApiError('not found', 404)
    if (parts.length === 1) {
      if (method === 'GET') return { status: 200, body: Object.fromEntries([...this.proxies].map(([n, p]) => [n, p.json()])) }
      if (method === 'POST') return { status: 201, body: (await this.create(json())).json() }
      throw new ApiError('method not allowed', 405)
    }
    const proxy = this.proxies.get(parts[1]!)
    if (parts.length === 2) {
      if (!proxy) throw new ApiError('proxy not found', 404)
      if (method === 'GET') return { status: 200, body: proxy.json() }
      if (update) return { status: 200, body: (await this.updateProxy(proxy, json())).json() }
      if (method === 'DELETE') {
        proxy.stop()
        this.proxies.delete(proxy.name)
        return { status: 204 }
      }
      throw new ApiError('method not allowed', 405)
    }
    if (parts[2] !== 'toxics' || parts.length > 4) throw new ApiError('not found', 404)
    if (!proxy) throw new ApiError('proxy not found', 404)
    if (parts.length === 3) {
      if (method === 'GET') return { status: 200, body: proxy.toxics.map((t) => ({ ...t })) }
      if (method === 'POST') return { status: 200, body: this.createToxic(proxy, json()) }
      throw new ApiError('method not allowed', 405)
    }
    const toxic = proxy.toxics.find((t) => t.name === parts[3])
    if (method === 'DELETE') {
      proxy.removeToxic(parts[3]!)
      return { status: 204 }
    }
    if (!toxic) throw new ApiError('toxic not found', 404)
    if (method === 'GET') return { status: 200, body: { ...toxic } }
    if (update) {
      const body = json()
      if (!isObject(body)) throw badBody('expected an object')
      toxic.attributes = parseAttributes(toxic.type, body.attributes, toxic.attributes)
      toxic.toxicity = parseToxicity(body.toxicity, toxic.toxicity)
      proxy.updateToxic(toxic)
      return { status: 200, body: { ...toxic } }
    }
    throw new ApiError('method not allowed', 405)
  }

  private parseProxy(body: unknown, where = ''): { name: string; listen: string; upstream: string; enabled: boolean } {
    if (!isObject(body)) throw badBody('expected an object')
    const name = str(body, 'name')
    const upstream = str(body, 'upstream')
    if (!name) throw missing(`name${where}`)
    if (!upstream) throw missing(`upstream${where}`)
    const enabled = body.enabled === undefined || body.enabled === null ? true : body.enabled
    if (typeof enabled !== 'boolean') throw badBody('enabled: expected true or false')
    return { name, listen: str(body, 'listen') ?? '127.0.0.1:0', upstream, enabled }
  }

  private async create(body: unknown): Promise<Proxy> {
    const p = this.parseProxy(body)
    if (this.proxies.has(p.name)) throw new ApiError('proxy already exists', 409)
    const proxy = new Proxy(p.name, p.listen, p.upstream)
    if (p.enabled) await proxy.start()
    this.proxies.set(p.name, proxy)
    return proxy
  }

  private async populate(body: unknown): Promise<{ status: number; body: unknown }> {
    if (!Array.isArray(body)) throw badBody('expected a list of proxies')
    const inputs = body.map((b, i) => this.parseProxy(b, ` at proxy ${i + 1}`))
    const done: ProxyJson[] = []
    for (const p of inputs) {
      const existing = this.proxies.get(p.name)
      if (existing && existing.listen === p.listen && existing.upstream === p.upstream) {
        done.push(existing.json())
        continue
      }
      existing?.stop()
      const proxy = new Proxy(p.name, p.listen, p.upstream)
      try {
        if (p.enabled) await proxy.start()
      } catch (err) {
        const e = err as ApiError
        return { status: e.status, body: { error: e.message, status: e.status, proxies: done } }
      }
      this.proxies.set(p.name, proxy)
      done.push(proxy.json())
    }
    return { status: 201, body: { proxies: done } }
  }

  private async updateProxy(proxy: Proxy, body: unknown): Promise<Proxy> {
    if (!isObject(body)) throw badBody('expected an object')
    const listen = str(body, 'listen') ?? proxy.listen
    const upstream = str(body, 'upstream') ?? proxy.upstream
    const enabled = body.enabled === undefined || body.enabled === null ? proxy.enabled : body.enabled
    if (typeof enabled !== 'boolean') throw badBody('enabled: expected true or false')
    const l = splitHostPort(listen, 'listen')
    const current = splitHostPort(proxy.listen, 'listen')
    const differs = l.host !== current.host || l.port !== current.port || upstream !== proxy.upstream
    const wasEnabled = proxy.enabled
    if (differs) {
      proxy.stop()
      proxy.listen = listen
      proxy.upstream = upstream
      if (wasEnabled && enabled) await proxy.start()
    }
    if (enabled && !proxy.enabled) await proxy.start()
    if (!enabled) proxy.stop()
    return proxy
  }

  private createToxic(proxy: Proxy, body: unknown): ToxicJson {
    if (!isObject(body)) throw badBody('expected an object')
    const stream = str(body, 'stream') ?? 'downstream'
    if (stream !== 'upstream' && stream !== 'downstream') throw new ApiError('stream was invalid, can be either upstream or downstream', 400)
    const type = str(body, 'type')
    if (!type || !(TOXIC_TYPES as readonly string[]).includes(type)) throw new ApiError('invalid toxic type', 400)
    const t = type as ToxicType
    const name = str(body, 'name') || `${t}_${stream}`
    if (proxy.toxics.some((x) => x.name === name)) throw new ApiError('toxic already exists', 409)
    const attributes = parseAttributes(t, body.attributes, Object.fromEntries(TOXIC_ATTRIBUTES[t].map((k) => [k, 0])))
    const toxic: ToxicJson = { name, type: t, stream, toxicity: parseToxicity(body.toxicity, 1), attributes }
    proxy.addToxic(toxic)
    return { ...toxic }
  }
}
