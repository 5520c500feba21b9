// librdkafka (kcat) acting on per-partition Fetch errors: it must parse the error partition (Kafka sends empty
// records there, never null) to reset an out-of-range offset or to notice a deleted topic. When the broker sent
// null records, librdkafka 2.0.2 rejected the whole response ("invalid MessageSetSize -1") and re-fetched
// forever.
import { spawn } from 'node:child_process'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ErrorCode } from '../../broker/protocol/errors.ts'
import { CreateTopics } from '../../broker/protocol/messages/create-topics.ts'
import { DeleteTopics } from '../../broker/protocol/messages/delete-topics.ts'
import { Produce } from '../../broker/protocol/messages/produce.ts'
import { encodeRecordBatch } from '../../broker/protocol/record-batch.ts'
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts'
import { until } from '../helpers/until.ts'
import { WireClient } from '../helpers/wire.ts'

let broker: BrokerProcess
let wire: WireClient
beforeAll(async () => {
  broker = await startBroker()
  wire = await WireClient.connect(broker.host, broker.port)
})
afterAll(async () => {
  wire?.close()
  await broker?.stop()
})

async function topicWith(name: string, values: string[]): Promise<void> {
  const created = await wire.request(CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE)
  const res = await wire.request(Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name, partitionData: [{ index: 0, records: encodeRecordBatch(values.map((value) => ({ value }))) }] }] })
  expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE)
}

describe('kcat and Fetch error partitions', () => {
  test('an out-of-range start offset with auto.offset.reset=earliest resets and reads the data', async () => {
    const values = ['a', 'b', 'c', 'd']
    await topicWith('oor', values)
    const { stdout, stderr } = await execa('kcat', ['-b', broker.bootstrap, '-C', '-t', 'oor', '-p', '0', '-o', '1000', '-X', 'auto.offset.reset=earliest', '-e', '-f', '%o %s\n'], { timeout: 30_000 })
    expect(stderr).not.toContain('MessageSetSize')
    expect(stderr).toMatch(/offset reset .* to BEGINNING/)
    expect(stdout.split('\n')).toEqual(values.map((v, i) => `${i} ${v}`))
  })

  test('a topic deleted mid-consume is reported and ends the consumer, with no parse failures', async () => {
    await topicWith('doomed', ['x', 'y'])
    const kcat = spawn('kcat', ['-b', broker.bootstrap, '-C', '-t', 'doomed', '-p', '0', '-o', 'beginning', '-u', '-f', '%o %s\n'])
    let stdout = ''
    let stderr = ''
    let exited: number | null | undefined
    kcat.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    kcat.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    kcat.on('exit', (code) => (exited = code))
    try {
      await until('kcat to read the topic', async () => stdout === '0 x\n1 y\n')
      const res = await wire.request(DeleteTopics, 6, { topics: [{ name: 'doomed' }], timeoutMs: 5000 })
      expect(res.responses[0]!.errorCode).toBe(ErrorCode.NONE)
      await until('kcat to report the deleted topic and exit', async () => exited !== undefined)
      expect(stderr).toMatch(/ERROR: Topic doomed .*(no longer available|Unknown topic or partition)/)
      expect(stderr).not.toContain('MessageSetSize')
    } finally {
      kcat.kill('SIGKILL')
    }
  })
})
