//! What every librdkafka client of the Kafka log shares: its context (librdkafka's logs and
//! errors go to `tracing`), the error mapping, and how a blocking librdkafka call is made
//! from async code.

use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use crate::error::{EngineError, ErrorCode};

/// A Kafka failure as the engine's error: the cluster is an external system, so `Io`.
pub(super) fn kafka_error(what: &str, error: KafkaError) -> EngineError {
    EngineError::new(ErrorCode::Io, format!("Kafka: {what}: {error}"))
}

/// Runs blocking `f`; on a multi-threaded tokio runtime's worker, first tells the runtime
/// (`block_in_place`), so the worker's other tasks are not stalled behind a network call.
pub(super) fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Drops `client` (a librdkafka consumer, or the last handle on one) on a short-lived thread
/// of its own: a consumer's close blocks on the network, and handles are dropped on async
/// workers. One thread per close is bounded by the number of cursors and topics.
pub(super) fn close_off_thread<T: Send + 'static>(client: T) {
    let spawned = std::thread::Builder::new()
        .name("kafka-close".to_owned())
        .spawn(move || drop(client));
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not close a Kafka consumer on its own thread");
    }
}

/// Sluice's librdkafka client contexts log through `tracing`, not librdkafka's stderr.
pub(super) struct LogContext;

impl ClientContext for LogContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error => {
                tracing::error!(facility = fac, "librdkafka: {log_message}")
            }
            L::Warning => tracing::warn!(facility = fac, "librdkafka: {log_message}"),
            L::Notice | L::Info => tracing::info!(facility = fac, "librdkafka: {log_message}"),
            L::Debug => tracing::debug!(facility = fac, "librdkafka: {log_message}"),
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        // The command topic's reader asks for end-of-partition events; librdkafka reports
        // each one here too, and reaching the end is no error.
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            tracing::trace!("librdkafka: {reason}");
            return;
        }
        tracing::warn!(%error, "librdkafka: {reason}");
    }
}

impl rdkafka::consumer::ConsumerContext for LogContext {}
