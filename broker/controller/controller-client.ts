// A broker's way to the active controller: in process when this node leads the metadata quorum, over the
// CONTROLLER listener otherwise. NOT_CONTROLLER, no known leader and lost connections are retried until the
// deadline (the controller moves during elections); every other answer goes back to the caller as a value.

import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { ControllerChannel } from './controller-channel.ts'
import type { MetadataQuorum } from './metadata-quorum.ts'
import type { ControllerApi } from './quorum-controller.ts'

type Method = keyof ControllerApi
const METHODS: readonly Method[] = ['registerBroker', 'heartbeat', 'createTopics', 'deleteTopics', 'alterPartition', 'allocateProducerIds']

const RETRY_MS = 50

/** Serves ControllerApi requests arriving on the channel from the local quorum controller. */
export function serveControllerRequests(channel: ControllerChannel, quorum: MetadataQuorum): void {
  channel.onRequest(async (method, args) => {
    if (!METHODS.includes(method as Method)) throw new Error(`unknown controller request ${method}`)
    const fn = quorum.controller[method as Method] as (a: unknown) => Promise<unknown>
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
   * `timedOut` (errorCode REQUEST_TIMED_OUT, no other fields).
   */
  async call<M extends Method>(method: M, arg: Parameters<ControllerApi[M]>[0], timeoutMs: number): Promise<Awaited<ReturnType<ControllerApi[M]>> | { errorCode: number; timedOut: true }> {
    const deadline = this.#clock.monotonic() + timeoutMs
    for (;;) {
      const leader = this.#quorum.leaderId
      let res: { errorCode: number } | null = null
      if (leader === this.#nodeId) {
        const fn = this.#quorum.controller[method] as (a: unknown) => Promise<{ errorCode: number }>
        res = await fn.call(this.#quorum.controller, arg)
      } else if (leader !== null && this.#channel) {
        const left = Math.max(1, deadline - this.#clock.monotonic())
        res = await this.#channel.request<{ errorCode: number }>(leader, method, arg, Math.min(left, 5000)).catch((err: unknown) => {
          this.#log.debug('controller request failed', { method, controller: leader, err: (err as Error).message })
          return null
        })
      }
      if (res && res.errorCode !== ErrorCode.NOT_CONTROLLER) return res as Awaited<ReturnType<ControllerApi[M]>>
      if (this.#clock.monotonic() >= deadline) return { errorCode: ErrorCode.REQUEST_TIMED_OUT, timedOut: true }
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, RETRY_MS))
    }
  }
}
