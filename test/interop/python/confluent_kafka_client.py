# confluent-kafka-python (Debian 12's python3-confluent-kafka, on librdkafka 2.0.2): an idempotent producer,
# then a consumer group that consumes everything and commits synchronously. Prints one JSON object for
# test/interop/confluent-kafka-python.test.ts.
import json
import sys

import confluent_kafka
from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, topic, group, count, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

delivered = []
failed = []


def on_delivery(err, msg):
    if err is not None:
        failed.append(str(err))
    else:
        delivered.append({'partition': msg.partition(), 'offset': msg.offset()})


producer = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'linger.ms': 5})
for i in range(count):
    producer.produce(topic, key=b'k%d' % i, value=b'v%d' % i, on_delivery=on_delivery)
    producer.poll(0)
remaining = producer.flush(30)

consumer = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
consumer.subscribe([topic])
consumed = []
errors = []
idle = 0
while len(consumed) < count and idle < 60:
    msg = consumer.poll(0.5)
    if msg is None:
        idle += 1
        continue
    if msg.error():
        errors.append(str(msg.error()))
        continue
    consumed.append({'partition': msg.partition(), 'offset': msg.offset(), 'key': msg.key().decode(), 'value': msg.value().decode()})
consumer.commit(asynchronous=False)
committed = {tp.partition: tp.offset for tp in consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)}
consumer.close()

print(json.dumps({
    'version': confluent_kafka.version()[0],
    'librdkafka': confluent_kafka.libversion()[0],
    'unflushed': remaining,
    'failed': failed,
    'delivered': delivered,
    'consumed': consumed,
    'errors': errors,
    'committed': committed,
}))
