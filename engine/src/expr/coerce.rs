//! The common type of a user-supplied list: the items of `x IN (…)`, of `ARRAY[…]` and the
//! keys or values of `MAP(…)`.
//!
//! ksqlDB's rules (`CoercionUtil.coerceUserList`, `DefaultSqlValueCoercer`), restated:
//!
//! - Items are folded left to right into a running common type; a NULL literal adds nothing.
//! - Numbers widen: INTEGER < BIGINT < DECIMAL < DOUBLE, DECIMALs by `DecimalUtil.widen`.
//! - A STRING literal next to a number counts as the number it spells (`'4.000'` is a
//!   DECIMAL(4, 3), `'2147483648'` a BIGINT); next to a BOOLEAN it must spell a boolean.
//! - Other literals (numbers, booleans) may join a STRING list as their text ("lax").
//! - Any STRING may join a TIMESTAMP, TIME, DATE or BYTES list, and the reverse.
//! - ARRAY, MAP and STRUCT types combine element by element; STRUCTs take the union of
//!   their fields. An `ARRAY[…]`, `MAP(…)` or `STRUCT(…)` constructor has its items folded
//!   into the running element types one by one, so `ARRAY['3', NULL]` fits an `ARRAY<BIGINT>`.
//!
//! The caller then converts every item whose type differs from the result with a cast.

use super::decimal::{self, DecType};
use super::display;
use crate::error::EngineError;
use crate::sql::ast::{Expr, Literal};
use crate::types::{SqlType, StructField};

/// What coercing an expression list needs from the compiler: each expression's type. The
/// compiler implements it; taking it as a trait keeps this module below the compiler.
pub(crate) trait TypeOf {
    fn type_of(&mut self, expr: &Expr) -> Result<Option<SqlType>, EngineError>;
}

/// Why an item does not fit: a type clash (reported against the outermost item, as ksqlDB
/// does) or a STRING literal that does not spell the needed type (reported as is).
enum Misfit {
    Clash { common: SqlType, item: SqlType },
    Fatal(EngineError),
}

impl From<EngineError> for Misfit {
    fn from(e: EngineError) -> Misfit {
        Misfit::Fatal(e)
    }
}

/// Which conversions an item may take: a literal may also turn into a STRING or from one
/// into a number or boolean (`DefaultSqlValueCoercer.LAX`); an expression may not (`STRICT`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    Lax,
    Strict,
}

/// The common type of `items`, each given with its compiled type (`None` for a NULL
/// literal). `Ok(None)` when every item is NULL.
pub(crate) fn common_type(
    compiler: &mut dyn TypeOf,
    items: &[(&Expr, Option<&SqlType>)],
) -> Result<Option<SqlType>, EngineError> {
    let mut common: Option<SqlType> = None;
    for (e, ty) in items {
        common = match step(compiler, e, *ty, common) {
            Ok(c) => c,
            Err(Misfit::Clash { common, item }) => return Err(clash(&common, &item, e)),
            Err(Misfit::Fatal(err)) => return Err(err),
        };
    }
    Ok(common)
}

/// The common type of expression types alone, as a function's generic parameter takes it:
/// numbers widen and a STRING joins a temporal or BYTES type, but no literal leniency.
/// `None` when there are no types or two do not fit.
pub(crate) fn strict_common_type<'t>(
    mut types: impl Iterator<Item = &'t SqlType>,
) -> Option<SqlType> {
    let first = types.next()?.clone();
    types.try_fold(first, |common, t| {
        can_coerce(Strictness::Strict, t, &common)
            .or_else(|| can_coerce(Strictness::Strict, &common, t))
    })
}

/// `CoercionUtil`'s text when an item cannot join the list.
pub(crate) fn clash(common: &SqlType, item: &SqlType, e: &Expr) -> EngineError {
    EngineError::statement(format!(
        "operator does not exist: {common} = {item} ({})\nHint: You might need to add \
         explicit type casts.",
        display::expr(e)
    ))
}

/// Folds one item into the running common type.
fn step(
    compiler: &mut dyn TypeOf,
    e: &Expr,
    ty: Option<&SqlType>,
    common: Option<SqlType>,
) -> Result<Option<SqlType>, Misfit> {
    let Some(common) = common else {
        return Ok(ty.cloned());
    };
    let Some(ty) = ty else {
        return Ok(Some(common));
    };
    let clash = || Misfit::Clash {
        common: common.clone(),
        item: ty.clone(),
    };
    let folded = match (e, &common) {
        (Expr::Array(items), SqlType::Array(elem)) => {
            let refs: Vec<&Expr> = items.iter().collect();
            let elem = fold_into(compiler, elem, &refs).map_err(|m| rewrap(m, clash))?;
            SqlType::Array(Box::new(elem))
        }
        (Expr::Map(entries), SqlType::Map(key, value)) => {
            let keys: Vec<&Expr> = entries.iter().map(|(k, _)| k).collect();
            let values: Vec<&Expr> = entries.iter().map(|(_, v)| v).collect();
            let key = fold_into(compiler, key, &keys).map_err(|m| rewrap(m, clash))?;
            let value = fold_into(compiler, value, &values).map_err(|m| rewrap(m, clash))?;
            SqlType::Map(Box::new(key), Box::new(value))
        }
        (Expr::Struct(fields), SqlType::Struct(target)) => {
            struct_step(compiler, fields, target).map_err(|m| rewrap(m, clash))?
        }
        (Expr::Array(_) | Expr::Map(_) | Expr::Struct(_), _) => return Err(clash()),
        (Expr::Literal(Literal::String(s)), t) if t.is_numeric() => numeric_from_text(s, t)?,
        (Expr::Literal(Literal::String(s)), SqlType::Boolean) => {
            if parse_boolean_exact(s).is_none() {
                return Err(Misfit::Fatal(invalid_syntax(s, &common)));
            }
            common.clone()
        }
        _ => {
            let strictness = if matches!(e, Expr::Literal(_)) {
                Strictness::Lax
            } else {
                Strictness::Strict
            };
            can_coerce(strictness, ty, &common)
                .or_else(|| can_coerce(strictness, &common, ty))
                .ok_or_else(clash)?
        }
    };
    Ok(Some(folded))
}

/// A clash inside a constructor is reported as the constructor's clash.
fn rewrap(m: Misfit, outer: impl FnOnce() -> Misfit) -> Misfit {
    match m {
        Misfit::Clash { .. } => outer(),
        fatal @ Misfit::Fatal(_) => fatal,
    }
}

/// Folds a constructor's items into an existing element type.
fn fold_into(
    compiler: &mut dyn TypeOf,
    start: &SqlType,
    items: &[&Expr],
) -> Result<SqlType, Misfit> {
    let mut common = Some(start.clone());
    for e in items {
        let ty = compiler.type_of(e)?;
        common = step(compiler, e, ty.as_ref(), common)?;
    }
    Ok(common.expect("the fold starts from a type and a NULL item keeps it"))
}

/// `STRUCT(…)` joining a STRUCT type: the constructor's fields, then the type's other
/// fields; a field in both takes their common type.
fn struct_step(
    compiler: &mut dyn TypeOf,
    fields: &[(String, Expr)],
    target: &[StructField],
) -> Result<SqlType, Misfit> {
    let mut out = Vec::with_capacity(fields.len() + target.len());
    for (name, e) in fields {
        let ty = compiler.type_of(e)?;
        let existing = target
            .iter()
            .find(|f| &f.name == name)
            .map(|f| f.ty.clone());
        let ty = match (existing, ty) {
            (Some(t), item) => step(compiler, e, item.as_ref(), Some(t))?,
            (None, item) => item,
        };
        let ty = ty.ok_or_else(|| {
            Misfit::Fatal(EngineError::statement(format!(
                "Cannot infer the type of STRUCT field '{name}' from NULL; cast the NULL \
                 to the desired type."
            )))
        })?;
        out.push(StructField {
            name: name.clone(),
            ty,
        });
    }
    for f in target {
        if !fields.iter().any(|(name, _)| name == &f.name) {
            out.push(f.clone());
        }
    }
    Ok(SqlType::Struct(out))
}

/// Whether a value of `from` converts to `to`, and the type that holds both
/// (`DefaultSqlValueCoercer.canCoerce`).
fn can_coerce(strictness: Strictness, from: &SqlType, to: &SqlType) -> Option<SqlType> {
    use SqlType as T;
    let lax = strictness == Strictness::Lax;
    match (from, to) {
        (T::Decimal { .. }, T::Decimal { .. }) | (T::Integer | T::BigInt, T::Decimal { .. }) => {
            Some(DecType::widen(DecType::of(from)?, DecType::of(to)?).sql_type())
        }
        (T::Integer, T::BigInt) | (T::Integer | T::BigInt | T::Decimal { .. }, T::Double) => {
            Some(to.clone())
        }
        (T::String, T::Timestamp | T::Time | T::Date | T::Bytes) => Some(to.clone()),
        (T::Array(f), T::Array(t)) => Some(T::Array(Box::new(can_coerce(strictness, f, t)?))),
        (T::Map(fk, fv), T::Map(tk, tv)) => Some(T::Map(
            Box::new(can_coerce(strictness, fk, tk)?),
            Box::new(can_coerce(strictness, fv, tv)?),
        )),
        (T::Struct(ff), T::Struct(tf)) => {
            let mut out = Vec::with_capacity(ff.len() + tf.len());
            for f in ff {
                let ty = match tf.iter().find(|t| t.name == f.name) {
                    Some(t) => can_coerce(strictness, &f.ty, &t.ty)?,
                    None => f.ty.clone(),
                };
                out.push(StructField {
                    name: f.name.clone(),
                    ty,
                });
            }
            out.extend(
                tf.iter()
                    .filter(|t| !ff.iter().any(|f| f.name == t.name))
                    .cloned(),
            );
            Some(T::Struct(out))
        }
        _ if from == to => Some(to.clone()),
        (
            T::Boolean
            | T::Integer
            | T::BigInt
            | T::Decimal { .. }
            | T::Double
            | T::Timestamp
            | T::Time
            | T::Date,
            T::String,
        ) if lax => Some(T::String),
        (T::String, T::Boolean | T::Integer | T::BigInt | T::Decimal { .. } | T::Double) if lax => {
            Some(to.clone())
        }
        _ => None,
    }
}

/// The type a STRING literal joining a numeric list takes
/// (`resolveCommonNumericTypeFromStringLiteral`).
fn numeric_from_text(text: &str, common: &SqlType) -> Result<SqlType, Misfit> {
    use SqlType as T;
    let spelled = spelled_number_type(text.trim())
        .ok_or_else(|| Misfit::Fatal(invalid_syntax(text, common)))?;
    if spelled == T::Double || common == &T::Double {
        return Ok(T::Double);
    }
    if matches!(spelled, T::Decimal { .. }) || matches!(common, T::Decimal { .. }) {
        let (a, b) = (DecType::of(&spelled), DecType::of(common));
        let (Some(a), Some(b)) = (a, b) else {
            return Err(Misfit::Fatal(invalid_syntax(text, common)));
        };
        return Ok(DecType::widen(a, b).sql_type());
    }
    // Both INTEGER or BIGINT: the wider.
    Ok(if spelled == T::BigInt || common == &T::BigInt {
        T::BigInt
    } else {
        T::Integer
    })
}

/// The numeric type a number spelled as text has (`getStringNumericType`): a whole number
/// strictly inside INTEGER's range is an INTEGER, strictly inside BIGINT's a BIGINT, and
/// anything else (a fraction, an exponent, a larger number) a DECIMAL.
fn spelled_number_type(text: &str) -> Option<SqlType> {
    let (unscaled, scale) = decimal::parse_text(text)?;
    let whole = !text.contains(['.', 'e', 'E']) && scale == 0;
    if whole {
        if i128::from(i32::MIN) < unscaled && unscaled < i128::from(i32::MAX) {
            return Some(SqlType::Integer);
        }
        if i128::from(i64::MIN) < unscaled && unscaled < i128::from(i64::MAX) {
            return Some(SqlType::BigInt);
        }
    }
    decimal::literal(text).map(|(_, ty)| ty.sql_type())
}

/// `SqlBooleans.parseBooleanExact`: a non-empty prefix of `true` or `yes` is TRUE, of
/// `false` or `no` is FALSE, ignoring case; anything else is no boolean.
pub(crate) fn parse_boolean_exact(text: &str) -> Option<bool> {
    let text = text.trim();
    let prefix_of = |word: &str| {
        !text.is_empty()
            && text.len() <= word.len()
            && word[..text.len()].eq_ignore_ascii_case(text)
    };
    if prefix_of("true") || prefix_of("yes") {
        Some(true)
    } else if prefix_of("false") || prefix_of("no") {
        Some(false)
    } else {
        None
    }
}

/// ksqlDB's text for a STRING literal that does not spell the list's type.
fn invalid_syntax(text: &str, ty: &SqlType) -> EngineError {
    EngineError::statement(format!(
        "invalid input syntax for type {}: \"{text}\".",
        ty.base_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(precision: u8, scale: u8) -> SqlType {
        DecType::new(precision, scale).sql_type()
    }

    #[test]
    fn spelled_numbers_take_the_narrowest_type() {
        assert_eq!(spelled_number_type("4"), Some(SqlType::Integer));
        assert_eq!(spelled_number_type("2147483648"), Some(SqlType::BigInt));
        // The bounds themselves are excluded, as in ksqlDB.
        assert_eq!(spelled_number_type("2147483647"), Some(SqlType::BigInt));
        assert_eq!(spelled_number_type("4.000"), Some(dec(4, 3)));
        assert_eq!(spelled_number_type("2e1"), Some(dec(2, 0)));
        assert_eq!(spelled_number_type("x"), None);
    }

    #[test]
    fn string_literals_widen_numeric_lists() {
        let t = |s: &str, c: &SqlType| numeric_from_text(s, c).ok();
        assert_eq!(t("2147483648", &SqlType::Integer), Some(SqlType::BigInt));
        assert_eq!(t("4.000", &SqlType::BigInt), Some(dec(22, 3)));
        assert_eq!(t("1", &SqlType::Double), Some(SqlType::Double));
        assert_eq!(t("one", &SqlType::Integer), None);
    }

    #[test]
    fn booleans_are_prefixes_of_true_yes_false_no() {
        assert_eq!(parse_boolean_exact("TrUe"), Some(true));
        assert_eq!(parse_boolean_exact("tr"), Some(true));
        assert_eq!(parse_boolean_exact("Y"), Some(true));
        assert_eq!(parse_boolean_exact("n"), Some(false));
        assert_eq!(parse_boolean_exact("nope"), None);
        assert_eq!(parse_boolean_exact(""), None);
    }

    #[test]
    fn lax_lets_literals_become_strings_and_strict_does_not() {
        use SqlType as T;
        assert_eq!(
            can_coerce(Strictness::Lax, &T::Integer, &T::String),
            Some(T::String)
        );
        assert_eq!(
            can_coerce(Strictness::Strict, &T::Integer, &T::String),
            None
        );
        assert_eq!(
            can_coerce(Strictness::Strict, &T::String, &T::Timestamp),
            Some(T::Timestamp)
        );
        assert_eq!(
            can_coerce(Strictness::Strict, &T::BigInt, &T::Integer),
            None
        );
        assert_eq!(
            can_coerce(Strictness::Strict, &dec(4, 2), &T::BigInt),
            None,
            "DECIMAL to BIGINT is not a widening"
        );
        assert_eq!(
            can_coerce(Strictness::Strict, &T::BigInt, &dec(4, 2)),
            Some(dec(21, 2))
        );
    }

    #[test]
    fn strict_common_type_lets_strings_join_temporal_types() {
        use SqlType as T;
        let types = [T::Date, T::String, T::Date];
        assert_eq!(strict_common_type(types.iter()), Some(T::Date));
        let types = [T::Integer, T::String];
        assert_eq!(strict_common_type(types.iter()), None);
        let types = [dec(9, 2), dec(7, 6)];
        assert_eq!(strict_common_type(types.iter()), Some(dec(13, 6)));
    }

    #[test]
    fn structs_combine_into_the_union_of_their_fields() {
        use SqlType as T;
        let field = |n: &str, ty: T| StructField { name: n.into(), ty };
        let a = T::Struct(vec![field("A", T::Integer), field("B", T::Integer)]);
        let b = T::Struct(vec![field("B", T::BigInt), field("C", T::String)]);
        assert_eq!(
            can_coerce(Strictness::Strict, &a, &b),
            Some(T::Struct(vec![
                field("A", T::Integer),
                field("B", T::BigInt),
                field("C", T::String)
            ]))
        );
    }
}
