//! Record formats: how row values become Kafka key/value bytes and back.
