//! KalamDB's topic statements (its `docs/reference/sql.md`): `CREATE TOPIC`, `DROP TOPIC`,
//! `CLEAR TOPIC`, `ALTER TOPIC … ADD SOURCE`, `CONSUME`, `ACK`, parsed into
//! [`TopicStatement`]s the server runs (`dialect::map_statement` hands them over).
//!
//! A small lexer (words, numbers, `'…'` strings, symbols) and a recursive-descent parser of
//! one statement; a route's `WHERE` is kept as the text written and passed on to the
//! engine, which parses it as part of the route's query.

/// Partitions a topic gets when `CREATE TOPIC` names none (KalamDB's default).
pub const TOPIC_PARTITIONS_DEFAULT: u32 = 1;

/// Most partitions `CREATE TOPIC` may ask for: the engine's per-topic cap
/// (`TOPIC_PARTITIONS_MAX`), repeated here so the statement fails before the engine sees it.
pub const TOPIC_PARTITIONS_MAX: u32 = 256;

/// Messages one consume returns when it names no limit: a page a client handles at once
/// without many round trips.
pub const CONSUME_LIMIT_DEFAULT: u32 = 100;

/// Most messages one consume returns; a larger `limit` is clamped, as Kafka clamps
/// `max.poll.records` to what a fetch may carry. 1000 rows of the face's largest rows stay
/// well inside a response a client buffers whole.
pub const CONSUME_LIMIT_MAX: u32 = 1000;

/// Longest consumer-group name: KalamDB has no documented cap; group names are keys of the
/// durable offsets file, so they are bounded like user names.
pub const GROUP_NAME_CHARS_MAX: usize = 128;

/// Longest `WHERE` filter of a route, in bytes: the filter is copied into the route's
/// persistent query, whose statement text the catalog keeps forever.
pub const ROUTE_FILTER_BYTES_MAX: usize = 4096;

/// Which starting point a consumer group without a committed offset reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Only messages produced after the first consume.
    Latest,
    /// The oldest message the partition still holds.
    Earliest,
    /// This offset (clamped into what the partition holds).
    Offset(u64),
}

/// Which table change a route forwards (`ON INSERT|UPDATE|DELETE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    Insert,
    Update,
    Delete,
}

impl ChangeOp {
    /// KalamDB's spelling of the operation in a consumed message (`op`).
    pub fn wire_name(self) -> &'static str {
        match self {
            ChangeOp::Insert => "Insert",
            ChangeOp::Update => "Update",
            ChangeOp::Delete => "Delete",
        }
    }

    /// The operation's SQL keyword, lower-case (part of a route's engine name).
    pub fn sql_name(self) -> &'static str {
        match self {
            ChangeOp::Insert => "insert",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
        }
    }
}

/// What a routed message carries (`WITH (payload=…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// The primary-key columns only.
    Key,
    /// The whole row plus `_table`.
    Full,
    /// Reserved by KalamDB; behaves as `Full`.
    Diff,
}

/// `ALTER TOPIC t ADD SOURCE table ON op [WHERE expr] [WITH (payload=…)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub topic: String,
    /// The engine name of the source table (`ns.t`).
    pub table: String,
    pub op: ChangeOp,
    /// The filter's SQL text, as written.
    pub filter: Option<String>,
    pub payload: PayloadMode,
}

/// One topic statement of `/v1/api/sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicStatement {
    Create {
        topic: String,
        partitions: u32,
    },
    Drop {
        topic: String,
        if_exists: bool,
    },
    Clear {
        topic: String,
    },
    AddSource(Route),
    /// `CONSUME FROM t [GROUP 'g'] [FROM LATEST|EARLIEST|n] [LIMIT n]`; without a group it
    /// reads from `start` and remembers nothing.
    Consume {
        topic: String,
        group: Option<String>,
        start: Start,
        limit: u32,
    },
    /// `ACK t GROUP 'g' [PARTITION p] UPTO OFFSET o`.
    Ack {
        topic: String,
        group: String,
        partition: u32,
        upto_offset: u64,
    },
}

/// Longest part of a topic name: the same bound as a namespace name
/// (`dialect::NAMESPACE_NAME_CHARS_MAX`), so `ns.t` stays inside the log's topic-name limit.
pub const TOPIC_NAME_PART_CHARS_MAX: usize = 64;

/// A KalamDB identifier: a letter or `_`, then letters, digits, `_`.
fn valid_name_part(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && part.len() <= TOPIC_NAME_PART_CHARS_MAX
}

/// The topic statement `sql` is, if it is one: `None` for any other statement, `Some(Err)`
/// with the reason for a topic statement that does not parse.
pub fn parse_statement(
    sql: &str,
    namespace: Option<&str>,
) -> Option<Result<TopicStatement, String>> {
    let toks = lex(sql);
    let mut p = Parser {
        toks: &toks,
        at: 0,
        namespace,
    };
    let first = p.peek_word()?;
    let second = toks
        .get(1)
        .filter(|t| t.kind == Kind::Word)
        .map(|t| t.text.to_ascii_uppercase());
    let is_topic = match first.as_str() {
        "CREATE" | "DROP" | "CLEAR" | "ALTER" => second.as_deref() == Some("TOPIC"),
        "CONSUME" | "ACK" => true,
        _ => false,
    };
    is_topic.then(|| p.statement())
}

/// True for a topic name: `ns.t` (or `t`), each part a KalamDB identifier.
pub fn valid_topic_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let ok = parts.next().is_some_and(valid_name_part) && parts.next().is_none_or(valid_name_part);
    ok && parts.next().is_none()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Number,
    Str,
    Symbol,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: Kind,
    text: String,
    /// Byte offset of the token in the statement.
    at: usize,
    /// Byte offset just past it.
    end: usize,
}

/// Words, numbers, `'…'` strings (quotes removed, `''` unescaped) and single symbols;
/// whitespace, `--` and `/* … */` comments dropped (as the engine's lexer drops them, so a
/// filter's tokens are the ones the route's query will see). An unclosed `/*` is kept as a
/// symbol, which the parser refuses.
fn lex(sql: &str) -> Vec<Tok> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            match sql[i + 2..].find("*/") {
                Some(close) => i += 2 + close + 2,
                None => {
                    out.push(tok(Kind::Symbol, "/*", start, start + 2));
                    break;
                }
            }
        } else if b.is_ascii_alphabetic() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(tok(Kind::Word, &sql[start..i], start, i));
        } else if b.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push(tok(Kind::Number, &sql[start..i], start, i));
        } else if b == b'\'' {
            let mut text = String::new();
            i += 1;
            let mut from = i;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    text.push_str(&sql[from..i]);
                    if bytes.get(i + 1) == Some(&b'\'') {
                        text.push('\'');
                        i += 2;
                        from = i;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            if i >= bytes.len() {
                // An unterminated string: keep it as a symbol so the parser refuses it.
                out.push(tok(Kind::Symbol, "'", start, start + 1));
                break;
            }
            i += 1;
            out.push(tok(Kind::Str, &text, start, i));
        } else {
            let len = sql[i..].chars().next().map_or(1, char::len_utf8);
            i += len;
            out.push(tok(Kind::Symbol, &sql[start..i], start, i));
        }
    }
    out
}

fn is_symbol(t: &Tok, symbol: &str) -> bool {
    t.kind == Kind::Symbol && t.text == symbol
}

fn tok(kind: Kind, text: &str, at: usize, end: usize) -> Tok {
    Tok {
        kind,
        text: text.to_string(),
        at,
        end,
    }
}

struct Parser<'a> {
    toks: &'a [Tok],
    at: usize,
    namespace: Option<&'a str>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn peek_word(&self) -> Option<String> {
        self.peek()
            .filter(|t| t.kind == Kind::Word)
            .map(|t| t.text.to_ascii_uppercase())
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek_word().as_deref() == Some(word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, word: &str) -> Result<(), String> {
        if self.eat(word) {
            Ok(())
        } else {
            Err(format!("expected {word} {}", self.here()))
        }
    }

    fn here(&self) -> String {
        match self.peek() {
            Some(t) => format!("at '{}'", t.text),
            None => "at the end of the statement".into(),
        }
    }

    fn number(&mut self, what: &str) -> Result<u64, String> {
        match self.peek() {
            Some(t) if t.kind == Kind::Number => {
                let n = t
                    .text
                    .parse()
                    .map_err(|_| format!("{what} {} is too large", t.text))?;
                self.at += 1;
                Ok(n)
            }
            _ => Err(format!("expected {what} {}", self.here())),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, String> {
        match self.peek() {
            Some(t) if t.kind == Kind::Str => {
                let s = t.text.clone();
                self.at += 1;
                Ok(s)
            }
            _ => Err(format!(
                "expected {what} as a quoted string {}",
                self.here()
            )),
        }
    }

    /// `ns.t` or `t` (resolved in the request's namespace), lower-cased.
    fn name(&mut self, what: &str) -> Result<String, String> {
        let first = match self.peek() {
            Some(t) if t.kind == Kind::Word => t.text.to_ascii_lowercase(),
            _ => return Err(format!("expected a {what} name {}", self.here())),
        };
        self.at += 1;
        let name = if self.peek().is_some_and(|t| is_symbol(t, ".")) {
            self.at += 1;
            match self.peek() {
                Some(t) if t.kind == Kind::Word => {
                    let second = t.text.to_ascii_lowercase();
                    self.at += 1;
                    format!("{first}.{second}")
                }
                _ => return Err(format!("expected a {what} name after '.' {}", self.here())),
            }
        } else {
            match self.namespace {
                Some(ns) => format!("{}.{first}", ns.to_ascii_lowercase()),
                None => first,
            }
        };
        if valid_topic_name(&name) {
            Ok(name)
        } else {
            Err(format!("'{name}' is not a valid {what} name"))
        }
    }

    /// The end of the statement: nothing but an optional `;`.
    fn end(&mut self) -> Result<(), String> {
        if self.peek().is_some_and(|t| is_symbol(t, ";")) {
            self.at += 1;
        }
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(format!("unexpected text {}", self.here())),
        }
    }

    fn statement(&mut self) -> Result<TopicStatement, String> {
        let statement = match self.peek_word().as_deref() {
            Some("CREATE") => self.create()?,
            Some("DROP") => self.drop_topic()?,
            Some("CLEAR") => {
                self.at += 2;
                TopicStatement::Clear {
                    topic: self.name("topic")?,
                }
            }
            Some("ALTER") => self.add_source()?,
            Some("CONSUME") => self.consume()?,
            _ => self.ack()?,
        };
        self.end()?;
        Ok(statement)
    }

    fn create(&mut self) -> Result<TopicStatement, String> {
        self.at += 2;
        let topic = self.name("topic")?;
        let partitions = if self.eat("PARTITIONS") {
            let n = self.number("a partition count")?;
            u32::try_from(n)
                .ok()
                .filter(|n| (1..=TOPIC_PARTITIONS_MAX).contains(n))
                .ok_or_else(|| {
                    format!("a topic has 1 to {TOPIC_PARTITIONS_MAX} partitions, not {n}")
                })?
        } else {
            TOPIC_PARTITIONS_DEFAULT
        };
        Ok(TopicStatement::Create { topic, partitions })
    }

    fn drop_topic(&mut self) -> Result<TopicStatement, String> {
        self.at += 2;
        let if_exists = self.eat("IF");
        if if_exists {
            self.expect("EXISTS")?;
        }
        Ok(TopicStatement::Drop {
            topic: self.name("topic")?,
            if_exists,
        })
    }

    fn add_source(&mut self) -> Result<TopicStatement, String> {
        self.at += 2;
        let topic = self.name("topic")?;
        self.expect("ADD")?;
        self.expect("SOURCE")?;
        let table = self.name("table")?;
        self.expect("ON")?;
        let op = match self.peek_word().as_deref() {
            Some("INSERT") => ChangeOp::Insert,
            Some("UPDATE") => ChangeOp::Update,
            Some("DELETE") => ChangeOp::Delete,
            _ => return Err(format!("expected INSERT, UPDATE or DELETE {}", self.here())),
        };
        self.at += 1;
        let filter = if self.eat("WHERE") {
            Some(self.filter()?)
        } else {
            None
        };
        let payload = if self.eat("WITH") {
            self.payload()?
        } else {
            PayloadMode::Full
        };
        Ok(TopicStatement::AddSource(Route {
            topic,
            table,
            op,
            filter,
            payload,
        }))
    }

    /// The filter: every token up to a top-level `WITH` or the end, rebuilt from the tokens
    /// (one space where the statement had space or a comment, strings re-quoted). Rebuilt
    /// rather than copied, so no comment or `;` reaches the route's query and cuts it
    /// short, and printing the route parses back to the same filter.
    fn filter(&mut self) -> Result<String, String> {
        let mut depth = 0usize;
        let mut text = String::new();
        let mut prev_end: Option<usize> = None;
        while let Some(t) = self.peek() {
            let symbol = |s: &str| is_symbol(t, s);
            if depth == 0 && t.kind == Kind::Word && t.text.eq_ignore_ascii_case("WITH") {
                break;
            }
            if symbol(";") && depth == 0 {
                break;
            }
            if symbol(";") || symbol("'") || symbol("/*") {
                return Err(format!("a route's WHERE cannot hold {}", t.text));
            }
            if symbol("(") {
                depth += 1;
            }
            if symbol(")") {
                depth = depth
                    .checked_sub(1)
                    .ok_or("unbalanced parentheses in WHERE")?;
            }
            // One space where the statement had space or a comment, and wherever two tokens
            // would otherwise spell a comment opener (`-` `-`, `/` `*`) in the route's query.
            let opens_comment = (text.ends_with('-') && t.text.starts_with('-'))
                || (text.ends_with('/') && t.text.starts_with('*'));
            if prev_end.is_some_and(|end| end < t.at) || opens_comment {
                text.push(' ');
            }
            match t.kind {
                Kind::Str => text.push_str(&literal(&t.text)),
                _ => text.push_str(&t.text),
            }
            prev_end = Some(t.end);
            self.at += 1;
            if text.len() > ROUTE_FILTER_BYTES_MAX {
                return Err(format!(
                    "a route's WHERE is at most {ROUTE_FILTER_BYTES_MAX} bytes"
                ));
            }
        }
        if depth != 0 {
            return Err("unbalanced parentheses in WHERE".into());
        }
        if text.is_empty() {
            return Err("WHERE needs a condition".into());
        }
        Ok(text)
    }

    fn payload(&mut self) -> Result<PayloadMode, String> {
        if self.peek().is_none_or(|t| !is_symbol(t, "(")) {
            return Err(format!("expected ( after WITH {}", self.here()));
        }
        self.at += 1;
        self.expect("PAYLOAD")?;
        if self.peek().is_none_or(|t| !is_symbol(t, "=")) {
            return Err(format!("expected = after payload {}", self.here()));
        }
        self.at += 1;
        let mode = match self
            .string("the payload mode")?
            .to_ascii_lowercase()
            .as_str()
        {
            "key" => PayloadMode::Key,
            "full" => PayloadMode::Full,
            "diff" => PayloadMode::Diff,
            other => return Err(format!("payload is 'key', 'full' or 'diff', not '{other}'")),
        };
        if self.peek().is_none_or(|t| !is_symbol(t, ")")) {
            return Err(format!("expected ) {}", self.here()));
        }
        self.at += 1;
        Ok(mode)
    }

    fn consume(&mut self) -> Result<TopicStatement, String> {
        self.at += 1;
        self.expect("FROM")?;
        let topic = self.name("topic")?;
        let group = if self.eat("GROUP") {
            Some(group_name(self.string("the group")?)?)
        } else {
            None
        };
        let start = if self.eat("FROM") {
            if self.eat("LATEST") {
                Start::Latest
            } else if self.eat("EARLIEST") {
                Start::Earliest
            } else {
                Start::Offset(self.number("LATEST, EARLIEST or an offset")?)
            }
        } else {
            Start::Latest
        };
        let limit = if self.eat("LIMIT") {
            clamp_limit(self.number("a limit")?)
        } else {
            CONSUME_LIMIT_DEFAULT
        };
        Ok(TopicStatement::Consume {
            topic,
            group,
            start,
            limit,
        })
    }

    fn ack(&mut self) -> Result<TopicStatement, String> {
        self.at += 1;
        let topic = self.name("topic")?;
        self.expect("GROUP")?;
        let group = group_name(self.string("the group")?)?;
        let partition = if self.eat("PARTITION") {
            u32::try_from(self.number("a partition")?).map_err(|_| "no such partition")?
        } else {
            0
        };
        self.expect("UPTO")?;
        self.expect("OFFSET")?;
        let upto_offset = self.number("an offset")?;
        Ok(TopicStatement::Ack {
            topic,
            group,
            partition,
            upto_offset,
        })
    }
}

/// `text` as a SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl PayloadMode {
    /// The mode as `WITH (payload='…')` spells it.
    pub fn name(self) -> &'static str {
        match self {
            PayloadMode::Key => "key",
            PayloadMode::Full => "full",
            PayloadMode::Diff => "diff",
        }
    }
}

impl std::fmt::Display for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Start::Latest => f.write_str("LATEST"),
            Start::Earliest => f.write_str("EARLIEST"),
            Start::Offset(o) => write!(f, "{o}"),
        }
    }
}

/// The statement as SQL that parses back to it (names as stored, every option spelled out).
impl std::fmt::Display for TopicStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopicStatement::Create { topic, partitions } => {
                write!(f, "CREATE TOPIC {topic} PARTITIONS {partitions}")
            }
            TopicStatement::Drop { topic, if_exists } => {
                let guard = if *if_exists { "IF EXISTS " } else { "" };
                write!(f, "DROP TOPIC {guard}{topic}")
            }
            TopicStatement::Clear { topic } => write!(f, "CLEAR TOPIC {topic}"),
            TopicStatement::AddSource(r) => {
                let op = r.op.sql_name().to_ascii_uppercase();
                write!(f, "ALTER TOPIC {} ADD SOURCE {} ON {op}", r.topic, r.table)?;
                if let Some(filter) = &r.filter {
                    write!(f, " WHERE {filter}")?;
                }
                write!(f, " WITH (payload='{}')", r.payload.name())
            }
            TopicStatement::Consume {
                topic,
                group,
                start,
                limit,
            } => {
                write!(f, "CONSUME FROM {topic}")?;
                if let Some(group) = group {
                    write!(f, " GROUP {}", literal(group))?;
                }
                write!(f, " FROM {start} LIMIT {limit}")
            }
            TopicStatement::Ack {
                topic,
                group,
                partition,
                upto_offset,
            } => write!(
                f,
                "ACK {topic} GROUP {} PARTITION {partition} UPTO OFFSET {upto_offset}",
                literal(group)
            ),
        }
    }
}

/// A group name, checked: 1 to [`GROUP_NAME_CHARS_MAX`] characters, no control characters.
pub fn group_name(name: String) -> Result<String, String> {
    let chars = name.chars().count();
    if chars == 0 || chars > GROUP_NAME_CHARS_MAX || name.chars().any(char::is_control) {
        return Err(format!(
            "a group name is 1 to {GROUP_NAME_CHARS_MAX} printable characters"
        ));
    }
    Ok(name)
}

/// A requested limit within `1..=CONSUME_LIMIT_MAX` (0 asks for the default).
pub fn clamp_limit(requested: u64) -> u32 {
    match requested {
        0 => CONSUME_LIMIT_DEFAULT,
        n => u32::try_from(n).unwrap_or(u32::MAX).min(CONSUME_LIMIT_MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> TopicStatement {
        parse_statement(sql, None)
            .expect("a topic statement")
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    #[test]
    fn topic_ddl_parses() {
        assert_eq!(
            parse("CREATE TOPIC App.Note_Events PARTITIONS 3;"),
            TopicStatement::Create {
                topic: "app.note_events".into(),
                partitions: 3
            }
        );
        assert_eq!(
            parse_statement("create topic events", Some("app")),
            Some(Ok(TopicStatement::Create {
                topic: "app.events".into(),
                partitions: 1
            }))
        );
        assert_eq!(
            parse("DROP TOPIC IF EXISTS app.e"),
            TopicStatement::Drop {
                topic: "app.e".into(),
                if_exists: true
            }
        );
        assert_eq!(
            parse("CLEAR TOPIC app.e"),
            TopicStatement::Clear {
                topic: "app.e".into()
            }
        );
        assert!(parse_statement("CREATE TABLE app.t (id INT)", None).is_none());
        assert!(parse_statement("SELECT * FROM t", None).is_none());
        for bad in [
            "CREATE TOPIC app.e PARTITIONS 0",
            "CREATE TOPIC app.e PARTITIONS 99999999999999999999999",
            "CREATE TOPIC a.b.c",
            "CREATE TOPIC `../x`",
            "DROP TOPIC app.e extra",
        ] {
            assert!(
                matches!(parse_statement(bad, None), Some(Err(_))),
                "{bad} is refused"
            );
        }
    }

    #[test]
    fn add_source_keeps_the_filter_text_and_payload() {
        assert_eq!(
            parse("ALTER TOPIC app.ev ADD SOURCE app.notes ON INSERT WHERE body <> 'x WITH y' AND (id > 1) WITH (payload='key');"),
            TopicStatement::AddSource(Route {
                topic: "app.ev".into(),
                table: "app.notes".into(),
                op: ChangeOp::Insert,
                filter: Some("body <> 'x WITH y' AND (id > 1)".into()),
                payload: PayloadMode::Key,
            })
        );
        let TopicStatement::AddSource(route) =
            parse("ALTER TOPIC app.ev ADD SOURCE app.notes ON delete")
        else {
            panic!("a route");
        };
        assert_eq!(
            (route.op, route.payload, route.filter),
            (ChangeOp::Delete, PayloadMode::Full, None)
        );
        assert!(matches!(
            parse_statement("ALTER TOPIC app.ev ADD SOURCE app.notes ON INSERT WITH (payload='all')", None),
            Some(Err(e)) if e.contains("payload is")
        ));
    }

    #[test]
    fn consume_and_ack_parse() {
        assert_eq!(
            parse("CONSUME FROM app.ev GROUP 'g''1' FROM EARLIEST LIMIT 5"),
            TopicStatement::Consume {
                topic: "app.ev".into(),
                group: Some("g'1".into()),
                start: Start::Earliest,
                limit: 5
            }
        );
        assert_eq!(
            parse("CONSUME FROM app.ev FROM 7 LIMIT 100000"),
            TopicStatement::Consume {
                topic: "app.ev".into(),
                group: None,
                start: Start::Offset(7),
                limit: CONSUME_LIMIT_MAX
            }
        );
        assert_eq!(
            parse("ACK app.ev GROUP 'g' PARTITION 2 UPTO OFFSET 41;"),
            TopicStatement::Ack {
                topic: "app.ev".into(),
                group: "g".into(),
                partition: 2,
                upto_offset: 41
            }
        );
        assert!(matches!(
            parse_statement("ACK app.ev GROUP g UPTO OFFSET 1", None),
            Some(Err(_))
        ));
        assert!(matches!(
            parse_statement("CONSUME FROM app.ev GROUP 'unterminated", None),
            Some(Err(_))
        ));
    }

    #[test]
    fn filters_are_rebuilt_without_comments_or_semicolons() {
        let TopicStatement::AddSource(route) = parse(
            "ALTER TOPIC app.ev ADD SOURCE app.notes ON INSERT WHERE a  >=  1 -- why\n AND b = 'it''s' WITH (payload='full')",
        ) else {
            panic!("a route");
        };
        assert_eq!(route.filter.as_deref(), Some("a >= 1 AND b = 'it''s'"));
        // Inside a string, `;` and `--` are data: kept, and re-quoted when printed.
        let TopicStatement::AddSource(route) =
            parse("ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE b = 'x;--y'")
        else {
            panic!("a route");
        };
        assert_eq!(route.filter.as_deref(), Some("b = 'x;--y'"));
        // Block comments are dropped like `--` ones; `/` then `*` never becomes `/*`.
        let TopicStatement::AddSource(route) = parse(
            "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE a /* x; */ > 1 AND b * 2 > a/ *c",
        ) else {
            panic!("a route");
        };
        assert_eq!(route.filter.as_deref(), Some("a > 1 AND b * 2 > a/ *c"));
        for bad in [
            "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE (x = 1; DROP STREAM s)",
            "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE x = 1)",
            "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE (x = 1",
            "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE x = 'open",
            "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE x = 1 /* open",
            "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE WITH (payload='key')",
        ] {
            assert!(matches!(parse_statement(bad, None), Some(Err(_))), "{bad}");
        }
    }

    mod round_trip {
        use super::*;
        use proptest::prelude::*;

        fn name() -> impl Strategy<Value = String> {
            "[a-z_][a-z0-9_]{0,8}(\\.[a-z_][a-z0-9_]{0,8})?"
        }

        fn start() -> impl Strategy<Value = Start> {
            prop_oneof![
                Just(Start::Latest),
                Just(Start::Earliest),
                any::<u64>().prop_map(Start::Offset),
            ]
        }

        fn statement() -> impl Strategy<Value = TopicStatement> {
            let op = prop_oneof![
                Just(ChangeOp::Insert),
                Just(ChangeOp::Update),
                Just(ChangeOp::Delete)
            ];
            let payload = prop_oneof![
                Just(PayloadMode::Key),
                Just(PayloadMode::Full),
                Just(PayloadMode::Diff)
            ];
            let filter = prop::option::of(prop_oneof![
                Just("total > 10".to_string()),
                Just("(a = 'x''y') AND b <> 2.5".to_string()),
                Just("UCASE(body) LIKE '%WITH%'".to_string()),
            ]);
            prop_oneof![
                (name(), 1..=TOPIC_PARTITIONS_MAX)
                    .prop_map(|(topic, partitions)| TopicStatement::Create { topic, partitions }),
                (name(), any::<bool>())
                    .prop_map(|(topic, if_exists)| TopicStatement::Drop { topic, if_exists }),
                name().prop_map(|topic| TopicStatement::Clear { topic }),
                (name(), name(), op, filter, payload).prop_map(
                    |(topic, table, op, filter, payload)| {
                        TopicStatement::AddSource(Route {
                            topic,
                            table,
                            op,
                            filter,
                            payload,
                        })
                    }
                ),
                (
                    name(),
                    prop::option::of("[ -~]{1,20}"),
                    start(),
                    1..=CONSUME_LIMIT_MAX
                )
                    .prop_map(|(topic, group, start, limit)| {
                        TopicStatement::Consume {
                            topic,
                            group,
                            start,
                            limit,
                        }
                    }),
                (name(), "[ -~]{1,20}", any::<u32>(), any::<u64>()).prop_map(
                    |(topic, group, partition, upto_offset)| TopicStatement::Ack {
                        topic,
                        group,
                        partition,
                        upto_offset
                    }
                ),
            ]
        }

        proptest! {
            /// Print, parse, compare: every statement the parser can produce prints as SQL
            /// that parses back to it.
            #[test]
            fn printed_statements_parse_back(statement in statement()) {
                let sql = statement.to_string();
                prop_assert_eq!(parse_statement(&sql, None), Some(Ok(statement)), "{}", sql);
            }

            /// Whatever follows a topic keyword, parsing never panics, and what parses
            /// prints back to itself.
            #[test]
            fn any_text_parses_or_is_refused(
                head in prop::sample::select(vec!["CREATE TOPIC ", "DROP TOPIC ", "CLEAR TOPIC ", "ALTER TOPIC a.b ADD SOURCE a.c ON INSERT WHERE ", "CONSUME FROM ", "ACK "]),
                tail in "\\PC{0,40}",
            ) {
                let sql = format!("{head}{tail}");
                if let Some(Ok(statement)) = parse_statement(&sql, None) {
                    let printed = statement.to_string();
                    prop_assert_eq!(parse_statement(&printed, None), Some(Ok(statement)), "{}", printed);
                }
            }
        }
    }
}
