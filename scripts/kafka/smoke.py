"""Checks a running test broker or cluster with a real Kafka client (confluent-kafka, i.e.
librdkafka, the library Sluice's Kafka backend will use through the rdkafka crate).

Run by smoke.sh, which starts the broker(s) and stops them again:

    python smoke.py --bootstrap HOST:PORT[,...] --brokers 1|3 --broker-sh PATH --dir DIR

Every check asserts on what came back from the broker; the last line is
`smoke: N passed, M failed`, and the exit status is 0 only when nothing failed.
"""

import argparse
import subprocess
import sys
import time
import uuid

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

# Every wait below is bounded; these are the bounds, each well above what an idle machine
# needs, for a loaded 2-core CI.
ADMIN_TIMEOUT_S = 30
GROUP_SETTLE_TIMEOUT_S = 60
CONSUME_TIMEOUT_S = 60
FLUSH_TIMEOUT_S = 120
ISR_RECOVERY_TIMEOUT_S = 90

PARTITIONS = 3
PLAIN_MESSAGES = 1_000
TX_BATCH_MESSAGES = 10
CONSUME_BATCH_MESSAGES = 500
# The failover run: enough records over a few seconds that the kill lands mid-stream.
FAILOVER_MESSAGES = 30_000
FAILOVER_BATCH_MESSAGES = 500
# Not on a batch boundary, so records of the current batch are in flight at the kill.
FAILOVER_KILL_AFTER_MESSAGES = 10_250


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        started = time.monotonic()
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001 - any failure of a check is reported, then counted
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            return
        self.passed += 1
        took = time.monotonic() - started
        print(f"PASS {name} ({took:.1f} s){': ' + detail if detail else ''}", flush=True)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, name, partitions=PARTITIONS):
    # replication_factor=-1: the broker's default.replication.factor decides, so the check
    # below proves the broker config, not this script.
    # The client is kept in a variable until the future resolves: a handle that is garbage
    # collected first fails its pending requests with _DESTROY.
    client = admin(bootstrap)
    futures = client.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=-1)],
        operation_timeout=ADMIN_TIMEOUT_S,
    )
    futures[name].result(timeout=ADMIN_TIMEOUT_S)
    # CreateTopics returns once the controller has the topic; each broker learns of it from
    # the metadata log a little later. Clients (and Sluice) wait until the topic has a leader
    # for every partition before relying on it.
    deadline = time.monotonic() + ADMIN_TIMEOUT_S
    while True:
        md = client.list_topics(topic=name, timeout=ADMIN_TIMEOUT_S).topics[name]
        if md.error is None and len(md.partitions) == partitions and all(p.leader >= 0 for p in md.partitions.values()):
            return
        expect(time.monotonic() < deadline, f"{name} has no leader for every partition after {ADMIN_TIMEOUT_S} s")
        time.sleep(0.1)


def topic_metadata(bootstrap, name):
    md = admin(bootstrap).list_topics(topic=name, timeout=ADMIN_TIMEOUT_S)
    return md.topics[name]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def consume_all(bootstrap, topic, isolation, timeout_s=CONSUME_TIMEOUT_S):
    """Reads every partition of TOPIC from the start to its end (EOF on each), without a
    group commit, and returns the records as (partition, offset, key, value)."""
    partitions = topic_metadata(bootstrap, topic).partitions
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("smoke-reader"),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        at_end = set()
        records = []
        deadline = time.monotonic() + timeout_s
        while len(at_end) < len(partitions):
            expect(time.monotonic() < deadline, f"reading {topic} did not reach the end in {timeout_s} s")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise KafkaException(msg.error())
            at_end.discard(msg.partition())
            records.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
        return records
    finally:
        consumer.close()


def check_topic_defaults(bootstrap, brokers):
    topic = unique("smoke-defaults")
    create_topic(bootstrap, topic)
    md = topic_metadata(bootstrap, topic)
    expect(len(md.partitions) == PARTITIONS, f"{len(md.partitions)} partitions, wanted {PARTITIONS}")
    want_rf = 1 if brokers == 1 else 3
    for p in md.partitions.values():
        expect(len(p.replicas) == want_rf, f"partition {p.id} has replicas {p.replicas}, wanted {want_rf}")
        expect(len(p.isrs) == want_rf, f"partition {p.id} has ISR {p.isrs}, wanted {want_rf}")
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    client = admin(bootstrap)
    configs = client.describe_configs([resource])[resource].result(timeout=ADMIN_TIMEOUT_S)
    min_isr = configs["min.insync.replicas"].value
    want_min_isr = "1" if brokers == 1 else "2"
    expect(min_isr == want_min_isr, f"min.insync.replicas={min_isr}, wanted {want_min_isr}")

    # Auto-creation is off: producing to a missing topic fails and creates nothing.
    missing = unique("smoke-missing")
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 3000})
    producer.produce(missing, b"v", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(FLUSH_TIMEOUT_S)
    expect(len(errors) == 1 and errors[0] is not None, f"produce to a missing topic reported {errors}")
    listed = admin(bootstrap).list_topics(timeout=ADMIN_TIMEOUT_S).topics
    expect(missing not in listed, f"{missing} was auto-created")
    return f"RF {want_rf}, min.insync.replicas {min_isr}, auto-create off ({errors[0].name()})"


def check_produce_consume_group(bootstrap, _brokers):
    topic = unique("smoke-plain")
    group = unique("smoke-group")
    create_topic(bootstrap, topic)

    def consumer():
        c = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        c.subscribe([topic])
        return c

    members = [consumer(), consumer()]
    try:
        # Let the group settle with both members before anything is produced, so no record
        # is read twice across a rebalance.
        deadline = time.monotonic() + GROUP_SETTLE_TIMEOUT_S
        while True:
            expect(time.monotonic() < deadline, "the two-member group did not settle")
            for c in members:
                msg = c.poll(0.2)
                expect(msg is None or msg.error(), "a record arrived before any was produced")
            assigned = [{tp.partition for tp in c.assignment()} for c in members]
            if all(assigned) and sum(len(a) for a in assigned) == PARTITIONS and not (assigned[0] & assigned[1]):
                break

        acked = []
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        for i in range(PLAIN_MESSAGES):

            def on_delivery(err, msg, i=i):
                expect(err is None, f"record {i} not acked: {err}")
                acked.append((msg.partition(), msg.offset()))

            producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), on_delivery=on_delivery)
            producer.poll(0)
        expect(producer.flush(FLUSH_TIMEOUT_S) == 0, "records still in flight after flush")
        expect(len(acked) == PLAIN_MESSAGES, f"{len(acked)} of {PLAIN_MESSAGES} acked")

        seen = {}
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while len(seen) < PLAIN_MESSAGES:
            expect(time.monotonic() < deadline, f"the group read {len(seen)} of {PLAIN_MESSAGES}")
            for index, c in enumerate(members):
                # In batches: one record per poll, alternating with a member that has
                # nothing to read, would wait out the poll timeout once per record.
                for msg in c.consume(CONSUME_BATCH_MESSAGES, 0.1):
                    if msg.error():
                        raise KafkaException(msg.error())
                    partition = msg.partition()
                    expect(partition in assigned[index], f"member {index} read unassigned partition {partition}")
                    key = msg.key().decode()
                    expect(key not in seen, f"{key} read twice")
                    expect(msg.value().decode() == "v" + key[1:], f"{key} has value {msg.value()!r}")
                    seen[key] = index
        per_member = [sum(1 for m in seen.values() if m == i) for i in range(2)]
        for c in members:
            c.commit(asynchronous=False)
    finally:
        for c in members:
            c.close()

    # The group's committed offsets are the log end of every partition.
    check = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committed = check.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=ADMIN_TIMEOUT_S)
        for tp in committed:
            _low, high = check.get_watermark_offsets(tp, timeout=ADMIN_TIMEOUT_S)
            expect(tp.offset == high, f"partition {tp.partition}: committed {tp.offset}, end {high}")
    finally:
        check.close()
    return f"{PLAIN_MESSAGES} acked (acks=all, idempotent), read once by a 2-member group {per_member}, offsets committed"


def check_transactions(bootstrap, _brokers):
    topic = unique("smoke-tx")
    create_topic(bootstrap, topic)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": unique("smoke-txid"), "acks": "all"}
    )
    producer.init_transactions(ADMIN_TIMEOUT_S)
    outcome = {}
    for batch, commit in (("a", True), ("b", False), ("c", True)):
        producer.begin_transaction()
        for i in range(TX_BATCH_MESSAGES):
            producer.produce(topic, key=f"{batch}{i}".encode(), value=batch.encode(), partition=i % PARTITIONS)
        if commit:
            producer.commit_transaction(ADMIN_TIMEOUT_S)
        else:
            producer.flush(FLUSH_TIMEOUT_S)  # the aborted records really reach the log
            producer.abort_transaction(ADMIN_TIMEOUT_S)
        outcome[batch] = commit

    committed = consume_all(bootstrap, topic, "read_committed")
    values = sorted(v.decode() for (_p, _o, _k, v) in committed)
    want = sorted(["a"] * TX_BATCH_MESSAGES + ["c"] * TX_BATCH_MESSAGES)
    expect(values == want, f"read_committed saw {values}, wanted {want}")

    uncommitted = consume_all(bootstrap, topic, "read_uncommitted")
    aborted_visible = sum(1 for (_p, _o, _k, v) in uncommitted if v == b"b")
    expect(aborted_visible == TX_BATCH_MESSAGES, f"read_uncommitted saw {aborted_visible} aborted records")

    # Consume-transform-produce: the input offset commits in the same transaction as the
    # output (what exactly-once persistent queries need).
    group = unique("smoke-eos-group")
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        producer.begin_transaction()
        producer.produce(topic, key=b"out", value=b"d", partition=0)
        offsets = [TopicPartition(topic, 0, 5)]
        producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), ADMIN_TIMEOUT_S)
        producer.commit_transaction(ADMIN_TIMEOUT_S)
        got = consumer.committed([TopicPartition(topic, 0)], timeout=ADMIN_TIMEOUT_S)[0].offset
        expect(got == 5, f"offset committed in the transaction is {got}, wanted 5")
    finally:
        consumer.close()
    return (
        f"read_committed: {len(committed)} records of 2 committed batches, 0 of the aborted one "
        f"(read_uncommitted sees its {aborted_visible}); offsets committed inside a transaction"
    )


def check_failover(bootstrap, brokers, broker_sh, cluster_dir):
    expect(brokers == 3, "the failover check needs the 3-broker cluster")
    topic = unique("smoke-failover")
    create_topic(bootstrap, topic)
    victim = topic_metadata(bootstrap, topic).partitions[0].leader
    broker_ids = sorted(b.id for b in admin(bootstrap).list_topics(timeout=ADMIN_TIMEOUT_S).brokers.values())
    expect(broker_ids == [1, 2, 3], f"brokers {broker_ids}")

    acked = set()
    failed = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
        }
    )

    def on_delivery(err, msg):
        if err is None:
            acked.add(int(msg.key()))
        else:
            failed.append(err)

    killed_at = None
    acked_before_kill = 0
    in_flight_at_kill = 0
    for i in range(FAILOVER_MESSAGES):
        producer.produce(topic, key=str(i).encode(), value=f"failover-{i}".encode(), on_delivery=on_delivery)
        producer.poll(0)
        if i % FAILOVER_BATCH_MESSAGES == FAILOVER_BATCH_MESSAGES - 1:
            # Pace the stream: wait until this batch is acked, so the kill lands while
            # records are being produced and later ones still have to go through failover.
            if killed_at is None:
                producer.flush(FLUSH_TIMEOUT_S)
            else:
                producer.poll(0.05)
        if killed_at is None and i + 1 == FAILOVER_KILL_AFTER_MESSAGES:
            acked_before_kill = len(acked)
            in_flight_at_kill = len(producer)
            subprocess.run([broker_sh, "kill", "--dir", cluster_dir, "--broker", str(victim)], check=True)
            killed_at = time.monotonic()
    expect(producer.flush(FLUSH_TIMEOUT_S) == 0, "records still in flight after flush")
    resumed_s = time.monotonic() - killed_at
    expect(not failed, f"{len(failed)} records failed, first: {failed[:1]}")

    records = consume_all(bootstrap, topic, "read_committed")
    keys = [int(k) for (_p, _o, k, _v) in records]
    read = set(keys)
    lost = acked - read
    duplicates = len(keys) - len(read)
    expect(not lost, f"{len(lost)} acked records lost, e.g. {sorted(lost)[:5]}")
    expect(duplicates == 0, f"{duplicates} duplicates despite idempotence")
    expect(len(acked) == FAILOVER_MESSAGES, f"{len(acked)} of {FAILOVER_MESSAGES} acked")

    # Bring the broker back and wait for it to rejoin every ISR.
    subprocess.run(
        [broker_sh, "restart-broker", "--dir", cluster_dir, "--broker", str(victim)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + ISR_RECOVERY_TIMEOUT_S
    while True:
        isrs = [len(p.isrs) for p in topic_metadata(bootstrap, topic).partitions.values()]
        if all(n == 3 for n in isrs):
            break
        expect(time.monotonic() < deadline, f"ISR sizes {isrs} after restart-broker {victim}")
        time.sleep(0.5)
    return (
        f"killed broker {victim} (leader of partition 0) after {acked_before_kill} acks, "
        f"{in_flight_at_kill} records in flight; "
        f"{len(acked)}/{FAILOVER_MESSAGES} acked, {len(read)} read back, 0 lost, 0 duplicates; "
        f"last ack {resumed_s:.1f} s after the kill; broker back in every ISR"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--brokers", type=int, choices=(1, 3), required=True)
    parser.add_argument("--broker-sh", required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()

    checks = Checks()
    label = f"[{args.brokers} broker{'s' if args.brokers > 1 else ''}]"
    checks.run(f"{label} topic defaults", lambda: check_topic_defaults(args.bootstrap, args.brokers))
    checks.run(
        f"{label} produce, consume, consumer group",
        lambda: check_produce_consume_group(args.bootstrap, args.brokers),
    )
    checks.run(f"{label} transactions", lambda: check_transactions(args.bootstrap, args.brokers))
    if args.brokers == 3:
        checks.run(
            f"{label} kill a broker mid-produce (acks=all)",
            lambda: check_failover(args.bootstrap, args.brokers, args.broker_sh, args.dir),
        )
    print(f"smoke: {checks.passed} passed, {checks.failed} failed", flush=True)
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
