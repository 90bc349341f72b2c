//! KalamDB's user statements, answered by the face against its user store:
//!
//! ```text
//! CREATE USER name WITH PASSWORD 'p' ROLE role [EMAIL 'e']
//! ALTER USER name SET PASSWORD 'p' | SET ROLE role | SET EMAIL 'e'
//! DROP USER [IF EXISTS] name
//! ```
//!
//! Names may be bare, `'single'`- or `"double"`-quoted. Roles take KalamDB's spellings and
//! aliases (`admin` is `dba`; `developer`, `analyst` are `service`; `viewer`, `readonly`
//! are `user`). `CREATE USER TABLE …` is a table, not a user: the dialect tells them apart.

/// One user statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserStatement {
    Create {
        name: String,
        password: String,
        role: String,
        email: Option<String>,
    },
    Alter {
        name: String,
        change: UserChange,
    },
    Drop {
        name: String,
        if_exists: bool,
    },
}

/// What `ALTER USER` changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    Password(String),
    Role(String),
    Email(String),
}

use super::sql_tokens::{quoted_text, tokens, Kind};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
}

/// Parses a user statement: `None` when `sql` is not one, `Some(Err(reason))` when it is
/// one written wrong.
pub fn parse_user_statement(sql: &str) -> Option<Result<UserStatement, String>> {
    let tokens = match tokenize(sql) {
        Ok(t) => t,
        Err(e) => return is_user_statement_start(sql).then_some(Err(e)),
    };
    let keyword = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => w.to_ascii_uppercase(),
        _ => String::new(),
    };
    let parsed = match (keyword(0).as_str(), keyword(1).as_str()) {
        ("CREATE", "USER") if keyword(2) != "TABLE" => create(&tokens[2..]),
        ("ALTER", "USER") => alter(&tokens[2..]),
        ("DROP", "USER") => drop_user(&tokens[2..]),
        _ => return None,
    };
    Some(parsed)
}

fn is_user_statement_start(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(3)
        .map(str::to_ascii_uppercase)
        .collect();
    matches!(
        words.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
        ["CREATE", "USER", third] if *third != "TABLE"
    ) || matches!(
        words
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["ALTER" | "DROP", "USER", ..]
    )
}

const CREATE_SYNTAX: &str = "CREATE USER name WITH PASSWORD 'password' ROLE role [EMAIL 'email']";

fn create(tokens: &[Token]) -> Result<UserStatement, String> {
    let mut t = Cursor { tokens, at: 0 };
    let name = t
        .name()
        .ok_or_else(|| format!("expected a user name: {CREATE_SYNTAX}"))?;
    t.keyword("WITH", CREATE_SYNTAX)?;
    t.keyword("PASSWORD", CREATE_SYNTAX)?;
    let password = t
        .quoted()
        .ok_or_else(|| format!("expected a quoted password: {CREATE_SYNTAX}"))?;
    t.keyword("ROLE", CREATE_SYNTAX)?;
    let role = t.role()?;
    let mut email = None;
    if t.peek_keyword("EMAIL") {
        t.at += 1;
        email = Some(
            t.quoted()
                .ok_or_else(|| format!("expected a quoted email: {CREATE_SYNTAX}"))?,
        );
    }
    t.end(CREATE_SYNTAX)?;
    Ok(UserStatement::Create {
        name,
        password,
        role,
        email,
    })
}

const ALTER_SYNTAX: &str =
    "ALTER USER name SET PASSWORD 'password' | SET ROLE role | SET EMAIL 'email'";

fn alter(tokens: &[Token]) -> Result<UserStatement, String> {
    let mut t = Cursor { tokens, at: 0 };
    let name = t
        .name()
        .ok_or_else(|| format!("expected a user name: {ALTER_SYNTAX}"))?;
    t.keyword("SET", ALTER_SYNTAX)?;
    let change = if t.peek_keyword("PASSWORD") {
        t.at += 1;
        UserChange::Password(
            t.quoted()
                .ok_or_else(|| format!("expected a quoted password: {ALTER_SYNTAX}"))?,
        )
    } else if t.peek_keyword("ROLE") {
        t.at += 1;
        UserChange::Role(t.role()?)
    } else if t.peek_keyword("EMAIL") {
        t.at += 1;
        UserChange::Email(
            t.quoted()
                .ok_or_else(|| format!("expected a quoted email: {ALTER_SYNTAX}"))?,
        )
    } else {
        return Err(format!(
            "expected PASSWORD, ROLE or EMAIL after SET: {ALTER_SYNTAX}"
        ));
    };
    t.end(ALTER_SYNTAX)?;
    Ok(UserStatement::Alter { name, change })
}

const DROP_SYNTAX: &str = "DROP USER [IF EXISTS] name";

fn drop_user(tokens: &[Token]) -> Result<UserStatement, String> {
    let mut t = Cursor { tokens, at: 0 };
    let if_exists = t.peek_keyword("IF");
    if if_exists {
        t.at += 1;
        t.keyword("EXISTS", DROP_SYNTAX)?;
    }
    let name = t
        .name()
        .ok_or_else(|| format!("expected a user name: {DROP_SYNTAX}"))?;
    t.end(DROP_SYNTAX)?;
    Ok(UserStatement::Drop { name, if_exists })
}

/// KalamDB's role name for `spelling` (its aliases included), lower-case.
fn role_name(spelling: &str) -> Option<&'static str> {
    match spelling.to_ascii_lowercase().as_str() {
        "dba" | "admin" => Some("dba"),
        "service" | "developer" | "analyst" => Some("service"),
        "user" | "viewer" | "readonly" => Some("user"),
        "system" => Some("system"),
        _ => None,
    }
}

struct Cursor<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Cursor<'_> {
    fn name(&mut self) -> Option<String> {
        let name = match self.tokens.get(self.at)? {
            Token::Word(w) | Token::Quoted(w) => w.clone(),
        };
        self.at += 1;
        Some(name)
    }

    fn quoted(&mut self) -> Option<String> {
        match self.tokens.get(self.at)? {
            Token::Quoted(s) => {
                self.at += 1;
                Some(s.clone())
            }
            Token::Word(_) => None,
        }
    }

    fn role(&mut self) -> Result<String, String> {
        let spelling = self.name().ok_or("expected a role after ROLE")?;
        role_name(&spelling).map(str::to_string).ok_or_else(|| {
            format!(
                "Invalid role '{spelling}': valid roles are dba, admin, developer, analyst, \
                 service, viewer, readonly, user, system"
            )
        })
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn keyword(&mut self, keyword: &str, syntax: &str) -> Result<(), String> {
        if !self.peek_keyword(keyword) {
            return Err(format!("expected {keyword}: {syntax}"));
        }
        self.at += 1;
        Ok(())
    }

    fn end(&self, syntax: &str) -> Result<(), String> {
        match self.tokens.get(self.at) {
            None => Ok(()),
            Some(_) => Err(format!("unexpected text after the statement: {syntax}")),
        }
    }
}

/// The statement's tokens (`sql_tokens`): words and symbols as words, quoted runs as their
/// text; a trailing `;` ends the statement, any other is a second statement.
fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let toks = tokens(sql.trim().trim_end_matches(';'));
    let mut out = Vec::with_capacity(toks.len());
    for t in toks.iter().filter(|t| t.kind != Kind::Space) {
        match t.kind {
            Kind::Quoted => {
                out.push(Token::Quoted(
                    quoted_text(t).ok_or("unterminated quoted text")?,
                ));
            }
            _ if t.text == ";" => return Err("one statement at a time".into()),
            _ => out.push(Token::Word(t.text.clone())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text: no panic; only text starting with a user statement's words is one,
        /// and a parsed statement's name, password and email round-trip through quoting.
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in ".{0,80}") {
            let _ = parse_user_statement(&text);
            let prefixed = format!("SELECT {text}");
            prop_assert_eq!(parse_user_statement(&prefixed), None);
        }

        #[test]
        fn quoted_values_round_trip(name in "[^\\x00]{1,20}", password in ".{1,20}") {
            let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
            let sql = format!(
                "CREATE USER {} WITH PASSWORD {} ROLE user",
                quote(&name),
                quote(&password)
            );
            prop_assert_eq!(
                parse_user_statement(&sql),
                Some(Ok(UserStatement::Create {
                    name,
                    password,
                    role: "user".into(),
                    email: None,
                }))
            );
        }
    }

    fn parse(sql: &str) -> Result<UserStatement, String> {
        parse_user_statement(sql).expect("a user statement")
    }

    #[test]
    fn the_three_statements_and_their_spellings() {
        assert_eq!(
            parse("CREATE USER 'alice' WITH PASSWORD 'Secret123!' ROLE user;"),
            Ok(UserStatement::Create {
                name: "alice".into(),
                password: "Secret123!".into(),
                role: "user".into(),
                email: None,
            })
        );
        assert_eq!(
            parse("create user bob with password 'it''s' role Admin email 'b@x.io'"),
            Ok(UserStatement::Create {
                name: "bob".into(),
                password: "it's".into(),
                role: "dba".into(),
                email: Some("b@x.io".into()),
            })
        );
        assert_eq!(
            parse("ALTER USER \"bob\" SET ROLE developer"),
            Ok(UserStatement::Alter {
                name: "bob".into(),
                change: UserChange::Role("service".into()),
            })
        );
        assert_eq!(
            parse("ALTER USER bob SET PASSWORD 'n3w'"),
            Ok(UserStatement::Alter {
                name: "bob".into(),
                change: UserChange::Password("n3w".into()),
            })
        );
        assert_eq!(
            parse("DROP USER IF EXISTS 'bob';"),
            Ok(UserStatement::Drop {
                name: "bob".into(),
                if_exists: true,
            })
        );
    }

    #[test]
    fn tables_and_other_statements_are_not_user_statements() {
        for sql in [
            "CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY)",
            "CREATE TABLE users (id INT PRIMARY KEY)",
            "SELECT * FROM users",
            "DROP TABLE users",
        ] {
            assert_eq!(parse_user_statement(sql), None, "{sql}");
        }
    }

    #[test]
    fn mistakes_say_what_was_expected() {
        for (sql, expect) in [
            ("CREATE USER alice PASSWORD 'x' ROLE user", "expected WITH"),
            (
                "CREATE USER alice WITH PASSWORD x ROLE user",
                "quoted password",
            ),
            (
                "CREATE USER alice WITH PASSWORD 'x' ROLE god",
                "Invalid role 'god'",
            ),
            ("CREATE USER alice WITH PASSWORD 'x'", "expected ROLE"),
            (
                "CREATE USER alice WITH PASSWORD 'x' ROLE user extra",
                "unexpected text",
            ),
            ("ALTER USER alice SET NAME 'x'", "PASSWORD, ROLE or EMAIL"),
            ("DROP USER", "expected a user name"),
            ("CREATE USER 'alice WITH PASSWORD", "unterminated"),
            ("DROP USER a; DROP USER b", "one statement"),
        ] {
            let err = parse(sql).expect_err(sql);
            assert!(err.contains(expect), "{sql}: {err}");
        }
    }
}
