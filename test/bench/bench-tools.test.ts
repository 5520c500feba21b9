// The bench's own tools, checked for correctness only (benchmarks are not tests: no timing is asserted here).
// The null sink must answer real Kafka requests built from the broker's declarations, the raw producer must
// count what was acknowledged, and the result comparison must flag only changes beyond the threshold.

import { afterEach, describe, expect, it } from 'vitest'
import { FrameDecoder } from '../../broker/protocol/framing.ts'
import { readResponseHeader, writeRequestHeader } from '../../broker/protocol/header.ts'
import { ApiVersions } from '../../broker/protocol/messages/api-versions.ts'
import { Metadata } from '../../broker/protocol/messages/metadata.ts'
import { encodeRecordBatch } from '../../broker/protocol/record-batch.ts'
import { Reader } from '../../broker/protocol/reader.ts'
import { Writer } from '../../broker/protocol/writer.ts'
import { compare, MACRO_FLOOR, median, relativeSpread, type Figure, type ResultFile } from '../../bench/lib/report.ts'
import { startNullSink, type NullSink } from '../../bench/null-sink.ts'
import { rawProducer } from '../../bench/raw-producer.ts'
import { until } from '../helpers/until.ts'
import { connect } from 'node:net'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const host = `127.0.0.${2 + Math.floor(Math.random() * 253)}`
let sink: NullSink | null = null
const dirs: string[] = []

afterEach(async () => {
  await sink?.close()
  sink = null
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function frame(body: (w: Writer) => void): Buffer {
  const w = new Writer()
  const setSize = w.reserveInt32()
  body(w)
  setSize(w.length - 4)
  return w.toBuffer()
}

describe('null sink', () => {
  it('answers ApiVersions and Metadata with the declared messages', async () => {
    sink = await startNullSink({ host, partitions: 3 })
    const socket = connect({ host, port: sink.port })
    const responses: Buffer[] = []
    const decoder = new FrameDecoder()
    socket.on('data', (d: Buffer) => {
      decoder.push(d)
      for (let f = decoder.next(); f !== null; f = decoder.next()) responses.push(f)
    })
    socket.write(frame((w) => {
      writeRequestHeader(w, { apiKey: ApiVersions.key, apiVersion: 3, correlationId: 1, clientId: 't' }, true)
      ApiVersions.request.encode(3, { clientSoftwareName: 't', clientSoftwareVersion: '1' }, w)
    }))
    socket.write(frame((w) => {
      writeRequestHeader(w, { apiKey: Metadata.key, apiVersion: 12, correlationId: 2, clientId: 't' }, true)
      Metadata.request.encode(12, { topics: [{ topicId: '0'.repeat(32), name: 'orders' }] }, w)
    }))
    await expect.poll(() => responses.length).toBe(2)
    socket.destroy()
    const r0 = new Reader(responses[0]!)
    expect(readResponseHeader(r0, false)).toBe(1)
    const versions = ApiVersions.response.decode(3, r0)
    expect(versions.errorCode).toBe(0)
    expect(versions.apiKeys.map((k) => k.apiKey).sort((a, b) => a - b)).toEqual([0, 3, 18])
    const r1 = new Reader(responses[1]!)
    expect(readResponseHeader(r1, true)).toBe(2)
    const md = Metadata.response.decode(12, r1)
    expect(md.brokers).toEqual([{ nodeId: 1, host, port: sink.port, rack: null }])
    expect(md.topics[0]!.name).toBe('orders')
    expect(md.topics[0]!.partitions.map((p) => p.partitionIndex)).toEqual([0, 1, 2])
  })

  it('acknowledges every produced batch, and the storing sink keeps every byte', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'faultline-bench-test-'))
    dirs.push(storeDir)
    sink = await startNullSink({ host, partitions: 2, storeDir })
    const res = await rawProducer({
      host,
      port: sink.port,
      topic: 't',
      partitions: 2,
      batchBytes: 4096,
      recordBytes: 100,
      seconds: 0.2,
      queueBytes: 64 * 1024,
      createTopic: false,
    })
    expect(res.requests).toBeGreaterThan(0)
    expect(res.records).toBe(res.requests * 2 * Math.floor(4096 / 108))
    expect(sink.stats.produceRequests).toBe(res.requests)
    const batch = encodeRecordBatch(Array.from({ length: Math.floor(4096 / 108) }, () => ({ value: Buffer.alloc(100) })), { timestamp: 0 })
    expect(sink.stats.storedBytes).toBe(res.requests * 2 * batch.length)
    // The run's files go when its producer disconnects, so the next run starts from the same page-cache state.
    await until('the files of the run removed', () => readdirSync(storeDir).length === 0, { timeoutMs: 5000, intervalMs: 20 })
  })
})

describe('result comparison', () => {
  const fig = (key: string, ratio: number, spread = 0): Figure => ({
    key,
    label: key,
    unit: 'MB/s',
    value: ratio,
    ceiling: { label: 'c', value: 1 },
    ratio,
    spread,
  })
  const file = (figures: Figure[]): ResultFile => ({
    schema: 1,
    date: '2026-01-01',
    createdAt: '',
    quick: false,
    machine: {},
    sections: { s: { section: 's', startedAt: '', seconds: 1, loadavg: [0, 0], quick: false, figures, notes: [] } },
  })

  it('flags only changes beyond the floor or the runs own spread', () => {
    const before = file([fig('kcat.a', 0.9), fig('kcat.b', 0.9), fig('kcat.c', 0.9, 0.2), fig('kcat.gone', 1)])
    const after = file([fig('kcat.a', 0.9 * (1 - MACRO_FLOOR - 0.01)), fig('kcat.b', 0.9 * (1 - MACRO_FLOOR / 2)), fig('kcat.c', 0.6, 0.2), fig('kcat.new', 1)])
    const rows = compare('base', before, after).rows
    expect(rows.map((r) => [r.key, r.verdict])).toEqual([
      ['kcat.a', 'regressed'],
      ['kcat.b', 'same'],
      ['kcat.c', 'same'],
    ])
  })

  it('reads a lower ratio as better for costs', () => {
    const rss = (ratio: number): Figure => ({ ...fig('checker.rss', ratio), lowerIsBetter: true })
    expect(compare('base', file([rss(0.2)]), file([rss(0.4)])).rows[0]!.verdict).toBe('regressed')
    expect(compare('base', file([rss(0.4)]), file([rss(0.2)])).rows[0]!.verdict).toBe('improved')
  })

  it('with per-repetition ratios on both sides, judges them with the statistics of faultline compare', () => {
    const reps = (key: string, samples: number[], lowerIsBetter = false): Figure => ({ ...fig(key, median(samples)), samples, ...(lowerIsBetter ? { lowerIsBetter } : {}) })
    const base = [0.9, 0.91, 0.89, 0.905, 0.895]
    const before = file([reps('micro.a', base), reps('micro.b', base), reps('micro.c', [0.5, 1.3, 0.9, 0.7, 1.1]), reps('micro.cost', base, true)])
    const after = file([
      reps('micro.a', base.map((x) => x * 0.85)),
      reps('micro.b', base.map((x) => x * 0.98)),
      reps('micro.c', [0.4, 1.2, 0.8, 0.6, 1.0]),
      reps('micro.cost', base.map((x) => x * 1.2), true),
    ])
    const rows = compare('base', before, after).rows
    // a: a 15% drop with no overlap is a regression; b: a significant 2% drop is below the threshold; c: a 10% drop
    // inside the noise is not significant; cost: 20% more of a cost is a regression. The floor rule (25%) would
    // have passed a and cost.
    expect(rows.map((r) => [r.key, r.method, r.verdict])).toEqual([
      ['micro.a', 'statistics', 'regressed'],
      ['micro.b', 'statistics', 'same'],
      ['micro.c', 'statistics', 'same'],
      ['micro.cost', 'statistics', 'regressed'],
    ])
    expect(rows[0]!.p).toBeLessThan(0.05)
    expect(rows[0]!.interval!.hi).toBeLessThan(0)
    expect(rows[2]!.p).toBeGreaterThan(0.05)
  })

  it('median and spread ignore missing values', () => {
    expect(median([3, Number.NaN, 1, 2])).toBe(2)
    expect(relativeSpread([90, 110, 100])).toBeCloseTo(0.1)
    expect(relativeSpread([5])).toBe(0)
  })
})
