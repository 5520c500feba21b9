// Producer-state snapshots: `<offset, 20 digits>.snapshot` in the partition directory, holding the state of
// every producer after all batches below that offset. Written at clean shutdown and periodically; on start
// the newest snapshot at or below the log end is loaded and the batches after it are replayed. Snapshots
// past the log end (the log lost an unflushed tail in a crash) are deleted. File: uint32 CRC-32C of the
// rest, then the serialized state.

import { join } from 'node:path'
import { crc32c } from '../protocol/crc32c.ts'
import { iterateBatches } from '../protocol/record-batch.ts'
import type { FileSystem } from '../storage/file-system.ts'
import type { PartitionLog } from '../storage/log.ts'
import type { Logger } from '../logger.ts'
import { ProducerStateManager } from './producer-state.ts'

const SUFFIX = '.snapshot'
const KEEP = 2
const REPLAY_CHUNK = 4 * 1024 * 1024

const snapshotName = (offset: number) => `${String(offset).padStart(20, '0')}${SUFFIX}`

function snapshotOffsets(fs: FileSystem, dir: string): number[] {
  return fs
    .list(dir)
    .filter((n) => n.endsWith(SUFFIX) && /^\d{20}$/.test(n.slice(0, -SUFFIX.length)))
    .map((n) => Number(n.slice(0, -SUFFIX.length)))
    .sort((a, b) => b - a)
}

export async function writeSnapshot(fs: FileSystem, log: PartitionLog, state: ProducerStateManager): Promise<void> {
  const offset = log.logEndOffset
  const body = state.serialize()
  const head = Buffer.allocUnsafe(4)
  head.writeUInt32BE(crc32c(body), 0)
  const path = join(log.dir, snapshotName(offset))
  const tmp = `${path}.tmp`
  const h = fs.open(tmp, { create: true, truncate: true })
  try {
    h.write([head, body], 0)
    await h.sync()
  } finally {
    await h.close()
  }
  fs.rename(tmp, path)
  await fs.syncDir(log.dir)
  for (const old of snapshotOffsets(fs, log.dir).slice(KEEP)) fs.unlink(join(log.dir, snapshotName(old)))
}

async function readSnapshot(fs: FileSystem, path: string): Promise<ProducerStateManager | null> {
  const h = fs.open(path)
  try {
    const buf = await h.read(0, h.size())
    if (buf.length < 4 || buf.readUInt32BE(0) !== crc32c(buf, 4)) return null
    return ProducerStateManager.deserialize(buf.subarray(4))
  } catch {
    return null
  } finally {
    await h.close()
  }
}

/** Rebuilds a partition's producer state: newest usable snapshot, then replay of the log after it. */
export async function loadProducerState(fs: FileSystem, log: PartitionLog, logger: Logger, now: number): Promise<ProducerStateManager> {
  let state: ProducerStateManager | null = null
  let from = log.logStartOffset
  for (const offset of snapshotOffsets(fs, log.dir)) {
    const path = join(log.dir, snapshotName(offset))
    if (offset > log.logEndOffset) {
      fs.unlink(path)
      continue
    }
    state = await readSnapshot(fs, path)
    if (state) {
      from = Math.max(offset, log.logStartOffset)
      break
    }
    logger.warn('ignoring corrupt producer snapshot', { path })
    fs.unlink(path)
  }
  state ??= new ProducerStateManager()
  let replayed = 0
  let offset = from
  while (offset < log.logEndOffset) {
    const res = await log.read(offset, REPLAY_CHUNK, log.logEndOffset, true)
    if (res.kind !== 'ok' || res.bytes === 0) break
    let next = offset
    for (const chunk of res.records) {
      for (const b of iterateBatches(chunk)) {
        const last = b.lastOffset
        if (last >= offset && b.producerId >= 0) {
          state.update({ producerId: b.producerId, producerEpoch: b.producerEpoch, baseSequence: b.baseSequence, recordCount: b.recordCount, maxTimestamp: b.maxTimestamp }, b.baseOffset, last, now)
          replayed++
        }
        next = Math.max(next, last + 1)
      }
    }
    if (next <= offset) break
    offset = next
  }
  if (replayed > 0) logger.info('replayed producer state', { topic: log.topic, partition: log.partition, from, batches: replayed, producers: state.size })
  return state
}
