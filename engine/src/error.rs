//! The engine's one error type.
//!
//! Every error carries a class (user, not found, conflict, unsupported, resource exhausted,
//! internal) so each API face can map it to its own status and body in one place.

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

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// SQL that does not parse; `message` is ksqlDB-shaped (`line 1:8: mismatched input ...`).
    #[error("{message}")]
    Parse {
        message: String,
        line: u32,
        column: u32,
        /// The exception ksqlDB's ANTLR parser would attach, if any.
        cause: Option<SyntaxCause>,
    },
    /// A statement that parses but is invalid (unknown source or column, bad WITH option...).
    #[error("{0}")]
    Statement(String),
    /// A request or row that is malformed or fails type coercion.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Corrupt on-disk data that recovery could not repair.
    #[error("corrupt log: {0}")]
    Corrupt(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    pub fn class(&self) -> ErrorClass {
        match self {
            EngineError::Parse { .. } | EngineError::Statement(_) => ErrorClass::BadStatement,
            EngineError::BadRequest(_) => ErrorClass::BadRequest,
            EngineError::NotFound(_) => ErrorClass::NotFound,
            EngineError::Conflict(_) => ErrorClass::Conflict,
            EngineError::Unsupported(_) => ErrorClass::Unsupported,
            EngineError::ResourceExhausted(_) => ErrorClass::ResourceExhausted,
            EngineError::Io(_) | EngineError::Corrupt(_) | EngineError::Internal(_) => {
                ErrorClass::Internal
            }
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
