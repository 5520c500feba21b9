# kafka-python (Debian 12's python3-kafka, 2.0.2) with its defaults, no api_version pinned: it probes the
# broker's version itself (ApiVersions, then Metadata v0). Creates a topic with its admin client, produces with
# keys, consumes everything in a consumer group, commits, and checks that a second consumer of the group
# starts after the commit. Prints one JSON object for test/interop/kafka-python.test.ts.
import json
import sys

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PARTITIONS = 3

admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='faultline-kafka-python')
created = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
create_errors = [error for _, error, *_ in created.topic_errors]
admin.close()

producer = KafkaProducer(bootstrap_servers=bootstrap, acks='all')
futures = [producer.send(topic, key=b'k%d' % i, value=b'v%d' % i) for i in range(count)]
producer.flush()
produced = [f.get(timeout=30) for f in futures]
api_version = producer.config['api_version']
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset='earliest',
                         enable_auto_commit=False, consumer_timeout_ms=20000)
consumed = []
for message in consumer:
    consumed.append({'partition': message.partition, 'offset': message.offset, 'key': message.key.decode(), 'value': message.value.decode()})
    if len(consumed) == count:
        break
consumer.commit()
committed = {p: consumer.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)}
consumer.close()

# The group resumes after its commit: nothing is left for a new member.
again = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset='earliest',
                      enable_auto_commit=False, consumer_timeout_ms=3000)
leftover = [m.value.decode() for m in again]
again.close()

print(json.dumps({
    'version': kafka.__version__,
    'apiVersion': list(api_version),
    'createErrors': create_errors,
    'produced': [{'partition': m.partition, 'offset': m.offset} for m in produced],
    'consumed': consumed,
    'committed': committed,
    'leftover': leftover,
}))
