//! The engine's one error type.
//!
//! Every error carries a typed [`ErrorCode`] (and so a class: user, not found, conflict,
//! unsupported, resource exhausted, internal) and a message. Each API face maps codes to its
//! own status and body in one exhaustive function, so no face ever matches on message text,
//! and a new code does not compile until every face has decided what it means.

/// What kind of failure an error is, independent of any wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request or a row in it is wrong (bad JSON, bad type, missing key).
    BadRequest,
    /// A SQL statement is wrong: parse error, unknown column, invalid statement.
    BadStatement,
    NotFound,
    Conflict,
    Unsupported,
    ResourceExhausted,
    Internal,
}

/// What failed. Faces map these to their own codes (ksqlDB's `error_code`, SQLSTATE,
/// Foundry's `errorCode`, …); [`ErrorCode::name`] is the stable spelling for faces that show
/// a symbolic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// SQL that does not parse; [`EngineError::syntax`] says where.
    Syntax,
    /// A statement that parses but is invalid: unknown source or column, bad WITH option,
    /// a type error, a statement ksqlDB refuses.
    InvalidStatement,
    /// A query or PRINT sent where only statements are accepted (ksqlDB's `/ksql`).
    QueryOnStatementEndpoint,
    /// A request, property or value that is malformed or fails type coercion.
    BadRequest,
    /// An inserted row that is not valid JSON (or not an object); the message has the detail,
    /// which ksqlDB's inserts endpoint does not show.
    InvalidRowJson,
    /// A source, query or other named thing that does not exist.
    NotFound,
    /// A topic that does not exist.
    TopicNotFound,
    /// A partition that the topic does not have.
    PartitionNotFound,
    /// Something that exists already.
    Conflict,
    /// Valid SQL that this engine does not run (yet).
    Unsupported,
    /// The node runs as many push queries as it may.
    PushQueryLimit,
    /// Another limit was reached (response size, partitions, sources, …).
    ResourceLimit,
    /// The disk is full: writes fail until space returns.
    StorageFull,
    /// Any other I/O failure.
    Io,
    /// Stored data that failed its checks.
    Corrupt,
    /// A bug or an unexpected state inside the engine.
    Internal,
}

impl ErrorCode {
    pub fn class(self) -> ErrorClass {
        match self {
            ErrorCode::Syntax
            | ErrorCode::InvalidStatement
            | ErrorCode::QueryOnStatementEndpoint => ErrorClass::BadStatement,
            ErrorCode::BadRequest | ErrorCode::InvalidRowJson => ErrorClass::BadRequest,
            ErrorCode::NotFound | ErrorCode::TopicNotFound | ErrorCode::PartitionNotFound => {
                ErrorClass::NotFound
            }
            ErrorCode::Conflict => ErrorClass::Conflict,
            ErrorCode::Unsupported => ErrorClass::Unsupported,
            ErrorCode::PushQueryLimit | ErrorCode::ResourceLimit | ErrorCode::StorageFull => {
                ErrorClass::ResourceExhausted
            }
            ErrorCode::Io | ErrorCode::Corrupt | ErrorCode::Internal => ErrorClass::Internal,
        }
    }

    /// The code's stable symbolic name (`INVALID_STATEMENT`), for faces that show one.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Syntax => "SYNTAX_ERROR",
            ErrorCode::InvalidStatement => "INVALID_STATEMENT",
            ErrorCode::QueryOnStatementEndpoint => "QUERY_ON_STATEMENT_ENDPOINT",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::InvalidRowJson => "INVALID_ROW_JSON",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::TopicNotFound => "TOPIC_NOT_FOUND",
            ErrorCode::PartitionNotFound => "PARTITION_NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::PushQueryLimit => "PUSH_QUERY_LIMIT",
            ErrorCode::ResourceLimit => "RESOURCE_LIMIT",
            ErrorCode::StorageFull => "STORAGE_FULL",
            ErrorCode::Io => "IO_ERROR",
            ErrorCode::Corrupt => "CORRUPT_DATA",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// The recognition exception ANTLR attaches to a syntax error it reports. ksqlDB's `/query`
/// error text ends its cause chain with the exception's class name; ANTLR reports
/// `extraneous input` and `missing X at` without one (it recovered in line), so those
/// errors, and parse errors ksqlDB raises outside ANTLR, carry no cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxCause {
    /// `mismatched input 'X' expecting …`.
    InputMismatch,
    /// `no viable alternative at input '…'`.
    NoViableAlternative,
}

impl SyntaxCause {
    /// The Java class name, which is what `Throwable.toString()` gives for these
    /// message-less exceptions and so what ksqlDB prints.
    pub fn java_class(self) -> &'static str {
        match self {
            SyntaxCause::InputMismatch => "org.antlr.v4.runtime.InputMismatchException",
            SyntaxCause::NoViableAlternative => "org.antlr.v4.runtime.NoViableAltException",
        }
    }
}

/// Where a syntax error is (1-based line and column, as ksqlDB reports them) and the
/// exception ksqlDB's ANTLR parser would attach, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxDetail {
    pub line: u32,
    pub column: u32,
    pub cause: Option<SyntaxCause>,
}

/// An engine error: a code, a message ksqlDB-shaped where ksqlDB has one, and for syntax
/// errors where the error is.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    code: ErrorCode,
    message: String,
    syntax: Option<SyntaxDetail>,
    /// Named values the message is about (a source's name, a limit), for faces whose error
    /// bodies carry parameters (Foundry's `parameters`).
    params: Vec<(&'static str, String)>,
}

impl EngineError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> EngineError {
        EngineError {
            code,
            message: message.into(),
            syntax: None,
            params: Vec::new(),
        }
    }

    /// A syntax error; `message` is ksqlDB-shaped (`line 1:8: mismatched input ...`).
    pub fn syntax_error(message: impl Into<String>, detail: SyntaxDetail) -> EngineError {
        EngineError {
            syntax: Some(detail),
            ..EngineError::new(ErrorCode::Syntax, message)
        }
    }

    pub fn statement(message: impl Into<String>) -> EngineError {
        EngineError::new(ErrorCode::InvalidStatement, message)
    }

    pub fn bad_request(message: impl Into<String>) -> EngineError {
        EngineError::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> EngineError {
        EngineError::new(ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> EngineError {
        EngineError::new(ErrorCode::Conflict, message)
    }

    pub fn unsupported(message: impl Into<String>) -> EngineError {
        EngineError::new(ErrorCode::Unsupported, message)
    }

    pub fn resource_exhausted(message: impl Into<String>) -> EngineError {
        EngineError::new(ErrorCode::ResourceLimit, message)
    }

    /// Stored data that failed its checks and that recovery could not repair.
    pub fn corrupt(message: impl std::fmt::Display) -> EngineError {
        EngineError::new(ErrorCode::Corrupt, format!("corrupt log: {message}"))
    }

    pub fn internal(message: impl std::fmt::Display) -> EngineError {
        EngineError::new(ErrorCode::Internal, format!("internal error: {message}"))
    }

    /// Adds a named parameter (see [`EngineError::params`]).
    pub fn with_param(mut self, name: &'static str, value: impl Into<String>) -> EngineError {
        self.params.push((name, value.into()));
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn class(&self) -> ErrorClass {
        self.code.class()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where a syntax error is; `None` for every other error.
    pub fn syntax(&self) -> Option<&SyntaxDetail> {
        self.syntax.as_ref()
    }

    pub fn params(&self) -> &[(&'static str, String)] {
        &self.params
    }

    /// The same error with its message prefixed (`"NAME: "` for a failing function).
    pub fn context(mut self, prefix: impl std::fmt::Display) -> EngineError {
        self.message = format!("{prefix}{}", self.message);
        self
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> EngineError {
        let code = match e.kind() {
            std::io::ErrorKind::StorageFull => ErrorCode::StorageFull,
            _ => ErrorCode::Io,
        };
        EngineError::new(code, format!("i/o error: {e}"))
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
