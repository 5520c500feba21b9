// Producer id allocation. Ids are handed out from blocks the controller allocates through the metadata log
// (Kafka's AllocateProducerIds): a block is committed before any id in it is used, so no id is handed out
// twice, across restarts and across brokers (a restart skips the rest of its last block).

export const PRODUCER_ID_BLOCK_SIZE = 1000

export interface ProducerIdSource {
  /** A fresh block from the controller; rejects when none can be had (no controller, not registered). */
  nextBlock(): Promise<{ start: number; length: number }>
}

export class ProducerIdManager {
  private next = 0
  private blockEnd = 0
  private readonly source: ProducerIdSource
  private pending: Promise<void> | null = null

  constructor(source: ProducerIdSource) {
    this.source = source
  }

  async allocate(): Promise<number> {
    while (this.next >= this.blockEnd) {
      if (!this.pending) {
        this.pending = this.source.nextBlock().then(
          (b) => {
            this.next = b.start
            this.blockEnd = b.start + b.length
            this.pending = null
          },
          (err: unknown) => {
            this.pending = null
            throw err
          },
        )
      }
      await this.pending
    }
    return this.next++
  }
}
