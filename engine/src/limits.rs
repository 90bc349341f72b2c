//! Limits on what one request may ask of the engine. Each is a named constant with its unit
//! last and says why it has its value; the error that enforces it names it.
//!
//! Log, segment and queue limits live beside the code they bound (`log`, `exec`); these
//! are the ones a client's statements run into.

/// Longest identifier (stream, table, column, query or variable name), in characters.
///
/// Kafka refuses topic names longer than 249 characters, and a source's name becomes its
/// topic's name unless `KAFKA_TOPIC` says otherwise, so no longer name is useful. Without a
/// bound, a 1 MB stream name repeated by `SHOW STREAMS` turned a 26 KB request into a
/// response of over 1 GB (issue 9, finding 2).
pub const IDENTIFIER_CHARS_MAX: usize = 249;

/// Most statements in one `/ksql` request.
///
/// Scripts of a few hundred statements are common (migrations); ten thousand is not. Every
/// statement is validated in a sandbox before any runs, so each costs work up front.
pub const STATEMENTS_PER_REQUEST_MAX: usize = 1_000;

/// Largest `/ksql` response, in bytes, as the statements' entities would render.
///
/// Statements such as `SHOW STREAMS` or `DESCRIBE EXTENDED` repeat whole catalog listings;
/// a request is refused before anything runs when its answer would be larger than this.
/// 16 MiB holds `DESCRIBE EXTENDED` of thousands of sources.
pub const KSQL_RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;
