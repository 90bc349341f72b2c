//! ksqlDB's error bodies and the one place engine errors become HTTP status + body.
//!
//! Every ksqlDB error is `{"@type","error_code","message"}`; statement errors add
//! `statementText` and `entities` (ksqldb-api.md §2). The code is the HTTP status × 100
//! plus a suffix.

use std::borrow::Cow;

use serde::Serialize;
use sluice_engine::{EngineError, ErrorClass, ErrorCode};

use crate::error::ProtocolError;
use crate::limits::ERROR_TEXT_BYTES_MAX;

pub const GENERIC_ERROR: &str = "generic_error";
pub const STATEMENT_ERROR: &str = "statement_error";

/// Error codes ksqlDB uses; the HTTP status is `code / 100`.
pub mod code {
    pub const BAD_REQUEST: u32 = 40000;
    pub const BAD_STATEMENT: u32 = 40001;
    pub const QUERY_ENDPOINT: u32 = 40002;
    pub const MAX_PUSH_QUERIES: u32 = 40003;
    pub const HTTP2_ONLY: u32 = 40004;
    /// No credential, or a wrong one, under `authentication.method=BASIC`.
    pub const UNAUTHORIZED: u32 = 40100;
    /// An authenticated user without an allowed role (`authentication.roles`).
    pub const FORBIDDEN: u32 = 40300;
    pub const NOT_FOUND: u32 = 40400;
    pub const NOT_ACCEPTABLE: u32 = 40600;
    pub const PAYLOAD_TOO_LARGE: u32 = 41300;
    pub const SERVER_ERROR: u32 = 50000;
    /// 503 × 100 with no suffix: the server is at its connection limit.
    pub const SERVICE_UNAVAILABLE: u32 = 50300;
    pub const SHUTTING_DOWN: u32 = 50303;
}

/// The text ksqlDB shows instead of internal details when a query fails to start.
pub const INTERNAL_QUERY_ERROR: &str = "The server encountered an internal error when processing the query. Please consult the server logs for more information.";

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "@type")]
    pub type_: &'static str,
    pub error_code: u32,
    pub message: &'a str,
}

/// An HTTP status and the JSON body that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl ErrorResponse {
    pub fn generic(error_code: u32, message: &str) -> ErrorResponse {
        let body = serde_json::to_vec(&ErrorBody {
            type_: GENERIC_ERROR,
            error_code,
            message: &clip_echo(message),
        })
        .expect("an error body always serializes");
        ErrorResponse {
            status: status_of(error_code),
            body,
        }
    }
}

fn status_of(error_code: u32) -> u16 {
    u16::try_from(error_code / 100).unwrap_or(500)
}

/// Which of ksqlDB's resources answers: they give one failure different codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/ksql` (`KsqlResource`).
    Statements,
    /// `/query-stream`, `/query`, `/inserts-stream`, `/close-query`.
    Streaming,
}

/// The one mapping from an engine error code to ksqlDB's `error_code` (the HTTP status is
/// the code / 100). Exhaustive: a new engine code does not compile until it is placed here.
pub fn error_code(engine_code: ErrorCode, endpoint: Endpoint) -> u32 {
    match (engine_code, endpoint) {
        (ErrorCode::QueryOnStatementEndpoint, _) => code::QUERY_ENDPOINT,
        (
            ErrorCode::Syntax
            | ErrorCode::InvalidStatement
            | ErrorCode::NotFound
            | ErrorCode::TopicNotFound
            | ErrorCode::PartitionNotFound,
            _,
        ) => code::BAD_STATEMENT,
        (
            ErrorCode::BadRequest
            | ErrorCode::InvalidRowJson
            | ErrorCode::Conflict
            | ErrorCode::Unsupported
            | ErrorCode::ResourceLimit,
            Endpoint::Statements,
        ) => code::BAD_STATEMENT,
        (
            ErrorCode::BadRequest
            | ErrorCode::InvalidRowJson
            | ErrorCode::Conflict
            | ErrorCode::Unsupported
            | ErrorCode::ResourceLimit,
            Endpoint::Streaming,
        ) => code::BAD_REQUEST,
        (ErrorCode::PushQueryLimit, _) => code::MAX_PUSH_QUERIES,
        (ErrorCode::StorageFull | ErrorCode::Io | ErrorCode::Corrupt | ErrorCode::Internal, _) => {
            code::SERVER_ERROR
        }
    }
}

/// Error code for an engine error on the streaming endpoints (`/query-stream`,
/// `/inserts-stream`, `/close-query`).
pub fn stream_error_code(err: &EngineError) -> u32 {
    error_code(err.code(), Endpoint::Streaming)
}

/// ksqlDB's message when an inserted row could not be written.
pub const INSERT_FAILED: &str = "Error in processing inserts. Check server logs for details.";

/// ksqlDB's message for every inserted row that is not valid JSON (`InsertsStreamHandler`);
/// the engine's detail (not an object, too deep) goes to the log instead.
pub const INVALID_INSERT_JSON: &str = "Invalid JSON in inserts stream";

/// The `error_code` and `message` of the ack that ends an inserts stream: ksqlDB's bare
/// texts for rows that are not JSON and for writes that failed, the engine's message for
/// every other bad row.
pub fn insert_ack_error(err: &EngineError) -> (u32, String) {
    let error_code = stream_error_code(err);
    let message = match err.code() {
        ErrorCode::InvalidRowJson => INVALID_INSERT_JSON.to_string(),
        _ if error_code == code::SERVER_ERROR => INSERT_FAILED.to_string(),
        _ => err.to_string(),
    };
    (error_code, message)
}

/// The one mapping from an engine error to a streaming endpoint's response before any
/// header was sent. Statement errors carry `statementText` as ksqlDB's do, and their
/// `message` takes the endpoint's `style`.
pub fn stream_error(
    err: &EngineError,
    statement_text: Option<&str>,
    style: MessageStyle,
) -> ErrorResponse {
    let code = stream_error_code(err);
    let message = match statement_text {
        _ if code == code::SERVER_ERROR => INTERNAL_QUERY_ERROR.to_string(),
        Some(text) => statement_message(err, text, style),
        None => err.to_string(),
    };
    match (err.class(), statement_text) {
        (ErrorClass::BadStatement, Some(text)) => statement_error(code, &message, text, b"[]"),
        _ => ErrorResponse::generic(code, &message),
    }
}

/// How an endpoint words a statement error's `message`. ksqlDB's resources render the same
/// `KsqlStatementException` three ways (ksqlDB 0.28, the version the conformance cases
/// come from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStyle {
    /// `/ksql` (`KsqlResource`): `getRawMessage()`, the message alone.
    Raw,
    /// `/query-stream` (`ServerUtils.handleEndpointException`): `getMessage()`, which the
    /// exception builds as the message, `"\nStatement: "` and the request's SQL.
    WithStatement,
    /// `/query` (`StreamedQueryResource`): `ErrorMessageUtil.buildErrorMessage(e)`, that
    /// message followed by one `Caused by:` line per further exception in the cause chain.
    CauseChain,
}

/// Width `ErrorMessageUtil` wraps each `Caused by:` line to (commons-lang `WordUtils.wrap`).
pub const CAUSE_LINE_CHARS_MAX: usize = 80;

/// A statement error's `message` in `style`, for a statement whose SQL is `statement_text`.
///
/// Only parse errors get the statement and cause chain, because only for them is the
/// chain known: `ParseFailedException` (message and SQL) caused by ANTLR's
/// `ParsingException` (the same message) caused by the recognition exception, if any.
/// Other errors keep their message alone on every endpoint.
pub fn statement_message(err: &EngineError, statement_text: &str, style: MessageStyle) -> String {
    let Some(syntax) = err.syntax() else {
        return err.to_string();
    };
    let (message, cause) = (err.message(), syntax.cause);
    let with_statement = format!("{message}\nStatement: {statement_text}");
    match style {
        MessageStyle::Raw => message.to_string(),
        MessageStyle::WithStatement => with_statement,
        MessageStyle::CauseChain => {
            let mut chain = vec![with_statement.as_str(), message];
            chain.extend(cause.map(|c| c.java_class()));
            cause_chain(&chain)
        }
    }
}

/// `ErrorMessageUtil.buildErrorMessage` over the messages of an exception chain (outermost
/// first): the first as is, then each later one that is distinct and not empty as
/// `Caused by: …`, word-wrapped at 80 characters with `"\n\t"` between wrapped lines.
///
/// Duplicates are removed by exact text only. Later ksqlDB versions also drop causes the
/// first message contains, but the 0.28 text the conformance cases expect keeps the parse
/// message after `…\nStatement: …`, which contains it.
pub fn cause_chain(messages: &[&str]) -> String {
    let Some((first, causes)) = messages.split_first() else {
        return String::new();
    };
    let mut out = first.to_string();
    let mut seen = vec![*first];
    for cause in causes {
        if cause.is_empty() || seen.contains(cause) {
            continue;
        }
        seen.push(cause);
        out.push('\n');
        out.push_str(&wrap_words(
            &format!("Caused by: {cause}"),
            CAUSE_LINE_CHARS_MAX,
            "\n\t",
        ));
    }
    out
}

/// commons-lang `WordUtils.wrap(text, width, newline, true)`: breaks at the last space
/// that keeps a line within `width` (the space is replaced by `newline`), drops spaces at
/// the start of a line, and cuts words longer than `width`. Widths count UTF-16 units,
/// as Java's do.
fn wrap_words(text: &str, width: usize, newline: &str) -> String {
    const SPACE: u16 = b' ' as u16;
    let units: Vec<u16> = text.encode_utf16().collect();
    let newline: Vec<u16> = newline.encode_utf16().collect();
    let mut out = Vec::with_capacity(units.len() + newline.len() * 2);
    let mut offset = 0;
    while offset < units.len() {
        // A space may sit just past the width: the line before it still fits.
        let window = &units[offset..(offset + width + 1).min(units.len())];
        if window.first() == Some(&SPACE) {
            offset += 1;
            continue;
        }
        if units.len() - offset <= width {
            break;
        }
        // Break at the last space (dropping it), or cut a word longer than a line.
        let (line_len, skip) = match window.iter().rposition(|&u| u == SPACE) {
            Some(space) => (space, 1),
            None => (width, 0),
        };
        out.extend_from_slice(&units[offset..offset + line_len]);
        out.extend_from_slice(&newline);
        offset += line_len + skip;
    }
    out.extend_from_slice(&units[offset..]);
    String::from_utf16_lossy(&out)
}

/// `statement_error` with pre-rendered `entities` JSON.
pub fn statement_error(
    code: u32,
    message: &str,
    statement_text: &str,
    entities_json: &[u8],
) -> ErrorResponse {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "@type")]
        type_: &'static str,
        error_code: u32,
        message: &'a str,
        #[serde(rename = "statementText")]
        statement_text: &'a str,
        entities: &'a serde_json::value::RawValue,
    }
    let entities = std::str::from_utf8(entities_json)
        .ok()
        .and_then(|s| serde_json::value::RawValue::from_string(s.to_string()).ok())
        .unwrap_or_else(|| {
            serde_json::value::RawValue::from_string("[]".into()).expect("[] is JSON")
        });
    let body = serde_json::to_vec(&Body {
        type_: STATEMENT_ERROR,
        error_code: code,
        message: &clip_echo(message),
        statement_text: &clip_echo(statement_text),
        entities: &entities,
    })
    .expect("an error body always serializes");
    ErrorResponse {
        status: status_of(code),
        body,
    }
}

/// `text` cut to [`ERROR_TEXT_BYTES_MAX`] at a character boundary, saying how much was left
/// out, so an error body never grows with the size of what the client sent.
pub fn clip_echo(text: &str) -> Cow<'_, str> {
    if text.len() <= ERROR_TEXT_BYTES_MAX {
        return Cow::Borrowed(text);
    }
    let mut end = ERROR_TEXT_BYTES_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    ))
}

/// A request body that failed to decode.
pub fn protocol_error(err: &ProtocolError) -> ErrorResponse {
    let code = match err {
        ProtocolError::BodyTooLarge { .. } => code::PAYLOAD_TOO_LARGE,
        _ => code::BAD_REQUEST,
    };
    ErrorResponse::generic(code, &err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_engine::{SyntaxCause, SyntaxDetail};

    const ORDER_BY: &str = "line 1:24: mismatched input 'BY' expecting {';', 'EMIT', 'WHERE', \
                            'WINDOW', 'GROUP', 'HAVING', 'LIMIT', 'PARTITION'}";

    #[test]
    fn echoed_text_is_bounded_whatever_the_client_sent() {
        let huge = format!("SELECT '{}' FROM S;", "é".repeat(200_000));
        let response = statement_error(40001, &huge, &huge, b"[]");
        assert!(
            response.body.len() < 3 * ERROR_TEXT_BYTES_MAX,
            "{}",
            response.body.len()
        );
        let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
        let text = body["statementText"].as_str().expect("text");
        assert!(text.starts_with("SELECT 'éé"), "{}", &text[..20]);
        assert!(
            text.ends_with(" more bytes not shown)"),
            "{}",
            &text[text.len() - 40..]
        );
        let generic = ErrorResponse::generic(40000, &huge);
        assert!(generic.body.len() < 2 * ERROR_TEXT_BYTES_MAX);
        // Real statements come back whole.
        let short = statement_error(40001, "bad", "SHOW STREAMS;", b"[]");
        let body: serde_json::Value = serde_json::from_slice(&short.body).expect("JSON");
        assert_eq!(body["statementText"], "SHOW STREAMS;");
    }

    fn parse_error(cause: Option<SyntaxCause>) -> EngineError {
        EngineError::syntax_error(
            ORDER_BY,
            SyntaxDetail {
                line: 1,
                column: 24,
                cause,
            },
        )
    }

    /// RQTT `pull-queries-against-streams - error on ORDER BY`, exactly.
    #[test]
    fn query_endpoint_parse_error_is_the_full_cause_chain() {
        let sql = "SELECT * FROM S1 ORDER BY MYKEY DESC;";
        let err = parse_error(Some(SyntaxCause::InputMismatch));
        assert_eq!(
            statement_message(&err, sql, MessageStyle::CauseChain),
            "line 1:24: mismatched input 'BY' expecting {';', 'EMIT', 'WHERE', 'WINDOW', \
             'GROUP', 'HAVING', 'LIMIT', 'PARTITION'}\nStatement: SELECT * FROM S1 ORDER BY \
             MYKEY DESC;\nCaused by: line 1:24: mismatched input 'BY' expecting {';', 'EMIT', \
             'WHERE',\n\t'WINDOW', 'GROUP', 'HAVING', 'LIMIT', 'PARTITION'}\nCaused by: \
             org.antlr.v4.runtime.InputMismatchException"
        );
        assert_eq!(
            statement_message(&err, sql, MessageStyle::WithStatement),
            format!("{ORDER_BY}\nStatement: {sql}")
        );
        assert_eq!(statement_message(&err, sql, MessageStyle::Raw), ORDER_BY);
    }

    #[test]
    fn errors_without_an_antlr_exception_end_at_the_parse_message() {
        let err = parse_error(None);
        let text = statement_message(&err, "X;", MessageStyle::CauseChain);
        assert!(text.ends_with("\n\t'WINDOW', 'GROUP', 'HAVING', 'LIMIT', 'PARTITION'}"));
        assert_eq!(text.matches("Caused by: ").count(), 1);
        let other = EngineError::statement("S1 does not exist.");
        assert_eq!(
            statement_message(&other, "X;", MessageStyle::CauseChain),
            "S1 does not exist."
        );
    }

    #[test]
    fn cause_chain_drops_empty_and_repeated_messages() {
        assert_eq!(cause_chain(&["a", "", "b", "a", "b"]), "a\nCaused by: b");
        assert_eq!(cause_chain(&[]), "");
    }

    #[test]
    fn wrap_words_follows_commons_lang() {
        let wrap = |t: &str, w: usize| wrap_words(t, w, "|");
        assert_eq!(wrap("short", 10), "short");
        assert_eq!(wrap("aaa bbb ccc", 7), "aaa bbb|ccc");
        // A space just past the width still ends the line before it.
        assert_eq!(wrap("aaaaaaa bbb", 7), "aaaaaaa|bbb");
        // Words longer than a line are cut; spaces at a line start are dropped.
        assert_eq!(wrap("abcdefghij kl", 4), "abcd|efgh|ij|kl");
        // The break is the last space in reach, so earlier ones stay at the line's end.
        assert_eq!(wrap("ab      cd", 4), "ab  |cd");
        // Width counts UTF-16 units, as Java does.
        assert_eq!(wrap("\u{1F600}\u{1F600} x", 4), "\u{1F600}\u{1F600}|x");
    }
}
