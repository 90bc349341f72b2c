//! One Kafka transaction of a transactional producer, as the command topic and the
//! checkpoint topic write theirs: begin, send, wait for the deliveries, commit; any failure
//! aborts (and a fenced producer fails for good, which its owner handles).

use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;


/// How often a transaction's writer polls for its records' delivery, in milliseconds.
///
/// The commit would otherwise flush through rdkafka's `BaseProducer::flush`, whose poll
/// runs out its 100 ms slice even after the delivery report came, on every transaction.
pub const TRANSACTION_DELIVERY_POLL_MS: u64 = 1;

/// Why a transaction failed: the step and librdkafka's error.
pub(super) struct TransactionError {
    pub step: &'static str,
    pub error: KafkaError,
}

/// Sends `records` in one transaction of `producer` and commits it, sending and delivery
/// bounded by `timeout` together and each other step by it alone. Blocking: call it off
/// the async runtime.
pub(super) fn send_in_transaction<'a, C: ProducerContext<DeliveryOpaque = ()>>(
    producer: &BaseProducer<C>,
    records: impl IntoIterator<Item = BaseRecord<'a, [u8], [u8]>>,
    timeout: Duration,
) -> Result<(), TransactionError> {
    let failed = |step, error| TransactionError { step, error };
    producer
        .begin_transaction()
        .map_err(|e| failed("begin", e))?;
    let deadline = Instant::now() + timeout;
    for mut record in records {
        // A transaction larger than librdkafka's local queue (a state commit of many keys)
        // waits for deliveries to make room, within the same deadline.
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    producer.poll(Duration::from_millis(TRANSACTION_DELIVERY_POLL_MS));
                    record = back;
                }
                Err((e, _)) => {
                    let _ = producer.abort_transaction(timeout);
                    return Err(failed("send", e));
                }
            }
        }
    }
    while producer.in_flight_count() > 0 && Instant::now() < deadline {
        producer.poll(Duration::from_millis(TRANSACTION_DELIVERY_POLL_MS));
    }
    if let Err(e) = producer.commit_transaction(timeout) {
        let _ = producer.abort_transaction(timeout);
        return Err(failed("commit", e));
    }
    Ok(())
}
