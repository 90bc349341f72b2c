//! KalamDB's SQL spellings mapped onto the ksqlDB dialect the engine runs
//! (KalamDB `docs/reference/sql.md`).
//!
//! | KalamDB | engine |
//! |---|---|
//! | namespace `ns`, table `ns.t` | source named `` `ns.t` `` (verbatim, lower-case): one catalog, the namespace is the name's first part |
//! | unqualified `t` with `namespace_id` (or after `USE ns`) | `` `ns.t` `` |
//! | `CREATE [USER\|SHARED] TABLE ns.t (…)` | `CREATE TABLE `ns.t` (…) WITH (kafka_topic='ns.t', value_format='JSON', partitions=1)` |
//! | `CREATE STREAM TABLE` / `WITH (TYPE='STREAM')` | `CREATE STREAM …` (an append-only stream; `PRIMARY KEY` becomes `KEY`), per user like a USER table |
//! | `TEXT`, `VARCHAR`, `JSON` / `INT`, `SMALLINT` / `FLOAT` / `DATETIME` | `STRING` / `INTEGER` / `DOUBLE` / `TIMESTAMP` |
//! | `FILE` | the STRUCT of a file's cell (`files`) |
//! | `CREATE NAMESPACE`, `DROP NAMESPACE`, `SHOW NAMESPACES`, `USE ns` | answered by the face |
//! | `CREATE/DROP/CLEAR/ALTER TOPIC`, `CONSUME`, `ACK` | answered by the face (`topic_statement`) |
//! | `CREATE/ALTER/DROP USER` | answered by the face (`user_statement`) |
//!
//! Table names are rewritten only where a statement names a source (after `FROM`, `INTO`,
//! `JOIN`, `TABLE`, `STREAM`, `DESCRIBE`), so `alias.column` stays a column reference.

use serde::{Deserialize, Serialize};

use super::column_defaults::{take_defaults, ColumnDefault};
use super::files::FILE_COLUMN_TYPE;
use super::shared_access::{access_level_option, set_access_level, AccessLevel};
pub use super::sql_tokens::source_name;
use super::sql_tokens::{bare, matching, next_solid, tokens, with_option, Kind, Token};
use super::topic_statement::{parse_statement as parse_topic_statement, TopicStatement};
use super::user_scope::{owner_column_definition, OWNER_COLUMN};
use super::user_statement::{parse_user_statement, UserStatement};
use crate::statement_split::code_words;

/// What one KalamDB statement becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// A statement for the engine, in its dialect.
    Engine(String),
    /// `CREATE … TABLE`: the engine's statement, the table's engine name, its kind, and the
    /// column defaults the face keeps for it (`column_defaults`; none replaces earlier ones).
    CreateTable {
        sql: String,
        table: String,
        kind: TableKind,
        defaults: Vec<ColumnDefault>,
        /// A SHARED table's access level (`ACCESS_LEVEL`, else KalamDB's default); `None`
        /// for USER and STREAM tables.
        access: Option<AccessLevel>,
        /// A STREAM table's `TTL_SECONDS`: how long its rows stay visible.
        ttl_seconds: Option<u64>,
    },
    /// `ALTER TABLE t SET ACCESS LEVEL level` of a SHARED table (engine name).
    SetAccessLevel {
        table: String,
        level: AccessLevel,
    },
    CreateNamespace {
        name: String,
        if_not_exists: bool,
    },
    DropNamespace {
        name: String,
        if_exists: bool,
    },
    ShowNamespaces,
    /// `USE ns`: later statements of the request resolve unqualified names in `ns`.
    Use(String),
    /// A topic or consumer-group statement (`topics`), answered by the face.
    Topic(TopicStatement),
    /// `CREATE/ALTER/DROP USER`, answered by the face from its user store.
    User(UserStatement),
    /// A KalamDB statement the engine cannot run, with the reason.
    Unsupported(String),
}

/// KalamDB's application table types (`WITH (TYPE=…)` or the `CREATE USER|SHARED|STREAM
/// TABLE` prefix; without either, SHARED, as KalamDB's parser defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// Rows belong to the user who wrote them (`user_scope`).
    User,
    /// One set of rows for everyone.
    Shared,
    /// An append-only stream whose rows, like a USER table's, belong to the user who wrote
    /// them: KalamDB's STREAM rows are user-scoped, not a broadcast channel.
    Stream,
}

impl TableKind {
    /// True when each user reads and writes only their own rows (`user_scope`): USER and
    /// STREAM tables.
    pub fn is_per_user(self) -> bool {
        matches!(self, TableKind::User | TableKind::Stream)
    }
}

/// Longest `TTL_SECONDS` a STREAM table may name (ten years): its rows' age is compared in
/// milliseconds, far from overflow at this bound, and a longer life is no TTL at all.
pub const STREAM_TTL_SECONDS_MAX: u64 = 10 * 365 * 24 * 60 * 60;

/// Longest namespace name (KalamDB identifiers are short names; the limit keeps a source
/// name, which also names its topic, well inside the log's topic-name limit).
pub const NAMESPACE_NAME_CHARS_MAX: usize = 64;

/// Keywords after which a statement names a source.
const SOURCE_KEYWORDS: &[&str] = &[
    "FROM", "INTO", "JOIN", "TABLE", "STREAM", "DESCRIBE", "UPDATE",
];

/// Words that may sit between a source keyword and the name (`IF NOT EXISTS`).
const NAME_PREFIX_WORDS: &[&str] = &["IF", "NOT", "EXISTS", "EXTENDED"];

/// KalamDB column types and the engine's.
const TYPE_NAMES: &[(&str, &str)] = &[
    ("TEXT", "STRING"),
    ("VARCHAR", "STRING"),
    ("JSON", "STRING"),
    ("INT", "INTEGER"),
    ("SMALLINT", "INTEGER"),
    ("FLOAT", "DOUBLE"),
    ("DATETIME", "TIMESTAMP"),
    ("FILE", FILE_COLUMN_TYPE),
];

/// Maps one statement; `namespace` resolves unqualified source names.
pub fn map_statement(statement: &str, namespace: Option<&str>) -> Mapped {
    if let Some(topic) = parse_topic_statement(statement, namespace) {
        return topic.map_or_else(Mapped::Unsupported, Mapped::Topic);
    }
    if let Some(user) = parse_user_statement(statement) {
        return user.map_or_else(Mapped::Unsupported, Mapped::User);
    }
    let words: Vec<String> = code_words(statement).take(4).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["CREATE", "NAMESPACE", ..] | ["DROP", "NAMESPACE", ..] => namespace_ddl(statement),
        ["SHOW", "NAMESPACES", ..] => Mapped::ShowNamespaces,
        ["USE", ..] => match name_after(statement, 1) {
            Some(name) if valid_namespace(&name) => Mapped::Use(name),
            _ => Mapped::Unsupported("USE takes one namespace name".into()),
        },
        ["CREATE", "USER" | "SHARED" | "STREAM" | "TABLE", ..] if words.contains(&"TABLE") => {
            create_table(statement, namespace)
        }
        ["ALTER", "TABLE", ..] => {
            let sql = qualify(&tokens(statement), namespace);
            match set_access_level(&sql) {
                Some(Ok((table, level))) => Mapped::SetAccessLevel { table, level },
                Some(Err(reason)) => Mapped::Unsupported(reason),
                None => Mapped::Engine(sql),
            }
        }
        _ => Mapped::Engine(qualify(&tokens(statement), namespace)),
    }
}

/// True for a namespace name KalamDB accepts: a letter or `_`, then letters, digits, `_`.
pub fn valid_namespace(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= NAMESPACE_NAME_CHARS_MAX
}

fn namespace_ddl(statement: &str) -> Mapped {
    let words: Vec<String> = code_words(statement).collect();
    let create = words[0] == "CREATE";
    let guarded = words.get(2).is_some_and(|w| w == "IF");
    let skip = if !guarded {
        2
    } else if create {
        5
    } else {
        4
    };
    let Some(name) = name_after(statement, skip) else {
        return Mapped::Unsupported("a namespace statement names one namespace".into());
    };
    if !valid_namespace(&name) {
        return Mapped::Unsupported(format!("'{name}' is not a valid namespace name"));
    }
    if create {
        Mapped::CreateNamespace {
            name,
            if_not_exists: guarded,
        }
    } else {
        Mapped::DropNamespace {
            name,
            if_exists: guarded,
        }
    }
}

/// The `skip`th word-token after the first (0 = the first word), lower-cased, if it is a
/// bare name.
fn name_after(statement: &str, skip: usize) -> Option<String> {
    let toks = tokens(statement);
    let mut words = toks.iter().filter(|t| t.kind != Kind::Space);
    let tok = words.nth(skip)?;
    let rest: Vec<&Token> = words.collect();
    let trailing_ok = rest
        .iter()
        .all(|t| t.text == ";" || t.text.eq_ignore_ascii_case("CASCADE"));
    (tok.kind == Kind::Word && trailing_ok).then(|| tok.text.to_ascii_lowercase())
}

fn create_table(statement: &str, namespace: Option<&str>) -> Mapped {
    let toks = tokens(statement);
    let upper = |t: &Token| t.text.to_ascii_uppercase();
    // Everything after the column list's closing parenthesis is KalamDB's WITH options.
    let Some(open) = toks.iter().position(|t| t.text == "(") else {
        return Mapped::Unsupported("CREATE TABLE needs a column list".into());
    };
    let close = matching(&toks, open);
    let Some(close) = close else {
        return Mapped::Unsupported("the column list is not closed".into());
    };
    let options: String = toks[close + 1..].iter().map(|t| t.text.as_str()).collect();
    let options = options.to_ascii_uppercase().replace(' ', "");
    let prefixed = |word: &str| toks[..open].iter().any(|t| upper(t) == word);
    let typed = |name: &str| options.contains(&format!("TYPE='{name}'"));
    let table_kind = if prefixed("STREAM") || typed("STREAM") {
        TableKind::Stream
    } else if prefixed("USER") || typed("USER") {
        TableKind::User
    } else {
        TableKind::Shared
    };
    let access = match access_level_option(&options) {
        Ok(level) => (table_kind == TableKind::Shared).then(|| level.unwrap_or_default()),
        Err(reason) => return Mapped::Unsupported(reason),
    };
    let is_stream = table_kind == TableKind::Stream;
    let ttl_seconds = match ttl_option(&options) {
        Ok(Some(_)) if !is_stream => {
            return Mapped::Unsupported("TTL_SECONDS applies to STREAM tables only".into())
        }
        Ok(ttl) => ttl,
        Err(reason) => return Mapped::Unsupported(reason),
    };
    let head = qualify(&toks[..open], namespace);
    let Some(name) = created_name(&toks[..open], namespace) else {
        return Mapped::Unsupported("CREATE TABLE names its table".into());
    };
    // `CREATE USER TABLE` → `CREATE TABLE`; `CREATE STREAM TABLE` → `CREATE STREAM`.
    let head = head.trim_start();
    let after_create = head["CREATE".len()..].trim_start();
    let first = after_create
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let rest = match first.as_str() {
        "USER" | "SHARED" | "STREAM" => after_create[first.len()..].trim_start(),
        _ => after_create,
    };
    let rest = match rest.get(.."TABLE".len()) {
        Some(word) if word.eq_ignore_ascii_case("TABLE") => rest["TABLE".len()..].trim_start(),
        _ => rest,
    };
    let kind = if is_stream { "STREAM" } else { "TABLE" };
    let mut columns = String::new();
    let (body, defaults) = match take_defaults(&toks[open..=close]) {
        Ok(taken) => taken,
        Err(reason) => return Mapped::Unsupported(reason),
    };
    let body = body.as_slice();
    let names_owner = body.iter().any(|t| {
        matches!(t.kind, Kind::Word | Kind::Quoted) && bare(t).eq_ignore_ascii_case(OWNER_COLUMN)
    });
    if table_kind.is_per_user() && names_owner {
        return Mapped::Unsupported(format!(
            "'{OWNER_COLUMN}' is reserved in a USER or STREAM table: it holds each row's owner"
        ));
    }
    let mut i = 0;
    while i < body.len() {
        let t = &body[i];
        let up = upper(t);
        let next_word = body[i + 1..].iter().find(|t| t.kind != Kind::Space);
        if up == "NOT" && next_word.is_some_and(|n| n.text.eq_ignore_ascii_case("NULL")) {
            // ksqlDB columns are nullable; KalamDB's NOT NULL is a check the engine lacks.
            i = body[i + 1..]
                .iter()
                .position(|t| t.text.eq_ignore_ascii_case("NULL"))
                .map_or(body.len(), |p| i + 2 + p);
            continue;
        }
        if up == "PRIMARY" && is_stream {
            // A stream has a KEY, not a PRIMARY KEY.
            i = body[i + 1..]
                .iter()
                .position(|t| t.text.eq_ignore_ascii_case("KEY"))
                .map_or(body.len(), |p| i + 1 + p);
            continue;
        }
        // A type name follows its column's name: a word right after `(` or `,` is a name,
        // even one spelled like a type (`json TEXT`).
        let type_position = body[..i]
            .iter()
            .rev()
            .find(|t| t.kind != Kind::Space)
            .is_some_and(|prev| prev.text != "(" && prev.text != ",");
        match TYPE_NAMES.iter().find(|(k, _)| *k == up) {
            Some((_, engine)) if t.kind == Kind::Word && type_position => columns.push_str(engine),
            _ => columns.push_str(&t.text),
        }
        if i == 0 && table_kind.is_per_user() {
            // The owner leads the key; a key of two columns needs a JSON key.
            columns.push_str(&owner_column_definition(is_stream));
            columns.push_str(", ");
        }
        i += 1;
    }
    let topic = name.replace('\'', "''");
    let key_format = match table_kind {
        TableKind::User | TableKind::Stream => ", key_format='JSON'",
        TableKind::Shared => "",
    };
    // A STREAM table's rows past their TTL are never shown again: its topic keeps them
    // that long (RETENTION_MS), so the log frees them instead of growing for ever.
    let retention = ttl_seconds
        .map(|ttl| format!(", retention_ms={}", ttl.saturating_mul(1000)))
        .unwrap_or_default();
    Mapped::CreateTable {
        sql: format!(
            "CREATE {kind} {} {columns} WITH (kafka_topic='{topic}', value_format='JSON'{key_format}, partitions=1{retention});",
            rest.trim_end()
        ),
        table: name,
        kind: table_kind,
        defaults,
        access,
        ttl_seconds,
    }
}

/// `TTL_SECONDS=n` in a CREATE TABLE's options (upper-cased, blanks removed), if named.
fn ttl_option(options: &str) -> Result<Option<u64>, String> {
    let Some(value) = with_option(options, "TTL_SECONDS") else {
        return Ok(None);
    };
    let value = value.trim_matches('\'');
    match value.parse::<u64>() {
        Ok(ttl) if (1..=STREAM_TTL_SECONDS_MAX).contains(&ttl) => Ok(Some(ttl)),
        _ => Err(format!(
            "TTL_SECONDS is a whole number of seconds from 1 to {STREAM_TTL_SECONDS_MAX}, \
             not '{value}'"
        )),
    }
}

/// The source name a CREATE statement's head names, as the engine will store it.
fn created_name(head: &[Token], namespace: Option<&str>) -> Option<String> {
    let words: Vec<&Token> = head.iter().filter(|t| t.kind != Kind::Space).collect();
    let at = words
        .iter()
        .rposition(|t| t.kind == Kind::Word || t.kind == Kind::Quoted)?;
    let (name, _) = source_at(&words, at, namespace)?;
    Some(name)
}

/// Reads a (possibly qualified) name whose last part is `words[end]`: (engine name, the
/// index of its first part).
fn source_at(words: &[&Token], end: usize, namespace: Option<&str>) -> Option<(String, usize)> {
    let last = words[end];
    if end >= 2 && words[end - 1].text == "." && words[end - 2].kind == Kind::Word {
        return Some((source_name(&words[end - 2].text, &bare(last)), end - 2));
    }
    match namespace {
        Some(ns) if last.kind == Kind::Word => Some((source_name(ns, &last.text), end)),
        _ => Some((last.text.clone(), end)),
    }
}

/// Rewrites source names: `ns.t` → `` `ns.t` ``, and with a namespace, `t` → `` `ns.t` ``.
fn qualify(toks: &[Token], namespace: Option<&str>) -> String {
    let mut out = String::new();
    let mut expect_name = false;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.kind == Kind::Space {
            out.push_str(&t.text);
            i += 1;
            continue;
        }
        let up = t.text.to_ascii_uppercase();
        // `CREATE STREAM TABLE name`: the name follows the last source keyword.
        let prefix =
            NAME_PREFIX_WORDS.contains(&up.as_str()) || SOURCE_KEYWORDS.contains(&up.as_str());
        if expect_name && t.kind == Kind::Word && prefix {
            out.push_str(&t.text);
            i += 1;
            continue;
        }
        if expect_name && t.kind == Kind::Word {
            expect_name = false;
            // `ns . t` (spaces allowed around the dot, as SQL allows).
            let next = next_solid(toks, i + 1);
            let after = next.and_then(|n| next_solid(toks, n + 1));
            if let (Some(dot), Some(table)) = (next, after) {
                if toks[dot].text == "." && matches!(toks[table].kind, Kind::Word | Kind::Quoted) {
                    let name = source_name(&t.text, &bare(&toks[table]));
                    out.push_str(&quote(&name));
                    i = table + 1;
                    continue;
                }
            }
            match namespace {
                Some(ns) if !is_keyword_after_source(&up) => {
                    out.push_str(&quote(&source_name(ns, &t.text)))
                }
                _ => out.push_str(&t.text),
            }
            i += 1;
            continue;
        }
        expect_name = t.kind == Kind::Word && SOURCE_KEYWORDS.contains(&up.as_str());
        out.push_str(&t.text);
        i += 1;
    }
    out
}

/// Words that may follow a source keyword but are not a name (`INSERT INTO … VALUES`,
/// `DESCRIBE STREAMS`, `SHOW TABLES`).
fn is_keyword_after_source(up: &str) -> bool {
    matches!(
        up,
        "VALUES" | "SELECT" | "STREAMS" | "TABLES" | "FUNCTIONS" | "AS"
    )
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(sql: &str, ns: Option<&str>) -> String {
        match map_statement(sql, ns) {
            Mapped::Engine(s) | Mapped::CreateTable { sql: s, .. } => s,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn qualified_names_become_one_verbatim_source_name() {
        assert_eq!(
            engine("SELECT n.body FROM App.Notes n WHERE n.id = 1;", None),
            "SELECT n.body FROM `app.notes` n WHERE n.id = 1;"
        );
        assert_eq!(
            engine("INSERT INTO app.notes (id, body) VALUES (1, 'a.b');", None),
            "INSERT INTO `app.notes` (id, body) VALUES (1, 'a.b');"
        );
        assert_eq!(
            engine("SELECT * FROM notes;", Some("app")),
            "SELECT * FROM `app.notes`;"
        );
        assert_eq!(
            engine("SELECT * FROM pageviews;", None),
            "SELECT * FROM pageviews;"
        );
        assert_eq!(engine("SHOW TABLES;", Some("app")), "SHOW TABLES;");
    }

    #[test]
    fn create_table_maps_kinds_types_and_options() {
        assert_eq!(
            engine(
                "CREATE USER TABLE IF NOT EXISTS app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL) WITH (TYPE='USER')",
                None
            ),
            "CREATE TABLE IF NOT EXISTS `app.notes` (`_user` STRING PRIMARY KEY, id BIGINT PRIMARY KEY, body STRING ) \
             WITH (kafka_topic='app.notes', value_format='JSON', key_format='JSON', partitions=1);"
        );
        assert_eq!(
            engine("CREATE TABLE app.config (k TEXT PRIMARY KEY, v TEXT)", None),
            "CREATE TABLE `app.config` (k STRING PRIMARY KEY, v STRING) \
             WITH (kafka_topic='app.config', value_format='JSON', partitions=1);"
        );
        let kind = |sql: &str| match map_statement(sql, None) {
            Mapped::CreateTable { kind, .. } => kind,
            other => panic!("{sql}: {other:?}"),
        };
        assert_eq!(
            kind("CREATE TABLE a.t (id INT PRIMARY KEY)"),
            TableKind::Shared
        );
        assert_eq!(
            kind("CREATE USER TABLE a.t (id INT PRIMARY KEY)"),
            TableKind::User
        );
        assert_eq!(
            kind("CREATE TABLE a.t (id INT PRIMARY KEY) WITH (TYPE = 'USER')"),
            TableKind::User
        );
        assert_eq!(kind("CREATE STREAM TABLE a.t (id INT)"), TableKind::Stream);
        // A SHARED table has an access level, PRIVATE unless the options say otherwise.
        let access = |sql: &str| match map_statement(sql, None) {
            Mapped::CreateTable { access, .. } => access,
            other => panic!("{sql}: {other:?}"),
        };
        assert_eq!(
            access("CREATE TABLE a.t (id INT PRIMARY KEY)"),
            Some(AccessLevel::Private)
        );
        assert_eq!(
            access("CREATE TABLE a.t (id INT PRIMARY KEY) WITH (TYPE='SHARED', ACCESS_LEVEL = 'public')"),
            Some(AccessLevel::Public)
        );
        assert_eq!(access("CREATE USER TABLE a.t (id INT PRIMARY KEY)"), None);
        assert!(matches!(
            map_statement(
                "CREATE TABLE a.t (id INT PRIMARY KEY) WITH (ACCESS_LEVEL='x')",
                None
            ),
            Mapped::Unsupported(_)
        ));
        assert_eq!(
            map_statement(
                "ALTER TABLE Config SET ACCESS LEVEL restricted",
                Some("app")
            ),
            Mapped::SetAccessLevel {
                table: "app.config".into(),
                level: AccessLevel::Restricted
            }
        );
        // A column named like a type keeps its name; FILE is a file cell's STRUCT.
        assert_eq!(
            engine("CREATE TABLE a.docs (json TEXT PRIMARY KEY, f FILE)", None),
            format!(
                "CREATE TABLE `a.docs` (json STRING PRIMARY KEY, f {FILE_COLUMN_TYPE}) \
                 WITH (kafka_topic='a.docs', value_format='JSON', partitions=1);"
            )
        );
        assert!(matches!(
            map_statement(
                "CREATE USER TABLE a.t (`_USER` TEXT, id INT PRIMARY KEY)",
                None
            ),
            Mapped::Unsupported(_)
        ));
        assert_eq!(
            engine(
                "CREATE TABLE events (id BIGINT PRIMARY KEY, n INT) WITH (TYPE='STREAM', TTL_SECONDS=10);",
                Some("app")
            ),
            "CREATE STREAM `app.events` (`_user` STRING KEY, id BIGINT KEY, n INTEGER) \
             WITH (kafka_topic='app.events', value_format='JSON', key_format='JSON', partitions=1, \
             retention_ms=10000);"
        );
        assert!(matches!(
            map_statement(
                "CREATE STREAM TABLE a.t (id INT PRIMARY KEY, _user TEXT)",
                None
            ),
            Mapped::Unsupported(_)
        ));
        let ttl = |sql: &str| match map_statement(sql, Some("a")) {
            Mapped::CreateTable { ttl_seconds, .. } => Ok(ttl_seconds),
            Mapped::Unsupported(reason) => Err(reason),
            other => panic!("{sql}: {other:?}"),
        };
        assert_eq!(
            ttl("CREATE TABLE e (id INT) WITH (TYPE = 'STREAM', ttl_seconds = 30)"),
            Ok(Some(30))
        );
        assert_eq!(
            ttl("CREATE STREAM TABLE e (id INT) WITH (TTL_SECONDS='5')"),
            Ok(Some(5))
        );
        assert_eq!(ttl("CREATE STREAM TABLE e (id INT)"), Ok(None));
        for bad in [
            "CREATE STREAM TABLE e (id INT) WITH (TTL_SECONDS=0)",
            "CREATE STREAM TABLE e (id INT) WITH (TTL_SECONDS=-1)",
            "CREATE STREAM TABLE e (id INT) WITH (TTL_SECONDS=soon)",
            "CREATE STREAM TABLE e (id INT) WITH (TTL_SECONDS=99999999999999999999)",
            "CREATE USER TABLE e (id INT PRIMARY KEY) WITH (TTL_SECONDS=5)",
            "CREATE TABLE e (id INT PRIMARY KEY) WITH (TTL_SECONDS=5)",
        ] {
            assert!(ttl(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            map_statement(
                "CREATE TABLE a.b (id BIGINT PRIMARY KEY DEFAULT RANDOM())",
                None
            ),
            Mapped::Unsupported(_)
        ));
    }

    #[test]
    fn unterminated_quoted_names_do_not_panic() {
        for sql in [
            "SELECT * FROM a.'",
            "SELECT * FROM a.'é",
            "INSERT INTO a.\"",
            "CREATE TABLE '",
        ] {
            let _ = map_statement(sql, Some("ns"));
        }
        assert_eq!(engine("SELECT * FROM a.'é", None), "SELECT * FROM `a.é`");
        // A doubled quote inside a quoted name is one quote of the name, quoted once again.
        assert_eq!(
            engine("SELECT * FROM a.`b``c`", None),
            "SELECT * FROM `a.b``c`"
        );
    }

    #[test]
    fn namespace_statements_are_the_faces() {
        assert_eq!(
            map_statement("CREATE NAMESPACE IF NOT EXISTS App;", None),
            Mapped::CreateNamespace {
                name: "app".into(),
                if_not_exists: true
            }
        );
        assert_eq!(
            map_statement("DROP NAMESPACE app CASCADE", None),
            Mapped::DropNamespace {
                name: "app".into(),
                if_exists: false
            }
        );
        assert_eq!(
            map_statement("SHOW NAMESPACES", None),
            Mapped::ShowNamespaces
        );
        assert_eq!(map_statement("USE app;", None), Mapped::Use("app".into()));
        assert!(matches!(
            map_statement("CREATE NAMESPACE `../x`", None),
            Mapped::Unsupported(_)
        ));
    }

    #[test]
    fn topic_statements_are_the_faces() {
        assert_eq!(
            map_statement("CREATE TOPIC events PARTITIONS 2;", Some("app")),
            Mapped::Topic(TopicStatement::Create {
                topic: "app.events".into(),
                partitions: 2
            })
        );
        assert!(matches!(
            map_statement("ACK app.events UPTO OFFSET 1", None),
            Mapped::Unsupported(reason) if reason.contains("GROUP")
        ));
        // A table named like a topic keyword is still a table.
        assert_eq!(
            engine("SELECT * FROM app.consume;", None),
            "SELECT * FROM `app.consume`;"
        );
    }

    /// Column defaults through the mapping (`column_defaults`): what CREATE TABLE hands the
    /// face, and inserts given the columns they leave out.
    mod column_defaults_cases {
        use super::super::*;
        use crate::kalamdb::column_defaults::{with_defaults, DefaultValue};
        use proptest::prelude::*;

        proptest! {
            /// Whatever a client sends, mapping a statement and adding defaults to it neither
            /// panics nor loses the statement's text when nothing applies.
            #[test]
            fn any_statement_maps_without_panicking(
                head in prop::sample::select(vec!["INSERT INTO ", "CREATE TABLE ", "CREATE USER TABLE "]),
                rest in "[ -~é']{0,60}",
            ) {
                let sql = format!("{head}{rest}");
                let _ = map_statement(&sql, Some("ns"));
                let all = |_: &str| {
                    Some(vec![ColumnDefault {
                        column: "ID".into(),
                        ty: "BIGINT".into(),
                        value: DefaultValue::Literal("1".into()),
                    }])
                };
                let _ = with_defaults(&sql, Some("ns"), &all, &mut |_| "1".into());
                let none = |_: &str| None;
                prop_assert_eq!(with_defaults(&sql, None, &none, &mut |_| "1".into()), sql);
            }
        }

        fn created(sql: &str) -> (String, Vec<ColumnDefault>) {
            match map_statement(sql, None) {
                Mapped::CreateTable { sql, defaults, .. } => (sql, defaults),
                other => panic!("{sql}: {other:?}"),
            }
        }

        #[test]
        fn create_table_hands_its_defaults_to_the_face() {
            let (sql, defaults) = created(
                "CREATE TABLE app.notes (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT NOT NULL, \
                 who TEXT DEFAULT CURRENT_USER(), n INT DEFAULT -1, tag TEXT DEFAULT 'it''s', at TIMESTAMP DEFAULT NOW()) WITH (TYPE='USER')",
            );
            assert_eq!(
                sql,
                "CREATE TABLE `app.notes` (`_user` STRING PRIMARY KEY, id BIGINT PRIMARY KEY, body STRING , \
                 who STRING, n INTEGER, tag STRING, at TIMESTAMP) \
                 WITH (kafka_topic='app.notes', value_format='JSON', key_format='JSON', partitions=1);"
            );
            let got: Vec<(&str, &str, &DefaultValue)> = defaults
                .iter()
                .map(|d| (d.column.as_str(), d.ty.as_str(), &d.value))
                .collect();
            assert_eq!(
                got,
                [
                    ("ID", "BIGINT", &DefaultValue::SnowflakeId),
                    ("WHO", "TEXT", &DefaultValue::CurrentUser),
                    ("N", "INT", &DefaultValue::Literal("-1".into())),
                    ("TAG", "TEXT", &DefaultValue::Literal("'it''s'".into())),
                    ("AT", "TIMESTAMP", &DefaultValue::Now),
                ]
            );
        }

        #[test]
        fn unsupported_defaults_are_refused() {
            assert!(matches!(
                map_statement("CREATE TABLE a.b (id BIGINT PRIMARY KEY DEFAULT RANDOM())", None),
                Mapped::Unsupported(m) if m.contains("DEFAULT RANDOM()")
            ));
        }

        #[test]
        fn inserts_get_the_columns_they_leave_out() {
            let defaults = |table: &str| {
                (table == "app.notes").then(|| {
                    vec![
                        ColumnDefault {
                            column: "ID".into(),
                            ty: "BIGINT".into(),
                            value: DefaultValue::SnowflakeId,
                        },
                        ColumnDefault {
                            column: "WHO".into(),
                            ty: "TEXT".into(),
                            value: DefaultValue::CurrentUser,
                        },
                    ]
                })
            };
            let mut n = 0;
            let mut value = |d: &ColumnDefault| {
                n += 1;
                match d.value {
                    DefaultValue::SnowflakeId => format!("{n}"),
                    _ => "'alice'".into(),
                }
            };
            assert_eq!(
                with_defaults(
                    "INSERT INTO app.notes (body) VALUES ('hi');",
                    None,
                    &defaults,
                    &mut value
                ),
                "INSERT INTO app.notes (body, `ID`, `WHO`) VALUES ('hi', 1, 'alice');"
            );
            assert_eq!(
                with_defaults(
                    "insert into notes (ID, body) values (5, 'x')",
                    Some("app"),
                    &defaults,
                    &mut value
                ),
                "insert into notes (ID, body, `WHO`) values (5, 'x', 'alice')",
                "a column given keeps its value"
            );
            for untouched in [
                "INSERT INTO other.t (a) VALUES (1)",
                "INSERT INTO app.notes VALUES (1, 'x', 'y')",
                "SELECT * FROM app.notes",
            ] {
                assert_eq!(
                    with_defaults(untouched, None, &defaults, &mut value),
                    untouched
                );
            }
        }
    }
}
