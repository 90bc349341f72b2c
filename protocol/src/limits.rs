//! Wire limits. Each is a named constant with its unit last, and says why.

/// Largest `/ksql`, `/query-stream` or `/close-query` request body. Statements are small;
/// 1 MiB leaves room for long INSERT lists while refusing accidental uploads.
pub const REQUEST_BODY_BYTES_MAX: usize = 1024 * 1024;

/// Largest single inserts-stream row (one JSON line). ksqlDB's default Kafka
/// `max.request.size` is 1 MiB, so no larger record could be produced there either.
pub const ROW_BYTES_MAX: usize = 1024 * 1024;

/// Most bytes of a client's own text (the statement, or a token quoted in a parse error)
/// echoed back in one field of an error body. ksqlDB echoes everything, so a 400 KB
/// statement with a typo came back twice over, 800 KB (issue 9, finding 10); 8 KiB keeps
/// every real statement whole and the rest recognisable.
pub const ERROR_TEXT_BYTES_MAX: usize = 8 * 1024;
