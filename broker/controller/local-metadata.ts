// The cluster metadata of a single broker: topics, their ids, partition counts and config overrides.
// Persisted as one JSON document replaced atomically on every change. The Raft metadata quorum replaces
// this with a replicated metadata log; the interface (records in, state out) stays the same.

export interface TopicRecord {
  readonly name: string
  /** 32 hex digits. */
  readonly topicId: string
  readonly partitions: number
  readonly replicationFactor: number
  readonly configs: Readonly<Record<string, string>>
  readonly internal: boolean
}

/** Where the document lives; the broker backs it with its FileSystem (tmp + fsync + rename + dir fsync). */
export interface MetadataPersistence {
  load(): Promise<string | null>
  save(text: string): Promise<void>
}

interface Document {
  version: 1
  topics: TopicRecord[]
}

export class LocalMetadata {
  private readonly byName = new Map<string, TopicRecord>()
  private readonly byId = new Map<string, TopicRecord>()
  private readonly persistence: MetadataPersistence
  /** Serializes saves so the file always holds the latest state. */
  private saving: Promise<void> = Promise.resolve()

  private constructor(persistence: MetadataPersistence) {
    this.persistence = persistence
  }

  static async open(persistence: MetadataPersistence): Promise<LocalMetadata> {
    const m = new LocalMetadata(persistence)
    const text = await persistence.load()
    if (text !== null) {
      let doc: Document
      try {
        doc = JSON.parse(text) as Document
      } catch (err) {
        throw new Error(`topic metadata is not valid JSON: ${(err as Error).message}`, { cause: err })
      }
      if (doc.version !== 1 || !Array.isArray(doc.topics)) throw new Error(`topic metadata has unknown version ${String(doc.version)}`)
      for (const t of doc.topics) m.index(t)
    }
    return m
  }

  private index(t: TopicRecord): void {
    this.byName.set(t.name, t)
    this.byId.set(t.topicId, t)
  }

  topics(): TopicRecord[] {
    return [...this.byName.values()]
  }

  get(name: string): TopicRecord | undefined {
    return this.byName.get(name)
  }

  getById(topicId: string): TopicRecord | undefined {
    return this.byId.get(topicId)
  }

  async put(t: TopicRecord): Promise<void> {
    const old = this.byName.get(t.name)
    if (old) this.byId.delete(old.topicId)
    this.index(t)
    await this.persist()
  }

  async remove(name: string): Promise<void> {
    const t = this.byName.get(name)
    if (!t) return
    this.byName.delete(name)
    this.byId.delete(t.topicId)
    await this.persist()
  }

  private persist(): Promise<void> {
    const next = this.saving.then(() => {
      const doc: Document = { version: 1, topics: this.topics() }
      return this.persistence.save(`${JSON.stringify(doc, null, 1)}\n`)
    })
    this.saving = next.catch(() => undefined)
    return next
  }
}
