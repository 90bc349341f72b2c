//! Queries: `SELECT … FROM … [JOIN …] [WINDOW …] [WHERE …] [GROUP BY …] [HAVING …]
//! [PARTITION BY …] [EMIT …] [LIMIT n]`, and what ANTLR expects when one fails to end.

use super::{Expect, PResult, Parser};
use crate::error::EngineError;
use crate::sql::ast::*;
use crate::sql::expr_parser::WINDOW_UNITS;
use crate::sql::lexer::{Sym, Tok};

impl Parser<'_> {
    pub(crate) fn query(&mut self) -> PResult<Query> {
        self.expect_kw("SELECT")?;
        let mut select = vec![self.select_item()?];
        while self.eat_sym(Sym::Comma) {
            select.push(self.select_item()?);
        }
        if !self.is_kw("FROM") {
            let mut expected = vec![Expect::Kw("FROM"), Expect::Sym(Sym::Comma)];
            expected.extend(BINARY_OPERATORS);
            return Err(self.mismatch(&expected));
        }
        self.pos += 1;
        let from = self.relation()?;
        let mut end = match &from {
            Relation::Source { alias: Some(_), .. } => QueryEnd::Alias,
            Relation::Source { alias: None, .. } => QueryEnd::SourceName,
            Relation::Join { .. } => QueryEnd::Expression,
        };
        let window = if self.eat_kw("WINDOW") {
            end = QueryEnd::Window;
            Some(self.window()?)
        } else {
            None
        };
        let where_clause = if self.eat_kw("WHERE") {
            end = QueryEnd::Expression;
            Some(self.expression()?)
        } else {
            None
        };
        let group_by = if self.eat_kw("GROUP") {
            end = QueryEnd::Expression;
            self.expect_kw("BY")?;
            self.expression_list()?
        } else {
            Vec::new()
        };
        let partition_by = if self.is_kw("PARTITION") && self.is_kw_at(1, "BY") {
            end = QueryEnd::Expression;
            self.pos += 2;
            self.expression_list()?
        } else {
            Vec::new()
        };
        let having = if self.eat_kw("HAVING") {
            end = QueryEnd::Expression;
            Some(self.expression()?)
        } else {
            None
        };
        let emit = if self.is_kw("EMIT") {
            end = QueryEnd::Emit;
            self.pos += 1;
            if self.eat_kw("CHANGES") {
                Some(Emit::Changes)
            } else if self.eat_kw("FINAL") {
                Some(Emit::Final)
            } else {
                return Err(self.mismatch(&[Expect::Kw("CHANGES"), Expect::Kw("FINAL")]));
            }
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") {
            end = QueryEnd::Limit;
            Some(self.limit_clause(emit.is_none())?)
        } else {
            None
        };
        self.query_follow = end.follow();
        Ok(Query {
            select,
            from,
            window,
            where_clause,
            group_by,
            partition_by,
            having,
            emit,
            limit,
        })
    }

    pub(super) fn select_item(&mut self) -> PResult<SelectItem> {
        if self.eat_sym(Sym::Star) {
            return Ok(SelectItem::Wildcard);
        }
        if self.is_ident_at(0) && self.is_sym_at(1, Sym::Dot) && self.is_sym_at(2, Sym::Star) {
            let qualifier = self.ident()?;
            self.pos += 2;
            return Ok(SelectItem::QualifiedWildcard(qualifier));
        }
        let expr = self.expression()?;
        if self.is_sym(Sym::Arrow) && self.is_sym_at(1, Sym::Star) {
            self.pos += 2;
            return Ok(SelectItem::StructAll(expr));
        }
        let alias = if self.eat_kw("AS") || self.is_ident_at(0) {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(SelectItem::Expr { expr, alias })
    }

    /// GROUP BY / PARTITION BY: `e, …` or `(e, …)`. A parenthesised single expression is
    /// just that expression, so `(a + b) * 2` still parses.
    pub(super) fn expression_list(&mut self) -> PResult<Vec<Expr>> {
        if self.is_sym(Sym::LParen) && self.is_sym_at(1, Sym::RParen) {
            self.pos += 2;
            return Ok(Vec::new());
        }
        if self.is_sym(Sym::LParen) {
            // `(a, b)` is the list form; `(a) + 1` is an expression. Try the list form and
            // rewind if there is no top-level comma after the first element.
            let (saved_pos, saved_nodes) = (self.pos, self.expression_nodes);
            self.pos += 1;
            let first = self.value_expression();
            if first.is_ok() && self.is_sym(Sym::Comma) {
                let mut list = vec![first?];
                while self.eat_sym(Sym::Comma) {
                    list.push(self.value_expression()?);
                }
                self.expect_sym(Sym::RParen)?;
                return Ok(list);
            }
            // Rewinding re-parses the first element (once: the re-parse does not come
            // back here), so its nodes must not count twice.
            (self.pos, self.expression_nodes) = (saved_pos, saved_nodes);
        }
        let mut list = vec![self.value_expression()?];
        while self.eat_sym(Sym::Comma) {
            list.push(self.value_expression()?);
        }
        Ok(list)
    }

    pub(super) fn relation(&mut self) -> PResult<Relation> {
        let mut left = self.aliased_relation()?;
        loop {
            let join_type = if self.eat_kw("JOIN") {
                JoinType::Inner
            } else if self.eat_kw("INNER") {
                self.expect_kw("JOIN")?;
                JoinType::Inner
            } else if let Some(t) = self.outer_join_type()? {
                t
            } else {
                return Ok(left);
            };
            let right = self.aliased_relation()?;
            let within = if self.eat_kw("WITHIN") {
                Some(self.within()?)
            } else {
                None
            };
            self.expect_kw("ON")?;
            let on = self.expression()?;
            left = Relation::Join {
                left: Box::new(left),
                right: Box::new(right),
                join_type,
                on,
                within,
            };
        }
    }

    pub(super) fn outer_join_type(&mut self) -> PResult<Option<JoinType>> {
        let join_type = if self.eat_kw("LEFT") {
            JoinType::Left
        } else if self.eat_kw("RIGHT") {
            JoinType::Right
        } else if self.eat_kw("FULL") {
            JoinType::Full
        } else {
            return Ok(None);
        };
        self.eat_kw("OUTER");
        self.expect_kw("JOIN")?;
        Ok(Some(join_type))
    }

    pub(super) fn aliased_relation(&mut self) -> PResult<Relation> {
        let name = self.ident()?;
        // EMIT and PARTITION are non-reserved, so `FROM s EMIT CHANGES` must not take EMIT
        // as an alias; ANTLR's lookahead makes the same call.
        let clause_follows = (self.is_kw("EMIT")
            && (self.is_kw_at(1, "CHANGES") || self.is_kw_at(1, "FINAL")))
            || (self.is_kw("PARTITION") && self.is_kw_at(1, "BY"));
        let alias = if self.eat_kw("AS") || (self.is_ident_at(0) && !clause_follows) {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(Relation::Source { name, alias })
    }

    /// `WITHIN n unit [GRACE PERIOD n unit]` or `WITHIN (before, after) [GRACE …]`.
    pub(super) fn within(&mut self) -> PResult<WithinClause> {
        let (before_ms, after_ms) = if self.eat_sym(Sym::LParen) {
            let before = self.duration_ms()?;
            let after = if self.eat_sym(Sym::Comma) {
                self.duration_ms()?
            } else {
                before
            };
            self.expect_sym(Sym::RParen)?;
            (before, after)
        } else {
            let size = self.duration_ms()?;
            (size, size)
        };
        let grace_ms = if self.eat_kw("GRACE") {
            self.expect_kw("PERIOD")?;
            Some(self.duration_ms()?)
        } else {
            None
        };
        Ok(WithinClause {
            before_ms,
            after_ms,
            grace_ms,
        })
    }

    pub(super) fn window(&mut self) -> PResult<WindowExpr> {
        // An optional window name (`WINDOW w TUMBLING (…)`) is accepted and ignored.
        if matches!(self.peek().tok, Tok::Word(_))
            && !["TUMBLING", "HOPPING", "SESSION"]
                .iter()
                .any(|k| self.is_kw(k))
        {
            self.pos += 1;
        }
        if self.eat_kw("TUMBLING") {
            self.expect_sym(Sym::LParen)?;
            self.expect_kw("SIZE")?;
            let size_ms = self.duration_ms()?;
            let (retention_ms, grace_ms) = self.window_tail()?;
            Ok(WindowExpr::Tumbling {
                size_ms,
                retention_ms,
                grace_ms,
            })
        } else if self.eat_kw("HOPPING") {
            self.expect_sym(Sym::LParen)?;
            self.expect_kw("SIZE")?;
            let size_ms = self.duration_ms()?;
            self.expect_sym(Sym::Comma)?;
            self.expect_kw("ADVANCE")?;
            self.expect_kw("BY")?;
            let advance_ms = self.duration_ms()?;
            let (retention_ms, grace_ms) = self.window_tail()?;
            Ok(WindowExpr::Hopping {
                size_ms,
                advance_ms,
                retention_ms,
                grace_ms,
            })
        } else if self.eat_kw("SESSION") {
            self.expect_sym(Sym::LParen)?;
            let gap_ms = self.duration_ms()?;
            let (retention_ms, grace_ms) = self.window_tail()?;
            Ok(WindowExpr::Session {
                gap_ms,
                retention_ms,
                grace_ms,
            })
        } else {
            Err(self.mismatch(&[
                Expect::Kw("TUMBLING"),
                Expect::Kw("HOPPING"),
                Expect::Kw("SESSION"),
            ]))
        }
    }

    /// `[, RETENTION n unit] [, GRACE PERIOD n unit] )`
    pub(super) fn window_tail(&mut self) -> PResult<(Option<u64>, Option<u64>)> {
        let mut retention = None;
        let mut grace = None;
        while self.eat_sym(Sym::Comma) {
            if retention.is_none() && grace.is_none() && self.eat_kw("RETENTION") {
                retention = Some(self.duration_ms()?);
            } else if grace.is_none() && self.eat_kw("GRACE") {
                self.expect_kw("PERIOD")?;
                grace = Some(self.duration_ms()?);
            } else {
                let mut expected = Vec::new();
                if retention.is_none() {
                    expected.push(Expect::Kw("RETENTION"));
                }
                expected.push(Expect::Kw("GRACE"));
                return Err(self.mismatch(&expected));
            }
        }
        self.expect_sym(Sym::RParen)?;
        Ok((retention, grace))
    }

    /// `n unit` in milliseconds.
    pub(super) fn duration_ms(&mut self) -> PResult<u64> {
        let number_token = self.peek().clone();
        let n = self.unsigned_number()?;
        let unit_ms = self.time_unit_ms()?;
        n.checked_mul(unit_ms).ok_or_else(|| {
            self.error_at(
                &number_token,
                "duration is too large to represent in milliseconds",
            )
        })
    }

    pub(crate) fn time_unit_ms(&mut self) -> PResult<u64> {
        let ms = TIME_UNITS
            .iter()
            .find(|(name, _)| self.is_kw(name) || self.is_kw(&format!("{name}S")))
            .map(|(_, ms)| *ms);
        match ms {
            Some(ms) => {
                self.pos += 1;
                Ok(ms)
            }
            None => Err(self.mismatch(&WINDOW_UNITS.map(Expect::Kw))),
        }
    }

    /// A query's LIMIT count. ksqlDB's grammar takes any number here and its AST builder
    /// rejects the rest with these messages; "Failed to prepare statement: " is the prefix
    /// ksqlDB gives errors from that stage. `pull` is whether the query has no EMIT.
    pub(super) fn limit_clause(&mut self, pull: bool) -> PResult<u64> {
        let negative = self.is_sym(Sym::Minus);
        match &self.peek_nth(usize::from(negative)).tok {
            Tok::Decimal(_) | Tok::Float(_) => {
                self.pos += 1 + usize::from(negative);
                Err(EngineError::statement(
                    "Failed to prepare statement: Value must be integer for command: LIMIT",
                ))
            }
            Tok::Integer(_) if negative && pull => {
                self.pos += 2;
                Err(EngineError::statement(
                    "Pull queries don't support negative integers in the LIMIT clause. \
                     See https://cnfl.io/queries for more info.",
                ))
            }
            _ => self.unsigned_number(),
        }
    }

    /// The grammar's `number` where only a non-negative integer makes sense (LIMIT, sizes).
    pub(super) fn unsigned_number(&mut self) -> PResult<u64> {
        let token = self.peek().clone();
        let negative = self.is_sym(Sym::Minus);
        let value_token = self.peek_nth(usize::from(negative)).clone();
        let text = match &value_token.tok {
            Tok::Integer(t) | Tok::Decimal(t) | Tok::Float(t) => t.clone(),
            _ => {
                return Err(self.mismatch(&[
                    Expect::Sym(Sym::Minus),
                    Expect::Integer,
                    Expect::Decimal,
                    Expect::Float,
                ]))
            }
        };
        self.pos += 1 + usize::from(negative);
        match (negative, &value_token.tok, text.parse::<u64>()) {
            (false, Tok::Integer(_), Ok(n)) => Ok(n),
            (false, Tok::Integer(_), Err(_)) => Err(EngineError::statement(format!(
                "Invalid numeric literal: {text}"
            ))),
            _ => Err(self.error_at(
                &token,
                &format!(
                    "Value must be a non-negative integer: {}",
                    &self.src[token.start..value_token.end]
                ),
            )),
        }
    }
}

/// The last thing a query parsed, which decides what ANTLR reports as expected when the
/// statement then fails to end.
///
/// ksqlDB's ANTLR (4.9) error strategy calls `sync` before each optional element. When
/// the next token fits, it forgets any earlier record; when it does not but the element may
/// be skipped, it records the parser's position unless one is recorded already. A later
/// mismatch lists everything that could have followed the *recorded* position. So
/// `SELECT * FROM s ORDER BY x;` (ORDER is taken as an alias) fails at `BY` with the set
/// recorded at the skipped `WINDOW` clause: every later clause of `query`, then the `;`
/// that ends `singleStatement`. The set is the same for pull, push and persistent queries,
/// since `query` is the last element of each statement that holds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QueryEnd {
    /// `FROM s a`: the alias was matched, so the record is made at the skipped WINDOW.
    Alias,
    /// `FROM s`: the record is made at the skipped alias (`(AS? sourceName)?`).
    SourceName,
    /// `… WINDOW TUMBLING (…)`: the window's own optional parts saw its `)`, so the
    /// record is made at the skipped WHERE.
    Window,
    /// `… EMIT CHANGES`: the record is made at the skipped LIMIT.
    Emit,
    /// `… LIMIT n`: nothing optional follows, so only `;` is expected.
    Limit,
    /// A clause ending in an expression: the record is made deep inside the expression
    /// (operators that could continue it), which this parser does not model; it reports
    /// only the `;`.
    Expression,
}

impl QueryEnd {
    /// The expected set, in ANTLR's order (token type: `;` is an implicit literal token,
    /// so first; keywords follow in the order `SqlBase.g4` defines them).
    pub(super) fn follow(self) -> Option<&'static [Expect]> {
        const SEMI: Expect = Expect::Sym(Sym::Semicolon);
        const EMIT: Expect = Expect::Kw("EMIT");
        const WHERE: Expect = Expect::Kw("WHERE");
        const WINDOW: Expect = Expect::Kw("WINDOW");
        const GROUP: Expect = Expect::Kw("GROUP");
        const HAVING: Expect = Expect::Kw("HAVING");
        const LIMIT: Expect = Expect::Kw("LIMIT");
        const PARTITION: Expect = Expect::Kw("PARTITION");
        match self {
            QueryEnd::Alias => Some(&[SEMI, EMIT, WHERE, WINDOW, GROUP, HAVING, LIMIT, PARTITION]),
            // ANTLR also lists every non-reserved keyword (an alias may be one) and
            // VARIABLE; like `Expect::Ident` elsewhere, this names the identifier tokens only.
            QueryEnd::SourceName => Some(&[
                SEMI,
                EMIT,
                Expect::Kw("AS"),
                WHERE,
                WINDOW,
                GROUP,
                HAVING,
                LIMIT,
                PARTITION,
                Expect::Ident,
            ]),
            QueryEnd::Window => Some(&[SEMI, EMIT, WHERE, GROUP, HAVING, LIMIT, PARTITION]),
            QueryEnd::Emit => Some(&[SEMI, LIMIT]),
            QueryEnd::Limit | QueryEnd::Expression => None,
        }
    }
}

/// Operators that may continue an expression, listed when a clause keyword was expected.
pub(super) const BINARY_OPERATORS: [Expect; 6] = [
    Expect::Sym(Sym::Plus),
    Expect::Sym(Sym::Minus),
    Expect::Sym(Sym::Star),
    Expect::Sym(Sym::Slash),
    Expect::Sym(Sym::Percent),
    Expect::Sym(Sym::Concat),
];

/// Window/time units (singular spelling; the plural adds `S`) and their length in ms.
pub(super) const TIME_UNITS: [(&str, u64); 5] = [
    ("MILLISECOND", 1),
    ("SECOND", 1_000),
    ("MINUTE", 60_000),
    ("HOUR", 3_600_000),
    ("DAY", 86_400_000),
];
