// The API registry. Each file in broker/apis registers its handler at import time; ApiVersions is derived
// from this registry, and a coverage test walks it so that an API without a test fails CI.

import type { RequestHeader } from '../protocol/header.ts'
import type { ApiDecl, Fields, In, Out } from '../protocol/schema.ts'
import type { Broker } from '../broker.ts'
import type { SaslSession } from '../sasl/session.ts'

/** What a handler knows about the connection a request came in on. */
export interface ConnectionInfo {
  readonly id: string
  readonly remoteAddress: string
  readonly remotePort: number
  readonly listenerName: string
  /** Kafka principal, `User:ANONYMOUS` until SASL or TLS says otherwise. */
  principal: string
  /** The SASL state on a SASL listener, else null. */
  readonly sasl: SaslSession | null
  clientSoftwareName: string | null
  clientSoftwareVersion: string | null
  /** Closes the connection after the responses queued so far are written. */
  close(reason: string): void
}

export interface RequestContext {
  readonly header: RequestHeader
  readonly version: number
  readonly connection: ConnectionInfo
  readonly broker: Broker
}

/** Returned by a handler that must not answer (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no-response')
export type NoResponse = typeof NO_RESPONSE

export type Handler<Req extends Fields, Res extends Fields> = (
  req: Out<Req>,
  ctx: RequestContext,
) => In<Res> | NoResponse | Promise<In<Res> | NoResponse>

export interface Registration {
  readonly api: ApiDecl
  /** Version range served; defaults to the declaration's range. */
  readonly minVersion: number
  readonly maxVersion: number
  readonly handle: Handler<Fields, Fields>
}

const byKey = new Map<number, Registration>()

export function register<Req extends Fields, Res extends Fields>(
  api: ApiDecl<Req, Res>,
  handle: Handler<Req, Res>,
  opts: { minVersion?: number; maxVersion?: number } = {},
): void {
  if (byKey.has(api.key)) throw new Error(`API ${api.name} (key ${api.key}) registered twice`)
  byKey.set(api.key, {
    api: api as unknown as ApiDecl,
    minVersion: opts.minVersion ?? api.minVersion,
    maxVersion: opts.maxVersion ?? api.maxVersion,
    handle: handle as unknown as Handler<Fields, Fields>,
  })
}

export function registration(key: number): Registration | undefined {
  return byKey.get(key)
}

export function registrations(): Registration[] {
  return [...byKey.values()].sort((a, b) => a.api.key - b.api.key)
}

/** ApiVersions' key list, derived from the registry. */
export function supportedApiKeys(): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return registrations().map((r) => ({ apiKey: r.api.key, minVersion: r.minVersion, maxVersion: r.maxVersion }))
}
