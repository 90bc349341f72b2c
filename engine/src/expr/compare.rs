//! Comparisons: which type pairs may be compared (ksqlDB's `ComparisonUtil`) and how two
//! non-null values order (ksqlDB's `ComparisonInterpreter`).
//!
//! ksqlDB compares mixed numbers in the wider type: DECIMAL when either side is DECIMAL,
//! else DOUBLE, else BIGINT. DOUBLEs order as Java's `Double.compareTo` (NaN above all,
//! -0.0 below 0.0). Strings order as Java's `String.compareTo` (UTF-16 code units). ARRAY,
//! MAP, STRUCT and BOOLEAN compare only for (in)equality, as Java's `equals`.

use std::cmp::Ordering;

use super::arith::{as_decimal, as_f64, as_i64};
use super::decimal;
use crate::types::{SqlType, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    IsDistinctFrom,
    IsNotDistinctFrom,
}

impl CmpOp {
    /// ksqlDB's `ComparisonExpression.Type` name, used in its error texts.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            CmpOp::Eq => "EQUAL",
            CmpOp::NotEq => "NOT_EQUAL",
            CmpOp::Lt => "LESS_THAN",
            CmpOp::LtEq => "LESS_THAN_OR_EQUAL",
            CmpOp::Gt => "GREATER_THAN",
            CmpOp::GtEq => "GREATER_THAN_OR_EQUAL",
            CmpOp::IsDistinctFrom => "IS_DISTINCT_FROM",
            CmpOp::IsNotDistinctFrom => "IS_NOT_DISTINCT_FROM",
        }
    }

    /// The SQL spelling (`ComparisonExpression.Type.getValue`).
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
            CmpOp::IsDistinctFrom => "IS DISTINCT FROM",
            CmpOp::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
        }
    }

    fn is_equality(self) -> bool {
        !matches!(self, CmpOp::Lt | CmpOp::LtEq | CmpOp::Gt | CmpOp::GtEq)
    }

    /// Whether an ordering satisfies this operator.
    pub(crate) fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq | CmpOp::IsNotDistinctFrom => ord == Ordering::Equal,
            CmpOp::NotEq | CmpOp::IsDistinctFrom => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::LtEq => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::GtEq => ord != Ordering::Less,
        }
    }
}

fn is_temporal(t: &SqlType) -> bool {
    matches!(t, SqlType::Timestamp | SqlType::Date | SqlType::Time)
}

/// `ComparisonUtil.isValidComparison`: decided by the left type, as in ksqlDB.
pub(crate) fn is_valid(left: &SqlType, op: CmpOp, right: &SqlType) -> bool {
    use SqlType as T;
    let eq = op.is_equality();
    match left {
        l if l.is_numeric() => right.is_numeric(),
        T::String => matches!(right, T::String) || is_temporal(right),
        T::Boolean => matches!(right, T::Boolean) && eq,
        T::Array(_) => matches!(right, T::Array(_)) && eq,
        T::Map(..) => matches!(right, T::Map(..)) && eq,
        T::Struct(_) => matches!(right, T::Struct(_)) && eq,
        T::Time => matches!(right, T::Time | T::String),
        T::Date | T::Timestamp => matches!(right, T::Date | T::Timestamp | T::String),
        T::Bytes => matches!(right, T::Bytes),
        _ => false,
    }
}

/// The temporal type both sides convert to before comparing, if either side is temporal:
/// TIME if either is TIME, else TIMESTAMP if either is TIMESTAMP, else DATE.
pub(crate) fn temporal_target(left: &SqlType, right: &SqlType) -> Option<SqlType> {
    let either = |t: SqlType| left == &t || right == &t;
    if either(SqlType::Time) {
        Some(SqlType::Time)
    } else if either(SqlType::Timestamp) {
        Some(SqlType::Timestamp)
    } else if either(SqlType::Date) {
        Some(SqlType::Date)
    } else {
        None
    }
}

/// Orders two non-null values of orderable types; `None` when the pair has no order
/// (complex values, which compare only for equality through [`equals`]).
pub(crate) fn order(a: &Value, b: &Value) -> Option<Ordering> {
    use Value as V;
    Some(match (a, b) {
        (V::Integer(x), V::Integer(y)) => x.cmp(y),
        (V::String(x), V::String(y)) => java_str_cmp(x, y),
        (V::Timestamp(x), V::Timestamp(y)) => x.cmp(y),
        (V::Date(x), V::Date(y)) => x.cmp(y),
        (V::Time(x), V::Time(y)) => x.cmp(y),
        (V::Bytes(x), V::Bytes(y)) => bytes_cmp(x, y),
        (V::Boolean(x), V::Boolean(y)) => x.cmp(y),
        (V::Decimal(_), _) | (_, V::Decimal(_)) => decimal_mixed(a, b)?,
        (V::Double(_), _) | (_, V::Double(_)) => java_double_cmp(as_f64(a)?, as_f64(b)?),
        _ => as_i64(a)?.cmp(&as_i64(b)?),
    })
}

/// DECIMAL against DECIMAL or an integer is exact; against a DOUBLE it goes through the
/// double (ksqlDB's `BigDecimal.valueOf(double)`; exact up to 2^53).
fn decimal_mixed(a: &Value, b: &Value) -> Option<Ordering> {
    match (as_decimal(a), as_decimal(b)) {
        (Some(x), Some(y)) => Some(decimal::cmp(x, y)),
        _ => Some(java_double_cmp(as_f64(a)?, as_f64(b)?)),
    }
}

/// `ByteBuffer.compareTo`: signed byte order, then length.
fn bytes_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let signed = |x: &u8| i8::from_ne_bytes([*x]);
    a.iter().map(signed).cmp(b.iter().map(signed))
}

/// `Double.compareTo`: a total order with -0.0 < 0.0 and NaN (any NaN) greatest.
pub(crate) fn java_double_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// `String.compareTo` orders by UTF-16 code units, which differs from Rust's code-point
/// order only where a supplementary character meets one in U+E000..U+FFFF.
pub(crate) fn java_str_cmp(a: &str, b: &str) -> Ordering {
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            let mut bx = [0u16; 2];
            let mut by = [0u16; 2];
            let ux = x.encode_utf16(&mut bx);
            let uy = y.encode_utf16(&mut by);
            return ux.iter().cmp(uy.iter());
        }
    }
    // One is a prefix of the other, so byte lengths order them.
    a.len().cmp(&b.len())
}

/// Java `equals` on two non-null values: maps ignore entry order; doubles are equal when
/// `Double.equals` says so (NaN equals NaN, -0.0 differs from 0.0).
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    use Value as V;
    match (a, b) {
        (V::Double(x), V::Double(y)) => java_double_cmp(*x, *y) == Ordering::Equal,
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| nullable_equals(p, q))
        }
        (V::Map(x), V::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .any(|(k2, v2)| nullable_equals(k, k2) && nullable_equals(v, v2))
                })
        }
        (V::Struct(x), V::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((n, p), (m, q))| n == m && nullable_equals(p, q))
        }
        (V::Decimal(x), V::Decimal(y)) => x == y,
        _ => a == b,
    }
}

fn nullable_equals(a: &Value, b: &Value) -> bool {
    match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => equals(a, b),
        _ => false,
    }
}

/// Compares two non-null values under `op`. Equality-only types use `equals`.
pub(crate) fn holds(op: CmpOp, a: &Value, b: &Value) -> bool {
    match (a, b) {
        // Equality of strings needs no UTF-16 ordering: bytes decide.
        (Value::String(x), Value::String(y)) if op.is_equality() => op.holds(if x == y {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
        (Value::Array(_), _) | (Value::Map(_), _) | (Value::Struct(_), _) => {
            let eq = equals(a, b);
            if op.holds(Ordering::Equal) {
                eq
            } else {
                !eq
            }
        }
        _ => order(a, b).is_some_and(|ord| op.holds(ord)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Decimal;

    #[test]
    fn mixed_numbers_widen() {
        assert_eq!(
            order(&Value::Integer(5), &Value::BigInt(5)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            order(&Value::Integer(5), &Value::Double(5.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            order(&Value::Decimal(Decimal::new(1001, 2)), &Value::Integer(10)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            order(&Value::Double(f64::NAN), &Value::Double(f64::INFINITY)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn strings_order_by_utf16_units() {
        assert_eq!(java_str_cmp("a", "b"), Ordering::Less);
        assert_eq!(java_str_cmp("ab", "a"), Ordering::Greater);
        // U+FF61 > U+1F600 in UTF-16 (0xFF61 > 0xD83D) though not by code point.
        assert_eq!(java_str_cmp("\u{FF61}", "\u{1F600}"), Ordering::Greater);
    }

    #[test]
    fn maps_compare_without_order() {
        let a = Value::Map(vec![
            (Value::String("a".into()), Value::Integer(1)),
            (Value::String("b".into()), Value::Integer(2)),
        ]);
        let b = Value::Map(vec![
            (Value::String("b".into()), Value::Integer(2)),
            (Value::String("a".into()), Value::Integer(1)),
        ]);
        assert!(equals(&a, &b));
    }

    #[test]
    fn validity_follows_ksqldb() {
        assert!(is_valid(&SqlType::Integer, CmpOp::Gt, &SqlType::Double));
        assert!(!is_valid(&SqlType::String, CmpOp::Gt, &SqlType::Integer));
        assert!(is_valid(&SqlType::Timestamp, CmpOp::Lt, &SqlType::String));
        assert!(!is_valid(&SqlType::Boolean, CmpOp::Lt, &SqlType::Boolean));
        assert!(is_valid(&SqlType::Boolean, CmpOp::Eq, &SqlType::Boolean));
    }
}
