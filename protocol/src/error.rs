//! The protocol crate's one error type: requests whose bytes do not decode.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// A request body that is not the JSON the endpoint expects; the detail follows
    /// ksqlDB's `Invalid JSON in request: <detail>`.
    #[error("Invalid JSON in request: {0}")]
    InvalidJson(String),
    /// A request body over its size limit.
    #[error("Request body exceeds the limit of {limit_bytes} bytes")]
    BodyTooLarge { limit_bytes: usize },
    /// One inserts-stream row over the row size limit.
    #[error("Row exceeds the limit of {limit_bytes} bytes")]
    RowTooLarge { limit_bytes: usize },
    /// The stream ended in the middle of a row (no trailing newline).
    #[error("Row is incomplete: the request ended before its newline")]
    TruncatedRow,
    /// The inserts-stream body ended before its first (target) line.
    #[error("Invalid JSON in request: No content to map due to end-of-input")]
    EmptyBody,
    /// A `/topics` record that is well-formed JSON but not a valid record (bad base64, a
    /// field of the wrong type).
    #[error("{0}")]
    InvalidRecord(String),
    /// A response that would exceed its size limit; nothing of it is sent.
    #[error("The response would be larger than {limit_bytes} bytes; ask for less per request")]
    ResponseTooLarge { limit_bytes: usize },
    /// A `multipart/form-data` body that does not parse (RFC 7578), or lacks a part the
    /// endpoint needs.
    #[error("Invalid multipart request: {0}")]
    InvalidForm(String),
    /// A result the requested response format cannot represent (the PROTOBUF format and
    /// an ARRAY of ARRAYs, say); refused before anything is streamed.
    #[error("{0}")]
    UnsupportedInFormat(String),
    /// A request `Content-Type` the endpoint cannot read.
    #[error("HTTP 415 Unsupported Media Type: {0}")]
    UnsupportedMediaType(String),
}
