//! Types: the grammar's `type` — built-in names, `ARRAY<…>`/`MAP<…>`/`STRUCT<…>`,
//! `DECIMAL(p, s)`, the legacy postfix `INT ARRAY`, and custom type names (`CREATE TYPE`),
//! which resolve to the type they name while parsing.

use super::expr_parser::tree_depth_message;
use super::lexer::{Sym, Tok};
use super::parser::{Expect, PResult, Parser, EXPRESSION_TREE_DEPTH_MAX};
use crate::error::EngineError;
use crate::types::sql_type::DECIMAL_PRECISION_MAX;
use crate::types::{SqlType, StructField};

impl Parser<'_> {
    /// The grammar's `type`; unquoted STRUCT field names are upper-cased.
    pub(crate) fn parse_type(&mut self) -> PResult<SqlType> {
        self.type_built().map(|(ty, _)| ty)
    }

    /// A type and the depth of its tree, held to [`EXPRESSION_TREE_DEPTH_MAX`] like an
    /// expression's: `Display` and `Drop` of a type recurse too.
    fn type_built(&mut self) -> PResult<(SqlType, usize)> {
        let (mut ty, mut depth) = self.nested(|p| p.type_inner())?;
        // Legacy postfix form: `INT ARRAY` is `ARRAY<INT>`. Each one nests the type deeper
        // without recursing, so the chain counts against the depth limit.
        let mut chain = 0;
        while self.is_kw("ARRAY") && !self.is_sym_at(1, Sym::Lt) {
            self.chain_step(&mut chain)?;
            self.pos += 1;
            ty = SqlType::Array(Box::new(ty));
            depth = self.type_depth_step(depth)?;
        }
        Ok((ty, depth))
    }

    /// The depth of a type one level above a part `depth` deep, if within the limit.
    fn type_depth_step(&self, depth: usize) -> PResult<usize> {
        let depth = depth + 1;
        if depth > EXPRESSION_TREE_DEPTH_MAX {
            let token = self.peek().clone();
            return Err(self.error_at(&token, &tree_depth_message()));
        }
        Ok(depth)
    }

    fn type_inner(&mut self) -> PResult<(SqlType, usize)> {
        let token = self.peek().clone();
        if self.is_kw("ARRAY") && self.is_sym_at(1, Sym::Lt) {
            self.pos += 2;
            let (elem, depth) = self.type_built()?;
            self.expect_sym(Sym::Gt)?;
            return Ok((SqlType::Array(Box::new(elem)), self.type_depth_step(depth)?));
        }
        if self.is_kw("MAP") && self.is_sym_at(1, Sym::Lt) {
            self.pos += 2;
            let (key, key_depth) = self.type_built()?;
            self.expect_sym(Sym::Comma)?;
            let (value, value_depth) = self.type_built()?;
            self.expect_sym(Sym::Gt)?;
            let depth = self.type_depth_step(key_depth.max(value_depth))?;
            return Ok((SqlType::Map(Box::new(key), Box::new(value)), depth));
        }
        if self.is_kw("STRUCT") && self.is_sym_at(1, Sym::Lt) {
            self.pos += 2;
            let mut fields = Vec::new();
            let mut depth = 0;
            if !self.eat_sym(Sym::Gt) {
                loop {
                    let name = self.ident()?;
                    let (ty, field_depth) = self.type_built()?;
                    depth = depth.max(field_depth);
                    fields.push(StructField { name, ty });
                    if !self.eat_sym(Sym::Comma) {
                        break;
                    }
                }
                self.expect_sym(Sym::Gt)?;
            }
            return Ok((SqlType::Struct(fields), self.type_depth_step(depth)?));
        }
        if self.eat_kw("DECIMAL") {
            self.expect_sym(Sym::LParen)?;
            let precision = self.type_parameter()?;
            self.expect_sym(Sym::Comma)?;
            let scale = self.type_parameter()?;
            self.expect_sym(Sym::RParen)?;
            return Ok((decimal_type(precision, scale)?, 1));
        }
        let name = self.ident()?;
        let ty = match name.as_str() {
            "BOOLEAN" => SqlType::Boolean,
            "INT" | "INTEGER" => SqlType::Integer,
            "BIGINT" => SqlType::BigInt,
            "DOUBLE" => SqlType::Double,
            "STRING" | "VARCHAR" => SqlType::String,
            "BYTES" => SqlType::Bytes,
            "TIMESTAMP" => SqlType::Timestamp,
            "DATE" => SqlType::Date,
            "TIME" => SqlType::Time,
            _ => match self.types.get(&name) {
                // Checked against the depth limit when it was created.
                Some(custom) => return Ok((custom.clone(), type_depth(custom))),
                None => return Err(self.error_at(&token, &format!("Unknown type: {name}"))),
            },
        };
        // `VARCHAR(10)`-style parameters are accepted and ignored, as ksqlDB does. Its
        // grammar's `typeParameter` is `INTEGER_VALUE | 'STRING'`, so `VARCHAR(STRING)` is
        // valid too (QTT `key-schemas.json`).
        if ty == SqlType::String && self.eat_sym(Sym::LParen) {
            self.string_type_parameter()?;
            while self.eat_sym(Sym::Comma) {
                self.string_type_parameter()?;
            }
            self.expect_sym(Sym::RParen)?;
        }
        Ok((ty, 1))
    }

    /// One ignored parameter of `VARCHAR(…)`: an integer or the word `STRING`.
    fn string_type_parameter(&mut self) -> PResult<()> {
        if self.eat_kw("STRING") {
            return Ok(());
        }
        self.type_parameter().map(|_| ())
    }

    fn type_parameter(&mut self) -> PResult<u64> {
        let token = self.peek().clone();
        match &token.tok {
            Tok::Integer(t) => {
                self.pos += 1;
                t.parse::<u64>()
                    .map_err(|_| self.error_at(&token, &format!("Invalid type parameter: {t}")))
            }
            _ => Err(self.mismatch(&[Expect::Integer])),
        }
    }
}

fn decimal_type(precision: u64, scale: u64) -> PResult<SqlType> {
    if precision == 0 || precision > u64::from(DECIMAL_PRECISION_MAX) {
        return Err(EngineError::statement(format!(
            "DECIMAL precision must be between 1 and {DECIMAL_PRECISION_MAX}: DECIMAL({precision}, {scale})"
        )));
    }
    if scale > precision {
        return Err(EngineError::statement(format!(
            "DECIMAL scale must not exceed precision: DECIMAL({precision}, {scale})"
        )));
    }
    let narrow = |v: u64| u8::try_from(v).expect("checked against DECIMAL_PRECISION_MAX above");
    Ok(SqlType::Decimal {
        precision: narrow(precision),
        scale: narrow(scale),
    })
}

/// How deep a type's tree is (a built-in scalar is 1), as [`Parser::type_built`] counts.
fn type_depth(ty: &SqlType) -> usize {
    1 + match ty {
        SqlType::Array(elem) => type_depth(elem),
        SqlType::Map(key, value) => type_depth(key).max(type_depth(value)),
        SqlType::Struct(fields) => fields.iter().map(|f| type_depth(&f.ty)).max().unwrap_or(0),
        _ => 0,
    }
}
