//! What one complete statement asks for: something the shell does itself (as ksqlDB's CLI
//! does: `SET`, `DEFINE`, `RUN SCRIPT`, …), a query for `/query-stream`, or statements for
//! `/ksql`.

use super::splitter::code_words;

/// One statement, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `SELECT … EMIT CHANGES`: rows stream until LIMIT, Ctrl-C or the server ends it.
    PushQuery,
    /// `SELECT …` without `EMIT`: the rows stored now, as one table.
    PullQuery,
    /// `PRINT 'topic' …`: raw records, as text lines.
    Print,
    /// `SET 'property' = 'value'`: kept by the shell, sent with every later statement.
    Set {
        property: String,
        value: String,
    },
    /// `UNSET 'property'`.
    Unset {
        property: String,
    },
    /// `DEFINE name = 'value'`: a session variable, sent as `sessionVariables`.
    Define {
        name: String,
        value: String,
    },
    /// `UNDEFINE name`.
    Undefine {
        name: String,
    },
    /// `SHOW VARIABLES` / `LIST VARIABLES`.
    ShowVariables,
    /// `RUN SCRIPT 'path'`: the file's statements, run as if typed.
    RunScript {
        path: String,
    },
    Help,
    Exit,
    /// Anything else goes to `/ksql` as written.
    Ksql,
}

/// A shell command that was recognised by its first words but is malformed; the text is the
/// usage line to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Usage(pub &'static str);

const SET_USAGE: Usage = Usage("Syntax: SET '<property>' = '<value>';");
const UNSET_USAGE: Usage = Usage("Syntax: UNSET '<property>';");
const DEFINE_USAGE: Usage = Usage(
    "Syntax: DEFINE <name> = '<value>'; (a name starts with a letter or _ and holds letters, digits and _)",
);
const UNDEFINE_USAGE: Usage = Usage("Syntax: UNDEFINE <name>;");
const RUN_SCRIPT_USAGE: Usage = Usage("Syntax: RUN SCRIPT '<path-to-file>';");

impl Command {
    /// Classifies one statement (with or without its trailing `;`).
    pub(crate) fn parse(statement: &str) -> Result<Command, Usage> {
        let mut words = code_words(statement);
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        let body = strip_terminator(statement);
        match (first.as_str(), second.as_str()) {
            ("SELECT", _) => {
                // `EMIT` is reserved in ksqlDB, so as a code word it can only be the clause.
                let emits = second == "EMIT" || code_words(statement).any(|w| w == "EMIT");
                Ok(if emits {
                    Command::PushQuery
                } else {
                    Command::PullQuery
                })
            }
            ("PRINT", _) => Ok(Command::Print),
            ("SET", _) => {
                let mut p = Parser::after_words(body, 1);
                let property = p.quoted().ok_or(SET_USAGE)?;
                p.symbol('=').ok_or(SET_USAGE)?;
                let value = p.quoted().ok_or(SET_USAGE)?;
                p.end().ok_or(SET_USAGE)?;
                Ok(Command::Set { property, value })
            }
            ("UNSET", _) => {
                let mut p = Parser::after_words(body, 1);
                let property = p.quoted().ok_or(UNSET_USAGE)?;
                p.end().ok_or(UNSET_USAGE)?;
                Ok(Command::Unset { property })
            }
            ("DEFINE", _) => {
                let mut p = Parser::after_words(body, 1);
                let name = p.variable_name().ok_or(DEFINE_USAGE)?;
                p.symbol('=').ok_or(DEFINE_USAGE)?;
                let value = p.quoted().ok_or(DEFINE_USAGE)?;
                p.end().ok_or(DEFINE_USAGE)?;
                Ok(Command::Define { name, value })
            }
            ("UNDEFINE", _) => {
                let mut p = Parser::after_words(body, 1);
                let name = p.variable_name().ok_or(UNDEFINE_USAGE)?;
                p.end().ok_or(UNDEFINE_USAGE)?;
                Ok(Command::Undefine { name })
            }
            ("SHOW" | "LIST", "VARIABLES") if words.next().is_none() => Ok(Command::ShowVariables),
            ("RUN", "SCRIPT") => {
                let mut p = Parser::after_words(body, 2);
                let path = p.quoted().ok_or(RUN_SCRIPT_USAGE)?;
                p.end().ok_or(RUN_SCRIPT_USAGE)?;
                Ok(Command::RunScript { path })
            }
            ("HELP", "") => Ok(Command::Help),
            ("EXIT" | "QUIT", "") => Ok(Command::Exit),
            _ => Ok(Command::Ksql),
        }
    }

    /// Whether the statement goes to `/ksql` (and so may share a request with its neighbours).
    pub(crate) fn is_ksql(&self) -> bool {
        matches!(self, Command::Ksql)
    }
}

/// Whether a line typed at the primary prompt is one of the commands ksqlDB's CLI runs
/// without a `;` (`help`, `exit`, `quit`, `run script '…'`).
pub(crate) fn runs_without_terminator(line: &str) -> bool {
    let mut words = code_words(line);
    match (words.next().as_deref(), words.next().as_deref()) {
        (Some("HELP" | "EXIT" | "QUIT"), None) => true,
        (Some("RUN"), Some("SCRIPT")) => Command::parse(line).is_ok(),
        _ => false,
    }
}

fn strip_terminator(statement: &str) -> &str {
    let trimmed = statement.trim_end();
    trimmed.strip_suffix(';').unwrap_or(trimmed)
}

/// A cursor over a shell command's arguments: quoted strings, names and symbols.
struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    /// Starts after the first `n` words (the command's keywords).
    fn after_words(text: &'a str, n: usize) -> Parser<'a> {
        let mut rest = text.trim_start();
        for _ in 0..n {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            rest = rest[end..].trim_start();
        }
        Parser { rest }
    }

    /// A `'…'` string with `''` for a quote; the value without its quotes.
    fn quoted(&mut self) -> Option<String> {
        let mut chars = self.rest.char_indices();
        if chars.next()?.1 != '\'' {
            return None;
        }
        let mut value = String::new();
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                if c == '\'' {
                    value.push('\'');
                    escaped = false;
                    continue;
                }
                self.rest = self.rest[i..].trim_start();
                return Some(value);
            }
            if c == '\'' {
                escaped = true;
            } else {
                value.push(c);
            }
        }
        // The string closed at the very end of the text.
        escaped.then(|| {
            self.rest = "";
            value
        })
    }

    /// A variable name: a letter or `_`, then letters, digits or `_` (ksqlDB's rule).
    fn variable_name(&mut self) -> Option<String> {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let name = &self.rest[..end];
        let first = name.chars().next()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        self.rest = self.rest[end..].trim_start();
        Some(name.to_string())
    }

    fn symbol(&mut self, symbol: char) -> Option<()> {
        self.rest = self.rest.strip_prefix(symbol)?.trim_start();
        Some(())
    }

    fn end(&self) -> Option<()> {
        super::splitter::is_blank(self.rest).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_push_with_emit_and_pull_without() {
        assert_eq!(
            Command::parse("SELECT * FROM s EMIT CHANGES LIMIT 2;"),
            Ok(Command::PushQuery)
        );
        assert_eq!(
            Command::parse("select *\nfrom s\nemit changes;"),
            Ok(Command::PushQuery)
        );
        assert_eq!(
            Command::parse("SELECT 'EMIT CHANGES' FROM s;"),
            Ok(Command::PullQuery)
        );
        assert_eq!(
            Command::parse("PRINT 's' FROM BEGINNING;"),
            Ok(Command::Print)
        );
    }

    #[test]
    fn set_and_unset_take_quoted_strings() {
        assert_eq!(
            Command::parse("SET 'auto.offset.reset' = 'earliest';"),
            Ok(Command::Set {
                property: "auto.offset.reset".into(),
                value: "earliest".into()
            })
        );
        assert_eq!(
            Command::parse("set 'a'='it''s'"),
            Ok(Command::Set {
                property: "a".into(),
                value: "it's".into()
            })
        );
        assert_eq!(
            Command::parse("UNSET 'a';"),
            Ok(Command::Unset {
                property: "a".into()
            })
        );
        assert_eq!(Command::parse("SET a = 'b';"), Err(SET_USAGE));
        assert_eq!(Command::parse("SET 'a' = 'b' extra;"), Err(SET_USAGE));
        assert_eq!(Command::parse("UNSET 'a"), Err(UNSET_USAGE));
    }

    #[test]
    fn define_names_follow_ksqldb_rules() {
        assert_eq!(
            Command::parse("DEFINE topicName = '''my_topic''';"),
            Ok(Command::Define {
                name: "topicName".into(),
                value: "'my_topic'".into()
            })
        );
        assert_eq!(Command::parse("DEFINE 1x = 'a';"), Err(DEFINE_USAGE));
        assert_eq!(Command::parse("DEFINE x = a;"), Err(DEFINE_USAGE));
        assert_eq!(
            Command::parse("UNDEFINE _x1;"),
            Ok(Command::Undefine { name: "_x1".into() })
        );
        assert_eq!(
            Command::parse("SHOW VARIABLES;"),
            Ok(Command::ShowVariables)
        );
        assert_eq!(Command::parse("list variables"), Ok(Command::ShowVariables));
    }

    #[test]
    fn shell_commands_and_the_rest() {
        assert_eq!(
            Command::parse("RUN SCRIPT '/tmp/a b.sql';"),
            Ok(Command::RunScript {
                path: "/tmp/a b.sql".into()
            })
        );
        assert_eq!(Command::parse("run script x.sql"), Err(RUN_SCRIPT_USAGE));
        assert_eq!(Command::parse("exit"), Ok(Command::Exit));
        assert_eq!(Command::parse("QUIT;"), Ok(Command::Exit));
        assert_eq!(Command::parse("help;"), Ok(Command::Help));
        assert_eq!(Command::parse("SHOW STREAMS;"), Ok(Command::Ksql));
        assert_eq!(
            Command::parse("-- comment\nCREATE STREAM x (a INT) WITH (kafka_topic='x');"),
            Ok(Command::Ksql)
        );
    }

    #[test]
    fn some_commands_run_without_a_semicolon() {
        assert!(runs_without_terminator("help"));
        assert!(runs_without_terminator(" EXIT "));
        assert!(runs_without_terminator("run script 'a.sql'"));
        assert!(!runs_without_terminator("run script"));
        assert!(!runs_without_terminator("SHOW STREAMS"));
    }
}
