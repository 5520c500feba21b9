// A broker's way to the active controller: in process when this node leads the metadata quorum, over the
// CONTROLLER listener otherwise. NOT_CONTROLLER, no known leader and lost connections are retried until the
// deadline (the controller moves during elections); every other answer goes back to the caller as a value.
//
// Arguments are checked (wire-validate.ts) before they go anywhere, in process or over the wire, so a bad one
// is refused at once with INVALID_REQUEST instead of being retried against a controller that closes the
// connection on it. A controller that fails on a request (throws, or answers an error over the wire) gives
// UNKNOWN_SERVER_ERROR: asking again would fail again.

import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { type ControllerChannel, ControllerRequestError } from './controller-channel.ts'
import type { MetadataQuorum } from './metadata-quorum.ts'
import type { ControllerApi } from './quorum-controller.ts'
import { checkControllerArgs, type ControllerArgs, type ControllerMethod, type ControllerResult, isControllerMethod } from './wire-validate.ts'

type Method = ControllerMethod

const RETRY_MS = 50

/** The answer to a request that failed outright, in the method's own shape (per topic for the topic methods). */
const FAILED: { readonly [M in Method]: (arg: ControllerArgs<M>, errorCode: number, message: string) => ControllerResult<M> } = {
  registerBroker: (_a, errorCode) => ({ errorCode, brokerEpoch: -1, offset: -1 }),
  heartbeat: (_a, errorCode) => ({ errorCode, isFenced: true, shouldShutDown: false, offset: -1 }),
  createTopics: (specs, errorCode, errorMessage) =>
    Array.isArray(specs) ? { errorCode: ErrorCode.NONE, results: specs.map(() => ({ errorCode, errorMessage })), offset: -1 } : { errorCode, results: [], offset: -1 },
  deleteTopics: (ids, errorCode, errorMessage) =>
    Array.isArray(ids) ? { errorCode: ErrorCode.NONE, results: ids.map(() => ({ errorCode, errorMessage })), offset: -1 } : { errorCode, results: [], offset: -1 },
  alterPartition: (_a, errorCode) => ({ errorCode, offset: -1 }),
  allocateProducerIds: (_a, errorCode) => ({ errorCode, start: -1, length: 0, offset: -1 }),
  electLeaders: (_a, errorCode) => ({ errorCode, results: [], offset: -1 }),
  alterPartitionReassignments: (_a, errorCode) => ({ errorCode, results: [], offset: -1 }),
  createPartitions: (specs, errorCode, errorMessage) =>
    Array.isArray(specs) ? { errorCode: ErrorCode.NONE, results: specs.map(() => ({ errorCode, errorMessage })), offset: -1 } : { errorCode, results: [], offset: -1 },
  alterConfigs: (changes, errorCode, errorMessage) =>
    Array.isArray(changes) ? { errorCode: ErrorCode.NONE, results: changes.map(() => ({ errorCode, errorMessage })), offset: -1 } : { errorCode, results: [], offset: -1 },
  createAcls: (acls, errorCode, errorMessage) =>
    Array.isArray(acls) ? { errorCode: ErrorCode.NONE, results: acls.map(() => ({ errorCode, errorMessage })), offset: -1 } : { errorCode, results: [], offset: -1 },
  deleteAcls: (filters, errorCode, errorMessage) =>
    Array.isArray(filters) ? { errorCode: ErrorCode.NONE, results: filters.map(() => ({ errorCode, errorMessage, acls: [] })), offset: -1 } : { errorCode, results: [], offset: -1 },
  alterUserScramCredentials: (req, errorCode, errorMessage) => ({
    errorCode: ErrorCode.NONE,
    results: [...new Set([...(req?.deletions ?? []).map((d) => d.name), ...(req?.upsertions ?? []).map((u) => u.name)])].map((user) => ({ user, errorCode, errorMessage })),
    offset: -1,
  }),
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** Serves ControllerApi requests arriving on the channel (their arguments already checked) from the local quorum controller. */
export function serveControllerRequests(channel: ControllerChannel, quorum: MetadataQuorum): void {
  channel.onRequest(async (method, args) => {
    if (!isControllerMethod(method)) throw new Error(`unknown controller request ${String(method)}`)
    const fn = quorum.controller[method] as (a: unknown) => Promise<unknown>
    return fn.call(quorum.controller, args)
  })
}

export class ControllerClient {
  readonly #nodeId: number
  readonly #quorum: MetadataQuorum
  readonly #channel: ControllerChannel | null
  readonly #clock: Clock
  readonly #log: Logger

  constructor(nodeId: number, quorum: MetadataQuorum, channel: ControllerChannel | null, clock: Clock, log: Logger) {
    this.#nodeId = nodeId
    this.#quorum = quorum
    this.#channel = channel
    this.#clock = clock
    this.#log = log
  }

  /**
   * Calls the active controller, retrying while there is none; after timeoutMs resolves with
   * `timedOut` (errorCode REQUEST_TIMED_OUT, no other fields). Never rejects.
   */
  async call<M extends Method>(method: M, arg: Parameters<ControllerApi[M]>[0], timeoutMs: number): Promise<Awaited<ReturnType<ControllerApi[M]>> | { errorCode: number; timedOut: true }> {
    const failed = FAILED[method] as (a: unknown, errorCode: number, message: string) => ControllerResult<M>
    const bad = checkControllerArgs(method, arg)
    if (bad !== null) {
      this.#log.warn('controller request not sent: invalid arguments', { method, reason: `request${bad}`.slice(0, 1000) })
      return failed(arg, ErrorCode.INVALID_REQUEST, `Invalid controller request: request${bad}`.slice(0, 1000))
    }
    const deadline = this.#clock.monotonic() + timeoutMs
    for (;;) {
      const leader = this.#quorum.leaderId
      let res: { errorCode: number } | null = null
      if (leader === this.#nodeId) {
        const fn = this.#quorum.controller[method] as (a: unknown) => Promise<{ errorCode: number }>
        try {
          res = await fn.call(this.#quorum.controller, arg)
        } catch (err) {
          this.#log.warn('controller request failed', { method, err: message(err) })
          return failed(arg, ErrorCode.UNKNOWN_SERVER_ERROR, `The controller failed: ${message(err)}`)
        }
      } else if (leader !== null && this.#channel) {
        const left = Math.max(1, deadline - this.#clock.monotonic())
        try {
          res = await this.#channel.request<{ errorCode: number }>(leader, method, arg, Math.min(left, 5000))
        } catch (err) {
          if (err instanceof ControllerRequestError) {
            this.#log.warn('controller request failed at the controller', { method, controller: leader, err: err.message })
            return failed(arg, ErrorCode.UNKNOWN_SERVER_ERROR, `The controller failed: ${err.message}`)
          }
          this.#log.debug('controller request failed', { method, controller: leader, err: message(err) })
        }
      }
      if (res && res.errorCode !== ErrorCode.NOT_CONTROLLER) return res as Awaited<ReturnType<ControllerApi[M]>>
      if (this.#clock.monotonic() >= deadline) return { errorCode: ErrorCode.REQUEST_TIMED_OUT, timedOut: true }
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, RETRY_MS))
    }
  }
}
