// What the raw client's parts share: its capabilities and how Kafka's error codes become DriverErrors.

import { errorInfo, errorName } from '../../../broker/protocol/errors.ts'
import { clientError, DriverFailure, produceErrorFromCode, type Capabilities, type DriverError } from '../../driver.ts'

export const rawCapabilities: Capabilities = {
  consumerGroups: true,
  manualAssignment: true,
  idempotence: true,
  compression: ['none', 'gzip'],
  acks0: true,
  sasl: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
  tls: true,
  errorCodes: true,
  pipelining: true,
  clientRetries: false,
}

/** Codes after which the partition's leader is probably elsewhere: refresh metadata. */
export const STALE_METADATA = new Set([3, 5, 6, 74, 75, 103])

export function asDriverError(e: unknown, definite: boolean): DriverError {
  if (e instanceof DriverFailure && e.error) return e.error
  const msg = e instanceof Error ? e.message : String(e)
  return clientError('NETWORK', msg, definite)
}

export function kafkaError(code: number, message?: string | null): DriverError {
  return produceErrorFromCode(code, errorName(code), errorInfo(code).retriable, 'one', message ?? undefined)
}

/**
 * A Produce error. With acks=all a leader answers NOT_LEADER_OR_FOLLOWER also after the append, when it loses
 * the leadership while waiting for the ISR (Kafka's DelayedProduce does the same); the followers may have
 * fetched the batch already, and the new leader then keeps it. So under acks=all it is not definite.
 */
export function produceError(code: number, message: string | null | undefined, acks: number): DriverError {
  const e = kafkaError(code, message)
  return acks === -1 && code === 6 && e.definite ? { ...e, definite: false } : e
}
