// A small, deterministic run for results and renderer tests: 1000 sends over 10 s on two partitions, warmup
// to 1 s, measurement to 9 s, a leader kill from 4 s to 6 s during which sends fail (4.0-4.2 s) or wait
// for acks until 5.5 s, one acknowledged value the consumer never gets (a lost write, and so a poll skip).

import type { ResultsInputs } from '../../reports/results.ts'
import type { HistoryEvent } from '../../workloads/history/events.ts'
import { HistoryWriter } from '../../workloads/history/writer.ts'

export const fixtureLostValue = 700

export function fixtureEvents(): HistoryEvent[] {
  const events: { time: number; seq: number; e: HistoryEvent }[] = []
  let seq = 0
  const at = (time: number, e: HistoryEvent): void => {
    events.push({ time, seq: seq++, e })
  }
  const offsets = [0, 0]
  for (const p of [0, 1]) at(0, { type: 'assign', group: 'g', member: 'm0', topic: 'orders', partition: p, time: 0 })
  at(1_000_000, { type: 'phase', phase: 'warmup-end', time: 1_000_000 })
  at(9_000_000, { type: 'phase', phase: 'measure-end', time: 9_000_000 })
  at(4_000_000, { type: 'fault', edge: 'start', id: 0, name: 'kill', target: 'leaderOf orders/0', time: 4_000_000 })
  at(6_000_000, { type: 'fault', edge: 'end', id: 0, name: 'kill', target: 'leaderOf orders/0', time: 6_000_000 })
  for (let v = 0; v < 1000; v++) {
    const intended = v * 10_000
    const sent = intended + (v % 7) * 10
    const partition = v % 2
    const key = `k${v % 10}`
    at(sent, { type: 'send', value: v, producer: 'producer-0', topic: 'orders', key, intended, time: sent, size: 1024 })
    if (sent >= 4_000_000 && sent < 4_200_000) {
      at(sent + 1000, { type: 'fail', value: v, time: sent + 1000, error: 'NOT_LEADER_OR_FOLLOWER', definite: true })
      continue
    }
    const ackTime = sent >= 4_200_000 && sent < 5_500_000 ? 5_500_000 + (v - 420) * 10 : sent + 2000 + (v % 13) * 100
    const offset = offsets[partition]!++
    at(ackTime, { type: 'ack', value: v, topic: 'orders', partition, offset, time: ackTime, sent, intended, size: 1024 })
    if (v === fixtureLostValue) continue
    const recvTime = ackTime + 3000
    at(recvTime, { type: 'recv', value: v, group: 'g', member: 'm0', topic: 'orders', partition, offset, time: recvTime, intended, size: 1024 })
  }
  events.sort((a, b) => a.time - b.time || a.seq - b.seq)
  return events.map((x) => x.e)
}

export async function writeFixtureHistory(path: string): Promise<void> {
  const w = await HistoryWriter.open(path, { flushIntervalMs: 0 })
  for (const e of fixtureEvents()) w.append(e)
  await w.close()
}

export const fixtureInputs: ResultsInputs = {
  scenario: { name: 'leader-kill-under-load', digest: '9f2c1e0b7a6d5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2' },
  run: {
    startedAt: '2025-01-02T03:04:05.000Z',
    seed: 42,
    faultlineVersion: '0.1.0',
    cluster: {
      backend: 'local',
      description: '3 reference brokers, local processes',
      bootstrap: '127.0.0.1:9092',
      nodes: [
        { id: '1', address: '127.0.0.1:9092', version: '0.1.0' },
        { id: '2', address: '127.0.0.1:9093', version: '0.1.0' },
        { id: '3', address: '127.0.0.1:9094', version: '0.1.0' },
      ],
    },
    host: { hostname: 'ci', platform: 'linux', arch: 'x64', cpus: 4, cpuModel: 'Test CPU', memoryBytes: 8 * 2 ** 30, node: 'v20.19.0' },
    driver: 'raw',
  },
  slo: { 'produce.p99': 50_000, 'e2e.p99.9': 2_000_000, throughput: 90, errors: 10, unavailability: 1_000_000 },
  delivery: { sendOrder: true },
}
