// librdkafka through kcat against a broker process: 100k records produced, consumed back by offset and
// byte-compared; metadata listing.
import { execa } from 'execa'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'

let broker: BrokerProcess
beforeAll(async () => {
  broker = await startBroker({ overrides: { 'num.partitions': 3 } })
})
afterAll(async () => broker?.stop())

const N = 100_000

describe('kcat (librdkafka)', () => {
  test('kcat -L lists the broker and auto-created topics', async () => {
    await execa('kcat', ['-b', broker.bootstrap, '-P', '-t', 'listed', '-p', '0'], { input: 'x\n' })
    const { stdout } = await execa('kcat', ['-b', broker.bootstrap, '-L', '-J'])
    const md = JSON.parse(stdout) as { brokers: { id: number; name: string }[]; topics: { topic: string; partitions: { partition: number; leader: number }[] }[] }
    expect(md.brokers).toEqual([{ id: 1, name: broker.bootstrap }])
    expect(md.topics.find((t) => t.topic === 'listed')!.partitions.map((p) => [p.partition, p.leader])).toEqual([[0, 1], [1, 1], [2, 1]])
  })

  test(`produces ${N} records with acks=all and reads them back byte for byte by offset`, async () => {
    const lines = Array.from({ length: N }, (_, i) => `record-${i}-${createHash('sha1').update(String(i)).digest('hex')}`)
    const input = `${lines.join('\n')}\n`
    await execa('kcat', ['-b', broker.bootstrap, '-P', '-t', 'bulk', '-p', '0', '-X', 'topic.request.required.acks=-1', '-X', 'linger.ms=5'], { input })
    const { stdout } = await execa('kcat', ['-b', broker.bootstrap, '-C', '-t', 'bulk', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o %s\n'], { maxBuffer: 64 * 1024 * 1024 })
    const got = stdout.split('\n')
    expect(got).toHaveLength(N)
    for (let i = 0; i < N; i++) {
      if (got[i] !== `${i} ${lines[i]}`) expect(got[i]).toBe(`${i} ${lines[i]}`)
    }
    // A read from the middle starts exactly at the requested offset.
    const mid = await execa('kcat', ['-b', broker.bootstrap, '-C', '-t', 'bulk', '-p', '0', '-o', '54321', '-c', '3', '-e', '-q', '-f', '%o %s\n'])
    expect(mid.stdout.split('\n')).toEqual([54321, 54322, 54323].map((i) => `${i} ${lines[i]}`))
  })

  test('keys, headers and gzip/snappy/lz4/zstd compressed batches survive the round trip', async () => {
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
      const topic = `comp-${codec}`
      const input = Array.from({ length: 1000 }, (_, i) => `k${i}\tv${i}-${'z'.repeat(i % 50)}`).join('\n')
      await execa('kcat', ['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', '-K', '\t', '-H', 'h1=one', '-z', codec], { input })
      const { stdout } = await execa('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%k|%s|%h\n'])
      expect(stdout.split('\n')).toEqual(Array.from({ length: 1000 }, (_, i) => `k${i}|v${i}-${'z'.repeat(i % 50)}|h1=one`))
    }
  })
})
