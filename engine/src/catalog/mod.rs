//! The catalog: streams, tables, topics and queries, made durable by a command log.
