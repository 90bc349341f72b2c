//! Expressions and types: a precedence-climbing parser over the grammar's
//! `booleanExpression` / `predicated` / `valueExpression` / `primaryExpression` layers.
//!
//! Precedence, loosest first, as the left-recursive rules in `SqlBase.g4` order them:
//!
//! ```text
//! OR < AND < NOT < predicate (= <> < … , [NOT] BETWEEN/IN/LIKE, IS …)
//!    < || < + - < * / % < unary + - < postfix ([i], ->f) < primary
//! ```
//!
//! A predicate takes one value expression on each side and does not chain: `a = b = c` is a
//! syntax error in ksqlDB too. `-5` is a negative *literal* (the grammar's `number` has an
//! optional minus and wins over unary minus), while `-a` is `Unary(Neg, a)`.

use super::ast::*;
use super::lexer::{Sym, Tok};
use super::parser::{
    Expect, PResult, Parser, EXPRESSION_TREE_DEPTH_MAX, STATEMENT_EXPRESSION_NODES_MAX,
};
use crate::error::EngineError;


/// Binding power of a binary operator inside `booleanExpression` (`OR`, `AND`).
fn boolean_op(p: &Parser<'_>) -> Option<(BinaryOp, u8)> {
    if p.is_kw("OR") {
        Some((BinaryOp::Or, 1))
    } else if p.is_kw("AND") {
        Some((BinaryOp::And, 2))
    } else {
        None
    }
}

/// Binding power of `NOT`'s operand: tighter than AND, so `NOT a AND b` is `(NOT a) AND b`.
const NOT_OPERAND_BP: u8 = 3;

/// Binding power of a binary operator inside `valueExpression`.
fn value_op(p: &Parser<'_>) -> Option<(BinaryOp, u8)> {
    let op = match p.peek().tok {
        Tok::Sym(Sym::Concat) => (BinaryOp::Concat, 1),
        Tok::Sym(Sym::Plus) => (BinaryOp::Add, 2),
        Tok::Sym(Sym::Minus) => (BinaryOp::Sub, 2),
        Tok::Sym(Sym::Star) => (BinaryOp::Mul, 3),
        Tok::Sym(Sym::Slash) => (BinaryOp::Div, 3),
        Tok::Sym(Sym::Percent) => (BinaryOp::Mod, 3),
        _ => return None,
    };
    Some(op)
}

fn comparison_op(tok: &Tok) -> Option<BinaryOp> {
    match tok {
        Tok::Sym(Sym::Eq) => Some(BinaryOp::Eq),
        Tok::Sym(Sym::NotEq) => Some(BinaryOp::NotEq),
        Tok::Sym(Sym::Lt) => Some(BinaryOp::Lt),
        Tok::Sym(Sym::LtEq) => Some(BinaryOp::LtEq),
        Tok::Sym(Sym::Gt) => Some(BinaryOp::Gt),
        Tok::Sym(Sym::GtEq) => Some(BinaryOp::GtEq),
        _ => None,
    }
}

/// Window units, in the order ksqlDB's grammar lists them: what a function may take as an
/// argument (`TIMESTAMPADD(SECONDS, 5, ts)`) and what a WINDOW size expects.
pub(super) const WINDOW_UNITS: [&str; 10] = [
    "DAY",
    "HOUR",
    "MINUTE",
    "SECOND",
    "MILLISECOND",
    "DAYS",
    "HOURS",
    "MINUTES",
    "SECONDS",
    "MILLISECONDS",
];

/// An expression with the depth of its tree (a leaf is 1).
///
/// Each construct reports the depth of what it built, so operator chains check
/// [`EXPRESSION_TREE_DEPTH_MAX`] in constant time. Walking the subtree instead cost its whole
/// size at every enclosing chain, once per nesting level (issue 9, finding 5).
pub(crate) struct Built {
    pub(crate) expr: Expr,
    pub(crate) depth: usize,
}

impl Parser<'_> {
    /// The grammar's `expression` (a boolean expression).
    pub(crate) fn expression(&mut self) -> PResult<Expr> {
        self.expression_built().map(|built| built.expr)
    }

    /// The grammar's `valueExpression`: arithmetic and concatenation, no predicates.
    pub(crate) fn value_expression(&mut self) -> PResult<Expr> {
        self.value_expression_built().map(|built| built.expr)
    }

    fn expression_built(&mut self) -> PResult<Built> {
        self.nested(|p| p.boolean(0))
    }

    fn value_expression_built(&mut self) -> PResult<Built> {
        self.nested(|p| p.value(0))
    }

    fn boolean(&mut self, min_bp: u8) -> PResult<Built> {
        let mut left = if self.is_kw("NOT") {
            self.not_expression()?
        } else {
            self.predicated()?
        };
        let mut chain = 0;
        while let Some((op, bp)) = boolean_op(self) {
            if bp < min_bp {
                break;
            }
            self.chain_step(&mut chain)?;
            self.pos += 1;
            let right = self.boolean(bp + 1)?;
            left = self.binary(op, left, right)?;
        }
        self.check_tree_depth(&left, chain)?;
        Ok(left)
    }

    fn not_expression(&mut self) -> PResult<Built> {
        self.pos += 1;
        let operand = self.nested(|p| p.boolean(NOT_OPERAND_BP))?;
        let expr = Expr::Unary {
            op: UnaryOp::Not,
            expr: Box::new(operand.expr),
        };
        self.node(expr, operand.depth)
    }

    // The functions on the recursive descent path stay small and hand each construct to a
    // function of its own: debug builds give every temporary of a function its own stack
    // slot, so one big `match` would multiply the stack each nesting level costs.

    fn predicated(&mut self) -> PResult<Built> {
        let value = self.value(0)?;
        if let Some(op) = comparison_op(&self.peek().tok) {
            self.pos += 1;
            let right = self.value(0)?;
            return self.binary(op, value, right);
        }
        let negated = self.is_kw("NOT")
            && ["BETWEEN", "IN", "LIKE"]
                .iter()
                .any(|k| self.is_kw_at(1, k));
        if negated {
            self.pos += 1;
        }
        if self.eat_kw("BETWEEN") {
            self.between(value, negated)
        } else if self.eat_kw("IN") {
            self.in_list(value, negated)
        } else if self.eat_kw("LIKE") {
            self.like(value, negated)
        } else if self.eat_kw("IS") {
            self.is_predicate(value)
        } else {
            Ok(value)
        }
    }

    fn between(&mut self, value: Built, negated: bool) -> PResult<Built> {
        let low = self.value(0)?;
        self.expect_kw("AND")?;
        let high = self.value(0)?;
        let depth = value.depth.max(low.depth).max(high.depth);
        let expr = Expr::Between {
            expr: Box::new(value.expr),
            low: Box::new(low.expr),
            high: Box::new(high.expr),
            negated,
        };
        self.node(expr, depth)
    }

    fn in_list(&mut self, value: Built, negated: bool) -> PResult<Built> {
        self.expect_sym(Sym::LParen)?;
        let mut depth = value.depth;
        let mut list = Vec::new();
        loop {
            let item = self.expression_built()?;
            depth = depth.max(item.depth);
            list.push(item.expr);
            if !self.eat_sym(Sym::Comma) {
                break;
            }
        }
        self.expect_sym(Sym::RParen)?;
        let expr = Expr::InList {
            expr: Box::new(value.expr),
            list,
            negated,
        };
        self.node(expr, depth)
    }

    fn like(&mut self, value: Built, negated: bool) -> PResult<Built> {
        let pattern = self.value(0)?;
        let escape = if self.eat_kw("ESCAPE") {
            Some(self.escape_char()?)
        } else {
            None
        };
        let depth = value.depth.max(pattern.depth);
        let expr = Expr::Like {
            expr: Box::new(value.expr),
            pattern: Box::new(pattern.expr),
            escape,
            negated,
        };
        self.node(expr, depth)
    }

    fn escape_char(&mut self) -> PResult<char> {
        let token = self.peek().clone();
        let text = self.string()?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(self.error_at(
                &token,
                &format!("Expected single character escape but got: {text}"),
            )),
        }
    }

    fn is_predicate(&mut self, value: Built) -> PResult<Built> {
        let negated = self.eat_kw("NOT");
        if self.eat_kw("NULL") {
            let expr = Expr::IsNull {
                expr: Box::new(value.expr),
                negated,
            };
            return self.node(expr, value.depth);
        }
        if self.eat_kw("DISTINCT") {
            self.expect_kw("FROM")?;
            let right = self.value(0)?;
            let depth = value.depth.max(right.depth);
            let expr = Expr::IsDistinctFrom {
                left: Box::new(value.expr),
                right: Box::new(right.expr),
                negated,
            };
            return self.node(expr, depth);
        }
        let mut expected = vec![Expect::Kw("NULL"), Expect::Kw("DISTINCT")];
        if !negated {
            expected.insert(0, Expect::Kw("NOT"));
        }
        Err(self.mismatch(&expected))
    }

    fn value(&mut self, min_bp: u8) -> PResult<Built> {
        let mut left = self.unary()?;
        let mut chain = 0;
        while let Some((op, bp)) = value_op(self) {
            if bp < min_bp {
                break;
            }
            self.chain_step(&mut chain)?;
            self.pos += 1;
            let right = self.value(bp + 1)?;
            left = self.binary(op, left, right)?;
        }
        self.check_tree_depth(&left, chain)?;
        Ok(left)
    }

    fn unary(&mut self) -> PResult<Built> {
        let op = match self.peek().tok {
            Tok::Sym(Sym::Minus) if !self.number_at(1) => UnaryOp::Neg,
            Tok::Sym(Sym::Plus) => UnaryOp::Plus,
            _ => return self.postfix(),
        };
        self.pos += 1;
        let operand = self.nested(|p| p.unary())?;
        let expr = Expr::Unary {
            op,
            expr: Box::new(operand.expr),
        };
        self.node(expr, operand.depth)
    }

    fn number_at(&self, n: usize) -> bool {
        matches!(
            self.peek_nth(n).tok,
            Tok::Integer(_) | Tok::Decimal(_) | Tok::Float(_)
        )
    }

    fn postfix(&mut self) -> PResult<Built> {
        let mut base = self.primary()?;
        let mut chain = 0;
        loop {
            if self.is_sym(Sym::LBracket) {
                self.chain_step(&mut chain)?;
                self.pos += 1;
                let index = self.value_expression_built()?;
                self.expect_sym(Sym::RBracket)?;
                let depth = base.depth.max(index.depth);
                let expr = Expr::Subscript {
                    base: Box::new(base.expr),
                    index: Box::new(index.expr),
                };
                base = self.node(expr, depth)?;
            } else if self.is_sym(Sym::Arrow) && !self.is_sym_at(1, Sym::Star) {
                // `s->*` is a select item, not an expression: the select list takes it.
                self.chain_step(&mut chain)?;
                self.pos += 1;
                let field = self.ident()?;
                let expr = Expr::Dereference {
                    base: Box::new(base.expr),
                    field,
                };
                base = self.node(expr, base.depth)?;
            } else {
                break;
            }
        }
        self.check_tree_depth(&base, chain)?;
        Ok(base)
    }

    fn primary(&mut self) -> PResult<Built> {
        match &self.peek().tok {
            Tok::Integer(_) | Tok::Decimal(_) | Tok::Float(_) | Tok::Str(_) => {
                self.literal_expression()
            }
            Tok::Sym(Sym::Minus) if self.number_at(1) => self.literal_expression(),
            Tok::Sym(Sym::LParen) => self.parenthesized(),
            Tok::Variable(_) => Err(self.unsubstituted_variable()),
            Tok::Word(_) => self.primary_word(),
            Tok::Quoted(_) | Tok::DigitIdent(_) => self.column_or_call(),
            _ => Err(self.mismatch(&[Expect::Expression])),
        }
    }

    fn literal_expression(&mut self) -> PResult<Built> {
        let literal = self.literal()?;
        self.leaf(Expr::Literal(literal))
    }

    fn parenthesized(&mut self) -> PResult<Built> {
        self.pos += 1;
        let inner = self.expression_built()?;
        self.expect_sym(Sym::RParen)?;
        Ok(inner)
    }

    fn primary_word(&mut self) -> PResult<Built> {
        if self.is_kw("NULL") || self.is_kw("TRUE") || self.is_kw("FALSE") {
            self.literal_expression()
        } else if self.is_kw("CASE") {
            self.case()
        } else if self.is_kw("CAST") {
            self.cast()
        // ARRAY, MAP and STRUCT are non-reserved: they are constructors only when followed
        // by their bracket, otherwise plain identifiers.
        } else if self.is_kw("ARRAY") && self.is_sym_at(1, Sym::LBracket) {
            self.array_constructor()
        } else if self.is_kw("MAP") && self.is_sym_at(1, Sym::LParen) {
            self.map_constructor()
        } else if self.is_kw("STRUCT") && self.is_sym_at(1, Sym::LParen) {
            self.struct_constructor()
        } else {
            self.column_or_call()
        }
    }

    fn cast(&mut self) -> PResult<Built> {
        self.pos += 1;
        self.expect_sym(Sym::LParen)?;
        let operand = self.expression_built()?;
        self.expect_kw("AS")?;
        let ty = self.parse_type()?;
        self.expect_sym(Sym::RParen)?;
        let expr = Expr::Cast {
            expr: Box::new(operand.expr),
            ty,
        };
        self.node(expr, operand.depth)
    }

    fn array_constructor(&mut self) -> PResult<Built> {
        self.pos += 2;
        let mut items = Vec::new();
        let mut depth = 0;
        if !self.eat_sym(Sym::RBracket) {
            loop {
                let item = self.expression_built()?;
                depth = depth.max(item.depth);
                items.push(item.expr);
                if !self.eat_sym(Sym::Comma) {
                    break;
                }
            }
            self.expect_sym(Sym::RBracket)?;
        }
        self.node(Expr::Array(items), depth)
    }

    fn map_constructor(&mut self) -> PResult<Built> {
        self.pos += 2;
        let mut entries = Vec::new();
        let mut depth = 0;
        if !self.eat_sym(Sym::RParen) {
            loop {
                let key = self.expression_built()?;
                self.expect_sym(Sym::Assign)?;
                let value = self.expression_built()?;
                depth = depth.max(key.depth).max(value.depth);
                entries.push((key.expr, value.expr));
                if !self.eat_sym(Sym::Comma) {
                    break;
                }
            }
            self.expect_sym(Sym::RParen)?;
        }
        self.node(Expr::Map(entries), depth)
    }

    fn struct_constructor(&mut self) -> PResult<Built> {
        self.pos += 2;
        let mut fields = Vec::new();
        let mut depth = 0;
        if !self.eat_sym(Sym::RParen) {
            loop {
                let name = self.ident()?;
                self.expect_sym(Sym::Assign)?;
                let value = self.expression_built()?;
                depth = depth.max(value.depth);
                fields.push((name, value.expr));
                if !self.eat_sym(Sym::Comma) {
                    break;
                }
            }
            self.expect_sym(Sym::RParen)?;
        }
        self.node(Expr::Struct(fields), depth)
    }

    /// `name`, `qualifier.name` or `name(args)`.
    fn column_or_call(&mut self) -> PResult<Built> {
        let name = self.ident()?;
        if self.eat_sym(Sym::LParen) {
            let (args, depth) = self.call_arguments()?;
            return self.node(Expr::Function { name, args }, depth);
        }
        if self.is_sym(Sym::Dot) && self.is_ident_at(1) {
            self.pos += 1;
            let column = self.ident()?;
            return self.leaf(Expr::Column {
                qualifier: Some(name),
                name: column,
            });
        }
        self.leaf(Expr::Column {
            qualifier: None,
            name,
        })
    }

    /// Arguments after `name(`, through the closing `)`, and the depth of the deepest.
    fn call_arguments(&mut self) -> PResult<(Vec<Expr>, usize)> {
        if self.is_sym(Sym::Star) && self.is_sym_at(1, Sym::RParen) {
            self.pos += 2;
            let star = self.leaf(Expr::Star)?;
            return Ok((vec![star.expr], star.depth));
        }
        let mut args = Vec::new();
        let mut depth = 0;
        if self.eat_sym(Sym::RParen) {
            return Ok((args, depth));
        }
        loop {
            let arg = self.call_argument()?;
            depth = depth.max(arg.depth);
            args.push(arg.expr);
            if !self.eat_sym(Sym::Comma) {
                break;
            }
        }
        if !self.eat_sym(Sym::RParen) {
            let mut expected = vec![Expect::Sym(Sym::Comma), Expect::Sym(Sym::RParen)];
            expected.extend([Expect::Sym(Sym::Plus), Expect::Sym(Sym::Minus)]);
            return Err(self.mismatch(&expected));
        }
        Ok((args, depth))
    }

    fn call_argument(&mut self) -> PResult<Built> {
        if let Some(param_count) = self.lambda_params_ahead() {
            return self.lambda(param_count);
        }
        // A bare window unit (`SECONDS`) is an argument of its own; it is kept as a column
        // reference named after the unit, which the function resolver interprets.
        let unit_arg = WINDOW_UNITS.iter().any(|u| self.is_kw(u))
            && (self.is_sym_at(1, Sym::Comma) || self.is_sym_at(1, Sym::RParen));
        if unit_arg {
            return self.unit_argument();
        }
        self.expression_built()
    }

    fn unit_argument(&mut self) -> PResult<Built> {
        let name = match self.advance().tok {
            Tok::Word(w) => w.to_ascii_uppercase(),
            other => unreachable!("is_kw matched a word token, got {other:?}"),
        };
        self.leaf(Expr::Column {
            qualifier: None,
            name,
        })
    }

    /// If a lambda starts here, how many parameters it has: `x =>` or `(x, y) =>`.
    ///
    /// The look-ahead scans a run of `ident ,` after `(`; when that run is long and no
    /// lambda follows, parsing the argument fails at its first `,`, so no token is scanned
    /// twice this way and the parse stays linear.
    fn lambda_params_ahead(&self) -> Option<usize> {
        if self.is_ident_at(0) && self.is_sym_at(1, Sym::Lambda) {
            return Some(1);
        }
        if !self.is_sym(Sym::LParen) {
            return None;
        }
        let mut n = 1;
        let mut count = 0;
        loop {
            if !self.is_ident_at(n) {
                return None;
            }
            count += 1;
            n += 1;
            if self.is_sym_at(n, Sym::Comma) {
                n += 1;
                continue;
            }
            return (self.is_sym_at(n, Sym::RParen) && self.is_sym_at(n + 1, Sym::Lambda))
                .then_some(count);
        }
    }

    fn lambda(&mut self, param_count: usize) -> PResult<Built> {
        let parenthesised = self.eat_sym(Sym::LParen);
        let mut params = Vec::with_capacity(param_count);
        for i in 0..param_count {
            if i > 0 {
                self.expect_sym(Sym::Comma)?;
            }
            params.push(self.ident()?);
        }
        if parenthesised {
            self.expect_sym(Sym::RParen)?;
        }
        self.expect_sym(Sym::Lambda)?;
        let body = self.expression_built()?;
        let expr = Expr::Lambda {
            params,
            body: Box::new(body.expr),
        };
        self.node(expr, body.depth)
    }

    fn case(&mut self) -> PResult<Built> {
        self.pos += 1;
        let mut depth = 0;
        let operand = if self.is_kw("WHEN") {
            None
        } else {
            let operand = self.value_expression_built()?;
            depth = operand.depth;
            Some(Box::new(operand.expr))
        };
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let condition = self.expression_built()?;
            self.expect_kw("THEN")?;
            let result = self.expression_built()?;
            depth = depth.max(condition.depth).max(result.depth);
            whens.push((condition.expr, result.expr));
        }
        if whens.is_empty() {
            return Err(self.mismatch(&[Expect::Kw("WHEN")]));
        }
        let else_result = if self.eat_kw("ELSE") {
            let else_result = self.expression_built()?;
            depth = depth.max(else_result.depth);
            Some(Box::new(else_result.expr))
        } else {
            None
        };
        if !self.eat_kw("END") {
            return Err(self.mismatch(&[
                Expect::Kw("WHEN"),
                Expect::Kw("ELSE"),
                Expect::Kw("END"),
            ]));
        }
        let expr = Expr::Case {
            operand,
            whens,
            else_result,
        };
        self.node(expr, depth)
    }

    /// The grammar's `literal`: NULL, TRUE/FALSE, a string, or a number with optional `-`.
    pub(crate) fn literal(&mut self) -> PResult<Literal> {
        let literal = match &self.peek().tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => Literal::Null,
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUE") => Literal::Boolean(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSE") => Literal::Boolean(false),
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Sym(Sym::Minus) if self.number_at(1) => {
                self.pos += 1;
                return self.number(true);
            }
            Tok::Integer(_) | Tok::Decimal(_) | Tok::Float(_) => return self.number(false),
            _ => {
                return Err(self.mismatch(&[
                    Expect::Kw("NULL"),
                    Expect::Kw("TRUE"),
                    Expect::Kw("FALSE"),
                    Expect::Str,
                    Expect::Sym(Sym::Minus),
                    Expect::Integer,
                    Expect::Decimal,
                    Expect::Float,
                ]))
            }
        };
        self.pos += 1;
        Ok(literal)
    }

    /// The numeric token here, negated if `negative`. Text is only copied when it must be
    /// (a sign to prepend, a decimal to keep): literals are most of a long IN list.
    fn number(&mut self, negative: bool) -> PResult<Literal> {
        let sign = if negative { "-" } else { "" };
        let invalid =
            |text: &str| EngineError::statement(format!("Invalid numeric literal: {sign}{text}"));
        let literal = match &self.peek().tok {
            Tok::Integer(t) => {
                let parsed = if negative {
                    format!("-{t}").parse::<i64>()
                } else {
                    t.parse::<i64>()
                };
                parsed.map(Literal::Integer).map_err(|_| invalid(t))
            }
            Tok::Decimal(t) => Ok(Literal::Decimal(format!("{sign}{t}"))),
            // Parsing is exact to the nearest double either side of zero, so negating
            // after parsing is the same as parsing the negative text.
            Tok::Float(t) => match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Literal::Double(if negative { -v } else { v })),
                _ => Err(invalid(t)),
            },
            other => unreachable!("number() is only called on a numeric token, got {other:?}"),
        };
        self.pos += 1;
        literal
    }

    // ---- size and depth bookkeeping -----------------------------------------------------

    /// A leaf expression (literal, column, `*`).
    fn leaf(&mut self, expr: Expr) -> PResult<Built> {
        self.node(expr, 0)
    }

    /// An expression whose deepest child is `children_depth` deep (0 for a leaf). Counts the
    /// node against [`STATEMENT_EXPRESSION_NODES_MAX`] and holds every tree the parser
    /// returns to [`EXPRESSION_TREE_DEPTH_MAX`].
    fn node(&mut self, expr: Expr, children_depth: usize) -> PResult<Built> {
        self.expression_nodes += 1;
        if self.expression_nodes > STATEMENT_EXPRESSION_NODES_MAX {
            let token = self.peek().clone();
            return Err(self.error_at(
                &token,
                &format!(
                    "statement has more than the maximum of \
                     {STATEMENT_EXPRESSION_NODES_MAX} expression nodes"
                ),
            ));
        }
        let depth = children_depth + 1;
        if depth > EXPRESSION_TREE_DEPTH_MAX {
            let token = self.peek().clone();
            return Err(self.error_at(&token, &tree_depth_message()));
        }
        Ok(Built { expr, depth })
    }

    fn binary(&mut self, op: BinaryOp, left: Built, right: Built) -> PResult<Built> {
        let depth = left.depth.max(right.depth);
        let expr = Expr::Binary {
            op,
            left: Box::new(left.expr),
            right: Box::new(right.expr),
        };
        self.node(expr, depth)
    }

    /// Counts one more operator in a left-associative chain. A chain builds a tree as deep as
    /// it is long without recursing, so its length counts against the tree depth limit.
    pub(super) fn chain_step(&self, chain: &mut usize) -> PResult<()> {
        *chain += 1;
        if self.depth + *chain > EXPRESSION_TREE_DEPTH_MAX {
            let token = self.peek().clone();
            return Err(self.error_at(&token, &tree_depth_message()));
        }
        Ok(())
    }

    /// After a chain, checks the depth of the tree it built (its first operand may be deep
    /// itself) plus the nesting it sits in.
    fn check_tree_depth(&self, built: &Built, chain: usize) -> PResult<()> {
        if chain > 0 && self.depth + built.depth > EXPRESSION_TREE_DEPTH_MAX {
            let token = self.peek().clone();
            return Err(self.error_at(&token, &tree_depth_message()));
        }
        Ok(())
    }
}

pub(super) fn tree_depth_message() -> String {
    format!("expression is deeper than the maximum of {EXPRESSION_TREE_DEPTH_MAX} levels")
}


/// Depth of an expression tree (a leaf is 1), computed without recursion so it is safe on
/// any tree. The parser measures depth as it builds; tests check the two agree.
#[cfg(test)]
pub(crate) fn expr_depth(root: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((expr, depth)) = stack.pop() {
        max = max.max(depth);
        for_each_child(expr, |child| stack.push((child, depth + 1)));
    }
    max
}

/// Calls `f` on each direct child expression, mutably (for rewrites; children in the same
/// order as [`for_each_child`]).
pub(crate) fn for_each_child_mut(expr: &mut Expr, mut f: impl FnMut(&mut Expr)) {
    match expr {
        Expr::Column { .. } | Expr::Literal(_) | Expr::Star => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => f(expr),
        Expr::Binary { left, right, .. } | Expr::IsDistinctFrom { left, right, .. } => {
            f(left);
            f(right);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            f(expr);
            f(low);
            f(high);
        }
        Expr::InList { expr, list, .. } => {
            f(expr);
            list.iter_mut().for_each(f);
        }
        Expr::Like { expr, pattern, .. } => {
            f(expr);
            f(pattern);
        }
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(operand) = operand {
                f(operand);
            }
            for (when, then) in whens {
                f(when);
                f(then);
            }
            if let Some(else_result) = else_result {
                f(else_result);
            }
        }
        Expr::Function { args, .. } | Expr::Array(args) => args.iter_mut().for_each(f),
        Expr::Subscript { base, index } => {
            f(base);
            f(index);
        }
        Expr::Dereference { base, .. } => f(base),
        Expr::Map(entries) => {
            for (k, v) in entries {
                f(k);
                f(v);
            }
        }
        Expr::Struct(fields) => fields.iter_mut().for_each(|(_, v)| f(v)),
        Expr::Lambda { body, .. } => f(body),
    }
}

/// Calls `f` on each direct child expression.
pub(crate) fn for_each_child<'e>(expr: &'e Expr, mut f: impl FnMut(&'e Expr)) {
    match expr {
        Expr::Column { .. } | Expr::Literal(_) | Expr::Star => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => f(expr),
        Expr::Binary { left, right, .. } | Expr::IsDistinctFrom { left, right, .. } => {
            f(left);
            f(right);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            f(expr);
            f(low);
            f(high);
        }
        Expr::InList { expr, list, .. } => {
            f(expr);
            list.iter().for_each(f);
        }
        Expr::Like { expr, pattern, .. } => {
            f(expr);
            f(pattern);
        }
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(operand) = operand {
                f(operand);
            }
            for (when, then) in whens {
                f(when);
                f(then);
            }
            if let Some(else_result) = else_result {
                f(else_result);
            }
        }
        Expr::Function { args, .. } | Expr::Array(args) => args.iter().for_each(f),
        Expr::Subscript { base, index } => {
            f(base);
            f(index);
        }
        Expr::Dereference { base, .. } => f(base),
        Expr::Map(entries) => {
            for (k, v) in entries {
                f(k);
                f(v);
            }
        }
        Expr::Struct(fields) => fields.iter().for_each(|(_, v)| f(v)),
        Expr::Lambda { body, .. } => f(body),
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    /// The depth each construct reports is the depth of the tree it built.
    #[test]
    fn measured_depth_is_the_tree_depth() {
        for text in [
            "a",
            "a + b * c - d",
            "NOT a AND b OR c",
            "a BETWEEN b + 1 AND c",
            "a IN (1, b + (c * d), 3) OR x IS NOT NULL",
            "a LIKE b || c ESCAPE '!'",
            "a IS DISTINCT FROM b + c",
            "-(-a)[1 + 2]->f->g",
            "CASE a WHEN 1 THEN b + c ELSE CAST(d AS INT) END",
            "TRANSFORM(xs, (k, v) => k + v * 2, SECONDS)",
            "ARRAY[1, ARRAY[2, 3 + 4]][1]",
            "MAP('a' := 1 + 2, 'b' := STRUCT(x := y - z))",
            "COUNT(*) + f() + g(h(i(j)))",
            "((a + b) + c) + (d + (e + (f + g)))",
        ] {
            let mut parser = Parser::new(text);
            let built = parser.expression_built().expect(text);
            assert!(parser.at_eof(), "{text}");
            assert_eq!(built.depth, expr_depth(&built.expr), "{text}");
        }
    }
}

