// Request and response headers.
// Request header v1: apiKey int16, apiVersion int16, correlationId int32, clientId nullable int16-string.
// Request header v2 (flexible API versions): v1 + tagged fields. ClientId stays a classic string.
// Response header v0: correlationId. v1 (flexible API versions): + tagged fields, except ApiVersions,
// whose response always uses header v0 so that a client can read it before knowing our versions (KIP-511).

import { DecodeError, type Reader } from './reader.ts'
import type { Writer } from './writer.ts'

export const API_VERSIONS_KEY = 18

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
}

/** Reads the fixed part of a request header (v1 fields). The tagged fields of v2 follow, see skipTaggedFields. */
export function readRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  const clientId = r.nullableString()
  return { apiKey, apiVersion, correlationId, clientId }
}

export function writeRequestHeader(w: Writer, h: RequestHeader, flexible: boolean): void {
  w.int16(h.apiKey).int16(h.apiVersion).int32(h.correlationId).nullableString(h.clientId)
  if (flexible) w.uvarint(0)
}

/** Skips a tagged-field section (headers carry none we use). */
export function skipTaggedFields(r: Reader): void {
  const n = r.uvarint()
  let last = -1
  for (let i = 0; i < n; i++) {
    const tag = r.uvarint()
    if (tag <= last) throw new DecodeError(`header tagged fields out of order (${tag} after ${last})`)
    last = tag
    r.skip(r.uvarint())
  }
}

export function responseHeaderIsFlexible(apiKey: number, flexibleBody: boolean): boolean {
  return flexibleBody && apiKey !== API_VERSIONS_KEY
}

export function writeResponseHeader(w: Writer, correlationId: number, flexible: boolean): void {
  w.int32(correlationId)
  if (flexible) w.uvarint(0)
}

export function readResponseHeader(r: Reader, flexible: boolean): number {
  const correlationId = r.int32()
  if (flexible) skipTaggedFields(r)
  return correlationId
}
