// Offset checkpoint files (recovery-point-offset-checkpoint, log-start-offset-checkpoint), Kafka's text format:
//
//   0                      version
//   2                      number of entries
//   orders 0 1234          topic partition offset
//   orders 1 988
//
// Written atomically: <name>.tmp is written and fsynced, renamed over <name>, and the directory fsynced.

import { dirname } from 'node:path'
import type { FileSystem } from './file-system.ts'

export const CHECKPOINT_VERSION = 0

export interface CheckpointEntry {
  topic: string
  partition: number
  offset: number
}

export function formatCheckpoint(entries: readonly CheckpointEntry[]): string {
  const lines = [String(CHECKPOINT_VERSION), String(entries.length)]
  for (const e of entries) lines.push(`${e.topic} ${e.partition} ${e.offset}`)
  return lines.join('\n') + '\n'
}

/** Parses a checkpoint; returns why it is malformed instead of throwing. */
export function parseCheckpoint(text: string): { entries: CheckpointEntry[] } | { problem: string } {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  if (lines[0] !== String(CHECKPOINT_VERSION)) return { problem: `unsupported version line ${JSON.stringify(lines[0] ?? '')}` }
  const count = Number(lines[1])
  if (lines[1] === undefined || !/^\d+$/.test(lines[1]) || !Number.isSafeInteger(count)) return { problem: `bad entry count ${JSON.stringify(lines[1] ?? '')}` }
  if (lines.length !== count + 2) return { problem: `expected ${count} entries, found ${lines.length - 2}` }
  const entries: CheckpointEntry[] = []
  for (let i = 2; i < lines.length; i++) {
    const m = /^([a-zA-Z0-9._-]+) (\d+) (-?\d+)$/.exec(lines[i]!)
    if (!m) return { problem: `line ${i + 1} is malformed: ${JSON.stringify(lines[i])}` }
    const partition = Number(m[2])
    const offset = Number(m[3])
    if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) return { problem: `line ${i + 1} is out of range` }
    entries.push({ topic: m[1]!, partition, offset })
  }
  return { entries }
}

export const checkpointKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`

/** Reads a checkpoint into a map keyed by checkpointKey; a missing file is empty, a malformed one is a problem. */
export async function readCheckpoint(fs: FileSystem, path: string): Promise<{ offsets: Map<string, number> } | { problem: string }> {
  if (!fs.exists(path)) return { offsets: new Map() }
  const file = fs.open(path)
  try {
    const parsed = parseCheckpoint((await file.read(0, file.size())).toString('utf8'))
    if ('problem' in parsed) return parsed
    return { offsets: new Map(parsed.entries.map((e) => [checkpointKey(e.topic, e.partition), e.offset])) }
  } finally {
    await file.close()
  }
}

/** Replaces the checkpoint atomically and durably. */
export async function writeCheckpoint(fs: FileSystem, path: string, entries: readonly CheckpointEntry[]): Promise<void> {
  const tmp = path + '.tmp'
  const file = fs.open(tmp, { create: true, truncate: true })
  try {
    file.write(Buffer.from(formatCheckpoint(entries), 'utf8'), 0)
    await file.sync()
  } finally {
    await file.close()
  }
  fs.rename(tmp, path)
  await fs.syncDir(dirname(path))
}
