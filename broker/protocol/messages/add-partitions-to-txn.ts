// AddPartitionsToTxn (key 24): v0-3. v1 is v0 (responses before throttling); v2 may answer PRODUCER_FENCED;
// v3 is flexible. Kafka meant v4+ (batches of transactions, verifyOnly; KIP-890) for brokers, hence its
// "V3AndBelow" field names, kept here.

import { api, f } from '../schema.ts'

const AddPartitionsToTxnTopic = {
  name: f.string(),
  partitions: f.array(f.int32()),
}

const AddPartitionsToTxnTopicResult = {
  name: f.string(),
  resultsByPartition: f.array({
    partitionIndex: f.int32(),
    partitionErrorCode: f.int16(),
  }),
}

export const AddPartitionsToTxn = api({
  key: 24,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  request: {
    v3AndBelowTransactionalId: f.string({ versions: '0-3' }),
    v3AndBelowProducerId: f.int64({ versions: '0-3' }),
    v3AndBelowProducerEpoch: f.int16({ versions: '0-3' }),
    v3AndBelowTopics: f.array(AddPartitionsToTxnTopic, { versions: '0-3' }),
  },
  response: {
    throttleTimeMs: f.int32(),
    resultsByTopicV3AndBelow: f.array(AddPartitionsToTxnTopicResult, { versions: '0-3' }),
  },
})
