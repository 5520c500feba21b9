# librdkafka's admin API through confluent-kafka-python (Debian 12's python3-confluent-kafka, librdkafka 2.0.2):
# CreateTopics, CreatePartitions (also one refused and one validateOnly), AlterConfigs and DescribeConfigs,
# then a producer writing to every partition. Prints one JSON object for
# test/interop/admin-confluent-kafka-python.test.ts.
import json
import sys

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({'bootstrap.servers': bootstrap})
out = {'errors': []}


def wait(futures):
    for f in futures.values():
        f.result(30)


def error_of(futures):
    try:
        wait(futures)
        return None
    except KafkaException as e:
        return e.args[0].name()


wait(admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]))
out['dry'] = error_of(admin.create_partitions([NewPartitions(topic, 9)], validate_only=True))
wait(admin.create_partitions([NewPartitions(topic, 3)]))
out['shrink'] = error_of(admin.create_partitions([NewPartitions(topic, 2)]))
out['partitions'] = len(admin.list_topics(topic, timeout=10).topics[topic].partitions)

resource = ConfigResource('topic', topic, set_config={'retention.ms': '3600000', 'min.insync.replicas': '1'})
wait(admin.alter_configs([resource]))
described = admin.describe_configs([ConfigResource('topic', topic)])
for f in described.values():
    entries = f.result(30)
    out['configs'] = {name: {'value': e.value, 'source': e.source} for name, e in entries.items() if name in ('retention.ms', 'min.insync.replicas', 'segment.ms')}

delivered = []
producer = Producer({'bootstrap.servers': bootstrap, 'acks': 'all'})
for p in range(out['partitions']):
    producer.produce(topic, value=b'v%d' % p, partition=p, on_delivery=lambda err, msg: delivered.append(msg.partition()) if err is None else out['errors'].append(str(err)))
out['unflushed'] = producer.flush(30)
out['delivered'] = sorted(delivered)
print(json.dumps(out))
