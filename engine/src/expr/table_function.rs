//! The built-in table functions (ksqlDB's UDTFs): `EXPLODE` and `CUBE_EXPLODE`, the ones of
//! ksqlDB 0.28. A table function turns one value into zero or more values; how a SELECT
//! list's calls become a flat map is planned in `plan::table_function` and run by
//! `exec::flat_map`.

use crate::error::{EngineError, Result};
use crate::types::{SqlType, Value};

/// Most elements `CUBE_EXPLODE` accepts. Its output has 2^n rows, so 20 elements already
/// give ~1M rows per input row; ksqlDB's `Cube` UDTF caps its input at the same size.
pub const CUBE_EXPLODE_ELEMENTS_MAX: usize = 20;

/// A built-in table function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFunction {
    /// `EXPLODE(array)`: one row per element, of the element type.
    Explode,
    /// `CUBE_EXPLODE(array)`: one row per combination of the elements kept or NULLed.
    CubeExplode,
}

impl TableFunction {
    /// Every table function, for `SHOW FUNCTIONS` and name lookups.
    pub const ALL: [TableFunction; 2] = [TableFunction::CubeExplode, TableFunction::Explode];

    /// The table function called `name` (case-insensitive), if any.
    pub fn lookup(name: &str) -> Option<TableFunction> {
        TableFunction::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            TableFunction::Explode => "EXPLODE",
            TableFunction::CubeExplode => "CUBE_EXPLODE",
        }
    }

    /// The type of each value the function produces for an argument of type `arg`, or
    /// `None` when it does not accept that type.
    pub(crate) fn result_type(self, arg: &SqlType) -> Option<SqlType> {
        match (self, arg) {
            (TableFunction::Explode, SqlType::Array(element)) => Some((**element).clone()),
            (TableFunction::CubeExplode, SqlType::Array(_)) => Some(arg.clone()),
            _ => None,
        }
    }

    /// The values the function produces for one argument value. NULL produces none.
    pub(crate) fn apply(self, arg: Value) -> Result<Vec<Value>> {
        let Value::Array(items) = arg else {
            return Ok(Vec::new());
        };
        match self {
            TableFunction::Explode => Ok(items),
            TableFunction::CubeExplode => cube(&items),
        }
    }
}

/// Every combination of `items` with each element either kept or replaced by NULL, in
/// ksqlDB's order: combination `m` (a bit mask, the first element the most significant
/// bit) keeps the elements whose bits are set, for `m` from 0 up. A NULL element has one
/// choice, not two, so masks that "keep" a NULL element are duplicates and skipped.
fn cube(items: &[Value]) -> Result<Vec<Value>> {
    let n = items.len();
    if n > CUBE_EXPLODE_ELEMENTS_MAX {
        return Err(EngineError::bad_request(format!(
            "CUBE_EXPLODE input size ({n}) exceeds the maximum of {CUBE_EXPLODE_ELEMENTS_MAX} columns. The output cardinality is 2^N rows and would exhaust server memory."
        )));
    }
    let bit = |i: usize| 1u32 << (n - 1 - i);
    let non_null = items
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_null())
        .fold(0u32, |mask, (i, _)| mask | bit(i));
    let mut rows = Vec::with_capacity(1 << non_null.count_ones());
    for mask in 0u32..(1u32 << n) {
        if mask & !non_null != 0 {
            continue;
        }
        let row = items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if mask & bit(i) != 0 {
                    v.clone()
                } else {
                    Value::Null
                }
            })
            .collect();
        rows.push(Value::Array(row));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[Option<&str>]) -> Value {
        Value::Array(
            items
                .iter()
                .map(|s| s.map_or(Value::Null, |s| Value::String(s.into())))
                .collect(),
        )
    }

    #[test]
    fn explode_yields_elements_and_nothing_for_null_or_empty() {
        let f = TableFunction::Explode;
        assert_eq!(
            f.apply(Value::Array(vec![Value::Integer(1), Value::Null]))
                .unwrap(),
            vec![Value::Integer(1), Value::Null]
        );
        assert!(f.apply(Value::Array(Vec::new())).unwrap().is_empty());
        assert!(f.apply(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn cube_orders_combinations_like_ksqldb_and_skips_null_duplicates() {
        let f = TableFunction::CubeExplode;
        assert_eq!(
            f.apply(strings(&[Some("a"), Some("b")])).unwrap(),
            vec![
                strings(&[None, None]),
                strings(&[None, Some("b")]),
                strings(&[Some("a"), None]),
                strings(&[Some("a"), Some("b")]),
            ]
        );
        assert_eq!(
            f.apply(strings(&[Some("a"), None])).unwrap(),
            vec![strings(&[None, None]), strings(&[Some("a"), None])]
        );
        assert_eq!(
            f.apply(Value::Array(Vec::new())).unwrap(),
            vec![Value::Array(Vec::new())]
        );
        assert!(f.apply(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn cube_rejects_more_than_the_element_limit() {
        let too_many = Value::Array(vec![Value::Integer(1); CUBE_EXPLODE_ELEMENTS_MAX + 1]);
        let err = TableFunction::CubeExplode.apply(too_many).unwrap_err();
        assert!(err.to_string().contains("exceeds the maximum"), "{err}");
    }

    #[test]
    fn result_types() {
        let arr = SqlType::Array(Box::new(SqlType::BigInt));
        assert_eq!(
            TableFunction::Explode.result_type(&arr),
            Some(SqlType::BigInt)
        );
        assert_eq!(
            TableFunction::CubeExplode.result_type(&arr),
            Some(arr.clone())
        );
        assert_eq!(TableFunction::Explode.result_type(&SqlType::BigInt), None);
    }
}
