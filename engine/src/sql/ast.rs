//! The ksqlDB statement AST.
//!
//! Mirrors ksqlDB's grammar (`SqlBase.g4`): ~40 statement forms and one query shape,
//! `SELECT … FROM relation [WINDOW] [WHERE] [GROUP BY] [PARTITION BY] [HAVING] [EMIT] [LIMIT]`.
//! Identifiers are stored normalised: unquoted names upper-cased, quoted names verbatim.

use crate::types::SqlType;

/// A normalised identifier (upper-cased unless it was quoted with backticks or `"`).
pub type Ident = String;

/// Custom types by name (`CREATE TYPE ADDRESS AS STRUCT<…>`): what a type name that is
/// not built in may refer to. The parser resolves such names, so the AST holds only
/// built-in types.
pub type TypeRegistry = std::collections::BTreeMap<String, SqlType>;

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name (elements) WITH (...)`
    CreateSource(CreateSource),
    /// `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS SELECT ...`
    CreateAsSelect(CreateAsSelect),
    /// `INSERT INTO target [WITH (...)] SELECT ...`
    InsertIntoSelect {
        target: Ident,
        properties: Properties,
        query: Box<Query>,
    },
    /// `INSERT INTO target [(cols)] VALUES (exprs)`
    InsertValues {
        target: Ident,
        columns: Option<Vec<Ident>>,
        values: Vec<Expr>,
    },
    /// `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]`
    DropSource {
        kind: SourceKind,
        name: Ident,
        if_exists: bool,
        delete_topic: bool,
    },
    /// `SHOW|LIST STREAMS|TABLES [EXTENDED]`
    ListSources { kind: SourceKind, extended: bool },
    /// `SHOW|LIST [ALL] TOPICS [EXTENDED]`
    ListTopics { all: bool, extended: bool },
    /// `SHOW|LIST QUERIES [EXTENDED]`
    ListQueries { extended: bool },
    /// `SHOW|LIST PROPERTIES`
    ListProperties,
    /// `SHOW|LIST FUNCTIONS`
    ListFunctions,
    /// `SHOW|LIST TYPES`
    ListTypes,
    /// `SHOW|LIST VARIABLES`
    ListVariables,
    /// `DESCRIBE [EXTENDED] name`
    Describe { name: Ident, extended: bool },
    /// `DESCRIBE STREAMS|TABLES [EXTENDED]`
    DescribeSources { kind: SourceKind, extended: bool },
    /// `DESCRIBE FUNCTION name`
    DescribeFunction { name: Ident },
    /// `TERMINATE query_id` or `TERMINATE ALL`
    Terminate { target: TerminateTarget },
    /// `EXPLAIN query_id` or `EXPLAIN <statement>`
    Explain { target: ExplainTarget },
    /// A bare query (push with EMIT, pull without).
    Query(Box<Query>),
    /// `SET 'name' = 'value'`
    SetProperty { name: String, value: String },
    /// `UNSET 'name'`
    UnsetProperty { name: String },
    /// `DEFINE name = 'value'`
    DefineVariable { name: String, value: String },
    /// `UNDEFINE name`
    UndefineVariable { name: String },
    /// `PRINT topic [FROM BEGINNING] [INTERVAL|SAMPLE n] [LIMIT n]`
    Print {
        topic: String,
        from_beginning: bool,
        interval: Option<u64>,
        limit: Option<u64>,
    },
    /// `CREATE TYPE [IF NOT EXISTS] name AS type`
    CreateType {
        name: Ident,
        ty: SqlType,
        if_not_exists: bool,
    },
    /// `DROP TYPE [IF EXISTS] name`
    DropType { name: Ident, if_exists: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Stream,
    Table,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TerminateTarget {
    Query(String),
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExplainTarget {
    Query(String),
    Statement(Box<Statement>),
}

/// `WITH (key = literal, ...)`; keys upper-cased, in source order.
pub type Properties = Vec<(String, Literal)>;

#[derive(Debug, Clone, PartialEq)]
pub struct CreateSource {
    pub kind: SourceKind,
    pub or_replace: bool,
    pub if_not_exists: bool,
    /// `CREATE SOURCE STREAM|TABLE`: read-only source.
    pub is_source: bool,
    pub name: Ident,
    pub elements: Vec<TableElement>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableElement {
    pub name: Ident,
    pub ty: SqlType,
    pub constraint: ColumnConstraint,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnConstraint {
    None,
    /// `KEY` (streams)
    Key,
    /// `PRIMARY KEY` (tables)
    PrimaryKey,
    /// `HEADERS` (all headers as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`)
    Headers,
    /// `HEADER('key')`
    Header(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateAsSelect {
    pub kind: SourceKind,
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub name: Ident,
    pub properties: Properties,
    pub query: Box<Query>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Vec<SelectItem>,
    pub from: Relation,
    pub window: Option<WindowExpr>,
    pub where_clause: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub emit: Option<Emit>,
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    Changes,
    Final,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard,
    /// `alias.*`
    QualifiedWildcard(Ident),
    /// `struct_expr->*`: one column per field of the struct, named after the field.
    StructAll(Expr),
    Expr {
        expr: Expr,
        alias: Option<Ident>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Relation {
    Source {
        name: Ident,
        alias: Option<Ident>,
    },
    Join {
        left: Box<Relation>,
        right: Box<Relation>,
        join_type: JoinType,
        on: Expr,
        within: Option<WithinClause>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WithinClause {
    pub before_ms: u64,
    pub after_ms: u64,
    pub grace_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WindowExpr {
    Tumbling {
        size_ms: u64,
        retention_ms: Option<u64>,
        grace_ms: Option<u64>,
    },
    Hopping {
        size_ms: u64,
        advance_ms: u64,
        retention_ms: Option<u64>,
        grace_ms: Option<u64>,
    },
    Session {
        gap_ms: u64,
        retention_ms: Option<u64>,
        grace_ms: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Boolean(bool),
    /// An integer literal; INTEGER when it fits in i32, else BIGINT.
    Integer(i64),
    /// A literal with a decimal point and no exponent (`1.5`): DECIMAL in ksqlDB. Kept as text.
    Decimal(String),
    /// A literal with an exponent (`1.5E3`): DOUBLE.
    Double(f64),
    String(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `||` string concatenation
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `[qualifier.]name`
    Column {
        qualifier: Option<Ident>,
        name: Ident,
    },
    Literal(Literal),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] DISTINCT FROM`
    IsDistinctFrom {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<char>,
        negated: bool,
    },
    /// Searched (`operand == None`) or simple CASE.
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_result: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        ty: SqlType,
    },
    /// `name(args)`; `COUNT(*)` has `args == [Expr::Star]`.
    Function {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `*` as a function argument.
    Star,
    /// `base[index]`
    Subscript {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `base->field`
    Dereference {
        base: Box<Expr>,
        field: Ident,
    },
    /// `ARRAY[a, b]`
    Array(Vec<Expr>),
    /// `MAP(k := v, ...)`
    Map(Vec<(Expr, Expr)>),
    /// `STRUCT(name := v, ...)`
    Struct(Vec<(Ident, Expr)>),
    /// `(x, y) => body` or `x => body`
    Lambda {
        params: Vec<Ident>,
        body: Box<Expr>,
    },
}
