//! The statements other than queries: SHOW/LIST, DESCRIBE, EXPLAIN, PRINT, CREATE, INSERT,
//! DROP and their parts (table elements, WITH properties).

use super::{Expect, PResult, Parser, EXPRESSION_DEPTH_MAX, STATEMENT_START};
use crate::error::EngineError;
use crate::sql::ast::*;
use crate::sql::lexer::{Sym, Tok};

impl Parser<'_> {
    pub(super) fn extended(&mut self) -> bool {
        self.eat_kw("EXTENDED")
    }

    pub(super) fn show(&mut self, start: usize) -> PResult<Statement> {
        let statement = if self.eat_kw("PROPERTIES") {
            Statement::ListProperties
        } else if self.eat_kw("ALL") {
            self.expect_kw("TOPICS")?;
            Statement::ListTopics {
                all: true,
                extended: self.extended(),
            }
        } else if self.eat_kw("TOPICS") {
            Statement::ListTopics {
                all: false,
                extended: self.extended(),
            }
        } else if self.eat_kw("STREAMS") {
            Statement::ListSources {
                kind: SourceKind::Stream,
                extended: self.extended(),
            }
        } else if self.eat_kw("TABLES") {
            Statement::ListSources {
                kind: SourceKind::Table,
                extended: self.extended(),
            }
        } else if self.eat_kw("QUERIES") {
            Statement::ListQueries {
                extended: self.extended(),
            }
        } else if self.eat_kw("FUNCTIONS") {
            Statement::ListFunctions
        } else if self.eat_kw("TYPES") {
            Statement::ListTypes
        } else if self.eat_kw("VARIABLES") {
            Statement::ListVariables
        } else if self.is_kw("CONNECTORS") || self.is_kw("CONNECTOR") {
            return Err(connectors_unsupported());
        } else {
            return Err(self.no_viable_alternative(start));
        };
        Ok(statement)
    }

    pub(super) fn describe(&mut self) -> PResult<Statement> {
        // STREAMS is reserved; TABLES and FUNCTION are not, so they mean a listing or a
        // function only when what follows fits that form (`DESCRIBE FUNCTION;` names a source).
        if self.eat_kw("STREAMS") {
            return Ok(Statement::DescribeSources {
                kind: SourceKind::Stream,
                extended: self.extended(),
            });
        }
        if self.is_kw("TABLES") && (self.is_kw_at(1, "EXTENDED") || self.ends_statement_at(1)) {
            self.pos += 1;
            return Ok(Statement::DescribeSources {
                kind: SourceKind::Table,
                extended: self.extended(),
            });
        }
        if self.is_kw("FUNCTION") && self.is_ident_at(1) {
            self.pos += 1;
            return Ok(Statement::DescribeFunction {
                name: self.ident()?,
            });
        }
        if self.is_kw("CONNECTOR") && self.is_ident_at(1) {
            return Err(connectors_unsupported());
        }
        // The docs write `DESCRIBE [EXTENDED] name`; the grammar also takes `name EXTENDED`.
        // EXTENDED is non-reserved, so it is a prefix only when a name follows it.
        let prefixed = self.is_kw("EXTENDED") && self.is_ident_at(1);
        if prefixed {
            self.pos += 1;
        }
        let name = self.ident()?;
        let extended = self.extended() || prefixed;
        Ok(Statement::Describe { name, extended })
    }

    pub(super) fn ends_statement_at(&self, n: usize) -> bool {
        matches!(self.peek_nth(n).tok, Tok::Eof | Tok::Sym(Sym::Semicolon))
    }

    pub(super) fn explain(&mut self) -> PResult<Statement> {
        let is_statement = STATEMENT_START.iter().any(|kw| self.is_kw(kw))
            && !(self.is_ident_at(0) && self.ends_statement_at(1));
        if is_statement {
            let inner = self.explained_statement()?;
            Ok(Statement::Explain {
                target: ExplainTarget::Statement(Box::new(inner)),
            })
        } else {
            Ok(Statement::Explain {
                target: ExplainTarget::Query(self.ident()?),
            })
        }
    }

    /// The statement after EXPLAIN, one nesting level deeper: `EXPLAIN EXPLAIN …` recurses,
    /// and ten thousand of them overflowed the stack.
    fn explained_statement(&mut self) -> PResult<Statement> {
        if self.depth >= EXPRESSION_DEPTH_MAX {
            let token = self.peek().clone();
            return Err(self.error_at(
                &token,
                &format!("EXPLAIN nesting exceeds the maximum depth of {EXPRESSION_DEPTH_MAX}"),
            ));
        }
        self.depth += 1;
        let inner = self.statement();
        self.depth -= 1;
        inner
    }

    pub(super) fn print(&mut self) -> PResult<Statement> {
        // Kafka topic names are case-sensitive, so PRINT keeps an unquoted name as written.
        let topic = match self.peek().tok.clone() {
            Tok::Str(s) | Tok::Quoted(s) => {
                self.pos += 1;
                s
            }
            Tok::Word(w) | Tok::DigitIdent(w) if self.is_ident_at(0) => {
                self.pos += 1;
                w
            }
            _ => return Err(self.mismatch(&[Expect::Ident, Expect::Str])),
        };
        let from_beginning = if self.eat_kw("FROM") {
            self.expect_kw("BEGINNING")?;
            true
        } else {
            false
        };
        let interval = if self.eat_kw("INTERVAL") || self.eat_kw("SAMPLE") {
            Some(self.unsigned_number()?)
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") {
            Some(self.unsigned_number()?)
        } else {
            None
        };
        Ok(Statement::Print {
            topic,
            from_beginning,
            interval,
            limit,
        })
    }

    pub(super) fn if_not_exists(&mut self) -> PResult<bool> {
        // IF is non-reserved, so only `IF NOT` starts the clause (`CREATE STREAM IF (…)`
        // would name a stream IF).
        if self.is_kw("IF") && self.is_kw_at(1, "NOT") {
            self.pos += 2;
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) fn if_exists(&mut self) -> PResult<bool> {
        if self.is_kw("IF") && self.is_kw_at(1, "EXISTS") {
            self.pos += 2;
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) fn source_kind(&mut self, start: usize) -> PResult<SourceKind> {
        if self.eat_kw("STREAM") {
            Ok(SourceKind::Stream)
        } else if self.eat_kw("TABLE") {
            Ok(SourceKind::Table)
        } else {
            Err(self.no_viable_alternative(start))
        }
    }

    pub(super) fn create(&mut self, start: usize) -> PResult<Statement> {
        if self.eat_kw("TYPE") {
            let if_not_exists = self.if_not_exists()?;
            let name = self.ident()?;
            self.expect_kw("AS")?;
            let ty = self.parse_type()?;
            return Ok(Statement::CreateType {
                name,
                ty,
                if_not_exists,
            });
        }
        if (self.is_kw("SINK") || self.is_kw("SOURCE")) && self.is_kw_at(1, "CONNECTOR") {
            return Err(connectors_unsupported());
        }
        let or_replace = if self.eat_kw("OR") {
            self.expect_kw("REPLACE")?;
            true
        } else {
            false
        };
        let is_source = self.eat_kw("SOURCE");
        let kind = self.source_kind(start)?;
        let if_not_exists = self.if_not_exists()?;
        let name = self.ident()?;
        let elements = if self.is_sym(Sym::LParen) {
            Some(self.table_elements()?)
        } else {
            None
        };
        let properties = if self.eat_kw("WITH") {
            self.properties()?
        } else {
            Vec::new()
        };
        if elements.is_none() && !is_source && self.eat_kw("AS") {
            let query = Box::new(self.query()?);
            return Ok(Statement::CreateAsSelect(CreateAsSelect {
                kind,
                or_replace,
                if_not_exists,
                name,
                properties,
                query,
            }));
        }
        Ok(Statement::CreateSource(CreateSource {
            kind,
            or_replace,
            if_not_exists,
            is_source,
            name,
            elements: elements.unwrap_or_default(),
            properties,
        }))
    }

    pub(super) fn table_elements(&mut self) -> PResult<Vec<TableElement>> {
        self.expect_sym(Sym::LParen)?;
        let mut elements = Vec::new();
        loop {
            let name = self.ident()?;
            let ty = self.parse_type()?;
            let constraint = if self.eat_kw("PRIMARY") {
                self.expect_kw("KEY")?;
                ColumnConstraint::PrimaryKey
            } else if self.eat_kw("KEY") {
                ColumnConstraint::Key
            } else if self.eat_kw("HEADERS") {
                ColumnConstraint::Headers
            } else if self.eat_kw("HEADER") {
                self.expect_sym(Sym::LParen)?;
                let key = self.string()?;
                self.expect_sym(Sym::RParen)?;
                ColumnConstraint::Header(key)
            } else {
                ColumnConstraint::None
            };
            elements.push(TableElement {
                name,
                ty,
                constraint,
            });
            if !self.eat_sym(Sym::Comma) {
                break;
            }
        }
        if !self.eat_sym(Sym::RParen) {
            return Err(self.mismatch(&[
                Expect::Sym(Sym::Comma),
                Expect::Sym(Sym::RParen),
                Expect::Kw("PRIMARY"),
                Expect::Kw("KEY"),
                Expect::Kw("HEADERS"),
                Expect::Kw("HEADER"),
            ]));
        }
        Ok(elements)
    }

    /// `(key = literal, …)`; keys are upper-cased whether written as identifiers or strings,
    /// as ksqlDB property names are case-insensitive.
    pub(super) fn properties(&mut self) -> PResult<Properties> {
        self.expect_sym(Sym::LParen)?;
        let mut properties = Vec::new();
        loop {
            let key = match &self.peek().tok {
                Tok::Str(s) => {
                    let s = s.to_ascii_uppercase();
                    self.pos += 1;
                    s
                }
                _ if self.is_ident_at(0) => self.ident()?.to_ascii_uppercase(),
                _ => return Err(self.mismatch(&[Expect::Ident, Expect::Str])),
            };
            self.expect_sym(Sym::Eq)?;
            let value = self.literal()?;
            properties.push((key, value));
            if !self.eat_sym(Sym::Comma) {
                break;
            }
        }
        if !self.eat_sym(Sym::RParen) {
            return Err(self.mismatch(&[Expect::Sym(Sym::Comma), Expect::Sym(Sym::RParen)]));
        }
        Ok(properties)
    }

    pub(super) fn insert(&mut self) -> PResult<Statement> {
        self.expect_kw("INTO")?;
        let target = self.ident()?;
        if self.is_sym(Sym::LParen) || self.is_kw("VALUES") {
            let columns = if self.eat_sym(Sym::LParen) {
                let mut cols = vec![self.ident()?];
                while self.eat_sym(Sym::Comma) {
                    cols.push(self.ident()?);
                }
                self.expect_sym(Sym::RParen)?;
                Some(cols)
            } else {
                None
            };
            self.expect_kw("VALUES")?;
            self.expect_sym(Sym::LParen)?;
            let mut values = Vec::new();
            if !self.eat_sym(Sym::RParen) {
                loop {
                    values.push(self.value_expression()?);
                    if !self.eat_sym(Sym::Comma) {
                        break;
                    }
                }
                self.expect_sym(Sym::RParen)?;
            }
            return Ok(Statement::InsertValues {
                target,
                columns,
                values,
            });
        }
        let properties = if self.eat_kw("WITH") {
            self.properties()?
        } else {
            Vec::new()
        };
        if !self.is_kw("SELECT") {
            let mut expected = vec![Expect::Kw("SELECT")];
            if properties.is_empty() {
                expected.extend([
                    Expect::Kw("WITH"),
                    Expect::Kw("VALUES"),
                    Expect::Sym(Sym::LParen),
                ]);
            }
            return Err(self.mismatch(&expected));
        }
        let query = Box::new(self.query()?);
        Ok(Statement::InsertIntoSelect {
            target,
            properties,
            query,
        })
    }

    pub(super) fn drop(&mut self, start: usize) -> PResult<Statement> {
        if self.eat_kw("TYPE") {
            let if_exists = self.if_exists()?;
            let name = self.ident()?;
            return Ok(Statement::DropType { name, if_exists });
        }
        if self.is_kw("CONNECTOR") {
            return Err(connectors_unsupported());
        }
        let kind = self.source_kind(start)?;
        let if_exists = self.if_exists()?;
        let name = self.ident()?;
        let delete_topic = if self.eat_kw("DELETE") {
            self.expect_kw("TOPIC")?;
            true
        } else {
            false
        };
        Ok(Statement::DropSource {
            kind,
            name,
            if_exists,
            delete_topic,
        })
    }

    // ---- query --------------------------------------------------------------------------
}

pub(super) fn connectors_unsupported() -> EngineError {
    EngineError::unsupported("Connectors are not supported by this server.")
}
