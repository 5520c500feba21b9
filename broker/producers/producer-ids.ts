// Producer id allocation. Ids are handed out from blocks whose end is persisted before any id in them is
// used, so a restart never hands out an id twice (it skips the rest of the last block), the way Kafka's
// controller allocates blocks through AllocateProducerIds. Any id below the persisted block end may have
// been handed out; ids at or above it were not, which is how Produce recognizes UNKNOWN_PRODUCER_ID.

import type { MetadataPersistence } from '../controller/local-metadata.ts'

export const PRODUCER_ID_BLOCK_SIZE = 1000

export class ProducerIdManager {
  private next: number
  private blockEnd: number
  private readonly persistence: MetadataPersistence
  private pending: Promise<void> | null = null

  private constructor(persistence: MetadataPersistence, blockEnd: number) {
    this.persistence = persistence
    this.next = blockEnd
    this.blockEnd = blockEnd
  }

  static async open(persistence: MetadataPersistence): Promise<ProducerIdManager> {
    const text = await persistence.load()
    let end = 0
    if (text !== null) {
      const m = /^nextBlockStart=(\d+)$/m.exec(text)
      if (!m) throw new Error(`producer id state is unreadable: ${JSON.stringify(text.slice(0, 80))}`)
      end = Number(m[1])
    }
    return new ProducerIdManager(persistence, end)
  }

  /** Whether this cluster may have handed out the id. */
  isAllocated(producerId: number): boolean {
    return producerId >= 0 && producerId < this.blockEnd
  }

  async allocate(): Promise<number> {
    while (this.next >= this.blockEnd) {
      if (!this.pending) {
        const end = this.blockEnd + PRODUCER_ID_BLOCK_SIZE
        this.pending = this.persistence.save(`nextBlockStart=${end}\n`).then(
          () => {
            this.blockEnd = end
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
